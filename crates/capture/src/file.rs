//! A media file as a source: anything ffmpeg decodes, looped, paced on the session clock.

use crate::camera::{SourceHandle, SourceState, SourceStatus};
use crate::clock::SessionClock;
use crate::error::CaptureError;
use crate::frame::{AudioBlock, PixelFormat, VideoFrame};
use crate::pool::{FrameBuf, FramePool};
use crate::sink::Sink;
use ffmpeg_next as ff;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Initialise FFmpeg once. Its own logging is silenced: it can print URLs, and URLs
/// can carry stream keys. Errors reach the user through our messages instead.
pub fn init_ffmpeg() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Quiet);
    });
}

/// Which stream of the file a source plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStream {
    Video,
    Audio,
}

/// Frames are made this far ahead of their stamp, like the synthetic camera.
const LEAD: Duration = Duration::from_millis(40);

/// Plays `path`'s best video or audio stream in a loop, in real time.
pub fn spawn_file_video(
    path: &str,
    clock: SessionClock,
    sink: Sink<VideoFrame>,
) -> Result<SourceHandle, CaptureError> {
    spawn(path, FileStream::Video, clock, Output::Video(sink))
}

/// Plays `path`'s best audio stream in a loop, in real time, at the file's rate and layout.
pub fn spawn_file_audio(
    path: &str,
    clock: SessionClock,
    sink: Sink<AudioBlock>,
) -> Result<SourceHandle, CaptureError> {
    spawn(path, FileStream::Audio, clock, Output::Audio(sink))
}

enum Output {
    Video(Sink<VideoFrame>),
    Audio(Sink<AudioBlock>),
}

fn spawn(
    path: &str,
    which: FileStream,
    clock: SessionClock,
    out: Output,
) -> Result<SourceHandle, CaptureError> {
    init_ffmpeg();
    let file_err = |reason: String| CaptureError::File {
        path: path.to_string(),
        reason,
    };
    // Open once here so a bad path fails the command, not a thread later.
    let probe = ff::format::input(&path).map_err(|e| file_err(format!("cannot open: {e}")))?;
    let kind = match which {
        FileStream::Video => ff::media::Type::Video,
        FileStream::Audio => ff::media::Type::Audio,
    };
    if probe.streams().best(kind).is_none() {
        return Err(file_err(format!("has no {kind:?} stream").to_lowercase()));
    }
    drop(probe);
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(SourceStatus::default());
    let (stop2, status2) = (stop.clone(), status.clone());
    let owned = path.to_string();
    let thread = std::thread::Builder::new()
        .name("file".into())
        .spawn(move || {
            status2.set(SourceState::Live);
            if let Err(e) = play_loop(&owned, kind, &clock, &out, &stop2) {
                tracing::warn!("{owned}: {e}");
                status2.set(SourceState::Lost);
            }
        })
        .map_err(|e| file_err(e.to_string()))?;
    Ok(SourceHandle::new(
        format!("file {path}"),
        status,
        stop,
        thread,
    ))
}

fn play_loop(
    path: &str,
    kind: ff::media::Type,
    clock: &SessionClock,
    out: &Output,
    stop: &AtomicBool,
) -> Result<(), ff::Error> {
    let mut ictx = ff::format::input(&path)?;
    let stream = ictx.streams().best(kind).ok_or(ff::Error::StreamNotFound)?;
    let index = stream.index();
    let ctx = ff::codec::context::Context::from_parameters(stream.parameters())?;
    let mut p = Player {
        video: None,
        audio: None,
        scaler: None,
        tb: stream.time_base(),
        loop_offset: Duration::ZERO,
        first_pts: None,
        last_end: Duration::ZERO,
        seq: 0,
        pool: FramePool::new(crate::pool::SOURCE_KEEP),
    };
    match kind {
        ff::media::Type::Video => p.video = Some(ctx.decoder().video()?),
        _ => p.audio = Some(ctx.decoder().audio()?),
    }
    loop {
        let mut got_any = false;
        for (s, packet) in ictx.packets() {
            if s.index() != index {
                continue;
            }
            got_any = true;
            p.send(Some(&packet));
            if !p.drain(clock, out, stop)? {
                return Ok(());
            }
        }
        p.send(None);
        if !p.drain(clock, out, stop)? {
            return Ok(());
        }
        if !got_any {
            return Err(ff::Error::Eof);
        }
        // Loop: the next pass starts where this one ended.
        p.loop_offset = p.last_end;
        p.first_pts = None;
        ictx.seek(0, ..)?;
        if let Some(d) = p.video.as_mut() {
            d.flush();
        }
        if let Some(d) = p.audio.as_mut() {
            d.flush();
        }
    }
}

struct Player {
    video: Option<ff::decoder::Video>,
    audio: Option<ff::decoder::Audio>,
    scaler: Option<ff::software::scaling::Context>,
    tb: ff::Rational,
    loop_offset: Duration,
    first_pts: Option<i64>,
    last_end: Duration,
    seq: u64,
    pool: FramePool,
}

impl Player {
    /// Feeds a packet, or end of file with None.
    fn send(&mut self, packet: Option<&ff::Packet>) {
        if let Some(d) = self.video.as_mut() {
            let _ = match packet {
                Some(p) => d.send_packet(p),
                None => d.send_eof(),
            };
        }
        if let Some(d) = self.audio.as_mut() {
            let _ = match packet {
                Some(p) => d.send_packet(p),
                None => d.send_eof(),
            };
        }
    }

