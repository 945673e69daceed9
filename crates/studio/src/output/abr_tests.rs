use super::*;
use std::collections::VecDeque;

const TICK: Duration = Duration::from_millis(250);

/// A link of some capacity behind a FIFO send queue fed at the controller's target.
struct Link {
    capacity_kbps: f64,
    /// Each queued tick of media: (kbit left, kbit at enqueue).
    queue: VecDeque<(f64, f64)>,
    connected: bool,
    /// Deterministic noise source (LCG) and its amplitude on throughput and delay.
    seed: u64,
    noise: f64,
    /// The longest queue delay seen (without noise), to compare with the drop threshold.
    max_delay: f64,
}

impl Link {
    fn new(capacity_kbps: f64) -> Self {
        Self {
            capacity_kbps,
            queue: VecDeque::new(),
            connected: true,
            seed: 1,
            noise: 0.0,
            max_delay: 0.0,
        }
    }

    fn rand(&mut self) -> f64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.seed >> 33) as f64 / (1u64 << 31) as f64
    }

    /// Encodes one tick at `kbps`, sends what the link carries, and samples it.
    fn tick(&mut self, at: Duration, kbps: u32) -> AbrSample {
        let secs = TICK.as_secs_f64();
        let produced = kbps as f64 * secs;
        if self.connected {
            self.queue.push_back((produced, produced));
        } else {
            // The writer keeps only the latest GOP while offline.
            self.queue.clear();
            self.queue.push_back((produced, produced));
        }
        let mut budget = if self.connected {
            self.capacity_kbps * secs
        } else {
            0.0
        };
        let mut sent = 0.0;
        while budget > 0.0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            let n = front.0.min(budget);
            front.0 -= n;
            budget -= n;
            sent += n;
            if front.0 <= 1e-9 {
                self.queue.pop_front();
            }
        }
        let delay: f64 = self.queue.iter().map(|(l, t)| secs * l / t).sum();
        self.max_delay = self.max_delay.max(delay);
        let jitter = self.noise * self.rand();
        let thr_noise = 1.0 + self.noise * (self.rand() - 0.5);
        AbrSample {
            at,
            queue_delay: Duration::from_secs_f64(delay + jitter * 0.8),
            throughput_kbps: (sent / secs * thr_noise) as u32,
            connected: self.connected,
        }
    }
}

/// Runs `abr` on `link` from `from` for `secs`, returning every change with its time.
fn run(
    abr: &mut Abr,
    link: &mut Link,
    from: Duration,
    secs: u64,
) -> (Duration, Vec<(Duration, AbrChange)>) {
    let mut at = from;
    let mut changes = Vec::new();
    while at < from + Duration::from_secs(secs) {
        assert!(abr.next_sample_at() <= at + TICK);
        let s = link.tick(at, abr.target_kbps());
        if let Some(c) = abr.on_sample(s) {
            changes.push((at, c));
        }
        at += TICK;
    }
    (at, changes)
}

fn controller() -> Abr {
    Abr::new(AbrConfig::new(500, 4000))
}

#[test]
fn abr_follows_a_narrowed_link_below_its_rate_within_five_seconds() {
    let mut abr = controller();
    let mut link = Link::new(10_000.0);
    let (at, before) = run(&mut abr, &mut link, Duration::ZERO, 10);
    assert!(before.is_empty(), "{before:?}");
    link.capacity_kbps = 1500.0;
    let (_, changes) = run(&mut abr, &mut link, at, 5);
    let first = changes.first().expect("no decrease within 5 s");
    assert!(first.1.kbps < 1500, "{changes:?}");
    assert!(matches!(
        first.1.reason,
        AbrReason::QueueHigh | AbrReason::QueueGrowing
    ));
    assert!(abr.target_kbps() < 1500);
}

