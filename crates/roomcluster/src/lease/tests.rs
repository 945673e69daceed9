//! The lease on a clock of the test's own: no sleeping.

use super::{Lease, LeaseAction as A, LeaseConfig, LeaseInput as I};
use std::time::{Duration, Instant};

fn cfg() -> LeaseConfig {
    LeaseConfig {
        ttl: Duration::from_secs(5),
        renew_every: Duration::from_millis(1500),
        retry_every: Duration::from_millis(500),
        margin: Duration::from_millis(500),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(l: &mut Lease, now: Instant) -> Vec<A> {
    std::iter::from_fn(|| l.poll_action(now)).collect()
}

#[test]
fn a_granted_lease_makes_the_node_owner_and_is_renewed_before_it_runs_out() {
    let t0 = Instant::now();
    let mut l = Lease::new(cfg(), t0);
    assert_eq!(drain(&mut l, t0), vec![A::Acquire]);
    assert_eq!(l.owner_epoch(t0), None);
    l.handle(I::Acquired { epoch: 3 }, t0 + ms(20));
    assert_eq!(drain(&mut l, t0 + ms(20)), vec![A::Owner { epoch: 3 }]);
    assert_eq!(l.owner_epoch(t0 + ms(20)), Some(3));
    assert_eq!(l.poll_timeout(), Some(t0 + ms(1520)));
    assert!(drain(&mut l, t0 + ms(1519)).is_empty());
    assert_eq!(drain(&mut l, t0 + ms(1520)), vec![A::Renew { epoch: 3 }]);
    l.handle(I::Renewed { epoch: 3 }, t0 + ms(1600));
    // Good for ttl - margin from when the renewal was sent, not answered.
    assert_eq!(l.owner_epoch(t0 + ms(1520 + 4499)), Some(3));
    // The next renewal is due renew_every after the answer.
    for step in 0..20u64 {
        let now = t0 + ms(3100 + step * 1500);
        assert!(drain(&mut l, now - ms(1)).is_empty());
        assert_eq!(drain(&mut l, now), vec![A::Renew { epoch: 3 }], "{step}");
        l.handle(I::Renewed { epoch: 3 }, now);
    }
    assert!(l.owner_epoch(t0 + ms(31_000)).is_some());
}

#[test]
fn a_lease_not_confirmed_in_time_stops_the_node_acting_as_owner() {
    let t0 = Instant::now();
    let mut l = Lease::new(cfg(), t0);
    drain(&mut l, t0);
    l.handle(I::Acquired { epoch: 1 }, t0);
    drain(&mut l, t0);
    // Postgres is gone: the renewals fail and are retried, the lease runs out at ttl - margin.
    assert_eq!(drain(&mut l, t0 + ms(1500)), vec![A::Renew { epoch: 1 }]);
    l.handle(I::Failed, t0 + ms(1600));
    assert_eq!(l.owner_epoch(t0 + ms(1600)), Some(1));
    assert_eq!(l.poll_timeout(), Some(t0 + ms(2100)));
    assert_eq!(drain(&mut l, t0 + ms(2100)), vec![A::Renew { epoch: 1 }]);
    // Its answer never comes: at 4.5 s the node is no longer owner, whatever arrives later.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(4500)));
    assert_eq!(drain(&mut l, t0 + ms(4500)), vec![A::NotOwner]);
    assert_eq!(l.owner_epoch(t0 + ms(4500)), None);
    l.handle(I::Renewed { epoch: 1 }, t0 + ms(4600));
    assert_eq!(l.owner_epoch(t0 + ms(4600)), None);
    // And it asks again later, for a new epoch.
    assert_eq!(drain(&mut l, t0 + ms(5000)), vec![A::Acquire]);
    l.handle(I::Acquired { epoch: 2 }, t0 + ms(5010));
    assert_eq!(drain(&mut l, t0 + ms(5010)), vec![A::Owner { epoch: 2 }]);
}

#[test]
fn a_taken_over_lease_is_lost_at_once_and_wanted_again() {
    let t0 = Instant::now();
    let mut l = Lease::new(cfg(), t0);
    drain(&mut l, t0);
    l.handle(I::Acquired { epoch: 4 }, t0);
    drain(&mut l, t0);
    drain(&mut l, t0 + ms(1500));
    l.handle(I::Lost, t0 + ms(1510));
    assert_eq!(drain(&mut l, t0 + ms(1510)), vec![A::NotOwner]);
    assert_eq!(l.owner_epoch(t0 + ms(1510)), None);
    assert_eq!(drain(&mut l, t0 + ms(2010)), vec![A::Acquire]);
    l.handle(
        I::HeldByOther {
            owner: "node-b".into(),
        },
        t0 + ms(2020),
    );
    assert!(drain(&mut l, t0 + ms(2020)).is_empty());
    assert_eq!(l.poll_timeout(), Some(t0 + ms(2520)));
}

#[test]
fn a_slow_grant_counts_from_when_it_was_asked() {
    let t0 = Instant::now();
    let mut l = Lease::new(cfg(), t0);
    drain(&mut l, t0);
    // Answered 4.6 s late: Postgres's 5 s started when it granted, at the latest; this node
    // cannot know when, so it trusts only ttl - margin from the request: 4.5 s, already past.
    l.handle(I::Acquired { epoch: 9 }, t0 + ms(4600));
    let acts = drain(&mut l, t0 + ms(4600));
    assert_eq!(acts, vec![A::Owner { epoch: 9 }, A::NotOwner]);
    assert_eq!(l.owner_epoch(t0 + ms(4600)), None);
}

#[test]
fn a_released_lease_is_given_back_and_wanted_no_more() {
    let t0 = Instant::now();
    let mut l = Lease::new(cfg(), t0);
    drain(&mut l, t0);
    l.handle(I::Acquired { epoch: 2 }, t0);
    drain(&mut l, t0);
    l.release(t0 + ms(100));
    assert_eq!(
        drain(&mut l, t0 + ms(100)),
        vec![A::Release { epoch: 2 }, A::NotOwner]
    );
    assert_eq!(l.poll_timeout(), None);
    assert!(drain(&mut l, t0 + ms(60_000)).is_empty());
}
