//! `marquee room bench`: a load generator for one room.
//!
//! The room's host opens the room (a server creates a room only for its host) and holds it;
//! N subscribers join it; publishers (moderator tokens, each under the per-connection rate
//! limit) send M danmaku per second whose text carries the send time; every subscriber records
//! publish→receive latency. Before that, `--idle` extra connections join and the growth of this
//! process's RSS is divided by their number (client and server sides both live in this process
//! when the server is in-process, so the figure is an upper bound for the server side).
//! Numbers are reported, never asserted: these machines are shared and noisy.
//!
//! The load generator shares the machine with the server, so it is kept cheap: subscribers join
//! with a minimal client ([`RawSub`]; tungstenite zeroes its whole read buffer on every read and
//! does per-frame work the bench does not need), then their sockets are read by `--readers` plain
//! threads with one epoll each ([`read_loop`]), which parse only frame headers and timestamps
//! into one histogram per thread; subscribers ask for `batch` frames (unless `--no-batch`), and
//! publishers run on their own thread so that the readers cannot delay their sends.

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use marquee_room::RoomError;
use marquee_room::client::ws_url;
use marquee_room::protocol::Role;
use marquee_room::secret::{load_or_create_secret, random_hex};
use marquee_room::server::{Caps, ServerConfig, start};
use marquee_room::token::{self, Claims};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// `marquee room bench`
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Subscribers in one room.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Danmaku published per second (spread over the publishers).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Publishing time in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Extra idle connections opened to measure memory per idle connection.
    #[arg(long, default_value_t = 0)]
    pub idle: usize,
    /// Bench a running server (`ws://host:port/room/ROOM/ws`) instead of an in-process one;
    /// needs `--secret-file` to mint tokens. Repeat it for the nodes of a cluster (the same
    /// room on each): the host joins the first, subscribers and publishers are dealt out
    /// over all of them in turn.
    #[arg(long = "url")]
    pub url: Vec<String>,
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// With `--url`: the server's process id, to measure its RSS per idle connection.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Subscribers do not ask for `batch` frames (each broadcast arrives as its own frame).
    #[arg(long)]
    pub no_batch: bool,
    /// Threads reading the subscribers' sockets (each polls its share of them).
    #[arg(long, default_value_t = 1)]
    pub readers: usize,
}

/// Run the load generator and print a table. Blocking; builds its own tokio runtime.
pub fn bench(args: &BenchArgs) -> Result<BenchReport, RoomError> {
    tokio::runtime::Runtime::new()?.block_on(run(args))
}