    /// Session time of a frame: where this pass started plus its offset in the file.
    fn stamp(&mut self, pts: Option<i64>) -> Duration {
        let pts = pts.unwrap_or(0);
        let base = *self.first_pts.get_or_insert(pts);
        let secs =
            (pts - base) as f64 * self.tb.numerator() as f64 / self.tb.denominator().max(1) as f64;
        self.loop_offset + Duration::from_secs_f64(secs.max(0.0))
    }

    /// Sends every decoded frame at its time. False when stopped.
    fn drain(
        &mut self,
        clock: &SessionClock,
        out: &Output,
        stop: &AtomicBool,
    ) -> Result<bool, ff::Error> {
        let mut vf = ff::frame::Video::empty();
        while self
            .video
            .as_mut()
            .is_some_and(|d| d.receive_frame(&mut vf).is_ok())
        {
            let at = self.stamp(vf.pts());
            self.last_end = at + Duration::from_millis(33);
            if !clock.sleep_until(at.saturating_sub(LEAD), stop) {
                return Ok(false);
            }
            let (w, h) = (vf.width() & !1, vf.height() & !1);
            let sc = match self.scaler.as_mut() {
                Some(s) => s,
                None => self.scaler.insert(ff::software::scaling::Context::get(
                    vf.format(),
                    vf.width(),
                    vf.height(),
                    ff::format::Pixel::YUV420P,
                    w,
                    h,
                    ff::software::scaling::Flags::BILINEAR,
                )?),
            };
            let mut yuv = ff::frame::Video::empty();
            sc.run(&vf, &mut yuv)?;
            if let Output::Video(sink) = out {
                sink.send(VideoFrame {
                    width: w,
                    height: h,
                    format: PixelFormat::I420,
                    data: pack_i420(&yuv, w, h, &self.pool),
                    captured: at,
                    seq: self.seq,
                });
            }
            self.seq += 1;
        }
        let mut af = ff::frame::Audio::empty();
        while self
            .audio
            .as_mut()
            .is_some_and(|d| d.receive_frame(&mut af).is_ok())
        {
            let at = self.stamp(af.pts());
            self.last_end =
                at + Duration::from_secs_f64(af.samples() as f64 / af.rate().max(1) as f64);
            if !clock.sleep_until(at.saturating_sub(LEAD), stop) {
                return Ok(false);
            }
            if let (Output::Audio(sink), Some(samples)) = (out, interleave_f32(&af)) {
                sink.send(AudioBlock {
                    rate: af.rate(),
                    channels: af.channels(),
                    samples,
                    captured: at,
                });
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        Ok(true)
    }
}

pub(crate) fn pack_i420(f: &ff::frame::Video, w: u32, h: u32, pool: &FramePool) -> FrameBuf {
    let (w, h) = (w as usize, h as usize);
    let mut out = pool.take(w * h + 2 * (w / 2) * (h / 2));
    let mut at = 0;
    for (plane, pw, ph) in [(0, w, h), (1, w / 2, h / 2), (2, w / 2, h / 2)] {
        let stride = f.stride(plane);
        let data = f.data(plane);
        for y in 0..ph {
            out[at..at + pw].copy_from_slice(&data[y * stride..y * stride + pw]);
            at += pw;
        }
    }
    out
}

/// Any decoded sample format to interleaved f32; None for formats we do not know.
fn interleave_f32(f: &ff::frame::Audio) -> Option<Vec<f32>> {
    use ff::format::sample::{Sample, Type};
    let ch = f.channels() as usize;
    let n = f.samples();
    let mut out = vec![0f32; n * ch];
    /// The `N` bytes of sample `i`.
    fn at<const N: usize>(bytes: &[u8], i: usize) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&bytes[i * N..i * N + N]);
        b
    }
    let read = |bytes: &[u8], i: usize, fmt: Sample| -> f32 {
        match fmt {
            Sample::F32(_) => f32::from_ne_bytes(at(bytes, i)),
            Sample::F64(_) => f64::from_ne_bytes(at(bytes, i)) as f32,
            Sample::I16(_) => i16::from_ne_bytes(at(bytes, i)) as f32 / 32768.0,
            Sample::I32(_) => i32::from_ne_bytes(at(bytes, i)) as f32 / 2_147_483_648.0,
            Sample::U8(_) => (bytes[i] as f32 - 128.0) / 128.0,
            _ => 0.0,
        }
    };
    let fmt = f.format();
    if matches!(fmt, Sample::None | Sample::I64(_)) {
        return None;
    }
    match fmt {
        Sample::F32(Type::Planar)
        | Sample::F64(Type::Planar)
        | Sample::I16(Type::Planar)
        | Sample::I32(Type::Planar)
        | Sample::U8(Type::Planar) => {
            for c in 0..ch {
                let plane = f.data(c);
                for i in 0..n {
                    out[i * ch + c] = read(plane, i, fmt);
                }
            }
        }
        _ => {
            let data = f.data(0);
            for (i, o) in out.iter_mut().enumerate() {
                *o = read(data, i, fmt);
            }
        }
    }
    Some(out)
}
