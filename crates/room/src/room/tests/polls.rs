//! Polls and votes: one vote per user per poll, movable votes, tallies.

use super::*;

#[test]
fn one_vote_per_user_per_poll() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    let a2 = h.join("alice", Role::Viewer); // a second tab of the same user
    let poll = start_poll(&mut h, host, false);
    h.text(a, json!({"type":"vote","poll":poll,"option":1}));
    h.text(a2, json!({"type":"vote","poll":poll,"option":2}));
    assert_eq!(h.errors(a2), [ErrorCode::AlreadyVoted]);
    h.text(a, json!({"type":"vote","poll":poll,"option":7}));
    assert_eq!(h.errors(a), [ErrorCode::Invalid]);
    h.advance(1_000);
    let tally = h.take(host).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::PollTally { tallies, .. }) => Some(tallies),
        _ => None,
    });
    assert_eq!(tally.unwrap(), [0, 1, 0]);
    // Votes survive a restart and still block a second vote.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"vote","poll":poll,"option":0}));
    assert_eq!(h.errors(a), [ErrorCode::AlreadyVoted]);
}

#[test]
fn poll_with_allow_change_moves_the_vote_and_ends_with_a_stored_result() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    let poll = start_poll(&mut h, host, true);
    h.text(a, json!({"type":"vote","poll":poll,"option":0}));
    h.text(b, json!({"type":"vote","poll":poll,"option":0}));
    h.text(a, json!({"type":"vote","poll":poll,"option":2}));
    assert!(h.errors(a).is_empty());
    h.take(host);
    h.advance(31_000);
    let ended = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::PollEnded { poll } => Some(poll),
        _ => None,
    });
    let ended = ended.expect("the poll ends by itself");
    assert_eq!(ended.tallies, [1, 0, 1]);
    assert!(!ended.open);
    h.text(b, json!({"type":"vote","poll":poll,"option":1}));
    assert_eq!(h.errors(b), [ErrorCode::PollClosed]);
    let h = h.restart();
    assert_eq!(h.room.durable_state().polls[0].result, [1, 0, 1]);
}

#[test]
fn tallies_are_broadcast_every_second_while_the_poll_is_open() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    start_poll(&mut h, host, false);
    let mut n = 0;
    for _ in 0..5 {
        h.advance(1_000);
        n += h
            .take(host)
            .iter()
            .filter(|m| matches!(m, ServerMsg::Control(Control::PollTally { .. })))
            .count();
    }
    assert_eq!(n, 5);
}
