//! When a guest's decoded picture goes to the program (sans-IO: times in, a due time out).
//!
//! The program takes a guest's latest picture at each of its ticks. Jitter on the way makes
//! pictures arrive in bunches (a late packet holds back the ones behind it), and of a bunch
//! the program shows only the last: on a path with ±20 ms of jitter a third of the guest's
//! pictures never reached the program and motion stuttered. Like a WebRTC receiver's jitter
//! buffer, each picture is held until its capture time (RTP time) plus the best transit of
//! the last seconds plus a delay that covers most of the recent jitter; a picture later than
//! that goes at once. The delay follows the jitter (its 95th percentile over the last
//! [`JITTER_WINDOW_S`]) and is capped ([`MAX_DELAY_S`]), so a clean path adds almost nothing
//! and a bad one cannot make the guest lag behind by much.

use marquee_capture::remote_latency::SlidingMin;
use std::collections::VecDeque;

/// The best transit is the least over this long (a guest's clock drifts from ours; a route
/// that got slower must not hold every picture back).
const BEST_WINDOW_S: f64 = 10.0;
/// The jitter the delay covers is measured over this long.
const JITTER_WINDOW_S: f64 = 3.0;
/// The most a picture is held past its best-case arrival.
pub(crate) const MAX_DELAY_S: f64 = 0.1;
/// Recent transits kept at most (the window holds 90 at 30 fps; 1,024 covers 300 fps).
const MAX_KEPT: usize = 1024;

#[derive(Debug)]
pub(crate) struct Playout {
    /// The least transit of the last [`BEST_WINDOW_S`].
    best: SlidingMin,
    /// (arrival s, transit s) of the last [`JITTER_WINDOW_S`], in arrival order.
    recent: VecDeque<(f64, f64)>,
    /// The last due time handed out: pictures never leave out of order.
    last_due: f64,
}

impl Default for Playout {
    fn default() -> Self {
        Self {
            best: SlidingMin::new(BEST_WINDOW_S),
            recent: VecDeque::new(),
            last_due: 0.0,
        }
    }
}

impl Playout {
    /// A picture captured at `sent_s` (the sender's clock) arrived at `arrived_s` (ours):
    /// when it should go to the program, on our clock, never before it arrived.
    pub(crate) fn due(&mut self, sent_s: f64, arrived_s: f64) -> f64 {
        let transit = arrived_s - sent_s;
        let best = self.best.push(arrived_s, transit);
        if self.recent.len() == MAX_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back((arrived_s, transit));
        while self
            .recent
            .front()
            .is_some_and(|&(at, _)| at < arrived_s - JITTER_WINDOW_S)
        {
            self.recent.pop_front();
        }
        let due = (sent_s + best + self.delay(best))
            .max(arrived_s)
            .max(self.last_due);
        self.last_due = due;
        due
    }

    /// The delay over the best transit that covers 95 % of the recent pictures, capped.
    fn delay(&self, best: f64) -> f64 {
        quantile(self.recent.iter().map(|&(_, t)| t - best), 0.95)
            .map_or(0.0, |d| d.clamp(0.0, MAX_DELAY_S))
    }
}

/// The `q` quantile of `values` (the nearest rank), None when there are none.
pub(crate) fn quantile(values: impl Iterator<Item = f64>, q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let i = ((v.len().checked_sub(1)?) as f64 * q).round() as usize;
    Some(v[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 fps pictures sent from `from` to `to`, each arriving `transit(i)` s after its time.
    fn run(p: &mut Playout, from: u32, to: u32, transit: impl Fn(u32) -> f64) -> Vec<(f64, f64)> {
        (from..to)
            .map(|i| {
                let sent = f64::from(i) / 30.0;
                let arrived = 500.0 + sent + transit(i);
                (arrived, p.due(sent, arrived))
            })
            .collect()
    }

    #[test]
    fn a_clean_path_adds_no_delay() {
        let mut p = Playout::default();
        let out = run(&mut p, 0, 300, |_| 0.04);
        assert!(out.iter().all(|(a, d)| d - a < 1e-9), "{out:?}");
    }

    #[test]
    fn pictures_bunched_by_jitter_leave_again_a_frame_apart() {
        let mut p = Playout::default();
        // Every third picture is held up 60 ms and the two behind it queue after it: they
        // arrive together, as a FIFO path with jitter delivers them.
        let transit = |i: u32| match i % 3 {
            0 => 0.09,
            1 => 0.09 - 1.0 / 30.0 + 0.001,
            _ => 0.09 - 2.0 / 30.0 + 0.002,
        };
        let out = run(&mut p, 0, 600, transit);
        // After the first seconds the delay covers the jitter: each picture leaves a frame
        // after the one before, though they arrive three at a time.
        let gaps: Vec<f64> = out[300..].windows(2).map(|w| w[1].1 - w[0].1).collect();
        assert!(
            gaps.iter().all(|g| (g - 1.0 / 30.0).abs() < 0.002),
            "{:?}",
            &gaps[..12]
        );
        let held = out[300..].iter().map(|(a, d)| d - a).fold(0.0, f64::max);
        assert!(held <= MAX_DELAY_S, "held {held}");
    }

    #[test]
    fn a_picture_later_than_the_delay_goes_at_once_and_the_order_holds() {
        let mut p = Playout::default();
        run(&mut p, 0, 90, |_| 0.04);
        // A keyframe 400 ms late, then the pictures behind it right after.
        let out = run(&mut p, 90, 95, |i| {
            if i == 90 {
                0.44
            } else {
                0.44 - f64::from(i - 90) / 30.0 + 0.001
            }
        });
        assert_eq!(out[0].1, out[0].0, "the late picture waits for nothing");
        assert!(out.windows(2).all(|w| w[1].1 >= w[0].1), "{out:?}");
    }

    #[test]
    fn the_delay_is_capped_however_bad_the_jitter() {
        let mut p = Playout::default();
        // Half a second of jitter on a path that keeps the order (the decoder's pictures come
        // in order): a picture held up holds up the ones behind it.
        let mut last = 0.0_f64;
        let out: Vec<(f64, f64)> = (0..600u32)
            .map(|i| {
                let sent = f64::from(i) / 30.0;
                let jitter = if i % 7 == 0 {
                    0.5
                } else {
                    f64::from(i % 5) * 0.1
                };
                let arrived = (500.0 + sent + 0.04 + jitter).max(last);
                last = arrived;
                (arrived, p.due(sent, arrived))
            })
            .collect();
        let held = out.iter().map(|(a, d)| d - a).fold(0.0, f64::max);
        assert!(held <= MAX_DELAY_S + 1e-9, "held {held}");
        assert!(out.windows(2).all(|w| w[1].1 >= w[0].1));
    }

    #[test]
    fn after_the_route_got_faster_pictures_are_held_only_while_the_old_transits_are_recent() {
        let mut p = Playout::default();
        run(&mut p, 0, 300, |_| 0.07);
        // 30 ms faster from now on: the old transits read as 30 ms of jitter for a while.
        let out = run(&mut p, 300, 300 + 30 * 6, |_| 0.04);
        assert!(out[..30].iter().any(|(a, d)| d - a > 0.02));
        let after = &out[(JITTER_WINDOW_S * 30.0) as usize + 30..];
        assert!(after.iter().all(|(a, d)| d - a < 1e-9), "{after:?}");
    }
}