/// Results of a bench run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BenchReport {
    /// Room nodes the connections were dealt out over (1 without `--url` or with one).
    pub nodes: usize,
    pub subscribers: usize,
    pub publishers: usize,
    pub target_rate: u32,
    pub seconds: f64,
    pub published: u64,
    pub delivered: u64,
    pub expected: u64,
    pub delivered_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub idle_connections: usize,
    pub rss_per_idle_conn_kb: Option<f64>,
    /// Whether the RSS figure is the server process alone (`--server-pid`) or client+server.
    pub rss_server_only: bool,
    pub cpu_percent: Option<f64>,
    pub server_dropped_out: Option<u64>,
    pub server_slow_consumers: Option<u64>,
    /// Subscribers asked for `batch` frames.
    pub batch: bool,
    pub command: String,
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Resident set size of a process (this one for `None`) in KiB (Linux), if known.
fn rss_kb(pid: Option<u32>) -> Option<u64> {
    let path = pid.map_or("/proc/self/status".to_string(), |p| {
        format!("/proc/{p}/status")
    });
    let s = std::fs::read_to_string(path).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of this process in seconds (Linux), if known.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

const TS_MARK: &str = "\"text\":\"b ";

/// A subscriber that reads WebSocket frames straight off the socket: the load generator only
/// needs the timestamps, and tungstenite's per-read zeroing and per-frame work were a large
/// part of what the generator cost (server frames are unmasked; nothing is sent after hello).
struct RawSub {
    tcp: tokio::net::TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    end: usize,
    closed: bool,
}

impl RawSub {
    const BUF: usize = 16 * 1024;

    /// Upgrade, send `hello` (masked, as a client must), and read until `welcome`.
    async fn join(url: &str, hello: String) -> Result<RawSub, RoomError> {
        use tokio::io::AsyncWriteExt;
        let err = |e: &dyn std::fmt::Display| RoomError::WebSocket(format!("{url}: {e}"));
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| err(&"the bench speaks ws:// only"))?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let tcp = tokio::net::TcpStream::connect(host)
            .await
            .map_err(|e| err(&format!("{e} (raise `ulimit -n` for many connections)")))?;
        let _ = tcp.set_nodelay(true);
        let mut sub = RawSub {
            tcp,
            buf: vec![0; Self::BUF],
            end: 0,
            closed: false,
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        sub.tcp
            .write_all(req.as_bytes())
            .await
            .map_err(|e| err(&e))?;
        // The server says nothing after its 101 until it has our hello: read the head only.
        loop {
            if !sub.read().await.map_err(|e| err(&e))? {
                return Err(err(&"closed during the upgrade"));
            }
            if let Some(i) = sub.buf[..sub.end].windows(4).position(|w| w == b"\r\n\r\n") {
                if !sub.buf.starts_with(b"HTTP/1.1 101") {
                    let head = String::from_utf8_lossy(&sub.buf[..i]).into_owned();
                    return Err(err(&format!("upgrade refused: {head}")));
                }
                sub.buf.copy_within(i + 4..sub.end, 0);
                sub.end -= i + 4;
                break;
            }
        }
        let payload = hello.as_bytes();
        let mut frame = vec![0x81];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0; 4]); // mask key 0: the payload goes as it is
        frame.extend_from_slice(payload);
        sub.tcp.write_all(&frame).await.map_err(|e| err(&e))?;
        loop {
            let mut welcome = Ok(false);
            sub.frames(|t| {
                let has = |pat: &[u8]| t.windows(pat.len()).any(|w| w == pat);
                if has(br#""type":"welcome""#) {
                    welcome = Ok(true);
                } else if has(br#""type":"error""#) {
                    welcome = Err(String::from_utf8_lossy(t).into_owned());
                }
            });
            match welcome {
                Ok(true) => return Ok(sub),
                Err(e) => return Err(RoomError::Protocol(format!("join refused: {e}"))),
                Ok(false) => {}
            }
            if sub.closed || !sub.read().await.map_err(|e| err(&e))? {
                return Err(err(&"closed before welcome"));
            }
        }
    }

    /// Read what the socket has; `false` at end of stream or after a close frame.
    async fn read(&mut self) -> std::io::Result<bool> {
        use tokio::io::AsyncReadExt;
        if self.closed {
            return Ok(false);
        }
        if self.end == self.buf.len() {
            // A frame bigger than the buffer (a long history): grow, zeroed once.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.tcp.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }

    /// Hand every complete text frame's payload to `f` and drop it from the buffer.
    fn frames(&mut self, mut f: impl FnMut(&[u8])) {
        let mut at = 0;
        loop {
            let b = &self.buf[at..self.end];
            let Some((op, head, len)) = frame_at(b) else {
                break;
            };
            match op {
                0 | 1 => f(&b[head..head + len]),
                8 => self.closed = true,
                _ => {}
            }
            at += head + len;
        }
        self.buf.copy_within(at..self.end, 0);
        self.end -= at;
    }
}

/// One subscriber socket of a reader thread.
struct ReadConn {
    tcp: mio::net::TcpStream,
    /// The start of a frame that has not fully arrived yet.
    rest: Vec<u8>,
    closed: bool,
}

impl ReadConn {
    fn from_sub(sub: RawSub) -> Result<ReadConn, RoomError> {
        let rest = sub.buf[..sub.end].to_vec();
        let tcp = sub.tcp.into_std()?;
        tcp.set_nonblocking(true)?;
        Ok(ReadConn {
            tcp: mio::net::TcpStream::from_std(tcp),
            rest,
            closed: false,
        })
    }
}

/// What one reader thread saw.
struct ReadOut {
    delivered: u64,
    hist: Option<Histogram<u64>>,
}

/// See [`read_loop`]: a poll that found fewer ready sockets than this is followed by a pause.
const SMALL_BATCH: usize = 64;
const READ_PAUSE: Duration = Duration::from_micros(500);

/// Read buffer of a reader thread: one for all its sockets (a flush's frame for one subscriber is
/// a few KiB).
const READ_BUF: usize = 256 * 1024;

/// Read a share of the subscribers' sockets on this thread until `stop`: one `epoll` (mio) for
/// all of them, one shared read buffer, one histogram, and nothing parsed but frame headers and
/// the bench timestamps. Each read is stamped when it returns; every timestamp in it is recorded.
///
/// Why not a task per socket: with 5,000 tokio tasks the generator paid for a wake-up, a poll and
/// a histogram lock per read on top of the `recv`; on this 2-core machine every cycle it spends is
/// taken from the server it measures.
fn read_loop(
    mut conns: Vec<ReadConn>,
    stop: &AtomicBool,
    live: &AtomicU64,
) -> Result<ReadOut, RoomError> {
    let mut poll = mio::Poll::new()?;
    for (i, c) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(&mut c.tcp, mio::Token(i), mio::Interest::READABLE)?;
    }
    let mut events = mio::Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUF];
    let mut hist = histogram();
    let mark = memchr::memmem::Finder::new(TS_MARK.as_bytes());
    let mut delivered = 0u64;
    // Frames that arrived before the readers started (normally none).
    for c in conns.iter_mut() {
        let rest = std::mem::take(&mut c.rest);
        let now = now_us();
        let (used, got, closed) = parse_frames(
            &rest,
            |ts| {
                if let Some(h) = hist.as_mut() {
                    h.saturating_record(now.saturating_sub(ts).max(1));
                }
            },
            &mark,
        );
        c.rest = rest[used..].to_vec();
        c.closed |= closed;
        delivered += got;
    }
    live.fetch_add(delivered, Ordering::Relaxed);
    while !stop.load(Ordering::Relaxed) {
        match poll.poll(&mut events, Some(Duration::from_millis(10))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        let mut got_now = 0;
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            while !c.closed {
                let keep = c.rest.len();
                if buf.len() < keep * 2 {
                    buf.resize(keep * 2, 0);
                }
                buf[..keep].copy_from_slice(&c.rest);
                let n = match std::io::Read::read(&mut c.tcp, &mut buf[keep..]) {
                    Ok(0) => {
                        c.closed = true;
                        break;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        c.closed = true;
                        break;
                    }
                };
                let now = now_us();
                let data = &buf[..keep + n];
                let (used, got, closed) = parse_frames(
                    data,
                    |ts| {
                        if let Some(h) = hist.as_mut() {
                            h.saturating_record(now.saturating_sub(ts).max(1));
                        }
                    },
                    &mark,
                );
                c.rest.clear();
                c.rest.extend_from_slice(&data[used..]);
                c.closed |= closed;
                got_now += got;
                // A short read took all there was (as tokio assumes): the next arrival raises a
                // new edge, so no extra `recv` just to see `WouldBlock`.
                if keep + n < buf.len() {
                    break;
                }
            }
            if c.closed {
                let _ = poll.registry().deregister(&mut c.tcp);
            }
        }
        delivered += got_now;
        live.fetch_add(got_now, Ordering::Relaxed);
        // A flush reaches thousands of sockets one after another: a reader that went back to
        // `epoll_wait` after each one would be woken (and the server's `send` would pay for
        // waking it) once per socket. A short pause after a small batch lets the next ones
        // arrive first; it adds at most `READ_PAUSE` to what is measured.
        if events.iter().count() < SMALL_BATCH {
            std::thread::sleep(READ_PAUSE);
        }
    }
    Ok(ReadOut { delivered, hist })
}

