//! The replay buffer: the last N seconds of encoded packets, kept as shared `Packet`
//! clones (the `Arc` data is never copied), bounded by time and by bytes, trimmed by whole
//! GOPs so that what it holds always starts on a video keyframe.
//!
//! [`ReplayBuffer`] is sans-IO: packets in, snapshots out, no clock, no locks. Time is the
//! packets' own decode time on the session timeline. It holds anything [`Timed`]: packets
//! themselves, or (live) [`Held`] entries whose bytes wait in a [`Spool`] on disk.
//! [`SharedReplay`] wraps it in a short `Mutex` and implements [`PacketSink`] so the live
//! packet bus can feed it; with a spool, a thread of its own writes the bytes (the encoders
//! never wait on the disk).

use crate::error::{HighlightError, Result};
use crate::spool::{Pinned, Spool};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use marquee_studio::output::PacketSink;
use marquee_studio::packet::{Packet, Track};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the buffer needs to know of an entry: its stream, decode time, duration, whether it
/// is a keyframe and its payload size in bytes.
pub trait Timed: Clone {
    fn track(&self) -> Track;
    fn dts(&self) -> i64;
    fn duration(&self) -> i64;
    fn key(&self) -> bool;
    fn bytes(&self) -> usize;
}

impl Timed for Packet {
    fn track(&self) -> Track {
        self.track
    }
    fn dts(&self) -> i64 {
        self.dts
    }
    fn duration(&self) -> i64 {
        self.duration
    }
    fn key(&self) -> bool {
        self.key
    }
    fn bytes(&self) -> usize {
        self.data.len()
    }
}

/// Limits of a replay buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// How much media to keep (default 60 s). The buffer keeps the fewest whole GOPs that
    /// cover this, so it holds between `max_duration` and `max_duration` + one GOP.
    pub max_duration: Duration,
    /// Hard cap on payload bytes held (default 256 MiB). Whole GOPs are dropped from the
    /// front to stay under it, even if that leaves less than `max_duration`.
    pub max_bytes: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            max_duration: Duration::from_secs(60),
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// What the buffer has done, for stats and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayCounters {
    /// Packets accepted.
    pub packets_in: u64,
    /// Payload bytes accepted.
    pub bytes_in: u64,
    /// Packets that arrived before the first keyframe (nothing to attach them to).
    pub dropped_before_keyframe: u64,
    /// Whole GOPs trimmed because they were older than `max_duration`.
    pub gops_trimmed_time: u64,
    /// Whole GOPs trimmed to stay under `max_bytes`.
    pub gops_trimmed_bytes: u64,
    /// Packets currently held.
    pub packets_held: u64,
    /// Payload bytes currently held.
    pub bytes_held: u64,
    /// Highest `bytes_held` ever seen.
    pub peak_bytes: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Times a packet could not be kept (spool queue full, disk error): the GOP it belonged to
    /// is dropped, so no clip ever has a hole.
    pub gaps: u64,
    /// Packets not kept after a gap, until the next keyframe.
    pub dropped_after_gap: u64,
    /// Packets the spool thread could not take in time (queue full).
    pub spool_dropped: u64,
    /// Writes to the spool that failed (disk full, folder gone).
    pub spool_errors: u64,
    /// Bytes of spool chunk files on disk now.
    pub spool_disk_bytes: u64,
}

/// One closed or open group of pictures: a video keyframe and everything after it
/// (video and audio, in arrival order) up to the next keyframe.
#[derive(Debug)]
struct Gop<E> {
    start: Duration,
    packets: Vec<E>,
    bytes: usize,
}

/// A contiguous piece of the buffer, ready to be muxed: starts on a video keyframe, audio
/// trimmed to start at or after it, packets in decode-time order.
#[derive(Debug, Clone)]
pub struct Snapshot<E = Packet> {
    pub packets: Vec<E>,
    /// Session time of the first (key) frame.
    pub start: Duration,
    /// Session time just after the last packet.
    pub end: Duration,
    pub video_tb: (i32, i32),
    pub audio_tb: (i32, i32),
}

impl<E: Timed> Snapshot<E> {
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
    pub fn bytes(&self) -> usize {
        self.packets.iter().map(Timed::bytes).sum()
    }
}

