//! Feeds: sources whose media is pushed in by someone else (a co-stream guest's decoded
//! camera and voice), opened by name like a camera or a microphone (`guest:N`).
//!
//! The producer (a decoder thread) pushes into a [`Feed`] without ever blocking: the video
//! side keeps only the newest frames (a bounded queue that drops the oldest, counted), the
//! audio side hands blocks to whichever audio source is attached. The consumer side is a
//! [`FeedCamera`] (a [`CameraDevice`], so a guest is lost and comes back exactly like a
//! camera: last frame, then the slate) and [`spawn_feed_audio`].

use crate::camera::{CameraDevice, CameraMode, RawFrame};
use crate::clock::SessionClock;
use crate::error::CaptureError;
use crate::frame::{AudioBlock, PixelFormat};
use crate::pool::FramePool;
use crate::remote_latency::SlidingMin;
use crate::sink::Sink;
use crate::{SourceHandle, SourceState};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a feed may go without a picture before its camera counts as lost (then the
/// compositor shows the slate): a guest who freezes is on their last frame for this long.
pub const STALL: Duration = Duration::from_millis(700);

/// One decoded picture from a feed's producer.
#[derive(Debug)]
pub struct FeedFrame {
    pub width: u32,
    pub height: u32,
    /// Tightly packed I420.
    pub i420: Vec<u8>,
    /// When it is ready for the program (the consumer stamps it on its session clock): its
    /// arrival, or later when the producer evens out the network's jitter.
    pub arrived: Instant,
}

/// Decoded audio from a feed's producer: 48 kHz stereo interleaved.
#[derive(Debug)]
pub struct FeedAudio {
    pub samples: Vec<f32>,
    /// The producer's media time of the first sample (RTP time since its first packet):
    /// evenly spaced, so the consumer can place blocks without the network's jitter.
    pub media_time: Duration,
    pub arrived: Instant,
}

/// What a feed counted, for stats.
#[derive(Debug, Default)]
pub struct FeedCounters {
    pub frames: AtomicU64,
    /// Frames dropped because the consumer was behind (the newest are kept).
    pub frames_dropped: AtomicU64,
    pub audio_blocks: AtomicU64,
    /// Audio blocks pushed while no audio source was attached, or dropped by it.
    pub audio_dropped: AtomicU64,
}

/// One pushed source.
pub struct Feed {
    name: String,
    video_tx: Sender<FeedFrame>,
    video_rx: Receiver<FeedFrame>,
    audio: Mutex<Option<Sender<FeedAudio>>>,
    counters: FeedCounters,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("name", &self.name).finish()
    }
}

