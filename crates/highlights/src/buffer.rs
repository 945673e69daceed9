//! The replay buffer: the last N seconds of encoded packets, kept as shared `Packet`
//! clones (the `Arc` data is never copied), bounded by time and by bytes, trimmed by whole
//! GOPs so that what it holds always starts on a video keyframe.
//!
//! [`ReplayBuffer`] is sans-IO: packets in, snapshots out, no clock, no locks. Time is the
//! packets' own decode time on the session timeline. [`SharedReplay`] wraps it in a short
//! `Mutex` and implements [`PacketSink`] so the live packet bus can feed it.

use marquee_studio::output::PacketSink;
use marquee_studio::packet::{Packet, Track};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

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
}

/// One closed or open group of pictures: a video keyframe and everything after it
/// (video and audio, in arrival order) up to the next keyframe.
#[derive(Debug)]
struct Gop {
    start: Duration,
    packets: Vec<Packet>,
    bytes: usize,
}

/// A contiguous piece of the buffer, ready to be muxed: starts on a video keyframe, audio
/// trimmed to start at or after it, packets in decode-time order.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub packets: Vec<Packet>,
    /// Session time of the first (key) frame.
    pub start: Duration,
    /// Session time just after the last packet.
    pub end: Duration,
    pub video_tb: (i32, i32),
    pub audio_tb: (i32, i32),
}

impl Snapshot {
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
    pub fn bytes(&self) -> usize {
        self.packets.iter().map(|p| p.data.len()).sum()
    }
}

/// The sans-IO replay buffer.
#[derive(Debug)]
pub struct ReplayBuffer {
    cfg: ReplayConfig,
    video_tb: (i32, i32),
    audio_tb: (i32, i32),
    gops: VecDeque<Gop>,
    bytes: usize,
    packets: usize,
    newest: Duration,
    /// End of the newest packet per track (video, audio); None until one arrives.
    track_end: [Option<Duration>; 2],
    counters: ReplayCounters,
}

fn ts_time(ts: i64, tb: (i32, i32)) -> Duration {
    if ts <= 0 || tb.1 == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos((ts as i128 * tb.0 as i128 * 1_000_000_000 / tb.1 as i128) as u64)
}

impl ReplayBuffer {
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
    pub fn time_of(&self, p: &Packet) -> Duration {
        ts_time(p.dts, self.tb(p.track))
    }

    /// End time of a packet (decode time + duration).
    fn end_of(&self, p: &Packet) -> Duration {
        ts_time(p.dts + p.duration.max(0), self.tb(p.track))
    }

