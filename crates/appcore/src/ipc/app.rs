//! The app and its devices: `app_info`, `list_devices`.

use super::room::RoomInfo;
use serde::Serialize;
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
    /// A network camera: the addresses to type into the phone (this computer's LAN
    /// addresses, never 127.0.0.1), best first.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_to: Option<Vec<String>>,
    /// A network camera that asks its phone for a passphrase (kept in the OS keychain).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<bool>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Microphone {
    /// `mic:ID` as an audio source.
    pub source: String,
    pub name: String,
    pub is_default: bool,
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