/// The complete WebSocket frame at the start of `b`, if it has all arrived: its opcode, header
/// length and payload length.
fn frame_at(b: &[u8]) -> Option<(u8, usize, usize)> {
    let (&b0, &b1) = b.first().zip(b.get(1))?;
    let (len, head): (usize, usize) = match b1 & 0x7f {
        126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
        127 if b.len() >= 10 => {
            let mut l = [0; 8];
            l.copy_from_slice(&b[2..10]);
            (
                usize::try_from(u64::from_be_bytes(l)).unwrap_or(usize::MAX),
                10,
            )
        }
        126 | 127 => return None,
        n => (usize::from(n), 2),
    };
    let head = head + if b1 & 0x80 != 0 { 4 } else { 0 };
    (b.len() >= head.saturating_add(len)).then_some((b0 & 0x0f, head, len))
}

/// Walk the complete server frames (unmasked) at the start of `data`: each bench timestamp in a
/// text frame goes to `ts`. Returns the bytes used, the timestamps seen, and whether a close frame
/// came.
fn parse_frames(
    data: &[u8],
    mut ts: impl FnMut(u64),
    mark: &memchr::memmem::Finder<'_>,
) -> (usize, u64, bool) {
    let (mut at, mut got, mut closed) = (0, 0u64, false);
    loop {
        let b = &data[at..];
        let Some((op, head, len)) = frame_at(b) else {
            break;
        };
        match op {
            0 | 1 => {
                for t in find_ts(&b[head..head + len], mark) {
                    got += 1;
                    ts(t);
                }
            }
            8 => closed = true,
            _ => {}
        }
        at += head + len;
    }
    (at, got, closed)
}

