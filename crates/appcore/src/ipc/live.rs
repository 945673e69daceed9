//! Going live, the running stream and its highlights: `go_live`, `end_live`, `stats`, the
//! `stats` and `session_event` events.

use super::preview::AudioLevel;
use super::settings::{DestinationSetting, OverlaySetting};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What `go_live` needs. Sources use the CLI's syntax (`test`, `camera:0`, `tone`, `mic:default`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct GoLiveSettings {
    pub video: String,
    pub audio: String,
    pub destinations: Vec<DestinationSetting>,
    /// Record locally while live.
    pub record: bool,
    /// Where (`.mkv`, `.mp4`, `.flv`); `None`: `~/Videos/Marquee/marquee-<UTC time>.mkv`.
    pub record_path: Option<String>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// `auto`, `x264`, or an FFmpeg encoder name.
    pub encoder: String,
    /// Every source the scene bar offers (`video` among them): all open while live, so the
    /// host can switch between them.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Microphone gain in dB (−30…30), from the audio settings.
    #[serde(default)]
    pub mic_gain_db: f32,
    /// The microphone at each camera (scene source → audio source): mixed into the program
    /// audio, and what director mode listens to.
    #[serde(default)]
    pub source_mics: std::collections::BTreeMap<String, String>,
    /// Start with director mode on (needs at least one camera microphone).
    #[serde(default)]
    pub director: bool,
    /// Director mode's minimum time on one camera, seconds (default 3).
    #[serde(default)]
    pub director_hold_s: Option<f32>,
    /// Burnt into the stream; disabled ones can be switched on while live.
    #[serde(default)]
    pub overlays: Vec<OverlaySetting>,
    /// Co-stream guest slots (none by default).
    #[serde(default)]
    pub guests: super::guests::GuestsSetting,
    /// Adaptive bitrate (on unless turned off).
    #[serde(default = "on")]
    pub adaptive_bitrate: bool,
    /// Its floor, kbps (null: a quarter of the bitrate, at least 300).
    #[serde(default)]
    pub min_bitrate_kbps: Option<u32>,
    /// Platform chats to read: `bilibili:ROOM`, `twitch:CHANNEL`, `youtube:VIDEO`.
    #[serde(default)]
    pub chat: Vec<String>,
}

fn on() -> bool {
    true
}

/// A destination's (or the recording's) life, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutputState {
    Connecting {
        attempt: u32,
    },
    Live,
    Reconnecting {
        attempt: u32,
        #[ts(type = "number")]
        retry_in_ms: u64,
        reason: String,
    },
    Failed {
        reason: String,
    },
    Stopped,
}

impl From<marquee_studio::OutputState> for OutputState {
    fn from(s: marquee_studio::OutputState) -> Self {
        use marquee_studio::OutputState as S;
        match s {
            S::Connecting { attempt } => Self::Connecting { attempt },
            S::Live => Self::Live,
            S::Reconnecting {
                attempt,
                retry_in_ms,
                reason,
            } => Self::Reconnecting {
                attempt,
                retry_in_ms,
                reason,
            },
            S::Failed { reason } => Self::Failed { reason },
            S::Stopped => Self::Stopped,
        }
    }
}

/// One output in a stats tick.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OutputStats {
    /// Redacted URL (`rtmp://host/live/****`) or the recording's path.
    pub name: String,
    pub state: OutputState,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Over the last stats interval.
    pub bitrate_kbps: f64,
    #[ts(type = "number")]
    pub dropped_video: u64,
    #[ts(type = "number")]
    pub reconnects: u64,
    pub latency_p50_ms: Option<f64>,
    /// Media waiting in the destination's queue to be sent.
    #[ts(type = "number")]
    pub queued_ms: u64,
    /// The connection's round trip, where the kernel says (RTMP on Linux).
    pub rtt_ms: Option<f64>,
}

/// Video frames lost before the outputs, by cause.
#[derive(Debug, Clone, Serialize, TS)]
pub struct VideoDrops {
    #[ts(type = "number")]
    pub capture_queue_full: u64,
    #[ts(type = "number")]
    pub render_lag: u64,
    #[ts(type = "number")]
    pub encoder_lag: u64,
}