    /// Takes one packet (a cheap `Arc` clone) and trims whole GOPs from the front.
    pub fn push(&mut self, p: &Packet) {
        let t = self.time_of(p);
        if p.track == Track::Video && p.key {
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
        gop.packets.push(p.clone());
        gop.bytes += p.data.len();
        self.bytes += p.data.len();
        self.packets += 1;
        self.counters.packets_in += 1;
        self.counters.bytes_in += p.data.len() as u64;
        let end = self.end_of(p);
        self.newest = self.newest.max(end);
        let te = &mut self.track_end[p.track as usize];
        *te = Some(te.unwrap_or_default().max(end));
        self.trim();
        self.counters.peak_bytes = self.counters.peak_bytes.max(self.bytes as u64);
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
    pub fn snapshot_last(&mut self, k: Duration) -> Option<Snapshot> {
        let end = self.common_end();
        self.snapshot_range(end.saturating_sub(k), end)
    }

    /// Media between two session times: starts at the keyframe at or before `from` (or the
    /// oldest one held), ends after the last packet before `to`. None if nothing is held.
    pub fn snapshot_range(&mut self, from: Duration, to: Duration) -> Option<Snapshot> {
        let first = self.gops.iter().rposition(|g| g.start <= from).unwrap_or(0);
        let start = self.gops.get(first)?.start;
        // Audio that arrived slightly before the keyframe sits in the previous GOP.
        let scan_from = first.saturating_sub(1);
        let mut packets: Vec<Packet> = Vec::new();
        let mut end = start;
        for (i, g) in self.gops.iter().enumerate().skip(scan_from) {
            for p in &g.packets {
                let t = self.time_of(p);
                let keep = match p.track {
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
            .is_none_or(|p| p.track == Track::Video && p.key)
    }
}

/// A replay buffer the packet bus can feed from the encoder threads.
/// `offer` holds the lock for one push (a few `Arc` clones and counter updates): no I/O,
/// no allocation beyond the GOP vector growing.
#[derive(Debug)]
pub struct SharedReplay {
    inner: Mutex<ReplayBuffer>,
}

impl SharedReplay {
    pub fn new(buffer: ReplayBuffer) -> Self {
        Self {
            inner: Mutex::new(buffer),
        }
    }

    /// Runs `f` under the lock. Keep it short: the encoders wait on this lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut ReplayBuffer) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn snapshot_last(&self, k: Duration) -> Option<Snapshot> {
        self.with(|b| b.snapshot_last(k))
    }

    pub fn snapshot_range(&self, from: Duration, to: Duration) -> Option<Snapshot> {
        self.with(|b| b.snapshot_range(from, to))
    }

    pub fn counters(&self) -> ReplayCounters {
        self.with(|b| b.counters())
    }
}

impl PacketSink for SharedReplay {
    fn offer(&self, p: &Packet) {
        self.with(|b| b.push(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const FPS: i64 = 30;
    const VTB: (i32, i32) = (1, 30);
    const ATB: (i32, i32) = (1, 48000);

    fn video(i: i64, size: usize, gop: i64) -> Packet {
        Packet {
            track: Track::Video,
            data: Arc::from(vec![0u8; size]),
            pts: i,
            dts: i,
            duration: 1,
            key: i % gop == 0,
            captured: Duration::ZERO,
        }
    }

    fn audio(i: i64) -> Packet {
        Packet {
            track: Track::Audio,
            data: Arc::from(vec![0u8; 300]),
            pts: i * 1024,
            dts: i * 1024,
            duration: 1024,
            key: true,
            captured: Duration::ZERO,
        }
    }

    /// Feeds `secs` of 30 fps video (GOP 2 s, `vsize` bytes a frame) and 48 kHz AAC,
    /// interleaved roughly as the encoders deliver them.
    fn feed(b: &mut ReplayBuffer, from_frame: i64, secs: i64, vsize: usize) {
        let mut a = (from_frame * 48000 / FPS) / 1024;
        for i in from_frame..from_frame + secs * FPS {
            b.push(&video(i, vsize, 2 * FPS));
            while (a * 1024) * FPS < (i + 1) * 48000 {
                b.push(&audio(a));
                a += 1;
            }
        }
    }

    #[test]
    fn buffer_always_starts_on_a_keyframe() {
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                max_duration: Duration::from_secs(5),
                max_bytes: usize::MAX,
            },
            VTB,
            ATB,
        );
        // Audio and non-key video before the first keyframe are dropped and counted.
        b.push(&audio(0));
        b.push(&video(1, 100, 1000));
        assert_eq!(b.counters().dropped_before_keyframe, 2);
        for step in 0..40 {
            feed(&mut b, step * FPS, 1, 1000);
            assert!(b.starts_on_keyframe());
            let s = b.snapshot_last(Duration::from_secs(3)).unwrap();
            assert!(s.packets[0].key && s.packets[0].track == Track::Video);
        }
    }

    #[test]
    fn holds_the_last_n_seconds_in_whole_gops() {
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                max_duration: Duration::from_secs(10),
                max_bytes: usize::MAX,
            },
            VTB,
            ATB,
        );
        feed(&mut b, 0, 60, 1000);
        let span = b.span();
        assert!(span >= Duration::from_secs(10), "{span:?}");
        assert!(span < Duration::from_secs(12), "{span:?}");
        assert_eq!(b.oldest().unwrap().as_secs() % 2, 0);
        assert!(b.counters().gops_trimmed_time >= 24);
    }

    #[test]
    fn memory_stays_bounded_at_high_bitrate() {
        // 50 Mbps for 5 minutes against a 32 MiB cap.
        let cap = 32 * 1024 * 1024;
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                max_duration: Duration::from_secs(60),
                max_bytes: cap,
            },
            VTB,
            ATB,
        );
        let frame = 50_000_000 / 8 / 30;
        feed(&mut b, 0, 300, frame);
        let c = b.counters();
        assert!(c.peak_bytes as usize <= cap, "{c:?}");
        assert!(c.gops_trimmed_bytes > 0);
        assert!(b.starts_on_keyframe());
        // What is held is whole GOPs, as much as fits.
        assert!(b.span() >= Duration::from_secs(2));
    }

    #[test]
    fn a_gop_larger_than_the_cap_is_dropped_not_kept() {
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                max_duration: Duration::from_secs(60),
                max_bytes: 10_000,
            },
            VTB,
            ATB,
        );
        feed(&mut b, 0, 4, 1000);
        assert!(b.counters().peak_bytes <= 10_000);
        assert!(b.starts_on_keyframe());
    }

    #[test]
    fn snapshot_covers_at_least_k_seconds_from_a_keyframe_with_aligned_audio() {
        let mut b = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
        feed(&mut b, 0, 45, 1000);
        let s = b.snapshot_last(Duration::from_secs(30)).unwrap();
        assert!(
            s.duration() >= Duration::from_secs(30),
            "{:?}",
            s.duration()
        );
        assert!(s.duration() < Duration::from_secs(32));
        assert_eq!(s.start.as_secs() % 2, 0);
        let first_audio = s.packets.iter().find(|p| p.track == Track::Audio).unwrap();
        let at = b.time_of(first_audio);
        assert!(
            at >= s.start && at - s.start < Duration::from_millis(22),
            "{at:?}"
        );
        // Sorted by decode time.
        let times: Vec<_> = s.packets.iter().map(|p| b.time_of(p)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn snapshot_shares_packet_data_instead_of_copying() {
        let mut b = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
        let p = video(0, 5000, 60);
        b.push(&p);
        let s = b.snapshot_last(Duration::from_secs(1)).unwrap();
        assert!(Arc::ptr_eq(&s.packets[0].data, &p.data));
    }

    #[test]
    fn snapshot_range_starts_at_the_keyframe_before_the_mark() {
        let mut b = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
        feed(&mut b, 0, 40, 1000);
        let s = b
            .snapshot_range(Duration::from_millis(13_500), Duration::from_secs(20))
            .unwrap();
        assert_eq!(s.start, Duration::from_secs(12));
        assert!(s.end <= Duration::from_secs(20) + Duration::from_millis(34));
        assert!(s.end >= Duration::from_millis(19_960));
    }

    #[test]
    fn shared_buffer_takes_packets_from_many_threads() {
        let shared = Arc::new(SharedReplay::new(ReplayBuffer::new(
            ReplayConfig::default(),
            VTB,
            ATB,
        )));
        let v = {
            let s = shared.clone();
            std::thread::spawn(move || {
                for i in 0..600 {
                    s.offer(&video(i, 100, 60));
                }
            })
        };
        let a = {
            let s = shared.clone();
            std::thread::spawn(move || {
                for i in 0..900 {
                    s.offer(&audio(i));
                }
            })
        };
        v.join().unwrap();
        a.join().unwrap();
        let c = shared.counters();
        assert_eq!(c.packets_in + c.dropped_before_keyframe, 1500);
        assert!(shared.with(|b| b.starts_on_keyframe()));
    }
}
