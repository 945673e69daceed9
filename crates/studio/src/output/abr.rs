//! Adaptive bitrate: a sans-IO controller that turns the primary destination's send
//! queue delay and measured throughput into a target bitrate for the encoder.
//!
//! The rule (see docs/how-a-frame-travels.md, "Adaptive bitrate"):
//! - **Fast decrease.** When the queue delay exceeds [`AbrConfig::congested_delay`], or has
//!   grown for [`AbrConfig::growth_samples`] samples in a row while above
//!   [`AbrConfig::rising_floor`], the target drops to [`AbrConfig::backoff`] of the measured
//!   throughput (the rate the link demonstrably carries), at most once per
//!   [`AbrConfig::decrease_hold`] so the queue has time to drain before we judge again.
//!   The drop also pays off what is already queued within [`AbrConfig::drain_within`]
//!   (queue delay × the target it was encoded at, spread over that time), and no further decrease is judged
//!   before that time is up (a writer that sent nothing for a second is judged by its queue's
//!   media span, which still grows while the older, larger frames wait). Once the queue is quiet again the target returns
//!   at once to the backed-off throughput (the drain was a loan, not the link's rate).
//! - **Slow increase.** After [`AbrConfig::stable_for`] without congestion the target climbs
//!   by [`AbrConfig::step_up`] of itself each [`AbrConfig::step_every`], up to the user's
//!   maximum; a step that built a queue (still under the thresholds) is not followed by
//!   another. The
//!   gap between the congestion threshold and the "quiet" threshold is the hysteresis: delays
//!   between the two neither lower nor raise the rate, and any congestion restarts the wait.
//! - **Hysteresis.** A probe that congests the link doubles the quiet wait before the next
//!   probe, so a link just under a step does not see-saw every few seconds.
//! - **Outage.** While disconnected no decision is made; on reconnect the target resumes at
//!   [`AbrConfig::resume_fraction`] of the rate before the outage (the path after an outage,
//!   another Wi-Fi or cell, is unknown and the reconnect backlog must drain), then probes up.
//!   "The rate before" is what the link is known to carry — the rate its last congestion
//!   measured, raised by every target it then carried with a quiet queue — not a resumed rate
//!   that had no time to climb: an ingest that restarts again and again does not ratchet the
//!   stream down to the floor.

use std::time::Duration;

/// Queue growth since the last probe step that stops the next one (sampling noise stays
/// under it).
const STEP_GROWTH: Duration = Duration::from_millis(60);

/// How long the queue stays quiet before a decrease's loan is repaid.
const DRAINED_FOR: Duration = Duration::from_secs(1);

/// Why the target changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbrReason {
    /// The send queue delay crossed the congestion threshold.
    QueueHigh,
    /// The send queue delay kept growing for several samples.
    QueueGrowing,
    /// Back online after an outage: resumed at a fraction of the old rate.
    Resumed,
    /// The queue drained after a decrease: back to what the link carried.
    Drained,
    /// The link has been quiet long enough: probing a higher rate.
    Probing,
}

/// One target change, for the encoder and the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AbrChange {
    pub kbps: u32,
    pub reason: AbrReason,
}

/// Bounds and constants of the rule; [`AbrConfig::new`] fills the tuned defaults.
#[derive(Debug, Clone, Copy)]
pub struct AbrConfig {
    /// The lowest target (the user's minimum).
    pub min_kbps: u32,
    /// The highest target and the starting point (the user's chosen bitrate).
    pub max_kbps: u32,
    /// Queue delay above which the link is congested, whatever the trend.
    pub congested_delay: Duration,
    /// Queue delay under which a sample counts as quiet (towards probing up).
    pub quiet_delay: Duration,
    /// A growing queue only counts once it holds at least this much.
    pub rising_floor: Duration,
    /// Consecutive growing samples that mean congestion.
    pub growth_samples: u32,
    /// Fraction of the measured throughput the target drops to.
    pub backoff: f64,
    /// Minimum time between two decreases (lets the queue drain first).
    pub decrease_hold: Duration,
    /// A decrease leaves room to send what is already queued within this time.
    pub drain_within: Duration,
    /// Quiet time before the first step up.
    pub stable_for: Duration,
    /// Increase per step, a fraction of the current target (at least 50 kbit/s): gentle
    /// near a narrow link, quick enough to climb back from a quarter in under half a minute.
    pub step_up: f64,
    /// Time between steps up.
    pub step_every: Duration,
    /// Fraction of the pre-outage target to resume at after a reconnect.
    pub resume_fraction: f64,
    /// How often the controller wants a sample.
    pub sample_every: Duration,
}