/// The sans-IO replay buffer.
#[derive(Debug)]
pub struct ReplayBuffer<E = Packet> {
    cfg: ReplayConfig,
    video_tb: (i32, i32),
    audio_tb: (i32, i32),
    gops: VecDeque<Gop<E>>,
    bytes: usize,
    packets: usize,
    newest: Duration,
    /// End of the newest packet per track (video, audio); None until one arrives.
    track_end: [Option<Duration>; 2],
    /// After a gap: nothing is kept until the next video keyframe.
    await_key: bool,
    counters: ReplayCounters,
}

fn ts_time(ts: i64, tb: (i32, i32)) -> Duration {
    if ts <= 0 || tb.1 == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos((ts as i128 * tb.0 as i128 * 1_000_000_000 / tb.1 as i128) as u64)
}

impl<E: Timed> ReplayBuffer<E> {
    /// A buffer for streams with these time bases (video `1/fps`, audio `1/48000`).
    pub fn new(cfg: ReplayConfig, video_tb: (i32, i32), audio_tb: (i32, i32)) -> Self {
        Self {
            cfg,
            video_tb,
            audio_tb,
            gops: VecDeque::new(),
            bytes: 0,
            packets: 0,
            newest: Duration::ZERO,
            track_end: [None, None],
            await_key: false,
            counters: ReplayCounters::default(),
        }
    }

    pub fn config(&self) -> ReplayConfig {
        self.cfg
    }

    fn tb(&self, t: Track) -> (i32, i32) {
        match t {
            Track::Video => self.video_tb,
            Track::Audio => self.audio_tb,
        }
    }

    /// Decode time of a packet on the session timeline.
    pub fn time_of(&self, p: &E) -> Duration {
        ts_time(p.dts(), self.tb(p.track()))
    }

    /// End time of a packet (decode time + duration).
    fn end_of(&self, p: &E) -> Duration {
        ts_time(p.dts() + p.duration().max(0), self.tb(p.track()))
    }

    /// Takes one packet (a cheap `Arc` clone) and trims whole GOPs from the front.
    pub fn push(&mut self, p: &E) {
        let t = self.time_of(p);
        let keyframe = p.track() == Track::Video && p.key();
        if self.await_key && !keyframe {
            self.counters.dropped_after_gap += 1;
            return;
        }
        if keyframe {
            self.await_key = false;
            self.gops.push_back(Gop {
                start: t,
                packets: Vec::new(),
                bytes: 0,
            });
        }
        let Some(gop) = self.gops.back_mut() else {
            self.counters.dropped_before_keyframe += 1;
            return;
        };
        let len = p.bytes();
        gop.packets.push(p.clone());
        gop.bytes += len;
        self.bytes += len;
        self.packets += 1;
        self.counters.packets_in += 1;
        self.counters.bytes_in += len as u64;
        let end = self.end_of(p);
        self.newest = self.newest.max(end);
        let te = &mut self.track_end[p.track() as usize];
        *te = Some(te.unwrap_or_default().max(end));
        self.trim();
        self.counters.peak_bytes = self.counters.peak_bytes.max(self.bytes as u64);
    }

    /// A packet was lost on its way in: the GOP being filled is dropped (a clip must not have
    /// a hole) and nothing is kept until the next video keyframe.
    pub fn gap(&mut self) {
        if let Some(g) = self.gops.pop_back() {
            self.bytes -= g.bytes;
            self.packets -= g.packets.len();
        }
        self.await_key = true;
        self.counters.gaps += 1;
        self.counters.packets_held = self.packets as u64;
        self.counters.bytes_held = self.bytes as u64;
    }

    /// The oldest entry held.
    pub fn first(&self) -> Option<&E> {
        self.gops.front().and_then(|g| g.packets.first())
    }

    fn drop_front(&mut self) {
        if let Some(g) = self.gops.pop_front() {
            self.bytes -= g.bytes;
            self.packets -= g.packets.len();
        }
    }

    fn trim(&mut self) {
        // Time: drop the oldest GOP while the rest still covers max_duration.
        while self.gops.len() > 1
            && self.newest.saturating_sub(self.gops[1].start) >= self.cfg.max_duration
        {
            self.drop_front();
            self.counters.gops_trimmed_time += 1;
        }
        // Bytes: a hard cap, even if it means dropping the GOP being filled.
        while self.bytes > self.cfg.max_bytes && !self.gops.is_empty() {
            self.drop_front();
            self.counters.gops_trimmed_bytes += 1;
        }
        self.counters.packets_held = self.packets as u64;
        self.counters.bytes_held = self.bytes as u64;
    }

