//! Decoders for what guests send: VP8 or H.264 frames as str0m's depacketizer hands them
//! (one whole frame, H.264 in Annex B), and Opus packets. Input comes from the network: every
//! failure is an error, never a panic.

use super::common::{MediaError, OPUS_FRAME, RATE, VideoCodec, i420_len, init};
use super::compat;
use ffmpeg_next as ff;

/// Pictures larger than this are refused (a hostile stream must not make us allocate gigabytes).
const MAX_PIXELS: u64 = 4096 * 2304;

/// One decoded picture, tightly packed I420.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedVideo {
    pub width: u32,
    pub height: u32,
    /// Y, then U, then V, each plane without padding (chroma rounded up for odd sizes).
    pub i420: Vec<u8>,
}

/// A VP8 or H.264 decoder (FFmpeg's own, single-threaded: one frame in, one picture out).
pub struct VideoDecoder {
    codec: VideoCodec,
    dec: ff::decoder::Video,
    frame: ff::frame::Video,
    /// Converts pictures that are not YUV420P (e.g. a full-range or 4:4:4 H.264 stream).
    scaler: Option<(ff::software::scaling::Context, ff::format::Pixel, u32, u32)>,
}

impl VideoDecoder {
    pub fn new(codec: VideoCodec) -> Result<Self, MediaError> {
        init();
        let id = match codec {
            VideoCodec::Vp8 => ff::codec::Id::VP8,
            VideoCodec::H264 => ff::codec::Id::H264,
        };
        let found = ff::decoder::find(id).ok_or(MediaError::Missing {
            codec: codec.name(),
            what: "decoder".into(),
        })?;
        let mut ctx = ff::codec::context::Context::new_with_codec(found);
        // No frame threading: it would hold pictures back by one frame per thread.
        ctx.set_threading(ff::codec::threading::Config {
            kind: ff::codec::threading::Type::Slice,
            count: 1,
            ..Default::default()
        });
        let dec = ctx.decoder().video().map_err(|e| MediaError::Open {
            codec: codec.name(),
            what: "decoder",
            reason: e.to_string(),
        })?;
        Ok(Self {
            codec,
            dec,
            frame: ff::frame::Video::empty(),
            scaler: None,
        })
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    fn err(&self, reason: impl Into<String>) -> MediaError {
        MediaError::Decode {
            codec: self.codec.name(),
            reason: reason.into(),
        }
    }

    /// One whole frame as str0m's depacketizer hands it (`MediaData::data`). `Ok(None)` while
    /// the decoder has no picture (e.g. waiting for a keyframe); garbage is an error.
    pub fn decode(&mut self, frame: &[u8]) -> Result<Option<DecodedVideo>, MediaError> {
        if frame.is_empty() {
            return Err(MediaError::BadInput {
                codec: self.codec.name(),
                reason: "an empty frame".into(),
            });
        }
        if self.codec == VideoCodec::H264 && !starts_with_start_code(frame) {
            return Err(MediaError::BadInput {
                codec: self.codec.name(),
                reason: "the frame is not Annex B (no start code)".into(),
            });
        }
        let packet = ff::Packet::copy(frame);
        self.dec
            .send_packet(&packet)
            .map_err(|e| self.err(e.to_string()))?;
        let mut last = None;
        loop {
            match self.dec.receive_frame(&mut self.frame) {
                Ok(()) => last = Some(self.picture()?),
                Err(ff::Error::Other {
                    errno: ff::util::error::EAGAIN,
                }) => break,
                Err(ff::Error::Eof) => break,
                Err(e) => return Err(self.err(e.to_string())),
            }
        }
        Ok(last)
    }

    fn picture(&mut self) -> Result<DecodedVideo, MediaError> {
        let (w, h) = (self.frame.width(), self.frame.height());
        if w == 0 || h == 0 || (w as u64) * (h as u64) > MAX_PIXELS {
            return Err(self.err(format!("picture size {w}×{h} out of range")));
        }
        let fmt = self.frame.format();
        if fmt == ff::format::Pixel::YUV420P || fmt == ff::format::Pixel::YUVJ420P {
            return Ok(DecodedVideo {
                width: w,
                height: h,
                i420: pack_i420(&self.frame),
            });
        }
        let fresh =
            !matches!(&self.scaler, Some((_, f, sw, sh)) if *f == fmt && *sw == w && *sh == h);
        if fresh {
            let ctx = ff::software::scaling::Context::get(
                fmt,
                w,
                h,
                ff::format::Pixel::YUV420P,
                w,
                h,
                ff::software::scaling::Flags::BILINEAR,
            )
            .map_err(|e| self.err(format!("converting {fmt:?} to I420: {e}")))?;
            self.scaler = Some((ctx, fmt, w, h));
        }
        let mut out = ff::frame::Video::new(ff::format::Pixel::YUV420P, w, h);
        let Some((scaler, ..)) = self.scaler.as_mut() else {
            return Err(self.err("no converter"));
        };
        scaler
            .run(&self.frame, &mut out)
            .map_err(|e| MediaError::Decode {
                codec: self.codec.name(),
                reason: format!("converting {fmt:?} to I420: {e}"),
            })?;
        Ok(DecodedVideo {
            width: w,
            height: h,
            i420: pack_i420(&out),
        })
    }
}

fn starts_with_start_code(b: &[u8]) -> bool {
    b.starts_with(&[0, 0, 1]) || b.starts_with(&[0, 0, 0, 1])
}

/// Copies a YUV420P frame's planes without their stride padding.
pub(crate) fn pack_i420(frame: &ff::frame::Video) -> Vec<u8> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity(i420_len(w as u32, h as u32));
    for (plane, pw, ph) in [(0, w, h), (1, cw, ch), (2, cw, ch)] {
        let stride = frame.stride(plane);
        let data = frame.data(plane);
        for y in 0..ph {
            out.extend_from_slice(&data[y * stride..y * stride + pw]);
        }
    }
    out
}

