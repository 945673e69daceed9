//! The room server's network edge over real sockets on 127.0.0.1, attacked the way a review
//! attacked it: unauthenticated upgrades to new room names, half-sent requests, forged
//! `X-Forwarded-For` from a loopback peer, cross-site and DNS-rebinding requests, more
//! connections than the caps allow. Each attack is refused with a clear HTTP error and leaves
//! nothing behind (no room thread, descriptor or database row).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use futures_util::SinkExt;
use marquee_room::protocol::Role;
use marquee_room::server::{Caps, ServerConfig, ServerHandle, start};
use marquee_room::store::{SqliteStore, Storage};
use marquee_room::token::{self, Claims};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &[u8] = b"edge-test-secret-0123456789";

/// One test at a time: they count this process's room threads and descriptors.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const ADMIN: &str = "admin-key-for-the-edge-tests";

fn tok(room: &str, user: &str, role: Role) -> String {
    token::sign(
        SECRET,
        &Claims {
            room: room.into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    )
}

fn config(db: &tempfile::TempDir) -> ServerConfig {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), SECRET.to_vec());
    cfg.db = Some(db.path().join("room.db"));
    cfg.admin_key = Some(ADMIN.as_bytes().to_vec());
    cfg
}

/// An upgrade to `ws://ADDR/room/ROOM/ws` with extra headers: the socket, or the refusal's
/// status and body.
async fn upgrade(
    addr: SocketAddr,
    room: &str,
    headers: &[(&'static str, String)],
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    (u16, String),
> {
    let mut req = format!("ws://{addr}/room/{room}/ws")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err((
            res.status().as_u16(),
            String::from_utf8_lossy(res.body().as_deref().unwrap_or_default()).to_string(),
        )),
        Err(e) => panic!("upgrade to {room}: {e}"),
    }
}

fn bearer(credential: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {credential}"))
}

/// A plain HTTP/1.1 request (`Connection: close`): status and body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// Threads of this process running a room (named `room-NAME`).
fn room_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("room-"))
        })
        .count()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Wait (up to 10 s) until `f` holds; whether it did.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

