//! Sans-IO broadcast coalescing: when a room's queued broadcast frames go out together.
//!
//! Sending every broadcast to every subscriber at once costs one queue push, one task wake-up
//! and one `send(2)` per subscriber per message; at 5,000 subscribers × 200 msg/s that is a
//! million of each per second, and it was where the server's time went. Instead broadcasts wait
//! in one shared list and go out together, at most once per `window`:
//!
//! * the first broadcast after a quiet `window` is due at once (no added latency when the room
//!   is calm);
//! * after a flush, later broadcasts wait until `window` has passed since that flush, so a busy
//!   room flushes at most `1 / window` times per second whatever its message rate;
//! * a batch that reaches `max_frames` or `max_bytes` is due at once (bounded memory, bounded
//!   frame size);
//! * a big room flushes less often: each flush costs one socket write per subscriber (at 5,000
//!   subscribers, even coalesced, half of the server's time is under `send(2)`), so the window
//!   grows to keep a room near `writes_per_s` socket writes a second, up to `max_window`.
//!
//! The default budget is 250,000 writes a second: 20 ms up to 5,000 subscribers, longer above.
//! It was 150,000 (33 ms at 5,000) while each write also cost a channel push and a task wake-up;
//! since the room thread writes the sockets itself ([`crate::out`]) a flush is cheaper, and at
//! 5,000 × 200 msg/s the 20 ms window gave the lower p99 in 7 of 7 back-to-back pairs
//! (docs/benchmarks.md): p99 is about one window plus the time to walk the sockets.
//!
//! Time comes in as an argument; nothing here sleeps or reads a clock.

use std::time::{Duration, Instant};

/// Coalescing limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoalesceConfig {
    /// Shortest time between two flushes. Zero sends every broadcast at once.
    pub window: Duration,
    /// Socket writes per second a room's flushes aim at: the window is at least
    /// `subscribers / writes_per_s`.
    pub writes_per_s: u32,
    /// Longest window, whatever the room's size.
    pub max_window: Duration,
    /// A batch with this many frames is due at once.
    pub max_frames: usize,
    /// A batch with this many bytes is due at once.
    pub max_bytes: usize,
}

impl Default for CoalesceConfig {
    fn default() -> Self {
        CoalesceConfig {
            window: Duration::from_millis(20),
            writes_per_s: 250_000,
            max_window: Duration::from_millis(100),
            max_frames: 256,
            max_bytes: 256 * 1024,
        }
    }
}

/// Frames waiting to be broadcast together.
#[derive(Debug)]
pub struct Coalescer<F> {
    cfg: CoalesceConfig,
    /// The current window (grows with the subscriber count).
    window: Duration,
    pending: Vec<F>,
    bytes: usize,
    last_flush: Option<Instant>,
}

impl<F> Coalescer<F> {
    pub fn new(cfg: CoalesceConfig) -> Self {
        Coalescer {
            window: cfg.window,
            cfg,
            pending: Vec::new(),
            bytes: 0,
            last_flush: None,
        }
    }

    /// The room has `n` subscribers now.
    pub fn set_subscribers(&mut self, n: usize) {
        if self.cfg.window.is_zero() {
            return;
        }
        let per_write = Duration::from_secs(1) / self.cfg.writes_per_s.max(1);
        let by_size = per_write.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        self.window = by_size.clamp(self.cfg.window, self.cfg.max_window.max(self.cfg.window));
    }

    /// Shortest time between two flushes now.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Queue a frame of `len` bytes.
    pub fn push(&mut self, frame: F, len: usize) {
        self.pending.push(frame);
        self.bytes = self.bytes.saturating_add(len);
    }