impl AbrConfig {
    /// The tuned defaults for a `[min, max]` range; `max` is also where it starts.
    pub fn new(min_kbps: u32, max_kbps: u32) -> Self {
        let max_kbps = max_kbps.max(1);
        Self {
            min_kbps: min_kbps.clamp(1, max_kbps),
            max_kbps,
            congested_delay: Duration::from_millis(700),
            quiet_delay: Duration::from_millis(200),
            rising_floor: Duration::from_millis(250),
            growth_samples: 3,
            backoff: 0.85,
            decrease_hold: Duration::from_millis(1500),
            drain_within: Duration::from_secs(3),
            stable_for: Duration::from_secs(4),
            // 12 % a step: from a quarter back to the top in ~12 steps (≈ 4 s + 12 × 2 s).
            step_up: 0.12,
            step_every: Duration::from_secs(2),
            resume_fraction: 0.5,
            sample_every: Duration::from_millis(250),
        }
    }
}

/// One observation of the primary destination at time `at` (any monotonic origin).
#[derive(Debug, Clone, Copy)]
pub struct AbrSample {
    pub at: Duration,
    /// Media time waiting in the send queue.
    pub queue_delay: Duration,
    /// Bytes actually written to the socket over the last interval, in kbit/s.
    pub throughput_kbps: u32,
    /// False while the destination is reconnecting.
    pub connected: bool,
}

/// The controller. Feed it [`AbrSample`]s no more often than [`Abr::next_sample_at`].
#[derive(Debug, Clone)]
pub struct Abr {
    cfg: AbrConfig,
    target: u32,
    /// The last change was a probe step (a congestion right after it means it overshot).
    probed: bool,
    /// The wait before the next probe is doubled (a probe overshot).
    cautious: bool,
    last_delay: Option<Duration>,
    growing: u32,
    last_decrease: Option<Duration>,
    /// How long after the last decrease the next may come.
    hold: Duration,
    /// Where the target goes once the queue has drained after a decrease.
    restore_to: Option<u32>,
    /// Start of the current quiet stretch.
    quiet_since: Option<Duration>,
    last_step: Option<Duration>,
    /// The queue delay when the last probe step was taken: a queue that has grown since
    /// means the probe went past the link, so no further step is taken on top of it.
    delay_at_step: Option<Duration>,
    was_connected: bool,
    /// What the link is known to carry (0: nothing yet): set by a congestion (the backed-off
    /// throughput it measured), raised by any target carried with a quiet queue; an outage
    /// leaves it.
    link_carries: u32,
    /// The destination has been connected once (waiting for the first connection is not an
    /// outage).
    seen_connected: bool,
    /// Throughput of the last second's samples (the link's demonstrated rate is their median).
    recent: std::collections::VecDeque<u32>,
    next_at: Duration,
}

impl Abr {
    pub fn new(cfg: AbrConfig) -> Self {
        Self {
            target: cfg.max_kbps,
            cfg,
            probed: false,
            cautious: false,
            last_delay: None,
            growing: 0,
            last_decrease: None,
            hold: cfg.decrease_hold,
            restore_to: None,
            quiet_since: None,
            last_step: None,
            delay_at_step: None,
            was_connected: true,
            link_carries: 0,
            seen_connected: false,
            recent: std::collections::VecDeque::new(),
            next_at: Duration::ZERO,
        }
    }

    /// The current target bitrate.
    pub fn target_kbps(&self) -> u32 {
        self.target
    }

    /// When the controller next wants a sample.
    pub fn next_sample_at(&self) -> Duration {
        self.next_at
    }

