//! Types that cross IPC. TypeScript bindings are generated from these (`ts-rs`) into
//! `ui/src/bindings/` and committed; `bindings::tests::committed_bindings_are_fresh` fails when
//! they are stale (`UPDATE_BINDINGS=1 cargo test` rewrites them).
//!
//! They mirror engine types instead of deriving on them, so no crate under `crates/` depends on
//! a bindings generator, and the UI sees a stable shape.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Cameras and microphones, as `list_devices` returns them. Empty lists are normal.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Devices {
    pub cameras: Vec<Camera>,
    pub microphones: Vec<Microphone>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Camera {
    /// `camera:INDEX` as a video source.
    pub source: String,
    pub name: String,
    pub formats: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Microphone {
    /// `mic:ID` as an audio source.
    pub source: String,
    pub name: String,
    pub is_default: bool,
}

/// One place to stream to. The key is never sent over IPC: `key_name` names an entry in the
/// OS keychain (set with `set_stream_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DestinationSetting {
    /// `rtmp://` or `rtmps://host[:port]/app` (without the stream key).
    pub url: String,
    /// The keychain entry holding the stream key; `None` when `url` already names the stream.
    pub key_name: Option<String>,
}

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

/// Levels of one audio input, dBFS (−120 is silence).
#[derive(Debug, Clone, Serialize, TS)]
pub struct AudioLevel {
    pub input: String,
    pub peak_db: f32,
    pub rms_db: f32,
}

/// The preview stream and what the page cannot measure itself (`preview_info`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct PreviewInfo {
    /// `http://127.0.0.1:PORT/preview/TOKEN.mjpg` once started (`preview_url`).
    pub url: Option<String>,
    /// Pictures made per second, over the last 2 s.
    pub fps: f64,
    /// Median time to scale and encode a picture, ms.
    pub encode_ms: f64,
    /// Median time from the picture's capture (compositor tick) to its JPEG being ready, ms.
    pub ready_ms: f64,
    /// Wall-clock time (ms since 1970) of the shown source's clock zero, as of this reading:
    /// with the test card's frame code, a page can tell how old the picture it shows is.
    pub clock_origin_unix_ms: f64,
    /// Previews being fed now (by address; an older address is parked, see `preview.rs`).
    pub viewers: u32,
    /// Pictures handed to viewers.
    #[ts(type = "number")]
    pub sent: u64,
    /// Pictures a viewer was still busy with (it got the next one instead).
    #[ts(type = "number")]
    pub busy: u64,
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

/// Returned by `end_live` (and emitted as `live_ended` when the session stops by itself).
#[derive(Debug, Clone, Serialize, TS)]
pub struct LiveSummary {
    pub duration_s: f64,
    #[ts(type = "number")]
    pub frames: u64,
    pub recording: Option<String>,
    /// The room's signals per second beside the recording (`<recording>.signals.jsonl`).
    pub signals: Option<String>,
}

/// The app and its embedded room, for the header and the share panel.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppInfo {
    pub version: String,
    /// The OS language (BCP 47), e.g. `zh-CN`.
    pub locale: String,
    pub room: Option<RoomInfo>,
    /// Seconds on air when the page (re)loads while live, so it shows the live studio…
    pub live_s: Option<f64>,
    /// … and the scene on air.
    pub on_air: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct RoomInfo {
    pub room: String,
    /// The page viewers open.
    pub viewer_url: String,
    pub ws_url: String,
}

/// Who wrote something in the room.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RoomUser {
    pub id: String,
    pub name: String,
    /// `host`, `moderator`, `guest` or `viewer`.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Poll {
    #[ts(type = "number")]
    pub poll: u64,
    pub question: String,
    pub options: Vec<String>,
    #[ts(type = "number[]")]
    pub tallies: Vec<u64>,
    #[ts(type = "number")]
    pub ends_at: u64,
    pub open: bool,
}

