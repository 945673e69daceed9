//! The preview's localhost HTTP server: one path (carrying a 128-bit token) streamed as
//! `multipart/x-mixed-replace` (MJPEG), everything else refused — and built so that no local
//! process or web page can exhaust the app through it.
//!
//! - A request head (line and headers) is read into a fixed buffer of [`Limits::head_bytes`]
//!   within [`Limits::head_timeout`] in all (not per read, so a byte now and then does not
//!   keep it open); past either, the connection is answered (431, 408) and closed.
//! - At most [`Limits::requests`] connections are read at once, each on a thread (a place is
//!   freed only once its thread has ended), and at most [`Limits::per_address`] of them from
//!   one address. When a new one comes in at a cap, the oldest one still sending its request
//!   (from the same address, at that address's cap) is ended if it has had [`EVICT_AFTER`] (a
//!   page's request arrives at once; the oldest is the likeliest to be stalling) and the new
//!   one takes its place; a new one that finds no place within [`PLACE_WAIT`] gets a 503. So
//!   a flood of silent sockets holds at most that many threads, and a real request still
//!   gets through.
//! - The `Host` header must name this machine by a loopback name (`127.0.0.1`, `localhost`,
//!   `[::1]`, with this server's port or none): a web page whose own name was rebound to
//!   127.0.0.1 (DNS rebinding) sends its own name and gets a 403. No `Host` (a native client
//!   speaking HTTP/1.0) is let through.
//! - At most [`Limits::streams`] streams run at once (fed or parked), each on a thread; more
//!   get a 503. A stream whose page went away ends within [`PEER_CHECK`] even when no picture
//!   is sent.
//!
//! Every refusal is counted by kind ([`Refusals`], shown in the hub's numbers) and logged: the
//! first of each kind as a warning, the rest at debug level (a flood does not flood the log).
//!
//! What a stream is fed, and when it is parked, is the hub's business ([`crate::preview`]).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One JPEG, shared by every stream it is sent to.
pub(crate) type Picture = Arc<Vec<u8>>;
/// A stream's one-picture queue.
pub(crate) type Feed = SyncSender<Picture>;

/// How often an unfed stream checks that its page is still there.
pub(crate) const PEER_CHECK: Duration = Duration::from_secs(1);
/// How long a new connection may wait for a reading place before it gets a 503.
const PLACE_WAIT: Duration = Duration::from_millis(250);
/// A reader older than this may be ended to make room: a page's request comes at once.
const EVICT_AFTER: Duration = Duration::from_millis(100);

/// What the server accepts at once (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Connections still sending their request.
    pub requests: usize,
    /// Of those, from one address.
    pub per_address: usize,
    /// Streams open, fed or parked.
    pub streams: usize,
    /// Time to send the whole request head.
    pub head_timeout: Duration,
    /// Bytes of request line and headers.
    pub head_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            requests: 8,
            per_address: 6,
            // The hub parks up to 8 older streams; WebKit opens two connections per picture.
            streams: 24,
            head_timeout: Duration::from_secs(5),
            head_bytes: 16 * 1024,
        }
    }
}

/// Connections refused, by why (each answered with its status, or ended unanswered).
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    /// 400: not a `GET` of HTTP/1.x, not UTF-8, or two `Host` headers.
    pub bad_request: AtomicU64,
    /// 431: a request head past [`Limits::head_bytes`].
    pub too_large: AtomicU64,
    /// 408: a request head not complete within [`Limits::head_timeout`].
    pub timed_out: AtomicU64,
    /// 403: a `Host` that is not a loopback name of this server (DNS rebinding).
    pub wrong_host: AtomicU64,
    /// 404: a path other than the token's.
    pub not_found: AtomicU64,
    /// 503: no reading place (a cap) or no stream place.
    pub busy: AtomicU64,
    /// Readers ended to make room for a newer connection (unanswered).
    pub evicted: AtomicU64,
}

/// A kind of refusal, for [`Refusals::count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    BadRequest,
    TooLarge,
    TimedOut,
    WrongHost,
    NotFound,
    Busy,
    Evicted,
}

