//! What moderators do: delete, timeout, ban.

use super::*;

#[test]
fn viewer_cannot_delete_messages() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    h.say(a, "mine");
    let id = h.room.last_seq();
    h.take(b);
    for role_conn in [b, h.join("guest", Role::Guest)] {
        h.text(role_conn, json!({"type":"delete","id":id}));
        assert_eq!(h.errors(role_conn), [ErrorCode::Forbidden]);
    }
    assert_eq!(h.room.last_seq(), id);
}

#[test]
fn moderator_delete_drops_the_message_everywhere() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let m = h.join("mod", Role::Moderator);
    h.say(a, "rude words");
    let id = h.room.last_seq();
    h.text(m, json!({"type":"delete","id":id}));
    let ev = h.events(a);
    assert!(
        ev.iter()
            .any(|e| matches!(e.body, EventBody::MessageDeleted { id: d, .. } if d == id))
    );
    // New viewers never see it; a replay shows a tombstone without the text.
    let c = h.open();
    h.text(c, json!({"type":"hello","nickname":"late"}));
    let msgs = h.take(c);
    let hist = msgs.iter().find_map(|m| match m {
        ServerMsg::Control(Control::History { events, .. }) => Some(events.clone()),
        _ => None,
    });
    assert!(danmaku_texts(&hist.unwrap()).is_empty());
    assert!(
        h.room
            .recent_events()
            .all(|e| !matches!(&e.body, EventBody::Danmaku { text, .. } if !text.is_empty()))
    );
    // The moderation log has it, and so does storage.
    h.text(m, json!({"type":"modlog"}));
    let log = h.take(m).into_iter().find_map(|x| match x {
        ServerMsg::Control(Control::Modlog { entries }) => Some(entries),
        _ => None,
    });
    assert_eq!(log.unwrap()[0].action, "delete");
    let snap = h.store.load("r1", 100).unwrap();
    assert!(danmaku_texts(&snap.events).iter().all(String::is_empty));
}

#[test]
fn timeout_mutes_until_it_expires_and_ban_closes_and_refuses() {
    let mut h = Harness::new();
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    h.text(m, json!({"type":"timeout","user":"alice","seconds":60}));
    h.say(a, "hello?");
    assert!(h.errors(a).contains(&ErrorCode::Muted));
    h.advance(61_000);
    h.say(a, "back");
    assert!(h.errors(a).is_empty());
    h.text(m, json!({"type":"ban","user":"alice"}));
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::Banned));
    let again = h.open();
    let t = h.token("alice", Role::Viewer);
    h.text(again, json!({"type":"hello","token":t}));
    assert_eq!(h.errors(again), [ErrorCode::Banned]);
    assert!(h.closed.contains_key(&again));
    // The ban survives a restart.
    let mut h = h.restart();
    let c = h.open();
    let t = h.token("alice", Role::Viewer);
    h.text(c, json!({"type":"hello","token":t}));
    assert_eq!(h.errors(c), [ErrorCode::Banned]);
}
