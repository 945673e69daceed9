//! The video encoder: libx264 with broadcast settings, or a hardware encoder probed at run
//! time. It is opened once per session and never reopened; its thread encodes the
//! compositor's pictures and hands the packets to the bus.

use super::drain;
use crate::error::StudioError;
use crate::frames::CanvasFrame;
use crate::packet::{Packet, PacketBus, StreamInfo, Track};
use crate::stats::VideoCounters;
use crossbeam_channel::Receiver;
use ffmpeg_next as ff;
use marquee_capture::SessionClock;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

/// Which video encoder to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderChoice {
    /// The first hardware encoder that opens, else x264.
    Auto,
    X264,
    /// An FFmpeg encoder by name (e.g. h264_nvenc).
    Named(String),
}

impl std::str::FromStr for EncoderChoice {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Self::Auto,
            "x264" | "libx264" => Self::X264,
            other => Self::Named(other.to_string()),
        })
    }
}

/// Video encode settings.
#[derive(Debug, Clone)]
pub struct VideoSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub encoder: EncoderChoice,
    /// x264 preset (ultrafast … veryslow).
    pub preset: String,
}

/// Copies a tightly packed I420 picture (`data`, the frame's size) into an FFmpeg frame
/// with its own strides.
pub(crate) fn copy_i420_into(frame: &mut ff::frame::Video, data: &[u8]) {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (cw, ch) = (w / 2, h / 2);
    for (plane, pw, ph, off) in [
        (0, w, h, 0),
        (1, cw, ch, w * h),
        (2, cw, ch, w * h + cw * ch),
    ] {
        let stride = frame.stride(plane);
        let dst = frame.data_mut(plane);
        for y in 0..ph {
            dst[y * stride..y * stride + pw]
                .copy_from_slice(&data[off + y * pw..off + (y + 1) * pw]);
        }
    }
}

/// Hardware H.264 encoders worth probing, in order of preference. VAAPI is absent on
/// purpose: it needs GPU frame upload, which this pipeline does not do yet.
pub const HARDWARE_ENCODERS: [&str; 5] = [
    "h264_nvenc",
    "h264_qsv",
    "h264_amf",
    "h264_videotoolbox",
    "h264_mf",
];

/// An opened video encoder and what outputs need to know about it.
pub struct OpenedVideo {
    pub encoder: ff::encoder::Video,
    pub name: String,
    pub info: StreamInfo,
    /// Why each hardware encoder tried before was not used.
    pub skipped: Vec<(String, String)>,
}

impl OpenedVideo {
    /// Changes the rate control between two frames without reopening the encoder.
    /// FFmpeg's libx264 wrapper compares `bit_rate`, `rc_max_rate` and `rc_buffer_size`
    /// with x264's parameters before each frame and calls `x264_encoder_reconfig` when they
    /// differ; other encoders keep their opening rate.
    pub fn set_bitrate(&mut self, kbps: u32) {
        let bps = kbps as i64 * 1000;
        // SAFETY: the context is owned by this open encoder and not used concurrently
        // (`&mut self`); these are plain integer fields read by the next encode call.
        unsafe {
            let ctx = self.encoder.as_mut_ptr();
            (*ctx).bit_rate = bps;
            (*ctx).rc_max_rate = bps;
            (*ctx).rc_buffer_size = (bps * 2).min(i32::MAX as i64) as i32;
        }
    }
}

/// Whether x264 pads to a strict constant rate with filler data. Only for a constant rate:
/// when the rate is lowered while live, x264 spends what the larger buffer still held as
/// filler (a 4000 → 400 kbit/s change sent 7,600 kbit of filler in the next second), which a
/// narrow link is the last place to want.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControl {
    /// CBR padded with filler: for a bitrate that never changes.
    ConstantWithFiller,
    /// CBR by the VBV (maxrate = bitrate) without filler: adaptive bitrate changes it.
    Adaptive,
}

