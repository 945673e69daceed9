//! The thin IO layer: axum + WebSocket, one thread per room driving the sans-IO [`Room`].
//!
//! * `GET /room/{room}` — the viewer page; `GET /room/{room}/ws` — the WebSocket.
//! * `GET /gifts/{file}` — gift art; `GET /api/catalog` — the gift catalog; `GET /api/stats`.
//!
//! Every queue is bounded and every drop is counted ([`ServerStats`]): frames from a socket go to
//! the room thread through a bounded channel (full → the frame is dropped and the client gets
//! `busy`); frames to a socket that its kernel buffer cannot take at once wait in a bounded
//! per-connection queue (full → the connection is closed as a `slow_consumer`; it resumes from its
//! last seq when it reconnects).
//!
//! Broadcasts are coalesced ([`crate::coalesce`]): a busy room hands each subscriber one shared
//! batch of frames per window (20 ms, longer in big rooms) instead of one frame per message. A
//! connection that said `"batch": true` in its hello gets a batch as one `batch` frame; others get
//! the same frames one by one.
//!
//! Outgoing frames are encoded once and written by the room thread itself with a non-blocking
//! `send` ([`crate::out`]); a connection's task writes only what its socket could not take at
//! once. For that the server owns its sockets after the upgrade: connections are served by
//! hyper's HTTP/1 connection directly (not `axum::serve`, whose upgraded stream cannot be taken
//! apart), the handshake is answered here, and tungstenite only reads the client's frames.

use crate::RoomError;
use crate::coalesce::{CoalesceConfig, Coalescer};
use crate::out::{ConnOut, Push, close_frame, text_frames};
use crate::protocol::{ErrorCode, ServerMsg};
use crate::room::{Action, ConnId, Input, Room, RoomConfig, Write};
use crate::store::{MemoryStore, SqliteStore, Storage, StorageError};
use axum::Router;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use crossbeam_channel as cb;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite;

/// One outgoing text frame, shared by all receivers of a broadcast.
pub type Frame = Utf8Bytes;

/// Join frames into one `{"type":"batch","messages":[…]}` frame without parsing them again.
pub fn batch_frame(frames: &[Frame]) -> Frame {
    let len = frames.iter().map(|f| f.len() + 1).sum::<usize>() + 32;
    let mut s = String::with_capacity(len);
    s.push_str(r#"{"type":"batch","messages":["#);
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(f.as_str());
    }
    s.push_str("]}");
    s.into()
}

/// How to close a connection.
#[derive(Debug, Clone)]
pub struct CloseReason {
    pub code: ErrorCode,
    pub reason: String,
}

/// Fan-out of frames to connections. The local implementation writes to the sockets (through
/// their bounded queues when they are full);
/// a multi-node one would publish room events through Redis or NATS as well.
///
/// Broadcasts may be held back and sent together ([`Fanout::poll_flush`]); unicast frames go at
/// once. A connection subscribed while broadcasts wait does not get those: they were before its
/// welcome, whose history or replay already holds them.
pub trait Fanout: Send {
    fn attach(&mut self, conn: ConnId, out: Arc<ConnOut>, kill: oneshot::Sender<CloseReason>);
    fn detach(&mut self, conn: ConnId);
    /// From now on the connection gets broadcasts, as `batch` frames if `batch`.
    fn subscribe(&mut self, conn: ConnId, batch: bool);
    fn send(&mut self, conn: ConnId, frame: Frame);
    fn broadcast(&mut self, frame: Frame);
    /// Send the waiting broadcasts if they are due at `now`.
    fn poll_flush(&mut self, now: Instant);
    /// When waiting broadcasts are due (`None` if none wait).
    fn flush_deadline(&self, now: Instant) -> Option<Instant>;
    /// Deliver waiting broadcasts, then send an error frame with the reason and close.
    fn close(&mut self, conn: ConnId, why: CloseReason);
    /// Close every connection (the room is stopping).
    fn close_all(&mut self, why: CloseReason);
    /// Connections attached here.
    fn connections(&self) -> usize;
}

struct Peer {
    out: Arc<ConnOut>,
    kill: Option<oneshot::Sender<CloseReason>>,
    subscribed: bool,
    batch: bool,
    /// Broadcasts already waiting when it subscribed (it must not get them).
    skip: usize,
}

/// One subscriber's write of a flush.
struct Job {
    conn: ConnId,
    out: Arc<ConnOut>,
    bytes: Bytes,
    messages: usize,
    full: bool,
}

impl Job {
    fn run(&mut self) {
        self.full = self.out.push(self.bytes.clone()) == Push::Full;
    }
}

/// A thread that writes its share of a flush's jobs and hands them back.
struct Writer {
    jobs: cb::Sender<Vec<Job>>,
    done: cb::Receiver<Vec<Job>>,
}