/// Opus → 48 kHz stereo interleaved f32, through libopus when FFmpeg has it (its packet loss
/// concealment is what [`AudioDecoder::conceal`] uses), else FFmpeg's own Opus decoder.
pub struct AudioDecoder {
    dec: ff::decoder::Audio,
    frame: ff::frame::Audio,
    /// The last good packet's TOC byte: a lost packet is concealed by decoding an empty frame
    /// of the same mode.
    last_toc: Option<u8>,
    /// The last block decoded, faded out when the decoder cannot conceal.
    last: Vec<f32>,
    libopus: bool,
}

const OPUS: &str = "Opus";

impl AudioDecoder {
    pub fn new() -> Result<Self, MediaError> {
        init();
        let (codec, libopus) = match ff::decoder::find_by_name("libopus") {
            Some(c) => (c, true),
            None => (
                ff::decoder::find(ff::codec::Id::OPUS).ok_or(MediaError::Missing {
                    codec: OPUS,
                    what: "decoder".into(),
                })?,
                false,
            ),
        };
        let mut ctx = ff::codec::context::Context::new_with_codec(codec);
        compat::prepare_opus_decoder(&mut ctx);
        let dec = ctx.decoder().audio().map_err(|e| MediaError::Open {
            codec: OPUS,
            what: "decoder",
            reason: e.to_string(),
        })?;
        Ok(Self {
            dec,
            frame: ff::frame::Audio::empty(),
            last_toc: None,
            last: Vec::new(),
            libopus,
        })
    }

    fn err(reason: impl Into<String>) -> MediaError {
        MediaError::Decode {
            codec: OPUS,
            reason: reason.into(),
        }
    }

    /// One Opus packet → its samples (48 kHz stereo interleaved).
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<f32>, MediaError> {
        if packet.is_empty() {
            return Err(MediaError::BadInput {
                codec: OPUS,
                reason: "an empty packet".into(),
            });
        }
        let out = self.run(packet)?;
        self.last_toc = Some(packet[0]);
        self.last.clone_from(&out);
        Ok(out)
    }

