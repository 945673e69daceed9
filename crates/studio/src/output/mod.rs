//! Outputs: each destination and the recording has its own bounded queue and writer
//! thread, so a slow or dead one never stalls the encoders or the others.

pub mod abr;
pub mod abr_run;
pub mod link;
pub mod mux;
pub mod policy;
mod srt;

use crate::disk;
use crate::events::{EventKind, Events};
pub use crate::packet::PacketSink;
use crate::packet::{Packet, StreamInfo};
use crate::stats::{OutputCounters, OutputState};
use crate::url::DestinationUrl;
use marquee_capture::SessionClock;
use mux::{MuxError, Muxer};
use policy::{Backoff, OutputQueue, QueueLimits};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Reads a keychain entry by name at connect time (a stream key, an SRT stream id or
/// passphrase). The error is shown to the user, so it must say what to do and must not
/// contain the secret.
pub type KeyProvider = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// The queue an output shares between the bus (producer) and its writer thread.
pub struct OutputShared {
    queue: Mutex<OutputQueue>,
    cv: Condvar,
    /// The origin of the queue's clock.
    epoch: Instant,
    finish: AtomicBool,
    abort: Arc<AtomicBool>,
    failed: AtomicBool,
    pub counters: Arc<OutputCounters>,
}

impl OutputShared {
    fn new(limits: QueueLimits, streams: &[StreamInfo], name: String) -> Arc<Self> {
        let tb = |t: crate::packet::Track| {
            streams
                .iter()
                .find(|s| s.track == t)
                .map(|s| s.time_base)
                .unwrap_or((1, 1000))
        };
        Arc::new(Self {
            queue: Mutex::new(OutputQueue::new(
                limits,
                tb(crate::packet::Track::Video),
                tb(crate::packet::Track::Audio),
            )),
            cv: Condvar::new(),
            epoch: Instant::now(),
            finish: AtomicBool::new(false),
            abort: Arc::new(AtomicBool::new(false)),
            failed: AtomicBool::new(false),
            counters: Arc::new(OutputCounters::new(name)),
        })
    }

    fn set_state(&self, s: OutputState) {
        *self.counters.state.lock().expect("state lock") = s;
    }

    /// Waits for the next packet; None once finishing and drained.
    fn next(&self) -> Option<Packet> {
        let mut q = self.queue.lock().expect("queue lock");
        loop {
            let now = self.epoch.elapsed();
            if let Some(p) = q.pop_to_send(now) {
                self.counters
                    .queued_ms
                    .store(q.wait(now).as_millis() as u64, Ordering::Relaxed);
                return Some(p);
            }
            if self.finish.load(Ordering::Relaxed) {
                return None;
            }
            q = self
                .cv
                .wait_timeout(q, Duration::from_millis(100))
                .expect("queue lock")
                .0;
        }
    }

    fn with_queue<R>(&self, f: impl FnOnce(&mut OutputQueue) -> R) -> R {
        let mut q = self.queue.lock().expect("queue lock");
        let r = f(&mut q);
        *self.counters.dropped.lock().expect("drop lock") = q.dropped;
        r
    }

    /// Sleeps up to `d`, returning early (false) when the session is finishing.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.finish.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
        }
        !self.finish.load(Ordering::Relaxed)
    }
}

impl PacketSink for OutputShared {
    fn offer(&self, p: &Packet) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        self.with_queue(|q| {
            let now = self.epoch.elapsed();
            q.push(p.clone(), now);
            self.counters
                .queued_ms
                .store(q.wait(now).as_millis() as u64, Ordering::Relaxed);
        });
        self.cv.notify_one();
    }
}

/// A running output.
pub struct OutputHandle {
    pub shared: Arc<OutputShared>,
    thread: Option<JoinHandle<()>>,
}

