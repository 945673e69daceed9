//! The guest's camera and microphone through `marquee_capture` (each on its own thread into a
//! bounded queue), and the conversions to what the encoders take: I420 at the send size, and
//! 48 kHz stereo in 20 ms blocks.

use super::types::GuestError;
use crate::media::{OPUS_FRAME, RATE, i420_len};
use crossbeam_channel::Receiver;
use ffmpeg_next as ff;
use marquee_capture::camera::{self, Faults, TestPatternCamera};
use marquee_capture::nokhwa_cam::NokhwaCamera;
use marquee_capture::{
    AudioBlock, AudioSpec, PixelFormat, SessionClock, SourceHandle, VideoFrame, VideoSpec,
};
use std::time::Duration;

/// Frames waiting for the sender; more are dropped (and counted by the sink).
const VIDEO_QUEUE: usize = 4;
const AUDIO_QUEUE: usize = 50;

fn source_err(what: &'static str) -> impl Fn(marquee_capture::CaptureError) -> GuestError {
    move |e| GuestError::Source {
        what,
        reason: e.to_string(),
    }
}

/// Opens the video source at the send size.
pub fn open_video(
    spec: &VideoSpec,
    w: u32,
    h: u32,
    fps: u32,
    clock: &SessionClock,
) -> Result<(SourceHandle, Receiver<VideoFrame>), GuestError> {
    let (sink, rx) = marquee_capture::bounded(VIDEO_QUEUE);
    let err = source_err("video source");
    let handle = match spec {
        VideoSpec::Test | VideoSpec::TestCard(_) => {
            let card = match spec {
                VideoSpec::TestCard(n) => *n,
                _ => 0,
            };
            camera::spawn_camera(
                move || {
                    Ok(
                        Box::new(TestPatternCamera::new(w, h, fps, Faults::default()).card(card))
                            as _,
                    )
                },
                clock.clone(),
                sink,
            )
            .map_err(err)?
            .0
        }
        VideoSpec::Camera(id) => {
            let id = id.clone();
            camera::spawn_camera(
                move || Ok(Box::new(NokhwaCamera::new(&id, w, h, fps)) as _),
                clock.clone(),
                sink,
            )
            .map_err(err)?
            .0
        }
        VideoSpec::File(p) => {
            marquee_capture::file::spawn_file_video(p, clock.clone(), sink).map_err(err)?
        }
        VideoSpec::Guest(_) | VideoSpec::Remote(_) => {
            return Err(err(marquee_capture::CaptureError::BadSpec {
                spec: spec.to_string(),
                reason: "a guest sends a camera, a file or test[:N]".into(),
            }));
        }
    };
    Ok((handle, rx))
}

/// Opens the audio source; `None` for `--audio none`.
pub fn open_audio(
    spec: &AudioSpec,
    clock: &SessionClock,
) -> Result<Option<(SourceHandle, Receiver<AudioBlock>)>, GuestError> {
    let (sink, rx) = marquee_capture::bounded(AUDIO_QUEUE);
    let err = source_err("audio source");
    let handle = match spec {
        AudioSpec::None => return Ok(None),
        AudioSpec::Tone(hz) => marquee_capture::audio::spawn_tone(*hz, clock.clone(), sink),
        AudioSpec::Mic(id) => {
            marquee_capture::audio::spawn_mic(id, clock.clone(), sink).map_err(err)?
        }
        AudioSpec::File(p) => {
            marquee_capture::file::spawn_file_audio(p, clock.clone(), sink).map_err(err)?
        }
        AudioSpec::Guest(_) => {
            return Err(err(marquee_capture::CaptureError::BadSpec {
                spec: spec.to_string(),
                reason: "a guest sends a microphone, a file, tone[:HZ] or none".into(),
            }));
        }
    };
    Ok(Some((handle, rx)))
}

fn ff_format(f: PixelFormat) -> Option<ff::format::Pixel> {
    use ff::format::Pixel as P;
    Some(match f {
        PixelFormat::I420 => P::YUV420P,
        PixelFormat::Nv12 => P::NV12,
        PixelFormat::Yuyv => P::YUYV422,
        PixelFormat::Rgb24 => P::RGB24,
        PixelFormat::Bgra => P::BGRA,
        PixelFormat::Bgr24 => P::BGR24,
        PixelFormat::Gray8 => P::GRAY8,
        PixelFormat::Mjpeg => return None,
    })
}

/// Converts any source picture to I420 at the send size (a copy when it already is).
pub struct ToI420 {
    w: u32,
    h: u32,
    scaler: Option<(ff::software::scaling::Context, PixelFormat, u32, u32)>,
}

impl ToI420 {
    pub fn new(w: u32, h: u32) -> Self {
        Self { w, h, scaler: None }
    }

