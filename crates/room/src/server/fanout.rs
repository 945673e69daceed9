//! Fan-out: frames from the room thread to its connections. Broadcasts wait in a shared
//! [`Coalescer`] and go out together, encoded once per flush; the room thread writes them to the
//! sockets itself ([`ConnOut::push`]), helped by writer threads for big flushes. A connection
//! whose queue is full is closed as a slow consumer (it resumes from its last seq).

use super::stats::ServerStats;
use crate::coalesce::{CoalesceConfig, Coalescer};
use crate::out::{ConnOut, Push, text_frames};
use crate::protocol::ErrorCode;
use crate::room::ConnId;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use crossbeam_channel as cb;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::oneshot;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerMsg;
    use std::time::Duration;

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