    /// Takes one sample; returns the new target if it changed.
    pub fn on_sample(&mut self, s: AbrSample) -> Option<AbrChange> {
        self.next_at = s.at + self.cfg.sample_every;
        if !s.connected && !self.seen_connected {
            return None;
        }
        self.seen_connected = true;
        if !s.connected {
            self.recent.clear();
            self.was_connected = false;
            self.last_delay = None;
            self.growing = 0;
            self.quiet_since = None;
            self.restore_to = None;
            return None;
        }
        if !self.was_connected {
            self.was_connected = true;
            self.quiet_since = Some(s.at);
            self.last_step = None;
            self.delay_at_step = None;
            self.probed = false;
            let before = self.target.max(self.link_carries);
            let resume = (before as f64 * self.cfg.resume_fraction) as u32;
            return self.set(resume.max(self.cfg.min_kbps), AbrReason::Resumed);
        }

        self.recent.push_back(s.throughput_kbps);
        let window = (Duration::from_secs(1).as_millis() / self.cfg.sample_every.as_millis().max(1))
            as usize;
        while self.recent.len() > window.max(1) {
            self.recent.pop_front();
        }
        let carried_kbps = {
            let mut r: Vec<u32> = self.recent.iter().copied().collect();
            r.sort_unstable();
            r[r.len() / 2]
        };
        let grew = self.last_delay.is_some_and(|d| s.queue_delay > d);
        self.last_delay = Some(s.queue_delay);
        self.growing = if grew && s.queue_delay >= self.cfg.rising_floor {
            self.growing + 1
        } else {
            0
        };
        let reason = if s.queue_delay > self.cfg.congested_delay {
            Some(AbrReason::QueueHigh)
        } else if self.growing >= self.cfg.growth_samples {
            Some(AbrReason::QueueGrowing)
        } else {
            None
        };

        if let Some(reason) = reason {
            self.quiet_since = None;
            self.last_step = None;
            self.delay_at_step = None;
            let held = self.last_decrease.is_some_and(|t| s.at < t + self.hold);
            if held || carried_kbps == 0 {
                return None;
            }
            let carried = carried_kbps as f64 * self.cfg.backoff;
            // What waits was encoded at the target until now.
            let backlog_kbit = s.queue_delay.as_secs_f64() * self.target as f64;
            let drain = backlog_kbit / self.cfg.drain_within.as_secs_f64().max(0.001);
            let bound = |k: f64| (k as u32).clamp(self.cfg.min_kbps, self.cfg.max_kbps);
            let new = bound(carried - drain);
            self.cautious = self.probed;
            self.probed = false;
            self.last_decrease = Some(s.at);
            self.link_carries = bound(carried);
            self.hold = if drain > 0.0 {
                self.cfg.decrease_hold.max(self.cfg.drain_within)
            } else {
                self.cfg.decrease_hold
            };
            self.growing = 0;
            if new < self.target {
                self.restore_to = Some(bound(carried)).filter(|&r| r > new);
                return self.set(new, reason);
            }
            return None;
        }

        if s.queue_delay > self.cfg.quiet_delay {
            // Between the thresholds: hold the rate and restart the quiet wait.
            self.quiet_since = None;
            return None;
        }
        let since = *self.quiet_since.get_or_insert(s.at);
        let drained = s.at >= since + DRAINED_FOR;
        if drained {
            self.link_carries = self.link_carries.max(self.target);
        }
        if let Some(to) = (self.restore_to)
            .filter(|&to| drained && to > self.target)
            .and_then(|_| self.restore_to.take())
        {
            // The probe that follows waits as after any step.
            self.quiet_since = Some(s.at);
            self.last_step = Some(s.at);
            self.delay_at_step = Some(s.queue_delay);
            return self.set(to, AbrReason::Drained);
        }
        let wait = if self.cautious {
            self.cfg.stable_for * 2
        } else {
            self.cfg.stable_for
        };
        if self.target >= self.cfg.max_kbps || s.at < since + wait {
            return None;
        }
        if self
            .last_step
            .is_some_and(|t| s.at < t + self.cfg.step_every)
        {
            return None;
        }
        if self
            .delay_at_step
            .is_some_and(|d| s.queue_delay > d + STEP_GROWTH)
        {
            // The last step is building a queue, still under the thresholds: hold there
            // (the next congestion, if it comes, backs off from the measured throughput).
            self.quiet_since = Some(s.at);
            self.cautious = true;
            self.delay_at_step = Some(s.queue_delay);
            return None;
        }
        self.last_step = Some(s.at);
        self.delay_at_step = Some(s.queue_delay);
        self.cautious = false;
        self.probed = true;
        let step = ((self.target as f64 * self.cfg.step_up) as u32).max(50);
        let new = (self.target + step).min(self.cfg.max_kbps);
        self.set(new, AbrReason::Probing)
    }

    fn set(&mut self, kbps: u32, reason: AbrReason) -> Option<AbrChange> {
        if kbps == self.target {
            return None;
        }
        self.target = kbps;
        Some(AbrChange { kbps, reason })
    }
}

#[cfg(test)]
#[path = "abr_tests.rs"]
mod tests;
