//! Cameras: one trait, one thread loop. The synthetic camera and nokhwa's real ones go
//! through the same loop, so what tests prove about the synthetic one holds for both.

use crate::clock::SessionClock;
use crate::error::CaptureError;
use crate::frame::{PixelFormat, VideoFrame};
use crate::pattern;
use crate::pool::{FrameBuf, FramePool};
use crate::sink::Sink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A picture as a device hands it over.
#[derive(Debug)]
pub struct RawFrame {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub data: FrameBuf,
    /// Session time the picture was taken (the device's stamp if it has one).
    pub captured: Duration,
}

/// What a camera delivers once open.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CameraMode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub format: PixelFormat,
}

/// A camera as the capture loop sees it. Implementations block in `next_frame`.
pub trait CameraDevice {
    /// Human name for messages.
    fn name(&self) -> String;
    /// Open (or reopen after a loss). The error names what was tried.
    fn open(&mut self, clock: &SessionClock) -> Result<CameraMode, CaptureError>;
    /// The next picture; an error means the device is lost (the loop reopens it).
    /// `stop` is set when the session ends: a device that waits should watch it.
    fn next_frame(
        &mut self,
        clock: &SessionClock,
        stop: &AtomicBool,
    ) -> Result<RawFrame, CaptureError>;
    /// Release the device.
    fn close(&mut self);
    /// How often a lost device is tried again (a device opening is costly; a pushed feed is
    /// not, and a guest coming back should be on air at once).
    fn retry_every(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// Where a source stands, for the UI and the compositor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    Starting = 0,
    Live = 1,
    Lost = 2,
    Stopped = 3,
}

/// Shared view of a running source.
#[derive(Debug, Default)]
pub struct SourceStatus {
    state: AtomicU8,
}

impl SourceStatus {
    pub fn get(&self) -> SourceState {
        match self.state.load(Ordering::Relaxed) {
            1 => SourceState::Live,
            2 => SourceState::Lost,
            3 => SourceState::Stopped,
            _ => SourceState::Starting,
        }
    }
    pub fn set(&self, s: SourceState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }
}

/// A running source thread; stops and joins on drop.
pub struct SourceHandle {
    pub name: String,
    pub status: Arc<SourceStatus>,
    /// What a remote camera receives (bytes, latency), for the stats.
    pub received: Option<Arc<crate::remote_latency::RemoteMeter>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SourceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceHandle")
            .field("name", &self.name)
            .field("state", &self.status.get())
            .finish()
    }
}

impl SourceHandle {
    pub(crate) fn new(
        name: String,
        status: Arc<SourceStatus>,
        stop: Arc<AtomicBool>,
        thread: JoinHandle<()>,
    ) -> Self {
        Self {
            name,
            status,
            received: None,
            stop,
            thread: Some(thread),
        }
    }

