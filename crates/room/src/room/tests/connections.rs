//! Joining: tokens and nicknames, resume and history, the hello timeout, presence, and the
//! ration of new nickname identities per network.

use super::*;

#[test]
fn epoch_is_exact_in_javascript_numbers() {
    for seed in 0..100 {
        let mut cfg = RoomConfig::new("r", SECRET);
        cfg.rng_seed = seed;
        let (room, _) = Room::restore(cfg, Snapshot::default(), T0);
        assert!(room.epoch() > 0 && room.epoch() < (1 << 53));
    }
}

#[test]
fn reconnect_with_last_seq_gets_exactly_missed_events() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    h.say(a, "one");
    let seen = h.events(b);
    let last = seen.last().unwrap().seq;
    h.input(Input::Closed { conn: b });
    h.subscribed.remove(&b);
    for t in ["two", "three", "four"] {
        h.advance(2_000);
        h.say(a, t);
    }
    let b2 = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(
        b2,
        json!({"type":"hello","token":t,"resume":{"epoch":h.room.epoch(),"seq":last}}),
    );
    let msgs = h.take(b2);
    let replay = msgs
        .iter()
        .find_map(|m| match m {
            ServerMsg::Control(Control::Replay { events, .. }) => Some(events.clone()),
            _ => None,
        })
        .expect("a replay");
    assert_eq!(danmaku_texts(&replay), ["two", "three", "four"]);
    let seqs: Vec<u64> = replay.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (last + 1..=h.room.last_seq()).collect::<Vec<_>>());
    assert!(
        !msgs
            .iter()
            .any(|m| matches!(m, ServerMsg::Control(Control::History { .. })))
    );
}

#[test]
fn resume_from_other_epoch_or_outside_window_is_not_recoverable() {
    let mut h = Harness::new();
    h.room.base.cfg.resume_window = 3;
    let a = h.join("alice", Role::Viewer);
    for i in 0..6 {
        h.advance(2_000);
        h.say(a, &format!("m{i}"));
    }
    let epoch = h.room.epoch();
    for resume in [
        json!({"epoch": epoch + 1, "seq": 5}),
        json!({"epoch": epoch, "seq": 1}),
        json!({"epoch": epoch, "seq": 99}),
    ] {
        let c = h.open();
        let t = h.token("bob", Role::Viewer);
        h.text(c, json!({"type":"hello","token":t,"resume":resume}));
        let msgs = h.take(c);
        assert!(
            msgs.iter()
                .any(|m| matches!(m, ServerMsg::Control(Control::NotRecoverable { .. }))),
            "{resume}: {msgs:?}"
        );
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, ServerMsg::Control(Control::Replay { .. })))
        );
        let history = msgs.iter().find_map(|m| match m {
            ServerMsg::Control(Control::History { events, .. }) => Some(events.clone()),
            _ => None,
        });
        assert_eq!(danmaku_texts(&history.unwrap()), ["m3", "m4", "m5"]);
    }
}

#[test]
fn resume_survives_a_restart_with_the_same_epoch() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    h.say(a, "before");
    let (epoch, seq) = (h.room.epoch(), h.room.last_seq());
    h.advance(2_000);
    h.say(a, "missed");
    let mut h = h.restart();
    assert_eq!(h.room.epoch(), epoch);
    let c = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(
        c,
        json!({"type":"hello","token":t,"resume":{"epoch":epoch,"seq":seq}}),
    );
    let replay = h.take(c).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::Replay { events, .. }) => Some(events),
        _ => None,
    });
    assert_eq!(danmaku_texts(&replay.unwrap()), ["missed"]);
    h.say(c, "after");
    assert_eq!(h.room.last_seq(), seq + 2);
}

#[test]
fn expired_or_forged_tokens_are_refused() {
    let mut h = Harness::new();
    let c = h.open();
    let expired = token::sign(
        SECRET,
        &Claims {
            room: "r1".into(),
            user: "x".into(),
            name: "x".into(),
            role: Role::Host,
            exp_ms: h.now - 1,
        },
    );
    h.text(c, json!({"type":"hello","token":expired}));
    let forged = token::sign(
        b"not-the-room-secret!!",
        &Claims {
            room: "r1".into(),
            user: "x".into(),
            name: "x".into(),
            role: Role::Host,
            exp_ms: h.now + 1000,
        },
    );
    h.text(c, json!({"type":"hello","token":forged}));
    h.text(c, json!({"type":"danmaku","text":"sneaky"}));
    assert_eq!(
        h.errors(c),
        [
            ErrorCode::TokenExpired,
            ErrorCode::Unauthorized,
            ErrorCode::NotJoined
        ]
    );
    assert!(!h.subscribed.contains(&c));
}

#[test]
fn nickname_viewer_gets_a_viewer_token_that_works_next_time() {
    let mut h = Harness::new();
    let c = h.open();
    h.text(c, json!({"type":"hello","nickname":"小明"}));
    let (user, tok) = h
        .take(c)
        .into_iter()
        .find_map(|m| match m {
            ServerMsg::Control(Control::Welcome { user, token, .. }) => Some((user, token)),
            _ => None,
        })
        .unwrap();
    assert_eq!(user.role, Role::Viewer);
    assert_eq!(user.name, "小明");
    let claims = token::verify(SECRET, &tok.unwrap(), "r1", h.now).unwrap();
    assert_eq!(claims.user, user.id);
    assert_eq!(claims.role, Role::Viewer);
    h.text(
        c,
        json!({"type":"poll_start","question":"q","options":["a","b"],"duration_s":30}),
    );
    assert_eq!(h.errors(c), [ErrorCode::Forbidden]);
}

