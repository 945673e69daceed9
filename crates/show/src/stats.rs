//! Rates over a stats interval (frames, CPU, each output's bitrate) from two of the engine's
//! cumulative snapshots: what the CLI's status line and the app's stats panel both show.

use marquee_studio::StatsSnapshot;
use marquee_studio::stats::OutputSnapshot;
use std::time::Duration;

/// One output's bitrate over the interval.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRate {
    /// Redacted URL or the recording's path.
    pub name: String,
    pub kbps: f64,
}

/// The engine's counters now, and what they mean per second over the last interval.
#[derive(Debug, Clone)]
pub struct ShowStats {
    /// Cumulative counters as of now.
    pub now: StatsSnapshot,
    /// Frames per second out of the compositor.
    pub fps: f64,
    /// Process CPU, % of one core.
    pub cpu_percent: f64,
    /// In the order of `now.destinations`.
    pub destinations: Vec<OutputRate>,
    pub recording: Option<OutputRate>,
    /// Each remote camera's bitrate as received (`name` is its source id), in the order of
    /// `now.remote`.
    pub remote: Vec<OutputRate>,
    /// Director mode on or off, when the show can direct (some camera has a microphone).
    pub director: Option<bool>,
}

impl ShowStats {
    /// The rates between `prev` (taken `dt` earlier; `None` for the first tick: rates are 0)
    /// and `now`.
    pub fn between(prev: Option<&StatsSnapshot>, now: StatsSnapshot, dt: Duration) -> Self {
        let secs = dt.as_secs_f64().max(1e-3);
        let rate = |o: &OutputSnapshot, before: Option<&OutputSnapshot>| OutputRate {
            name: o.url.clone(),
            kbps: before.map_or(0.0, |b| {
                o.bytes.saturating_sub(b.bytes) as f64 * 8.0 / 1000.0 / secs
            }),
        };
        let destinations = now
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| rate(d, prev.and_then(|p| p.destinations.get(i))))
            .collect();
        let recording = now
            .recording
            .as_ref()
            .map(|r| rate(r, prev.and_then(|p| p.recording.as_ref())));
        let remote = (now.remote.iter())
            .map(|r| {
                let before = prev.and_then(|p| p.remote.iter().find(|b| b.id == r.id));
                OutputRate {
                    name: r.id.clone(),
                    kbps: before.map_or(0.0, |b| {
                        r.bytes.saturating_sub(b.bytes) as f64 * 8.0 / 1000.0 / secs
                    }),
                }
            })
            .collect();
        let fps = prev.map_or(0.0, |p| {
            now.video.frames.saturating_sub(p.video.frames) as f64 / secs
        });
        let cpu_percent = prev.map_or(0.0, |p| (now.cpu_s - p.cpu_s).max(0.0) / secs * 100.0);
        Self {
            now,
            fps,
            cpu_percent,
            destinations,
            recording,
            remote,
            director: None,
        }
    }
}

/// Takes a snapshot and turns it into rates against the previous one; one per show.
#[derive(Debug, Default)]
pub struct StatsClock {
    prev: Option<(std::time::Instant, StatsSnapshot)>,
}

impl StatsClock {
    pub fn tick(&mut self, now: StatsSnapshot) -> ShowStats {
        let t = std::time::Instant::now();
        let dt = self
            .prev
            .as_ref()
            .map_or(Duration::from_secs(1), |(p, _)| t - *p);
        let stats = ShowStats::between(self.prev.as_ref().map(|(_, s)| s), now.clone(), dt);
        self.prev = Some((t, now));
        stats
    }
}
