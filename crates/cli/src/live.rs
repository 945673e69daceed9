//! `marquee live`: go live with a status line, stop cleanly on Ctrl-C / SIGTERM.

use crate::Failure;
use crate::util::{clock, parse_duration, parse_size};
use marquee_capture::camera::Faults;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_profile::paths::{timestamp, videos_dir};
use marquee_profile::{Config, Keychain, Profile};
use marquee_studio::output::KeyProvider;
use marquee_studio::{
    AudioSettings, DestinationConfig, DestinationUrl, EncoderChoice, EventKind, OutputState,
    OverlayCmd, OverlayControl, Scene, SceneControl, SceneSetup, Session, SessionConfig,
    SourceConfig, StatsSnapshot, Summary, Transition, VideoSettings,
};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Video source: test, camera:INDEX|ID, file:PATH.
    #[arg(long)]
    video: Option<String>,
    /// A named video source ID=SPEC[+MIC] (e.g. stage=camera:0+mic:usb, guest=test:2); repeatable.
    /// With sources, --video is not used; each source gets a full-frame scene of its name.
    /// A source's MIC is mixed into the program audio and drives --director.
    #[arg(long = "source")]
    sources: Vec<String>,
    /// A scene NAME=LAYOUT: full:SRC, pip:MAIN,INSET[,CORNER[,SIZE]], side:LEFT,RIGHT,
    /// grid:A,B,...; repeatable. Switch with `marquee scene NAME`.
    #[arg(long = "scene")]
    scenes: Vec<String>,
    /// The scene on air first (default: the first one).
    #[arg(long)]
    start_scene: Option<String>,
    /// Director mode: the camera whose microphone (ID=SPEC+MIC) is loudest goes on air by
    /// itself; a host's `marquee scene` pauses it, `marquee director on` resumes.
    #[arg(long)]
    director: bool,
    /// Director mode: the least time a camera stays on air.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    director_hold: Duration,
    /// An overlay burnt into the picture: ID=text:TEXT[@PLACE], ID=image:PATH[@PLACE][*SCALE],
    /// ID=danmaku (PLACE: tl tc tr cl c cr bl bc br); repeatable. Toggle with
    /// `marquee overlay ID on|off`.
    #[arg(long = "overlay")]
    overlays: Vec<String>,
    /// Burn this room's danmaku and gifts into the stream (adds a danmaku overlay), e.g.
    /// http://127.0.0.1:8787/room/show.
    #[arg(long)]
    danmaku_from: Option<String>,
    /// The token to join that room with (default: a viewer nickname).
    #[arg(long)]
    danmaku_token: Option<String>,
    /// Audio source: tone[:HZ], mic:ID|default, file:PATH, none.
    #[arg(long)]
    audio: Option<String>,
    /// Destination rtmp:// or rtmps:// URL; may end in key:NAME (from the keychain). Repeatable.
    #[arg(long = "to")]
    to: Vec<String>,
    /// Record to this file (.mkv default; .mp4 is fragmented).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Output size, e.g. 1280x720.
    #[arg(long)]
    size: Option<String>,
    #[arg(long)]
    fps: Option<u32>,
    /// Video bitrate in kbps (CBR).
    #[arg(long)]
    bitrate: Option<u32>,
    /// Audio bitrate in kbps (AAC-LC).
    #[arg(long)]
    audio_bitrate: Option<u32>,
    /// auto (hardware if one opens, else x264), x264, or an FFmpeg encoder name.
    #[arg(long)]
    encoder: Option<String>,
    /// x264 preset.
    #[arg(long)]
    preset: Option<String>,
    /// Stop after this long (e.g. 10s, 5m). Default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Profile from the config file (flags override it).
    #[arg(long)]
    profile: Option<String>,
    /// Write the end-of-run summary as JSON here.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    #[command(flatten)]
    highlights: marquee_highlights::cli::LiveHighlightArgs,
    /// Test only: the synthetic camera stops delivering at this session time...
    #[arg(long, hide = true, value_parser = parse_duration)]
    test_stall_at: Option<Duration>,
    /// ...for this long.
    #[arg(long, hide = true, value_parser = parse_duration, default_value = "3s")]
    test_stall_for: Duration,
}

