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

/// What a co-stream's guests see: the program, or one scene on its own (the host's camera),
/// at a lower rate than the show (every `every`-th tick), only while a guest takes it.
pub(crate) struct ReturnView {
    feeds: Arc<marquee_capture::feed::Feeds>,
    every: u64,
    /// The scene shown instead of the program (None: the program).
    scene: std::sync::Mutex<Option<String>>,
    /// That scene's picture for the tick being published, from the compositor.
    picture: std::sync::Mutex<Option<Arc<FrameBuf>>>,
}

impl ReturnView {
    pub(crate) fn new(feeds: Arc<marquee_capture::feed::Feeds>, fps: u32) -> Arc<Self> {
        Arc::new(Self {
            feeds,
            every: u64::from((fps / 15).max(1)),
            scene: std::sync::Mutex::new(None),
            picture: std::sync::Mutex::new(None),
        })
    }

    pub(crate) fn set_scene(&self, scene: Option<String>) {
        *self.scene.lock().expect("return view") = scene;
    }

    fn due(&self, tick: u64) -> bool {
        tick.is_multiple_of(self.every) && self.feeds.program_wanted()
    }

    /// The scene the compositor draws for the guests at `tick`, if any.
    pub(crate) fn scene_due(&self, tick: u64) -> Option<String> {
        if !self.due(tick) {
            return None;
        }
        self.scene.lock().expect("return view").clone()
    }

    /// The picture of [`ReturnView::scene_due`] for this tick.
    pub(crate) fn put(&self, picture: Arc<FrameBuf>) {
        *self.picture.lock().expect("return view") = Some(picture);
    }
}

/// The guests' return picture on its way to their encoder: a copy of the program (or of the
/// scene [`ReturnView`] chose) at the view's rate, dropped when the taker is behind.
pub(crate) struct ProgramTap {
    view: Arc<ReturnView>,
    sink: marquee_capture::Sink<marquee_capture::VideoFrame>,
    pool: marquee_capture::FramePool,
}

impl ProgramTap {
    pub(crate) fn new(
        view: Arc<ReturnView>,
        sink: marquee_capture::Sink<marquee_capture::VideoFrame>,
    ) -> Self {
        Self {
            view,
            sink,
            pool: marquee_capture::FramePool::new(3),
        }
    }
}

impl FrameTap for ProgramTap {
    fn offer(&self, f: &ComposedFrame) {
        let own = self.view.picture.lock().expect("return view").take();
        if !self.view.due(f.index.max(0) as u64) {
            return;
        }
        let data = own.as_deref().map_or(&f.data[..], |p| &p[..]);
        self.sink.send(marquee_capture::VideoFrame {
            width: f.width,
            height: f.height,
            format: marquee_capture::PixelFormat::I420,
            data: self.pool.copy_of(data),
            captured: f.at,
            seq: f.index as u64,
        });
    }
}