impl Feed {
    fn new(name: &str) -> Self {
        let (video_tx, video_rx) = crossbeam_channel::bounded(3);
        Self {
            name: name.to_string(),
            video_tx,
            video_rx,
            audio: Mutex::new(None),
            counters: FeedCounters::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn counters(&self) -> &FeedCounters {
        &self.counters
    }

    /// Hands over a picture; never blocks. When the consumer is behind, the oldest waiting
    /// picture is dropped (and counted): a live source shows its newest frame.
    pub fn push_video(&self, frame: FeedFrame) {
        let mut frame = frame;
        loop {
            match self.video_tx.try_send(frame) {
                Ok(()) => {
                    self.counters.frames.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(crossbeam_channel::TrySendError::Full(f)) => {
                    frame = f;
                    if self.video_rx.try_recv().is_ok() {
                        self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
            }
        }
    }

    /// Hands over decoded audio; never blocks. Dropped (and counted) when no audio source
    /// is attached or it is behind.
    pub fn push_audio(&self, block: FeedAudio) {
        let tx = self.audio.lock().expect("feed audio lock");
        let sent = tx.as_ref().is_some_and(|tx| tx.try_send(block).is_ok());
        let c = if sent {
            &self.counters.audio_blocks
        } else {
            &self.counters.audio_dropped
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops the pictures waiting (a guest left: their next session starts fresh).
    pub fn clear(&self) {
        while self.video_rx.try_recv().is_ok() {}
    }
}

/// The feeds of one show, by name (`guest1` …), and the way back: the host's own mix (every
/// input but the guests', for the guests' mix-minus) and the program's pictures.
#[derive(Debug, Default)]
pub struct Feeds {
    by_name: Mutex<HashMap<String, Arc<Feed>>>,
    host_mix: Mutex<Option<Sink<AudioBlock>>>,
    program: Mutex<Option<Sink<crate::VideoFrame>>>,
    /// Someone watches the program (a guest is connected): until then no picture is copied
    /// or encoded for the way back.
    program_wanted: AtomicBool,
}

impl Feeds {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The feed called `name`, made on first use (producer and consumer may come in any order).
    pub fn get(&self, name: &str) -> Arc<Feed> {
        self.by_name
            .lock()
            .expect("feeds lock")
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Feed::new(name)))
            .clone()
    }

    /// Where the mixer sends the host's mix (48 kHz stereo, every input but the guests'),
    /// attached by the co-stream host before the show starts.
    pub fn attach_host_mix(&self, sink: Sink<AudioBlock>) {
        *self.host_mix.lock().expect("host mix lock") = Some(sink);
    }

    pub fn host_mix(&self) -> Option<Sink<AudioBlock>> {
        self.host_mix.lock().expect("host mix lock").clone()
    }

    /// Where the program's pictures go for the guests' return feed.
    pub fn attach_program(&self, sink: Sink<crate::VideoFrame>) {
        *self.program.lock().expect("program lock") = Some(sink);
    }

    pub fn program(&self) -> Option<Sink<crate::VideoFrame>> {
        self.program.lock().expect("program lock").clone()
    }

    pub fn set_program_wanted(&self, wanted: bool) {
        self.program_wanted.store(wanted, Ordering::Relaxed);
    }

    pub fn program_wanted(&self) -> bool {
        self.program_wanted.load(Ordering::Relaxed)
    }
}

/// A feed seen as a camera: open succeeds once a picture arrives (tried every 100 ms, so a
/// guest admitted or back is on air at once), a feed silent for [`STALL`] is lost.
pub struct FeedCamera {
    feed: Arc<Feed>,
    pool: FramePool,
    first: Option<FeedFrame>,
}

impl FeedCamera {
    pub fn new(feed: Arc<Feed>) -> Self {
        Self {
            feed,
            pool: FramePool::new(4),
            first: None,
        }
    }

    fn raw(&self, f: FeedFrame, clock: &SessionClock) -> Result<RawFrame, CaptureError> {
        let len = PixelFormat::I420.frame_len(f.width, f.height);
        if f.width == 0 || f.height == 0 || len != Some(f.i420.len()) {
            return Err(CaptureError::NotFound(format!(
                "{} sent a {}×{} picture of {} bytes",
                self.feed.name,
                f.width,
                f.height,
                f.i420.len()
            )));
        }
        Ok(RawFrame {
            width: f.width,
            height: f.height,
            format: PixelFormat::I420,
            data: self.pool.copy_of(&f.i420),
            captured: clock.since_start(f.arrived),
        })
    }
}

impl CameraDevice for FeedCamera {
    fn name(&self) -> String {
        self.feed.name.clone()
    }

    fn open(&mut self, _clock: &SessionClock) -> Result<CameraMode, CaptureError> {
        match self.feed.video_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(f) => {
                let mode = CameraMode {
                    width: f.width,
                    height: f.height,
                    fps: 30,
                    format: PixelFormat::I420,
                };
                self.first = Some(f);
                Ok(mode)
            }
            Err(_) => Err(CaptureError::NotFound(format!(
                "{} is not sending video",
                self.feed.name
            ))),
        }
    }

    fn next_frame(
        &mut self,
        clock: &SessionClock,
        stop: &AtomicBool,
    ) -> Result<RawFrame, CaptureError> {
        if let Some(f) = self.first.take() {
            return self.raw(f, clock);
        }
        let deadline = Instant::now() + STALL;
        // Wake every 100 ms to notice the session stopping.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .feed
                .video_rx
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(f) => return self.raw(f, clock),
                Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => {
                    return Err(CaptureError::NotFound("stopping".into()));
                }
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(_) => {
                    return Err(CaptureError::NotFound(format!(
                        "{} stopped sending video",
                        self.feed.name
                    )));
                }
            }
        }
    }

    fn close(&mut self) {
        self.first = None;
    }

    fn retry_every(&self) -> Duration {
        Duration::from_millis(100)
    }
}

/// Runs a feed's audio as an audio input: attaches to the feed, and places each block on the
/// session clock by its media time ([`Placement`]).
pub fn spawn_feed_audio(
    feed: Arc<Feed>,
    clock: SessionClock,
    sink: Sink<AudioBlock>,
) -> SourceHandle {
    let (tx, rx) = crossbeam_channel::bounded::<FeedAudio>(64);
    *feed.audio.lock().expect("feed audio lock") = Some(tx);
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(crate::camera::SourceStatus::default());
    let (stop2, status2) = (stop.clone(), status.clone());
    let name = feed.name.clone();
    let thread = std::thread::Builder::new()
        .name("feed-audio".into())
        .spawn(move || {
            status2.set(SourceState::Live);
            let mut placement = Placement::default();
            while !stop2.load(Ordering::Relaxed) {
                let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) else {
                    continue;
                };
                let arrived = clock.since_start(b.arrived);
                let at = placement.place(b.media_time, arrived);
                let block = AudioBlock {
                    rate: 48_000,
                    channels: 2,
                    samples: b.samples,
                    captured: at,
                };
                if !sink.send(block) {
                    break;
                }
            }
            *feed.audio.lock().expect("feed audio lock") = None;
        })
        .expect("spawning a feed audio thread");
    SourceHandle::new(name, status, stop, thread)
}

/// Beyond this between a block's arrival and where the quickest of the last seconds would
/// have put it, the media time is a new one (a guest who reconnects or unmutes): start again.
pub const REANCHOR: Duration = Duration::from_millis(250);
/// The quickest arrival is the least over this long (the sender's clock drifts from ours).
const QUICKEST_OVER_S: f64 = 10.0;

/// Where a feed's audio goes on the session clock: its media time plus the least (arrival −
/// media time) of the last seconds, i.e. where each block would be had it come the quickest
/// way. The network's jitter is left to the mixer's buffer. Anchoring on the first block
/// instead kept whatever delay it happened to have for the whole call: a guest's first
/// voice packets leave in a burst when the connection opens, and the voice sat ~100 ms late.
#[derive(Debug)]
pub struct Placement {
    quickest: SlidingMin,
    best: Option<f64>,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            quickest: SlidingMin::new(QUICKEST_OVER_S),
            best: None,
        }
    }
}