impl Writer {
    fn spawn(i: usize) -> std::io::Result<Writer> {
        let (jobs, rx) = cb::bounded::<Vec<Job>>(1);
        let (tx, done) = cb::bounded(1);
        std::thread::Builder::new()
            .name(format!("room-writer-{i}"))
            .spawn(move || {
                for mut share in rx {
                    share.iter_mut().for_each(Job::run);
                    if tx.send(share).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Writer { jobs, done })
    }
}

/// Below this many writes a flush is not split between threads.
const MIN_SHARE: usize = 256;

/// Fan-out to the connections of this process.
pub struct LocalFanout {
    peers: HashMap<ConnId, Peer>,
    stats: Arc<ServerStats>,
    waiting: Coalescer<Frame>,
    subscribers: usize,
    /// Reused list of connections found slow during one flush.
    slow: Vec<ConnId>,
    /// Threads besides the room thread that write a share of each big flush.
    writers: Vec<Writer>,
}

fn slow_consumer() -> CloseReason {
    CloseReason {
        code: ErrorCode::SlowConsumer,
        reason: "you fell behind; reconnect to resume".into(),
    }
}

impl LocalFanout {
    pub fn new(stats: Arc<ServerStats>, coalesce: CoalesceConfig) -> Self {
        LocalFanout {
            peers: HashMap::new(),
            stats,
            waiting: Coalescer::new(coalesce),
            subscribers: 0,
            slow: Vec::new(),
            writers: Vec::new(),
        }
    }

    /// Split the writes of a big flush over `threads` threads (this one included). A flush to
    /// 5,000 subscribers is 5,000 `send`s of which the kernel's loopback/TCP path is most of the
    /// cost; on a machine with idle cores, sharing them shortens the time until the last
    /// subscriber has its bytes. A writer that cannot be started is left out (logged).
    pub fn with_writer_threads(mut self, threads: usize) -> Self {
        for i in 1..threads.max(1) {
            match Writer::spawn(i) {
                Ok(w) => self.writers.push(w),
                Err(e) => tracing::warn!(error = %e, "cannot start a fan-out writer thread"),
            }
        }
        self
    }

    /// Send encoded frames holding `messages` room messages to one connection; a full queue
    /// closes it as a slow consumer.
    fn push(stats: &ServerStats, p: &Peer, bytes: Bytes, messages: usize) -> bool {
        if p.out.push(bytes) != Push::Full {
            return true;
        }
        stats
            .dropped_out
            .fetch_add(messages as u64, Ordering::Relaxed);
        stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
        false
    }

    fn remove(&mut self, conn: ConnId) -> Option<Peer> {
        let p = self.peers.remove(&conn)?;
        if p.subscribed {
            self.subscribers -= 1;
            self.waiting.set_subscribers(self.subscribers);
        }
        Some(p)
    }

    /// Close without flushing (the flush itself found it slow).
    fn kill(&mut self, conn: ConnId, why: CloseReason) {
        if let Some(mut p) = self.remove(conn)
            && let Some(k) = p.kill.take()
        {
            let _ = k.send(why);
        }
    }

    fn flush(&mut self, now: Instant) {
        let frames = self.waiting.take(now);
        self.deliver_batch(frames);
    }

    /// One write per subscriber, of bytes encoded once per flush and shared: the `batch` frame
    /// for those that asked for it, the frames back to back for the others. The room thread
    /// writes them to the sockets itself ([`ConnOut::push`]) in this loop; only a socket that
    /// cannot take them wakes its connection's task.
    fn deliver_batch(&mut self, frames: Vec<Frame>) {
        if frames.is_empty() {
            return;
        }
        let encode = |part: &[Frame], batch: bool| {
            if batch && part.len() > 1 {
                (text_frames([batch_frame(part).as_str()]), 1)
            } else {
                (text_frames(part.iter().map(|f| f.as_str())), part.len())
            }
        };
        let mut shared: [Option<(Bytes, usize)>; 2] = [None, None];
        let mut slow = std::mem::take(&mut self.slow);
        let mut jobs = Vec::with_capacity(self.subscribers);
        for (conn, p) in self.peers.iter_mut() {
            if !p.subscribed {
                continue;
            }
            let skip = std::mem::take(&mut p.skip);
            let (bytes, messages) = match frames.get(skip..) {
                None | Some([]) => continue,
                Some(part) if skip > 0 => encode(part, p.batch),
                Some(_) => shared[usize::from(p.batch)]
                    .get_or_insert_with(|| encode(&frames, p.batch))
                    .clone(),
            };
            jobs.push(Job {
                conn: *conn,
                out: p.out.clone(),
                bytes,
                messages,
                full: false,
            });
        }
        // Shares for the writer threads (while a share is out, nothing else is sent to its
        // connections from this thread: the flush ends when every share is back, so order holds).
        let threads = (self.writers.len() + 1).min(jobs.len() / MIN_SHARE).max(1);
        let per = jobs.len().div_ceil(threads);
        let mut out = 0;
        for w in &self.writers[..threads - 1] {
            let share = jobs.split_off(jobs.len() - per.min(jobs.len()));
            match w.jobs.send(share) {
                Ok(()) => out += 1,
                Err(cb::SendError(share)) => jobs.extend(share),
            }
        }
        jobs.iter_mut().for_each(Job::run);
        for w in &self.writers[..out] {
            if let Ok(share) = w.done.recv() {
                jobs.extend(share);
            }
        }
        for j in jobs.iter().filter(|j| j.full) {
            self.stats
                .dropped_out
                .fetch_add(j.messages as u64, Ordering::Relaxed);
            self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            slow.push(j.conn);
        }
        for conn in slow.drain(..) {
            self.kill(conn, slow_consumer());
        }
        self.slow = slow;
    }
}

impl Fanout for LocalFanout {
    fn connections(&self) -> usize {
        self.peers.len()
    }
    fn close_all(&mut self, why: CloseReason) {
        self.flush(Instant::now());
        let all: Vec<ConnId> = self.peers.keys().copied().collect();
        for c in all {
            self.kill(c, why.clone());
        }
    }
    fn attach(&mut self, conn: ConnId, out: Arc<ConnOut>, kill: oneshot::Sender<CloseReason>) {
        self.peers.insert(
            conn,
            Peer {
                out,
                kill: Some(kill),
                subscribed: false,
                batch: false,
                skip: 0,
            },
        );
    }
    fn detach(&mut self, conn: ConnId) {
        self.remove(conn);
    }
    fn subscribe(&mut self, conn: ConnId, batch: bool) {
        if let Some(p) = self.peers.get_mut(&conn) {
            if !p.subscribed {
                self.subscribers += 1;
                self.waiting.set_subscribers(self.subscribers);
            }
            p.subscribed = true;
            p.batch = batch;
            p.skip = self.waiting.pending();
        }
    }
    fn send(&mut self, conn: ConnId, frame: Frame) {
        let ok = match self.peers.get(&conn) {
            Some(p) => Self::push(&self.stats, p, text_frames([frame.as_str()]), 1),
            None => true,
        };
        if !ok {
            self.kill(conn, slow_consumer());
        }
    }
    fn broadcast(&mut self, frame: Frame) {
        let len = frame.len();
        self.waiting.push(frame, len);
    }
    fn poll_flush(&mut self, now: Instant) {
        if let Some(frames) = self.waiting.poll(now) {
            self.deliver_batch(frames);
        }
    }
    fn flush_deadline(&self, now: Instant) -> Option<Instant> {
        self.waiting.deadline(now)
    }
    fn close(&mut self, conn: ConnId, why: CloseReason) {
        if self.waiting.pending() > 0 && self.peers.get(&conn).is_some_and(|p| p.subscribed) {
            self.flush(Instant::now());
        }
        self.kill(conn, why);
    }
}

/// Counters, readable at `/api/stats`.
#[derive(Debug, Default, Serialize)]
pub struct ServerStats {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub frames_in: AtomicU64,
    /// Frames from sockets dropped because a room's input queue was full.
    pub dropped_in: AtomicU64,
    /// Frames to sockets dropped because a connection's queue was full.
    pub dropped_out: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub storage_errors: AtomicU64,
    /// Room threads started (a room reopens after it stopped idle or on a storage failure).
    pub rooms_opened: AtomicU64,
}

/// Opens the storage of a room thread.
pub type StoreFactory = Arc<dyn Fn() -> Result<Box<dyn Storage>, StorageError> + Send + Sync>;

/// Adjusts a room's config before it opens.
pub type TuneFn = Arc<dyn Fn(&mut RoomConfig) + Send + Sync>;

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// SQLite file; `None` keeps everything in memory.
    pub db: Option<PathBuf>,
    pub secret: Vec<u8>,
    /// Base URL printed for the viewer page (e.g. `https://live.example.com`).
    pub public_url: Option<String>,
    /// Hard cap on a WebSocket message (bigger ones drop the connection); the room's own,
    /// smaller, limit answers `too_large` with a reason first.
    pub max_ws_message: usize,
    /// Outgoing items (a frame, or a flush's broadcast frames) queued per connection when its
    /// socket cannot take them at once.
    pub conn_queue: usize,
    /// How broadcasts are coalesced; a zero window sends each at once.
    pub coalesce: CoalesceConfig,
    /// Threads writing a room's flush to its subscribers' sockets (the room thread and
    /// `fanout_threads - 1` helpers; see [`LocalFanout::with_writer_threads`]).
    pub fanout_threads: usize,
    /// Inputs queued per room.
    pub room_queue: usize,
    /// Adjust each room's config (limits) before it opens.
    pub tune: Option<TuneFn>,
    /// Use this storage instead of `db` (another backend, or a fault-injecting one in tests).
    pub stores: Option<StoreFactory>,
    /// A room with no connection for this long stops its thread; the next connection reopens
    /// it from storage.
    pub idle_room: Duration,
    /// Behind a reverse proxy on another machine: the client address is the last one in
    /// `X-Forwarded-For` (added by the proxy), not the socket's peer. From a loopback peer (a
    /// proxy or tunnel on this machine) the header is always used. Only set this when every
    /// connection comes through a proxy that adds it.
    pub behind_proxy: bool,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, secret: Vec<u8>) -> Self {
        ServerConfig {
            listen,
            db: None,
            secret,
            public_url: None,
            max_ws_message: 64 * 1024,
            conn_queue: 1024,
            coalesce: CoalesceConfig::default(),
            fanout_threads: 1,
            room_queue: 8192,
            tune: None,
            stores: None,
            idle_room: Duration::from_secs(600),
            behind_proxy: false,
        }
    }