    /// Ask the thread to stop and wait for it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.status.set(SourceState::Stopped);
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a camera on its own thread: open, then copy/stamp/send each frame; on loss, retry
/// opening once a second until it returns or the session stops. The device is built
/// inside the thread (`make`), because some backends' handles must stay on one thread.
/// Fails if the first open fails, naming the device and what was tried.
pub fn spawn_camera<F>(
    make: F,
    clock: SessionClock,
    sink: Sink<VideoFrame>,
) -> Result<(SourceHandle, CameraMode), CaptureError>
where
    F: FnOnce() -> Result<Box<dyn CameraDevice>, CaptureError> + Send + 'static,
{
    let (handle, mode) = spawn(make, clock, sink, false)?;
    Ok((handle, mode.expect("a strict open reports its mode")))
}

/// Like [`spawn_camera`], but a camera that cannot open now (unplugged, in use by another
/// app) does not fail: it starts lost and is tried once a second, like a camera lost while
/// live. For the extra cameras of a multi-camera show: one missing camera must not keep the
/// others off the air. Fails only if the device cannot even be made.
pub fn spawn_camera_retrying<F>(
    make: F,
    clock: SessionClock,
    sink: Sink<VideoFrame>,
) -> Result<SourceHandle, CaptureError>
where
    F: FnOnce() -> Result<Box<dyn CameraDevice>, CaptureError> + Send + 'static,
{
    Ok(spawn(make, clock, sink, true)?.0)
}

/// The camera thread. `lenient`: a failed first open is reported as lost (mode `None`) and
/// retried instead of failing the spawn.
fn spawn<F>(
    make: F,
    clock: SessionClock,
    sink: Sink<VideoFrame>,
    lenient: bool,
) -> Result<(SourceHandle, Option<CameraMode>), CaptureError>
where
    F: FnOnce() -> Result<Box<dyn CameraDevice>, CaptureError> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(SourceStatus::default());
    let (first_tx, first_rx) = crossbeam_channel::bounded(1);
    let (stop2, status2) = (stop.clone(), status.clone());
    let thread = std::thread::Builder::new()
        .name("camera".into())
        .spawn(move || {
            let mut dev = match make() {
                Ok(d) => d,
                Err(e) => {
                    let _ = first_tx.send(Err(e));
                    return;
                }
            };
            match dev.open(&clock) {
                Ok(mode) => {
                    let _ = first_tx.send(Ok((dev.name(), Some(mode))));
                }
                Err(e) if lenient => {
                    tracing::warn!("{e}; it will be tried every second");
                    let _ = first_tx.send(Ok((dev.name(), None)));
                    if !reopen(dev.as_mut(), &clock, &stop2, &status2) {
                        return;
                    }
                }
                Err(e) => {
                    let _ = first_tx.send(Err(e));
                    return;
                }
            }
            camera_loop(dev.as_mut(), &clock, &sink, &stop2, &status2);
            dev.close();
        })
        .map_err(|e| CaptureError::NotFound(format!("could not start camera thread: {e}")))?;
    match first_rx.recv() {
        Ok(Ok((name, mode))) => Ok((SourceHandle::new(name, status, stop, thread), mode)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(CaptureError::NotFound(
                "camera thread ended before opening".into(),
            ))
        }
    }
}

fn camera_loop(
    dev: &mut dyn CameraDevice,
    clock: &SessionClock,
    sink: &Sink<VideoFrame>,
    stop: &AtomicBool,
    status: &SourceStatus,
) {
    let mut seq = 0u64;
    status.set(SourceState::Live);
    while !stop.load(Ordering::Relaxed) {
        match dev.next_frame(clock, stop) {
            Ok(raw) => {
                let frame = VideoFrame {
                    width: raw.width,
                    height: raw.height,
                    format: raw.format,
                    data: raw.data,
                    captured: raw.captured,
                    seq,
                };
                seq += 1;
                if !sink.send(frame) {
                    break;
                }
            }
            // A device that returns because the session is stopping is not lost.
            Err(_) if stop.load(Ordering::Relaxed) => break,
            Err(e) => {
                tracing::warn!("{e}; retrying every second");
                dev.close();
                if !reopen(dev, clock, stop, status) {
                    return;
                }
            }
        }
    }
}

/// Marks the camera lost and tries to open it once a second until it opens (`true`, status
/// live again) or the session stops (`false`).
fn reopen(
    dev: &mut dyn CameraDevice,
    clock: &SessionClock,
    stop: &AtomicBool,
    status: &SourceStatus,
) -> bool {
    status.set(SourceState::Lost);
    loop {
        let again = clock.now() + dev.retry_every();
        if !clock.sleep_until(again, stop) {
            return false;
        }
        if dev.open(clock).is_ok() {
            tracing::info!("{} is back", dev.name());
            status.set(SourceState::Live);
            return true;
        }
    }
}

/// How a synthetic camera misbehaves, for tests of camera loss.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Stop delivering (as if unplugged) at this session time...
    pub stall_at: Option<Duration>,
    /// ...for this long, then come back.
    pub stall_for: Duration,
}

