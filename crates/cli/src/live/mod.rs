//! `marquee live`: flags over a profile into the show engine, a status line while live, a
//! clean stop on Ctrl-C / SIGTERM.

use crate::failure::Failure;
use crate::status::{self, StatusLine};
use crate::util::parse_duration;
use marquee_profile::{Config, Profile};
use marquee_show::follow::Following;
use marquee_show::settings::{Recording, default_recording};
use marquee_show::{Show, ShowError, ShowSettings};
use marquee_studio::{OutputState, Scene};
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
    /// What that room's viewer page plays: [NAME=]URL, an HLS (.m3u8) or HTTP-FLV (.flv)
    /// http(s) URL the ingest serves (e.g. nginx-rtmp's `hls on`); repeat it for camera
    /// angles. Needs --danmaku-from with a host token; the room keeps it.
    #[arg(long = "playback", requires = "danmaku_from", value_parser = parse_playback)]
    playback: Vec<marquee_room::protocol::PlaybackSource>,
    /// A platform's chat on the danmaku layer and in the signals beside the recording:
    /// bilibili:ROOM, bilibili-open:APPID (the open platform; its secrets from `marquee chat
    /// login bilibili-open`), twitch:CHANNEL or youtube:VIDEO (its API key from the keychain
    /// entry youtube-api-key); repeatable. Adds a danmaku overlay. A source that fails says so on
    /// the status line; the show goes on.
    #[arg(long = "chat", value_parser = parse_chat)]
    chat: Vec<marquee_show::chat::ChatSetting>,
    /// Connect a --chat platform's source to this URL instead (a local test server):
    /// PLATFORM=URL, e.g. twitch=ws://127.0.0.1:9000, or bilibili-open=URL for the open
    /// platform's HTTP API; repeatable.
    #[arg(long = "chat-endpoint", value_parser = parse_chat_endpoint)]
    chat_endpoints: Vec<(&'static str, String)>,
    /// Audio source: tone[:HZ], mic:ID|default, file:PATH, none.
    #[arg(long)]
    audio: Option<String>,
    /// Destination rtmp:// or rtmps:// URL, which may end in key:NAME (from the keychain), or
    /// srt://HOST:PORT?streamid=…&passphrase=…&latency=MS, whose streamid and passphrase may
    /// each be key:NAME. Repeatable.
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
    /// Keep the video bitrate constant: no adaptive bitrate (by default, when the first
    /// destination cannot keep up, the bitrate steps down and climbs back when it can).
    #[arg(long)]
    no_abr: bool,
    /// The lowest video bitrate adaptive bitrate may go to, kbps (default: a quarter of
    /// --bitrate, at least 300).
    #[arg(long)]
    min_bitrate: Option<u32>,
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
    highlights: crate::clip::LiveHighlightArgs,
    #[command(flatten)]
    guests: crate::costream::GuestArgs,
    /// Test only: the synthetic camera stops delivering at this session time...
    #[arg(long, hide = true, value_parser = parse_duration)]
    test_stall_at: Option<Duration>,
    /// ...for this long.
    #[arg(long, hide = true, value_parser = parse_duration, default_value = "3s")]
    test_stall_for: Duration,
}

fn parse_playback(arg: &str) -> Result<marquee_room::protocol::PlaybackSource, String> {
    marquee_room::playback::parse_source(arg).map_err(|e| e.to_string())
}

fn parse_chat(arg: &str) -> Result<marquee_show::chat::ChatSetting, String> {
    marquee_show::chat::ChatSetting::parse(arg).map_err(|e| e.to_string())
}

/// `PLATFORM=URL`: the source kind it stands for and the URL.
fn parse_chat_endpoint(arg: &str) -> Result<(&'static str, String), String> {
    let (p, url) = arg
        .split_once('=')
        .ok_or_else(|| format!("'{arg}': PLATFORM=URL"))?;
    let kind = marquee_show::chat::endpoint_kind(p)
        .ok_or_else(|| format!("'{p}': bilibili, bilibili-open, twitch or youtube"))?;
    Ok((kind, url.to_string()))
}

fn failure(e: ShowError) -> Failure {
    match e {
        ShowError::Settings(m) => Failure::usage(m),
        e => Failure::runtime(e.to_string()),
    }
}

/// Flags over the profile over the built-in defaults: the flags are one more profile.
fn settings(a: &LiveArgs, profile: &Profile) -> Result<ShowSettings, Failure> {
    let flags = Profile {
        video: a.video.clone(),
        audio: a.audio.clone(),
        to: a.to.clone(),
        record: a.record.clone(),
        size: a.size.clone(),
        fps: a.fps,
        bitrate: a.bitrate,
        adaptive_bitrate: a.no_abr.then_some(false),
        min_bitrate: a.min_bitrate,
        audio_bitrate: a.audio_bitrate,
        encoder: a.encoder.clone(),
        preset: a.preset.clone(),
        sources: a.sources.clone(),
        scenes: a
            .scenes
            .iter()
            .map(|x| Scene::parse(x).map_err(|e| Failure::usage(e.to_string())))
            .collect::<Result<_, _>>()?,
        start_scene: a.start_scene.clone(),
        overlays: a
            .overlays
            .iter()
            .map(|o| crate::overlay::parse(o))
            .collect::<Result<_, _>>()?,
        // Applied below, with their endpoints.
        chat: Vec::new(),
        twitch_client_id: None,
    };
    let mut s = ShowSettings::default();
    s.apply_profile(profile).map_err(failure)?;
    s.apply_profile(&flags).map_err(failure)?;
    if s.destinations.is_empty() && s.recording == Recording::Off {
        let path = default_recording();
        eprintln!("no --to or --record given: recording to {}", path.display());
        s.recording = Recording::Path(path);
    }
    // Sources named by flags replace the profile's; endpoints apply to either.
    if !a.chat.is_empty() {
        s.chat = a.chat.clone();
    }
    s.chat = s
        .chat
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.point_at(|kind| {
                (a.chat_endpoints.iter().rev())
                    .find(|(k, _)| *k == kind)
                    .map(|(_, url)| url.clone())
            });
            c
        })
        .collect();
    if (a.danmaku_from.is_some() || !s.chat.is_empty()) && !s.has_danmaku() {
        s.overlays.push(crate::overlay::parse("danmaku=danmaku")?);
    }
    s.director = a.director;
    s.director_hold = a.director_hold;
    s.highlights = marquee_show::HighlightSettings {
        replay_seconds: a.highlights.replay_seconds,
        replay_mib: a.highlights.replay_mib,
        clips_dir: a.highlights.clips_dir.clone(),
    };
    s.guests = a.guests.settings();
    s.test_faults = marquee_capture::camera::Faults {
        stall_at: a.test_stall_at,
        stall_for: a.test_stall_for,
    };
    Ok(s)
}