fn video_options(s: &VideoSettings, x264: bool, rc: RateControl) -> ff::Dictionary<'static> {
    let mut d = ff::Dictionary::new();
    let kbps = s.bitrate_kbps;
    // CBR: maxrate = bitrate, VBV buffer = 2x; a keyframe every 2 s; no scene-cut keyframes.
    d.set("b", &format!("{kbps}k"));
    d.set("maxrate", &format!("{kbps}k"));
    d.set("bufsize", &format!("{}k", kbps * 2));
    d.set("g", &(s.fps * 2).to_string());
    d.set("keyint_min", &(s.fps * 2).to_string());
    d.set("sc_threshold", "0");
    d.set("bf", "0");
    if x264 {
        d.set("preset", &s.preset);
        d.set("tune", "zerolatency");
        d.set(
            "x264-params",
            match rc {
                RateControl::ConstantWithFiller => "filler=1:force-cfr=1",
                RateControl::Adaptive => "force-cfr=1:vbv-init=0.1",
            },
        );
    }
    d
}

fn try_open_video(name: &str, s: &VideoSettings, rc: RateControl) -> Result<OpenedVideo, String> {
    let codec = ff::encoder::find_by_name(name).ok_or("not in this FFmpeg build")?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| e.to_string())?;
    enc.set_width(s.width);
    enc.set_height(s.height);
    enc.set_format(ff::format::Pixel::YUV420P);
    enc.set_time_base((1, s.fps as i32));
    enc.set_frame_rate(Some((s.fps as i32, 1)));
    enc.set_bit_rate(s.bitrate_kbps as usize * 1000);
    enc.set_max_bit_rate(s.bitrate_kbps as usize * 1000);
    enc.set_gop(s.fps * 2);
    enc.set_max_b_frames(0);
    // FLV and Matroska both want out-of-band SPS/PPS.
    enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let opened = enc
        .open_with(video_options(s, name == "libx264", rc))
        .map_err(|e| e.to_string())?;
    let info = StreamInfo {
        track: Track::Video,
        params: ff::codec::Parameters::from(&opened),
        time_base: (1, s.fps as i32),
    };
    Ok(OpenedVideo {
        encoder: opened,
        name: name.to_string(),
        info,
        skipped: Vec::new(),
    })
}

/// Opens the chosen video encoder for a constant bitrate; `Auto` tries hardware encoders and
/// falls back to x264.
pub fn open_video(s: &VideoSettings) -> Result<OpenedVideo, StudioError> {
    open_video_with(s, RateControl::ConstantWithFiller)
}

/// Opens the chosen video encoder with `rc`.
pub fn open_video_with(s: &VideoSettings, rc: RateControl) -> Result<OpenedVideo, StudioError> {
    crate::util::init();
    match &s.encoder {
        EncoderChoice::X264 => try_open_video("libx264", s, rc).map_err(|e| StudioError::Encoder {
            name: "libx264".into(),
            reason: e,
        }),
        EncoderChoice::Named(n) => try_open_video(n, s, rc).map_err(|e| StudioError::Encoder {
            name: n.clone(),
            reason: format!("{e} (see `marquee devices --encoders`, or use --encoder x264)"),
        }),
        EncoderChoice::Auto => {
            let mut skipped = Vec::new();
            for name in HARDWARE_ENCODERS {
                match try_open_video(name, s, rc) {
                    Ok(mut v) => {
                        v.skipped = skipped;
                        return Ok(v);
                    }
                    Err(e) => skipped.push((name.to_string(), e)),
                }
            }
            let mut v = try_open_video("libx264", s, rc).map_err(|e| StudioError::Encoder {
                name: "libx264".into(),
                reason: e,
            })?;
            v.skipped = skipped;
            Ok(v)
        }
    }
}

/// Which video encoders open on this machine (for `devices --encoders`).
pub fn probe_encoders(width: u32, height: u32) -> Vec<(String, Result<(), String>)> {
    crate::util::init();
    let s = VideoSettings {
        width,
        height,
        fps: 30,
        bitrate_kbps: 2500,
        encoder: EncoderChoice::Auto,
        preset: "veryfast".into(),
    };
    let mut names: Vec<&str> = HARDWARE_ENCODERS.to_vec();
    names.push("libx264");
    names
        .into_iter()
        .map(|n| {
            (
                n.to_string(),
                try_open_video(n, &s, RateControl::ConstantWithFiller).map(|_| ()),
            )
        })
        .collect()
}