impl OutputHandle {
    /// Lets the writer drain its queue and finalise; after `grace`, interrupts it.
    pub fn finish(&mut self, grace: Duration) {
        self.shared.finish.store(true, Ordering::Relaxed);
        self.shared.cv.notify_all();
        let end = Instant::now() + grace;
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !t.is_finished() {
                self.shared.abort.store(true, Ordering::Relaxed);
            }
            let _ = t.join();
        }
    }
}

impl Drop for OutputHandle {
    fn drop(&mut self) {
        self.finish(Duration::from_secs(2));
    }
}

enum ConnectError {
    /// Can never work as configured: stop trying.
    Fatal(String),
    /// May work later: back off and retry.
    Retry(String),
}

/// Unsent bytes the kernel may hold for a destination (on top of what is in flight).
const UNSENT_IN_SOCKET: u32 = 32 * 1024;

/// Where an RTMP(S) or SRT output pushes to.
#[derive(Clone)]
pub struct RtmpTarget {
    pub url: DestinationUrl,
    pub key: Option<KeyProvider>,
}

impl RtmpTarget {
    /// The URL with its secrets read from the keychain; failing that, why (never a secret).
    fn connect_url(&self) -> Result<String, ConnectError> {
        let resolve = |name: &str| match &self.key {
            Some(provider) => provider(name),
            None => Err(format!(
                "'{name}' needs the OS keychain, which this build has no access to"
            )),
        };
        self.url.connect_url(&resolve).map_err(ConnectError::Fatal)
    }
}

fn connect(
    target: &RtmpTarget,
    streams: &[StreamInfo],
    abort: &Arc<AtomicBool>,
    was_live: bool,
) -> Result<(Muxer, Option<i32>), ConnectError> {
    let url = target.connect_url()?;
    if target.url.is_srt() {
        let (host, port) = (target.url.host(), target.url.port());
        // SRT runs over UDP inside libsrt: no TCP socket to read the link from.
        return srt::connect(host, port, &url, streams, abort, was_live)
            .map(|mux| (mux, None))
            .map_err(|r| match r.fatal {
                true => ConnectError::Fatal(r.reason),
                false => ConnectError::Retry(r.reason),
            });
    }
    let (host, port) = (target.url.host(), target.url.port());
    let addrs: Vec<_> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) if was_live => {
            return Err(ConnectError::Retry(format!("cannot resolve {host}: {e}")));
        }
        Err(e) => return Err(ConnectError::Fatal(format!("unknown host '{host}': {e}"))),
    };
    // A cheap TCP probe tells "server down, try again" from "server said no".
    let reachable = addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok());
    if !reachable {
        return Err(ConnectError::Retry(format!(
            "cannot reach {host}:{port} (connection refused or timed out)"
        )));
    }
    let before = link::sockets_to(&addrs);
    let tls = target.url.is_tls();
    let mut io: Vec<(&str, String)> = vec![
        ("rw_timeout", "5000000".into()),
        ("tcp_nodelay", "1".into()),
        // A small kernel send buffer: a big one hides congestion from our queue (and
        // adds seconds of latency) until it is far too late to drop gracefully.
        ("send_buffer_size", "262144".into()),
    ];
    if tls {
        // RTMPS: the server's certificate must be valid for its host (FFmpeg does not check
        // by default). The system's trust store, or a private CA for a self-hosted ingest.
        io.push(("tls_verify", "1".into()));
        if let Some(ca) = std::env::var_os("MARQUEE_TLS_CA_FILE") {
            io.push(("ca_file", ca.to_string_lossy().into_owned()));
        }
    }
    let io: Vec<(&str, &str)> = io.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Muxer::open(
        &url,
        "flv",
        streams,
        &io,
        &[("flvflags", "no_duration_filesize"), ("flush_packets", "1")],
        abort.clone(),
    )
    .map(|mux| {
        // The connection the muxer just opened: the one socket to the server that is new.
        let new: Vec<i32> = (link::sockets_to(&addrs).into_iter())
            .filter(|fd| !before.contains(fd))
            .collect();
        let socket = (new.len() == 1).then(|| new[0]);
        if let Some(fd) = socket {
            link::limit_unsent(fd, UNSENT_IN_SOCKET);
        }
        (mux, socket)
    })
    .map_err(|e| {
        if was_live {
            ConnectError::Retry(e.to_string())
        } else if tls {
            ConnectError::Fatal(format!(
                "the TLS handshake or the server failed ({}): check that the rtmps address is \
                 right; a self-hosted ingest's certificate must be trusted (set \
                 MARQUEE_TLS_CA_FILE to its CA file)",
                e.message()
            ))
        } else {
            ConnectError::Fatal(format!("rejected by the server ({})", e.message()))
        }
    })
}

