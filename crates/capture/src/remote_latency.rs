//! How far behind its sender a network camera's pictures are, from what the receiver alone
//! can see (the sender's clock is not ours).
//!
//! Estimate = the transport's latency window (SRT holds every packet until its send time +
//! the window; RTMP has none) + the backlog (how much later than the best case this picture
//! arrived: its arrival minus its stream timestamp, less the least of that over the last
//! minute, so a queue building up over TCP or a stalled Wi-Fi shows) + our receive path
//! (packet read → picture ready). Not in it: the sender's own encoder and, over SRT, the
//! one-way network delay at the handshake. The minimum is taken over a minute, not the whole
//! connection: a phone's clock drifts from ours by up to ~100 ppm, 6 ms a minute.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// The best case is the least offset over this long.
const MIN_WINDOW_S: f64 = 60.0;
/// Offsets kept for the sliding minimum at most (a minute of 60 fps is 3,600).
const MAX_KEPT: usize = 4096;

/// What a remote camera measures as it receives, shared with the stats.
#[derive(Debug)]
pub struct RemoteMeter {
    /// Media bytes received from senders (every track's packets, without the container).
    pub bytes: AtomicU64,
    /// The latest latency estimate, µs; `u64::MAX` while no sender is on.
    latency_us: AtomicU64,
    /// The last estimate made while a sender was on (for the summary); `u64::MAX`: none yet.
    last_us: AtomicU64,
}

impl Default for RemoteMeter {
    fn default() -> Self {
        Self {
            bytes: AtomicU64::new(0),
            latency_us: AtomicU64::new(u64::MAX),
            last_us: AtomicU64::new(u64::MAX),
        }
    }
}

fn ms_of(us: u64) -> Option<f64> {
    (us != u64::MAX).then(|| us as f64 / 1000.0)
}

impl RemoteMeter {
    /// The latest estimate in milliseconds, while a sender is on.
    pub fn latency_ms(&self) -> Option<f64> {
        ms_of(self.latency_us.load(Ordering::Relaxed))
    }

    /// The last estimate made while a sender was on, even if it has left since.
    pub fn last_latency_ms(&self) -> Option<f64> {
        ms_of(self.last_us.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency_ms(&self, ms: Option<f64>) {
        let us = ms.map_or(u64::MAX, |ms| (ms.max(0.0) * 1000.0) as u64);
        self.latency_us.store(us, Ordering::Relaxed);
        if us != u64::MAX {
            self.last_us.store(us, Ordering::Relaxed);
        }
    }
}

/// The least of a value over a sliding time window (sans-IO): a sender's best transit,
/// which a drifting clock or a changed route makes stale after a while.
#[derive(Debug)]
pub struct SlidingMin {
    window_s: f64,
    /// (time s, value), values increasing: the front is the least in the window.
    kept: VecDeque<(f64, f64)>,
}

impl SlidingMin {
    pub fn new(window_s: f64) -> Self {
        Self {
            window_s,
            kept: VecDeque::new(),
        }
    }

    /// Adds `value` seen at `at_s` (times never go back); returns the least in the window.
    pub fn push(&mut self, at_s: f64, value: f64) -> f64 {
        while self.kept.back().is_some_and(|&(_, v)| v >= value) {
            self.kept.pop_back();
        }
        if self.kept.len() == MAX_KEPT {
            self.kept.pop_front();
        }
        self.kept.push_back((at_s, value));
        while self
            .kept
            .front()
            .is_some_and(|&(t, _)| t < at_s - self.window_s)
        {
            self.kept.pop_front();
        }
        self.kept.front().map_or(value, |&(_, v)| v)
    }
}

/// The estimate for one sender's connection (sans-IO: times in, milliseconds out).
#[derive(Debug)]
pub struct LatencyGauge {
    window_ms: f64,
    least: SlidingMin,
}

impl LatencyGauge {
    /// A gauge for a transport holding packets `window_ms` (SRT's latency; 0 for RTMP).
    pub fn new(window_ms: u64) -> Self {
        Self {
            window_ms: window_ms as f64,
            least: SlidingMin::new(MIN_WINDOW_S),
        }
    }

    /// A picture: when its packet was read and when it was ready (receiver seconds), and its
    /// timestamp in the sender's stream (seconds). Returns the estimate in milliseconds.
    pub fn picture(&mut self, read_s: f64, stream_s: f64, ready_s: f64) -> f64 {
        let offset = read_s - stream_s;
        let best = self.least.push(read_s, offset);
        self.window_ms + (offset - best) * 1000.0 + (ready_s - read_s).max(0.0) * 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 fps pictures arriving `delay(i)` s after their time, ready 4 ms after arrival.
    fn run(g: &mut LatencyGauge, from: u32, to: u32, delay: impl Fn(u32) -> f64) -> Vec<f64> {
        (from..to)
            .map(|i| {
                let t = f64::from(i) / 30.0;
                let read = 1000.0 + t + delay(i);
                g.picture(read, t, read + 0.004)
            })
            .collect()
    }

    #[test]
    fn a_steady_srt_sender_is_its_window_plus_the_receive_path() {
        let mut g = LatencyGauge::new(120);
        let est = run(&mut g, 0, 300, |_| 0.05);
        assert!(est.iter().all(|e| (e - 124.0).abs() < 0.01), "{est:?}");
    }

    #[test]
    fn a_queue_building_up_shows_as_it_grows_and_goes_when_it_drains() {
        let mut g = LatencyGauge::new(0);
        run(&mut g, 0, 60, |_| 0.02);
        // Two seconds in which each picture arrives 10 ms later than the one before.
        let grow = run(&mut g, 60, 120, |i| 0.02 + f64::from(i - 59) * 0.010);
        assert!((grow[59] - 604.0).abs() < 0.5, "{}", grow[59]);
        assert!(grow.windows(2).all(|w| w[1] > w[0]));
        let drained = run(&mut g, 120, 150, |_| 0.02);
        assert!((drained[29] - 4.0).abs() < 0.01, "{}", drained[29]);
    }

    #[test]
    fn the_best_case_is_forgotten_after_a_minute_so_clock_drift_does_not_add_up() {
        let mut g = LatencyGauge::new(0);
        // The sender's clock runs 100 ppm slow: each picture's offset grows 3.3 µs.
        let est = run(&mut g, 0, 30 * 600, |i| f64::from(i) / 30.0 * 100e-6);
        let last = est.last().copied().unwrap_or_default();
        assert!(
            last < 4.0 + 6.5,
            "ten minutes of drift reached the estimate: {last}"
        );
    }

    #[test]
    fn the_meter_says_nothing_without_a_sender_but_keeps_the_last_estimate() {
        let m = RemoteMeter::default();
        assert_eq!(m.latency_ms(), None);
        m.set_latency_ms(Some(159.25));
        assert_eq!(m.latency_ms(), Some(159.25));
        m.set_latency_ms(None);
        assert_eq!(m.latency_ms(), None);
        assert_eq!(
            m.last_latency_ms(),
            Some(159.25),
            "the summary keeps the last one"
        );
    }
}
