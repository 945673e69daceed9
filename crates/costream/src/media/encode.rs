//! Realtime encoders for what Marquee sends over WebRTC: VP8 (libvpx) or H.264 (x264,
//! constrained baseline, Annex B with SPS/PPS before every keyframe), and Opus (libopus).

use super::common::{MediaError, OPUS_FRAME, RATE, VideoCodec, i420_len, init};
use super::compat;
use ffmpeg_next as ff;
use std::time::{Duration, Instant};

/// One encoded video frame: a VP8 frame or an H.264 access unit in Annex B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

/// libvpx in FFmpeg 5.1 keeps its opening rate, so a VP8 encoder is reopened for a new one;
/// these bound how often that happens (each reopen starts with a keyframe).
const VP8_REOPEN_CHANGE: f64 = 0.25;
const VP8_REOPEN_EVERY: Duration = Duration::from_secs(3);

/// A realtime video encoder taking tightly packed I420 pictures of one size.
pub struct VideoEncoder {
    codec: VideoCodec,
    width: u32,
    height: u32,
    fps: u32,
    /// The rate the encoder runs at, and the one asked for.
    kbps: u32,
    wanted_kbps: u32,
    reopened: Instant,
    enc: ff::encoder::Video,
    frame: ff::frame::Video,
}

fn open_video(
    codec: VideoCodec,
    width: u32,
    height: u32,
    fps: u32,
    kbps: u32,
) -> Result<ff::encoder::Video, MediaError> {
    let (name, what) = match codec {
        VideoCodec::Vp8 => ("libvpx", "libvpx encoder"),
        VideoCodec::H264 => ("libx264", "libx264 encoder"),
    };
    let err = |reason: String| MediaError::Open {
        codec: codec.name(),
        what: "encoder",
        reason,
    };
    if width == 0
        || height == 0
        || width % 2 == 1
        || height % 2 == 1
        || width > 4096
        || height > 2304
    {
        return Err(err(format!(
            "{width}×{height} is not an even size up to 4096×2304"
        )));
    }
    let found = ff::encoder::find_by_name(name).ok_or(MediaError::Missing {
        codec: codec.name(),
        what: what.into(),
    })?;
    let mut enc = ff::codec::context::Context::new_with_codec(found)
        .encoder()
        .video()
        .map_err(|e| err(e.to_string()))?;
    let fps = fps.clamp(1, 120);
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(ff::format::Pixel::YUV420P);
    // Timestamps are milliseconds: frames may come unevenly.
    enc.set_time_base((1, 1000));
    enc.set_frame_rate(Some((fps as i32, 1)));
    enc.set_bit_rate(kbps as usize * 1000);
    enc.set_max_bit_rate(kbps as usize * 1000);
    // Keyframes come on request (PLI/FIR); a periodic one every 4 s bounds any lost state.
    enc.set_gop(fps * 4);
    enc.set_max_b_frames(0);
    let mut d = ff::Dictionary::new();
    d.set("minrate", &format!("{kbps}k"));
    d.set("maxrate", &format!("{kbps}k"));
    d.set("bufsize", &format!("{}k", kbps.max(1)));
    // One thread: libvpx's worker threads spin while they wait for each other, which on a
    // busy machine costs more than it gains (60 pictures at 640×360: 0.16 s of CPU with one
    // thread, 2 s with two, measured here); x264 at these sizes needs no more either.
    d.set("threads", "1");
    match codec {
        VideoCodec::Vp8 => {
            d.set("deadline", "realtime");
            d.set("cpu-used", "8");
            d.set("lag-in-frames", "0");
            d.set("auto-alt-ref", "0");
            d.set("error-resilient", "partitions");
            d.set("static-thresh", "0");
        }
        VideoCodec::H264 => {
            d.set("preset", "ultrafast");
            d.set("tune", "zerolatency");
            d.set("profile", "baseline");
            d.set("forced-idr", "1");
        }
    }
    enc.open_with(d).map_err(|e| err(e.to_string()))
}