/// What the video encoder thread reads and writes.
pub(crate) struct VideoEncoder {
    pub opened: OpenedVideo,
    pub pictures: Receiver<CanvasFrame>,
    pub bus: Arc<PacketBus>,
    pub counters: Arc<VideoCounters>,
    pub clock: SessionClock,
}

impl VideoEncoder {
    /// Runs until the compositor is gone, then flushes the encoder.
    pub fn spawn(self) -> JoinHandle<()> {
        crate::util::spawn_thread("video-encoder", move || self.run())
    }

    fn run(self) {
        let VideoEncoder {
            opened: mut v,
            pictures: rx,
            bus,
            counters,
            clock,
        } = self;
        let (w, h) = (v.encoder.width(), v.encoder.height());
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, w, h);
        // The rate adaptive bitrate asked for last (0: as opened).
        let mut applied = 0;
        let mut stamps = Stamps::default();
        let publish = |mut p: Packet, stamps: &mut Stamps| {
            p.captured = stamps.take(p.pts).unwrap_or_else(|| clock.now());
            p.duration = 1;
            counters.encoded.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(p.data.len() as u64, Ordering::Relaxed);
            counters.encode_us.store(
                clock.now().saturating_sub(p.captured).as_micros() as u64,
                Ordering::Relaxed,
            );
            bus.publish(&p);
        };
        for cf in rx.iter() {
            // SAFETY: the encoder may still reference the previous buffer; make ours private.
            unsafe {
                ff::ffi::av_frame_make_writable(frame.as_mut_ptr());
            }
            let want = counters.target_kbps.load(Ordering::Relaxed);
            if want != 0 && want != applied {
                v.set_bitrate(want);
                applied = want;
            }
            copy_i420_into(&mut frame, &cf.data);
            frame.set_pts(Some(cf.index));
            stamps.push(cf.index, cf.captured);
            if v.encoder.send_frame(&frame).is_err() {
                continue;
            }
            for p in drain(&mut v.encoder, Track::Video) {
                publish(p, &mut stamps);
            }
        }
        let _ = v.encoder.send_eof();
        for p in drain(&mut v.encoder, Track::Video) {
            publish(p, &mut stamps);
        }
    }
}

/// Capture times of the pictures inside the encoder, by PTS, for each packet's latency.
#[derive(Default)]
struct Stamps(VecDeque<(i64, Duration)>);

impl Stamps {
    /// Pictures remembered at most (an encoder holds a few; a lost stamp costs one reading).
    const KEEP: usize = 64;

    fn push(&mut self, pts: i64, captured: Duration) {
        self.0.push_back((pts, captured));
        if self.0.len() > Self::KEEP {
            self.0.pop_front();
        }
    }

