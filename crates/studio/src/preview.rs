//! The preview of what goes out, small and cheap: a [`FrameTap`] that keeps only the newest
//! composed picture (one slot; older ones are counted as dropped), and a worker thread that
//! downsizes it (640×360 by default, aspect kept) and encodes a JPEG at a capped rate.
//!
//! The compositor never waits for the preview: [`PreviewTap::offer`] swaps an `Arc` under a
//! mutex held for a pointer copy. The worker takes the newest picture when it is due, so a
//! slow consumer lowers the preview's frame rate, never adds delay.
//!
//! Before going live (first run, picking a camera) there is no session and no encoder: a
//! [`CapturePreview`] runs only the source and a letterbox into the preview size, and offers
//! those pictures to the same tap. That costs a camera and a JPEG encode, not an H.264
//! encoder running for nobody.
//!
//! ```no_run
//! # use marquee_studio::preview::*;
//! # use std::sync::Arc;
//! let clock = marquee_capture::SessionClock::start();
//! let c2 = clock.clone();
//! let preview = Preview::start(PreviewConfig::default(), Arc::new(move || c2.now()), |f| {
//!     println!("{} bytes, {} ms old", f.jpeg.len(), f.age.as_millis());
//! })?;
//! let camera = CapturePreview::start(&"test".parse()?, clock, preview.tap(), 640, 360, 30)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::compose::{Canvas, Letterbox};
use crate::error::StudioError;
use crate::frames::{ComposedFrame, FrameTap};
use crate::packet::Track;
use ffmpeg_next as ff;
use marquee_capture::camera::Faults;
use marquee_capture::{AudioBlock, AudioSpec, SessionClock, SourceHandle, VideoFrame, VideoSpec};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Size, rate and quality of the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewConfig {
    /// Output size (even numbers); pictures are scaled to fit, aspect kept.
    pub width: u32,
    pub height: u32,
    /// At most this many JPEGs a second.
    pub max_fps: u32,
    /// JPEG quantiser, 2 (best, biggest) to 31 (worst, smallest).
    pub quality: u32,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            max_fps: 30,
            quality: 5,
        }
    }
}

/// One encoded preview picture.
#[derive(Debug, Clone)]
pub struct PreviewFrame {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The output frame number it shows.
    pub index: i64,
    /// Session time of the tick that made the picture.
    pub at: Duration,
    /// How old the picture was when its JPEG was ready (session clock now − `at`).
    pub age: Duration,
    /// Time spent scaling and encoding it.
    pub encode: Duration,
}

/// Counters, readable while running.
#[derive(Debug, Default)]
pub struct PreviewCounters {
    /// Pictures the tap was offered.
    pub offered: AtomicU64,
    /// Pictures replaced in the slot before the worker took them (rate cap or a slow encode).
    pub dropped: AtomicU64,
    /// JPEGs handed on.
    pub encoded: AtomicU64,
    /// Pictures that failed to scale or encode.
    pub failed: AtomicU64,
}

/// A snapshot of [`PreviewCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PreviewStats {
    pub offered: u64,
    pub dropped: u64,
    pub encoded: u64,
    pub failed: u64,
}

/// The one-slot tap the compositor (or a [`CapturePreview`]) offers pictures to.
pub struct PreviewTap {
    slot: Mutex<Option<ComposedFrame>>,
    cv: Condvar,
    stop: AtomicBool,
    counters: PreviewCounters,
}

impl FrameTap for PreviewTap {
    fn offer(&self, f: &ComposedFrame) {
        self.counters.offered.fetch_add(1, Ordering::Relaxed);
        // A poisoned lock means the worker panicked: drop the picture rather than block.
        let Ok(mut slot) = self.slot.lock() else {
            return;
        };
        if slot.replace(f.clone()).is_some() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(slot);
        self.cv.notify_one();
    }
}

impl PreviewTap {
    fn new() -> Self {
        Self {
            slot: Mutex::new(None),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
            counters: PreviewCounters::default(),
        }
    }

