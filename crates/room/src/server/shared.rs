//! What the HTTP handlers share: the rooms, the sockets' counters, the edge's rules, the caps,
//! and the co-stream guest doors set in process.

use super::connection::Sockets;
use super::edge::Edge;
use super::limits::Limits;
use super::rooms::Rooms;
use marquee_guestdoor::GuestDoor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(super) struct Shared {
    pub(super) rooms: Rooms,
    pub(super) sockets: Arc<Sockets>,
    /// Origin, Host, client address and room-creation rules.
    pub(super) edge: Edge,
    pub(super) limits: Arc<Limits>,
    /// Serve only these rooms (see `ServerConfig::only_rooms`).
    pub(super) only_rooms: Option<Vec<String>>,
    /// Co-stream guest doors set in process (see `guests`).
    pub(super) doors: Doors,
    /// How long a guest's request relayed to a host may wait.
    pub(super) relay_timeout: Duration,
}

impl Shared {
    pub(super) fn serves(&self, room: &str) -> bool {
        valid_room(room)
            && self
                .only_rooms
                .as_ref()
                .is_none_or(|only| only.iter().any(|r| r == room))
    }
}

pub(super) fn valid_room(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= 64
        && room
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Co-stream guest doors set in process, by room.
#[derive(Default)]
pub(super) struct Doors(Mutex<HashMap<String, Arc<dyn GuestDoor>>>);

impl Doors {
    pub(super) fn set(&self, room: &str, door: Option<Arc<dyn GuestDoor>>) {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match door {
            Some(door) => d.insert(room.to_string(), door),
            None => d.remove(room),
        };
    }

    pub(super) fn get(&self, room: &str) -> Option<Arc<dyn GuestDoor>> {
        let d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.get(room).cloned()
    }
}