    /// The capture time of picture `pts`, forgetting the ones before it.
    fn take(&mut self, pts: i64) -> Option<Duration> {
        while self.0.front().is_some_and(|(p, _)| *p < pts) {
            self.0.pop_front();
        }
        self.0.front().map(|(_, c)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_picture_comes_out_once_in_order_counting_the_flush() {
        let s = VideoSettings {
            width: 64,
            height: 64,
            fps: 30,
            bitrate_kbps: 200,
            encoder: EncoderChoice::X264,
            preset: "ultrafast".into(),
        };
        let mut v = open_video(&s).unwrap();
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, 64, 64);
        copy_i420_into(&mut frame, &vec![128u8; 64 * 64 * 3 / 2]);
        let mut packets = Vec::new();
        for i in 0..10 {
            frame.set_pts(Some(i));
            v.encoder.send_frame(&frame).unwrap();
            packets.extend(drain(&mut v.encoder, Track::Video));
        }
        v.encoder.send_eof().unwrap();
        packets.extend(drain(&mut v.encoder, Track::Video));
        let pts: Vec<i64> = packets.iter().map(|p| p.pts).collect();
        assert_eq!(pts, (0..10).collect::<Vec<_>>());
        assert!(packets[0].key, "the stream starts on a keyframe");
        assert!(packets.iter().all(|p| !p.data.is_empty() && p.dts <= p.pts));
        // Flushed: nothing more comes out.
        assert_eq!(drain(&mut v.encoder, Track::Video).count(), 0);
    }

    /// Encodes `n` pictures of fresh noise (content no rate satisfies, so the rate binds).
    fn encode_noise(v: &mut OpenedVideo, from: i64, n: i64, seed: &mut u64) -> usize {
        let (w, h) = (v.encoder.width() as usize, v.encoder.height() as usize);
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, w as u32, h as u32);
        let mut bytes = 0;
        let mut data = vec![0u8; w * h * 3 / 2];
        for i in from..from + n {
            for b in data.iter_mut() {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *b = (*seed >> 56) as u8;
            }
            copy_i420_into(&mut frame, &data);
            frame.set_pts(Some(i));
            v.encoder.send_frame(&frame).unwrap();
            bytes += drain(&mut v.encoder, Track::Video)
                .map(|p| p.data.len())
                .sum::<usize>();
        }
        bytes
    }

    #[test]
    fn a_lowered_rate_sends_no_burst_when_opened_for_adaptive_bitrate() {
        // A still picture: with filler, x264 would pad the second after 4000 → 400 kbit/s
        // to ~7,600 kbit (what the larger buffer held); without it, nothing to pad.
        let fps = 30;
        let s = VideoSettings {
            width: 640,
            height: 360,
            fps,
            bitrate_kbps: 4000,
            encoder: EncoderChoice::X264,
            preset: "ultrafast".into(),
        };
        let mut v = open_video_with(&s, RateControl::Adaptive).unwrap();
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, 640, 360);
        let still = vec![128u8; 640 * 360 * 3 / 2];
        let mut kbit = Vec::new();
        for sec in 0..3i64 {
            if sec == 1 {
                v.set_bitrate(400);
            }
            let mut bytes = 0;
            for i in sec * 30..sec * 30 + 30 {
                copy_i420_into(&mut frame, &still);
                frame.set_pts(Some(i));
                v.encoder.send_frame(&frame).unwrap();
                bytes += drain(&mut v.encoder, Track::Video)
                    .map(|p| p.data.len())
                    .sum::<usize>();
            }
            kbit.push(bytes * 8 / 1000);
        }
        assert!(kbit[1] <= 400 && kbit[2] <= 400, "{kbit:?}");
    }

    #[test]
    fn x264_bitrate_changed_between_frames_reaches_the_bitstream() {
        let fps = 30;
        let s = VideoSettings {
            width: 320,
            height: 240,
            fps,
            bitrate_kbps: 4000,
            encoder: EncoderChoice::X264,
            preset: "ultrafast".into(),
        };
        let mut v = open_video(&s).unwrap();
        let mut seed = 7;
        let n = 4 * fps as i64;
        let high = encode_noise(&mut v, 0, n, &mut seed);
        v.set_bitrate(1000);
        // The first second drains the VBV buffer filled at the old rate; measure after it.
        encode_noise(&mut v, n, fps as i64, &mut seed);
        let low = encode_noise(&mut v, n + fps as i64, n, &mut seed);
        let secs = n as f64 / fps as f64;
        let (high_kbps, low_kbps) = (
            high as f64 * 8.0 / 1000.0 / secs,
            low as f64 * 8.0 / 1000.0 / secs,
        );
        let ratio = low_kbps / high_kbps;
        assert!(
            (0.15..0.4).contains(&ratio),
            "{high_kbps:.0} kbit/s then {low_kbps:.0} kbit/s (ratio {ratio:.2})"
        );
        assert!(
            low_kbps < 1300.0,
            "{low_kbps:.0} kbit/s at a 1000 kbit/s target"
        );
    }
}