pub fn run(a: LiveArgs) -> Result<(), Failure> {
    marquee_room::playback::validate(&a.playback).map_err(|e| Failure::usage(e.to_string()))?;
    let path = marquee_profile::config::default_path();
    let cfg = Config::load(&path).map_err(|e| Failure::usage(e.to_string()))?;
    let profile = cfg
        .profile(a.profile.as_deref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let mut s = settings(&a, &profile)?;
    // The host's blocked words (the room's, from the config file) mask platform chat too.
    s.blocked_words = cfg
        .app
        .as_ref()
        .map(|a| a.room.blocked_words.clone())
        .unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::runtime(format!("cannot handle signals: {e}")))?;
    }
    let keychain = marquee_profile::Keychain::default();
    let status_line = Arc::new(StatusLine::new());
    let show = Show::start(&s, &keychain, status_line.clone()).map_err(failure)?;
    status::print_start(&s, &show);
    // The control socket is a convenience: if another live session owns it, stay live
    // without it and say why.
    let socket = a
        .highlights
        .control
        .clone()
        .unwrap_or_else(marquee_highlights::control::default_socket_path);
    let control = marquee_highlights::control::ControlServer::start(
        &socket,
        marquee_show::control::handler(Arc::downgrade(&show)),
    )
    .inspect_err(|e| eprintln!("marquee: the control socket is off: {e}"))
    .ok();
    match (&control, show.highlights()) {
        (Some(c), Ok(_)) => eprintln!(
            "  highlights: the last {} s are kept; `marquee clip save` / `marquee clip mark` ({})",
            a.highlights.replay_seconds,
            c.path().display()
        ),
        (_, Err(e)) if a.highlights.replay_seconds > 0 => eprintln!("marquee: {e}"),
        _ => {}
    }
    // Guests signal through the room when this show joins it as its host (the engine opens
    // the guest door there); else through an invite server of this machine's own.
    let (room_guests, through_room) = std::sync::mpsc::channel::<Option<String>>();
    let follower = a.danmaku_from.clone().map(|url| {
        let shown = url.clone();
        let room_guests = room_guests.clone();
        marquee_show::follow::follow_room(
            url,
            a.danmaku_token.clone(),
            a.playback.clone(),
            Arc::downgrade(&show),
            move |state| {
                match &state {
                    Following::GuestsThroughRoom(base) => {
                        let _ = room_guests.send(Some(base.clone()));
                    }
                    Following::Joined | Following::Refused(_) | Following::Failed(_) => {
                        let _ = room_guests.send(None);
                    }
                    _ => {}
                }
                status::print_following(&shown, state)
            },
        )
        .map_err(|e| Failure::runtime(format!("cannot follow the room: {e}")))
    });
    drop(room_guests);
    let follower = follower.transpose()?;
    let through_room = match (show.cohost(), &follower) {
        (Some(_), Some(_)) => through_room
            .recv_timeout(Duration::from_secs(15))
            .ok()
            .flatten(),
        _ => None,
    };
    let invites = match show.cohost() {
        Some(host) if through_room.is_some() => {
            crate::costream::print_links(host)?;
            None
        }
        Some(host) => Some(crate::costream::serve(&a.guests, host)?),
        None => None,
    };
    status_line.release();
    let started = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) && a.duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
        if show.all_destinations_failed() {
            failure = Some("every destination failed; nothing is being streamed".to_string());
            break;
        }
    }
    status::print_stopping();
    // Guests through the room hear that the show ended through it: it stays joined until then.
    let follower = if through_room.is_some() {
        follower
    } else {
        drop(follower);
        None
    };
    let ended = show
        .stop()
        .ok_or_else(|| Failure::runtime("the show had already ended"))?;
    if let Some(host) = show
        .cohost()
        .filter(|_| invites.is_some() || through_room.is_some())
    {
        host.wait_until_guests_told(Duration::from_secs(3));
    }
    drop(invites);
    drop(follower);
    // Saves in flight finish before the replay buffer and control socket go away.
    drop(control);
    drop(show);
    let summary = &ended.summary;
    status::print_summary(summary);
    if let Some(p) = &a.summary_json {
        let json = serde_json::to_string_pretty(&status::summary_json(summary))
            .map_err(|e| Failure::runtime(e.to_string()))?;
        std::fs::write(p, json)
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
