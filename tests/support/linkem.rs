//! One direction of an emulated network path, in user space (this kernel has no netem):
//! each packet is held for a base delay plus a uniform jitter, a share is lost at random, and
//! at most [`Shape::limit`] packets are in flight (more are dropped, counted). Sans-IO: a
//! packet and the time in, packets out once due, the next wake-up asked for; [`crate::NetLink`]
//! drives two of them between TUN devices.
//!
//! Jitter is delay variation on a first-in-first-out path: a packet never overtakes an earlier
//! one (netem reorders when given jitter without a rate; real paths seldom do), so a packet
//! drawn shorter than the one before it leaves right after it. The draws come from a seeded
//! generator: a run is repeatable.

use std::collections::VecDeque;
use std::time::Duration;

/// How a direction treats its packets.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub delay: Duration,
    /// Each packet's delay is `delay` ± up to this much (uniform).
    pub jitter: Duration,
    /// Share of packets lost, 0.0–1.0.
    pub loss: f64,
    /// Packets in flight at most; past it, new ones are dropped.
    pub limit: usize,
}

impl Shape {
    /// `delay` ± `jitter`, `loss_pct` % lost, room for 10,000 packets in flight.
    pub fn new(delay: Duration, jitter: Duration, loss_pct: f64) -> Self {
        Self {
            delay,
            jitter,
            loss: (loss_pct / 100.0).clamp(0.0, 1.0),
            limit: 10_000,
        }
    }
}

/// What a direction did with the packets it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub lost: u64,
    pub overflow: u64,
}

/// One direction of the path.
#[derive(Debug)]
pub struct Direction {
    shape: Shape,
    rng: fastrand::Rng,
    in_flight: VecDeque<(Duration, Vec<u8>)>,
    pub counts: Counts,
}

impl Direction {
    pub fn new(shape: Shape, seed: u64) -> Self {
        Self {
            shape,
            rng: fastrand::Rng::with_seed(seed),
            in_flight: VecDeque::new(),
            counts: Counts::default(),
        }
    }

    /// A packet entering the path at `now`.
    pub fn push(&mut self, packet: Vec<u8>, now: Duration) {
        if self.rng.f64() < self.shape.loss {
            self.counts.lost += 1;
            return;
        }
        if self.in_flight.len() >= self.shape.limit {
            self.counts.overflow += 1;
            return;
        }
        let j = self.shape.jitter.as_secs_f64();
        let delay = (self.shape.delay.as_secs_f64() + (self.rng.f64() * 2.0 - 1.0) * j).max(0.0);
        let due = (now + Duration::from_secs_f64(delay))
            .max(self.in_flight.back().map_or(Duration::ZERO, |(d, _)| *d));
        self.in_flight.push_back((due, packet));
    }

    /// The next packet due by `now`, if any.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.in_flight.front().is_some_and(|(due, _)| *due <= now) {
            self.counts.passed += 1;
            return self.in_flight.pop_front().map(|(_, p)| p);
        }
        None
    }

    /// When the next packet is due (None: nothing in flight).
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.in_flight.front().map(|(due, _)| *due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Pushes one packet a millisecond for `n` ms and drains each as it falls due; returns
    /// each delivered packet's (sequence number, delay in ms).
    fn run(d: &mut Direction, n: u32) -> Vec<(u32, f64)> {
        let mut out = Vec::new();
        let mut t = Duration::ZERO;
        for i in 0..n + 1000 {
            if i < n {
                d.push(i.to_be_bytes().to_vec(), t);
            }
            while let Some(p) = d.poll_transmit(t) {
                let seq = u32::from_be_bytes(p[..4].try_into().unwrap_or_default());
                out.push((seq, (t - MS * seq).as_secs_f64() * 1000.0));
            }
            t += MS;
        }
        out
    }

    #[test]
    fn every_packet_waits_the_delay_give_or_take_the_jitter_in_order() {
        let mut d = Direction::new(Shape::new(MS * 50, MS * 20, 0.0), 7);
        let out = run(&mut d, 5_000);
        assert_eq!(out.len(), 5_000);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "in order");
        assert!(out.iter().all(|&(_, ms)| (30.0..=71.0).contains(&ms)));
        let mean = out.iter().map(|&(_, ms)| ms).sum::<f64>() / out.len() as f64;
        // Without reordering a packet waits for a later-drawn one ahead of it: above 50.
        assert!((50.0..65.0).contains(&mean), "mean {mean}");
        let spread = out.iter().map(|&(_, ms)| ms).fold(f64::MIN, f64::max)
            - out.iter().map(|&(_, ms)| ms).fold(f64::MAX, f64::min);
        assert!(spread > 15.0, "the jitter shows: spread {spread} ms");
    }

    #[test]
    fn the_share_asked_is_lost_and_counted_and_the_rest_passes() {
        let mut d = Direction::new(Shape::new(MS * 10, Duration::ZERO, 2.0), 11);
        let out = run(&mut d, 20_000);
        assert_eq!(out.len() as u64, d.counts.passed);
        assert_eq!(d.counts.passed + d.counts.lost, 20_000);
        // 2 % of 20,000 is 400, with a standard deviation of about 20.
        assert!(
            (300..500).contains(&d.counts.lost),
            "lost {}",
            d.counts.lost
        );
    }

    #[test]
    fn past_the_limit_in_flight_new_packets_are_dropped_and_counted() {
        let mut d = Direction::new(
            Shape {
                limit: 10,
                ..Shape::new(MS * 100, Duration::ZERO, 0.0)
            },
            1,
        );
        for i in 0..15u8 {
            d.push(vec![i], Duration::ZERO);
        }
        assert_eq!(d.counts.overflow, 5);
        assert_eq!(d.poll_timeout(), Some(MS * 100));
        assert_eq!(d.poll_transmit(MS * 99), None);
        assert_eq!(d.poll_transmit(MS * 100), Some(vec![0]));
    }
}