    /// The picture as I420 at the send size, or `None` for a format this cannot convert.
    pub fn convert(&mut self, f: &VideoFrame) -> Option<Vec<u8>> {
        if f.format == PixelFormat::I420
            && (f.width, f.height) == (self.w, self.h)
            && f.data.len() == i420_len(self.w, self.h)
        {
            return Some(f.data.to_vec());
        }
        let fmt = ff_format(f.format)?;
        let need = f.format.frame_len(f.width, f.height)?;
        if f.data.len() < need || f.width == 0 || f.height == 0 {
            return None;
        }
        if !matches!(&self.scaler, Some((_, pf, w, h)) if *pf == f.format && *w == f.width && *h == f.height)
        {
            let ctx = ff::software::scaling::Context::get(
                fmt,
                f.width,
                f.height,
                ff::format::Pixel::YUV420P,
                self.w,
                self.h,
                ff::software::scaling::Flags::BILINEAR,
            )
            .ok()?;
            self.scaler = Some((ctx, f.format, f.width, f.height));
        }
        let mut src = ff::frame::Video::new(fmt, f.width, f.height);
        fill_planes(
            &mut src,
            f.format,
            &f.data,
            f.width as usize,
            f.height as usize,
        );
        let mut out = ff::frame::Video::new(ff::format::Pixel::YUV420P, self.w, self.h);
        self.scaler.as_mut()?.0.run(&src, &mut out).ok()?;
        Some(crate::media::pack_i420(&out))
    }
}

/// Copies tightly packed planes into a frame with strides.
fn fill_planes(frame: &mut ff::frame::Video, format: PixelFormat, data: &[u8], w: usize, h: usize) {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let planes: Vec<(usize, usize)> = match format {
        PixelFormat::I420 => vec![(w, h), (cw, ch), (cw, ch)],
        PixelFormat::Nv12 => vec![(w, h), (2 * cw, ch)],
        PixelFormat::Yuyv => vec![(4 * cw, h)],
        PixelFormat::Rgb24 | PixelFormat::Bgr24 => vec![(3 * w, h)],
        PixelFormat::Bgra => vec![(4 * w, h)],
        PixelFormat::Gray8 => vec![(w, h)],
        PixelFormat::Mjpeg => vec![],
    };
    let mut off = 0;
    for (i, (pw, ph)) in planes.into_iter().enumerate() {
        let stride = frame.stride(i);
        let dst = frame.data_mut(i);
        for y in 0..ph {
            let n = pw.min(stride);
            dst[y * stride..y * stride + n].copy_from_slice(&data[off + y * pw..off + y * pw + n]);
        }
        off += pw * ph;
    }
}

/// Gathers audio blocks of any rate and layout into 20 ms of 48 kHz stereo, and knows when
/// each was captured (the RTP time of the voice it becomes).
#[derive(Default)]
pub struct Blocks {
    buf: Vec<f32>,
    /// Session time of `buf[0]`: the capture stamp of the block that started a run, moved on
    /// by each sample taken or dropped.
    start: Duration,
}

/// A stamp this close after where the last run ended continues it (a device's stamps wander
/// by a few ms; a tiny gap would be a click at the receiver, an overlap a step back in time).
const CONTINUES_WITHIN: Duration = Duration::from_millis(20);

fn frames_time(frames: usize) -> Duration {
    Duration::from_micros(frames as u64 * 1_000_000 / RATE as u64)
}

impl Blocks {
    pub fn push(&mut self, b: &AudioBlock) {
        if self.buf.is_empty() && b.captured > self.start + CONTINUES_WITHIN {
            self.start = b.captured;
        }
        let ch = b.channels.max(1) as usize;
        let frames = b.samples.len() / ch;
        let pick = |i: usize| {
            let l = b.samples[i * ch];
            (l, if ch > 1 { b.samples[i * ch + 1] } else { l })
        };
        if b.rate == RATE || b.rate == 0 {
            for i in 0..frames {
                let (l, r) = pick(i);
                self.buf.extend([l, r]);
            }
        } else if frames > 0 {
            // Linear resampling per block: good enough for a voice or a test tone.
            let out = (frames as u64 * RATE as u64 / b.rate as u64) as usize;
            for j in 0..out {
                let x = j as f64 * b.rate as f64 / RATE as f64;
                let i = (x as usize).min(frames - 1);
                let k = (i + 1).min(frames - 1);
                let t = (x - i as f64) as f32;
                let (l0, r0) = pick(i);
                let (l1, r1) = pick(k);
                self.buf.extend([l0 + (l1 - l0) * t, r0 + (r1 - r0) * t]);
            }
        }
        // Never more than a second behind: a stalled sender drops the oldest audio.
        let max = 2 * RATE as usize;
        if self.buf.len() > max {
            let n = self.buf.len() - max;
            self.buf.drain(..n);
            self.start += frames_time(n / 2);
        }
    }

    /// When the next 20 ms block was captured, when there is one.
    pub fn next_at(&self) -> Option<Duration> {
        (self.buf.len() >= 2 * OPUS_FRAME).then_some(self.start)
    }

    /// Drops the whole 20 ms blocks captured before `t`; how many.
    pub fn drop_before(&mut self, t: Duration) -> u64 {
        let n = 2 * OPUS_FRAME;
        let mut dropped = 0;
        while self.buf.len() >= n && self.start + frames_time(OPUS_FRAME) <= t {
            self.buf.drain(..n);
            self.start += frames_time(OPUS_FRAME);
            dropped += 1;
        }
        dropped
    }