impl Refused {
    fn status(self) -> Option<&'static str> {
        Some(match self {
            Self::BadRequest => "400 Bad Request",
            Self::TooLarge => "431 Request Header Fields Too Large",
            Self::TimedOut => "408 Request Timeout",
            Self::WrongHost => "403 Forbidden",
            Self::NotFound => "404 Not Found",
            Self::Busy => "503 Service Unavailable",
            Self::Evicted => return None,
        })
    }
}

impl Refusals {
    fn counter(&self, r: Refused) -> &AtomicU64 {
        match r {
            Refused::BadRequest => &self.bad_request,
            Refused::TooLarge => &self.too_large,
            Refused::TimedOut => &self.timed_out,
            Refused::WrongHost => &self.wrong_host,
            Refused::NotFound => &self.not_found,
            Refused::Busy => &self.busy,
            Refused::Evicted => &self.evicted,
        }
    }

    /// Counts one; the first of its kind is a warning in the log, the rest debug lines.
    fn count(&self, r: Refused, peer: Option<IpAddr>) {
        let before = self.counter(r).fetch_add(1, Ordering::Relaxed);
        let peer = peer.map_or_else(|| "?".to_string(), |p| p.to_string());
        if before == 0 {
            tracing::warn!(
                "preview stream: refused a connection from {peer} ({r:?}); more are counted in \
                 the preview's numbers"
            );
        } else {
            tracing::debug!("preview stream: refused a connection from {peer} ({r:?})");
        }
    }