    fn store_factory(&self) -> StoreFactory {
        if let Some(f) = &self.stores {
            return f.clone();
        }
        match &self.db {
            Some(path) => {
                let path = path.clone();
                Arc::new(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Storage>))
            }
            None => Arc::new(|| Ok(Box::new(MemoryStore::new()) as Box<dyn Storage>)),
        }
    }
}

enum RoomCmd {
    Open {
        conn: ConnId,
        ip: Option<std::net::IpAddr>,
        out: Arc<ConnOut>,
        kill: oneshot::Sender<CloseReason>,
    },
    Text {
        conn: ConnId,
        text: tungstenite::Utf8Bytes,
    },
    Binary {
        conn: ConnId,
        len: usize,
    },
    Closed {
        conn: ConnId,
    },
    Shutdown,
}

struct RoomHandle {
    tx: cb::Sender<RoomCmd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    cfg: ServerConfig,
    stores: StoreFactory,
    rooms: Mutex<HashMap<String, RoomHandle>>,
    next_conn: AtomicU64,
    stats: Arc<ServerStats>,
    shutdown: watch::Receiver<bool>,
}

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn stats(&self) -> &ServerStats {
        &self.shared.stats
    }
    /// The WebSocket URL of a room.
    pub fn ws_url(&self, room: &str) -> String {
        format!("ws://{}/room/{room}/ws", self.addr)
    }

    /// Stop: close every connection (code 1012, "restarting"), stop the room threads (their
    /// storage is closed), release the port.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.serve.abort();
        let _ = self.serve.await;
        let handles: Vec<RoomHandle> = {
            let mut rooms = self.shared.rooms.lock().unwrap_or_else(|e| e.into_inner());
            rooms.drain().map(|(_, h)| h).collect()
        };
        let _ = tokio::task::spawn_blocking(move || {
            for mut h in handles {
                let _ = h.tx.send(RoomCmd::Shutdown);
                if let Some(t) = h.thread.take() {
                    let _ = t.join();
                }
            }
        })
        .await;
        // Let connection tasks see the stop signal and close their sockets.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.shared.stats.connections_open.load(Ordering::Relaxed) > 0
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Bind and start serving on the current tokio runtime.
pub async fn start(cfg: ServerConfig) -> Result<ServerHandle, RoomError> {
    if cfg.secret.len() < 16 {
        return Err(crate::token::TokenError::WeakSecret.into());
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(Shared {
        stores: cfg.store_factory(),
        cfg,
        rooms: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(1),
        stats: Arc::new(ServerStats::default()),
        shutdown,
    });
    let app = router(shared.clone());
    let serve = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, mostly: wait for some to be released.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // No Nagle: small frames must not wait for the previous segment's ACK (with delayed
            // ACKs that can add 40 ms); writes are already batched per connection.
            let _ = tcp.set_nodelay(true);
            let app = app.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        let mut app = app.clone();
                        async move { tower_service::Service::call(&mut app, req).await }
                    },
                );
                // HTTP/1 directly, so that an upgraded connection gives its TcpStream back.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    tracing::info!(%addr, "room server listening");
    Ok(ServerHandle {
        addr,
        shared,
        stop,
        serve,
    })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/stats", get(stats))
        .route("/api/catalog", get(catalog))
        .route("/gifts/{file}", get(gift_art))
        .route("/room/{room}", get(viewer_page))
        .route("/room/{room}/ws", get(ws_upgrade))
        .with_state(shared)
}