    fn run(&mut self, packet: &[u8]) -> Result<Vec<f32>, MediaError> {
        self.dec
            .send_packet(&ff::Packet::copy(packet))
            .map_err(|e| Self::err(e.to_string()))?;
        let mut out = Vec::new();
        loop {
            match self.dec.receive_frame(&mut self.frame) {
                Ok(()) => interleave(&self.frame, &mut out)?,
                Err(ff::Error::Other {
                    errno: ff::util::error::EAGAIN,
                }) => break,
                Err(ff::Error::Eof) => break,
                Err(e) => return Err(Self::err(e.to_string())),
            }
        }
        Ok(out)
    }

    /// Loss concealment for one missing 20 ms packet: libopus's PLC (an Opus frame of length
    /// zero means "lost"), or a fade of the last block when that is not available.
    pub fn conceal(&mut self) -> Vec<f32> {
        if let (true, Some(toc)) = (self.libopus, self.last_toc) {
            // Code 0 (one frame) with no frame data, in the last packet's mode and duration.
            if let Ok(v) = self.run(&[toc & 0xfc])
                && !v.is_empty()
            {
                self.last.clone_from(&v);
                return v;
            }
        }
        let n = if self.last.is_empty() {
            2 * OPUS_FRAME
        } else {
            self.last.len()
        };
        let mut out = vec![0.0; n];
        if !self.last.is_empty() {
            let frames = n / 2;
            for (i, pair) in out.chunks_exact_mut(2).enumerate() {
                let g = 1.0 - i as f32 / frames as f32;
                pair[0] = self.last[2 * i] * g;
                pair[1] = self.last[2 * i + 1] * g;
            }
        }
        self.last.iter_mut().for_each(|s| *s = 0.0);
        out
    }
}

/// Appends a decoded frame as stereo interleaved f32 (mono is doubled, extra channels dropped).
fn interleave(frame: &ff::frame::Audio, out: &mut Vec<f32>) -> Result<(), MediaError> {
    use ff::format::Sample as S;
    use ff::format::sample::Type as T;
    if frame.rate() != 0 && frame.rate() != RATE {
        return Err(AudioDecoder::err(format!(
            "decoded at {} Hz, expected {RATE}",
            frame.rate()
        )));
    }
    let n = frame.samples();
    let ch = frame.channels().max(1) as usize;
    let (bytes, planar) = match frame.format() {
        S::F32(T::Packed) => (4, false),
        S::F32(T::Planar) => (4, true),
        S::I16(T::Packed) => (2, false),
        S::I16(T::Planar) => (2, true),
        other => {
            return Err(AudioDecoder::err(format!(
                "unexpected sample format {other:?}"
            )));
        }
    };
    let read = |b: &[u8], i: usize| -> f32 {
        if bytes == 4 {
            f32::from_ne_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        } else {
            i16::from_ne_bytes([b[2 * i], b[2 * i + 1]]) as f32 / 32768.0
        }
    };
    let need = if planar { n * bytes } else { n * ch * bytes };
    let planes: Vec<&[u8]> = (0..frame.planes()).map(|p| frame.data(p)).collect();
    if planes.is_empty() || planes.iter().any(|p| p.len() < need) || (planar && planes.len() < ch) {
        return Err(AudioDecoder::err("a decoded frame shorter than it says"));
    }
    out.reserve(2 * n);
    for i in 0..n {
        let (l, r) = if planar {
            let l = read(planes[0], i);
            (l, if ch > 1 { read(planes[1], i) } else { l })
        } else {
            let l = read(planes[0], i * ch);
            (
                l,
                if ch > 1 {
                    read(planes[0], i * ch + 1)
                } else {
                    l
                },
            )
        };
        out.push(l);
        out.push(r);
    }
    Ok(())
}
