//! Gifts: the ledger round trip, idempotency keys, combos, the per-stream leaderboard, what
//! gifts cost and how often a user may send them.

use super::*;

#[test]
fn duplicate_gift_key_counts_once() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let watcher = h.join("host", Role::Host);
    for _ in 0..3 {
        h.text(
            a,
            json!({"type":"gift","gift":"rocket","count":1,"key":"k-1"}),
        );
    }
    let acks: Vec<bool> = h
        .take(a)
        .into_iter()
        .filter_map(|m| match m {
            ServerMsg::Control(Control::GiftAck { duplicate, .. }) => Some(duplicate),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [false, true, true]);
    let gifts: Vec<Event> = h
        .events(watcher)
        .into_iter()
        .filter(|e| matches!(e.body, EventBody::Gift { .. }))
        .collect();
    assert_eq!(gifts.len(), 1);
    let ledger = h.store.ledger("r1").unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].coins, 520);
    // The duplicate is still a duplicate after a restart.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(
        a,
        json!({"type":"gift","gift":"rocket","count":1,"key":"k-1"}),
    );
    assert!(h.take(a).iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::GiftAck {
            duplicate: true,
            ..
        })
    )));
    assert_eq!(h.store.ledger("r1").unwrap().len(), 1);
    assert_eq!(h.room.view().leaderboard[0].coins, 520);
}

#[test]
fn gift_is_acknowledged_only_after_the_ledger_write() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let t = json!({"type":"gift","gift":"rose","key":"k-9"}).to_string();
    let actions = h.room.handle(Input::Text { conn: a, text: &t }, h.now);
    // The first step only asks for the ledger write: no ack, no broadcast yet.
    assert!(matches!(actions.as_slice(), [Action::RecordGift { .. }]));
    h.fail_gift = true;
    h.apply(actions);
    assert_eq!(h.errors(a), [ErrorCode::Storage]);
    assert!(h.store.ledger("r1").unwrap().is_empty());
    // The client retries with the same key: now it counts, once.
    h.text(a, json!({"type":"gift","gift":"rose","key":"k-9"}));
    assert!(h.take(a).iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::GiftAck {
            duplicate: false,
            ..
        })
    )));
    assert_eq!(h.store.ledger("r1").unwrap().len(), 1);
}

#[test]
fn repeated_gifts_in_the_window_form_a_combo_but_count_separately() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for (i, dt) in [0, 1_000, 1_000, 5_000].into_iter().enumerate() {
        h.now += dt;
        h.text(
            a,
            json!({"type":"gift","gift":"heart","key":format!("c{i}")}),
        );
    }
    let combos: Vec<u32> = h
        .events(a)
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Gift { combo, .. } => Some(combo),
            _ => None,
        })
        .collect();
    assert_eq!(combos, [1, 2, 3, 1]);
    assert_eq!(h.store.ledger("r1").unwrap().len(), 4);
}

#[test]
fn leaderboard_is_per_stream_and_survives_a_restart() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"gift","gift":"cake","key":"s0-1"}));
    assert_eq!(h.room.view().leaderboard[0].coins, 52);
    h.text(a, json!({"type":"stream_start"}));
    assert_eq!(h.errors(a), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"stream_start"}));
    assert!(h.room.view().leaderboard.is_empty());
    h.text(a, json!({"type":"gift","gift":"rose","key":"s1-1"}));
    assert_eq!(h.room.view().leaderboard[0].coins, 1);
    let h = h.restart();
    assert_eq!(h.room.view().leaderboard[0].coins, 1);
    assert_eq!(h.store.clone().ledger("r1").unwrap().len(), 2);
}

/// Acks as (key, duplicate, balance).
type Acks = Vec<(String, bool, u64)>;
/// Error codes with the gift key they refuse.
type Refusals = Vec<(ErrorCode, Option<String>)>;

/// The acks and the refusals in `msgs`.
fn answers(msgs: Vec<ServerMsg>) -> (Acks, Refusals) {
    let (mut acks, mut errors) = (Vec::new(), Vec::new());
    for m in msgs {
        match m {
            ServerMsg::Control(Control::GiftAck {
                key,
                duplicate,
                balance,
            }) => acks.push((key, duplicate, balance)),
            ServerMsg::Control(Control::Error { code, key, .. }) => errors.push((code, key)),
            _ => {}
        }
    }
    (acks, errors)
}