/// Flags over profile over built-in defaults.
fn merge(a: &LiveArgs, p: &Profile) -> Result<(SessionConfig, SceneSetup), Failure> {
    let video: VideoSpec = a
        .video
        .clone()
        .or_else(|| p.video.clone())
        .unwrap_or_else(|| "test".into())
        .parse()
        .map_err(|e: marquee_capture::CaptureError| Failure::usage(e.to_string()))?;
    let audio: AudioSpec = a
        .audio
        .clone()
        .or_else(|| p.audio.clone())
        .unwrap_or_else(|| "tone".into())
        .parse()
        .map_err(|e: marquee_capture::CaptureError| Failure::usage(e.to_string()))?;
    let (width, height) = parse_size(
        a.size
            .as_deref()
            .or(p.size.as_deref())
            .unwrap_or("1280x720"),
    )
    .map_err(Failure::usage)?;
    let encoder: EncoderChoice = a
        .encoder
        .clone()
        .or_else(|| p.encoder.clone())
        .unwrap_or_else(|| "x264".into())
        .parse()
        .unwrap_or(EncoderChoice::X264);
    let urls = if a.to.is_empty() {
        p.to.clone()
    } else {
        a.to.clone()
    };
    let keychain = Keychain::default();
    let mut destinations = Vec::new();
    for u in &urls {
        let url = DestinationUrl::parse(u).map_err(|e| Failure::usage(e.to_string()))?;
        let key: Option<KeyProvider> = url.keychain_name().map(|name| {
            let (kc, name) = (keychain.clone(), name.to_string());
            Arc::new(move || kc.get(&name).map_err(|e| e.to_string())) as KeyProvider
        });
        // Check the key exists now, so a typo fails before going live.
        if let Some(k) = &key {
            k().map_err(Failure::runtime)?;
        }
        destinations.push(DestinationConfig { url, key });
    }
    let mut record = a.record.clone().or_else(|| p.record.clone());
    if destinations.is_empty() && record.is_none() {
        let dir = videos_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(format!("marquee-{}.mkv", timestamp()));
        eprintln!("no --to or --record given: recording to {}", path.display());
        record = Some(path);
    }
    if let Some(dir) = record
        .as_ref()
        .and_then(|r| r.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    let faults = Faults {
        stall_at: a.test_stall_at,
        stall_for: a.test_stall_for,
    };
    let setup = scene_setup(a, p, faults)?;
    Ok((
        SessionConfig {
            video,
            audio,
            video_settings: VideoSettings {
                width,
                height,
                fps: a.fps.or(p.fps).unwrap_or(30),
                bitrate_kbps: a.bitrate.or(p.bitrate).unwrap_or(2500),
                encoder,
                preset: a
                    .preset
                    .clone()
                    .or_else(|| p.preset.clone())
                    .unwrap_or_else(|| "veryfast".into()),
            },
            audio_settings: AudioSettings {
                bitrate_kbps: a.audio_bitrate.or(p.audio_bitrate).unwrap_or(128),
                ..Default::default()
            },
            destinations,
            record,
            test_faults: faults,
        },
        setup,
    ))
}

/// Sources and scenes: flags replace the profile's lists.
fn scene_setup(a: &LiveArgs, p: &Profile, faults: Faults) -> Result<SceneSetup, Failure> {
    let sources = if a.sources.is_empty() {
        &p.sources
    } else {
        &a.sources
    };
    let sources = sources
        .iter()
        .map(|s| {
            let (id, spec) = s.split_once('=').ok_or_else(|| {
                Failure::usage(format!(
                    "source {s:?}: write ID=SPEC[+MIC], e.g. stage=camera:0+mic:usb or guest=test:2"
                ))
            })?;
            let (video, mic) = match spec.split_once('+') {
                Some((v, m)) => (v, Some(m)),
                None => (spec, None),
            };
            let err = |e: marquee_capture::CaptureError| Failure::usage(e.to_string());
            Ok(SourceConfig {
                id: id.trim().to_string(),
                spec: video.parse::<VideoSpec>().map_err(err)?,
                mic: mic
                    .map(|m| m.parse::<AudioSpec>())
                    .transpose()
                    .map_err(err)?,
                faults,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let scenes = if a.scenes.is_empty() {
        p.scenes.clone()
    } else {
        a.scenes
            .iter()
            .map(|s| Scene::parse(s).map_err(|e| Failure::usage(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut overlays = if a.overlays.is_empty() {
        p.overlays.clone()
    } else {
        a.overlays
            .iter()
            .map(|o| crate::overlay::parse(o))
            .collect::<Result<Vec<_>, _>>()?
    };
    if a.danmaku_from.is_some()
        && !overlays
            .iter()
            .any(|o| matches!(o.spec, marquee_studio::OverlaySpec::Danmaku { .. }))
    {
        overlays.push(crate::overlay::parse("danmaku=danmaku")?);
    }
    if a.director && !sources.iter().any(|s| s.mic.is_some()) {
        return Err(Failure::usage(
            "--director listens to the sources' microphones: give them one, e.g. --source stage=camera:0+mic:usb",
        ));
    }
    Ok(SceneSetup {
        sources,
        scenes,
        start: a.start_scene.clone().or_else(|| p.start_scene.clone()),
        overlays,
        director: a.director,
        director_config: marquee_studio::director::DirectorConfig {
            hold: a.director_hold,
            ..Default::default()
        },
        director_transition: Transition::Cut,
    })
}

/// Requests the control socket serves besides the highlights' own: scenes.
fn scene_requests(
    control: SceneControl,
    overlays: OverlayControl,
    highlights: Option<Arc<marquee_highlights::LiveHighlights>>,
) -> marquee_highlights::control::Handler {
    Arc::new(move |line: &str| {
        let (cmd, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        match cmd {
            "scene" => {
                let mut words = rest.split_whitespace();
                let name = words
                    .next()
                    .ok_or("say which scene: scene NAME [cut|fade[:MS]|slide[:MS]]")?;
                let transition: Transition = match words.next() {
                    Some(t) => t
                        .parse()
                        .map_err(|e: marquee_scene::SceneError| e.to_string())?,
                    None => Transition::Cut,
                };
                control
                    .switch(name, transition)
                    .map_err(|e| e.to_string())?;
                Ok(
                    serde_json::json!({ "scene": name, "transition": transition.to_string() })
                        .to_string(),
                )
            }
            "overlay" => {
                let mut words = rest.split_whitespace();
                let (Some(id), Some(state)) = (words.next(), words.next()) else {
                    return Err("say which overlay and on or off: overlay ID on|off".into());
                };
                let on = match state {
                    "on" => true,
                    "off" => false,
                    _ => return Err("overlay ID on|off".into()),
                };
                overlays
                    .send(OverlayCmd::Enable(id.into(), on))
                    .map_err(|e| e.to_string())?;
                Ok(serde_json::json!({ "overlay": id, "on": on }).to_string())
            }
            "comment" if !rest.trim().is_empty() => {
                overlays
                    .send(OverlayCmd::Comment(marquee_studio::Comment::scroll(
                        rest.trim(),
                    )))
                    .map_err(|e| e.to_string())?;
                Ok(serde_json::json!({ "comment": rest.trim() }).to_string())
            }
            "director" => {
                let on = match rest.trim() {
                    "on" => true,
                    "off" => false,
                    _ => return Err("director on|off".into()),
                };
                control.set_director(on);
                Ok(serde_json::json!({ "director": on }).to_string())
            }
            "scenes" => Ok(serde_json::json!({
                "on_air": control.on_air(),
                "director": control.director(),
                "scenes": control.scenes(),
            })
            .to_string()),
            _ => match &highlights {
                Some(h) => h.handle(line),
                None => Err(format!(
                    "unknown request {cmd:?} (highlights are off; scene and scenes work)"
                )),
            },
        }
    })
}

pub fn run(a: LiveArgs) -> Result<(), Failure> {
    let path = marquee_profile::config::default_path();
    let cfg = Config::load(&path).map_err(|e| Failure::usage(e.to_string()))?;
    let profile = cfg
        .profile(a.profile.as_deref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let (sc, setup) = merge(&a, &profile)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::runtime(format!("cannot handle signals: {e}")))?;
    }
    let vs = sc.video_settings.clone();
    let dest_names: Vec<String> = sc.destinations.iter().map(|d| d.url.to_string()).collect();
    let record = sc.record.clone();
    let video = if setup.sources.is_empty() {
        sc.video.to_string()
    } else {
        setup
            .sources
            .iter()
            .map(|s| format!("{}={}", s.id, s.spec))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let audio = sc.audio.to_string();
    let session = Session::start_with(sc, setup).map_err(|e| Failure::runtime(e.to_string()))?;
    // Highlights and the control socket are conveniences: if they cannot start (another
    // live session owns the socket, say), stay live without them and say why.
    let hl = match marquee_highlights::cli::attach_for_live(
        &session,
        &a.highlights,
        record.as_deref(),
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("marquee: highlights are off: {e}");
            None
        }
    };
    let socket = marquee_highlights::cli::control_path(&a.highlights);
    let control = match marquee_highlights::control::ControlServer::start(
        &socket,
        scene_requests(
            session.scene_control(),
            session.overlay_control(),
            hl.clone(),
        ),
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("marquee: the control socket is off: {e}");
            None
        }
    };
    eprintln!(
        "going live: video {video} {}x{}@{} {} kbps, audio {audio}",
        vs.width, vs.height, vs.fps, vs.bitrate_kbps
    );
    for (i, d) in dest_names.iter().enumerate() {
        eprintln!("  dest {}: {d}", i + 1);
    }
    if let Some(r) = &record {
        eprintln!("  recording: {}", r.display());
    }
    let follower = a.danmaku_from.clone().map(|url| {
        crate::overlay::follow_room(
            url,
            a.danmaku_token.clone(),
            session.overlay_control(),
            stop.clone(),
        )
    });
    if session.scenes().len() > 1 {
        let names: Vec<&str> = session.scenes().iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "  scenes: {} (on air: {}); switch with `marquee scene NAME [fade:MS]`",
            names.join(", "),
            session.on_air()
        );
    }
    if let Some(control) = &control
        && hl.is_some()
    {
        eprintln!(
            "  highlights: the last {} s are kept; `marquee clip save` / `marquee clip mark` ({})",
            a.highlights.replay_seconds,
            control.path().display()
        );
    }
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last = (Instant::now(), session.stats());
    let mut last_line = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) {
        if a.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        for e in session.events().try_iter() {
            if tty {
                eprint!("\r\x1b[K");
            }
            // Retries are reported as Reconnecting; the Connecting before each is noise.
            if e.kind != EventKind::Connecting {
                eprintln!("{e}");
            }
        }
        if session.all_destinations_failed() {
            failure = Some("every destination failed; nothing is being streamed".to_string());
            break;
        }
        if last_line.elapsed() >= Duration::from_secs(if tty { 1 } else { 5 }) {
            let now = session.stats();
            let line = status_line(&last.1, &now, last.0.elapsed());
            if tty {
                eprint!("\r\x1b[K{line}");
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("{line}");
            }
            last = (Instant::now(), now);
            last_line = Instant::now();
        }
    }
    if tty {
        eprintln!();
    }
    eprintln!("stopping: finishing the encode and the recording…");
    stop.store(true, Ordering::Relaxed);
    if let Some(f) = follower {
        let _ = f.join();
    }
    let summary = session.stop();
    // Saves in flight finish before the replay buffer and control socket go away.
    drop(control);
    drop(hl);
    print_summary(&summary);
    if let Some(p) = &a.summary_json {
        let json = summary_json(&summary);
        std::fs::write(p, serde_json::to_string_pretty(&json).expect("plain data"))
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", p.display())))?;
    }
    if let Some(rec) = &summary.stats.recording
        && let OutputState::Failed { reason } = &rec.state
    {
        return Err(Failure::runtime(format!("the recording failed: {reason}")));
    }
    match failure {
        Some(f) => {
            let reasons: Vec<String> = summary
                .stats
                .destinations
                .iter()
                .map(|d| format!("{}: {}", d.url, d.state))
                .collect();
            Err(Failure::runtime(format!("{f} ({})", reasons.join("; "))))
        }
        None => Ok(()),
    }
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs.max(1e-3) / 1e6
}

fn status_line(prev: &StatsSnapshot, now: &StatsSnapshot, dt: Duration) -> String {
    let secs = dt.as_secs_f64();
    let fps = (now.video.frames - prev.video.frames) as f64 / secs.max(1e-3);
    let cpu = (now.cpu_s - prev.cpu_s) / secs.max(1e-3) * 100.0;
    let mut s = format!(
        "LIVE {} | {:.1} fps | {} {:.1} ms | cpu {:.0}% | mem {} MB",
        clock(Duration::from_secs_f64(now.session_s)),
        fps,
        now.video.encoder,
        now.video.encode_ms,
        cpu,
        now.rss_bytes / 1_000_000
    );
    for (i, d) in now.destinations.iter().enumerate() {
        let before = prev.destinations.get(i).map(|p| p.bytes).unwrap_or(0);
        s.push_str(&format!(
            " | dest {} {} {:.2} Mb/s drop {}",
            i + 1,
            d.state,
            mbps(d.bytes - before, secs),
            d.dropped.total()
        ));
    }
    if let Some(r) = &now.recording {
        let before = prev.recording.as_ref().map(|p| p.bytes).unwrap_or(0);
        s.push_str(&format!(" | rec {:.2} Mb/s", mbps(r.bytes - before, secs)));
    }
    let d = &now.video.dropped;
    s.push_str(&format!(
        " | dropped: capture {} render {} encoder {}",
        d.capture_queue_full, d.render_lag, d.encoder_lag
    ));
    s
}

fn print_summary(s: &Summary) {
    let v = &s.stats.video;
    eprintln!(
        "summary: {:.1} s, {} frames ({} encoded, {} repeated, {} slate) with {}, audio {} chunks",
        s.duration_s, v.frames, v.encoded, v.repeated, v.slate, v.encoder, s.stats.audio.chunks
    );
    eprintln!(
        "  video drops: capture queue {} · render lag {} · encoder lag {}",
        v.dropped.capture_queue_full, v.dropped.render_lag, v.dropped.encoder_lag
    );
    for (i, d) in s.stats.destinations.iter().enumerate() {
        eprintln!(
            "  dest {} {}: {}, {:.1} MB sent, {} reconnects, dropped {} (congestion {}, disconnected {}, overflow {}), latency p50 {} ms p99 {} ms",
            i + 1,
            d.url,
            d.state,
            d.bytes as f64 / 1e6,
            d.reconnects,
            d.dropped.total(),
            d.dropped.congestion,
            d.dropped.disconnected,
            d.dropped.overflow,
            d.latency_p50_ms
                .map(|v| format!("{v:.1}"))
                .unwrap_or("-".into()),
            d.latency_p99_ms
                .map(|v| format!("{v:.1}"))
                .unwrap_or("-".into()),
        );
    }
    if let Some(r) = &s.stats.recording {
        eprintln!(
            "  recording {}: {}, {:.1} MB",
            r.url,
            r.state,
            r.bytes as f64 / 1e6
        );
    }
}

/// The summary as tests and scripts read it.
fn summary_json(s: &Summary) -> serde_json::Value {
    let v = &s.stats.video;
    let mut dropped: HashMap<&str, u64> = HashMap::new();
    dropped.insert("capture_queue_full", v.dropped.capture_queue_full);
    dropped.insert("render_lag", v.dropped.render_lag);
    dropped.insert("encoder_lag", v.dropped.encoder_lag);
    let first = s.stats.destinations.first();
    serde_json::json!({
        "duration_s": s.duration_s,
        "video": {
            "frames": v.frames, "encoded": v.encoded, "encoder": v.encoder,
            "width": v.width, "height": v.height, "fps": v.fps,
            "repeated": v.repeated, "slate": v.slate, "dropped": dropped,
        },
        "audio": s.stats.audio,
        "destinations": s.stats.destinations.iter().map(|d| serde_json::json!({
            "url": d.url, "state": d.state.to_string(), "state_detail": d.state,
            "bytes": d.bytes, "packets": d.packets, "dropped_video": d.dropped.total(),
            "dropped": d.dropped, "reconnects": d.reconnects,
            "latency_ms": {"p50": d.latency_p50_ms, "p99": d.latency_p99_ms},
        })).collect::<Vec<_>>(),
        "recording": s.stats.recording.as_ref().map(|r| serde_json::json!({
            "path": r.url, "bytes": r.bytes, "state": r.state.to_string(),
        })),
        "latency_ms": {
            "p50": first.and_then(|d| d.latency_p50_ms),
            "p99": first.and_then(|d| d.latency_p99_ms),
        },
        "cpu_s": s.stats.cpu_s,
        "rss_bytes": s.stats.rss_bytes,
        "events": s.events,
    })
}