/// The synthetic camera: renders [`pattern`] frames on the session clock at a fixed rate.
/// Frames are stamped with their nominal time (like a camera with hardware timestamps)
/// and made a little ahead of it, so output frame N shows source frame N.
#[derive(Debug)]
pub struct TestPatternCamera {
    width: u32,
    height: u32,
    fps: u32,
    next: u64,
    faults: Faults,
    card: u32,
    pool: FramePool,
}

impl TestPatternCamera {
    /// Frame codes of card N count from N × this.
    pub const CARD_STRIDE: u64 = 1_000_000;

    /// How far ahead of its stamp a frame is made.
    const LEAD: Duration = Duration::from_millis(40);

    pub fn new(width: u32, height: u32, fps: u32, faults: Faults) -> Self {
        Self {
            width: width & !1,
            height: height & !1,
            fps: fps.max(1),
            next: 0,
            faults,
            card: 0,
            pool: FramePool::new(crate::pool::SOURCE_KEEP),
        }
    }

    /// Makes this camera card `n` (see `VideoSpec::TestCard`).
    pub fn card(mut self, n: u32) -> Self {
        self.card = n;
        self
    }

    fn nominal(&self, index: u64) -> Duration {
        Duration::from_nanos(index * 1_000_000_000 / self.fps as u64)
    }
}

impl CameraDevice for TestPatternCamera {
    fn name(&self) -> String {
        format!("test pattern {}x{}@{}", self.width, self.height, self.fps)
    }

    fn open(&mut self, clock: &SessionClock) -> Result<CameraMode, CaptureError> {
        // Resume at the frame due now, like a real camera that was away.
        let now = clock.now();
        let due = (now.as_nanos() * self.fps as u128 / 1_000_000_000) as u64;
        self.next = self.next.max(due);
        Ok(CameraMode {
            width: self.width,
            height: self.height,
            fps: self.fps,
            format: PixelFormat::I420,
        })
    }

    fn next_frame(
        &mut self,
        clock: &SessionClock,
        stop: &AtomicBool,
    ) -> Result<RawFrame, CaptureError> {
        let at = self.nominal(self.next);
        if let Some(stall) = self.faults.stall_at
            && at >= stall
            && at < stall + self.faults.stall_for
        {
            {
                // Block like a dead device would, then report it lost.
                clock.sleep_until(at.saturating_sub(Self::LEAD), stop);
                self.next += 1;
                return Err(CaptureError::Lost {
                    device: self.name(),
                    reason: "simulated unplug".into(),
                });
            }
        }
        clock.sleep_until(at.saturating_sub(Self::LEAD), stop);
        let len = PixelFormat::I420.frame_len(self.width, self.height);
        let mut data = self.pool.take(len.unwrap_or(0));
        pattern::render_i420(
            &mut data,
            self.width,
            self.height,
            self.card as u64 * Self::CARD_STRIDE + self.next,
            at.as_millis() as u64,
        );
        if self.card > 0 {
            tint_bottom(&mut data, self.width, self.height, self.card);
        }
        self.next += 1;
        Ok(RawFrame {
            width: self.width,
            height: self.height,
            format: PixelFormat::I420,
            data,
            captured: at,
        })
    }

    fn close(&mut self) {}
}

