//! What the app keeps for its commands, managed by Tauri.

use marquee_highlights::ClipDesk;
use marquee_show::{HostRoom, PreviewHub};
use std::sync::{Arc, RwLock};

/// Shared by every command.
pub struct AppState {
    pub live: Arc<marquee_appcore::live::Live>,
    pub keychain: marquee_profile::Keychain,
    pub room: Arc<RoomSlot>,
    pub preview: Arc<PreviewHub>,
    pub clips: Arc<ClipDesk>,
}

/// The room the host is in (none while it starts), replaced when where it lives changes.
#[derive(Default)]
pub struct RoomSlot {
    current: RwLock<Option<(Arc<HostRoom<crate::ipc::RoomEvent>>, crate::ipc::RoomInfo)>>,
    /// Held while a room starts: one start at a time.
    pub starting: tokio::sync::Mutex<()>,
}

impl RoomSlot {
    /// The running room.
    pub fn get(&self) -> Option<Arc<HostRoom<crate::ipc::RoomEvent>>> {
        let g = self.current.read().unwrap_or_else(|p| p.into_inner());
        g.as_ref().map(|(r, _)| r.clone())
    }

    /// Where the running room is (what `room_ready` said).
    pub fn info(&self) -> Option<crate::ipc::RoomInfo> {
        let g = self.current.read().unwrap_or_else(|p| p.into_inner());
        g.as_ref().map(|(_, i)| i.clone())
    }

    pub fn set(&self, room: Arc<HostRoom<crate::ipc::RoomEvent>>, info: crate::ipc::RoomInfo) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some((room, info));
    }

    pub fn take(&self) -> Option<Arc<HostRoom<crate::ipc::RoomEvent>>> {
        let mut g = self.current.write().unwrap_or_else(|p| p.into_inner());
        g.take().map(|(r, _)| r)
    }
}
