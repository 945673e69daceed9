//! Director mode: put on air the camera whose microphone is loudest (the premiere case:
//! stage, backstage, fans, close-up). Sans-IO: levels and a time in, a decision out.
//!
//! It must not flap: a challenger takes over only when it is `margin_db` louder than the
//! camera on air, above `floor_db` (room noise never steals the shot), for `confirm` in a
//! row, and never before the camera on air has had `hold`. Levels are smoothed like a VU
//! meter first, so a clap or a cough does not count as talking.

use std::time::Duration;

/// Tuning; the defaults suit speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectorConfig {
    /// Minimum time a camera stays on air.
    pub hold: Duration,
    /// How much louder a challenger must be (hysteresis).
    pub margin_db: f32,
    /// Below this a microphone counts as silent.
    pub floor_db: f32,
    /// How long a challenger must stay ahead before the cut.
    pub confirm: Duration,
    /// Smoothing time constant of the levels.
    pub smoothing: Duration,
}

impl Default for DirectorConfig {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(3),
            margin_db: 6.0,
            floor_db: -45.0,
            confirm: Duration::from_millis(400),
            smoothing: Duration::from_millis(300),
        }
    }
}

/// The state machine. Inputs are indexed like the levels passed to [`Director::update`].
#[derive(Debug, Clone)]
pub struct Director {
    cfg: DirectorConfig,
    smoothed: Vec<f32>,
    last: Option<Duration>,
    on_air: Option<usize>,
    since: Duration,
    challenger: Option<(usize, Duration)>,
}

impl Director {
    pub fn new(cfg: DirectorConfig) -> Self {
        Self {
            cfg,
            smoothed: Vec::new(),
            last: None,
            on_air: None,
            since: Duration::ZERO,
            challenger: None,
        }
    }

    /// Tells the director what is on air now (a host's cut, or the start): the hold counts
    /// from here.
    pub fn on_air(&mut self, input: Option<usize>, now: Duration) {
        self.on_air = input;
        self.since = now;
        self.challenger = None;
    }

    /// The smoothed level of each input (dBFS), for meters and logs.
    pub fn levels(&self) -> &[f32] {
        &self.smoothed
    }

