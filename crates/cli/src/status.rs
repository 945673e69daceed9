//! What `marquee live` prints: the plan at the start, events and a status line while live
//! (redrawn in place on a terminal, a line every 5 s otherwise), and the summary at the end
//! (also as JSON for scripts and tests).

use crate::util::clock;
use marquee_show::follow::Following;
use marquee_show::{Observer, Show, ShowSettings, ShowStats};
use marquee_studio::{Event, EventKind, Summary};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Prints what is going out, once the show is on.
pub fn print_start(s: &ShowSettings, show: &Show) {
    // A remote camera's listener address may hold its passphrase or key.
    let redact = marquee_studio::url::redact;
    let video = if s.sources.is_empty() {
        redact(&s.video)
    } else {
        let each: Vec<String> = s
            .sources
            .iter()
            .map(|x| format!("{}={}", x.id, redact(&x.video)))
            .collect();
        each.join(", ")
    };
    eprintln!(
        "going live: video {video} {}x{}@{} {} kbps, audio {}",
        s.width, s.height, s.fps, s.bitrate_kbps, s.audio
    );
    for (i, d) in s.destinations.iter().enumerate() {
        eprintln!("  dest {}: {d}", i + 1);
    }
    print_remote_cameras(s);
    let scenes = show.scenes();
    if scenes.len() > 1 {
        let names: Vec<&str> = scenes.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "  scenes: {} (on air: {}); switch with `marquee scene NAME [fade:MS]`",
            names.join(", "),
            show.on_air().unwrap_or_default()
        );
    }
}

/// For each remote camera, where the phone or PC pushes to.
fn print_remote_cameras(s: &ShowSettings) {
    let specs: Vec<&str> = match s.sources.is_empty() {
        true => vec![s.video.as_str()],
        false => s.sources.iter().map(|x| x.video.as_str()).collect(),
    };
    for spec in specs {
        let Ok(marquee_capture::VideoSpec::Remote(url)) = spec.parse() else {
            continue;
        };
        let to = marquee_show::remote_camera::push_addresses(&url);
        let to = match to.is_empty() {
            true => "no network address found on this computer".to_string(),
            false => format!("push to {}", to.join(" or ")),
        };
        let pass = if url.has_passphrase() {
            " with its passphrase"
        } else {
            ""
        };
        eprintln!("  remote camera {}: {to}{pass}", url.shown());
    }
}

pub fn print_following(url: &str, state: Following) {
    match state {
        Following::Joined => eprintln!("  danmaku overlay: following {url}"),
        Following::GuestsThroughRoom(base) => eprintln!(
            "  guests: invite links through the room ({base}/join/…); their media comes to this machine directly (UDP)"
        ),
        Following::Refused(why) => {
            eprintln!("marquee: the room refused the danmaku overlay: {why}")
        }
        Following::Failed(why) => eprintln!("marquee: danmaku overlay is off: {why}"),
        Following::PlaybackSet(n) => {
            eprintln!("  playback: the viewer page plays {n} URL(s) of this show")
        }
        Following::PlaybackRefused(why) => {
            eprintln!("marquee: the room refused the playback URLs: {why}")
        }
    }
}

/// Prints engine events as they come and the status line with each stats tick. Events that
/// come while the show is still starting wait until [`StatusLine::release`], so that they
/// follow the plan printed at the start.
pub struct StatusLine {
    tty: bool,
    last_line: Mutex<Option<Instant>>,
    held: Mutex<Option<Vec<String>>>,
}

impl StatusLine {
    pub fn new() -> Self {
        Self {
            tty: tty(),
            last_line: Mutex::new(None),
            held: Mutex::new(Some(Vec::new())),
        }
    }

    /// Prints what was held and everything from now on as it comes.
    pub fn release(&self) {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
        for line in held.into_iter().flatten() {
            eprintln!("{line}");
        }
    }

