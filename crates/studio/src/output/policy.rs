//! The sans-IO heart of an output: what to queue, what to drop, when to reconnect.
//! Inputs and a time in, decisions out; the writer thread only acts on them.

use crate::packet::{Packet, Track};
use std::collections::VecDeque;
use std::time::Duration;

/// Why a packet never reached a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropCause {
    /// The destination fell behind: non-key video skipped up to the next keyframe.
    Congestion,
    /// Not connected: the queue keeps only the latest GOP.
    Disconnected,
    /// The queue hit its hard cap (a writer stuck for many seconds).
    Overflow,
}

/// How far back the writer's sending rate is measured.
const SENT_WINDOW: Duration = Duration::from_secs(1);

/// Most sends remembered for the rate (more than a second of any real stream's packets;
/// past it the oldest go, which only lowers the estimate).
const SENT_MAX: usize = 4096;

/// Limits of one destination's queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Wait above which non-key video is dropped: the media span queued, or its bytes at the
    /// rate the writer took bytes over the last second when that is shorter.
    pub congestion: Duration,
    /// Queued media time at which everything is dropped and we wait for a keyframe.
    pub hard: Duration,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            congestion: Duration::from_millis(1500),
            hard: Duration::from_secs(8),
        }
    }
}

/// A destination's queue with its drop policy. Audio and keyframes are never dropped
/// for congestion; after a drop, video resumes only at a keyframe (a P frame without its
/// reference would corrupt the picture until the next keyframe anyway).
#[derive(Debug)]
pub struct OutputQueue {
    limits: QueueLimits,
    video_tb: (i32, i32),
    audio_tb: (i32, i32),
    queue: VecDeque<Packet>,
    bytes: usize,
    skip_until_key: bool,
    connected: bool,
    /// When the writer took how many bytes, over the last [`SENT_WINDOW`].
    sent: VecDeque<(Duration, usize)>,
    sent_bytes: usize,
    pub dropped: DropCounts,
}

/// Packets dropped, by cause.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct DropCounts {
    pub congestion: u64,
    pub disconnected: u64,
    pub overflow: u64,
}

impl DropCounts {
    fn add(&mut self, cause: DropCause, n: u64) {
        match cause {
            DropCause::Congestion => self.congestion += n,
            DropCause::Disconnected => self.disconnected += n,
            DropCause::Overflow => self.overflow += n,
        }
    }
    pub fn total(&self) -> u64 {
        self.congestion + self.disconnected + self.overflow
    }
}

impl OutputQueue {
    pub fn new(limits: QueueLimits, video_tb: (i32, i32), audio_tb: (i32, i32)) -> Self {
        Self {
            limits,
            video_tb,
            audio_tb,
            queue: VecDeque::new(),
            bytes: 0,
            skip_until_key: true,
            connected: false,
            sent: VecDeque::new(),
            sent_bytes: 0,
            dropped: DropCounts::default(),
        }
    }

    fn time_of(&self, p: &Packet) -> Duration {
        p.dts_time(match p.track {
            Track::Video => self.video_tb,
            Track::Audio => self.audio_tb,
        })
    }

    /// Media time spanned by the queue.
    pub fn queued_time(&self) -> Duration {
        match (self.queue.front(), self.queue.back()) {
            (Some(a), Some(b)) => self.time_of(b).saturating_sub(self.time_of(a)),
            _ => Duration::ZERO,
        }
    }

    /// How long the last queued packet waits before it is sent: the queue's media span, or
    /// its bytes at the rate the writer took bytes over the last second when that is
    /// shorter. After the bitrate is lowered, the span of a queue still holding the older,
    /// larger frames keeps growing while the time to send them shrinks: only the shorter of
    /// the two is the wait. A writer that stops taking anything has no rate after a second,
    /// and the span rules again. It is also the queue delay adaptive bitrate and the stats
    /// see: the span alone reads a few packets of two tracks whose clocks sit apart (a
    /// network camera's video behind the microphone) as a standing queue.
    pub fn wait(&mut self, now: Duration) -> Duration {
        self.forget_sent_before(now.saturating_sub(SENT_WINDOW));
        let span = self.queued_time();
        if self.sent_bytes == 0 {
            return span;
        }
        let bytes_per_s = self.sent_bytes as f64 / SENT_WINDOW.as_secs_f64();
        span.min(Duration::from_secs_f64(self.bytes as f64 / bytes_per_s))
    }