/// Starts an RTMP(S) output on its own thread. It connects, streams, and on a break
/// reconnects with jittered backoff, resuming on a keyframe.
pub fn spawn_rtmp(
    index: usize,
    target: RtmpTarget,
    streams: Vec<StreamInfo>,
    events: Arc<Events>,
    clock: SessionClock,
) -> OutputHandle {
    let name = target.url.to_string();
    let shared = OutputShared::new(QueueLimits::default(), &streams, name.clone());
    let sh = shared.clone();
    let thread = crate::util::spawn_thread(&format!("rtmp-{}", index + 1), move || {
        rtmp_loop(index, &target, &streams, &sh, &events, &clock)
    });
    OutputHandle {
        shared,
        thread: Some(thread),
    }
}

fn rtmp_loop(
    index: usize,
    target: &RtmpTarget,
    streams: &[StreamInfo],
    sh: &OutputShared,
    events: &Events,
    clock: &SessionClock,
) {
    let name = sh.counters.name.clone();
    let dest = Some(index);
    let mut backoff = Backoff::default();
    let mut was_live = false;
    loop {
        let attempt = backoff.attempt() + 1;
        sh.set_state(OutputState::Connecting { attempt });
        events.emit(dest, &name, EventKind::Connecting, Some(attempt), "");
        match connect(target, streams, &sh.abort, was_live) {
            Ok((mut mux, socket)) => {
                sh.counters.link.watch(socket);
                sh.with_queue(|q| q.on_connected());
                sh.set_state(OutputState::Live);
                events.emit(dest, &name, EventKind::Connected, Some(attempt), "");
                let since = Instant::now();
                was_live = true;
                let broke = stream_until_break(&mut mux, sh, clock);
                sh.counters.link.watch(None);
                // A connection that held a few seconds earns a fresh backoff: an ingest
                // restarted again and again is still retried within a second each time.
                if since.elapsed() > Duration::from_secs(3) {
                    backoff.reset();
                }
                match broke {
                    None => {
                        let _ = mux.finish();
                        sh.set_state(OutputState::Stopped);
                        events.emit(dest, &name, EventKind::Stopped, None, "");
                        return;
                    }
                    // Interrupted because the session's grace ran out while a slow link was
                    // still draining: the session ended, the link did not break.
                    Some(_) if sh.abort.load(Ordering::Relaxed) => {
                        sh.set_state(OutputState::Stopped);
                        events.emit(dest, &name, EventKind::Stopped, None, "");
                        return;
                    }
                    Some(reason) => {
                        sh.with_queue(|q| q.on_disconnected());
                        sh.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        events.emit(dest, &name, EventKind::Disconnected, None, reason.clone());
                        drop(mux);
                        // First retry at once: most breaks are a server restart or a blip.
                        let delay = backoff.next_delay(fastrand::f64());
                        sh.set_state(OutputState::Reconnecting {
                            attempt: backoff.attempt(),
                            retry_in_ms: delay.as_millis() as u64,
                            reason,
                        });
                        if !sh.sleep(delay) {
                            break;
                        }
                    }
                }
            }
            Err(ConnectError::Fatal(reason)) => {
                sh.failed.store(true, Ordering::Relaxed);
                sh.with_queue(|q| while q.pop().is_some() {});
                sh.set_state(OutputState::Failed {
                    reason: reason.clone(),
                });
                events.emit(dest, &name, EventKind::Failed, Some(attempt), reason);
                return;
            }
            Err(ConnectError::Retry(reason)) => {
                let delay = backoff.next_delay(fastrand::f64());
                sh.set_state(OutputState::Reconnecting {
                    attempt: backoff.attempt(),
                    retry_in_ms: delay.as_millis() as u64,
                    reason: reason.clone(),
                });
                events.emit(
                    dest,
                    &name,
                    EventKind::Reconnecting,
                    Some(backoff.attempt()),
                    format!("{reason}; retrying in {:.1} s", delay.as_secs_f64()),
                );
                if !sh.sleep(delay) {
                    break;
                }
            }
        }
    }
    sh.set_state(OutputState::Stopped);
    events.emit(dest, &name, EventKind::Stopped, None, "");
}