#[test]
fn abr_climbs_back_to_the_target_within_thirty_seconds_once_the_link_widens() {
    let mut abr = controller();
    let mut link = Link::new(1500.0);
    let (at, _) = run(&mut abr, &mut link, Duration::ZERO, 30);
    assert!(abr.target_kbps() < 2000, "{}", abr.target_kbps());
    link.capacity_kbps = 10_000.0;
    let (_, changes) = run(&mut abr, &mut link, at, 30);
    assert_eq!(abr.target_kbps(), 4000, "{changes:?}");
    assert!(changes.iter().all(|(_, c)| c.reason == AbrReason::Probing));
}

#[test]
fn abr_makes_no_change_on_a_steady_link() {
    let mut abr = controller();
    let mut link = Link::new(6000.0);
    let (_, changes) = run(&mut abr, &mut link, Duration::ZERO, 120);
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn abr_ignores_noisy_samples_on_a_link_that_carries_the_rate() {
    let mut abr = controller();
    let mut link = Link::new(6000.0);
    link.noise = 0.3;
    let (_, changes) = run(&mut abr, &mut link, Duration::ZERO, 300);
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn abr_on_a_narrow_noisy_link_probes_rarely_and_never_lets_the_queue_reach_frame_drops() {
    let mut abr = controller();
    let mut link = Link::new(1500.0);
    link.noise = 0.2;
    let (at, _) = run(&mut abr, &mut link, Duration::ZERO, 30);
    link.max_delay = 0.0;
    let (_, changes) = run(&mut abr, &mut link, at, 120);
    let backoffs: Vec<Duration> = changes
        .iter()
        .filter(|(_, c)| matches!(c.reason, AbrReason::QueueHigh | AbrReason::QueueGrowing))
        .map(|(t, _)| *t)
        .collect();
    // A probe and its back-off at most every 8 s, never a see-saw each sample (a back-off's
    // return once its queue drained comes with it).
    for w in backoffs.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_secs(8), "{changes:?}");
    }
    for w in changes.windows(2) {
        assert!(w[1].0 - w[0].0 >= Duration::from_secs(1), "{changes:?}");
    }
    assert!(changes.iter().all(|(_, c)| c.kbps <= 2000), "{changes:?}");
    // The writer drops frames from 1.5 s of queue; a probe must never get there.
    assert!(
        link.max_delay < 1.5,
        "queue reached {:.2} s",
        link.max_delay
    );
}

#[test]
fn abr_resumes_after_an_outage_below_the_old_rate_and_climbs_back() {
    let mut abr = controller();
    let mut link = Link::new(10_000.0);
    let (at, _) = run(&mut abr, &mut link, Duration::ZERO, 10);
    link.connected = false;
    let (at, during) = run(&mut abr, &mut link, at, 5);
    assert!(during.is_empty(), "{during:?}");
    link.connected = true;
    let (at, resumed) = run(&mut abr, &mut link, at, 1);
    assert_eq!(
        resumed.first().map(|c| c.1),
        Some(AbrChange {
            kbps: 2000,
            reason: AbrReason::Resumed
        })
    );
    run(&mut abr, &mut link, at, 30);
    assert_eq!(abr.target_kbps(), 4000);
}

/// An ingest restarted every few seconds, too soon each time for a probe to climb: each
/// return resumes at half of what the link was known to carry, not half the last resume.
fn resumes_after_outages(abr: &mut Abr, link: &mut Link, mut at: Duration) -> Vec<u32> {
    let mut after_each = Vec::new();
    for _ in 0..5 {
        link.connected = false;
        at = run(abr, link, at, 2).0;
        link.connected = true;
        let (next, changes) = run(abr, link, at, 2);
        at = next;
        assert!(
            changes.iter().all(|c| c.1.reason == AbrReason::Resumed),
            "{changes:?}"
        );
        after_each.push(abr.target_kbps());
    }
    after_each
}