fn valid_room(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= 64
        && room
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>Marquee room server</title>\
         <p>Marquee room server. Open <code>/room/NAME</code> to join a room.</p>",
    )
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(&*s.stats).into_response()
}

async fn catalog() -> Response {
    axum::Json(crate::gifts::default_catalog()).into_response()
}

async fn gift_art(Path(file): Path<String>) -> Response {
    match crate::gifts::art(&file) {
        Some(svg) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            svg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The viewer page (zh-CN and English), embedded.
pub const VIEWER_HTML: &str = include_str!("viewer/index.html");

async fn viewer_page(Path(room): Path<String>) -> Response {
    if !valid_room(&room) {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        VIEWER_HTML,
    )
        .into_response()
}

/// The client's address: the last `X-Forwarded-For` entry when the peer is a proxy we trust (on
/// this machine, or any peer with `behind_proxy`), otherwise the socket's peer. A client that
/// reaches the server directly cannot choose its address with the header.
fn client_ip(behind_proxy: bool, peer: SocketAddr, headers: &axum::http::HeaderMap) -> IpAddr {
    if !(behind_proxy || peer.ip().is_loopback()) {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Whether a header holds `token` in its comma-separated list (case-insensitive).
fn header_has(h: &axum::http::HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

async fn ws_upgrade(
    Path(room): Path<String>,
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: axum::extract::Request,
) -> Response {
    if !valid_room(&room) {
        return (StatusCode::NOT_FOUND, "no such room").into_response();
    }
    let h = req.headers();
    let key = h.get(header::SEC_WEBSOCKET_KEY).cloned();
    let upgrade = header_has(h, header::UPGRADE, "websocket")
        && header_has(h, header::CONNECTION, "upgrade")
        && h.get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v.as_bytes() == b"13");
    let (Some(key), true) = (key, upgrade) else {
        return (
            StatusCode::BAD_REQUEST,
            [(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            )],
            "expected a WebSocket upgrade (version 13)",
        )
            .into_response();
    };
    let ip = client_ip(s.cfg.behind_proxy, peer, req.headers());
    let tx = match room_sender(&s, &room) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(%room, error = %e, "cannot open room");
            return (StatusCode::SERVICE_UNAVAILABLE, "room unavailable").into_response();
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        match upgraded.downcast::<hyper_util::rt::TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) => connection(parts.io.into_inner(), parts.read_buf, s, tx, Some(ip)).await,
            Err(_) => tracing::error!("WebSocket upgrade over an unexpected transport"),
        }
    });
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut res = Response::new(axum::body::Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let rh = res.headers_mut();
    rh.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    rh.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        rh.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

/// The room's input channel, starting the room thread on first use.
fn room_sender(s: &Arc<Shared>, room: &str) -> Result<cb::Sender<RoomCmd>, RoomError> {
    let mut rooms = s.rooms.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = rooms.get(room) {
        // A room thread that stopped (storage failure) is reopened from storage.
        if !h.thread.as_ref().is_some_and(|t| t.is_finished()) {
            return Ok(h.tx.clone());
        }
    }
    let mut cfg = RoomConfig::new(room, s.cfg.secret.clone());
    cfg.rng_seed = fastrand::u64(..);
    if let Some(t) = &s.cfg.tune {
        t(&mut cfg);
    }
    let mut store = (s.stores)()?;
    let snap = store.load(room, cfg.resume_window)?;
    let (tx, rx) = cb::bounded(s.cfg.room_queue);
    let stats = s.stats.clone();
    let idle_room = s.cfg.idle_room;
    let coalesce = s.cfg.coalesce;
    let writers = s.cfg.fanout_threads;
    let name = room.to_string();
    let thread = std::thread::Builder::new()
        .name(format!("room-{room}"))
        .spawn(move || {
            let fan = LocalFanout::new(stats.clone(), coalesce).with_writer_threads(writers);
            room_thread(cfg, snap, store, rx, stats, idle_room, fan)
        })?;
    s.stats.rooms_opened.fetch_add(1, Ordering::Relaxed);
    rooms.insert(
        name,
        RoomHandle {
            tx: tx.clone(),
            thread: Some(thread),
        },
    );
    Ok(tx)
}

const TICK: Duration = Duration::from_millis(250);
/// Inputs handled per group commit.
const MAX_BATCH: usize = 256;

fn room_thread(
    cfg: RoomConfig,
    snap: crate::room::Snapshot,
    mut store: Box<dyn Storage>,
    rx: cb::Receiver<RoomCmd>,
    stats: Arc<ServerStats>,
    idle_room: Duration,
    mut fan: LocalFanout,
) {
    let room_id = cfg.room.clone();
    let (mut room, init) = Room::restore(cfg, snap, crate::now_ms());
    let mut io = Io {
        store: store.as_mut(),
        fan: &mut fan,
        stats: &stats,
        room_id: &room_id,
    };
    if io.exec(init).is_err() {
        return;
    }
    tracing::info!(room = %room_id, epoch = room.epoch(), seq = room.last_seq(), "room open");
    let mut last_tick = Instant::now();
    let mut last_busy = Instant::now();
    let mut stop = false;
    while !stop {
        if io.fan.connections() > 0 {
            last_busy = Instant::now();
        } else if last_busy.elapsed() >= idle_room && rx.is_empty() {
            break;
        }
        // Group commit: take everything that is waiting (up to a bound), run it through the
        // room, then make all its writes durable in one transaction before any frame goes out.
        let mut batch: Vec<Action> = Vec::new();
        // Wake for the room tick, or earlier when waiting broadcasts fall due.
        let now = Instant::now();
        let mut wait = TICK.saturating_sub(now.saturating_duration_since(last_tick));
        if let Some(due) = io.fan.flush_deadline(now) {
            wait = wait.min(due.saturating_duration_since(now));
        }
        let mut next = match rx.recv_timeout(wait) {
            Ok(cmd) => Some(cmd),
            Err(cb::RecvTimeoutError::Timeout) => None,
            Err(cb::RecvTimeoutError::Disconnected) => break,
        };
        let mut taken = 0;
        while let Some(cmd) = next.take() {
            let now = crate::now_ms();
            match cmd {
                RoomCmd::Open {
                    conn,
                    ip,
                    out,
                    kill,
                } => {
                    io.fan.attach(conn, out, kill);
                    io.feed(&mut room, Input::Open { conn, ip }, now, &mut batch);
                }
                RoomCmd::Text { conn, text } => {
                    io.feed(
                        &mut room,
                        Input::Text { conn, text: &text },
                        now,
                        &mut batch,
                    );
                }
                RoomCmd::Binary { conn, len } => {
                    io.feed(&mut room, Input::Binary { conn, len }, now, &mut batch);
                }
                RoomCmd::Closed { conn } => {
                    io.fan.detach(conn);
                    io.feed(&mut room, Input::Closed { conn }, now, &mut batch);
                }
                RoomCmd::Shutdown => {
                    stop = true;
                    break;
                }
            }
            taken += 1;
            if taken < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            io.feed(&mut room, Input::Tick, crate::now_ms(), &mut batch);
        }
        if io.exec(batch).is_err() {
            io.fan.close_all(CloseReason {
                code: ErrorCode::Storage,
                reason: "the room's storage failed; reconnect".into(),
            });
            break;
        }
        io.fan.poll_flush(Instant::now());
    }
    tracing::info!(room = %room_id, "room thread stopped");
}

struct Io<'a> {
    store: &'a mut dyn Storage,
    fan: &'a mut dyn Fanout,
    stats: &'a ServerStats,
    room_id: &'a str,
}

impl Io<'_> {
    /// Carry out actions: durable writes first (one transaction), then the rest in order.
    /// Feed one input to the room and resolve gift round trips at once (ledger write, then
    /// `GiftRecorded`), so that events are numbered in the order they will be sent. The other
    /// actions are appended to `batch`.
    fn feed(&mut self, room: &mut Room, input: Input<'_>, now: u64, batch: &mut Vec<Action>) {
        let actions = room.handle(input, now);
        self.resolve(room, actions, batch);
    }

    fn resolve(&mut self, room: &mut Room, actions: Vec<Action>, batch: &mut Vec<Action>) {
        for a in actions {
            let Action::RecordGift { conn, gift } = a else {
                batch.push(a);
                continue;
            };
            let now = crate::now_ms();
            let next = match self.store.record_gift(self.room_id, &gift) {
                Ok(outcome) => room.handle(
                    Input::GiftRecorded {
                        conn,
                        gift,
                        outcome,
                    },
                    now,
                ),
                Err(e) => {
                    self.stats.storage_errors.fetch_add(1, Ordering::Relaxed);
                    room.handle(
                        Input::GiftFailed {
                            conn,
                            key: gift.key,
                            error: e.to_string(),
                        },
                        now,
                    )
                }
            };
            self.resolve(room, next, batch);
        }
    }

    /// Carry out a resolved batch: all durable writes in one transaction, then the rest in
    /// order. If the commit fails nothing of the batch is sent and the error is returned: the
    /// caller stops the room (crash-only), and the next connection reopens it from what is
    /// durable — the same path as a restart after `kill -9`.
    fn exec(&mut self, actions: Vec<Action>) -> Result<(), StorageError> {
        let writes: Vec<Write> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Persist(w) => Some(w.clone()),
                _ => None,
            })
            .collect();
        if let Err(e) = self.store.commit(self.room_id, &writes) {
            self.stats.storage_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(room = %self.room_id, error = %e, "storage commit failed; stopping the room");
            return Err(e);
        }
        for a in actions {
            match a {
                // Resolved by `feed`; nothing else produces them.
                Action::Persist(_) | Action::RecordGift { .. } => {}
                Action::Send { conn, msg } => self.fan.send(conn, msg.to_json().into()),
                Action::Broadcast(msg) => self.fan.broadcast(msg.to_json().into()),
                Action::Subscribe { conn, batch } => self.fan.subscribe(conn, batch),
                Action::Close { conn, code, reason } => {
                    self.fan.close(conn, CloseReason { code, reason })
                }
            }
        }
        Ok(())
    }
}