/// Writes until the session finishes (None) or the connection breaks (Some(reason)).
fn stream_until_break(mux: &mut Muxer, sh: &OutputShared, clock: &SessionClock) -> Option<String> {
    while let Some(p) = sh.next() {
        match mux.write(&p) {
            Ok(n) => sh.count_written(&p, n, clock),
            Err(e) => return Some(e.to_string()),
        }
    }
    None
}

impl OutputShared {
    /// Counts a packet written (`n` bytes), and for video its capture → written latency.
    fn count_written(&self, p: &Packet, n: usize, clock: &SessionClock) {
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.counters.packets.fetch_add(1, Ordering::Relaxed);
        if p.track == crate::packet::Track::Video {
            let lat = clock.now().saturating_sub(p.captured);
            self.counters
                .latency
                .lock()
                .expect("latency lock")
                .record(lat);
        }
    }
}

/// The container a recording path asks for, by extension.
pub fn recording_format(
    path: &std::path::Path,
) -> (&'static str, Vec<(&'static str, &'static str)>) {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        // Fragmented MP4: each fragment is self-contained, so a kill loses at most one.
        "mp4" | "mov" | "m4v" => (
            "mp4",
            vec![
                ("movflags", "frag_keyframe+empty_moov+default_base_moof"),
                ("frag_duration", "1000000"),
                ("flush_packets", "1"),
            ],
        ),
        "flv" => ("flv", vec![("flush_packets", "1")]),
        // Matroska with one-second clusters flushed as written: a kill loses at most ~1 s.
        _ => (
            "matroska",
            vec![
                ("cluster_time_limit", "1000"),
                ("cluster_size_limit", "4194304"),
                ("flush_packets", "1"),
            ],
        ),
    }
}

/// Room kept reserved past the end of a recording for its index and trailer (Matroska cues
/// or fragmented MP4's `mfra`: well under 1 MiB for 12 hours), and how far ahead it is taken.
const RECORDING_KEEP: u64 = 4 << 20;
const RECORDING_STEP: u64 = 8 << 20;
/// A packet's container overhead at most (block and cluster headers, a fragment's `moof`).
const PACKET_OVERHEAD: u64 = 64 << 10;

/// Why a recording stopped before the session did.
enum RecordingBroke {
    /// Its headroom could not grow: closed with what it holds.
    DiskFull,
    /// A write failed.
    Write(MuxError),
}