    /// All refusals so far.
    pub fn total(&self) -> u64 {
        [
            &self.bad_request,
            &self.too_large,
            &self.timed_out,
            &self.wrong_host,
            &self.not_found,
            &self.busy,
            &self.evicted,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

/// The response head of the stream: each part replaces the picture shown.
const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";

/// Hands each accepted stream's queue (and the address it asked for) to the hub.
type Register = dyn Fn(String, Feed) + Send + Sync;

/// A connection whose request is being read, on a thread of its own.
struct Reader {
    id: u64,
    peer: Option<IpAddr>,
    since: Instant,
    /// Shutting it down returns its thread's read at once; dropped when done (the socket
    /// closes with its thread's own handle).
    conn: Option<TcpStream>,
    ended: bool,
    /// Its thread is done reading: leaving (`Some(false)`), or streaming on (`Some(true)`).
    done: Option<bool>,
}

struct Server {
    /// `/preview/TOKEN.mjpg`.
    path: String,
    limits: Limits,
    register: Box<Register>,
    /// Connections being read, oldest first. A place is freed once its thread has ended
    /// (joined) or gone on to stream, so threads never outnumber the places.
    reading: Mutex<VecDeque<Reader>>,
    /// Signalled when a reader is done.
    changed: Condvar,
    streams: AtomicUsize,
    refusals: Arc<Refusals>,
    /// This server's port: the only one a `Host` may name.
    port: u16,
    /// Connection threads' name (`preview-PORT`: fits Linux's 15-byte thread names).
    thread_name: String,
}

/// Serves `path` from `listener` on threads of its own; accepted streams go to `register`,
/// refusals are counted in `refusals`.
pub(crate) fn serve(
    listener: TcpListener,
    path: String,
    limits: Limits,
    refusals: Arc<Refusals>,
    register: impl Fn(String, Feed) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let server = Arc::new(Server {
        path,
        limits,
        register: Box::new(register),
        reading: Mutex::new(VecDeque::new()),
        changed: Condvar::new(),
        streams: AtomicUsize::new(0),
        refusals,
        port,
        thread_name: format!("preview-{port}"),
    });
    std::thread::Builder::new()
        .name("preview-stream".into())
        .spawn(move || accept_loop(&listener, &server))?;
    Ok(())
}

fn accept_loop(listener: &TcpListener, server: &Arc<Server>) {
    let mut threads: HashMap<u64, JoinHandle<()>> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let (conn, peer) = match listener.accept() {
            Ok((c, a)) => (c, Some(a.ip())),
            // Out of file descriptors (or a like failure): wait instead of spinning on it.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let Ok(handle) = conn.try_clone() else {
            continue;
        };
        if !server.admit(id, peer, handle, &mut threads) {
            server.refuse(conn, Refused::Busy, peer);
            continue;
        }
        let s = server.clone();
        match std::thread::Builder::new()
            .name(server.thread_name.clone())
            .spawn(move || s.connection(conn, id, peer))
        {
            Ok(t) => {
                threads.insert(id, t);
            }
            Err(_) => server.lock_reading().retain(|r| r.id != id),
        }
    }
}

impl Server {
    fn lock_reading(&self) -> MutexGuard<'_, VecDeque<Reader>> {
        self.reading.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a reading place for connection `id` from `peer`. Places of readers that are done
    /// are freed (a leaving one once its thread has ended); while all are taken (or all of
    /// `peer`'s), the oldest reader (of `peer`) is ended once it has had [`EVICT_AFTER`] (a page
    /// sends its request at once), else this waits for a place, up to [`PLACE_WAIT`].
    fn admit(
        &self,
        id: u64,
        peer: Option<IpAddr>,
        conn: TcpStream,
        threads: &mut HashMap<u64, JoinHandle<()>>,
    ) -> bool {
        let (cap, per_address) = (self.limits.requests, self.limits.per_address);
        let deadline = Instant::now() + PLACE_WAIT;
        let mut reading = self.lock_reading();
        loop {
            let (done, still): (VecDeque<Reader>, VecDeque<Reader>) =
                reading.drain(..).partition(|r| r.done.is_some());
            *reading = still;
            if !done.is_empty() {
                drop(reading);
                for r in done {
                    // A streaming thread goes on (detached); a leaving one is waited for.
                    if let Some(t) = threads.remove(&r.id)
                        && r.done == Some(false)
                    {
                        let _ = t.join();
                    }
                }
                reading = self.lock_reading();
                continue;
            }
            let of_peer = reading.iter().filter(|r| r.peer == peer).count();
            if reading.len() < cap && of_peer < per_address {
                reading.push_back(Reader {
                    id,
                    peer,
                    since: Instant::now(),
                    conn: Some(conn),
                    ended: false,
                    done: None,
                });
                return true;
            }
            let mut wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return false;
            }
            // At the address's own cap, room is made among its own readers only.
            let own = of_peer >= per_address;
            if let Some(oldest) = reading
                .iter_mut()
                .find(|r| !r.ended && (!own || r.peer == peer))
            {
                let age = oldest.since.elapsed();
                if age >= EVICT_AFTER {
                    // Its thread's read returns at once; it answers nothing and leaves.
                    if let Some(c) = &oldest.conn {
                        let _ = c.shutdown(Shutdown::Both);
                    }
                    oldest.ended = true;
                    self.refusals.count(Refused::Evicted, oldest.peer);
                } else {
                    wait = wait.min(EVICT_AFTER - age);
                }
            }
            reading = self
                .changed
                .wait_timeout(reading, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Connection `id`'s thread is done reading: it leaves, or streams on.
    fn done_reading(&self, id: u64, streaming: bool) {
        if let Some(r) = self.lock_reading().iter_mut().find(|r| r.id == id) {
            r.done = Some(streaming);
            r.conn = None;
        }
        self.changed.notify_all();
    }

    /// Counts a refusal and answers it (an eviction is not answered).
    fn refuse(&self, conn: TcpStream, why: Refused, peer: Option<IpAddr>) {
        self.refusals.count(why, peer);
        if let Some(status) = why.status() {
            refuse(conn, status);
        }
    }

    /// One connection: its request, then (for the token's path) the stream.
    fn connection(&self, mut conn: TcpStream, id: u64, peer: Option<IpAddr>) {
        let mut leaving = Leave(Some(self), id);
        let target = match self.request(&mut conn) {
            Ok(target) => target,
            Err(why) => {
                // None: the peer left, or was ended to make room (counted then).
                if let Some(why) = why {
                    self.refuse(conn, why, peer);
                }
                return;
            }
        };
        if self.streams.fetch_add(1, Ordering::AcqRel) >= self.limits.streams {
            self.streams.fetch_sub(1, Ordering::AcqRel);
            self.refuse(conn, Refused::Busy, peer);
            return;
        }
        // Counted as a stream now: its reading place is free.
        leaving.0 = None;
        self.done_reading(id, true);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Picture>(1);
        (self.register)(target, tx);
        stream(conn, &rx);
        self.streams.fetch_sub(1, Ordering::AcqRel);
    }

    /// Reads and checks the request head: the target asked for, or why it is refused
    /// (None: the peer is gone or was ended, answer nothing).
    fn request(&self, conn: &mut TcpStream) -> Result<String, Option<Refused>> {
        let head = read_head(conn, &self.limits)?;
        let head = std::str::from_utf8(&head).map_err(|_| Some(Refused::BadRequest))?;
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or("");
        let mut parts = line.split(' ');
        let (Some("GET"), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Some(Refused::BadRequest));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(Some(Refused::BadRequest));
        }
        let mut hosts = lines.filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("host")
                .then(|| value.trim())
        });
        match (hosts.next(), hosts.next()) {
            (_, Some(_)) => return Err(Some(Refused::BadRequest)),
            (Some(host), None) if !loopback_host(host, self.port) => {
                return Err(Some(Refused::WrongHost));
            }
            _ => {}
        }
        // `/preview/TOKEN.mjpg?v=N`: the token's path, then the picture's own query.
        let path = target.split('?').next().unwrap_or("");
        if !same_secret(path.as_bytes(), self.path.as_bytes()) {
            return Err(Some(Refused::NotFound));
        }
        Ok(target.to_string())
    }
}

/// Marks a reader that gives up as leaving, last thing before its thread ends.
struct Leave<'a>(Option<&'a Server>, u64);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if let Some(server) = self.0 {
            server.done_reading(self.1, false);
        }
    }
}

