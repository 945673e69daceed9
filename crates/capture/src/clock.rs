//! The one monotonic session clock every frame and sample is stamped with.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Session time starts at zero when the session starts; capture stamps, video PTS
/// and audio PTS all live on this one line, which is what keeps A/V together.
///
/// A clock can be made before it starts: devices are opened first (a camera or a
/// microphone can take a second), and zero is when everything is ready, so the stream
/// does not begin with the time devices took to open. Before the start, `now()` is zero.
#[derive(Debug, Clone)]
pub struct SessionClock {
    origin: Arc<OnceLock<Instant>>,
}

impl SessionClock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        let c = Self::unstarted();
        c.start_now();
        c
    }

    /// A clock that reads zero until [`start_now`](Self::start_now).
    pub fn unstarted() -> Self {
        Self {
            origin: Arc::new(OnceLock::new()),
        }
    }

    /// Sets zero to now (only the first call counts).
    pub fn start_now(&self) {
        if self.origin.set(Instant::now()).is_ok() {
            // Two processes' session times compared on one machine (a co-stream guest's frame
            // codes against the host's program, benchmarks) need each zero on a shared clock.
            let unix_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
            tracing::debug!("session clock zero at unix {unix_ms:.3} ms");
        }
    }

    pub fn is_started(&self) -> bool {
        self.origin.get().is_some()
    }

    /// Time since the session started (zero before).
    pub fn now(&self) -> Duration {
        self.origin.get().map(|o| o.elapsed()).unwrap_or_default()
    }

    /// Session time of an instant (zero if it is before the start).
    pub fn since_start(&self, at: Instant) -> Duration {
        self.origin
            .get()
            .map(|o| at.saturating_duration_since(*o))
            .unwrap_or_default()
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
