//! Danmaku and the gate it passes: blocked words, slow mode, the per-minute rule, mods-only,
//! the per-user rate.

use super::*;

#[test]
fn danmaku_is_broadcast_with_seq_epoch_and_server_assigned_id() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    h.text(
        a,
        json!({"type":"danmaku","text":"  hello  ","color":"#FF0000","mode":"top"}),
    );
    let ev = h.events(b);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].seq, h.room.last_seq());
    assert_eq!(ev[0].epoch, h.room.epoch());
    assert_eq!(ev[0].at, T0);
    match &ev[0].body {
        EventBody::Danmaku {
            id,
            text,
            color,
            mode,
            user,
            ..
        } => {
            assert_eq!(*id, ev[0].seq);
            assert_eq!(text, "hello");
            assert_eq!(color, "#ff0000");
            assert_eq!(*mode, DanmakuMode::Top);
            assert_eq!(user.id, "alice");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocked_word_with_fullwidth_and_zero_width_is_caught() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(host, json!({"type":"block_words","add":["spam"]}));
    h.take(a);
    h.say(a, "buy ｓ\u{200b}ｐ．Ａ m now");
    let ev = h.events(a);
    match &ev[0].body {
        EventBody::Danmaku { text, masked, .. } => {
            assert!(*masked);
            assert_eq!(text, "buy ******* now");
        }
        other => panic!("{other:?}"),
    }
    h.text(host, json!({"type":"settings","blocked_mode":"reject"}));
    h.take(a);
    h.advance(5_000);
    h.say(a, "SPAM");
    assert_eq!(h.errors(a), [ErrorCode::BlockedWord]);
}

#[test]
fn slow_mode_allows_one_message_per_interval_for_viewers_only() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(host, json!({"type":"settings","slow_mode_s":10}));
    h.take(a);
    h.say(a, "1");
    h.say(a, "2");
    let msgs = h.take(a);
    assert_eq!(
        msgs.iter()
            .filter(|m| matches!(m, ServerMsg::Event(_)))
            .count(),
        1
    );
    assert!(msgs.iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::Error {
            code: ErrorCode::SlowMode,
            ..
        })
    )));
    h.say(host, "hosts are not slowed");
    h.say(host, "see");
    assert_eq!(h.errors(host), Vec::<ErrorCode>::new());
    h.advance(10_000);
    h.say(a, "3");
    assert_eq!(h.errors(a), Vec::<ErrorCode>::new());
}

#[test]
fn per_minute_rule_allows_n_messages_in_any_rolling_minute_for_viewers_only() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(host, json!({"type":"settings","user_rate_per_min":3}));
    h.take(a);
    for i in 0..3 {
        h.say(a, &format!("m{i}"));
        h.advance(10_000);
    }
    assert_eq!(danmaku_texts(&h.events(a)), ["m0", "m1", "m2"]);
    h.say(a, "fourth within the minute");
    assert_eq!(h.errors(a), [ErrorCode::SlowMode]);
    for i in 0..5 {
        h.say(host, &format!("host {i}"));
    }
    assert_eq!(h.errors(host), Vec::<ErrorCode>::new());
    h.take(a);
    // 60 s after the first message one slot frees: the window rolls, it does not reset.
    h.advance(30_000);
    h.say(a, "m3");
    h.say(a, "m4");
    let msgs = h.take(a);
    let texts: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Event(e) => match &e.body {
                EventBody::Danmaku { text, .. } => Some(text.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["m3"]);
    assert!(msgs.iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::Error { code: ErrorCode::SlowMode, message, .. }) if message.contains("3 messages a minute")
    )));
    h.text(host, json!({"type":"settings","user_rate_per_min":0}));
    h.take(a);
    for i in 0..3 {
        h.say(a, &format!("free {i}"));
        h.advance(2_000);
    }
    assert_eq!(h.errors(a), Vec::<ErrorCode>::new());
}

#[test]
fn mods_only_mode_silences_viewers() {
    let mut h = Harness::new();
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    h.text(m, json!({"type":"settings","mods_only":true}));
    h.take(a);
    h.say(a, "hi");
    assert_eq!(h.errors(a), [ErrorCode::ModsOnly]);
    h.say(m, "only us");
    assert_eq!(danmaku_texts(&h.events(a)), ["only us"]);
}

#[test]
fn per_user_rate_limit_then_flood_closes_the_connection() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for i in 0..5 {
        h.say(a, &format!("m{i}"));
    }
    h.say(a, "one too many");
    assert_eq!(h.errors(a), [ErrorCode::RateLimited]);
    // The connection bucket (burst 30) runs dry; 20 refusals in 10 s close it.
    for _ in 0..60 {
        h.text(a, json!({"type":"ping"}));
    }
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::Flood));
    assert!(h.room.stats().closed_for_abuse >= 1);
}