    /// Counters so far.
    pub fn counters(&self) -> ReplayCounters {
        self.counters
    }

    /// Media held, from the first keyframe to the end of the newest packet.
    pub fn span(&self) -> Duration {
        self.gops
            .front()
            .map(|g| self.newest.saturating_sub(g.start))
            .unwrap_or_default()
    }

    /// Session time just after the newest packet.
    pub fn newest(&self) -> Duration {
        self.newest
    }

    /// Where both tracks have media up to: the audio encoder runs a little behind the
    /// video one live, so the newest video has no audio yet.
    pub fn common_end(&self) -> Duration {
        match self.track_end {
            [Some(v), Some(a)] => v.min(a),
            [Some(v), None] => v,
            _ => self.newest,
        }
    }

    /// The last `k` of media, ending where both tracks have media: starts at the latest
    /// keyframe at or before `end − k` (so it covers at least `k` when the buffer has
    /// it), or at the oldest keyframe.
    pub fn snapshot_last(&mut self, k: Duration) -> Option<Snapshot<E>> {
        let end = self.common_end();
        self.snapshot_range(end.saturating_sub(k), end)
    }

    /// Media between two session times: starts at the keyframe at or before `from` (or the
    /// oldest one held), ends after the last packet before `to`. None if nothing is held.
    pub fn snapshot_range(&mut self, from: Duration, to: Duration) -> Option<Snapshot<E>> {
        let first = self.gops.iter().rposition(|g| g.start <= from).unwrap_or(0);
        let start = self.gops.get(first)?.start;
        // Audio that arrived slightly before the keyframe sits in the previous GOP.
        let scan_from = first.saturating_sub(1);
        let mut packets: Vec<E> = Vec::new();
        let mut end = start;
        for (i, g) in self.gops.iter().enumerate().skip(scan_from) {
            for p in &g.packets {
                let t = self.time_of(p);
                let keep = match p.track() {
                    Track::Video => i >= first && t < to,
                    Track::Audio => t >= start && t < to,
                };
                if keep {
                    end = end.max(self.end_of(p));
                    packets.push(p.clone());
                }
            }
        }
        packets.sort_by_key(|p| self.time_of(p));
        self.counters.snapshots += 1;
        Some(Snapshot {
            packets,
            start,
            end,
            video_tb: self.video_tb,
            audio_tb: self.audio_tb,
        })
    }

    /// Time of the first keyframe held.
    pub fn oldest(&self) -> Option<Duration> {
        self.gops.front().map(|g| g.start)
    }

    /// True if the first packet held is a video keyframe (always, by construction).
    pub fn starts_on_keyframe(&self) -> bool {
        self.gops
            .front()
            .and_then(|g| g.packets.first())
            .is_none_or(|p| p.track() == Track::Video && p.key())
    }
}

/// An entry of the live buffer: a packet in memory, or its metadata with the bytes in the
/// spool (`at`, `len`).
#[derive(Debug, Clone)]
pub enum Held {
    Memory(Packet),
    Spooled { meta: Packet, at: u64, len: u32 },
}

impl Held {
    fn packet(&self) -> &Packet {
        match self {
            Held::Memory(p) | Held::Spooled { meta: p, .. } => p,
        }
    }
}

impl Timed for Held {
    fn track(&self) -> Track {
        self.packet().track
    }
    fn dts(&self) -> i64 {
        self.packet().dts
    }
    fn duration(&self) -> i64 {
        self.packet().duration
    }
    fn key(&self) -> bool {
        self.packet().key
    }
    fn bytes(&self) -> usize {
        match self {
            Held::Memory(p) => p.data.len(),
            Held::Spooled { len, .. } => *len as usize,
        }
    }
}

/// One empty payload shared by every spooled entry's metadata (no allocation per packet).
fn no_bytes() -> Arc<[u8]> {
    static EMPTY: OnceLock<Arc<[u8]>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(Vec::new())).clone()
}