impl From<marquee_room::protocol::PollInfo> for Poll {
    fn from(p: marquee_room::protocol::PollInfo) -> Self {
        Self {
            poll: p.poll,
            question: p.question,
            options: p.options,
            tallies: p.tallies,
            ends_at: p.ends_at,
            open: p.open,
        }
    }
}

/// What the room panel receives, emitted as the `room` event.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// The host connection joined (again); the chat list is reset and history follows.
    Joined {
        #[ts(type = "number")]
        viewers: u64,
        /// Boxed: once per join, and it keeps every other (per-message) variant small.
        poll: Option<Box<Poll>>,
        settings: RoomSettings,
        pinned: Option<Question>,
        lottery: Option<Lottery>,
        /// Gifts viewers can send (art at `<room origin>/gifts/<art>`).
        catalog: Vec<GiftDef>,
    },
    Chat {
        #[ts(type = "number")]
        id: u64,
        #[ts(type = "number")]
        at: u64,
        user: RoomUser,
        text: String,
        color: String,
        /// `scroll`, `top` or `bottom` (how it crosses the video).
        mode: String,
        /// A blocked word in it was masked by the room.
        masked: bool,
        deleted: bool,
    },
    ChatDeleted {
        #[ts(type = "number")]
        id: u64,
    },
    Gift {
        /// The room event's number (chat ids are numbered the same way, so a gift row sorts
        /// among the messages).
        #[ts(type = "number")]
        seq: u64,
        #[ts(type = "number")]
        at: u64,
        user: RoomUser,
        gift: String,
        count: u32,
        #[ts(type = "number")]
        coins: u64,
        combo: u32,
    },
    Poll {
        poll: Poll,
    },
    PollTally {
        #[ts(type = "number")]
        poll: u64,
        #[ts(type = "number[]")]
        tallies: Vec<u64>,
    },
    Viewers {
        #[ts(type = "number")]
        count: u64,
    },
    /// A viewer asked a question (the Q&A queue).
    Question {
        question: Question,
    },
    /// The question shown on screen (none: unpinned).
    QuestionPinned {
        question: Option<Question>,
    },
    /// A lottery started or was drawn (winners filled in).
    Lottery {
        lottery: Lottery,
    },
    LotteryCount {
        #[ts(type = "number")]
        lottery: u64,
        #[ts(type = "number")]
        entrants: u64,
    },
    /// A user was timed out (`until` ms since the epoch), banned or unbanned.
    Moderated {
        action: ModAction,
        user: String,
        #[ts(type = "number | null")]
        until: Option<u64>,
        by: String,
    },
    /// Slow mode, moderators-only or the blocked-word mode changed.
    Settings {
        settings: RoomSettings,
    },
    BlockedWords {
        count: u32,
    },
    /// The host connection dropped (it reconnects by itself) or stopped for good.
    Disconnected {
        reason: String,
        retrying: bool,
    },
    /// The server refused a moderation action or message.
    Refused {
        code: String,
        message: String,
    },
}

/// A poll the host starts from the vote panel.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PollStart {
    pub question: String,
    pub options: Vec<String>,
    pub duration_s: u32,
}

/// Room rules the host sets (room settings panel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoomSettings {
    /// Seconds a viewer waits between messages (0: off).
    pub slow_mode_s: u32,
    /// Only moderators (and the host) may write.
    pub mods_only: bool,
    /// What happens to a message with a blocked word.
    pub blocked_mode: BlockedMode,
    /// Messages a viewer may send in any rolling minute (0: no limit).
    pub user_rate_per_min: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BlockedMode {
    /// Shown with the word replaced by ***.
    Mask,
    /// Refused; the sender is told why.
    Reject,
}

impl From<marquee_room::protocol::Settings> for RoomSettings {
    fn from(s: marquee_room::protocol::Settings) -> Self {
        Self {
            slow_mode_s: s.slow_mode_s,
            mods_only: s.mods_only,
            blocked_mode: s.blocked_mode.into(),
            user_rate_per_min: s.user_rate_per_min,
        }
    }
}