    /// Waits until `due`, then for a picture; None when stopping.
    fn take(&self, due: Instant) -> Option<ComposedFrame> {
        let mut slot = self.slot.lock().ok()?;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            let now = Instant::now();
            if now < due {
                slot = self.cv.wait_timeout(slot, due - now).ok()?.0;
                continue;
            }
            if let Some(f) = slot.take() {
                return Some(f);
            }
            slot = self
                .cv
                .wait_timeout(slot, Duration::from_millis(200))
                .ok()?
                .0;
        }
    }

    pub fn stats(&self) -> PreviewStats {
        let c = &self.counters;
        PreviewStats {
            offered: c.offered.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            encoded: c.encoded.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

/// A running preview: its tap and its worker thread. Dropping it stops the worker.
pub struct Preview {
    tap: Arc<PreviewTap>,
    thread: Option<JoinHandle<()>>,
}

/// Session time now, for the pictures' age.
pub type Now = Arc<dyn Fn() -> Duration + Send + Sync>;

impl Preview {
    /// Starts the worker. `on_frame` runs on it for every JPEG (keep it short: hand the bytes
    /// on). Fails when the size is odd or the JPEG encoder is missing from FFmpeg.
    pub fn start(
        cfg: PreviewConfig,
        now: Now,
        on_frame: impl FnMut(PreviewFrame) + Send + 'static,
    ) -> Result<Preview, StudioError> {
        crate::util::init();
        if cfg.width < 16 || cfg.height < 16 || cfg.width % 2 == 1 || cfg.height % 2 == 1 {
            return Err(StudioError::Settings(format!(
                "preview size {}x{} must be even and at least 16x16",
                cfg.width, cfg.height
            )));
        }
        // Fail here, not on the worker, when the encoder cannot open.
        drop(JpegEncoder::open(cfg.width, cfg.height, cfg.quality)?);
        let tap = Arc::new(PreviewTap::new());
        let t = tap.clone();
        let thread = std::thread::Builder::new()
            .name("preview".into())
            .spawn(move || worker(cfg, &t, now, on_frame))
            .map_err(|e| StudioError::Output(format!("cannot start the preview thread: {e}")))?;
        Ok(Preview {
            tap,
            thread: Some(thread),
        })
    }

    /// The tap to attach (`Session::add_frame_tap`, or [`CapturePreview::start`]).
    pub fn tap(&self) -> Arc<dyn FrameTap> {
        self.tap.clone()
    }

    pub fn stats(&self) -> PreviewStats {
        self.tap.stats()
    }

    /// Stops the worker and waits for it.
    pub fn stop(&mut self) {
        self.tap.stop.store(true, Ordering::Relaxed);
        self.tap.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        self.stop();
    }
}

fn worker(cfg: PreviewConfig, tap: &PreviewTap, now: Now, mut on_frame: impl FnMut(PreviewFrame)) {
    let Ok(mut enc) = JpegEncoder::open(cfg.width, cfg.height, cfg.quality) else {
        return;
    };
    let interval = Duration::from_secs_f64(1.0 / f64::from(cfg.max_fps.max(1)));
    let mut due = Instant::now();
    while let Some(f) = tap.take(due) {
        let started = Instant::now();
        // Next one an interval after this one was due, but never in the past (no bursts).
        due = (due + interval).max(started);
        match enc.encode(&f) {
            Ok(jpeg) => {
                tap.counters.encoded.fetch_add(1, Ordering::Relaxed);
                on_frame(PreviewFrame {
                    jpeg,
                    width: cfg.width,
                    height: cfg.height,
                    index: f.index,
                    at: f.at,
                    age: now().saturating_sub(f.at),
                    encode: started.elapsed(),
                });
            }
            Err(e) => {
                tap.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("preview frame {}: {e}", f.index);
            }
        }
    }
}

/// I420 (limited range) of any size → full-range 4:2:0 at the preview size → JPEG.
struct JpegEncoder {
    enc: ff::encoder::Video,
    frame: ff::frame::Video,
    scaler: Option<((u32, u32), ff::software::scaling::Context)>,
    src: Option<ff::frame::Video>,
    width: u32,
    height: u32,
    pts: i64,
}

impl JpegEncoder {
    fn open(width: u32, height: u32, quality: u32) -> Result<Self, StudioError> {
        let fail = |reason: String| StudioError::Encoder {
            name: "mjpeg".into(),
            reason,
        };
        let codec = ff::encoder::find(ff::codec::Id::MJPEG)
            .ok_or_else(|| fail("not in this FFmpeg build".into()))?;
        let mut enc = ff::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| fail(e.to_string()))?;
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(ff::format::Pixel::YUVJ420P);
        enc.set_time_base((1, 30));
        enc.set_flags(ff::codec::Flags::QSCALE);
        let q = quality.clamp(2, 31) as i32;
        enc.set_global_quality(q * ff::ffi::FF_QP2LAMBDA);
        enc.set_qmin(q);
        enc.set_qmax(q);
        let enc = enc.open().map_err(|e| fail(e.to_string()))?;
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUVJ420P, width, height);
        // SAFETY: a plain field of the frame we own (with QSCALE, the encoder reads it).
        unsafe {
            (*frame.as_mut_ptr()).quality = q * ff::ffi::FF_QP2LAMBDA;
        }
        Ok(Self {
            enc,
            frame,
            scaler: None,
            src: None,
            width,
            height,
            pts: 0,
        })
    }

    fn encode(&mut self, f: &ComposedFrame) -> Result<Vec<u8>, String> {
        self.encode_i420(&f.data, f.width, f.height)
    }

    fn encode_i420(&mut self, data: &[u8], sw: u32, sh: u32) -> Result<Vec<u8>, String> {
        let need = sw as usize * sh as usize * 3 / 2;
        if data.len() < need || sw < 2 || sh < 2 {
            return Err(format!("short I420 picture ({} bytes)", data.len()));
        }
        if self.scaler.as_ref().map(|(k, _)| *k) != Some((sw, sh)) {
            let ctx = ff::software::scaling::Context::get(
                ff::format::Pixel::YUV420P,
                sw,
                sh,
                ff::format::Pixel::YUVJ420P,
                self.width,
                self.height,
                ff::software::scaling::Flags::BILINEAR,
            )
            .map_err(|e| e.to_string())?;
            self.scaler = Some(((sw, sh), ctx));
            self.src = Some(ff::frame::Video::new(ff::format::Pixel::YUV420P, sw, sh));
            // Limited-range input, full-range output (what JPEG decoders assume).
            // SAFETY: the context is valid; the tables come from FFmpeg itself.
            unsafe {
                let sws = self.scaler.as_mut().map(|(_, c)| c.as_mut_ptr());
                if let Some(sws) = sws {
                    let coefs = ff::ffi::sws_getCoefficients(ff::ffi::SWS_CS_ITU601);
                    ff::ffi::sws_setColorspaceDetails(sws, coefs, 0, coefs, 1, 0, 1 << 16, 1 << 16);
                }
            }
        }
        let (Some((_, scaler)), Some(src)) = (self.scaler.as_mut(), self.src.as_mut()) else {
            return Err("no scaler".into());
        };
        crate::encode::copy_i420_into(src, &data[..need]);
        // SAFETY: the encoder may still hold the previous buffer; make ours private.
        unsafe {
            ff::ffi::av_frame_make_writable(self.frame.as_mut_ptr());
        }
        scaler
            .run(src, &mut self.frame)
            .map_err(|e| e.to_string())?;
        self.frame.set_pts(Some(self.pts));
        self.pts += 1;
        self.enc
            .send_frame(&self.frame)
            .map_err(|e| e.to_string())?;
        crate::encode::drain(&mut self.enc, Track::Video)
            .next()
            .map(|p| p.data.to_vec())
            .ok_or_else(|| "the JPEG encoder gave no picture".into())
    }
}