/// Packets waiting for the spool thread, at most (~13 s of 720p30 + audio); beyond it a
/// stalled disk costs a gap in the buffer, never the encoders' time.
const SPOOL_QUEUE: usize = 1024;
/// How long a query waits for the spool thread to catch up before answering with what it has.
const SYNC_WAIT: Duration = Duration::from_secs(2);

enum SpoolMsg {
    Packet(Packet),
    Sync(Sender<()>),
}

/// The spool side of a [`SharedReplay`]: its queue, thread and counters.
#[derive(Debug)]
struct SpoolWriter {
    spool: Arc<Spool>,
    tx: Option<Sender<SpoolMsg>>,
    thread: Option<JoinHandle<()>>,
    /// Set when a packet could not be queued: the thread turns it into a gap.
    lost: Arc<AtomicBool>,
    dropped: AtomicU64,
    errors: Arc<AtomicU64>,
}

impl std::fmt::Debug for SpoolMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpoolMsg::Packet(_) => "Packet",
            SpoolMsg::Sync(_) => "Sync",
        })
    }
}

/// The spool thread: writes each packet's bytes, then records it in the buffer and lets go
/// of the chunks nothing refers to any more.
fn spool_loop(
    rx: Receiver<SpoolMsg>,
    spool: Arc<Spool>,
    buffer: Arc<Mutex<ReplayBuffer<Held>>>,
    lost: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
) {
    let lock = || buffer.lock().unwrap_or_else(|e| e.into_inner());
    for msg in rx.iter() {
        let p = match msg {
            SpoolMsg::Packet(p) => p,
            SpoolMsg::Sync(done) => {
                let _ = done.send(());
                continue;
            }
        };
        if lost.swap(false, Ordering::AcqRel) {
            lock().gap();
        }
        let held = match spool.append(&p.data) {
            Ok(at) => Held::Spooled {
                len: p.data.len() as u32,
                meta: Packet {
                    data: no_bytes(),
                    ..p
                },
                at,
            },
            Err(e) => {
                if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!("replay buffer: cannot write to its spool: {e}");
                }
                lock().gap();
                continue;
            }
        };
        let oldest = {
            let mut b = lock();
            b.push(&held);
            match b.first() {
                Some(Held::Spooled { at, .. }) => *at,
                _ => spool.head(),
            }
        };
        spool.release_before(oldest);
    }
}

/// A replay buffer the packet bus can feed from the encoder threads. In memory,
/// `offer` holds the lock for one push (a few `Arc` clones and counter updates); spooled,
/// `offer` only queues the packet for the spool thread.
#[derive(Debug)]
pub struct SharedReplay {
    inner: Arc<Mutex<ReplayBuffer<Held>>>,
    spool: Option<SpoolWriter>,
}