impl From<marquee_room::protocol::BlockedMode> for BlockedMode {
    fn from(m: marquee_room::protocol::BlockedMode) -> Self {
        match m {
            marquee_room::protocol::BlockedMode::Mask => Self::Mask,
            marquee_room::protocol::BlockedMode::Reject => Self::Reject,
        }
    }
}

impl From<BlockedMode> for marquee_room::protocol::BlockedMode {
    fn from(m: BlockedMode) -> Self {
        match m {
            BlockedMode::Mask => Self::Mask,
            BlockedMode::Reject => Self::Reject,
        }
    }
}

/// A question in the Q&A queue.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Question {
    #[ts(type = "number")]
    pub question: u64,
    pub user: RoomUser,
    pub text: String,
}

/// A lottery: viewers enter by sending the keyword; the draw is reproducible from the seed.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Lottery {
    #[ts(type = "number")]
    pub lottery: u64,
    pub keyword: String,
    pub prize: String,
    /// Published when drawn, so anyone can check the draw.
    pub seed: String,
    #[ts(type = "number")]
    pub entrants: u64,
    pub open: bool,
    /// Winners' names (after the draw).
    pub winners: Vec<String>,
}

impl From<marquee_room::protocol::LotteryInfo> for Lottery {
    fn from(l: marquee_room::protocol::LotteryInfo) -> Self {
        let winners = if l.winner_names.is_empty() {
            l.winners
        } else {
            l.winner_names
        };
        Self {
            lottery: l.lottery,
            keyword: l.keyword,
            prize: l.prize,
            seed: l.seed,
            entrants: l.entrants,
            open: l.open,
            winners,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ModAction {
    Timeout,
    Ban,
    Unban,
}

/// A moderation action from a message's menu.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    Delete {
        #[ts(type = "number")]
        id: u64,
    },
    Timeout {
        user: String,
        seconds: u32,
    },
    Ban {
        user: String,
    },
    Unban {
        user: String,
    },
}

/// A change to the room rules; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct RoomSettingsPatch {
    #[ts(optional)]
    pub slow_mode_s: Option<u32>,
    #[ts(optional)]
    pub mods_only: Option<bool>,
    #[ts(optional)]
    pub blocked_mode: Option<BlockedMode>,
    #[ts(optional)]
    pub user_rate_per_min: Option<u32>,
}

/// The result of "Test connection" for a destination.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Preflight {
    /// Host and port tried (never the key).
    pub target: String,
    /// The address the name resolved to.
    pub address: String,
    /// Milliseconds for DNS, TCP connect and the RTMP handshake (None when not reached).
    pub dns_ms: f64,
    pub tcp_ms: Option<f64>,
    pub handshake_ms: Option<f64>,
}

/// Everything the app remembers between runs (`load_settings` / `save_settings`): the
/// `default` profile of the config file (shared with the CLI) plus its `[app]` table.
/// Stream keys are not in here: destinations name keychain entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AppSettings {
    /// Video source (`test`, `camera:0`…).
    pub video: String,
    /// Audio source (`tone`, `mic:ID`…).
    pub audio: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// `auto`, `x264`, or an FFmpeg encoder name.
    pub encoder: String,
    /// Only destinations whose key is in the keychain are remembered.
    pub destinations: Vec<DestinationSetting>,
    pub record: bool,
    pub mic_gain_db: f32,
    /// `en` or `zh-CN`; null: follow the OS.
    pub language: Option<String>,
    /// `dark`, `light` or `system` (follow the OS); null: dark.
    pub theme: Option<String>,
    pub danmaku_overlay: bool,
    pub first_run_done: bool,
    pub room: RoomPrefs,
    /// The microphone at each camera (scene source → audio source).
    pub source_mics: std::collections::BTreeMap<String, String>,
    /// Go live with director mode on.
    pub director: bool,
    /// Director mode's minimum time on one camera (1–30 s).
    pub director_hold_s: f32,
    /// Burnt into the stream (and the recording), in drawing order.
    pub overlays: Vec<OverlaySetting>,
}