#[test]
fn a_gift_over_the_balance_is_refused_with_its_key_and_the_connection_stays() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"gift","gift":"crown","key":"c-1"}));
    let (acks, errors) = answers(h.take(a));
    assert!(acks.is_empty());
    assert_eq!(
        errors,
        [(ErrorCode::InsufficientBalance, Some("c-1".to_string()))]
    );
    assert!(h.store.ledger("r1").unwrap().is_empty());
    assert!(!h.closed.contains_key(&a));
    h.text(a, json!({"type":"gift","gift":"rose","key":"r-1"}));
    let (acks, _) = answers(h.take(a));
    assert_eq!(acks, [("r-1".to_string(), false, 999)]);
}

#[test]
fn a_retried_gift_is_paid_for_once_and_stays_a_duplicate_when_the_rest_would_not_cover_it() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for key in ["k1", "k1", "k2", "k1"] {
        h.text(a, json!({"type":"gift","gift":"rocket","key":key}));
    }
    let (acks, errors) = answers(h.take(a));
    assert_eq!(
        acks,
        [
            ("k1".to_string(), false, 480),
            ("k1".to_string(), true, 480),
            ("k1".to_string(), true, 480)
        ]
    );
    assert_eq!(
        errors,
        [(ErrorCode::InsufficientBalance, Some("k2".to_string()))]
    );
    assert_eq!(h.store.ledger("r1").unwrap().len(), 1);
    // What was paid is durable with the gift: the same after a restart.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"gift","gift":"rocket","key":"k3"}));
    assert_eq!(
        answers(h.take(a)).1,
        [(ErrorCode::InsufficientBalance, Some("k3".to_string()))]
    );
}

#[test]
fn gifts_are_rate_limited_per_user_over_all_their_connections() {
    let mut h = Harness::new();
    let socks: Vec<ConnId> = (0..4).map(|_| h.join("alice", Role::Viewer)).collect();
    for i in 0..40 {
        let c = socks[i % socks.len()];
        h.text(
            c,
            json!({"type":"gift","gift":"rose","key":format!("k{i}")}),
        );
    }
    let (mut acked, mut limited) = (0, 0);
    for c in &socks {
        let (acks, errors) = answers(h.take(*c));
        acked += acks.len();
        limited += errors
            .iter()
            .filter(|(code, _)| *code == ErrorCode::RateLimited)
            .count();
    }
    assert_eq!(
        (acked, limited),
        (20, 20),
        "the burst is per user, not per socket"
    );
    h.advance(1_000);
    h.text(socks[0], json!({"type":"gift","gift":"rose","key":"later"}));
    assert_eq!(answers(h.take(socks[0])).0.len(), 1);
    // Another user has a burst of their own.
    let b = h.join("bob", Role::Viewer);
    h.text(b, json!({"type":"gift","gift":"rose","key":"b1"}));
    assert_eq!(answers(h.take(b)).0.len(), 1);
}

#[test]
fn the_host_grants_points_and_sets_the_free_points_of_a_stream_and_nobody_else_may() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    for c in [m, a] {
        h.text(c, json!({"type":"grant","user":"alice","points":5000}));
        h.text(c, json!({"type":"gift_rules","points_per_stream":1}));
        assert_eq!(h.errors(c), [ErrorCode::Forbidden, ErrorCode::Forbidden]);
    }
    let balance = |msgs: Vec<ServerMsg>| {
        msgs.into_iter().find_map(|m| match m {
            ServerMsg::Control(Control::Balance { user, balance }) => Some((user, balance)),
            _ => None,
        })
    };
    h.text(host, json!({"type":"grant","user":"alice","points":5000}));
    assert_eq!(balance(h.take(a)), Some(("alice".into(), 6000)));
    assert_eq!(balance(h.take(host)), Some(("alice".into(), 6000)));
    h.text(a, json!({"type":"gift","gift":"crown","count":2,"key":"c"}));
    assert_eq!(answers(h.take(a)).0, [("c".to_string(), false, 3372)]);
    // 10 free points a stream from now on: alice has 10 + the 3372 granted she has left.
    h.text(host, json!({"type":"gift_rules","points_per_stream":10}));
    assert_eq!(balance(h.take(a)), Some(("alice".into(), 3372)));
    h.text(host, json!({"type":"stream_start"}));
    assert_eq!(balance(h.take(a)), Some(("alice".into(), 3382)));
    assert_eq!(h.room.view().gift_rules.points_per_stream, 10);
    // Points and rules are durable.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"gift","gift":"rose","key":"r"}));
    assert_eq!(answers(h.take(a)).0, [("r".to_string(), false, 3381)]);
    let log = h.store.modlog("r1", 10).unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "grant" && e.target == "alice")
    );
}