    /// `true` when the line was held for later.
    fn hold(&self, line: &str) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match held.as_mut() {
            // Bounded: a show that cannot start prints its events with its error anyway.
            Some(h) if h.len() < 256 => {
                h.push(line.to_string());
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// A line of its own above the status line (held until the show is up).
    fn say(&self, line: String) {
        if self.hold(&line) {
            return;
        }
        if self.tty {
            eprint!("\r\x1b[K");
        }
        eprintln!("{line}");
    }
}

impl Observer for StatusLine {
    fn event(&self, e: &Event) {
        // Retries are reported as Reconnecting; the Connecting before each is noise.
        if e.kind != EventKind::Connecting {
            self.say(e.to_string());
        }
    }

    fn chat_note(&self, source: &str, _code: &str, text: &str) {
        self.say(format!("chat {source}: {text}"));
    }

    fn chat_state(&self, source: &str, state: &marquee_chat::SourceState) {
        use marquee_chat::SourceState as S;
        let line = match state {
            S::Connecting => format!("chat {source}: connecting"),
            S::Live => format!("chat {source}: live"),
            S::Reconnecting {
                attempt,
                retry_in_ms,
                reason,
            } => format!(
                "chat {source}: reconnecting {attempt} in {:.1} s ({reason})",
                *retry_in_ms as f64 / 1000.0
            ),
            S::Failed { reason } => format!("chat {source}: failed: {reason}"),
        };
        self.say(line);
    }

    fn stats(&self, s: &ShowStats) {
        if self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
        let every = Duration::from_secs(if self.tty { 1 } else { 5 });
        if last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        *last = Some(Instant::now());
        let line = status_line(s);
        if self.tty {
            eprint!("\r\x1b[K{line}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }
}

fn status_line(s: &ShowStats) -> String {
    let now = &s.now;
    let mut line = format!(
        "LIVE {} | {:.1} fps | {} {:.1} ms | cpu {:.0}% | mem {} MB",
        clock(Duration::from_secs_f64(now.session_s)),
        s.fps,
        now.video.encoder,
        now.video.encode_ms,
        s.cpu_percent,
        now.rss_bytes / 1_000_000
    );
    for (i, (d, rate)) in now.destinations.iter().zip(&s.destinations).enumerate() {
        line.push_str(&format!(
            " | dest {} {} {:.2} Mb/s drop {} q {} ms",
            i + 1,
            d.state,
            rate.kbps / 1000.0,
            d.dropped.total(),
            d.queued_ms
        ));
        if let Some(rtt) = d.rtt_ms {
            line.push_str(&format!(" rtt {rtt:.0} ms"));
        }
    }
    if let Some(r) = &s.recording {
        line.push_str(&format!(" | rec {:.2} Mb/s", r.kbps / 1000.0));
    }
    for (r, rate) in now.remote.iter().zip(&s.remote) {
        use marquee_capture::SourceState as S;
        let state = match r.state {
            S::Live => "live",
            S::Lost => "waiting",
            S::Starting => "starting",
            S::Stopped => "stopped",
        };
        line.push_str(&format!(
            " | cam {} {state} {:.2} Mb/s in",
            marquee_studio::url::redact(&r.id),
            rate.kbps / 1000.0
        ));
        if let Some(ms) = r.latency_ms {
            line.push_str(&format!(" lat {ms:.0} ms"));
        }
    }
    if let Some(a) = &now.abr {
        line.push_str(&abr_part(a));
    }
    let d = &now.video.dropped;
    line.push_str(&format!(
        " | dropped: capture {} render {} encoder {}",
        d.capture_queue_full, d.render_lag, d.encoder_lag
    ));
    line
}

/// ` | abr 1800/4000 kbps (queue high)`: the target, the ceiling, and why it last changed.
fn abr_part(a: &marquee_studio::stats::AbrSnapshot) -> String {
    use marquee_studio::output::abr::AbrReason as R;
    let why = match a.reason {
        None => "steady",
        Some(R::QueueHigh) => "queue high",
        Some(R::QueueGrowing) => "queue growing",
        Some(R::Resumed) => "resumed after an outage",
        Some(R::Drained) => "queue drained",
        Some(R::Probing) => "link quiet, probing up",
    };
    format!(" | abr {}/{} kbps ({why})", a.target_kbps, a.max_kbps)
}

pub fn print_summary(s: &Summary) {
    let v = &s.stats.video;
    eprintln!(
        "summary: {:.1} s, {} frames ({} encoded, {} repeated, {} slate) with {}, audio {} chunks",
        s.duration_s, v.frames, v.encoded, v.repeated, v.slate, v.encoder, s.stats.audio.chunks
    );
    eprintln!(
        "  video drops: capture queue {} · render lag {} · encoder lag {}",
        v.dropped.capture_queue_full, v.dropped.render_lag, v.dropped.encoder_lag
    );
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
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
            ms(d.latency_p50_ms),
            ms(d.latency_p99_ms),
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
pub fn summary_json(s: &Summary) -> serde_json::Value {
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
        "abr": s.stats.abr,
        "remote_cameras": s.stats.remote.iter().map(|r| serde_json::json!({
            "id": marquee_studio::url::redact(&r.id), "state": r.state, "bytes": r.bytes,
            "latency_ms": r.last_latency_ms,
        })).collect::<Vec<_>>(),
        "events": s.events,
    })
}

/// Before the summary: a terminal's status line is finished first.
pub fn print_stopping() {
    if tty() {
        eprintln!();
    }
    eprintln!("stopping: finishing the encode and the recording…");
}