/// Something burnt into the outgoing picture, switchable while live. The profile keeps it as
/// the engine's overlay item (shared with `marquee live`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OverlaySetting {
    /// Unique, e.g. `title`, `logo`, `danmaku`.
    pub id: String,
    pub kind: OverlayKind,
    /// The text of a `text` overlay.
    pub text: String,
    /// The PNG of an `image` overlay.
    pub image: String,
    /// Where: `tl`, `tc`, `tr`, `cl`, `c`, `cr`, `bl`, `bc`, `br` (text and image).
    pub place: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OverlayKind {
    Text,
    Image,
    /// The room's danmaku and gift banners.
    Danmaku,
}

/// The room rules and blocked words, remembered and applied when the room starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoomPrefs {
    pub slow_mode_s: u32,
    pub mods_only: bool,
    pub blocked_mode: BlockedMode,
    pub blocked_words: Vec<String>,
    /// Messages per viewer in any rolling minute (0: no limit).
    pub user_rate_per_min: u32,
}

/// A gift in the room's catalog.
#[derive(Debug, Clone, Serialize, TS)]
pub struct GiftDef {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    #[ts(type = "number")]
    pub price: u64,
    /// File name of its art, served by the room server under `/gifts/`.
    pub art: String,
}

impl From<marquee_room::protocol::GiftDef> for GiftDef {
    fn from(g: marquee_room::protocol::GiftDef) -> Self {
        Self {
            id: g.id,
            name: g.name,
            name_zh: g.name_zh,
            price: g.price,
            art: g.art,
        }
    }
}

/// A highlight clip just saved.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HighlightSaved {
    pub path: String,
    pub duration_s: f64,
    /// From the request to the file in place.
    pub latency_ms: f64,
}

/// A clip in the library (`clip_list`, newest first).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ClipInfo {
    /// The file name: how every clip command names it.
    pub name: String,
    pub path: String,
    pub duration_s: f64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Unix seconds.
    #[ts(type = "number")]
    pub created_unix_s: u64,
    pub width: u32,
    pub height: u32,
}

/// Sent on the export's channel as each clip's vertical version is encoded.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportProgress {
    /// Which clip of the batch (0-based) and how many there are.
    pub index: u32,
    pub total: u32,
    pub name: String,
    /// 0..=1 for this clip.
    pub fraction: f32,
}

/// A clip exported 9:16.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportedClip {
    pub name: String,
    /// The vertical file's name (in the library).
    pub output: String,
}

/// A clip that could not be exported, and why (in a streamer's words).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportFailure {
    pub name: String,
    pub reason: String,
}

/// What a batch export did: the batch goes on past a failure.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportReport {
    pub exported: Vec<ExportedClip>,
    pub failed: Vec<ExportFailure>,
}

/// A local recording (`recordings_list`, newest first).
#[derive(Debug, Clone, Serialize, TS)]
pub struct RecordingInfo {
    pub name: String,
    pub duration_s: f64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub created_unix_s: u64,
    /// Room signals were recorded with it (`<name>.signals.jsonl`).
    pub has_signals: bool,
}

/// A proposed highlight of a recording.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SuggestionItem {
    /// Peak, start and end, seconds into the recording.
    #[ts(type = "number")]
    pub at_s: u64,
    #[ts(type = "number")]
    pub from_s: u64,
    #[ts(type = "number")]
    pub to_s: u64,
    pub score: f64,
    /// What made it stand out (English, from the engine).
    pub reason: String,
    /// Kept already: the clip it became (file name), if known.
    pub kept: Option<String>,
}

/// The suggestions of one recording, discarded ones left out.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SuggestionList {
    pub recording: String,
    /// Whether room signals were found beside it (else only loudness was used).
    pub has_signals: bool,
    pub items: Vec<SuggestionItem>,
    /// How many were discarded before (hidden).
    pub discarded: u32,
}