async fn welcome(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    hello: String,
) {
    use futures_util::StreamExt;
    ws.send(Message::Text(hello.into())).await.unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("welcome in time")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = m {
            assert!(!t.contains(r#""type":"error""#), "{t}");
            if t.contains(r#""type":"welcome""#) {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_upgrades_to_new_room_names_create_no_room_thread_descriptor_or_row() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let h = start(config(&db)).await.unwrap();
    let addr = h.addr();
    // The first refusal opens the server's one lookup handle on its database; every later one
    // must leave the process exactly as it found it.
    let (status, body) = upgrade(addr, "warmup", &[]).await.unwrap_err();
    assert_eq!(status, 404);
    assert!(
        body.contains("a room opens when its host connects"),
        "{body}"
    );
    assert!(eventually(|| h.stats().connections_open.load(Relaxed) == 0).await);
    let fds = open_fds();

    // 300 upgrades to new names, 6 at a time (under the per-address handshake cap, even with
    // the previous batch's sockets still closing).
    for batch in 0..50 {
        let names: Vec<String> = (0..6).map(|i| format!("spam-{batch}-{i}")).collect();
        let tries = names.iter().map(|n| upgrade(addr, n, &[]));
        for r in futures_util::future::join_all(tries).await {
            assert_eq!(r.unwrap_err().0, 404);
        }
    }
    // A viewer's token (valid, for that very room) does not open it either, nor a forged host.
    let (status, body) = upgrade(addr, "spam-v", &[bearer(&tok("spam-v", "v", Role::Viewer))])
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(body.contains("viewer token cannot open"), "{body}");
    let forged = token::sign(
        b"not-the-server-secret-000",
        &Claims {
            room: "spam-f".into(),
            user: "x".into(),
            name: "x".into(),
            role: Role::Host,
            exp_ms: u64::MAX,
        },
    );
    assert_eq!(
        upgrade(addr, "spam-f", &[bearer(&forged)])
            .await
            .unwrap_err()
            .0,
        403
    );

    assert_eq!(h.stats().rooms_opened.load(Relaxed), 0, "no room started");
    assert_eq!(h.stats().refused_rooms.load(Relaxed), 303);
    assert_eq!(room_threads(), 0, "no room thread");
    assert!(
        eventually(|| open_fds() <= fds).await,
        "descriptors: {} before, {} after",
        fds,
        open_fds()
    );
    let mut store = SqliteStore::open(db.path().join("room.db")).unwrap();
    for name in ["spam-0-0", "spam-49-5", "spam-v", "spam-f", "warmup"] {
        assert!(!store.has_room(name).unwrap(), "{name} has no database row");
    }

    // Its host opens a room with its token (and that is all it takes).
    let mut ws = upgrade(addr, "show", &[bearer(&tok("show", "host", Role::Host))])
        .await
        .unwrap();
    welcome(
        &mut ws,
        format!(
            r#"{{"type":"hello","token":"{}"}}"#,
            tok("show", "host", Role::Host)
        ),
    )
    .await;
    assert_eq!(h.stats().rooms_opened.load(Relaxed), 1);
    assert_eq!(room_threads(), 1);
    assert!(store.has_room("show").unwrap());
    // Once it exists, a plain viewer joins it.
    let mut viewer = upgrade(addr, "show", &[]).await.unwrap();
    welcome(&mut viewer, r#"{"type":"hello","nickname":"ann"}"#.into()).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_key_creates_a_room_over_http_and_nothing_else_does() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let h = start(config(&db)).await.unwrap();
    let addr = h.addr();
    let put = |path: &'static str, cred: Option<String>| async move {
        let headers: Vec<(&str, String)> = cred
            .map(|c| ("Authorization", format!("Bearer {c}")))
            .into_iter()
            .collect();
        http(addr, "PUT", path, &headers).await
    };
    assert_eq!(put("/api/rooms/premiere", None).await.0, 404);
    assert_eq!(
        put(
            "/api/rooms/premiere",
            Some("wrong-admin-key-xxxxxxxx".into())
        )
        .await
        .0,
        403
    );
    assert_eq!(
        put(
            "/api/rooms/premiere",
            Some(tok("premiere", "m", Role::Moderator))
        )
        .await
        .0,
        403
    );
    assert_eq!(h.stats().rooms_opened.load(Relaxed), 0);
    let (status, body) = put("/api/rooms/premiere", Some(ADMIN.into())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        put("/api/rooms/encore", Some(tok("encore", "host", Role::Host)))
            .await
            .0,
        200
    );
    assert_eq!(h.stats().rooms_opened.load(Relaxed), 2);
    // Viewers join the created room before its host comes.
    let mut v = upgrade(addr, "premiere", &[]).await.unwrap();
    welcome(&mut v, r#"{"type":"hello","nickname":"early"}"#.into()).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_on_rooms_and_connections_refuse_with_the_reason() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let mut cfg = config(&db);
    cfg.caps = Caps {
        max_rooms: 2,
        max_connections: 5,
        max_room_connections: 3,
        max_connections_per_address: 4,
        ..Caps::default()
    };
    let h = start(cfg).await.unwrap();
    let addr = h.addr();
    h.create_room("a").unwrap();
    h.create_room("b").unwrap();
    let (status, body) = upgrade(addr, "c", &[bearer(&tok("c", "host", Role::Host))])
        .await
        .unwrap_err();
    assert_eq!(status, 503);
    assert!(body.contains("maximum of 2 rooms"), "{body}");
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(upgrade(addr, "a", &[]).await.unwrap());
    }
    let (status, body) = upgrade(addr, "a", &[]).await.unwrap_err();
    assert_eq!(status, 503);
    assert!(body.contains("\"a\" is full (3 connections)"), "{body}");
    held.push(upgrade(addr, "b", &[]).await.unwrap());
    let (status, body) = upgrade(addr, "b", &[]).await.unwrap_err();
    assert_eq!(status, 429);
    assert!(
        body.contains("too many connections from 127.0.0.1 (at most 4)"),
        "{body}"
    );
    // A connection that ends gives its place back.
    drop(held.pop());
    assert!(eventually(|| h.stats().connections_open.load(Relaxed) == 3).await);
    let back = async {
        loop {
            if let Ok(ws) = upgrade(addr, "b", &[]).await {
                return ws;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    held.push(
        tokio::time::timeout(Duration::from_secs(10), back)
            .await
            .unwrap(),
    );
    assert!(h.stats().refused_caps.load(Relaxed) >= 1);
    assert!(h.stats().refused_rooms.load(Relaxed) >= 2);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_room_stops_frees_its_thread_and_place_and_reopens_from_storage() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let mut cfg = config(&db);
    cfg.idle_room = Duration::from_millis(200);
    cfg.caps.max_rooms = 1;
    let h = start(cfg).await.unwrap();
    let addr = h.addr();
    let host = tok("first", "host", Role::Host);
    let mut ws = upgrade(addr, "first", &[bearer(&host)]).await.unwrap();
    welcome(&mut ws, format!(r#"{{"type":"hello","token":"{host}"}}"#)).await;
    assert_eq!(room_threads(), 1);
    // Full: a second room waits for the first to go idle.
    let second = tok("second", "host", Role::Host);
    assert_eq!(
        upgrade(addr, "second", &[bearer(&second)])
            .await
            .unwrap_err()
            .0,
        503
    );
    drop(ws);
    assert!(
        eventually(|| h.stats().rooms_open.load(Relaxed) == 0 && room_threads() == 0).await,
        "the idle room's thread is gone"
    );
    // Its place is free: another room opens.
    let mut ws2 = upgrade(addr, "second", &[bearer(&second)]).await.unwrap();
    welcome(
        &mut ws2,
        format!(r#"{{"type":"hello","token":"{second}"}}"#),
    )
    .await;
    drop(ws2);
    assert!(eventually(|| room_threads() == 0).await);
    // The first room's data stayed: a plain viewer reopens it (it exists, so no token needed).
    let mut viewer = upgrade(addr, "first", &[]).await.unwrap();
    welcome(&mut viewer, r#"{"type":"hello","nickname":"late"}"#.into()).await;
    assert_eq!(h.stats().rooms_opened.load(Relaxed), 3);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_by_the_header_timeout() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let mut cfg = config(&db);
    cfg.caps.header_timeout = Duration::from_millis(1_500);
    // Let all 200 in, so that it is the timeout that closes them.
    cfg.caps.max_handshakes_per_address = 1_000;
    cfg.caps.max_connections_per_address = 1_000;
    let h = start(cfg).await.unwrap();
    let addr = h.addr();
    let started = Instant::now();
    let mut socks = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /room/demo/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
            .await
            .unwrap();
        socks.push(s);
    }
    let closed = socks.into_iter().map(|mut s| async move {
        let mut buf = [0u8; 512];
        // Closed: end of stream (or a reset); still open after 20 s: the attack holds it.
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    });
    let results = futures_util::future::join_all(closed).await;
    assert_eq!(
        results.iter().filter(|c| **c).count(),
        200,
        "every half-sent request closed"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1_400),
        "closed by the timeout, not before"
    );
    assert!(eventually(|| h.stats().header_timeouts.load(Relaxed) == 200).await);

    // With the default caps, one address holds at most 16 of them: the rest are told at once.
    let db = tempfile::tempdir().unwrap();
    let h = start(config(&db)).await.unwrap();
    let mut socks = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
        let _ = s
            .write_all(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await;
        socks.push(s);
    }
    // Read them all at once: the held ones only close at the 10 s timeout.
    let outcomes = socks.into_iter().map(|mut s| async move {
        let mut buf = Vec::new();
        match tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await {
            Err(_) => None,
            Ok(_) => Some(String::from_utf8_lossy(&buf).to_string()),
        }
    });
    let outcomes = futures_util::future::join_all(outcomes).await;
    let held = outcomes.iter().filter(|o| o.is_none()).count();
    let told = outcomes
        .iter()
        .flatten()
        .filter(|r| r.starts_with("HTTP/1.1 429 Too Many Requests"))
        .count();
    assert_eq!(held, Caps::default().max_handshakes_per_address);
    assert_eq!(told, 200 - held, "every refused socket was told why");
    assert_eq!(h.stats().refused_caps.load(Relaxed), 184);
}

/// `GET /healthz` on a kept-alive connection: the status, once the whole answer is read.
async fn keep_alive_get(s: &mut tokio::net::TcpStream, addr: SocketAddr) -> u16 {
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before answering: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .expect("a content length");
                if body.len() >= len {
                    return text.split(' ').nth(1).unwrap().parse().unwrap();
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("answered in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_from_one_address_are_served_under_the_default_caps_but_a_flood_of_half_sent_requests_is_refused()
 {
    let _serial = SERIAL.lock().await;
    let caps = Caps::default();
    let db = tempfile::tempdir().unwrap();
    let h = start(config(&db)).await.unwrap();
    h.create_room("r").unwrap();
    let addr = h.addr();
    // Four browsers on one machine (or behind one NAT), six keep-alive connections each (a
    // browser's pool per host): more idle connections than the handshake cap allows heads.
    let pool = 4 * 6;
    assert!(pool > caps.max_handshakes_per_address && pool < caps.max_connections_per_address);
    let mut idle = Vec::new();
    for _ in 0..pool {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(keep_alive_get(&mut s, addr).await, 200);
        idle.push(s);
    }
    // All idle at once; each one's next request is served, and a page's WebSocket opens.
    for s in &mut idle {
        assert_eq!(keep_alive_get(s, addr).await, 200);
    }
    let mut ws = upgrade(addr, "r", &[]).await.unwrap();
    welcome(&mut ws, r#"{"type":"hello","nickname":"tab"}"#.into()).await;
    assert_eq!(h.stats().refused_caps.load(Relaxed), 0);
    h.shutdown().await;

    // A flood of half-sent requests from one address: the handshake cap holds heads, the
    // rest are told why at once.
    let db = tempfile::tempdir().unwrap();
    let h = start(config(&db)).await.unwrap();
    let mut socks = Vec::new();
    for _ in 0..caps.max_connections_per_address {
        let mut s = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
        s.write_all(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        socks.push(s);
    }
    let outcomes = socks.into_iter().map(|mut s| async move {
        let mut buf = Vec::new();
        match tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await {
            Err(_) => None,
            Ok(_) => Some(String::from_utf8_lossy(&buf).to_string()),
        }
    });
    let outcomes = futures_util::future::join_all(outcomes).await;
    let held = outcomes.iter().filter(|o| o.is_none()).count();
    let refused = outcomes.iter().flatten().collect::<Vec<_>>();
    assert_eq!(held, caps.max_handshakes_per_address);
    assert_eq!(refused.len(), caps.max_connections_per_address - held);
    for r in refused {
        assert!(
            r.starts_with("HTTP/1.1 429 Too Many Requests")
                && r.contains("too many connections being opened from 127.0.0.1 (at most 16)"),
            "{r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let h = start(config(&db)).await.unwrap();
    let big = "x".repeat(Caps::default().max_header_bytes);
    let (status, _) = http(h.addr(), "GET", "/api/stats", &[("X-Padding", big)]).await;
    assert_eq!(status, 431);
    assert_eq!(http(h.addr(), "GET", "/api/stats", &[]).await.0, 200);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_peer_sending_x_forwarded_for_gets_its_own_address_unless_trusted() {
    let _serial = SERIAL.lock().await;
    let forwarded = |a: &str| ("x-forwarded-for", a.to_string());
    for trusted in [false, true] {
        let db = tempfile::tempdir().unwrap();
        let mut cfg = config(&db);
        cfg.caps.max_connections_per_address = 1;
        if trusted {
            cfg.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        }
        let h = start(cfg).await.unwrap();
        h.create_room("r").unwrap();
        let _first = upgrade(h.addr(), "r", &[forwarded("198.51.100.1")])
            .await
            .unwrap();
        let second = upgrade(h.addr(), "r", &[forwarded("198.51.100.2")]).await;
        if trusted {
            // Through a trusted proxy each forwarded client is itself…
            assert!(second.is_ok());
            let (status, body) = upgrade(h.addr(), "r", &[forwarded("10.0.0.9, 198.51.100.1")])
                .await
                .unwrap_err();
            // …and only the entry the proxy added counts.
            assert_eq!(status, 429);
            assert!(body.contains("from 198.51.100.1"), "{body}");
        } else {
            // A script on this machine is 127.0.0.1, whatever it writes in the header.
            let (status, body) = second.unwrap_err();
            assert_eq!(status, 429);
            assert!(body.contains("from 127.0.0.1"), "{body}");
        }
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_origin_or_a_rebinding_host_is_refused_on_the_websocket_and_api_stats() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let mut cfg = config(&db);
    cfg.allowed_origins = vec!["https://studio.example.org".into()];
    let h = start(cfg).await.unwrap();
    let addr = h.addr();
    h.create_room("main").unwrap();
    let origin = |o: &str| ("origin", o.to_string());
    // A page on another site cannot join the room (and post danmaku the app burns in)…
    let (status, body) = upgrade(addr, "main", &[origin("https://evil.example")])
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(body.contains("cross-site request refused"), "{body}");
    // …nor read the stats.
    let (status, body) = http(
        addr,
        "GET",
        "/api/stats",
        &[("Origin", "https://evil.example".into())],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A DNS-rebinding page calls us by its own name: refused on every route.
    let rebind = format!("rebind.attacker.example:{}", addr.port());
    let (status, body) = http(addr, "GET", "/api/stats", &[("Host", rebind.clone())]).await;
    assert_eq!(status, 403);
    assert!(body.contains("not a name of this server"), "{body}");
    let (status, _) = upgrade(
        addr,
        "main",
        &[
            ("host", rebind.clone()),
            origin(&format!("http://{rebind}")),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 403);
    assert_eq!(h.stats().refused_origin_or_host.load(Relaxed), 4);
    // The server's own page, an allowed origin, and native clients (no Origin) are let in.
    let own = format!("http://127.0.0.1:{}", addr.port());
    assert!(upgrade(addr, "main", &[origin(&own)]).await.is_ok());
    let local = format!("http://localhost:{}", addr.port());
    assert!(
        upgrade(
            addr,
            "main",
            &[
                origin(&local),
                ("host", format!("localhost:{}", addr.port()))
            ]
        )
        .await
        .is_ok()
    );
    assert!(
        upgrade(addr, "main", &[origin("https://studio.example.org")])
            .await
            .is_ok()
    );
    assert!(upgrade(addr, "main", &[]).await.is_ok());
    let (status, body) = http(addr, "GET", "/api/stats", &[("Origin", own)]).await;
    assert_eq!(status, 200);
    assert!(body.contains("connections_open"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_for_one_room_serves_no_other() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let mut cfg = config(&db);
    cfg.only_rooms = Some(vec!["main".into()]);
    let h = start(cfg).await.unwrap();
    let addr = h.addr();
    for cred in [tok("other", "host", Role::Host), ADMIN.to_string()] {
        assert_eq!(
            upgrade(addr, "other", &[bearer(&cred)])
                .await
                .unwrap_err()
                .0,
            404
        );
    }
    assert_eq!(http(addr, "GET", "/room/other", &[]).await.0, 404);
    assert_eq!(
        http(
            addr,
            "PUT",
            "/api/rooms/other",
            &[("Authorization", format!("Bearer {ADMIN}"))]
        )
        .await
        .0,
        404
    );
    assert_eq!(h.stats().rooms_opened.load(Relaxed), 0);
    // Its own room is opened by its host.
    let host = tok("main", "host", Role::Host);
    let mut ws = upgrade(addr, "main", &[bearer(&host)]).await.unwrap();
    welcome(&mut ws, format!(r#"{{"type":"hello","token":"{host}"}}"#)).await;
    assert_eq!(http(addr, "GET", "/room/main", &[]).await.0, 200);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_opens_its_hosts_room_and_a_viewer_waits_for_it() {
    let _serial = SERIAL.lock().await;
    use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
    let db = tempfile::tempdir().unwrap();
    let h: ServerHandle = start(config(&db)).await.unwrap();
    // The viewer comes first: refused (no such room yet), it keeps retrying by itself.
    let mut vcfg = ClientConfig::new(h.ws_url("late")).nickname("fan");
    vcfg.backoff_min = Duration::from_millis(20);
    vcfg.backoff_max = Duration::from_millis(100);
    let mut viewer = RoomClient::connect(vcfg);
    let reason = loop {
        match tokio::time::timeout(Duration::from_secs(10), viewer.recv())
            .await
            .unwrap()
        {
            Some(ClientEvent::Disconnected { reason, .. }) => break reason,
            Some(ClientEvent::Joined { .. }) => panic!("joined a room nobody opened"),
            _ => {}
        }
    };
    assert!(
        reason.contains("404") && reason.contains("no room"),
        "{reason}"
    );
    // The host's client sends its token with the upgrade: the room opens, the viewer gets in.
    let mut host = RoomClient::connect(ClientConfig::new(h.ws_url("late")).token(tok(
        "late",
        "host",
        Role::Host,
    )));
    for c in [&mut host, &mut viewer] {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), c.recv())
                .await
                .unwrap()
            {
                Some(ClientEvent::Joined { .. }) => break,
                Some(ClientEvent::Stopped { reason, .. }) => panic!("{reason}"),
                _ => {}
            }
        }
    }
    h.shutdown().await;
}
