//! What the app keeps for its commands, managed by Tauri.

use marquee_highlights::ClipDesk;
use marquee_show::{HostRoom, PreviewHub};
use std::sync::{Arc, OnceLock};

/// Shared by every command.
pub struct AppState {
    pub live: Arc<crate::live::Live>,
    pub keychain: marquee_profile::Keychain,
    pub room: Arc<OnceLock<HostRoom<crate::ipc::RoomEvent>>>,
    pub preview: Arc<PreviewHub>,
    pub clips: Arc<ClipDesk>,
}
