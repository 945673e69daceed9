//! The limits and knobs of a room.

use crate::protocol::GiftDef;

/// Limits and knobs of a room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub room: String,
    /// HMAC secret for tokens (at least 16 bytes).
    pub secret: Vec<u8>,
    pub catalog: Vec<GiftDef>,
    /// Frames above this get `too_large` and the connection is closed.
    pub max_frame_bytes: usize,
    /// The same for the host's frames (a relayed guest's SDP answer is several KiB).
    pub max_host_frame_bytes: usize,
    /// Longest danmaku, in characters.
    pub max_text_chars: usize,
    /// Events sent to a fresh joiner.
    pub history_on_join: usize,
    /// Events kept for resume; an older resume point is `not_recoverable`.
    pub resume_window: usize,
    /// Per-connection message rate (all message types) and burst.
    pub conn_rate_per_s: f64,
    pub conn_burst: f64,
    /// Rate-limit or bad-input strikes within 10 s before the connection is closed (`flood`).
    pub flood_strikes: u32,
    /// Per-user danmaku/question rate and burst (moderators exempt).
    pub user_rate_per_s: f64,
    pub user_burst: f64,
    /// Gifts per user (over all their connections): rate and burst.
    pub gift_rate_per_s: f64,
    pub gift_burst: f64,
    /// Repeated sends of one gift by one user within this window form a combo (display only).
    pub combo_window_ms: u64,
    /// Lifetime of a token issued to a nickname-only viewer.
    pub viewer_token_ttl_ms: u64,
    /// Nickname identities issued per client network (IPv4 address, IPv6 /64): refill rate and
    /// burst. Each new identity is one more vote in a poll, so a script opening fresh
    /// nickname connections is held to this rate; a viewer who keeps its token is not limited.
    pub nick_issue_rate_per_s: f64,
    pub nick_issue_burst: f64,
    /// Client networks tracked for that limit (bounded memory); beyond it new nicknames are
    /// refused until entries age out.
    pub max_tracked_networks: usize,
    /// A connection that has not said hello by then is closed.
    pub hello_timeout_ms: u64,
    pub max_lottery_entrants: usize,
    /// Seed of the room's random numbers (lottery seeds, viewer ids, epochs).
    pub rng_seed: u64,
}

impl RoomConfig {
    pub fn new(room: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        RoomConfig {
            room: room.into(),
            secret: secret.into(),
            catalog: crate::gifts::default_catalog(),
            max_frame_bytes: 4096,
            max_host_frame_bytes: 64 * 1024,
            max_text_chars: 100,
            history_on_join: 50,
            resume_window: 2048,
            conn_rate_per_s: 10.0,
            conn_burst: 30.0,
            flood_strikes: 20,
            user_rate_per_s: 1.0,
            user_burst: 5.0,
            gift_rate_per_s: 10.0,
            gift_burst: 20.0,
            combo_window_ms: 3_000,
            viewer_token_ttl_ms: 7 * 86_400_000,
            nick_issue_rate_per_s: 1.0 / 30.0,
            nick_issue_burst: 10.0,
            max_tracked_networks: 100_000,
            hello_timeout_ms: 10_000,
            max_lottery_entrants: 10_000,
            rng_seed: 0x5EED,
        }
    }
}
