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
    /// Room threads running now.
    pub rooms_open: AtomicU64,
    /// Requests refused for their `Origin` or `Host`.
    pub refused_origin_or_host: AtomicU64,
    /// WebSocket upgrades refused for their room: unknown (not created by a host or admin),
    /// too many rooms running, or the room full.
    pub refused_rooms: AtomicU64,
    /// Connections refused by a cap: per address or in all, handshakes or WebSockets.
    pub refused_caps: AtomicU64,
    /// Connections closed because a request head did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Co-stream guest requests relayed to a hosted room's host.
    pub guest_relayed: AtomicU64,
    /// Of those, the ones the host did not answer in time (`504`).
    pub guest_relay_timeouts: AtomicU64,
}
