//! bilibili's open platform against a local stand-in (support/bili_open.rs): the signed start,
//! the long connection's login and commands as unified events, the project heartbeat, the
//! refusals, a dropped connection, and the end on stop.
#![allow(clippy::unwrap_used)]

mod support;

use marquee_chat::bilibili::open::sign::AccessKey;
use marquee_chat::bilibili::open::{BilibiliOpen, OpenConfig};
use marquee_chat::bilibili::packet::{self, Reassembler};
use marquee_chat::{ChatHandle, ChatSource, EventBody, Input, Output, SourceState, User};
use std::time::{Duration, Instant};
use support::bili_open::{self as open, APP_ID, CODE, GAME_ID, KEY_ID, KEY_SECRET};
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn config(api: &str, secret: &str, code: &str) -> OpenConfig {
    let key = AccessKey {
        id: KEY_ID.into(),
        secret: secret.into(),
    };
    let mut cfg = OpenConfig::new(APP_ID, key, code);
    cfg.api = api.to_string();
    cfg
}

/// The stand-in API handing out `wss` as its long connection, and its requests.
async fn api(
    wss: String,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<support::HttpRequest>,
) {
    http_server_with(move |r| open::answer(r, &wss)).await
}

/// Reads the client's auth packet and accepts it.
async fn login(ws: &mut Ws) {
    let Message::Binary(b) = next_msg(ws).await else {
        panic!("the first frame is binary");
    };
    let mut packets = Vec::new();
    Reassembler::default().push(&b, &mut packets).unwrap();
    assert_eq!(packets[0].op, packet::OP_AUTH);
    assert_eq!(packets[0].body, open::AUTH_BODY.as_bytes());
    let reply = packet::encode(packet::VER_PLAIN, packet::OP_AUTH_REPLY, br#"{"code":0}"#);
    send_bin(ws, reply).await;
}

fn message(cmd: &str) -> Vec<u8> {
    packet::encode(packet::VER_PLAIN, packet::OP_MESSAGE, cmd.as_bytes())
}

async fn until_live(h: &mut ChatHandle) -> Vec<EventBody> {
    events_until(h, |b| is_state(b, |s| matches!(s, SourceState::Live))).await
}

#[tokio::test]
async fn the_documented_commands_arrive_as_unified_events_with_real_names() {
    let (wss, mut conns) = ws_server().await;
    let (base, mut requests) = api(wss).await;
    let mut h = marquee_chat::spawn(
        Box::new(BilibiliOpen::new(config(&base, KEY_SECRET, CODE))),
        fast(),
    );
    let mut ws = accept(&mut conns).await;
    login(&mut ws).await;
    let before = until_live(&mut h).await;
    assert!(
        before
            .iter()
            .any(|b| matches!(b, EventBody::Notice { text, .. } if text.contains("4639581"))),
        "{before:?}"
    );
    let start = requests.recv().await.unwrap();
    assert_eq!(start.path, "/v2/app/start");
    for cmd in [
        open::DM,
        open::GIFT,
        open::SUPER_CHAT,
        open::GUARD,
        open::LIKE,
    ] {
        send_bin(&mut ws, message(cmd)).await;
    }
    send_bin(&mut ws, message(open::SUPER_CHAT_DEL)).await;

    let EventBody::Message { id, user, text, .. } = next_event(&mut h).await.body else {
        panic!("a danmaku first")
    };
    assert_eq!(text, "你们谁扔个小心心呗");
    assert_eq!(id.as_deref(), Some("eb805544-0cf2-4688-bca1-88299e5344bf"));
    assert_eq!(
        user,
        User {
            id: Some("39b8fedb-60a5-4e29-ac75-b16955f7e632".into()),
            name: "猫裙少年泽远喵".into(),
            badges: vec!["medal:官方 21".into()],
            colour: None,
            masked: false,
        }
    );
    let EventBody::Gift {
        user,
        gift,
        count,
        value,
    } = next_event(&mut h).await.body
    else {
        panic!("then a gift")
    };
    assert_eq!((gift.as_str(), count), ("小花花", 5));
    assert_eq!(user.name, "不忘韩文初心");
    assert!(user.badges.contains(&"舰长".to_string()));
    let value = value.expect("a paid gift has a value");
    assert!((value.amount - 0.5).abs() < 1e-9, "{value:?}");
    assert_eq!(value.currency, "CNY");
    let EventBody::SuperChat {
        id,
        text,
        value,
        duration_s,
        ..
    } = next_event(&mut h).await.body
    else {
        panic!("then a super chat")
    };
    assert_eq!(
        (id.as_deref(), text.as_str(), value.amount, duration_s),
        (Some("3992851"), "进行一个鱼的摸", 30.0, Some(60))
    );
    let EventBody::Membership {
        user,
        level,
        months,
        value,
    } = next_event(&mut h).await.body
    else {
        panic!("then a guard")
    };
    assert_eq!(
        (user.name.as_str(), level.as_str(), months),
        ("你的魔法", "舰长", Some(1))
    );
    assert_eq!(value.map(|v| v.amount), Some(198.0));
    assert!(matches!(
        next_event(&mut h).await.body,
        EventBody::Interaction {
            action: marquee_chat::Interaction::Like,
            ..
        }
    ));
    assert_eq!(
        next_event(&mut h).await.body,
        EventBody::MessageDeleted {
            id: "3992851".into(),
            user: None
        }
    );

    h.shutdown(Duration::from_secs(10)).await;
    let end = tokio::time::timeout(Duration::from_secs(10), requests.recv())
        .await
        .expect("the end within 10 s")
        .unwrap();
    assert_eq!(end.path, "/v2/app/end", "stopping ends the session");
    assert!(end.body.contains(GAME_ID) && open::signature_ok(&end, KEY_SECRET));
}

#[tokio::test]
async fn a_wrong_code_fails_with_what_to_do_and_never_shows_the_code() {
    let (wss, _conns) = ws_server().await;
    let (base, _requests) = api(wss).await;
    let mut h = marquee_chat::spawn(
        Box::new(BilibiliOpen::new(config(
            &base,
            KEY_SECRET,
            "WRONGCODE1234",
        ))),
        fast(),
    );
    let reason = failure(&mut h).await;
    assert!(
        reason.contains("身份码") && reason.contains("7007"),
        "{reason}"
    );
    assert!(
        reason.contains("marquee chat login bilibili-open"),
        "{reason}"
    );
    assert!(!reason.contains("WRONGCODE1234") && !reason.contains(KEY_SECRET));
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_said_so() {
    let (wss, _conns) = ws_server().await;
    let (base, mut requests) = api(wss).await;
    let wrong = "ffffffffffffffffffffffffffffffff";
    let mut h = marquee_chat::spawn(
        Box::new(BilibiliOpen::new(config(&base, wrong, CODE))),
        fast(),
    );
    let reason = failure(&mut h).await;
    assert!(
        reason.contains("signature") && reason.contains("4002"),
        "{reason}"
    );
    assert!(!reason.contains(wrong));
    let req = requests.recv().await.unwrap();
    assert!(!open::signature_ok(&req, KEY_SECRET));
    assert!(
        open::signature_ok(&req, wrong),
        "signed, with the wrong secret"
    );
}

/// The source's long connection accepted and live, then dropped by the server: returns once
/// the source says it is reconnecting.
async fn live_then_dropped(h: &mut ChatHandle, conns: &mut tokio::sync::mpsc::Receiver<Ws>) {
    let mut ws = accept(conns).await;
    login(&mut ws).await;
    until_live(h).await;
    drop(ws);
    events_until(h, |b| {
        is_state(b, |s| matches!(s, SourceState::Reconnecting { .. }))
    })
    .await;
}

#[tokio::test]
async fn a_dropped_connection_reconnects_with_the_same_session() {
    let (wss, mut conns) = ws_server().await;
    let (base, mut requests) = api(wss).await;
    let mut h = marquee_chat::spawn(
        Box::new(BilibiliOpen::new(config(&base, KEY_SECRET, CODE))),
        fast(),
    );
    live_then_dropped(&mut h, &mut conns).await;
    let mut ws = accept(&mut conns).await;
    login(&mut ws).await;
    until_live(&mut h).await;
    send_bin(&mut ws, message(open::DM)).await;
    assert!(matches!(
        next_event(&mut h).await.body,
        EventBody::Message { .. }
    ));
    let mut starts = 0;
    while let Ok(r) = requests.try_recv() {
        starts += usize::from(r.path == "/v2/app/start");
    }
    assert_eq!(starts, 1, "the session outlives the connection");
}

#[tokio::test]
async fn the_project_heartbeat_goes_on_while_the_long_connection_waits_to_reconnect() {
    let (wss, mut conns) = ws_server().await;
    let (base, mut requests) = api(wss).await;
    let mut cfg = config(&base, KEY_SECRET, CODE);
    cfg.game_heartbeat = Duration::from_millis(100);
    // A backoff far longer than the heartbeat (bilibili would end the session meanwhile):
    // jittered, it lasts 2.5 to 5 s.
    let wait = Duration::from_secs(5);
    let driver = marquee_chat::DriverConfig {
        backoff_min: wait,
        backoff_max: wait,
        ..fast()
    };
    let mut h = marquee_chat::spawn(Box::new(BilibiliOpen::new(cfg)), driver);
    live_then_dropped(&mut h, &mut conns).await;
    while requests.try_recv().is_ok() {}
    // Three heartbeats arrive before the long connection is tried again.
    let mut beats = 0;
    while beats < 3 {
        let r = tokio::time::timeout(Duration::from_secs(2), requests.recv())
            .await
            .expect("the project heartbeat goes on during the backoff")
            .unwrap();
        assert_eq!(r.path, "/v2/app/heartbeat", "{}", r.path);
        assert!(r.body.contains(GAME_ID), "{}", r.body);
        beats += 1;
    }
    assert!(
        conns.try_recv().is_err(),
        "the long connection was tried again before its backoff ended"
    );
    // And the same session carries on once it is back.
    let mut ws = accept(&mut conns).await;
    login(&mut ws).await;
    until_live(&mut h).await;
    while let Ok(r) = requests.try_recv() {
        assert_ne!(r.path, "/v2/app/start", "the session was started again");
    }
}

/// The start answer, as the driver would hand it over.
fn started(src: &mut BilibiliOpen, now: Instant) {
    src.connected(now);
    let Some(Output::HttpPost(start)) = src.poll_output() else {
        panic!("a session begins with the start request")
    };
    assert!(start.url.ends_with("/v2/app/start"));
    let req = support::HttpRequest {
        method: "POST".into(),
        path: "/v2/app/start".into(),
        head: String::new(),
        raw_head: start
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect(),
        body: String::from_utf8(start.body).unwrap(),
    };
    let (status, body) = open::answer(&req, "ws://127.0.0.1:1/sub");
    src.handle_input(
        now,
        Input::Http {
            status,
            body: body.as_bytes(),
        },
    );
    while let Some(o) = src.poll_output() {
        if matches!(o, Output::Connect(_)) {
            return;
        }
    }
    panic!("a started session connects");
}

#[test]
fn the_project_heartbeat_goes_out_every_20_s_and_an_expired_session_starts_anew() {
    let t0 = Instant::now();
    let mut src = BilibiliOpen::new(config("http://api.test", KEY_SECRET, CODE));
    started(&mut src, t0);
    assert_eq!(src.game_id(), Some(GAME_ID));
    assert_eq!(src.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    src.handle_timeout(t0 + Duration::from_secs(19));
    assert!(src.poll_output().is_none(), "not before its time");
    let t20 = t0 + Duration::from_secs(20);
    src.handle_timeout(t20);
    let Some(Output::HttpPost(hb)) = src.poll_output() else {
        panic!("the heartbeat at 20 s")
    };
    assert_eq!(hb.url, "http://api.test/v2/app/heartbeat");
    assert_eq!(hb.body, format!(r#"{{"game_id":"{GAME_ID}"}}"#).as_bytes());
    src.handle_input(
        t20,
        Input::Http {
            status: 200,
            body: br#"{"code":0,"message":"0","data":{}}"#,
        },
    );
    assert_eq!(src.poll_timeout(), Some(t0 + Duration::from_secs(40)));
    src.handle_timeout(t0 + Duration::from_secs(40));
    assert!(matches!(src.poll_output(), Some(Output::HttpPost(_))));
    src.handle_input(
        t0 + Duration::from_secs(40),
        Input::Http {
            status: 200,
            body: r#"{"code":7003,"message":"心跳过期"}"#.as_bytes(),
        },
    );
    assert!(matches!(src.poll_output(), Some(Output::Reconnect(_))));
    assert_eq!(
        src.game_id(),
        None,
        "the next connection starts a new session"
    );
}

#[test]
fn damaged_json_anywhere_gives_no_panic_and_later_commands_still_arrive() {
    let now = Instant::now();
    let mut src = BilibiliOpen::new(config("http://api.test", KEY_SECRET, CODE));
    src.connected(now);
    let _ = src.poll_output();
    for body in [
        &b"{\"code\":0,\"data\":{\"websocket_info\":"[..],
        b"\xff\xfe",
        b"null",
        b"[]",
    ] {
        src.handle_input(now, Input::Http { status: 200, body });
        while src.poll_output().is_some() {}
        src.disconnected(now);
        src.connected(now);
        while src.poll_output().is_some() {}
    }
    started(&mut src, now);
    src.connected(now);
    let _ = src.poll_output();
    let reply = packet::encode(packet::VER_PLAIN, packet::OP_AUTH_REPLY, br#"{"code":0}"#);
    src.handle_input(now, Input::Binary(&reply));
    let cut = &open::GIFT[..open::GIFT.len() / 2];
    for broken in [
        cut,
        "{\"cmd\":\"LIVE_OPEN_PLATFORM_DM\",\"data\":",
        "{\"cmd\":7}",
    ] {
        src.handle_input(now, Input::Binary(&message(broken)));
    }
    src.handle_input(now, Input::Binary(&message(open::DM)));
    let events: Vec<_> = std::iter::from_fn(|| src.poll_output()).collect();
    assert!(
        events.iter().any(|o| matches!(o, Output::Event(e) if matches!(&e.body, EventBody::Message { text, .. } if text == "你们谁扔个小心心呗"))),
        "{events:?}"
    );
}

#[test]
fn random_bytes_as_the_start_answer_or_the_long_connection_never_panic() {
    let mut rng = fastrand::Rng::with_seed(15);
    let now = Instant::now();
    for _ in 0..500 {
        let n = rng.usize(..96);
        let mut b: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
        if rng.bool() && b.len() >= 16 {
            // A plausible header, so bodies get decoded too.
            let len = b.len() as u32;
            b[..4].copy_from_slice(&len.to_be_bytes());
            b[4..6].copy_from_slice(&16u16.to_be_bytes());
            b[8..12].copy_from_slice(&packet::OP_MESSAGE.to_be_bytes());
        }
        let mut fresh = BilibiliOpen::new(config("http://api.test", KEY_SECRET, CODE));
        fresh.connected(now);
        while fresh.poll_output().is_some() {}
        fresh.handle_input(
            now,
            Input::Http {
                status: 200,
                body: &b,
            },
        );
        while fresh.poll_output().is_some() {}

        let mut src = BilibiliOpen::new(config("http://api.test", KEY_SECRET, CODE));
        started(&mut src, now);
        src.connected(now);
        for chunk in b.chunks(rng.usize(1..17)) {
            src.handle_input(now, Input::Binary(chunk));
            src.handle_timeout(now);
            while src.poll_output().is_some() {}
        }
    }
}
