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

#[test]
fn the_host_sets_playback_urls_viewers_get_them_on_change_and_on_join_and_they_survive_a_restart() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    let angles = json!([
        {"name":"stage","url":"http://127.0.0.1:8080/hls/stage.m3u8"},
        {"name":"close-up","url":"https://cdn.example.com/live/close.flv"}
    ]);
    h.text(host, json!({"type":"settings","playback":angles}));
    let changed = h.events(a);
    let Some(EventBody::SettingsChanged { settings, .. }) = changed.last().map(|e| &e.body) else {
        panic!("no settings_changed: {changed:?}");
    };
    assert_eq!(settings.playback.len(), 2);
    assert_eq!(settings.playback[1].name, "close-up");

    let mut h = h.restart();
    let c = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(c, json!({"type":"hello","token":t}));
    let welcome = h.take(c).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::Welcome { view, .. }) => Some(view),
        _ => None,
    });
    let view = welcome.expect("welcome");
    assert_eq!(
        serde_json::to_value(&view.settings.playback).unwrap(),
        angles
    );

    let host = h.join("host", Role::Host);
    h.text(host, json!({"type":"settings","playback":[]}));
    assert!(h.room.durable_state().settings.playback.is_empty());
}

#[test]
fn only_the_host_sets_playback_and_a_bad_url_is_refused_with_the_reason() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let m = h.join("mod", Role::Moderator);
    h.text(
        m,
        json!({"type":"settings","playback":[{"name":"x","url":"http://h/x.m3u8"}]}),
    );
    assert_eq!(h.errors(m), [ErrorCode::Forbidden]);
    h.text(
        host,
        json!({"type":"settings","slow_mode_s":5,"playback":[{"url":"rtmp://h/live/key"}]}),
    );
    let refused = h.take(host).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::Error { code, message, .. }) => Some((code, message)),
        _ => None,
    });
    let (code, message) = refused.expect("an error");
    assert_eq!(code, ErrorCode::Invalid);
    assert!(
        message.contains("cannot be played in a browser"),
        "{message}"
    );
    let st = h.room.durable_state().settings;
    assert!(st.playback.is_empty());
    assert_eq!(st.slow_mode_s, 0, "nothing of a refused patch is applied");
}