    fn forget_sent_before(&mut self, t: Duration) {
        while let Some(&(at, n)) = self.sent.front() {
            if at >= t && self.sent.len() <= SENT_MAX {
                break;
            }
            self.sent.pop_front();
            self.sent_bytes -= n;
        }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Offers a packet from the encoder at `now`. Never blocks; returns the cause if it was
    /// dropped.
    pub fn push(&mut self, p: Packet, now: Duration) -> Option<DropCause> {
        let is_video = p.track == Track::Video;
        if !self.connected {
            // Keep only the latest GOP so a reconnect starts on a keyframe at once.
            if is_video && p.key {
                let n = self.queue.len() as u64;
                self.dropped.add(DropCause::Disconnected, n);
                self.clear();
                self.skip_until_key = false;
            } else if self.skip_until_key {
                self.dropped.add(DropCause::Disconnected, 1);
                return Some(DropCause::Disconnected);
            }
            self.enqueue(p);
            if self.queued_time() > self.limits.hard {
                let n = self.queue.len() as u64;
                self.dropped.add(DropCause::Overflow, n);
                self.clear();
                self.skip_until_key = true;
            }
            return None;
        }
        if self.queued_time() >= self.limits.hard {
            let n = self.queue.len() as u64 + 1;
            self.dropped.add(DropCause::Overflow, n);
            self.clear();
            self.skip_until_key = true;
            if !(is_video && p.key) {
                return Some(DropCause::Overflow);
            }
        }
        if is_video {
            if p.key {
                self.skip_until_key = false;
            } else if self.skip_until_key || self.wait(now) >= self.limits.congestion {
                self.skip_until_key = true;
                self.dropped.add(DropCause::Congestion, 1);
                return Some(DropCause::Congestion);
            }
        }
        self.enqueue(p);
        None
    }

    fn enqueue(&mut self, p: Packet) {
        self.bytes += p.data.len();
        self.queue.push_back(p);
    }

    fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }

    /// Next packet, taken out of the queue without sending it.
    pub fn pop(&mut self) -> Option<Packet> {
        let p = self.queue.pop_front()?;
        self.bytes -= p.data.len();
        Some(p)
    }

    /// Next packet for the writer, which sends it at `now` (counted towards its rate).
    pub fn pop_to_send(&mut self, now: Duration) -> Option<Packet> {
        let p = self.pop()?;
        self.sent.push_back((now, p.data.len()));
        self.sent_bytes += p.data.len();
        self.forget_sent_before(now.saturating_sub(SENT_WINDOW));
        Some(p)
    }

    /// The writer connected: what is queued (the latest GOP) goes out first.
    pub fn on_connected(&mut self) {
        self.connected = true;
    }

    /// The connection broke: from now on keep only the latest GOP.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
        // The packet in flight may be lost; restart cleanly at a keyframe.
        let keep_from = self
            .queue
            .iter()
            .rposition(|p| p.track == Track::Video && p.key);
        match keep_from {
            Some(i) => {
                let dropped: Vec<_> = self.queue.drain(..i).collect();
                self.dropped
                    .add(DropCause::Disconnected, dropped.len() as u64);
                self.bytes -= dropped.iter().map(|p| p.data.len()).sum::<usize>();
            }
            None => {
                let n = self.queue.len() as u64;
                self.dropped.add(DropCause::Disconnected, n);
                self.clear();
                self.skip_until_key = true;
            }
        }
    }
}

