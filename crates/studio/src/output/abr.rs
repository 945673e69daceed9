//! Adaptive bitrate: a sans-IO controller that turns the primary destination's send
//! queue delay and measured throughput into a target bitrate for the encoder.
//!
//! The rule (see docs/how-a-frame-travels.md, "Adaptive bitrate"):
//! - **Fast decrease.** When the queue delay exceeds [`AbrConfig::congested_delay`], or has
//!   grown for [`AbrConfig::growth_samples`] samples in a row while above
//!   [`AbrConfig::rising_floor`], the target drops to [`AbrConfig::backoff`] of the measured
//!   throughput (the rate the link demonstrably carries), at most once per
//!   [`AbrConfig::decrease_hold`] so the queue has time to drain before we judge again.
//! - **Slow increase.** After [`AbrConfig::stable_for`] without congestion the target climbs
//!   by [`AbrConfig::step_up`] each [`AbrConfig::step_every`], up to the user's maximum. The
//!   gap between the congestion threshold and the "quiet" threshold is the hysteresis: delays
//!   between the two neither lower nor raise the rate, and any congestion restarts the wait.
//! - **Hysteresis.** A probe that congests the link doubles the quiet wait before the next
//!   probe, so a link just under a step does not see-saw every few seconds.
//! - **Outage.** While disconnected no decision is made; on reconnect the target resumes at
//!   [`AbrConfig::resume_fraction`] of the rate before the outage (the path after an outage,
//!   another Wi-Fi or cell, is unknown and the reconnect backlog must drain), then probes up.

use std::time::Duration;

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
    /// Quiet time before the first step up.
    pub stable_for: Duration,
    /// Additive increase per step.
    pub step_up: u32,
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
            stable_for: Duration::from_secs(4),
            // ~1/8 of the range a step: a full climb takes ~8 steps (≈ 4 s + 8 × 2 s).
            step_up: ((max_kbps - min_kbps.min(max_kbps)) / 8).max(50),
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
    /// Start of the current quiet stretch.
    quiet_since: Option<Duration>,
    last_step: Option<Duration>,
    was_connected: bool,
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
            quiet_since: None,
            last_step: None,
            was_connected: true,
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
        if !s.connected {
            self.was_connected = false;
            self.last_delay = None;
            self.growing = 0;
            self.quiet_since = None;
            return None;
        }
        if !self.was_connected {
            self.was_connected = true;
            self.quiet_since = Some(s.at);
            self.last_step = None;
            self.probed = false;
            let resume = (self.target as f64 * self.cfg.resume_fraction) as u32;
            return self.set(resume.max(self.cfg.min_kbps), AbrReason::Resumed);
        }

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
            let held = self
                .last_decrease
                .is_some_and(|t| s.at < t + self.cfg.decrease_hold);
            if held || s.throughput_kbps == 0 {
                return None;
            }
            let carried = (s.throughput_kbps as f64 * self.cfg.backoff) as u32;
            let new = carried.clamp(self.cfg.min_kbps, self.cfg.max_kbps);
            self.cautious = self.probed;
            self.probed = false;
            self.last_decrease = Some(s.at);
            self.growing = 0;
            if new < self.target {
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
        self.last_step = Some(s.at);
        self.cautious = false;
        self.probed = true;
        let new = (self.target + self.cfg.step_up).min(self.cfg.max_kbps);
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