/// Opens the recording now (so a bad path or a full disk fails before going live) and writes
/// it on its own thread. It never drops for congestion; only a disk stalled for 30 s loses
/// packets. When the disk fills, the file is closed with its index into the room
/// [`disk::Headroom`] kept for it (playable up to the last packet written), the output says
/// Failed with the reason, and the destinations go on.
pub fn spawn_recording(
    path: &std::path::Path,
    streams: Vec<StreamInfo>,
    events: Arc<Events>,
    clock: SessionClock,
) -> Result<OutputHandle, String> {
    let (format, opts) = recording_format(path);
    let name = path.display().to_string();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let limits = QueueLimits {
        congestion: Duration::from_secs(30),
        hard: Duration::from_secs(30),
    };
    let shared = OutputShared::new(limits, &streams, name.clone());
    let mut mux = Muxer::open(&name, format, &streams, &[], &opts, shared.abort.clone()).map_err(
        |e| match e.disk_full() {
            true => format!(
                "cannot record to {name}: {}",
                disk::full_message(&dir, None)
            ),
            false => format!("cannot record to {name}: {e}"),
        },
    )?;
    let mut room = match disk::Headroom::open(path, RECORDING_KEEP, RECORDING_STEP) {
        Ok(h) => Some(h),
        Err(e) if disk::is_full(&e) => {
            drop(mux);
            let _ = std::fs::remove_file(path);
            return Err(format!(
                "cannot record to {name}: {}",
                disk::full_message(&dir, None)
            ));
        }
        Err(e) => {
            tracing::warn!("recording {name}: no room reserved for closing it on a full disk: {e}");
            None
        }
    };
    shared.with_queue(|q| q.on_connected());
    shared.set_state(OutputState::Live);
    let sh = shared.clone();
    let file = path.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("recorder".into())
        .spawn(move || {
            let broke = record_until_break(&mut mux, &sh, &clock, &mut room);
            if broke.is_some() {
                // Nothing more is queued for it; the destinations go on.
                sh.failed.store(true, Ordering::Relaxed);
                sh.with_queue(|q| while q.pop().is_some() {});
            }
            let closed = mux.finish();
            if let Some(room) = &room {
                room.release(std::fs::metadata(&file).map_or(0, |m| m.len()));
                if let Err(e) = room.sync() {
                    tracing::warn!("recording {name}: sync failed: {e}");
                }
            }
            let _ = disk::sync_dir(&dir);
            let reason = match (broke, closed) {
                (None, Ok(())) => None,
                (None, Err(e)) => Some(format!("the recording could not be closed: {e}")),
                (Some(RecordingBroke::DiskFull), Ok(())) => Some(format!(
                    "{}; the recording was closed with what it holds",
                    disk::full_message(&dir, None)
                )),
                (Some(RecordingBroke::Write(e)), _) if e.disk_full() => {
                    Some(disk::full_message(&dir, None))
                }
                (Some(RecordingBroke::DiskFull), Err(e)) | (Some(RecordingBroke::Write(e)), _) => {
                    Some(format!("the recording stopped: {e}"))
                }
            };
            match reason {
                None => sh.set_state(OutputState::Stopped),
                Some(reason) => {
                    tracing::warn!("recording {name}: {reason}");
                    sh.set_state(OutputState::Failed {
                        reason: reason.clone(),
                    });
                    events.emit(None, &name, EventKind::Failed, None, reason);
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(OutputHandle {
        shared,
        thread: Some(thread),
    })
}

/// Writes the recording until the session finishes (None) or it cannot go on.
fn record_until_break(
    mux: &mut Muxer,
    sh: &OutputShared,
    clock: &SessionClock,
    room: &mut Option<disk::Headroom>,
) -> Option<RecordingBroke> {
    while let Some(p) = sh.next() {
        if let Some(h) = room.as_mut() {
            match h.make_room(mux.position(), p.data.len() as u64 + PACKET_OVERHEAD) {
                Ok(true) => {}
                Ok(false) => return Some(RecordingBroke::DiskFull),
                Err(e) => {
                    tracing::warn!("recording: cannot reserve room any more: {e}");
                    *room = None;
                }
            }
        }
        match mux.write(&p) {
            Ok(n) => sh.count_written(&p, n, clock),
            Err(e) => return Some(RecordingBroke::Write(e)),
        }
    }
    None
}

/// What [`preflight`] found: each step's time, where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightReport {
    /// `host:port` tried.
    pub target: String,
    /// The address that answered (or the first one resolved).
    pub address: String,
    pub dns: Duration,
    /// None for `srt://` (UDP: nothing to connect to without its secrets).
    pub tcp: Option<Duration>,
    /// The RTMP handshake (C0/C1 → S0/S1/S2 → C2); None for `rtmps://`, whose TLS layer is
    /// checked when going live.
    pub handshake: Option<Duration>,
}

/// "Test connection" before going live: resolves the host, connects over TCP (not for
/// `srt://`, which is UDP and answers only with its secrets), and for
/// `rtmp://` does the RTMP handshake, then hangs up (nothing is published, the stream key is
/// not used). Errors are in a streamer's words and never contain the key.
pub fn preflight(url: &DestinationUrl, timeout: Duration) -> Result<PreflightReport, String> {
    use std::io::{Read, Write};
    let (host, port) = (url.host(), url.port());
    let target = format!("{host}:{port}");
    let t0 = Instant::now();
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot find the server '{host}' (check the address and your internet connection): {e}"))?
        .collect();
    let dns = t0.elapsed();
    if url.is_srt() {
        // SRT is UDP: nothing to connect to without its secrets; the name resolved.
        let address = addrs.first().map(|a| a.to_string()).unwrap_or_default();
        return Ok(PreflightReport {
            target,
            address,
            dns,
            tcp: None,
            handshake: None,
        });
    }
    let first = addrs
        .first()
        .ok_or_else(|| format!("cannot find the server '{host}'"))?;
    let t1 = Instant::now();
    let mut last_err = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                stream = Some((s, *a));
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some((mut s, addr)) = stream else {
        return Err(format!(
            "cannot reach {target} ({}): the server is down, the port is blocked, or the address is wrong",
            last_err.map_or_else(|| first.to_string(), |e| e.to_string())
        ));
    };
    let tcp = t1.elapsed();
    let mut report = PreflightReport {
        target: target.clone(),
        address: addr.to_string(),
        dns,
        tcp: Some(tcp),
        handshake: None,
    };
    if url.scheme() != "rtmp" {
        return Ok(report);
    }
    let t2 = Instant::now();
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let no_rtmp = |e: std::io::Error| {
        format!("{target} answered, but not as an RTMP server ({e}): check the address and port")
    };
    // C0 (version 3) + C1 (time, zero, 1528 bytes of noise).
    let mut c0c1 = vec![0u8; 1 + 1536];
    c0c1[0] = 3;
    let mut rng = fastrand::Rng::new();
    for b in &mut c0c1[9..] {
        *b = rng.u8(..);
    }
    s.write_all(&c0c1).map_err(no_rtmp)?;
    let mut s0s1s2 = vec![0u8; 1 + 1536 + 1536];
    s.read_exact(&mut s0s1s2).map_err(no_rtmp)?;
    if s0s1s2[0] != 3 {
        return Err(format!(
            "{target} answered, but not as an RTMP server (version byte {}): check the address and port",
            s0s1s2[0]
        ));
    }
    // C2 echoes S1; then hang up.
    s.write_all(&s0s1s2[1..1537]).map_err(no_rtmp)?;
    report.handshake = Some(t2.elapsed());
    let _ = s.shutdown(std::net::Shutdown::Both);
    Ok(report)
}

#[cfg(test)]
mod preflight_tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn preflight_does_the_rtmp_handshake_and_hangs_up() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut c0c1 = vec![0u8; 1537];
            s.read_exact(&mut c0c1).unwrap();
            let mut reply = vec![3u8; 1 + 1536 * 2];
            reply[1537..].copy_from_slice(&c0c1[1..]);
            s.write_all(&reply).unwrap();
            let mut c2 = vec![0u8; 1536];
            s.read_exact(&mut c2).unwrap();
            c2 == reply[1..1537]
        });
        let url = DestinationUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/secret")).unwrap();
        let r = preflight(&url, Duration::from_secs(3)).unwrap();
        assert!(r.handshake.is_some());
        assert_eq!(r.target, format!("127.0.0.1:{port}"));
        assert!(server.join().unwrap(), "C2 echoes S1");
    }

    #[test]
    fn preflight_says_when_nothing_listens_without_the_key() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = DestinationUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/secret")).unwrap();
        let e = preflight(&url, Duration::from_secs(3)).unwrap_err();
        assert!(e.contains("cannot reach"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