/// Reconnect timing: a try every 0.4–0.8 s for the first ~8 s at least, then a climb to at
/// most 30 s, with jitter so many clients do not return in lockstep. The early steps are
/// short on purpose: most breaks are a blip or a server restart, and the stream should be
/// back within a second of the server's return (a refused connect costs the server nothing).
/// Reset once a connection has held.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Upper bounds of successive delays, in ms.
    const CAPS_MS: [u64; 29] = [
        500, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 800,
        800, 800, 800, 1500, 2000, 3000, 5000, 8000, 13_000, 21_000, 30_000,
    ];

    /// Delay before the next attempt; `unit` is a uniform random number in [0, 1).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let i = (self.attempt as usize).min(Self::CAPS_MS.len() - 1);
        let cap = Duration::from_millis(Self::CAPS_MS[i]);
        self.attempt += 1;
        // "Equal jitter": half fixed, half random.
        cap / 2 + cap.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }

    /// Attempts made since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const VTB: (i32, i32) = (1, 30);
    const ATB: (i32, i32) = (1, 48_000);

    fn video(i: i64, key: bool) -> Packet {
        Packet {
            track: Track::Video,
            data: Arc::from(vec![0u8; 1000]),
            pts: i,
            dts: i,
            duration: 1,
            key,
            captured: Duration::ZERO,
        }
    }

    fn audio(i: i64) -> Packet {
        Packet {
            track: Track::Audio,
            data: Arc::from(vec![0u8; 100]),
            // One audio packet per video frame interval, on the same timeline.
            pts: i * 1600,
            dts: i * 1600,
            duration: 1600,
            key: true,
            captured: Duration::ZERO,
        }
    }

    fn connected() -> OutputQueue {
        let mut q = OutputQueue::new(QueueLimits::default(), VTB, ATB);
        q.on_connected();
        q
    }

    #[test]
    fn a_slow_destination_drops_non_key_video_up_to_the_next_keyframe_never_audio() {
        let mut q = connected();
        // Nobody pops: 2 s of 30 fps video with a keyframe every 60 frames, plus audio.
        let mut dropped_key = 0;
        let mut dropped_audio = 0;
        for i in 0..150 {
            let key = i % 60 == 0;
            if q.push(video(i, key), Duration::ZERO).is_some() && key {
                dropped_key += 1;
            }
            if q.push(audio(i), Duration::ZERO).is_some() {
                dropped_audio += 1;
            }
        }
        assert_eq!(dropped_key, 0);
        assert_eq!(dropped_audio, 0);
        assert!(q.dropped.congestion > 0);
        // Once it dropped a P frame, it keeps dropping until the keyframe at 60 and 120.
        let kept: Vec<i64> = std::iter::from_fn(|| q.pop())
            .filter(|p| p.track == Track::Video)
            .map(|p| p.pts)
            .collect();
        assert!(kept.contains(&60) && kept.contains(&120));
        let first_gap = kept.windows(2).find(|w| w[1] != w[0] + 1).unwrap();
        assert!(
            first_gap[1] % 60 == 0,
            "resumed at {} which is not a keyframe",
            first_gap[1]
        );
    }

    #[test]
    fn a_keeping_up_destination_drops_nothing() {
        let mut q = connected();
        for i in 0..300 {
            assert_eq!(q.push(video(i, i % 60 == 0), Duration::ZERO), None);
            q.pop();
        }
        assert_eq!(q.dropped.total(), 0);
    }

    /// Frames of `kbps` at 30 fps, sent over a link of `link_kbps` by a writer that takes a
    /// packet whenever the link has room; returns the longest span the queue reached.
    fn stream_over_a_link(
        q: &mut OutputQueue,
        frames: std::ops::Range<i64>,
        kbps: impl Fn(i64) -> usize,
        link_kbps: usize,
        credit: &mut f64,
    ) -> Duration {
        let mut longest = Duration::ZERO;
        for i in frames {
            let now = Duration::from_secs_f64(i as f64 / 30.0);
            let mut p = video(i, i % 60 == 0);
            p.data = Arc::from(vec![0u8; kbps(i) * 1000 / 8 / 30]);
            q.push(p, now);
            longest = longest.max(q.queued_time());
            *credit += (link_kbps * 1000 / 8 / 30) as f64;
            while q
                .queue
                .front()
                .is_some_and(|p| p.data.len() as f64 <= *credit)
            {
                *credit -= q.pop_to_send(now).unwrap().data.len() as f64;
            }
            if q.is_empty() {
                *credit = 0.0;
            }
        }
        longest
    }

    #[test]
    fn after_the_bitrate_is_lowered_a_queue_that_sends_quickly_drops_nothing_though_its_span_grows()
    {
        let mut q = connected();
        let mut credit = 0.0;
        // 1.9 s at 3000 kbit/s over a 1500 kbit/s link, then 400 kbit/s: the queue's span
        // keeps growing while the large frames drain, past the congestion limit.
        let kbps = |i| if i < 57 { 3000 } else { 400 };
        let longest = stream_over_a_link(&mut q, 0..240, kbps, 1500, &mut credit);
        assert!(
            longest > QueueLimits::default().congestion,
            "the span stayed at {longest:?}: not the case this test is about"
        );
        assert_eq!(q.dropped.total(), 0);
        assert!(q.is_empty(), "the queue drained");
    }

    #[test]
    fn a_writer_that_stops_sending_drops_by_the_queue_span_again() {
        let mut q = connected();
        let mut credit = 0.0;
        stream_over_a_link(&mut q, 0..60, |_| 1000, 1500, &mut credit);
        assert_eq!(q.dropped.total(), 0);
        // The link stops carrying anything: after a second without a send the rate is gone.
        stream_over_a_link(&mut q, 60..120, |_| 1000, 0, &mut credit);
        assert!(q.dropped.congestion > 0);
        assert!(q.queued_time() <= QueueLimits::default().congestion);
    }

    #[test]
    fn a_few_packets_of_two_tracks_whose_clocks_sit_apart_wait_by_their_bytes_not_their_span() {
        let mut q = connected();
        let mut credit = 0.0;
        // A writer keeping up with 1000 kbit/s over a 1500 kbit/s link.
        stream_over_a_link(&mut q, 0..60, |_| 1000, 1500, &mut credit);
        let now = Duration::from_secs(2);
        // A network camera's frame stamped 400 ms behind the microphone's packet after it.
        q.push(video(60, false), now);
        q.push(audio(60 + 12), now);
        assert_eq!(q.queued_time(), Duration::from_millis(400));
        assert!(
            q.wait(now) < Duration::from_millis(20),
            "two small packets wait {:?}",
            q.wait(now)
        );
    }

    #[test]
    fn while_disconnected_only_the_latest_gop_is_kept_and_it_starts_on_a_keyframe() {
        let mut q = OutputQueue::new(QueueLimits::default(), VTB, ATB);
        for i in 0..130 {
            q.push(video(i, i % 60 == 0), Duration::ZERO);
        }
        let first = q.pop().unwrap();
        assert!(first.key && first.pts == 120);
        assert_eq!(q.len(), 9);
        assert_eq!(q.dropped.disconnected, 120);
    }

    #[test]
    fn a_broken_connection_restarts_at_the_last_keyframe_in_the_queue() {
        let mut q = connected();
        for i in 0..70 {
            q.push(video(i, i % 60 == 0), Duration::ZERO);
        }
        q.on_disconnected();
        assert!(q.pop().unwrap().pts == 60);
    }

    #[test]
    fn a_stuck_writer_hits_the_hard_cap_and_the_queue_stays_bounded() {
        let mut q = connected();
        for i in 0..(30 * 60) {
            q.push(video(i, i % 60 == 0), Duration::ZERO);
            q.push(audio(i), Duration::ZERO);
            assert!(q.queued_time() <= QueueLimits::default().hard + Duration::from_secs(1));
        }
        assert!(q.dropped.overflow > 0);
    }

    #[test]
    fn backoff_first_try_within_a_second_then_grows_to_30s_with_jitter() {
        let mut b = Backoff::default();
        let first = b.next_delay(0.999);
        assert!(first <= Duration::from_secs(1));
        let mut last = Duration::ZERO;
        for _ in 0..30 {
            last = b.next_delay(0.5);
        }
        assert!(last <= Duration::from_secs(30) && last >= Duration::from_secs(15));
        let mut lo = Backoff::default();
        let mut hi = Backoff::default();
        assert_ne!(lo.next_delay(0.0), hi.next_delay(0.9));
        b.reset();
        assert_eq!(b.attempt(), 0);
    }

    #[test]
    fn after_an_outage_of_up_to_8s_the_next_try_comes_within_a_second_of_the_return() {
        for unit in [0.0, 0.5, 0.999] {
            let mut b = Backoff::default();
            let mut tries = vec![Duration::ZERO];
            while *tries.last().unwrap() < Duration::from_secs(12) {
                let next = *tries.last().unwrap() + b.next_delay(unit);
                tries.push(next);
            }
            for back_ms in (0..=8000).step_by(100) {
                let back = Duration::from_millis(back_ms);
                let next = tries.iter().find(|t| **t >= back).unwrap();
                assert!(
                    *next - back <= Duration::from_millis(800),
                    "back at {back:?}, next try {next:?}"
                );
            }
        }
    }
}