    /// Frames waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn full(&self) -> bool {
        self.pending.len() >= self.cfg.max_frames || self.bytes >= self.cfg.max_bytes
    }

    /// When the waiting frames are due (`now` if they already are); `None` when nothing waits.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        if self.due(now) {
            return Some(now);
        }
        let last = self.last_flush?;
        (!self.pending.is_empty()).then(|| last + self.window)
    }

    /// Whether the waiting frames are due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        !self.pending.is_empty()
            && (self.full()
                || self
                    .last_flush
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.window))
    }

    /// Take the waiting frames if they are due at `now` (they are then flushed at `now`).
    pub fn poll(&mut self, now: Instant) -> Option<Vec<F>> {
        if self.due(now) {
            Some(self.take(now))
        } else {
            None
        }
    }

    /// Take the waiting frames regardless of the window (before a close, or at shutdown).
    pub fn take(&mut self, now: Instant) -> Vec<F> {
        if !self.pending.is_empty() {
            self.last_flush = Some(now);
        }
        self.bytes = 0;
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ms: u64) -> CoalesceConfig {
        CoalesceConfig {
            window: Duration::from_millis(ms),
            writes_per_s: 100_000,
            max_window: Duration::from_millis(100),
            max_frames: 4,
            max_bytes: 1000,
        }
    }

    #[test]
    fn a_broadcast_in_a_quiet_room_is_due_at_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(cfg(20));
        assert!(!c.due(t0));
        assert_eq!(c.deadline(t0), None);
        c.push("a", 1);
        assert_eq!(c.poll(t0), Some(vec!["a"]));
        // Quiet for a window: the next one goes at once too.
        c.push("b", 1);
        assert_eq!(c.poll(t0 + Duration::from_millis(25)), Some(vec!["b"]));
    }

    #[test]
    fn broadcasts_after_a_flush_wait_for_the_window_and_go_together() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(cfg(20));
        c.push("a", 1);
        assert!(c.poll(t0).is_some());
        c.push("b", 1);
        c.push("c", 1);
        assert_eq!(c.poll(t0 + Duration::from_millis(5)), None);
        let t5 = t0 + Duration::from_millis(5);
        assert_eq!(c.deadline(t5), Some(t0 + Duration::from_millis(20)));
        assert_eq!(c.poll(t0 + Duration::from_millis(20)), Some(vec!["b", "c"]));
        assert_eq!(c.pending(), 0);
        assert_eq!(c.deadline(t5), None);
    }

    #[test]
    fn a_full_batch_is_due_before_the_window_ends() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(cfg(20));
        c.push(0, 1);
        assert!(c.poll(t0).is_some());
        let t1 = t0 + Duration::from_millis(1);
        for i in 1..4 {
            c.push(i, 1);
            assert_eq!(c.poll(t1), None);
        }
        c.push(4, 1);
        assert_eq!(c.deadline(t1), Some(t1));
        assert_eq!(c.poll(t1), Some(vec![1, 2, 3, 4]));
        // By bytes as well.
        c.push(5, 999);
        assert_eq!(c.poll(t1), None);
        c.push(6, 1);
        assert_eq!(c.poll(t1), Some(vec![5, 6]));
    }

    #[test]
    fn a_zero_window_sends_every_broadcast_at_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(cfg(0));
        for i in 0..10 {
            c.push(i, 1);
            assert_eq!(c.poll(t0), Some(vec![i]));
        }
    }

    #[test]
    fn a_big_room_flushes_less_often_up_to_the_longest_window() {
        let mut c = Coalescer::<u8>::new(cfg(20));
        for (subs, ms) in [
            (0, 20),
            (1_000, 20),
            (5_000, 50),
            (8_000, 80),
            (50_000, 100),
        ] {
            c.set_subscribers(subs);
            assert_eq!(c.window(), Duration::from_millis(ms), "{subs}");
        }
        let t0 = Instant::now();
        c.set_subscribers(5_000);
        c.push(1, 1);
        assert!(c.poll(t0).is_some());
        c.push(2, 1);
        assert_eq!(c.poll(t0 + Duration::from_millis(30)), None);
        assert_eq!(c.poll(t0 + Duration::from_millis(50)), Some(vec![2]));
        // A zero window stays zero.
        let mut z = Coalescer::<u8>::new(cfg(0));
        z.set_subscribers(50_000);
        assert_eq!(z.window(), Duration::ZERO);
    }
}
