//! Room settings and closing the room.

use super::*;

#[test]
fn per_minute_rule_above_600_is_refused_with_the_limit() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.text(host, json!({"type":"settings","user_rate_per_min":601}));
    assert_eq!(h.errors(host), [ErrorCode::Invalid]);
}

#[test]
fn moderator_cannot_close_the_room_but_host_can() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    h.text(m, json!({"type":"close_room"}));
    assert_eq!(h.errors(m), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"close_room","reason":"good night"}));
    assert!(
        h.events(a)
            .iter()
            .any(|e| matches!(&e.body, EventBody::RoomClosed { reason } if reason == "good night"))
    );
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::RoomClosed));
    let c = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(c, json!({"type":"hello","token":t}));
    assert_eq!(h.errors(c), [ErrorCode::RoomClosed]);
    // The host reopens it by joining.
    h.join("host", Role::Host);
    h.join("bob", Role::Viewer);
}