/// One picture (tightly packed I420, `width`×`height`) as a JPEG `out_width` wide, its aspect
/// kept: a thumbnail (a co-stream guest in the green room), made now, without a preview worker.
pub fn jpeg_thumbnail(
    i420: &[u8],
    width: u32,
    height: u32,
    out_width: u32,
) -> Result<Vec<u8>, StudioError> {
    let out_w = (out_width.max(2) & !1).min(width.max(2) & !1);
    let out_h = ((out_w as u64 * height as u64 / width.max(1) as u64) as u32 & !1).max(2);
    let mut enc = JpegEncoder::open(out_w, out_h, 5)?;
    enc.encode_i420(i420, width, height)
        .map_err(|reason| StudioError::Encoder {
            name: "mjpeg".into(),
            reason,
        })
}

/// A source running only for the preview (no session, no encoder, no outputs): camera →
/// letterbox at the preview size → the tap. Dropping it closes the source.
pub struct CapturePreview(SourceWorker);

/// A source and the thread reading it; stopping closes the source first (so a session can
/// open the device), then joins the thread.
struct SourceWorker {
    source: Option<SourceHandle>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SourceWorker {
    fn stop(&mut self) {
        if let Some(mut s) = self.source.take() {
            s.stop();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SourceWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl CapturePreview {
    /// Opens `spec` (the synthetic camera, a camera, or a file) at `width`×`height`@`fps`
    /// on `clock` and offers each picture, letterboxed, to `tap`. Fails like a session would
    /// when the camera cannot open (so the first-run picker can say so).
    pub fn start(
        spec: &VideoSpec,
        clock: SessionClock,
        tap: Arc<dyn FrameTap>,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<CapturePreview, StudioError> {
        crate::util::init();
        let (sink, rx) = marquee_capture::bounded::<VideoFrame>(2);
        let (w, h, fps) = (width, height, fps.clamp(1, 60));
        let source =
            crate::sources::spawn_video(spec, None, Faults::default(), &clock, sink, w, h, fps)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("capture-preview".into())
            .spawn(move || {
                let mut letterbox = Letterbox::new();
                let mut canvas = Canvas::black(w, h);
                let mut index = 0i64;
                let pool = marquee_capture::FramePool::new(2);
                while !stop2.load(Ordering::Relaxed) {
                    let Ok(f) = rx.recv_timeout(Duration::from_millis(200)) else {
                        continue;
                    };
                    if letterbox.draw(&f, &mut canvas).is_err() {
                        continue;
                    }
                    tap.offer(&ComposedFrame {
                        data: Arc::new(pool.copy_of(&canvas.data)),
                        width: w,
                        height: h,
                        index,
                        at: f.captured,
                    });
                    index += 1;
                }
            })
            .map_err(|e| StudioError::Output(format!("cannot start the preview thread: {e}")))?;
        Ok(CapturePreview(SourceWorker {
            source: Some(source),
            stop,
            thread: Some(thread),
        }))
    }

    /// Closes the source (so a session can open it) and stops the thread.
    pub fn stop(&mut self) {
        self.0.stop();
    }
}

/// A microphone (or the test tone) running only for its level meter, before going live:
/// peak and RMS in dBFS over each `window`, handed to `on_level` on its own thread.
pub struct LevelPreview(SourceWorker);

impl LevelPreview {
    pub fn start(
        spec: &AudioSpec,
        window: Duration,
        mut on_level: impl FnMut(f32, f32) + Send + 'static,
    ) -> Result<LevelPreview, StudioError> {
        let clock = SessionClock::start();
        let (sink, rx) = marquee_capture::bounded::<AudioBlock>(64);
        if *spec == AudioSpec::None {
            return Err(StudioError::Settings("no audio input to measure".into()));
        }
        let source = crate::sources::spawn_audio(spec, None, &clock, sink)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("level-preview".into())
            .spawn(move || {
                let (mut peak, mut sum, mut n) = (0f32, 0f64, 0usize);
                let mut next = Instant::now() + window;
                while !stop2.load(Ordering::Relaxed) {
                    if let Ok(b) = rx.recv_timeout(Duration::from_millis(50)) {
                        for &x in &b.samples {
                            peak = peak.max(x.abs());
                            sum += f64::from(x) * f64::from(x);
                        }
                        n += b.samples.len();
                    }
                    if Instant::now() >= next {
                        next += window;
                        let rms = if n == 0 {
                            0.0
                        } else {
                            (sum / n as f64).sqrt() as f32
                        };
                        on_level(crate::mixer::dbfs(peak), crate::mixer::dbfs(rms));
                        (peak, sum, n) = (0.0, 0.0, 0);
                    }
                }
            })
            .map_err(|e| StudioError::Output(format!("cannot start the level thread: {e}")))?;
        Ok(LevelPreview(SourceWorker {
            source: Some(source),
            stop,
            thread: Some(thread),
        }))
    }

    pub fn stop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, index: i64, luma: u8) -> ComposedFrame {
        let mut data = vec![128u8; (w * h * 3 / 2) as usize];
        data[..(w * h) as usize].fill(luma);
        ComposedFrame {
            data: Arc::new(data.into()),
            width: w,
            height: h,
            index,
            at: Duration::from_millis(index as u64 * 33),
        }
    }

    fn zero() -> Now {
        Arc::new(Duration::default)
    }

    #[test]
    fn the_slot_keeps_only_the_newest_picture_and_counts_the_rest() {
        let tap = PreviewTap::new();
        for i in 0..5 {
            tap.offer(&picture(32, 16, i, 100));
        }
        let got = tap.take(Instant::now()).unwrap();
        assert_eq!(got.index, 4);
        let s = tap.stats();
        assert_eq!((s.offered, s.dropped), (5, 4));
    }

    #[test]
    fn a_720p_picture_becomes_a_640x360_jpeg() {
        let mut enc = JpegEncoder::open(640, 360, 5).unwrap();
        let jpeg = enc.encode(&picture(1280, 720, 0, 200)).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "starts like a JPEG");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "ends like a JPEG");
        // SOF0 carries the size: height then width, big endian.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let h = u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]);
        let w = u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]);
        assert_eq!((w, h), (640, 360));
    }