#[test]
fn abr_resumes_each_of_many_outages_from_what_the_link_carried_not_from_the_last_resume() {
    let mut abr = controller();
    let mut link = Link::new(10_000.0);
    let (at, _) = run(&mut abr, &mut link, Duration::ZERO, 10);
    assert_eq!(abr.target_kbps(), 4000);
    let after_each = resumes_after_outages(&mut abr, &mut link, at);
    assert_eq!(
        after_each, [2000; 5],
        "half of the 4000 the link carried, each time"
    );

    // The same right after a congestion measured the link (the first outage comes before a
    // quiet stretch proved anything).
    let mut abr = controller();
    let mut link = Link::new(2500.0);
    let (at, changes) = run(&mut abr, &mut link, Duration::ZERO, 3);
    let cut = changes.last().expect("a decrease on a 2500 link").1.kbps;
    let after_each = resumes_after_outages(&mut abr, &mut link, at);
    assert!(
        after_each
            .iter()
            .all(|&k| k == after_each[0] && k >= cut / 2),
        "cut to {cut}, then {after_each:?}"
    );
}

#[test]
fn abr_stays_within_its_bounds() {
    let mut abr = controller();
    let mut link = Link::new(100.0);
    let (_, changes) = run(&mut abr, &mut link, Duration::ZERO, 60);
    assert!(changes.iter().all(|(_, c)| c.kbps >= 500), "{changes:?}");
    assert_eq!(abr.target_kbps(), 500);
}

#[test]
fn abr_takes_no_second_probe_step_on_top_of_one_that_built_a_queue() {
    let mut abr = controller();
    let mut link = Link::new(1500.0);
    let (at, _) = run(&mut abr, &mut link, Duration::ZERO, 30);
    let (_, changes) = run(&mut abr, &mut link, at, 120);
    // A probe may go past the link once (12 %); never a second step above it.
    assert!(
        changes.iter().all(|(_, c)| c.kbps < 1500 * 112 / 100 + 1),
        "{changes:?}"
    );
}

#[test]
fn waiting_for_the_first_connection_is_not_an_outage() {
    let mut abr = controller();
    let mut link = Link::new(10_000.0);
    link.connected = false;
    let (at, changes) = run(&mut abr, &mut link, Duration::ZERO, 3);
    link.connected = true;
    let (_, after) = run(&mut abr, &mut link, at, 10);
    assert!(
        changes.is_empty() && after.is_empty(),
        "{changes:?} {after:?}"
    );
    assert_eq!(abr.target_kbps(), 4000);
}

#[test]
fn a_moment_of_low_throughput_does_not_sink_the_target_below_what_the_link_carried() {
    let mut abr = controller();
    let t = |at_ms: u64, delay_ms: u64, kbps: u32| AbrSample {
        at: Duration::from_millis(at_ms),
        queue_delay: Duration::from_millis(delay_ms),
        throughput_kbps: kbps,
        connected: true,
    };
    for i in 0..4 {
        assert_eq!(abr.on_sample(t(i * 250, 100, 1500)), None);
    }
    // The queue is long and this sample sent little (its frames were dropped): the link
    // carried 1500 a second ago, and the target returns to 85 % of that once drained.
    let c = abr.on_sample(t(1000, 900, 100)).expect("a decrease");
    assert!(c.kbps < 1275, "{c:?}");
    let back = (5..12).find_map(|i| abr.on_sample(t(i * 250, 50, 1500)));
    assert_eq!(
        back,
        Some(AbrChange {
            kbps: 1275,
            reason: AbrReason::Drained
        })
    );
}

#[test]
fn a_decrease_pays_off_the_queue_then_returns_to_what_the_link_carried_once_it_drained() {
    let mut abr = controller();
    let mut link = Link::new(1500.0);
    let (_, changes) = run(&mut abr, &mut link, Duration::ZERO, 12);
    let first = changes.first().expect("a decrease").1;
    assert!(first.kbps < 1275, "the queue is paid off too: {changes:?}");
    let (at, back) = (changes.iter())
        .find(|(_, c)| c.reason == AbrReason::Drained)
        .expect("a return once drained");
    assert!(
        (1100..1500).contains(&back.kbps) && *at < Duration::from_secs(8),
        "{changes:?}"
    );
    // One decrease while the queue drained: none on top of it while it shrank.
    let decreases = (changes.iter())
        .filter(|(t, c)| t < at && c.kbps < 1500 && c.reason != AbrReason::Drained)
        .count();
    assert_eq!(decreases, 1, "{changes:?}");
}