impl VideoEncoder {
    /// Realtime settings: VP8 with deadline=realtime, cpu-used 8 and no lag; H.264 with x264
    /// ultrafast/zerolatency, baseline. `kbps` is the target (CBR).
    pub fn new(
        codec: VideoCodec,
        width: u32,
        height: u32,
        fps: u32,
        kbps: u32,
    ) -> Result<Self, MediaError> {
        init();
        let kbps = kbps.clamp(50, 20_000);
        let enc = open_video(codec, width, height, fps, kbps)?;
        Ok(Self {
            codec,
            width,
            height,
            fps,
            kbps,
            wanted_kbps: kbps,
            reopened: Instant::now(),
            enc,
            frame: ff::frame::Video::new(ff::format::Pixel::YUV420P, width, height),
        })
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// The bitrate the encoder runs at now (kbps).
    pub fn bitrate(&self) -> u32 {
        self.kbps
    }

    /// Encodes one picture (`i420` tightly packed at the encoder's size); `pts` in
    /// milliseconds, increasing. Returns what the encoder has ready (zero or one frame with
    /// these settings).
    pub fn encode(
        &mut self,
        i420: &[u8],
        pts: i64,
        force_keyframe: bool,
    ) -> Result<Vec<EncodedVideo>, MediaError> {
        let need = i420_len(self.width, self.height);
        if i420.len() != need {
            return Err(MediaError::BadInput {
                codec: self.codec.name(),
                reason: format!(
                    "a picture of {} bytes, expected {need} for {}×{} I420",
                    i420.len(),
                    self.width,
                    self.height
                ),
            });
        }
        let mut force_keyframe = force_keyframe;
        self.apply_bitrate(&mut force_keyframe)?;
        // SAFETY: the encoder may still reference the previous buffer; this gives the frame
        // its own writable one if so.
        unsafe {
            ff::ffi::av_frame_make_writable(self.frame.as_mut_ptr());
        }
        copy_i420(&mut self.frame, i420);
        self.frame.set_pts(Some(pts));
        self.frame.set_kind(if force_keyframe {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        let codec = self.codec.name();
        self.enc
            .send_frame(&self.frame)
            .map_err(|e| MediaError::Encode {
                codec,
                reason: e.to_string(),
            })?;
        let mut out = Vec::new();
        let mut packet = ff::Packet::empty();
        while self.enc.receive_packet(&mut packet).is_ok() {
            if let Some(data) = packet.data() {
                out.push(EncodedVideo {
                    data: data.to_vec(),
                    keyframe: packet.is_key(),
                });
            }
        }
        Ok(out)
    }

    /// Sets the target bitrate for the next pictures (x264 reconfigures in place; a VP8
    /// encoder is reopened when the change is large enough and not too often).
    pub fn set_bitrate(&mut self, kbps: u32) {
        self.wanted_kbps = kbps.clamp(50, 20_000);
    }

    fn apply_bitrate(&mut self, force_keyframe: &mut bool) -> Result<(), MediaError> {
        if self.wanted_kbps == self.kbps {
            return Ok(());
        }
        match self.codec {
            VideoCodec::H264 => {
                let bps = self.wanted_kbps as i64 * 1000;
                // SAFETY: plain integer fields of the open context we own; libx264 compares
                // them with its own before each frame and reconfigures when they differ.
                unsafe {
                    let ctx = self.enc.as_mut_ptr();
                    (*ctx).bit_rate = bps;
                    (*ctx).rc_max_rate = bps;
                    (*ctx).rc_buffer_size = bps.min(i32::MAX as i64) as i32;
                }
                self.kbps = self.wanted_kbps;
            }
            VideoCodec::Vp8 => {
                let change = (self.wanted_kbps as f64 - self.kbps as f64).abs() / self.kbps as f64;
                if change >= VP8_REOPEN_CHANGE && self.reopened.elapsed() >= VP8_REOPEN_EVERY {
                    self.enc = open_video(
                        self.codec,
                        self.width,
                        self.height,
                        self.fps,
                        self.wanted_kbps,
                    )?;
                    self.kbps = self.wanted_kbps;
                    self.reopened = Instant::now();
                    *force_keyframe = true;
                }
            }
        }
        Ok(())
    }
}

/// Copies a tightly packed I420 picture into a frame with its own strides.
fn copy_i420(frame: &mut ff::frame::Video, data: &[u8]) {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
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

const OPUS: &str = "Opus";

/// libopus at 48 kHz stereo in 20 ms frames.
pub struct AudioEncoder {
    enc: ff::encoder::Audio,
    frame: ff::frame::Audio,
    pts: i64,
}

impl AudioEncoder {
    pub fn new(kbps: u32) -> Result<Self, MediaError> {
        init();
        let err = |reason: String| MediaError::Open {
            codec: OPUS,
            what: "encoder",
            reason,
        };
        let codec = ff::encoder::find_by_name("libopus").ok_or(MediaError::Missing {
            codec: OPUS,
            what: "libopus encoder".into(),
        })?;
        let mut enc = ff::codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(|e| err(e.to_string()))?;
        let fmt = ff::format::Sample::F32(ff::format::sample::Type::Packed);
        enc.set_rate(RATE as i32);
        enc.set_format(fmt);
        compat::set_stereo(&mut enc);
        enc.set_bit_rate(kbps.clamp(6, 510) as usize * 1000);
        enc.set_time_base((1, RATE as i32));
        let mut d = ff::Dictionary::new();
        d.set("frame_duration", "20");
        d.set("application", "audio");
        let enc = enc.open_with(d).map_err(|e| err(e.to_string()))?;
        let mut frame = ff::frame::Audio::new(fmt, OPUS_FRAME, ff::ChannelLayout::STEREO);
        compat::set_frame_stereo(&mut frame);
        frame.set_rate(RATE);
        Ok(Self { enc, frame, pts: 0 })
    }

    /// One 20 ms block (960 stereo interleaved samples per channel, 1,920 values) → one packet.
    pub fn encode(&mut self, stereo_20ms: &[f32]) -> Result<Vec<u8>, MediaError> {
        if stereo_20ms.len() != 2 * OPUS_FRAME {
            return Err(MediaError::BadInput {
                codec: OPUS,
                reason: format!(
                    "a block of {} values, expected {} (20 ms stereo)",
                    stereo_20ms.len(),
                    2 * OPUS_FRAME
                ),
            });
        }
        // SAFETY: as for video, the encoder may hold the previous buffer.
        unsafe {
            ff::ffi::av_frame_make_writable(self.frame.as_mut_ptr());
        }
        let dst = self.frame.data_mut(0);
        for (d, s) in dst.chunks_exact_mut(4).zip(stereo_20ms) {
            d.copy_from_slice(&s.clamp(-1.0, 1.0).to_ne_bytes());
        }
        self.frame.set_pts(Some(self.pts));
        self.pts += OPUS_FRAME as i64;
        let enc_err = |reason: String| MediaError::Encode {
            codec: OPUS,
            reason,
        };
        self.enc
            .send_frame(&self.frame)
            .map_err(|e| enc_err(e.to_string()))?;
        let mut packet = ff::Packet::empty();
        let mut out = Vec::new();
        while self.enc.receive_packet(&mut packet).is_ok() {
            if let Some(data) = packet.data() {
                out.extend_from_slice(data);
            }
        }
        if out.is_empty() {
            return Err(enc_err("no packet for a whole frame".into()));
        }
        Ok(out)
    }
}