/// Whether a `Host` header names this server by a loopback name: `127.0.0.1`, `localhost` or
/// `[::1]`, with `port` or no port.
fn loopback_host(host: &str, port: u16) -> bool {
    let (name, p) = match host.rsplit_once(':') {
        // `[::1]` alone has colons inside its brackets, no port.
        Some((n, p)) if !p.contains(']') => (n, Some(p)),
        _ => (host, None),
    };
    let name_ok = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n));
    name_ok && p.is_none_or(|p| p.parse::<u16>() == Ok(port))
}

/// The request head up to its blank line, within the limits' size and time; Err as in
/// [`Server::request`].
fn read_head(conn: &mut TcpStream, limits: &Limits) -> Result<Vec<u8>, Option<Refused>> {
    let deadline = Instant::now() + limits.head_timeout;
    let mut head = vec![0u8; limits.head_bytes];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Some(Refused::TimedOut));
        }
        conn.set_read_timeout(Some(left)).map_err(|_| None)?;
        let n = match conn.read(&mut head[len..]) {
            Ok(0) => return Err(None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Some(Refused::TimedOut));
            }
            Err(_) => return Err(None),
        };
        let from = len.saturating_sub(3);
        len += n;
        if let Some(end) = head[from..len].windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(from + end);
            let _ = conn.set_read_timeout(None);
            return Ok(head);
        }
        if len == head.len() {
            return Err(Some(Refused::TooLarge));
        }
    }
}

