//! Composed pictures as they leave the compositor, for anything that watches the output
//! (the app's preview, a thumbnailer). Taps get a shared reference, never a copy, and must
//! not block: a slow tap drops its own frames, the encoder never waits.

use marquee_capture::FrameBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// One output picture: I420, tightly packed (Y, then U and V at half size).
#[derive(Debug, Clone)]
pub struct ComposedFrame {
    pub data: Arc<FrameBuf>,
    pub width: u32,
    pub height: u32,
    /// Output frame number (the video PTS).
    pub index: i64,
    /// Session time of the tick that made it.
    pub at: Duration,
}

/// A composed picture on its way to the video encoder.
pub(crate) struct CanvasFrame {
    pub data: Arc<FrameBuf>,
    /// Output frame number (the video PTS).
    pub index: i64,
    /// Capture time of the newest source frame in it, for capture-to-socket latency.
    pub captured: Duration,
}

/// A consumer of composed pictures.
pub trait FrameTap: Send + Sync {
    /// Takes a frame without blocking (copy what you need or drop it).
    fn offer(&self, f: &ComposedFrame);
}

/// Hands every composed picture to every tap; taps can come and go while live.
#[derive(Default)]
pub struct FrameBus {
    taps: RwLock<Vec<Arc<dyn FrameTap>>>,
}

impl FrameBus {
    pub fn add(&self, t: Arc<dyn FrameTap>) {
        self.taps.write().expect("tap lock").push(t);
    }

    /// Removes a tap added earlier (compared by pointer).
    pub fn remove(&self, t: &Arc<dyn FrameTap>) {
        self.taps
            .write()
            .expect("tap lock")
            .retain(|x| !Arc::ptr_eq(x, t));
    }

    pub fn publish(&self, f: &ComposedFrame) {
        for t in self.taps.read().expect("tap lock").iter() {
            t.offer(f);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.taps.read().expect("tap lock").is_empty()
    }
}

/// The program's pictures for a co-stream's return feed: a copy of every `every`-th picture
/// (the guests see the show at a lower rate), dropped when the taker is behind.
pub(crate) struct ProgramTap {
    feeds: Arc<marquee_capture::feed::Feeds>,
    sink: marquee_capture::Sink<marquee_capture::VideoFrame>,
    pool: marquee_capture::FramePool,
    every: i64,
}

impl ProgramTap {
    pub(crate) fn new(
        feeds: Arc<marquee_capture::feed::Feeds>,
        sink: marquee_capture::Sink<marquee_capture::VideoFrame>,
        fps: u32,
    ) -> Self {
        Self {
            feeds,
            sink,
            pool: marquee_capture::FramePool::new(3),
            every: i64::from((fps / 15).max(1)),
        }
    }
}

impl FrameTap for ProgramTap {
    fn offer(&self, f: &ComposedFrame) {
        if f.index % self.every != 0 || !self.feeds.program_wanted() {
            return;
        }
        self.sink.send(marquee_capture::VideoFrame {
            width: f.width,
            height: f.height,
            format: marquee_capture::PixelFormat::I420,
            data: self.pool.copy_of(&f.data),
            captured: f.at,
            seq: f.index as u64,
        });
    }
}