/// Send times (µs) of the bench danmaku in a frame: one in a plain frame, several in a `batch`.
/// A SIMD substring search: the generator reads ~200 MB/s of frames at
/// 5,000 × 200, and a byte-by-byte search for the mark was a large part of its time.
fn find_ts<'a>(
    frame: &'a [u8],
    mark: &'a memchr::memmem::Finder<'a>,
) -> impl Iterator<Item = u64> + 'a {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let i = mark.find(frame.get(at..)?)?;
            at += i + mark.needle().len();
            let digits = frame.get(at..)?;
            let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
            let ts = digits[..len].iter().try_fold(0u64, |v, d| {
                v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            if let Some(ts) = ts.filter(|_| len > 0) {
                return Some(ts);
            }
        }
    })
}

fn histogram() -> Option<Histogram<u64>> {
    Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).ok()
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

fn sign(secret: &[u8], room: &str, user: &str, role: Role) -> String {
    token::sign(
        secret,
        &Claims {
            room: room.into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 86_400_000,
        },
    )
}

fn hello(secret: &[u8], room: &str, user: &str, role: Role, batch: bool) -> String {
    let t = sign(secret, room, user, role);
    if batch {
        format!(r#"{{"type":"hello","token":"{t}","batch":true}}"#)
    } else {
        format!(r#"{{"type":"hello","token":"{t}"}}"#)
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The room's host, which opens the room (a server creates a room only for its host) and
/// holds it open for the run.
async fn open_as_host(url: &str, secret: &[u8], room: &str) -> Result<Ws, RoomError> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let t = sign(secret, room, "bench-host", Role::Host);
    let mut req = url
        .into_client_request()
        .map_err(|e| RoomError::WebSocket(format!("{url}: {e}")))?;
    if let Ok(v) = format!("Bearer {t}").parse() {
        req.headers_mut().insert("authorization", v);
    }
    join_with(req, url, format!(r#"{{"type":"hello","token":"{t}"}}"#)).await
}

async fn join(url: &str, hello: String) -> Result<Ws, RoomError> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let req = url
        .into_client_request()
        .map_err(|e| RoomError::WebSocket(format!("{url}: {e}")))?;
    join_with(req, url, hello).await
}

async fn join_with(
    req: tokio_tungstenite::tungstenite::handshake::client::Request,
    url: &str,
    hello: String,
) -> Result<Ws, RoomError> {
    // Small buffers (the defaults are 128 KiB, zeroed per read); no Nagle for the publishers.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        .await
        .map_err(|e| {
            RoomError::WebSocket(format!(
                "connect {url}: {e} (raise `ulimit -n` for many connections)"
            ))
        })?;
    ws.send(Message::Text(hello.into()))
        .await
        .map_err(|e| RoomError::WebSocket(e.to_string()))?;
    while let Some(m) = ws.next().await {
        match m {
            Ok(Message::Text(t)) if t.contains("\"type\":\"welcome\"") => return Ok(ws),
            Ok(Message::Text(t)) if t.contains("\"type\":\"error\"") => {
                return Err(RoomError::Protocol(format!("join refused: {t}")));
            }
            Ok(_) => {}
            Err(e) => return Err(RoomError::WebSocket(e.to_string())),
        }
    }
    Err(RoomError::WebSocket("closed before welcome".into()))
}

/// `n` connections named `{prefix}{k}`, dealt out over `urls` in turn.
async fn join_many(
    urls: &[String],
    secret: &[u8],
    room: &str,
    prefix: &str,
    n: usize,
    role: Role,
    batch: bool,
) -> Result<Vec<Ws>, RoomError> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let futs = (i..i + (n - i).min(200)).map(|k| {
            join(
                &urls[k % urls.len()],
                hello(secret, room, &format!("{prefix}{k}"), role, batch),
            )
        });
        for r in futures_util::future::join_all(futs).await {
            out.push(r?);
        }
        i += (n - i).min(200);
    }
    Ok(out)
}

/// One publisher: a danmaku carrying its send time every `interval`, starting after `offset`.
async fn publish(
    ws: Ws,
    offset: Duration,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
    stop_all: impl std::future::Future<Output = ()>,
    published: Arc<AtomicU64>,
) {
    tokio::pin!(stop);
    tokio::pin!(stop_all);
    let (mut sink, mut stream) = ws.split();
    // Spread publishers over the interval.
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // After `stop` keep reading (and the socket open) until everything has landed: closing with
    // unread data would reset the connection and lose the last frames.
    let mut sending = true;
    loop {
        tokio::select! {
            _ = tick.tick(), if sending => {
                let msg = format!(r#"{{"type":"danmaku","text":"b {}"}}"#, now_us());
                if sink.send(Message::Text(msg.into())).await.is_err() { break; }
                published.fetch_add(1, Ordering::Relaxed);
            }
            m = stream.next() => if !matches!(m, Some(Ok(_))) { break },
            _ = &mut stop, if sending => sending = false,
            _ = &mut stop_all => break,
        }
    }
}

/// The room every URL names (`…/room/ROOM/ws`): a bench over several nodes is one room.
fn room_of(urls: &[String]) -> Result<String, RoomError> {
    let name = |u: &str| {
        u.trim_end_matches("/ws")
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let first = name(&urls[0]);
    match urls.iter().find(|u| name(u) != first) {
        Some(other) => Err(RoomError::InvalidArgument(format!(
            "every --url must name the same room: {} and {other} do not",
            urls[0]
        ))),
        None => Ok(first),
    }
}

/// Run the benchmark and print a table.
async fn run(args: &BenchArgs) -> Result<BenchReport, RoomError> {
    let room = "bench";
    let tmp = std::env::temp_dir().join(format!("marquee-room-bench-{}", std::process::id()));
    let (urls, secret, server) = if args.url.is_empty() {
        std::fs::create_dir_all(&tmp)?;
        let secret = random_hex(32)?.into_bytes();
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0"
                .parse()
                .map_err(|_| RoomError::InvalidArgument("addr".into()))?,
            secret.clone(),
        );
        cfg.db = Some(tmp.join("bench.db"));
        // Every bench connection comes from this machine.
        cfg.caps = Caps::unlimited();
        let h = start(cfg).await?;
        (vec![h.ws_url(room)], secret, Some(h))
    } else {
        let file = args
            .secret_file
            .as_ref()
            .ok_or_else(|| RoomError::InvalidArgument("--url needs --secret-file".into()))?;
        let urls: Vec<String> = args.url.iter().map(|u| ws_url(u)).collect();
        (urls, load_or_create_secret(file)?, None)
    };
    let room_name = room_of(&urls)?;
    let url = urls[0].clone();
    let mut host = open_as_host(&url, &secret, &room_name).await?;
    // Read (and drop) what the host is sent, as any subscriber's socket is read.
    let host_reader = tokio::spawn(async move { while host.next().await.is_some() {} });

    // Idle connections: memory per connection.
    let mut rss_per_idle = None;
    if args.idle > 0 {
        let before = rss_kb(args.server_pid);
        let idle = join_many(
            &urls,
            &secret,
            &room_name,
            "idle",
            args.idle,
            Role::Viewer,
            false,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let (Some(a), Some(b)) = (before, rss_kb(args.server_pid)) {
            rss_per_idle = Some(b.saturating_sub(a) as f64 / args.idle as f64);
        }
        drop(idle);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let batch = !args.no_batch;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stop_subs_tx, stop_subs_rx) = watch::channel(false);
    // `stop_subs_rx` also ends the publishers' reading side.
    let live = Arc::new(AtomicU64::new(0));
    let mut subs = Vec::with_capacity(args.subscribers);
    let mut i = 0;
    while i < args.subscribers {
        let n = (args.subscribers - i).min(200);
        let futs = (i..i + n).map(|k| {
            let hello = hello(&secret, &room_name, &format!("sub{k}"), Role::Viewer, batch);
            RawSub::join(&urls[k % urls.len()], hello)
        });
        for r in futures_util::future::join_all(futs).await {
            subs.push(r?);
        }
        i += n;
    }
    let readers = args.readers.clamp(1, subs.len().max(1));
    let stop_readers = Arc::new(AtomicBool::new(false));
    let mut shares: Vec<Vec<ReadConn>> = (0..readers).map(|_| Vec::new()).collect();
    for (i, sub) in subs.into_iter().enumerate() {
        shares[i % readers].push(ReadConn::from_sub(sub)?);
    }
    let mut reader_threads = Vec::with_capacity(readers);
    for (i, share) in shares.into_iter().enumerate() {
        let (stop, live) = (stop_readers.clone(), live.clone());
        reader_threads.push(
            std::thread::Builder::new()
                .name(format!("bench-reader-{i}"))
                .spawn(move || read_loop(share, &stop, &live))?,
        );
    }

    // Publishers stay under the per-connection rate limit (10/s), on their own thread and
    // runtime: their sockets are registered there, and their ticks are not queued behind
    // thousands of subscriber tasks.
    let rate = args.rate.max(1);
    let publishers = (rate as usize).div_ceil(8).max(1);
    let published = Arc::new(AtomicU64::new(0));
    let per_pub_interval = Duration::from_secs_f64(publishers as f64 / f64::from(rate));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), RoomError>>();
    let pub_thread = {
        let (urls, secret, room_name) = (urls.clone(), secret.clone(), room_name.clone());
        let (stop_rx, stop_subs_rx) = (stop_rx.clone(), stop_subs_rx.clone());
        let published = published.clone();
        std::thread::Builder::new()
            .name("bench-publishers".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let pubs = match join_many(
                        &urls,
                        &secret,
                        &room_name,
                        "pub",
                        publishers,
                        Role::Moderator,
                        false,
                    )
                    .await
                    {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let mut tasks = Vec::new();
                    for (i, ws) in pubs.into_iter().enumerate() {
                        let offset = per_pub_interval.mul_f64(i as f64 / publishers as f64);
                        tasks.push(tokio::spawn(publish(
                            ws,
                            offset,
                            per_pub_interval,
                            stopped(stop_rx.clone()),
                            stopped(stop_subs_rx.clone()),
                            published.clone(),
                        )));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })?
    };
    ready_rx
        .await
        .map_err(|_| RoomError::WebSocket("publisher thread stopped".into()))??;
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds.max(1))).await;
    let _ = stop_tx.send(true);
    let elapsed = started.elapsed().as_secs_f64();
    // Publishers finish their current send.
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Let in-flight frames land (up to 5 s), then stop the subscribers.
    let expected = published.load(Ordering::Relaxed) * args.subscribers as u64;
    let drain_until = Instant::now() + Duration::from_secs(5);
    while live.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_subs_tx.send(true);
    stop_readers.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || pub_thread.join()).await;
    let cpu = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => Some(100.0 * (b - a) / elapsed),
        _ => None,
    };
    let mut delivered = 0u64;
    let mut hist = histogram();
    for t in reader_threads {
        let out = tokio::task::spawn_blocking(move || t.join())
            .await
            .map_err(|e| RoomError::WebSocket(format!("reader thread: {e}")))?
            .map_err(|_| RoomError::WebSocket("a reader thread panicked".into()))??;
        delivered += out.delivered;
        if let (Some(all), Some(h)) = (hist.as_mut(), out.hist.as_ref()) {
            let _ = all.add(h);
        }
    }
    let q = |p: f64| {
        hist.as_ref()
            .map_or(0.0, |h| h.value_at_quantile(p) as f64 / 1000.0)
    };
    let published = published.load(Ordering::Relaxed);
    let report = BenchReport {
        subscribers: args.subscribers,
        nodes: urls.len(),
        publishers,
        target_rate: rate,
        seconds: elapsed,
        published,
        delivered,
        expected: published * args.subscribers as u64,
        delivered_per_s: delivered as f64 / elapsed,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: hist.as_ref().map_or(0.0, |h| h.max() as f64 / 1000.0),
        idle_connections: args.idle,
        rss_per_idle_conn_kb: rss_per_idle,
        rss_server_only: args.server_pid.is_some(),
        cpu_percent: cpu,
        server_dropped_out: server
            .as_ref()
            .map(|s| s.stats().dropped_out.load(Ordering::Relaxed)),
        server_slow_consumers: server
            .as_ref()
            .map(|s| s.stats().slow_consumers.load(Ordering::Relaxed)),
        batch,
        command: format!(
            "marquee room bench --subscribers {} --rate {} --seconds {} --idle {}{}",
            args.subscribers,
            args.rate,
            args.seconds,
            args.idle,
            if batch { "" } else { " --no-batch" }
        ),
    };
    host_reader.abort();
    if let Some(s) = server {
        s.shutdown().await;
        let _ = std::fs::remove_dir_all(&tmp);
    }
    print_table(&report);
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap_or_default())?;
    }
    Ok(report)
}