/// Compares the asked path with the secret one in time independent of where they differ.
fn same_secret(asked: &[u8], secret: &[u8]) -> bool {
    asked.len() == secret.len() && asked.iter().zip(secret).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// Answers `status` with no body (without waiting on a peer that does not read) and closes.
fn refuse(mut conn: TcpStream, status: &str) {
    let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// Writes each picture as a part until the page goes away or the hub drops the queue.
fn stream(mut conn: TcpStream, rx: &Receiver<Picture>) {
    let _ = conn.set_nodelay(true);
    if conn.write_all(STREAM_HEAD).is_err() {
        return;
    }
    loop {
        match rx.recv_timeout(PEER_CHECK) {
            Ok(jpeg) => {
                if conn.write_all(&part(&jpeg)).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if peer_gone(&mut conn) {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether the page closed its end (what it sends after its request is read and dropped).
fn peer_gone(conn: &mut TcpStream) -> bool {
    if conn.set_nonblocking(true).is_err() {
        return true;
    }
    let mut buf = [0u8; 1024];
    let gone = match conn.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    gone || conn.set_nonblocking(false).is_err()
}

/// One multipart part: its head, the JPEG, the line end.
fn part(jpeg: &[u8]) -> Vec<u8> {
    let head = format!(
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    );
    let mut m = Vec::with_capacity(head.len() + jpeg.len() + 2);
    m.extend_from_slice(head.as_bytes());
    m.extend_from_slice(jpeg);
    m.extend_from_slice(b"\r\n");
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    const PATH: &str = "/preview/00112233445566778899aabbccddeeff.mjpg";

    type Feeds = Arc<Mutex<Vec<(String, Feed)>>>;

    /// A server on a free port; the queues of the streams it accepted, and its refusals.
    fn start_counted(limits: Limits) -> (SocketAddr, Feeds, Arc<Refusals>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let feeds = Arc::new(Mutex::new(Vec::new()));
        let refusals = Arc::new(Refusals::default());
        let f = feeds.clone();
        serve(
            listener,
            PATH.into(),
            limits,
            refusals.clone(),
            move |t, tx| {
                f.lock().unwrap().push((t, tx));
            },
        )
        .unwrap();
        (addr, feeds, refusals)
    }

    fn start(limits: Limits) -> (SocketAddr, Feeds) {
        let (addr, feeds, _) = start_counted(limits);
        (addr, feeds)
    }

    /// This process's threads serving connections of the server on `addr`.
    fn connection_threads(addr: SocketAddr) -> usize {
        let name = format!("preview-{}", addr.port());
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|comm| comm.trim_end() == name)
            })
            .count()
    }

    fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + timeout;
        while !done() {
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Everything the server sends until it closes (or `within` passes: None).
    fn read_to_close(c: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            c.set_read_timeout(Some(left)).unwrap();
            match c.read(&mut buf) {
                Ok(0) => return Some(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn get(addr: SocketAddr, target: &str) -> TcpStream {
        let mut c = TcpStream::connect(addr).unwrap();
        write!(c, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        c
    }

    /// Reads the response head of `c`.
    fn head_of(c: &mut TcpStream) -> String {
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        while !got.ends_with(b"\r\n\r\n") {
            match c.read(&mut b) {
                Ok(1) => got.push(b[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    #[test]
    fn silent_connections_hold_at_most_the_cap_of_threads_and_are_closed_after_the_timeout() {
        let limits = Limits {
            requests: 8,
            per_address: 6,
            head_timeout: Duration::from_secs(2),
            ..Limits::default()
        };
        let (addr, feeds) = start(limits);
        let t0 = Instant::now();
        let mut silent = Vec::new();
        let mut peak = 0;
        for _ in 0..500 {
            silent.push(TcpStream::connect(addr).unwrap());
            peak = peak.max(connection_threads(addr));
        }
        assert!(peak <= limits.requests, "{peak} threads for silent sockets");
        // Amid them, a real request still gets its stream.
        let mut page = get(addr, PATH);
        assert!(head_of(&mut page).starts_with("HTTP/1.1 200 OK"));
        for c in &mut silent {
            peak = peak.max(connection_threads(addr));
            let got = read_to_close(c, limits.head_timeout + Duration::from_secs(20))
                .expect("a silent connection is still open after the timeout");
            let got = String::from_utf8_lossy(&got);
            assert!(
                got.is_empty()
                    || got.starts_with("HTTP/1.1 503")
                    || got.starts_with("HTTP/1.1 408"),
                "{got}"
            );
        }
        assert!(peak <= limits.requests + 1, "{peak} threads");
        assert!(t0.elapsed() < limits.head_timeout + Duration::from_secs(20));
        assert!(
            wait_until(Duration::from_secs(5), || connection_threads(addr) == 1),
            "only the page's stream is left: {} threads",
            connection_threads(addr)
        );
        assert_eq!(feeds.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_silent_or_dribbling_request_is_closed_at_the_timeout_in_all() {
        let limits = Limits {
            head_timeout: Duration::from_millis(800),
            ..Limits::default()
        };
        let (addr, _, refusals) = start_counted(limits);
        let t0 = Instant::now();
        let mut silent = TcpStream::connect(addr).unwrap();
        let got = read_to_close(&mut silent, Duration::from_secs(10)).expect("closed");
        assert!(t0.elapsed() >= limits.head_timeout, "{:?}", t0.elapsed());
        assert!(got.starts_with(b"HTTP/1.1 408"), "{got:?}");

        // One byte of a valid request every 100 ms: each read is quick, the whole is not.
        let t0 = Instant::now();
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let request = format!("GET {PATH} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let mut got = Vec::new();
        for b in request.bytes() {
            if slow.write_all(&[b]).is_err() {
                break;
            }
            let mut buf = [0u8; 256];
            match slow.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        let at = t0.elapsed();
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 408"), "{got}");
        assert!(
            at < Duration::from_millis(100) * request.len() as u32,
            "cut at {at:?}, before the request was complete"
        );
        assert_eq!(
            refusals.timed_out.load(Ordering::Relaxed),
            2,
            "{refusals:?}"
        );
    }

    #[test]
    fn an_endless_request_line_or_header_is_refused_at_the_head_limit() {
        let (addr, feeds, refusals) = start_counted(Limits::default());
        for opening in ["GET /preview/", "GET / HTTP/1.1\r\nX-Endless: "] {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(opening.as_bytes()).unwrap();
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0usize;
            // The kernel's buffers take a few MiB; the server stops reading at 16 KiB.
            while sent < 256 << 20 {
                match c.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            assert!(
                sent < 64 << 20,
                "{opening:?}: the server took {} MiB of an endless head",
                sent >> 20
            );
        }
        assert!(feeds.lock().unwrap().is_empty());
        // Answered, when the answer can be read before the reset.
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&vec![b'a'; Limits::default().head_bytes])
            .unwrap();
        let got = read_to_close(&mut c, Duration::from_secs(10)).unwrap_or_default();
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 431"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(
            refusals.too_large.load(Ordering::Relaxed),
            3,
            "{refusals:?}"
        );
    }

    #[test]
    fn a_wrong_token_gets_nothing_while_pictures_flow() {
        let (addr, feeds) = start(Limits::default());
        let mut page = get(addr, &format!("{PATH}?v=1"));
        assert!(head_of(&mut page).starts_with("HTTP/1.1 200 OK"));
        let one_off = PATH.replace("eeff", "eefe");
        let upper = PATH.to_uppercase().replace("/PREVIEW/", "/preview/");
        let wrong = [
            one_off.as_str(),
            upper.as_str(),
            "/preview/00112233445566778899aabbccddee.mjpg",
            "/preview/00112233445566778899aabbccddeeff.mjpgx",
            "/preview/.mjpg",
            "/preview/",
            "/",
            "*",
        ];
        let mut strangers: Vec<_> = wrong.iter().map(|w| get(addr, w)).collect();
        let mut post = TcpStream::connect(addr).unwrap();
        write!(post, "POST {PATH} HTTP/1.1\r\n\r\n").unwrap();
        strangers.push(post);
        // Pictures flow to whoever registered (only the page).
        let feeder = {
            let feeds = feeds.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    for (_, f) in feeds.lock().unwrap().iter() {
                        let _ = f.try_send(Arc::new(vec![0xAB; 100]));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        for (c, w) in strangers
            .iter_mut()
            .zip(wrong.iter().chain(["POST"].iter()))
        {
            let got = read_to_close(c, Duration::from_secs(10)).expect("answered and closed");
            let got = String::from_utf8_lossy(&got);
            assert!(
                got.starts_with("HTTP/1.1 404") || got.starts_with("HTTP/1.1 400"),
                "{w}: {got}"
            );
            assert!(!got.contains("image/jpeg"), "{w}: {got}");
        }
        feeder.join().unwrap();
        let feeds = feeds.lock().unwrap();
        assert_eq!(feeds.len(), 1, "only the page registered");
        assert_eq!(feeds[0].0, format!("{PATH}?v=1"));
    }

    #[test]
    fn streams_past_the_cap_are_refused_and_a_page_that_left_frees_its_place() {
        let limits = Limits {
            streams: 2,
            ..Limits::default()
        };
        let (addr, _feeds) = start(limits);
        let mut a = get(addr, PATH);
        assert!(head_of(&mut a).starts_with("HTTP/1.1 200"));
        let mut b = get(addr, PATH);
        assert!(head_of(&mut b).starts_with("HTTP/1.1 200"));
        let mut c = get(addr, PATH);
        assert!(head_of(&mut c).starts_with("HTTP/1.1 503"));
        assert!(wait_until(Duration::from_secs(5), || connection_threads(
            addr
        ) == 2));
        // No picture is sent, yet the stream of a page that closed ends.
        drop(a);
        assert!(
            wait_until(PEER_CHECK * 5, || connection_threads(addr) == 1),
            "{} threads",
            connection_threads(addr)
        );
        let mut d = get(addr, PATH);
        assert!(head_of(&mut d).starts_with("HTTP/1.1 200"));
        drop(b);
    }

    /// A request from `from` (a loopback address of this machine) to `addr`.
    fn get_from(from: &str, addr: SocketAddr, target: &str) -> TcpStream {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::new(from.parse().unwrap(), 0).into())
            .unwrap();
        s.connect(&addr.into()).unwrap();
        let mut c: TcpStream = s.into();
        write!(c, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        c
    }

    #[test]
    fn a_host_that_is_not_a_loopback_name_of_this_server_is_refused() {
        let (addr, feeds, refusals) = start_counted(Limits::default());
        let port = addr.port();
        let ask = |head: &str| {
            let mut c = TcpStream::connect(addr).unwrap();
            write!(c, "GET {PATH} HTTP/1.1\r\n{head}\r\n").unwrap();
            let got = head_of(&mut c);
            got.lines().next().unwrap_or("").to_string()
        };
        // A page whose name was rebound to 127.0.0.1 sends its own name.
        for host in [
            format!("Host: rebound.example:{port}\r\n"),
            "Host: rebound.example\r\n".to_string(),
            format!("Host: 127.0.0.1:{}\r\n", port.wrapping_add(1)),
            format!("host: 127.0.0.1.rebound.example:{port}\r\n"),
            format!("Host: 10.0.0.1:{port}\r\n"),
        ] {
            assert_eq!(ask(&host), "HTTP/1.1 403 Forbidden", "{host:?}");
        }
        assert_eq!(refusals.wrong_host.load(Ordering::Relaxed), 5);
        let two = format!("Host: 127.0.0.1:{port}\r\nHost: rebound.example\r\n");
        assert_eq!(ask(&two), "HTTP/1.1 400 Bad Request");
        assert!(feeds.lock().unwrap().is_empty());
        for host in [
            format!("Host: 127.0.0.1:{port}\r\n"),
            format!("HOST: LocalHost:{port}\r\n"),
            format!("Host: [::1]:{port}\r\n"),
            "Host: localhost\r\n".to_string(),
            String::new(),
        ] {
            assert_eq!(ask(&host), "HTTP/1.1 200 OK", "{host:?}");
        }
        assert_eq!(feeds.lock().unwrap().len(), 5);
        assert_eq!(refusals.total(), 6);
    }

    #[test]
    fn one_address_holds_at_most_its_share_of_reading_places_and_another_gets_one_freely() {
        let limits = Limits {
            requests: 8,
            per_address: 3,
            head_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let (addr, feeds, refusals) = start_counted(limits);
        let flood = 30;
        let mut silent = Vec::new();
        let mut peak = 0;
        for _ in 0..flood {
            silent.push(TcpStream::connect(addr).unwrap());
            peak = peak.max(connection_threads(addr));
        }
        // The flood's excess is ended or refused, and counted.
        let r = &refusals;
        let refused = || r.evicted.load(Ordering::Relaxed) + r.busy.load(Ordering::Relaxed);
        assert!(
            wait_until(Duration::from_secs(20), || refused() >= flood - 3),
            "{refusals:?}"
        );
        peak = peak.max(connection_threads(addr));
        assert!(
            peak <= limits.per_address,
            "{peak} threads for one address's sockets"
        );
        // Another address finds places free: nobody is ended for it.
        let evicted = r.evicted.load(Ordering::Relaxed);
        let mut other = get_from("127.0.0.2", addr, PATH);
        assert!(head_of(&mut other).starts_with("HTTP/1.1 200 OK"));
        assert_eq!(r.evicted.load(Ordering::Relaxed), evicted, "{refusals:?}");
        assert_eq!(feeds.lock().unwrap().len(), 1);
        drop(silent);
    }
}
