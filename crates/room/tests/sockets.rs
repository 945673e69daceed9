//! The room server over real sockets on 127.0.0.1: many clients, reconnect + resume across a
//! server restart, a gift flood with duplicated idempotency keys across a restart, bad input.
//!
//! The restart here is in-process (the server is shut down and started again on the same port and
//! database). A `kill -9` of a separate process needs the `marquee` binary (wired by the CLI crate).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "common/protocol.rs"]
mod protocol;

use futures_util::{SinkExt, StreamExt};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, ErrorCode, EventBody, Role, ServerMsg};
use marquee_room::server::{Caps, IpNet, ServerConfig, ServerHandle, start};
use marquee_room::store::{SqliteStore, Storage, StorageError, Txn};
use marquee_room::token::{self, Claims};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use protocol::{Deployment, danmaku, joined, say};

const SECRET: &[u8] = b"socket-test-secret-0123456789";

struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mq-room-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(listen: SocketAddr, db: &TempDir) -> ServerConfig {
    let mut cfg = ServerConfig::new(listen, SECRET.to_vec());
    cfg.db = Some(db.0.join("room.db"));
    // Every test client comes from 127.0.0.1 (the caps have tests of their own, tests/edge.rs).
    cfg.caps = Caps::unlimited();
    // Tests drive clients much faster than people type.
    cfg.tune = Some(Arc::new(|c| {
        c.conn_rate_per_s = 5_000.0;
        c.conn_burst = 5_000.0;
        c.user_rate_per_s = 5_000.0;
        c.user_burst = 5_000.0;
        c.gift_rate_per_s = 5_000.0;
        c.gift_burst = 5_000.0;
    }));
    cfg
}

async fn server(db: &TempDir) -> ServerHandle {
    started(config("127.0.0.1:0".parse().unwrap(), db)).await
}

/// A running server with room "demo" created (a room exists only once its host or an admin
/// created it; these tests let viewers in first).
async fn started(cfg: ServerConfig) -> ServerHandle {
    let h = start(cfg).await.unwrap();
    h.create_room("demo").unwrap();
    h
}