fn print_table(r: &BenchReport) {
    let opt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1}"));
    println!("| metric | value |");
    println!("| --- | --- |");
    println!(
        "| subscribers × target msg/s | {} × {} |",
        r.subscribers, r.target_rate
    );
    println!("| nodes the connections are dealt over | {} |", r.nodes);
    println!(
        "| published / delivered / expected | {} / {} / {} |",
        r.published, r.delivered, r.expected
    );
    println!(
        "| subscribers get `batch` frames | {} |",
        if r.batch { "yes" } else { "no" }
    );
    println!("| delivered msg/s | {:.0} |", r.delivered_per_s);
    println!(
        "| latency p50 / p99 / p999 / max (ms) | {:.1} / {:.1} / {:.1} / {:.1} |",
        r.p50_ms, r.p99_ms, r.p999_ms, r.max_ms
    );
    let whose = if r.rss_server_only {
        "server process"
    } else {
        "client+server in one process"
    };
    println!(
        "| RSS per idle connection (KiB, {whose}) | {} |",
        opt(r.rss_per_idle_conn_kb)
    );
    println!(
        "| CPU (% of one core, load generator{}) | {} |",
        if r.rss_server_only { "" } else { " + server" },
        opt(r.cpu_percent)
    );
    println!(
        "| server drops / slow consumers closed | {} / {} |",
        r.server_dropped_out.map_or("n/a".into(), |v| v.to_string()),
        r.server_slow_consumers
            .map_or("n/a".into(), |v| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_found_in_danmaku_frames() {
        let f = r##"{"seq":1,"epoch":2,"at":3,"type":"danmaku","id":1,"user":{"id":"p","name":"p","role":"moderator"},"text":"b 1763700000123456","color":"#ffffff","mode":"scroll"}"##;
        let mark = memchr::memmem::Finder::new(TS_MARK.as_bytes());
        let extract_ts = |f: &[u8]| find_ts(f, &mark).collect::<Vec<_>>();
        assert_eq!(extract_ts(f.as_bytes()), [1_763_700_000_123_456]);
        assert!(extract_ts(br#"{"type":"presence"}"#).is_empty());
        assert_eq!(extract_ts(br#"{"text":"b x","text":"b 12"}"#), [12]);
        let batch = format!(r#"{{"type":"batch","messages":[{f},{f},{{"type":"presence"}}]}}"#);
        assert_eq!(extract_ts(batch.as_bytes()).len(), 2);
    }

    #[test]
    fn frames_split_across_reads_are_counted_once_when_complete() {
        let mark = memchr::memmem::Finder::new(TS_MARK.as_bytes());
        let text = |p: &str| {
            let mut f = vec![0x81, 126];
            f.extend_from_slice(&(p.len() as u16).to_be_bytes());
            f.extend_from_slice(p.as_bytes());
            f
        };
        let mut data = text(&format!(r#"{{"text":"b 5","pad":"{}"}}"#, "x".repeat(200)));
        data.extend(text(
            r#"{"type":"batch","messages":[{"text":"b 7"},{"text":"b 9"}]}"#,
        ));
        data.extend([0x88, 0]); // close
        let mut seen = Vec::new();
        // Cut anywhere: the first part yields only whole frames, the rest the others.
        for cut in 0..data.len() {
            seen.clear();
            let (used, got1, _) = parse_frames(&data[..cut], |t| seen.push(t), &mark);
            let mut rest = data[used..cut].to_vec();
            rest.extend_from_slice(&data[cut..]);
            let (used2, got2, closed) = parse_frames(&rest, |t| seen.push(t), &mark);
            assert_eq!(used2, rest.len(), "cut {cut}");
            assert_eq!((got1 + got2, closed), (3, true), "cut {cut}");
            assert_eq!(seen, [5, 7, 9], "cut {cut}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_bench_delivers_to_every_subscriber() {
        let args = BenchArgs {
            subscribers: 20,
            rate: 20,
            seconds: 1,
            idle: 20,
            url: Vec::new(),
            secret_file: None,
            server_pid: None,
            json_out: None,
            no_batch: false,
            readers: 2,
        };
        let r = run(&args).await.unwrap();
        assert!(r.published > 0);
        assert_eq!(r.delivered, r.expected, "{r:?}");
    }
}
