//! The room's wake-ups ([`Room::poll_timeout`]): due exactly when something is due, never a
//! fixed tick. Time moves only when the test moves it.

use super::*;

impl Harness {
    /// Move the clock to the room's next wake-up and feed the tick; `None` if it asks for none.
    fn wake(&mut self) -> Option<u64> {
        let at = self.room.poll_timeout()?;
        self.now = self.now.max(at);
        self.input(Input::Tick);
        Some(at)
    }
}

#[test]
fn a_quiet_room_asks_for_no_wake_up() {
    let mut h = Harness::new();
    assert_eq!(h.room.poll_timeout(), None, "a new room waits on nothing");
    let host = h.join("host", Role::Host);
    // The join is news for everyone, at most once a second.
    assert_eq!(h.wake(), Some(T0 + 1_000));
    assert!(
        h.take(host)
            .iter()
            .any(|m| matches!(m, ServerMsg::Control(Control::Presence { viewers: 1, .. })))
    );
    assert_eq!(h.room.poll_timeout(), None, "nothing left to do");
}

#[test]
fn a_poll_ends_exactly_at_its_deadline() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let v = h.join("viewer", Role::Viewer);
    h.text(
        host,
        json!({"type":"poll_start","question":"q","options":["a","b"],"duration_s":5}),
    );
    let ends_at = T0 + 5_000;
    // Tallies once a second while it is open, then the end itself.
    let mut wakes = Vec::new();
    while h.room.durable_state().polls[0].open {
        let at = h.room.poll_timeout().expect("an open poll wakes the room");
        assert!(at <= ends_at, "woken after the deadline: {at}");
        if at == ends_at {
            // The last moment before it: a vote still counts, the poll stays open.
            h.now = ends_at - 1;
            h.input(Input::Tick);
            h.text(v, json!({"type":"vote","poll":1,"option":1}));
            assert!(h.errors(v).is_empty());
            assert!(h.room.durable_state().polls[0].open);
        }
        wakes.push(h.wake().unwrap());
    }
    assert_eq!(wakes.last(), Some(&ends_at));
    let ended = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::PollEnded { poll } => Some((e.at, poll)),
        _ => None,
    });
    let (at, poll) = ended.expect("poll_ended");
    assert_eq!(at, ends_at);
    assert_eq!(poll.tallies, [0, 1]);
    h.text(v, json!({"type":"vote","poll":1,"option":0}));
    assert_eq!(h.errors(v), [ErrorCode::PollClosed]);
}

#[test]
fn a_connection_without_hello_is_closed_at_its_timeout_and_not_before() {
    let mut h = Harness::new();
    let c = h.open();
    let timeout = h.room.config().hello_timeout_ms;
    assert_eq!(h.room.poll_timeout(), Some(T0 + timeout));
    h.now = T0 + timeout - 1;
    h.input(Input::Tick);
    assert!(!h.closed.contains_key(&c));
    assert_eq!(h.wake(), Some(T0 + timeout));
    assert_eq!(h.closed.get(&c).map(|x| x.0), Some(ErrorCode::NotJoined));
    assert_eq!(h.room.poll_timeout(), None);
}

#[test]
fn presence_goes_out_at_once_after_a_quiet_second_then_at_most_once_a_second() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.wake();
    h.now += 60_000;
    h.join("a", Role::Viewer);
    assert!(h.room.poll_timeout().unwrap() <= h.now, "due at once");
    h.input(Input::Tick);
    h.take(host);
    h.join("b", Role::Viewer);
    assert_eq!(h.room.poll_timeout(), Some(h.now + 1_000));
    h.now += 1;
    h.input(Input::Tick);
    assert!(h.take(host).is_empty(), "not yet");
    h.wake();
    assert_eq!(h.take(host).len(), 1);
}

#[test]
fn a_mute_wakes_the_room_when_it_runs_out_not_every_second() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.wake();
    h.text(host, json!({"type":"timeout","user":"alice","seconds":600}));
    let until = h.now + 600_000;
    assert_eq!(h.room.poll_timeout(), Some(until));
    h.wake();
    assert!(h.room.durable_state().timeouts.is_empty(), "forgotten");
    assert_eq!(h.room.poll_timeout(), None);
}

#[test]
fn a_user_who_left_is_forgotten_ten_minutes_later() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    h.wake();
    h.input(Input::Closed { conn: a });
    // Their leaving goes out within the second; then nothing until they are forgotten.
    assert_eq!(h.wake(), Some(T0 + 2_000));
    assert_eq!(h.wake(), Some(T0 + 600_000));
    assert_eq!(h.room.poll_timeout(), None);
}