/// Start again on the same port (the OS may take a moment to release it).
async fn restart(old: ServerHandle, db: &TempDir) -> ServerHandle {
    let addr = old.addr();
    old.shutdown().await;
    for _ in 0..100 {
        if let Ok(h) = start(config(addr, db)).await {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not rebind {addr}");
}

fn tok(user: &str, role: Role) -> String {
    token::sign(
        SECRET,
        &Claims {
            room: "demo".into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    )
}

/// The protocol checks' view of one server.
fn one(h: &ServerHandle) -> Deployment {
    Deployment {
        urls: vec![h.ws_url("demo")],
        token: tok,
    }
}

fn client(h: &ServerHandle, user: &str, role: Role, backoff_ms: u64) -> RoomClient {
    let mut cfg = ClientConfig::new(h.ws_url("demo")).token(tok(user, role));
    cfg.backoff_min = Duration::from_millis(backoff_ms);
    cfg.backoff_max = Duration::from_millis(backoff_ms * 4);
    RoomClient::connect(cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_receive_every_danmaku_in_order() {
    let db = TempDir::new("many");
    let h = server(&db).await;
    protocol::many_clients_receive_every_danmaku_in_order(&one(&h)).await;
    assert_eq!(
        h.stats()
            .dropped_out
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_resumes_across_a_server_restart_with_exactly_the_missed_events() {
    let db = TempDir::new("resume");
    let h = server(&db).await;
    let mut watcher = client(&h, "watcher", Role::Viewer, 600);
    joined(&mut watcher).await;
    let mut host = client(&h, "host", Role::Host, 20);
    joined(&mut host).await;
    for i in 0..3 {
        host.send(say(&format!("before {i}"))).await.unwrap();
    }
    let (before, _) = danmaku(&mut watcher, 3).await;
    assert_eq!(before, ["before 0", "before 1", "before 2"]);
    let pos = watcher.position().unwrap();

    let h = restart(h, &db).await;
    // The host comes back first (short backoff) and talks while the watcher is still away.
    joined(&mut host).await;
    for i in 0..3 {
        host.send(say(&format!("after {i}"))).await.unwrap();
    }
    let (after, events) = danmaku(&mut watcher, 3).await;
    assert_eq!(
        after,
        ["after 0", "after 1", "after 2"],
        "no loss, no duplicates"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ClientEvent::NotRecoverable { .. })),
        "same epoch after a restart: resumable"
    );
    let seqs: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Event(e) => Some(e.seq),
            _ => None,
        })
        .collect();
    assert_eq!(
        seqs,
        (pos.seq + 1..=pos.seq + seqs.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(watcher.position().unwrap().epoch, pos.epoch);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gift_flood_with_duplicate_keys_across_a_restart_counts_each_acked_gift_once() {
    let db = TempDir::new("gifts");
    let mut h = server(&db).await;
    const CLIENTS: usize = 4;
    const GIFTS: usize = 60;
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for ci in 0..CLIENTS {
        let url = h.ws_url("demo");
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let user = format!("fan{ci}");
            let mut cfg = ClientConfig::new(url).token(tok(&user, Role::Viewer));
            cfg.backoff_min = Duration::from_millis(30);
            cfg.backoff_max = Duration::from_millis(300);
            let mut c = RoomClient::connect(cfg);
            let mut unacked: BTreeSet<String> =
                (0..GIFTS).map(|g| format!("{user}-g{g}")).collect();
            let mut acked: BTreeMap<String, u32> = BTreeMap::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            // Send everything twice (a retrying client), then re-send what is unacked after
            // every reconnect until everything is acknowledged.
            let mut resend = true;
            while !unacked.is_empty() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{user}: unacked {unacked:?}"
                );
                if resend {
                    resend = false;
                    for key in unacked.iter().take(30) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        for _ in 0..2 {
                            let _ = c
                                .send(ClientMsg::Gift {
                                    gift: "rose".into(),
                                    count: 1,
                                    key: key.clone(),
                                })
                                .await;
                        }
                    }
                }
                match timeout(Duration::from_millis(400), c.recv()).await {
                    Ok(Some(ClientEvent::Control(Control::GiftAck { key, .. }))) => {
                        if unacked.remove(&key) {
                            progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        *acked.entry(key).or_default() += 1;
                    }
                    Ok(Some(ClientEvent::Joined { .. })) | Err(_) => resend = true,
                    Ok(Some(ClientEvent::Stopped { code, reason })) => panic!("{code}: {reason}"),
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("client stopped"),
                }
            }
            acked.into_keys().collect::<Vec<_>>()
        }));
    }
    // Restart the server twice in the middle of the flood (after 1/4 and 1/2 are acknowledged).
    for share in [4, 2] {
        while progress.load(std::sync::atomic::Ordering::Relaxed) < CLIENTS * GIFTS / share {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        h = restart(h, &db).await;
    }
    let acked_before_last_restart = progress.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        acked_before_last_restart < CLIENTS * GIFTS,
        "the restarts happened mid-flood"
    );
    let mut acked: BTreeSet<String> = BTreeSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    h.shutdown().await;
    let mut store = SqliteStore::open(db.0.join("room.db")).unwrap();
    let ledger = store.ledger("demo").unwrap();
    let keys: Vec<String> = ledger.iter().map(|g| g.key.clone()).collect();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(
        keys.len(),
        unique.len(),
        "a key is in the ledger at most once"
    );
    assert_eq!(unique, acked, "the ledger equals the acknowledged gifts");
    assert_eq!(acked.len(), CLIENTS * GIFTS);
    assert_eq!(
        ledger.iter().map(|g| g.coins).sum::<u64>(),
        (CLIENTS * GIFTS) as u64
    );
}

async fn raw(
    h: &ServerHandle,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (ws, _) = tokio_tungstenite::connect_async(h.ws_url("demo"))
        .await
        .unwrap();
    ws
}

async fn next_error<S>(ws: &mut S) -> ErrorCode
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let m = timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m
            && let Ok(ServerMsg::Control(Control::Error { code, .. })) = serde_json::from_str(&t)
        {
            return code;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_a_socket_gets_error_frames_and_oversize_gets_closed() {
    let db = TempDir::new("bad");
    let h = server(&db).await;
    let mut ws = raw(&h).await;
    ws.send(Message::Text("{nope".into())).await.unwrap();
    assert_eq!(next_error(&mut ws).await, ErrorCode::BadJson);
    ws.send(Message::Text(r#"{"type":"danmaku","text":"hi"}"#.into()))
        .await
        .unwrap();
    assert_eq!(next_error(&mut ws).await, ErrorCode::NotJoined);
    let forged = token::sign(
        b"wrong-secret-wrong-secret",
        &Claims {
            room: "demo".into(),
            user: "x".into(),
            name: "x".into(),
            role: Role::Host,
            exp_ms: u64::MAX,
        },
    );
    ws.send(Message::Text(
        format!(r#"{{"type":"hello","token":"{forged}"}}"#).into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_error(&mut ws).await, ErrorCode::Unauthorized);
    // Still connected: a nickname hello works.
    ws.send(Message::Text(r#"{"type":"hello","nickname":"ann"}"#.into()))
        .await
        .unwrap();
    ws.send(Message::Text(
        format!(r#"{{"type":"danmaku","text":"{}"}}"#, "x".repeat(8_000)).into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_error(&mut ws).await, ErrorCode::TooLarge);
    let mut close_code = None;
    while let Ok(Some(m)) = timeout(Duration::from_secs(5), ws.next()).await {
        match m {
            Ok(Message::Close(Some(f))) => {
                close_code = Some(u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(close_code, Some(1009));
    h.shutdown().await;
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_page_catalog_and_gift_art_are_served() {
    let db = TempDir::new("page");
    let h = server(&db).await;
    let page = http_get(h.addr(), "/room/demo").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("text/html"));
    let svg = http_get(h.addr(), "/gifts/rose.svg").await;
    assert!(svg.contains("image/svg+xml") && svg.contains("<svg"));
    let cat = http_get(h.addr(), "/api/catalog").await;
    assert!(cat.contains("\"rocket\""));
    assert!(
        http_get(h.addr(), "/room/..%2Fetc")
            .await
            .starts_with("HTTP/1.1 404")
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_closed_then_resumes_or_reloads_history() {
    let db = TempDir::new("slow");
    let mut cfg = config("127.0.0.1:0".parse().unwrap(), &db);
    cfg.conn_queue = 64;
    let h = started(cfg).await;
    // The slow viewer never reads until the flood is over (its client buffers 64 events).
    let mut ccfg = ClientConfig::new(h.ws_url("demo")).token(tok("sloth", Role::Viewer));
    ccfg.queue = 64;
    ccfg.backoff_min = Duration::from_millis(20);
    let mut slow = RoomClient::connect(ccfg);
    joined(&mut slow).await;
    // The publisher is a raw socket whose reading side is drained by its own task. Under a
    // loaded machine the publisher itself may be cut off too (its queue is tiny here): then it
    // reconnects and carries on; the sloth must be cut off at least once.
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let frame = format!(r#"{{"type":"danmaku","text":"{}"}}"#, "弹".repeat(100));
    let mut sent = 0;
    let mut publisher_cuts = 0;
    'outer: loop {
        let (mut pub_sink, mut pub_stream) = raw(&h).await.split();
        let hello = format!(
            r#"{{"type":"hello","token":"{}"}}"#,
            tok("host", Role::Host)
        );
        pub_sink.send(Message::Text(hello.into())).await.unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        tokio::spawn(async move {
            while let Some(Ok(_)) = pub_stream.next().await {}
            flag.store(false, Relaxed);
        });
        loop {
            assert!(sent < 200_000, "the slow consumer was never cut off");
            for _ in 0..8 {
                if pub_sink
                    .send(Message::Text(frame.clone().into()))
                    .await
                    .is_err()
                {
                    break;
                }
                sent += 1;
            }
            // Stay under the (test-tuned) 5000 msg/s connection limit.
            tokio::time::sleep(Duration::from_millis(2)).await;
            if !alive.load(Relaxed) {
                publisher_cuts += 1;
                continue 'outer;
            }
            if h.stats().slow_consumers.load(Relaxed) > publisher_cuts {
                break 'outer;
            }
        }
    }
    // Now the slow client reads: it was told why, reconnects, and gets either an exact replay
    // or an explicit not_recoverable followed by history — never a silent gap.
    let mut told = false;
    let mut seen = 0;
    loop {
        let ev = timeout(Duration::from_secs(20), slow.recv()).await;
        let Ok(ev) = ev else {
            panic!(
                "stuck after {seen} events; told {told}, at {:?}",
                slow.position()
            );
        };
        seen += 1;
        match ev {
            Some(ClientEvent::Control(Control::Error {
                code: ErrorCode::SlowConsumer,
                ..
            })) => told = true,
            Some(ClientEvent::NotRecoverable { .. }) => {
                assert!(told);
                match timeout(Duration::from_secs(10), slow.recv()).await.unwrap() {
                    Some(ClientEvent::History(events)) => assert!(!events.is_empty()),
                    other => panic!("expected history, got {other:?}"),
                }
                break;
            }
            Some(ClientEvent::Joined { .. }) if told => {}
            Some(_) => {}
            None => panic!("client stopped"),
        }
        if told && slow.position().is_some_and(|p| p.seq >= sent as u64) {
            break; // resumed with an exact replay
        }
    }
    h.shutdown().await;
}

/// Storage whose writes can be made to fail.
struct FlakyStore {
    inner: Arc<std::sync::Mutex<marquee_room::store::MemoryStore>>,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

/// A transaction of [`FlakyStore`]: its writes fail while `fail` is set (before they reach the
/// memory store, so nothing of the failed group is kept).
struct FlakyTxn<'a> {
    inner: &'a mut dyn Txn,
    fail: bool,
}

impl Txn for FlakyTxn<'_> {
    fn write(&mut self, w: &marquee_room::room::Write) -> Result<(), StorageError> {
        if self.fail {
            return Err(StorageError::Corrupt("injected: disk full".into()));
        }
        self.inner.write(w)
    }
    fn record_gift(
        &mut self,
        gift: &marquee_room::room::GiftRecord,
        wallet: Option<&marquee_room::room::WalletRec>,
    ) -> Result<marquee_room::room::GiftOutcome, StorageError> {
        self.inner.record_gift(gift, wallet)
    }
}

impl Storage for FlakyStore {
    fn load(
        &mut self,
        room: &str,
        window: usize,
    ) -> Result<marquee_room::room::Snapshot, StorageError> {
        self.inner.lock().unwrap().load(room, window)
    }
    fn transaction(
        &mut self,
        room: &str,
        f: &mut dyn FnMut(&mut dyn Txn) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let fail = self.fail.load(std::sync::atomic::Ordering::Relaxed);
        self.inner
            .lock()
            .unwrap()
            .transaction(room, &mut |t| f(&mut FlakyTxn { inner: t, fail }))
    }
    fn ledger(&mut self, room: &str) -> Result<Vec<marquee_room::room::GiftRecord>, StorageError> {
        self.inner.lock().unwrap().ledger(room)
    }
    fn modlog(
        &mut self,
        room: &str,
        limit: usize,
    ) -> Result<Vec<marquee_room::protocol::ModLogEntry>, StorageError> {
        self.inner.lock().unwrap().modlog(room, limit)
    }
    fn has_room(&mut self, room: &str) -> Result<bool, marquee_room::store::StorageError> {
        self.inner.lock().unwrap().has_room(room)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failure_sends_nothing_undurable_and_the_room_reopens_from_storage() {
    let db = TempDir::new("flaky");
    let inner = Arc::new(std::sync::Mutex::new(
        marquee_room::store::MemoryStore::new(),
    ));
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut cfg = config("127.0.0.1:0".parse().unwrap(), &db);
    let (i2, f2) = (inner.clone(), fail.clone());
    cfg.stores = Some(Arc::new(move || {
        Ok(Box::new(FlakyStore {
            inner: i2.clone(),
            fail: f2.clone(),
        }) as Box<dyn Storage>)
    }));
    let h = started(cfg).await;
    let mut viewer = client(&h, "viewer", Role::Viewer, 50);
    joined(&mut viewer).await;
    let mut host = client(&h, "host", Role::Host, 50);
    joined(&mut host).await;
    host.send(say("durable 1")).await.unwrap();
    let (t, _) = danmaku(&mut viewer, 1).await;
    assert_eq!(t, ["durable 1"]);
    let pos = viewer.position().unwrap();

    fail.store(true, std::sync::atomic::Ordering::Relaxed);
    host.send(say("never durable")).await.unwrap();
    // The viewer is told and disconnected; it never sees the message that was not written.
    loop {
        match timeout(Duration::from_secs(10), viewer.recv())
            .await
            .unwrap()
        {
            Some(ClientEvent::Event(e)) => panic!("undurable event delivered: {e:?}"),
            Some(ClientEvent::Disconnected { .. }) => break,
            Some(_) => {}
            None => panic!("stopped"),
        }
    }
    fail.store(false, std::sync::atomic::Ordering::Relaxed);
    // Both reconnect; the room reopens from storage at the last durable seq, same epoch.
    joined(&mut viewer).await;
    assert_eq!(viewer.position().unwrap(), pos);
    host.send(say("durable 2")).await.unwrap();
    let (t, events) = danmaku(&mut viewer, 1).await;
    assert_eq!(t, ["durable 2"]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ClientEvent::NotRecoverable { .. }))
    );
    assert!(
        h.stats()
            .storage_errors
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_bursts_arrive_in_seq_order_without_gaps() {
    let db = TempDir::new("order");
    let h = server(&db).await;
    protocol::mixed_bursts_arrive_in_seq_order_without_gaps(&one(&h)).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_room_stops_and_reopens_from_storage_on_the_next_join() {
    use std::sync::atomic::Ordering::Relaxed;
    let db = TempDir::new("idle");
    let mut cfg = config("127.0.0.1:0".parse().unwrap(), &db);
    cfg.idle_room = Duration::from_millis(300);
    let h = started(cfg).await;
    let mut host = client(&h, "host", Role::Host, 50);
    joined(&mut host).await;
    host.send(say("before the nap")).await.unwrap();
    let (t, _) = danmaku(&mut host, 1).await;
    assert_eq!(t, ["before the nap"]);
    drop(host);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let mut late = client(&h, "late", Role::Viewer, 50);
    let history = loop {
        match timeout(Duration::from_secs(10), late.recv()).await.unwrap() {
            Some(ClientEvent::History(events)) => break events,
            Some(_) => {}
            None => panic!("stopped"),
        }
    };
    assert!(
        history.iter().any(
            |e| matches!(&e.body, EventBody::Danmaku { text, .. } if text == "before the nap")
        )
    );
    assert_eq!(
        h.stats().rooms_opened.load(Relaxed),
        2,
        "the room stopped and reopened"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_reaches_batch_clients_in_batch_frames_and_others_one_frame_each() {
    let db = TempDir::new("batch");
    let mut cfg = config("127.0.0.1:0".parse().unwrap(), &db);
    cfg.coalesce.window = protocol::BURST_WINDOW;
    let h = started(cfg).await;
    protocol::a_burst_reaches_batch_clients_in_batch_frames_and_others_one_frame_each(&one(&h))
        .await;
    h.shutdown().await;
}

/// A nickname hello over a fresh socket (with `X-Forwarded-For: forwarded` if given): the
/// issued token, or the error code.
async fn nickname_hello(h: &ServerHandle, forwarded: Option<&str>) -> Result<String, ErrorCode> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = h.ws_url("demo").into_client_request().unwrap();
    if let Some(f) = forwarded {
        req.headers_mut()
            .insert("x-forwarded-for", f.parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(r#"{"type":"hello","nickname":"n"}"#.into()))
        .await
        .unwrap();
    loop {
        let m = timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(t) = m else { continue };
        match serde_json::from_str::<ServerMsg>(&t).unwrap() {
            ServerMsg::Control(Control::Welcome { token, .. }) => return Ok(token.unwrap()),
            ServerMsg::Control(Control::Error { code, .. }) => return Err(code),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_nickname_identities_are_limited_per_client_address() {
    let db = TempDir::new("nicklimit");
    let mut cfg = config("127.0.0.1:0".parse().unwrap(), &db);
    cfg.tune = Some(Arc::new(|c| c.nick_issue_burst = 2.0));
    let h = started(cfg).await;
    let first = nickname_hello(&h, None).await.unwrap();
    nickname_hello(&h, None).await.unwrap();
    assert_eq!(nickname_hello(&h, None).await, Err(ErrorCode::RateLimited));
    // A peer that is not a trusted proxy — loopback included — cannot name another address.
    assert_eq!(
        nickname_hello(&h, Some("198.51.100.1")).await,
        Err(ErrorCode::RateLimited)
    );
    // A kept token still joins, and it is the same voter as before.
    let host = client(&h, "host", Role::Host, 50);
    let mut viewer = RoomClient::connect(ClientConfig::new(h.ws_url("demo")).token(first));
    joined(&mut viewer).await;
    host.send(ClientMsg::PollStart {
        question: "q".into(),
        options: vec!["a".into(), "b".into()],
        duration_s: 60,
        allow_change: false,
    })
    .await
    .unwrap();
    let poll = loop {
        let ev = timeout(Duration::from_secs(10), viewer.recv())
            .await
            .unwrap();
        if let Some(ClientEvent::Event(e)) = ev
            && let EventBody::PollStarted { poll } = e.body
        {
            break poll.poll;
        }
    };
    viewer
        .send(ClientMsg::Vote { poll, option: 0 })
        .await
        .unwrap();
    viewer
        .send(ClientMsg::Vote { poll, option: 1 })
        .await
        .unwrap();
    let mut acks = 0;
    loop {
        match timeout(Duration::from_secs(10), viewer.recv())
            .await
            .unwrap()
        {
            Some(ClientEvent::Control(Control::VoteAck { .. })) => acks += 1,
            Some(ClientEvent::Control(Control::Error { code, .. })) => {
                assert_eq!(code, ErrorCode::AlreadyVoted);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(acks, 1);
    h.shutdown().await;

    // Behind a trusted proxy, the client address comes from X-Forwarded-For (the entry the
    // proxy added: the last one); the peer's own address is used only when the header is
    // missing (see the unit tests of `Edge::client_ip`).
    let db = TempDir::new("nickproxy");
    let mut cfg = config("127.0.0.1:0".parse().unwrap(), &db);
    cfg.tune = Some(Arc::new(|c| c.nick_issue_burst = 2.0));
    cfg.trusted_proxies = vec!["127.0.0.1".parse::<IpNet>().unwrap()];
    let h = started(cfg).await;
    for _ in 0..2 {
        nickname_hello(&h, Some("10.9.9.9, 203.0.113.5"))
            .await
            .unwrap();
    }
    assert_eq!(
        nickname_hello(&h, Some("203.0.113.5")).await,
        Err(ErrorCode::RateLimited)
    );
    nickname_hello(&h, Some("203.0.113.5, 198.51.100.1"))
        .await
        .unwrap();
    h.shutdown().await;
}