    /// New momentary levels (dBFS RMS per input) at `now`; returns the input to cut to.
    pub fn update(&mut self, now: Duration, levels_db: &[f32]) -> Option<usize> {
        let dt = self
            .last
            .map(|t| now.saturating_sub(t))
            .unwrap_or(Duration::ZERO);
        self.last = Some(now);
        if self.smoothed.len() != levels_db.len() {
            self.smoothed = levels_db.iter().map(|l| l.max(-120.0)).collect();
        } else {
            let a = 1.0 - (-dt.as_secs_f32() / self.cfg.smoothing.as_secs_f32().max(1e-3)).exp();
            for (s, l) in self.smoothed.iter_mut().zip(levels_db) {
                *s += (l.max(-120.0) - *s) * a;
            }
        }
        let (loudest, level) = self
            .smoothed
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        if level < self.cfg.floor_db {
            self.challenger = None;
            return None;
        }
        let current = match self.on_air {
            None => {
                // Nothing on air that the director knows: take the loudest at once.
                self.on_air(Some(loudest), now);
                return Some(loudest);
            }
            Some(c) => c,
        };
        let current_level = self.smoothed.get(current).copied().unwrap_or(-120.0);
        if loudest == current || level < current_level + self.cfg.margin_db {
            self.challenger = None;
            return None;
        }
        let since = match self.challenger {
            Some((c, t)) if c == loudest => t,
            _ => {
                self.challenger = Some((loudest, now));
                now
            }
        };
        if now.saturating_sub(since) >= self.cfg.confirm
            && now.saturating_sub(self.since) >= self.cfg.hold
        {
            self.on_air(Some(loudest), now);
            return Some(loudest);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_millis(20);

    /// Runs `d` for `secs` with fixed levels; returns (time, cut) decisions.
    fn run(d: &mut Director, from: Duration, secs: f32, levels: &[f32]) -> Vec<(Duration, usize)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < from + Duration::from_secs_f32(secs) {
            if let Some(i) = d.update(t, levels) {
                out.push((t, i));
            }
            t += STEP;
        }
        out
    }

    #[test]
    fn the_loudest_microphone_gets_the_shot_after_the_confirm_time() {
        let mut d = Director::new(DirectorConfig::default());
        d.on_air(Some(0), Duration::ZERO);
        assert!(run(&mut d, Duration::ZERO, 4.0, &[-20.0, -60.0]).is_empty());
        let cuts = run(&mut d, Duration::from_secs(4), 3.0, &[-60.0, -20.0]);
        assert_eq!(cuts.len(), 1, "{cuts:?}");
        let (t, i) = cuts[0];
        assert_eq!(i, 1);
        // Smoothing (~0.3 s to cross the margin) + 0.4 s confirm: well under a second.
        assert!(
            t - Duration::from_secs(4) < Duration::from_millis(1000),
            "{t:?}"
        );
        assert!(
            t - Duration::from_secs(4) >= Duration::from_millis(400),
            "{t:?}"
        );
    }

    #[test]
    fn it_never_cuts_before_the_hold_and_never_flaps_between_two_similar_voices() {
        let mut d = Director::new(DirectorConfig::default());
        d.on_air(Some(0), Duration::ZERO);
        // Two people trading words every 300 ms at similar levels: no cut at all.
        let mut t = Duration::ZERO;
        let mut cuts = 0;
        for k in 0..100 {
            let l = if k % 2 == 0 {
                [-20.0, -23.0]
            } else {
                [-23.0, -20.0]
            };
            cuts += run(&mut d, t, 0.3, &l).len();
            t += Duration::from_millis(300);
        }
        assert_eq!(cuts, 0);
        // A clear switch right after a cut waits for the hold.
        let mut d = Director::new(DirectorConfig::default());
        d.on_air(Some(0), Duration::ZERO);
        let cuts = run(&mut d, Duration::ZERO, 5.0, &[-60.0, -15.0]);
        assert_eq!(cuts.len(), 1);
        assert!(cuts[0].0 >= Duration::from_secs(3), "{cuts:?}");
    }

    #[test]
    fn silence_and_room_noise_never_steal_the_shot() {
        let mut d = Director::new(DirectorConfig::default());
        d.on_air(Some(1), Duration::ZERO);
        assert!(run(&mut d, Duration::ZERO, 10.0, &[-50.0, -70.0, -90.0]).is_empty());
    }

    #[test]
    fn a_short_clap_does_not_count_as_talking() {
        let mut d = Director::new(DirectorConfig::default());
        d.on_air(Some(0), Duration::ZERO);
        run(&mut d, Duration::ZERO, 5.0, &[-25.0, -60.0]);
        // 100 ms clap on the other mic.
        let cuts = run(&mut d, Duration::from_secs(5), 0.1, &[-25.0, -5.0]);
        let more = run(&mut d, Duration::from_millis(5100), 3.0, &[-25.0, -60.0]);
        assert!(cuts.is_empty() && more.is_empty(), "{cuts:?} {more:?}");
    }

    #[test]
    fn a_host_cut_restarts_the_hold() {
        let mut d = Director::new(DirectorConfig::default());
        d.on_air(Some(0), Duration::ZERO);
        run(&mut d, Duration::ZERO, 5.0, &[-20.0, -60.0]);
        d.on_air(Some(2), Duration::from_secs(5));
        let cuts = run(&mut d, Duration::from_secs(5), 5.0, &[-20.0, -60.0, -60.0]);
        assert_eq!(cuts.len(), 1);
        assert_eq!(cuts[0].1, 0);
        assert!(cuts[0].0 >= Duration::from_secs(8), "{cuts:?}");
    }
}