impl Placement {
    /// Session time for a block of media time `media` that arrived at `arrived`.
    pub fn place(&mut self, media: Duration, arrived: Duration) -> Duration {
        let (m, a) = (media.as_secs_f64(), arrived.as_secs_f64());
        if self
            .best
            .is_some_and(|b| (a - m - b).abs() > REANCHOR.as_secs_f64())
        {
            self.quickest = SlidingMin::new(QUICKEST_OVER_S);
        }
        let best = self.quickest.push(a, a - m);
        self.best = Some(best);
        Duration::from_micros(((m + best) * 1e6).round().max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32) -> FeedFrame {
        FeedFrame {
            width: w,
            height: h,
            i420: vec![16; PixelFormat::I420.frame_len(w, h).unwrap()],
            arrived: Instant::now(),
        }
    }

    #[test]
    fn a_slow_consumer_gets_the_newest_frames_and_the_drops_are_counted() {
        let feeds = Feeds::new();
        let feed = feeds.get("guest1");
        for w in [2, 4, 6, 8, 10] {
            feed.push_video(frame(w, 2));
        }
        assert_eq!(feed.counters().frames_dropped.load(Ordering::Relaxed), 2);
        let widths: Vec<u32> = feed.video_rx.try_iter().map(|f| f.width).collect();
        assert_eq!(widths, [6, 8, 10]);
    }

    #[test]
    fn a_feed_camera_opens_on_the_first_picture_and_is_lost_when_pictures_stop() {
        let clock = SessionClock::start();
        let feed = Feeds::new().get("guest1");
        let mut cam = FeedCamera::new(feed.clone());
        assert!(cam.open(&clock).is_err(), "nothing sent yet");
        feed.push_video(frame(4, 2));
        let mode = cam.open(&clock).unwrap();
        assert_eq!((mode.width, mode.height), (4, 2));
        let stop = AtomicBool::new(false);
        assert_eq!(cam.next_frame(&clock, &stop).unwrap().width, 4);
        let e = cam.next_frame(&clock, &stop).unwrap_err().to_string();
        assert!(e.contains("stopped sending"), "{e}");
    }

    #[test]
    fn a_picture_of_the_wrong_size_is_refused_not_passed_on() {
        let clock = SessionClock::start();
        let feed = Feeds::new().get("guest1");
        let mut cam = FeedCamera::new(feed.clone());
        feed.push_video(FeedFrame {
            i420: vec![0; 5],
            ..frame(4, 2)
        });
        cam.open(&clock).unwrap();
        assert!(cam.next_frame(&clock, &AtomicBool::new(false)).is_err());
    }

    #[test]
    fn audio_is_placed_by_media_time_at_its_quickest_arrival_without_the_network_jitter() {
        let ms = Duration::from_millis;
        let mut p = Placement::default();
        // The first block came 30 ms late (a burst as the connection opened): the next one,
        // quicker, sets the time.
        assert_eq!(p.place(ms(0), ms(1040)), ms(1040));
        assert_eq!(p.place(ms(20), ms(1030)), ms(1030));
        // Later ones arrive 20 ms late, then on time: placed on their media time.
        assert_eq!(p.place(ms(40), ms(1070)), ms(1050));
        assert_eq!(p.place(ms(60), ms(1070)), ms(1070));
        // A new media time far from the arrival (a reconnect): placed anew.
        assert_eq!(p.place(ms(0), ms(5000)), ms(5000));
        assert_eq!(p.place(ms(20), ms(5020)), ms(5020));
    }
}