/// Emitted as the `stats` event once a second while live (and returned by `stats`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct Stats {
    pub session_s: f64,
    pub encoder: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second over the last interval.
    pub fps: f64,
    pub target_fps: u32,
    pub dropped: VideoDrops,
    pub audio: Vec<AudioLevel>,
    pub destinations: Vec<OutputStats>,
    pub recording: Option<OutputStats>,
    /// CPU use of the app process over the last interval, % of one core.
    pub cpu_percent: f64,
    /// Director mode: `null` when this stream has no camera microphones (no director), else
    /// whether it is switching now (a host's cut pauses it).
    pub director: Option<bool>,
    #[ts(type = "number")]
    pub rss_bytes: u64,
    /// Adaptive bitrate, when on (and there is a destination to steer it).
    pub abr: Option<AbrStats>,
    /// Each network camera: whether a phone is pushing, and at what rate (absent: none).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_cameras: Option<Vec<RemoteCameraStats>>,
}

/// A network camera as it arrives.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RemoteCameraStats {
    /// The source (its listener address, nothing secret in the app's).
    pub id: String,
    /// A sender is pushing (false: waiting for one; the slate if on air).
    pub live: bool,
    /// Its media bitrate as received over the last interval.
    pub bitrate_kbps: f64,
    /// How far behind the phone its picture is: the SRT latency window, any backlog, and
    /// our decoding (not the phone's own encoder). Absent while no sender is on.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// Where adaptive bitrate has the encoder, and why.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AbrStats {
    pub target_kbps: u32,
    pub min_kbps: u32,
    pub max_kbps: u32,
    /// Why it last changed: `queue_high`, `queue_growing`, `resumed`, `probing`; null: it
    /// has not changed.
    pub reason: Option<String>,
}

impl From<&marquee_studio::stats::AbrSnapshot> for AbrStats {
    fn from(a: &marquee_studio::stats::AbrSnapshot) -> Self {
        use marquee_studio::output::abr::AbrReason as R;
        Self {
            target_kbps: a.target_kbps,
            min_kbps: a.min_kbps,
            max_kbps: a.max_kbps,
            reason: a.reason.map(|r| {
                match r {
                    R::QueueHigh => "queue_high",
                    R::QueueGrowing => "queue_growing",
                    R::Resumed => "resumed",
                    R::Drained => "drained",
                    R::Probing => "probing",
                }
                .to_string()
            }),
        }
    }
}

/// What happened, emitted as the `session_event` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionEventKind {
    Connecting,
    Connected,
    Disconnected,
    Reconnecting,
    Failed,
    Stopped,
    SourceLost,
    SourceBack,
    Scene,
    Info,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct SessionEvent {
    #[ts(type = "number")]
    pub session_ms: u64,
    /// Destination index for output events.
    pub dest: Option<u32>,
    pub subject: String,
    pub kind: SessionEventKind,
    pub attempt: Option<u32>,
    pub detail: String,
}

impl From<marquee_studio::Event> for SessionEvent {
    fn from(e: marquee_studio::Event) -> Self {
        use marquee_studio::EventKind as K;
        Self {
            session_ms: e.session_ms,
            dest: e.dest.map(|d| d as u32),
            subject: e.subject,
            kind: match e.kind {
                K::Connecting => SessionEventKind::Connecting,
                K::Connected => SessionEventKind::Connected,
                K::Disconnected => SessionEventKind::Disconnected,
                K::Reconnecting => SessionEventKind::Reconnecting,
                K::Failed => SessionEventKind::Failed,
                K::Stopped => SessionEventKind::Stopped,
                K::SourceLost => SessionEventKind::SourceLost,
                K::SourceBack => SessionEventKind::SourceBack,
                K::Scene => SessionEventKind::Scene,
                K::Info => SessionEventKind::Info,
            },
            attempt: e.attempt,
            detail: e.detail,
        }
    }
}

/// Returned by `end_live`.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LiveSummary {
    pub duration_s: f64,
    #[ts(type = "number")]
    pub frames: u64,
    pub recording: Option<String>,
    /// The room's signals per second beside the recording (`<recording>.signals.jsonl`).
    pub signals: Option<String>,
}

/// A highlight clip just saved.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HighlightSaved {
    pub path: String,
    pub duration_s: f64,
    /// From the request to the file in place.
    pub latency_ms: f64,
}