#[test]
fn connection_without_hello_is_closed_after_the_timeout() {
    let mut h = Harness::new();
    let c = h.open();
    h.advance(11_000);
    assert_eq!(h.closed.get(&c).map(|c| c.0), Some(ErrorCode::NotJoined));
}

#[test]
fn presence_is_aggregated_not_one_event_per_join() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.advance(1_000);
    h.take(host);
    for i in 0..50 {
        h.join(&format!("v{i}"), Role::Viewer);
    }
    assert!(
        h.take(host).is_empty(),
        "joins are not broadcast one by one"
    );
    h.advance(1_000);
    let p: Vec<ServerMsg> = h.take(host);
    assert_eq!(p.len(), 1);
    match &p[0] {
        ServerMsg::Control(Control::Presence {
            viewers,
            joins,
            joined,
            ..
        }) => {
            assert_eq!(*viewers, 51);
            assert_eq!(*joins, 50);
            assert!(joined.len() <= 10);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nickname_identities_per_network_are_rate_limited_and_a_kept_token_still_votes_once() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let poll = start_poll(&mut h, host, false);
    let burst = h.room.config().nick_issue_burst as usize;
    // A script opening fresh nickname identities from one address: `burst` of them, then no more.
    let mut first = None;
    for i in 0..burst {
        let (c, t) = h.nickname_join("203.0.113.7", &format!("bot{i}")).unwrap();
        h.text(c, json!({"type":"vote","poll":poll,"option":0}));
        assert!(h.errors(c).is_empty());
        first.get_or_insert(t);
    }
    assert_eq!(
        h.nickname_join("203.0.113.7", "one-more"),
        Err(ErrorCode::RateLimited)
    );
    // The same /64 is the same network; another address is not.
    for (ip, limited) in [
        ("2001:db8:1:2::1", false),
        ("2001:db8:1:2::ffff", false),
        ("198.51.100.9", false),
    ] {
        assert_eq!(h.nickname_join(ip, "x").is_err(), limited, "{ip}");
    }
    for _ in 2..burst {
        h.nickname_join("2001:db8:1:2:aaaa::1", "v6").unwrap();
    }
    assert_eq!(
        h.nickname_join("2001:db8:1:2:bbbb::2", "v6"),
        Err(ErrorCode::RateLimited)
    );
    // The first bot rejoins with its kept token (as the viewer page does): never limited, and
    // still the same voter.
    let c = h.open_from(Some("203.0.113.7"));
    let t = first.unwrap();
    h.text(c, json!({"type":"hello","token":t}));
    assert!(h.subscribed.contains(&c));
    h.take(c);
    h.text(c, json!({"type":"vote","poll":poll,"option":1}));
    assert_eq!(h.errors(c), [ErrorCode::AlreadyVoted]);
    // The bucket refills with time: one more identity after 1 / rate seconds.
    let wait = (1000.0 / h.room.config().nick_issue_rate_per_s) as u64;
    h.advance(wait);
    h.nickname_join("203.0.113.7", "later").unwrap();
    assert_eq!(
        h.nickname_join("203.0.113.7", "later2"),
        Err(ErrorCode::RateLimited)
    );
}

#[test]
fn tracked_networks_are_bounded_and_forgotten_once_refilled() {
    let mut cfg = RoomConfig::new("r1", SECRET);
    cfg.max_tracked_networks = 3;
    let (mut room, _) = Room::restore(cfg, Snapshot::default(), T0);
    let mut conn = 0;
    let mut hello = |room: &mut Room, ip: &str, now: u64| -> bool {
        conn += 1;
        room.handle(
            Input::Open {
                conn,
                ip: Some(ip.parse().unwrap()),
            },
            now,
        );
        let out = room.handle(
            Input::Text {
                conn,
                text: r#"{"type":"hello","nickname":"n"}"#,
            },
            now,
        );
        out.iter().any(|a| matches!(a, Action::Subscribe { .. }))
    };
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert!(hello(&mut room, ip, T0));
    }
    // Full, and nobody has refilled yet: a new network is refused, known ones still work.
    assert!(!hello(&mut room, "10.0.0.4", T0));
    assert!(hello(&mut room, "10.0.0.1", T0));
    // Once their buckets have refilled they are forgotten and make room.
    let refill = (1000.0 * 2.0 / room.config().nick_issue_rate_per_s) as u64;
    room.handle(Input::Tick, T0 + refill);
    assert!(hello(&mut room, "10.0.0.4", T0 + refill));
}

#[test]
fn a_nickname_that_claims_a_role_is_refused_and_badges_come_from_the_role() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    for nick in [
        "Host",
        "主播",
        "房\u{200b}管",
        "Ｍｏｄｅｒａｔｏｒ",
        "Admin",
        "官方",
        "The H0st",
    ] {
        assert_eq!(
            h.nickname_join("203.0.113.9", nick).map(|_| ()),
            Err(ErrorCode::ReservedName),
            "{nick}"
        );
    }
    // The refusals cost no nickname identity, and the connection may try another name.
    let c = h.open_from(Some("203.0.113.9"));
    h.text(c, json!({"type":"hello","nickname":"Host"}));
    assert_eq!(h.errors(c), [ErrorCode::ReservedName]);
    h.text(c, json!({"type":"hello","nickname":"Ghost"}));
    assert!(h.subscribed.contains(&c));
    h.take(c);
    // What everyone sees: the role the room gave, whatever the name.
    h.say(c, "hi");
    h.say(host, "welcome");
    let roles: Vec<(String, Role)> = h
        .events(host)
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Danmaku { user, .. } => Some((user.name, user.role)),
            _ => None,
        })
        .collect();
    assert_eq!(
        roles,
        [("Ghost".into(), Role::Viewer), ("HOST".into(), Role::Host)]
    );
}
