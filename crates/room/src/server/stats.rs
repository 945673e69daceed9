//! The server's counters (`/api/stats`).

use serde::Serialize;
use std::sync::atomic::AtomicU64;

/// Counters, readable at `/api/stats`.
#[derive(Debug, Default, Serialize)]
pub struct ServerStats {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub frames_in: AtomicU64,
    /// Frames from sockets dropped because a room's input queue was full.
    pub dropped_in: AtomicU64,
    /// Frames to sockets dropped because a connection's queue was full.
    pub dropped_out: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub storage_errors: AtomicU64,
    /// Room threads started (a room reopens after it stopped idle or on a storage failure).
    pub rooms_opened: AtomicU64,
}