impl SharedReplay {
    /// A buffer holding packets in memory.
    pub fn new(cfg: ReplayConfig, video_tb: (i32, i32), audio_tb: (i32, i32)) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ReplayBuffer::new(cfg, video_tb, audio_tb))),
            spool: None,
        }
    }

    /// A buffer whose packet bytes live in anonymous files under `dir` (the OS cache folder
    /// live): memory holds ~100 bytes a packet whatever the bitrate. Fails at once if `dir`
    /// cannot be written.
    pub fn spooled(
        cfg: ReplayConfig,
        video_tb: (i32, i32),
        audio_tb: (i32, i32),
        dir: &Path,
    ) -> Result<Self> {
        // ~16 chunks cover the byte cap: few files, little disk beyond what is held.
        let chunk = (cfg.max_bytes as u64 / 16).clamp(1 << 20, 16 << 20);
        let spool = Arc::new(Spool::new(dir, chunk).map_err(|e| HighlightError::io(dir, e))?);
        let inner = Arc::new(Mutex::new(ReplayBuffer::new(cfg, video_tb, audio_tb)));
        let (tx, rx) = crossbeam_channel::bounded(SPOOL_QUEUE);
        let lost = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let thread = {
            let (spool, inner, lost, errors) =
                (spool.clone(), inner.clone(), lost.clone(), errors.clone());
            std::thread::Builder::new()
                .name("replay-spool".into())
                .spawn(move || spool_loop(rx, spool, inner, lost, errors))
                .map_err(|e| {
                    HighlightError::Invalid(format!("cannot start the replay spool thread: {e}"))
                })?
        };
        Ok(Self {
            inner,
            spool: Some(SpoolWriter {
                spool,
                tx: Some(tx),
                thread: Some(thread),
                lost,
                dropped: AtomicU64::new(0),
                errors,
            }),
        })
    }

    /// True if packet bytes go to disk.
    pub fn is_spooled(&self) -> bool {
        self.spool.is_some()
    }

    /// Waits (bounded) until the spool thread has taken every packet offered so far, so a
    /// query sees them.
    fn sync(&self) {
        let Some(tx) = self.spool.as_ref().and_then(|s| s.tx.as_ref()) else {
            return;
        };
        let (done, wait) = crossbeam_channel::bounded(1);
        if tx.send_timeout(SpoolMsg::Sync(done), SYNC_WAIT).is_ok() {
            let _ = wait.recv_timeout(SYNC_WAIT);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayBuffer<Held>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` under the lock (after the spool caught up). Keep it short: the encoders (or
    /// the spool thread) wait on this lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut ReplayBuffer<Held>) -> R) -> R {
        self.sync();
        f(&mut self.lock())
    }

    /// The last `k` of media, with every payload in memory, ready to be muxed.
    pub fn snapshot_last(&self, k: Duration) -> Result<Snapshot> {
        self.snapshot(|b| b.snapshot_last(k))
    }

    /// The media between two session times (see [`ReplayBuffer::snapshot_range`]).
    pub fn snapshot_range(&self, from: Duration, to: Duration) -> Result<Snapshot> {
        self.snapshot(|b| b.snapshot_range(from, to))
    }

    /// Takes a snapshot and pins its spool chunks under the lock; reads the bytes outside it.
    fn snapshot(
        &self,
        take: impl FnOnce(&mut ReplayBuffer<Held>) -> Option<Snapshot<Held>>,
    ) -> Result<Snapshot> {
        let (snap, pinned) = self
            .with(|b| {
                let snap = take(b)?;
                let pinned = self.spool.as_ref().map(|s| {
                    let ranges = snap.packets.iter().filter_map(|h| match h {
                        Held::Spooled { at, len, .. } => Some((*at, *at + *len as u64)),
                        Held::Memory(_) => None,
                    });
                    let (lo, hi) =
                        ranges.fold((u64::MAX, 0), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
                    s.spool.pin(lo.min(hi), hi)
                });
                Some((snap, pinned.unwrap_or_default()))
            })
            .ok_or(HighlightError::EmptyBuffer)?;
        resolve(snap, &pinned)
    }

    pub fn counters(&self) -> ReplayCounters {
        let mut c = self.with(|b| b.counters());
        if let Some(s) = &self.spool {
            c.spool_dropped = s.dropped.load(Ordering::Relaxed);
            c.spool_errors = s.errors.load(Ordering::Relaxed);
            c.spool_disk_bytes = s.spool.disk_bytes();
        }
        c
    }
}

/// Reads the spooled payloads of a snapshot back into packets.
fn resolve(snap: Snapshot<Held>, pinned: &Pinned) -> Result<Snapshot> {
    let packets = snap
        .packets
        .into_iter()
        .map(|h| match h {
            Held::Memory(p) => Ok(p),
            Held::Spooled { meta, at, len } => pinned
                .read(at, len as usize)
                .map(|bytes| Packet {
                    data: Arc::from(bytes),
                    ..meta
                })
                .map_err(|e| {
                    HighlightError::Invalid(format!(
                        "the replay buffer's spool could not be read back ({e}); \
                         the highlight was not saved — try again"
                    ))
                }),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Snapshot {
        packets,
        start: snap.start,
        end: snap.end,
        video_tb: snap.video_tb,
        audio_tb: snap.audio_tb,
    })
}

impl PacketSink for SharedReplay {
    fn offer(&self, p: &Packet) {
        let Some(s) = &self.spool else {
            self.lock().push(&Held::Memory(p.clone()));
            return;
        };
        let Some(tx) = &s.tx else { return };
        if let Err(TrySendError::Full(_)) = tx.try_send(SpoolMsg::Packet(p.clone())) {
            s.dropped.fetch_add(1, Ordering::Relaxed);
            s.lost.store(true, Ordering::Release);
        }
    }
}

impl Drop for SharedReplay {
    fn drop(&mut self) {
        if let Some(s) = &mut self.spool {
            s.tx.take();
            if let Some(t) = s.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests;