/// Colours the bottom quarter of a test card (chroma only), one hue per card number.
fn tint_bottom(i420: &mut [u8], width: u32, height: u32, card: u32) {
    const HUES: [(u8, u8); 6] = [
        (90, 240),
        (54, 34),
        (240, 110),
        (200, 30),
        (30, 150),
        (160, 200),
    ];
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w / 2, h / 2);
    let (u, v) = HUES[(card as usize - 1) % HUES.len()];
    let rows = ch * 3 / 4..ch;
    let (up, vp) = i420[w * h..].split_at_mut(cw * ch);
    for y in rows {
        up[y * cw..(y + 1) * cw].fill(u);
        vp[y * cw..(y + 1) * cw].fill(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_camera_frames_carry_consecutive_codes_and_nominal_stamps() {
        let clock = SessionClock::start();
        let (sink, rx) = crate::sink::bounded(8);
        let (handle, mode) = spawn_camera(
            || Ok(Box::new(TestPatternCamera::new(320, 180, 50, Faults::default())) as _),
            clock,
            sink,
        )
        .unwrap();
        assert_eq!(mode.format, PixelFormat::I420);
        let frames: Vec<_> = rx.iter().take(5).collect();
        drop(handle);
        for (i, f) in frames.iter().enumerate() {
            let code = pattern::read_code(&f.data, 320, 320, 180).unwrap();
            assert_eq!(code.index, frames[0].seq + i as u64);
            assert_eq!(f.captured, Duration::from_millis(20 * code.index));
        }
    }

    /// A camera that is busy (another app has it) for its first `busy` opens.
    struct Busy {
        inner: TestPatternCamera,
        busy: u32,
    }

    impl CameraDevice for Busy {
        fn name(&self) -> String {
            "busy cam".into()
        }
        fn open(&mut self, clock: &SessionClock) -> Result<CameraMode, CaptureError> {
            if self.busy > 0 {
                self.busy -= 1;
                return Err(CaptureError::NotFound(
                    "busy cam is in use by another app".into(),
                ));
            }
            self.inner.open(clock)
        }
        fn next_frame(
            &mut self,
            c: &SessionClock,
            s: &AtomicBool,
        ) -> Result<RawFrame, CaptureError> {
            self.inner.next_frame(c, s)
        }
        fn close(&mut self) {
            self.inner.close()
        }
    }

    #[test]
    fn a_camera_busy_at_start_fails_plainly_but_starts_lost_and_recovers_when_retrying() {
        let busy = || Busy {
            inner: TestPatternCamera::new(64, 64, 50, Faults::default()),
            busy: 1,
        };
        let (sink, _rx) = crate::sink::bounded(8);
        let Err(e) = spawn_camera(
            move || Ok(Box::new(busy()) as _),
            SessionClock::start(),
            sink,
        ) else {
            panic!("a plain spawn fails");
        };
        assert!(e.to_string().contains("in use by another app"), "{e}");

        let (sink, rx) = crate::sink::bounded(8);
        let handle = spawn_camera_retrying(
            move || Ok(Box::new(busy()) as _),
            SessionClock::start(),
            sink,
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while handle.status.get() != SourceState::Lost {
            assert!(std::time::Instant::now() < deadline, "never reported lost");
            std::thread::sleep(Duration::from_millis(5));
        }
        let f = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("frames once it opens");
        assert!(f.captured >= Duration::from_millis(900), "{:?}", f.captured);
        assert_eq!(handle.status.get(), SourceState::Live);
    }

    #[test]
    fn a_lost_camera_is_reported_and_comes_back_by_itself() {
        let clock = SessionClock::start();
        let (sink, rx) = crate::sink::bounded(64);
        let faults = Faults {
            stall_at: Some(Duration::from_millis(100)),
            stall_for: Duration::from_millis(200),
        };
        let (handle, _) = spawn_camera(
            move || Ok(Box::new(TestPatternCamera::new(64 * 4, 64, 50, faults)) as _),
            clock,
            sink,
        )
        .unwrap();
        // Frames arrive until the stall...
        let before: Vec<_> = rx
            .iter()
            .take_while(|f| f.captured < Duration::from_millis(80))
            .collect();
        assert!(!before.is_empty());
        // ...then the loop reports the camera lost...
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while handle.status.get() != SourceState::Lost {
            assert!(std::time::Instant::now() < deadline, "never reported lost");
            std::thread::sleep(Duration::from_millis(5));
        }
        // ...and reopens it by itself: frames resume after the stall window.
        let resumed = rx
            .iter()
            .find(|f| f.captured >= Duration::from_millis(100))
            .unwrap();
        assert!(resumed.captured >= Duration::from_millis(300));
        assert_eq!(handle.status.get(), SourceState::Live);
        drop(handle);
    }
}