    #[test]
    fn a_thumbnail_keeps_the_pictures_aspect_and_refuses_a_short_buffer() {
        let p = picture(640, 480, 0, 120);
        let jpeg = jpeg_thumbnail(&p.data, 640, 480, 240).unwrap();
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let h = u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]);
        let w = u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]);
        assert_eq!((w, h), (240, 180));
        assert!(jpeg_thumbnail(&p.data[..100], 640, 480, 240).is_err());
    }

    #[test]
    fn the_worker_caps_the_rate_and_hands_on_the_newest() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let cfg = PreviewConfig {
            max_fps: 10,
            ..PreviewConfig::default()
        };
        let mut p = Preview::start(cfg, zero(), move |f| g.lock().unwrap().push(f.index)).unwrap();
        let tap = p.tap();
        let t0 = Instant::now();
        let mut i = 0;
        while t0.elapsed() < Duration::from_millis(1000) {
            tap.offer(&picture(320, 180, i, 80));
            i += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        p.stop();
        let got = got.lock().unwrap().clone();
        assert!(
            (5..=12).contains(&got.len()),
            "about 10 pictures in a second at max 10 fps, got {}",
            got.len()
        );
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
        let s = p.stats();
        assert_eq!(s.offered, i as u64);
        assert!(s.dropped > s.encoded, "{s:?}");
    }

    #[test]
    fn the_capture_preview_shows_the_test_camera_without_a_session() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let clock = SessionClock::start();
        let c = clock.clone();
        let p = Preview::start(
            PreviewConfig::default(),
            Arc::new(move || c.now()),
            move |f| g.lock().unwrap().push(f),
        )
        .unwrap();
        let mut cap =
            CapturePreview::start(&VideoSpec::Test, clock, p.tap(), 640, 360, 30).unwrap();
        let t0 = Instant::now();
        while got.lock().unwrap().len() < 5 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        cap.stop();
        let got = got.lock().unwrap();
        assert!(got.len() >= 5, "only {} preview frames", got.len());
        assert!(got.iter().all(|f| f.jpeg.starts_with(&[0xFF, 0xD8])));
        assert!(
            got.iter().all(|f| f.age < Duration::from_millis(500)),
            "ages: {:?}",
            got.iter().map(|f| f.age).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_level_preview_measures_the_test_tone() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let mut lp = LevelPreview::start(
            &AudioSpec::Tone(440.0),
            Duration::from_millis(100),
            move |p, r| g.lock().unwrap().push((p, r)),
        )
        .unwrap();
        let t0 = Instant::now();
        while got.lock().unwrap().len() < 4 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        lp.stop();
        let got = got.lock().unwrap();
        let (p, r) = *got.last().unwrap();
        assert!(p > -30.0 && p <= 0.5 && r < p, "peak {p} dB, rms {r} dB");
    }
}
