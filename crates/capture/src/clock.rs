//! The one monotonic session clock every frame and sample is stamped with.

use std::time::{Duration, Instant};

/// Session time starts at zero when the session starts; capture stamps, video PTS
/// and audio PTS all live on this one line, which is what keeps A/V together.
#[derive(Debug, Clone, Copy)]
pub struct SessionClock {
    origin: Instant,
}

impl SessionClock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// Time since the session started.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The wall instant of a session time, for sleeping until a deadline.
    pub fn instant_at(&self, t: Duration) -> Instant {
        self.origin + t
    }

    /// Session time of an instant (zero if it is before the start).
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.origin)
    }

    /// Sleep until session time `t`, waking early when `stop` becomes true.
    /// Returns false if stopped. Sleeps in short slices so a stop is seen quickly.
    pub fn sleep_until(&self, t: Duration, stop: &std::sync::atomic::AtomicBool) -> bool {
        use std::sync::atomic::Ordering;
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = self.now();
            if now >= t {
                return true;
            }
            std::thread::sleep((t - now).min(Duration::from_millis(50)));
        }
    }
}
