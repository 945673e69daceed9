//! Which rooms' leases this node holds, and under which epoch: written by the lease keeper,
//! read by every store's transaction (which then checks the same epoch in Postgres).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Lease epochs held by this node, by room. Clones share one table.
#[derive(Debug, Clone, Default)]
pub struct Fences {
    held: Arc<Mutex<HashMap<String, u64>>>,
}

impl Fences {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This node holds `room`'s lease under `epoch`.
    pub fn hold(&self, room: &str, epoch: u64) {
        self.lock().insert(room.to_string(), epoch);
    }

    /// This node no longer holds `room`'s lease.
    pub fn drop_room(&self, room: &str) {
        self.lock().remove(room);
    }

    /// The epoch under which this node holds `room`'s lease, if it does.
    pub fn held(&self, room: &str) -> Option<u64> {
        self.lock().get(room).copied()
    }
}
