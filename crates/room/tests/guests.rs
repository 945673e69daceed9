//! Co-stream guests through the room server (docs/costream.md): the invite routes under a
//! room, over a door set in process (the app's embedded room) or relayed to a hosted room's
//! host over its WebSocket, with the contract's refusals.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ROOM, TempDir, config, raw_join, raw_next, raw_send, server, tok};
use marquee_guestdoor::{DoorReply, DoorRequest, GuestDoor};
use marquee_room::protocol::{Control, ErrorCode, Role, ServerMsg};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// A door that answers every offer with session 7 and remembers what it was asked.
#[derive(Default)]
struct FakeDoor(Mutex<Vec<DoorRequest>>);

impl GuestDoor for FakeDoor {
    fn answer(&self, request: DoorRequest) -> DoorReply {
        self.0.lock().unwrap().push(request.clone());
        match request {
            DoorRequest::Offer { .. } => DoorReply::Answer {
                session: 7,
                sdp: "v=0 answer".into(),
            },
            DoorRequest::Info { .. } => DoorReply::Json {
                body: json!({"slot": 1}),
            },
            DoorRequest::State { .. } => DoorReply::Json {
                body: json!({"state": "on_air"}),
            },
            DoorRequest::Leave { .. } => DoorReply::Left,
        }
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request (`Connection: close`) with a body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    // A refused body may be closed before all of it is written.
    let _ = s.write_all(body).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

const SDP: (&str, &str) = ("content-type", "application/sdp");

fn offer_path() -> String {
    format!("/room/{ROOM}/join/{TOKEN}/whip")
}

fn code(r: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|_| panic!("a JSON refusal, got {} {:?}", r.status, r.body));
    v["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_door_and_no_host_guests_are_told_the_host_is_not_live() {
    let db = TempDir::new("guests-no-door");
    let h = server(config(&db)).await;
    h.create_room(ROOM).unwrap();
    let r = http(h.addr(), "POST", &offer_path(), &[SDP], b"v=0").await;
    assert_eq!((r.status, code(&r).as_str()), (503, "host_not_live"));
    let r = http(
        h.addr(),
        "GET",
        &format!("/room/{ROOM}/join/{TOKEN}/info"),
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (503, "host_not_live"));
    // The page itself loads (it tells the guest the host is not live).
    let r = http(
        h.addr(),
        "GET",
        &format!("/room/{ROOM}/join/{TOKEN}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.head.contains("text/html"), "{}", r.head);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_set_in_process_answers_under_the_room_and_clearing_it_refuses_again() {
    let db = TempDir::new("guests-door");
    let h = server(config(&db)).await;
    h.create_room(ROOM).unwrap();
    let door = Arc::new(FakeDoor::default());
    h.set_guest_door(ROOM, Some(door.clone()));
    let r = http(
        h.addr(),
        "POST",
        &format!("{}?name=Ann", offer_path()),
        &[SDP],
        b"v=0 offer",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.head
            .contains(&format!("location: /room/{ROOM}/join/{TOKEN}/whip/7").to_ascii_lowercase()),
        "{}",
        r.head
    );
    assert!(
        r.head.contains("content-type: application/sdp"),
        "{}",
        r.head
    );
    assert_eq!(r.body, "v=0 answer");
    assert_eq!(
        door.0.lock().unwrap()[0],
        DoorRequest::Offer {
            token: TOKEN.into(),
            name: "Ann".into(),
            sdp: "v=0 offer".into()
        }
    );
    let state = http(h.addr(), "GET", &format!("{}/7", offer_path()), &[], b"").await;
    assert_eq!(
        (state.status, state.body.as_str()),
        (200, r#"{"state":"on_air"}"#)
    );
    let left = http(h.addr(), "DELETE", &format!("{}/7", offer_path()), &[], b"").await;
    assert_eq!(left.status, 200);
    // OBS: the invite as a bearer token on the room's WHIP endpoint.
    let bearer = format!("Bearer {TOKEN}");
    let r = http(
        h.addr(),
        "POST",
        &format!("/room/{ROOM}/whip"),
        &[SDP, ("authorization", &bearer)],
        b"v=0",
    )
    .await;
    assert_eq!(r.status, 201);
    let js = http(
        h.addr(),
        "GET",
        &format!("/room/{ROOM}/join/assets/join.js"),
        &[],
        b"",
    )
    .await;
    assert_eq!(js.status, 200);
    assert!(js.head.contains("text/javascript"), "{}", js.head);
    // A token that is not one is refused before the door.
    let r = http(
        h.addr(),
        "POST",
        &format!("/room/{ROOM}/join/short/whip"),
        &[SDP],
        b"v=0",
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (404, "invite_unknown"));
    h.set_guest_door(ROOM, None);
    let r = http(h.addr(), "POST", &offer_path(), &[SDP], b"v=0").await;
    assert_eq!((r.status, code(&r).as_str()), (503, "host_not_live"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_that_is_not_sdp_is_415_and_one_over_64_kib_is_413() {
    let db = TempDir::new("guests-bounds");
    let h = server(config(&db)).await;
    h.create_room(ROOM).unwrap();
    let door = Arc::new(FakeDoor::default());
    h.set_guest_door(ROOM, Some(door.clone()));
    let r = http(
        h.addr(),
        "POST",
        &offer_path(),
        &[("content-type", "text/plain")],
        b"v=0",
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (415, "not_sdp"));
    let big = vec![b'a'; 64 * 1024 + 1];
    let r = http(h.addr(), "POST", &offer_path(), &[SDP], &big).await;
    assert_eq!((r.status, code(&r).as_str()), (413, "too_large"));
    assert!(
        door.0.lock().unwrap().is_empty(),
        "nothing reached the door"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offer_limit_counts_the_client_a_trusted_proxy_forwards() {
    let db = TempDir::new("guests-limit");
    let mut cfg = config(&db);
    cfg.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let h = server(cfg).await;
    h.create_room(ROOM).unwrap();
    h.set_guest_door(ROOM, Some(Arc::new(FakeDoor::default())));
    let from = |ip: &'static str| ("x-forwarded-for", ip);
    for _ in 0..marquee_guestdoor::OFFERS_PER_MINUTE {
        let r = http(
            h.addr(),
            "POST",
            &offer_path(),
            &[SDP, from("198.51.100.1")],
            b"v=0",
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let r = http(
        h.addr(),
        "POST",
        &offer_path(),
        &[SDP, from("198.51.100.1")],
        b"v=0",
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (429, "too_many"));
    // Another client behind the same proxy is not held back by the first.
    let r = http(
        h.addr(),
        "POST",
        &offer_path(),
        &[SDP, from("198.51.100.2")],
        b"v=0",
    )
    .await;
    assert_eq!(r.status, 201);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_offer_is_refused_and_the_page_origin_or_none_passes() {
    let db = TempDir::new("guests-origin");
    let h = server(config(&db)).await;
    h.create_room(ROOM).unwrap();
    h.set_guest_door(ROOM, Some(Arc::new(FakeDoor::default())));
    let evil = http(
        h.addr(),
        "POST",
        &offer_path(),
        &[SDP, ("origin", "https://evil.example")],
        b"v=0",
    )
    .await;
    assert_eq!(evil.status, 403);
    let own = format!("http://{}", h.addr());
    let r = http(
        h.addr(),
        "POST",
        &offer_path(),
        &[SDP, ("origin", &own)],
        b"v=0",
    )
    .await;
    assert_eq!(r.status, 201, "the guest page is same-origin");
    let r = http(h.addr(), "POST", &offer_path(), &[SDP], b"v=0").await;
    assert_eq!(r.status, 201, "WHIP clients send no Origin");
    h.shutdown().await;
}

/// The host's bare socket, joined with its host token, its guest door open.
async fn host_with_open_door(h: &marquee_room::server::ServerHandle) -> common::Raw {
    let (mut ws, _) = raw_join(
        h,
        json!({"type": "hello", "token": tok("host", Role::Host)}),
    )
    .await
    .unwrap();
    raw_send(&mut ws, json!({"type": "guest_door", "open": true})).await;
    ws
}

/// The next guest request the host is sent.
async fn next_request(ws: &mut common::Raw) -> (u64, DoorRequest) {
    loop {
        match raw_next(ws).await {
            Some(ServerMsg::Control(Control::GuestRequest { id, request })) => {
                return (id, request);
            }
            Some(_) => {}
            None => panic!("closed before a guest request"),
        }
    }
}

/// Retries an HTTP request while it is refused with `host_not_live` (the door frame is on its
/// way to the room).
async fn once_the_door_is_open(addr: SocketAddr, path: String) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http(addr, "GET", &path, &[], b"").await;
        if r.status != 503 || Instant::now() > deadline {
            return r;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosted_room_relays_a_guest_to_its_host_over_the_websocket() {
    let db = TempDir::new("guests-relay");
    let h = server(config(&db)).await;
    h.create_room(ROOM).unwrap();
    let mut host = host_with_open_door(&h).await;
    let addr = h.addr();
    let offer = tokio::spawn(async move {
        // Info first: it waits until the door is open, then the offer.
        let info = once_the_door_is_open(addr, format!("/room/{ROOM}/join/{TOKEN}/info")).await;
        let offer = http(
            addr,
            "POST",
            &format!("{}?name=Bo", offer_path()),
            &[SDP],
            b"v=0 offer",
        )
        .await;
        (info, offer)
    });
    let (id, req) = next_request(&mut host).await;
    assert_eq!(
        req,
        DoorRequest::Info {
            token: TOKEN.into()
        }
    );
    raw_send(
        &mut host,
        json!({"type": "guest_answer", "id": id, "reply": {"result": "json", "body": {"slot": 2}}}),
    )
    .await;
    let (id, req) = next_request(&mut host).await;
    assert_eq!(
        req,
        DoorRequest::Offer {
            token: TOKEN.into(),
            name: "Bo".into(),
            sdp: "v=0 offer".into()
        }
    );
    let answer = "v=0\r\n".to_string() + &"a=x\r\n".repeat(2000);
    raw_send(&mut host, json!({"type": "guest_answer", "id": id, "reply": {"result": "answer", "session": 3, "sdp": answer}})).await;
    let (info, offer) = offer.await.unwrap();
    assert_eq!((info.status, info.body.as_str()), (200, r#"{"slot":2}"#));
    assert_eq!(offer.status, 201, "{}", offer.body);
    assert!(
        offer
            .head
            .contains(&format!("location: /room/{ROOM}/join/{TOKEN}/whip/3").to_ascii_lowercase())
    );
    assert_eq!(
        offer.body, answer,
        "an answer bigger than a viewer's frame limit"
    );
    // The host closes its door (its pong says the room has read that): guests are refused
    // again at once.
    raw_send(&mut host, json!({"type": "guest_door", "open": false})).await;
    raw_send(&mut host, json!({"type": "ping", "t": 1})).await;
    loop {
        match raw_next(&mut host).await {
            Some(ServerMsg::Control(Control::Pong { .. })) => break,
            Some(_) => {}
            None => panic!("closed"),
        }
    }
    let r = http(addr, "POST", &offer_path(), &[SDP], b"v=0").await;
    assert_eq!((r.status, code(&r).as_str()), (503, "host_not_live"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_gets_the_guest_a_504_within_the_relay_timeout() {
    let db = TempDir::new("guests-timeout");
    let mut cfg = config(&db);
    cfg.guest_relay_timeout = Duration::from_millis(300);
    cfg.guest_relay_in_flight = 1;
    let h = server(cfg).await;
    h.create_room(ROOM).unwrap();
    let mut host = host_with_open_door(&h).await;
    let addr = h.addr();
    let first = tokio::spawn(async move {
        let started = Instant::now();
        let r = once_the_door_is_open(addr, format!("/room/{ROOM}/join/{TOKEN}/info")).await;
        (r, started.elapsed())
    });
    // The host is asked and stays silent; meanwhile a second request finds the room's one
    // place in flight taken.
    let _ = next_request(&mut host).await;
    let busy = http(
        addr,
        "GET",
        &format!("/room/{ROOM}/join/{TOKEN}/info"),
        &[],
        b"",
    )
    .await;
    let (r, took) = first.await.unwrap();
    assert_eq!((r.status, code(&r).as_str()), (504, "host_not_responding"));
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        busy.status == 503 && code(&busy) == "host_busy" || busy.status == 504,
        "{} {}",
        busy.status,
        busy.body
    );
    assert!(
        h.stats()
            .guest_relay_timeouts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_can_neither_open_the_door_nor_answer_for_the_host() {
    let db = TempDir::new("guests-viewer");
    let h = server(config(&db)).await;
    h.create_room(ROOM).unwrap();
    let (mut viewer, _) = raw_join(
        &h,
        json!({"type": "hello", "token": tok("v", Role::Viewer)}),
    )
    .await
    .unwrap();
    raw_send(&mut viewer, json!({"type": "guest_door", "open": true})).await;
    let refused = loop {
        match raw_next(&mut viewer).await {
            Some(ServerMsg::Control(Control::Error { code, .. })) => break code,
            Some(_) => {}
            None => panic!("closed"),
        }
    };
    assert_eq!(refused, ErrorCode::Forbidden);
    raw_send(
        &mut viewer,
        json!({"type": "guest_answer", "id": 1, "reply": {"result": "left"}}),
    )
    .await;
    let refused = loop {
        match raw_next(&mut viewer).await {
            Some(ServerMsg::Control(Control::Error { code, .. })) => break code,
            Some(_) => {}
            None => panic!("closed"),
        }
    };
    assert_eq!(refused, ErrorCode::Forbidden);
    let r = http(h.addr(), "POST", &offer_path(), &[SDP], b"v=0").await;
    assert_eq!((r.status, code(&r).as_str()), (503, "host_not_live"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_answering_many_guests_is_not_throttled_by_its_own_message_rate() {
    let db = TempDir::new("guests-host-rate");
    let mut cfg = config(&db);
    cfg.tune = Some(Arc::new(|c| {
        c.conn_rate_per_s = 1.0;
        c.conn_burst = 3.0;
    }));
    let h = server(cfg).await;
    h.create_room(ROOM).unwrap();
    let mut host = host_with_open_door(&h).await;
    let addr = h.addr();
    for i in 0..10 {
        let state = tokio::spawn(async move {
            let path = format!("/room/{ROOM}/join/{TOKEN}/whip/{i}");
            once_the_door_is_open(addr, path).await
        });
        let (id, req) = next_request(&mut host).await;
        assert_eq!(
            req,
            DoorRequest::State {
                token: TOKEN.into(),
                session: i
            }
        );
        raw_send(
            &mut host,
            json!({"type": "guest_answer", "id": id, "reply": {"result": "json", "body": {"n": i}}}),
        )
        .await;
        let r = state.await.unwrap();
        assert_eq!((r.status, r.body), (200, format!(r#"{{"n":{i}}}"#)));
    }
}
