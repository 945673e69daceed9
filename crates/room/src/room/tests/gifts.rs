//! Gifts: the ledger round trip, idempotency keys, combos, the per-stream leaderboard.

use super::*;

#[test]
fn duplicate_gift_key_counts_once() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let watcher = h.join("host", Role::Host);
    for _ in 0..3 {
        h.text(
            a,
            json!({"type":"gift","gift":"rocket","count":2,"key":"k-1"}),
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
    assert_eq!(ledger[0].coins, 1040);
    // The duplicate is still a duplicate after a restart.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(
        a,
        json!({"type":"gift","gift":"rocket","count":2,"key":"k-1"}),
    );
    assert!(h.take(a).iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::GiftAck {
            duplicate: true,
            ..
        })
    )));
    assert_eq!(h.store.ledger("r1").unwrap().len(), 1);
    assert_eq!(h.room.view().leaderboard[0].coins, 1040);
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
