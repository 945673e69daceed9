//! What the app remembers between runs, destinations and their keys.

use super::room::{BlockedMode, RoomHomeSetting};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One place to stream to. The key is never sent over IPC: `key_name` names an entry in the
/// OS keychain (set with `set_stream_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DestinationSetting {
    /// `rtmp://` or `rtmps://host[:port]/app` (without the stream key), or
    /// `srt://host[:port][?latency=MS]` (without the stream id and passphrase).
    pub url: String,
    /// The keychain entry holding the stream key; `None` when `url` already names the stream.
    pub key_name: Option<String>,
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
    /// Where the room lives.
    pub room_home: RoomHomeSetting,
    /// The microphone at each camera (scene source → audio source).
    pub source_mics: std::collections::BTreeMap<String, String>,
    /// Go live with director mode on.
    pub director: bool,
    /// Director mode's minimum time on one camera (1–30 s).
    pub director_hold_s: f32,
    /// Burnt into the stream (and the recording), in drawing order.
    pub overlays: Vec<OverlaySetting>,
    /// Co-stream guests: slots, green room, layout.
    pub guests: super::guests::GuestsSetting,
    /// Adaptive bitrate: the encoder steps down when the first destination cannot keep up.
    pub adaptive_bitrate: bool,
    /// Its floor, kbps (null: a quarter of the bitrate, at least 300).
    pub min_bitrate_kbps: Option<u32>,
    /// Platform chats read while live: `bilibili:ROOM`, `twitch:CHANNEL`, `youtube:VIDEO`
    /// (in the profile, shared with `marquee live`).
    pub chat_sources: Vec<String>,
    /// The streamer's Twitch application's Client ID, for logging in to moderate.
    pub twitch_client_id: Option<String>,
    /// The streamer's Google OAuth client ID, for logging in to moderate YouTube.
    pub youtube_client_id: Option<String>,
    /// Network cameras: the UDP port of each SRT listener a phone or PC pushes to (absent:
    /// none). They are listed with the cameras (`list_devices`), with where to push.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_cameras: Option<Vec<u16>>,
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

/// The form's overlays as the show takes them (`marquee_show::overlays`).
pub fn overlay_forms(v: &[OverlaySetting]) -> Vec<marquee_show::overlays::OverlaySetting> {
    use marquee_show::overlays::OverlayKind as K;
    (v.iter())
        .map(|o| marquee_show::overlays::OverlaySetting {
            id: o.id.clone(),
            kind: match o.kind {
                OverlayKind::Text => K::Text,
                OverlayKind::Image => K::Image,
                OverlayKind::Danmaku => K::Danmaku,
            },
            text: o.text.clone(),
            image: o.image.clone(),
            place: o.place.clone(),
            enabled: o.enabled,
        })
        .collect()
}

impl From<marquee_show::overlays::OverlaySetting> for OverlaySetting {
    fn from(o: marquee_show::overlays::OverlaySetting) -> Self {
        use marquee_show::overlays::OverlayKind as K;
        Self {
            id: o.id,
            kind: match o.kind {
                K::Text => OverlayKind::Text,
                K::Image => OverlayKind::Image,
                K::Danmaku => OverlayKind::Danmaku,
            },
            text: o.text,
            image: o.image,
            place: o.place,
            enabled: o.enabled,
        }
    }
}