fn close_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::TooLarge => 1009,
        ErrorCode::SlowConsumer | ErrorCode::Busy => 1013,
        ErrorCode::RoomClosed => 1000,
        _ => 1008,
    }
}

/// The socket as tungstenite sees it: it reads the client's frames from it (after the bytes
/// hyper had already read), and what it writes itself (pongs, the reply to a close) goes into the
/// connection's ordered outgoing queue — tungstenite writes whole frames per call, so they never
/// interleave with the room's.
struct Wire {
    rd: tokio::net::tcp::OwnedReadHalf,
    prefix: Bytes,
    out: Arc<ConnOut>,
}

impl tokio::io::AsyncRead for Wire {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.rd).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Wire {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(match self.out.push(Bytes::copy_from_slice(buf)) {
            Push::Full => Err(std::io::Error::other("outgoing queue full")),
            Push::Written | Push::Queued => Ok(buf.len()),
        })
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// How long a closing connection may take to get its last frames out.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// Deliver what is already queued, then the reason and the close frame (bounded in time).
async fn close_with(out: &ConnOut, why: CloseReason) {
    let msg = ServerMsg::error(why.code, why.reason.clone()).to_json();
    out.push_force(text_frames([msg.as_str()]));
    let reason: String = why.reason.chars().take(100).collect();
    out.push_force(close_frame(close_code(why.code), &reason));
    let _ = tokio::time::timeout(CLOSE_FLUSH, out.flush()).await;
}

async fn connection(
    tcp: tokio::net::TcpStream,
    prefix: Bytes,
    s: Arc<Shared>,
    room: cb::Sender<RoomCmd>,
    ip: Option<IpAddr>,
) {
    let conn = s.next_conn.fetch_add(1, Ordering::Relaxed);
    s.stats.connections_open.fetch_add(1, Ordering::Relaxed);
    s.stats.connections_total.fetch_add(1, Ordering::Relaxed);
    let (rd, wr) = tcp.into_split();
    let out = Arc::new(ConnOut::new(Some(wr), s.cfg.conn_queue));
    let (kill_tx, mut kill_rx) = oneshot::channel::<CloseReason>();
    let mut shutdown = s.shutdown.clone();
    let max = s.cfg.max_ws_message;
    // Small read buffer: most connections are idle viewers (tungstenite defaults to 128 KiB).
    // It writes nothing but pongs and close replies, straight through.
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0);
    let wire = Wire {
        rd,
        prefix,
        out: out.clone(),
    };
    let mut stream = tokio_tungstenite::WebSocketStream::from_raw_socket(
        wire,
        tungstenite::protocol::Role::Server,
        Some(config),
    )
    .await;
    if room
        .try_send(RoomCmd::Open {
            conn,
            ip,
            out: out.clone(),
            kill: kill_tx,
        })
        .is_err()
    {
        s.stats.dropped_in.fetch_add(1, Ordering::Relaxed);
        close_with(
            &out,
            CloseReason {
                code: ErrorCode::Busy,
                reason: "the room is overloaded; try again".into(),
            },
        )
        .await;
        s.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let stopped = async move {
        let _ = shutdown.wait_for(|v| *v).await;
    };
    let writer = async {
        tokio::select! {
            biased;
            why = &mut kill_rx => {
                if let Ok(why) = why {
                    // Boxed: its state would otherwise sit in every idle connection.
                    Box::pin(close_with(&out, why)).await;
                }
            }
            _ = stopped => {
                out.push_force(close_frame(1012, "server restarting"));
                let _ = tokio::time::timeout(CLOSE_FLUSH, out.flush()).await;
            }
            // Wakes only when the socket could not take something at once.
            _ = out.run() => {}
        }
    };
    let reader = async {
        while let Some(msg) = stream.next().await {
            let cmd = match msg {
                Ok(tungstenite::Message::Text(text)) => RoomCmd::Text { conn, text },
                Ok(tungstenite::Message::Binary(b)) => RoomCmd::Binary { conn, len: b.len() },
                Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)) => continue,
                Ok(tungstenite::Message::Frame(_)) => continue,
                Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            };
            s.stats.frames_in.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = room.try_send(cmd) {
                if matches!(e, cb::TrySendError::Disconnected(_)) {
                    // The room thread stopped (idle or storage failure): end this connection;
                    // the client reconnects and the room reopens from storage.
                    break;
                }
                s.stats.dropped_in.fetch_add(1, Ordering::Relaxed);
                let busy =
                    ServerMsg::error(ErrorCode::Busy, "the room is overloaded; message dropped")
                        .to_json();
                if out.push(text_frames([busy.as_str()])) == Push::Full {
                    s.stats.dropped_out.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };
    tokio::select! {
        _ = writer => {},
        _ = reader => {},
    }
    // What is still queued (the reply to the client's close, say) gets a moment to go out.
    let _ = tokio::time::timeout(CLOSE_FLUSH, out.flush()).await;
    // The room must hear about it even when its queue is full.
    if let Err(cb::TrySendError::Full(cmd)) = room.try_send(RoomCmd::Closed { conn }) {
        let _ = tokio::task::spawn_blocking(move || room.send_timeout(cmd, Duration::from_secs(5)))
            .await;
    }
    s.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Conn {
        out: Arc<ConnOut>,
        kill: oneshot::Receiver<CloseReason>,
    }

    /// A connection without a socket: everything it is sent stays queued, for the test to read.
    fn attach(fan: &mut LocalFanout, conn: ConnId, queue: usize) -> Conn {
        let out = Arc::new(ConnOut::new(None, queue));
        let (ktx, kill) = oneshot::channel();
        fan.attach(conn, out.clone(), ktx);
        Conn { out, kill }
    }

    /// The text frames' payloads in encoded bytes.
    fn decode(mut b: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while !b.is_empty() {
            assert_eq!(b[0], 0x81, "a final text frame");
            let (len, head) = match b[1] {
                126 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 => (
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (usize::from(n), 2),
            };
            out.push(String::from_utf8(b[head..head + len].to_vec()).unwrap());
            b = &b[head + len..];
        }
        out
    }

    fn fanout(window_ms: u64) -> (LocalFanout, Arc<ServerStats>) {
        let stats = Arc::new(ServerStats::default());
        let cfg = CoalesceConfig {
            window: Duration::from_millis(window_ms),
            max_window: Duration::from_millis(window_ms),
            ..CoalesceConfig::default()
        };
        (LocalFanout::new(stats.clone(), cfg), stats)
    }

    fn frame(s: &str) -> Frame {
        Frame::from(s.to_string())
    }

    /// Every frame text a connection has queued, in order.
    fn texts(c: &mut Conn) -> Vec<String> {
        c.out.take_queued().iter().flat_map(|b| decode(b)).collect()
    }

    #[test]
    fn broadcasts_in_a_busy_room_reach_each_subscriber_as_one_item_per_window() {
        let (mut fan, _) = fanout(20);
        let mut plain = attach(&mut fan, 1, 16);
        let mut batched = attach(&mut fan, 2, 16);
        let mut joining = attach(&mut fan, 3, 16);
        fan.subscribe(1, false);
        fan.subscribe(2, true);
        let t0 = Instant::now();
        fan.broadcast(frame(r#"{"seq":1}"#));
        fan.poll_flush(t0); // quiet room: at once
        assert_eq!(texts(&mut plain), [r#"{"seq":1}"#]);
        assert_eq!(texts(&mut batched), [r#"{"seq":1}"#]);
        fan.broadcast(frame(r#"{"seq":2}"#));
        fan.broadcast(frame(r#"{"type":"presence"}"#));
        fan.poll_flush(t0 + Duration::from_millis(5));
        assert!(
            plain.out.queued() == 0 && batched.out.queued() == 0,
            "held back"
        );
        fan.poll_flush(t0 + Duration::from_millis(20));
        let items = plain.out.take_queued();
        assert_eq!(items.len(), 1, "one write");
        assert_eq!(
            decode(&items[0]),
            [r#"{"seq":2}"#, r#"{"type":"presence"}"#]
        );
        assert_eq!(
            texts(&mut batched),
            [r#"{"type":"batch","messages":[{"seq":2},{"type":"presence"}]}"#]
        );
        assert!(joining.out.queued() == 0, "not subscribed: no broadcasts");
        assert!(joining.kill.try_recv().is_err());
    }

    #[test]
    fn a_subscriber_that_joins_while_broadcasts_wait_gets_only_later_ones() {
        let (mut fan, _) = fanout(20);
        let mut early = attach(&mut fan, 1, 16);
        let mut late = attach(&mut fan, 2, 16);
        fan.subscribe(1, true);
        let t0 = Instant::now();
        fan.broadcast(frame("1"));
        fan.poll_flush(t0);
        fan.broadcast(frame("2"));
        fan.broadcast(frame("3"));
        // Its welcome (history up to seq 3) went out now; 2 and 3 must not come again.
        fan.subscribe(2, true);
        fan.broadcast(frame("4"));
        fan.broadcast(frame("5"));
        fan.poll_flush(t0 + Duration::from_millis(20));
        assert_eq!(
            texts(&mut early),
            ["1", r#"{"type":"batch","messages":[2,3,4,5]}"#]
        );
        assert_eq!(texts(&mut late), [r#"{"type":"batch","messages":[4,5]}"#]);
        // Next window: everything again.
        fan.broadcast(frame("6"));
        fan.broadcast(frame("7"));
        fan.poll_flush(t0 + Duration::from_millis(40));
        assert_eq!(texts(&mut late), [r#"{"type":"batch","messages":[6,7]}"#]);
    }

    #[test]
    fn a_full_queue_closes_the_slow_consumer_and_counts_every_dropped_message() {
        let (mut fan, stats) = fanout(20);
        let mut slow = attach(&mut fan, 1, 1);
        let mut fast = attach(&mut fan, 2, 16);
        fan.subscribe(1, false);
        fan.subscribe(2, false);
        let t0 = Instant::now();
        fan.broadcast(frame("1"));
        fan.poll_flush(t0); // fills the slow one's queue
        fan.broadcast(frame("2"));
        fan.broadcast(frame("3"));
        fan.broadcast(frame("4"));
        fan.poll_flush(t0 + Duration::from_millis(20));
        assert_eq!(stats.dropped_out.load(Ordering::Relaxed), 3);
        assert_eq!(stats.slow_consumers.load(Ordering::Relaxed), 1);
        let why = slow.kill.try_recv().expect("closed");
        assert_eq!(why.code, ErrorCode::SlowConsumer);
        assert_eq!(fan.connections(), 1);
        assert_eq!(texts(&mut fast), ["1", "2", "3", "4"]);
    }

    #[test]
    fn a_flush_split_over_writer_threads_reaches_every_subscriber_once_and_finds_the_slow_ones() {
        let (fan, stats) = fanout(20);
        let mut fan = fan.with_writer_threads(3);
        let n = 3 * MIN_SHARE as u64 + 7;
        // Every 100th connection can hold one item only: the second flush finds it slow.
        let mut conns: Vec<Conn> = (0..n)
            .map(|i| attach(&mut fan, i, if i % 100 == 0 { 1 } else { 16 }))
            .collect();
        for i in 0..n {
            fan.subscribe(i, i % 2 == 0);
        }
        let t0 = Instant::now();
        fan.broadcast(frame("1"));
        fan.poll_flush(t0);
        fan.broadcast(frame("2"));
        fan.broadcast(frame("3"));
        fan.poll_flush(t0 + Duration::from_millis(20));
        let slow = (0..n).filter(|i| i % 100 == 0).count() as u64;
        for (i, c) in conns.iter_mut().enumerate() {
            if i % 100 == 0 {
                let why = c.kill.try_recv().expect("closed");
                assert_eq!(why.code, ErrorCode::SlowConsumer);
            } else if i % 2 == 0 {
                assert_eq!(
                    texts(c),
                    ["1", r#"{"type":"batch","messages":[2,3]}"#],
                    "{i}"
                );
            } else {
                assert_eq!(texts(c), ["1", "2", "3"], "{i}");
            }
        }
        // The slow ones asked for batches: one message (the batch frame) dropped each.
        assert_eq!(stats.slow_consumers.load(Ordering::Relaxed), slow);
        assert_eq!(stats.dropped_out.load(Ordering::Relaxed), slow);
        assert_eq!(fan.connections() as u64, n - slow);
    }

    #[test]
    fn closing_a_subscriber_delivers_the_waiting_broadcasts_first() {
        let (mut fan, _) = fanout(1000);
        let mut c = attach(&mut fan, 1, 16);
        fan.subscribe(1, true);
        let t0 = Instant::now();
        fan.broadcast(frame("1"));
        fan.poll_flush(t0);
        fan.broadcast(frame(r#"{"type":"room_closed"}"#));
        fan.close(
            1,
            CloseReason {
                code: ErrorCode::RoomClosed,
                reason: "bye".into(),
            },
        );
        assert_eq!(texts(&mut c), ["1", r#"{"type":"room_closed"}"#]);
        assert_eq!(
            c.kill.try_recv().expect("closed").code,
            ErrorCode::RoomClosed
        );
    }

    #[test]
    fn the_client_address_comes_from_x_forwarded_for_only_through_a_trusted_proxy() {
        let mut h = axum::http::HeaderMap::new();
        h.append("x-forwarded-for", "10.0.0.1, 198.51.100.7".parse().unwrap());
        h.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let remote: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A client straight from the network cannot pick its address.
        assert_eq!(client_ip(false, remote, &h), ip("192.0.2.1"));
        // A proxy or tunnel on this machine, or any peer when told so: the proxy's entry.
        assert_eq!(client_ip(false, local, &h), ip("203.0.113.9"));
        assert_eq!(client_ip(true, remote, &h), ip("203.0.113.9"));
        // No (usable) header: the peer itself.
        let none = axum::http::HeaderMap::new();
        assert_eq!(client_ip(true, remote, &none), ip("192.0.2.1"));
        let mut bad = axum::http::HeaderMap::new();
        bad.append("x-forwarded-for", "unknown".parse().unwrap());
        assert_eq!(client_ip(false, local, &bad), ip("127.0.0.1"));
    }

    #[test]
    fn batch_frames_decode_as_the_messages_they_hold() {
        let a = ServerMsg::error(ErrorCode::Busy, "a");
        let b = ServerMsg::Control(crate::protocol::Control::Pong {
            t: 1,
            server_time: 2,
        });
        let f = batch_frame(&[a.to_json().into(), b.to_json().into()]);
        let back = crate::protocol::decode_server(&f, 1 << 16).unwrap();
        assert_eq!(
            back,
            ServerMsg::Control(crate::protocol::Control::Batch {
                messages: vec![a, b]
            })
        );
    }
}