    /// The next 20 ms block, when there is one.
    pub fn next_block(&mut self) -> Option<Vec<f32>> {
        let n = 2 * OPUS_FRAME;
        if self.buf.len() < n {
            return None;
        }
        self.start += frames_time(OPUS_FRAME);
        Some(self.buf.drain(..n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn audio_of_any_rate_becomes_20ms_stereo_blocks() {
        let mut b = Blocks::default();
        b.push(&AudioBlock {
            rate: 44_100,
            channels: 1,
            samples: vec![0.5; 441 * 2],
            captured: Duration::ZERO,
        });
        let block = b.next_block().unwrap();
        assert_eq!(block.len(), 1920);
        assert!(block.iter().all(|s| (*s - 0.5).abs() < 1e-6));
        assert!(b.next_block().is_none());
    }

    fn tone_block(ms: u64, captured_ms: u64) -> AudioBlock {
        AudioBlock {
            rate: 48_000,
            channels: 2,
            samples: vec![0.1; ms as usize * 96],
            captured: Duration::from_millis(captured_ms),
        }
    }

    #[test]
    fn each_block_carries_its_capture_time_also_after_the_oldest_audio_was_dropped() {
        let mut b = Blocks::default();
        b.push(&tone_block(10, 500));
        b.push(&tone_block(30, 510));
        assert_eq!(b.next_at(), Some(Duration::from_millis(500)));
        b.next_block().unwrap();
        assert_eq!(b.next_at(), Some(Duration::from_millis(520)));
        // A sender that fell 1.5 s behind keeps the newest second, stamped as captured.
        for i in 0..75 {
            b.push(&tone_block(20, 540 + i * 20));
        }
        assert_eq!(b.next_at(), Some(Duration::from_millis(2040 - 1000)));
    }

    #[test]
    fn a_backlog_is_dropped_by_whole_blocks_and_what_is_fresh_keeps_its_capture_time() {
        let mut b = Blocks::default();
        for i in 0..10 {
            b.push(&tone_block(20, 1000 + i * 20));
        }
        // Blocks ending by 1,110 ms go: 1000, 1020, 1040, 1060, 1080 (it ends at 1,100).
        assert_eq!(b.drop_before(Duration::from_millis(1110)), 5);
        assert_eq!(b.next_at(), Some(Duration::from_millis(1100)));
        assert_eq!(b.drop_before(Duration::from_millis(1100)), 0);
        assert_eq!(b.drop_before(Duration::from_millis(9000)), 5);
        assert_eq!(b.next_at(), None);
    }

    #[test]
    fn a_run_after_a_pause_starts_at_its_own_stamp_and_wandering_stamps_stay_contiguous() {
        let mut b = Blocks::default();
        b.push(&tone_block(20, 1000));
        b.next_block().unwrap();
        // 3 ms early or 5 ms late: the same run goes on where it was.
        b.push(&tone_block(20, 1017));
        assert_eq!(b.next_at(), Some(Duration::from_millis(1020)));
        b.next_block().unwrap();
        b.push(&tone_block(20, 1045));
        assert_eq!(b.next_at(), Some(Duration::from_millis(1040)));
        b.next_block().unwrap();
        // Half a second of nothing: the next run is stamped where it was captured.
        b.push(&tone_block(20, 1560));
        assert_eq!(b.next_at(), Some(Duration::from_millis(1560)));
    }

    fn frame(format: PixelFormat, w: u32, h: u32, data: Vec<u8>) -> VideoFrame {
        VideoFrame {
            width: w,
            height: h,
            format,
            data: marquee_capture::FramePool::new(1).copy_of(&data),
            captured: Duration::ZERO,
            seq: 0,
        }
    }

    #[test]
    fn pictures_of_other_sizes_and_formats_become_i420_at_the_send_size() {
        let mut c = ToI420::new(64, 36);
        let same = c
            .convert(&frame(PixelFormat::I420, 64, 36, vec![7; i420_len(64, 36)]))
            .unwrap();
        assert!(same.iter().all(|b| *b == 7));
        let mut grey = vec![200u8; i420_len(32, 18)];
        grey[32 * 18..].fill(128);
        let up = c.convert(&frame(PixelFormat::I420, 32, 18, grey)).unwrap();
        assert_eq!(up.len(), i420_len(64, 36));
        assert!(up[..64 * 36].iter().all(|y| y.abs_diff(200) <= 2));
        let white = c
            .convert(&frame(PixelFormat::Rgb24, 16, 16, vec![255; 16 * 16 * 3]))
            .unwrap();
        assert!(
            white[..64 * 36].iter().all(|y| *y >= 230),
            "{:?}",
            &white[..8]
        );
        assert!(
            c.convert(&frame(PixelFormat::Mjpeg, 16, 16, vec![0; 10]))
                .is_none()
        );
        assert!(
            c.convert(&frame(PixelFormat::Rgb24, 16, 16, vec![0; 10]))
                .is_none()
        );
    }
}
