//! A synthetic session encoded for real (libx264 + AAC through `marquee_studio::encode`,
//! the same encoders `marquee live` opens), faster than real time: for tests, the
//! benchmark and demos. Nothing here is a stand-in for FFmpeg.

use crate::error::{HighlightError, Result};
use ffmpeg_next as ff;
use marquee_studio::encode::drain;
use marquee_studio::encode::{self, AudioSettings, EncoderChoice, VideoSettings};
use marquee_studio::packet::{Packet, StreamInfo, Track};
use std::time::Duration;

/// What to encode.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub seconds: f64,
    pub bitrate_kbps: u32,
    pub preset: String,
    /// Tone level outside `loud` spans, in dBFS (peak of the sine).
    pub quiet_dbfs: f32,
    /// Spans (session seconds) where the tone is at `loud_dbfs`.
    pub loud: Vec<(f64, f64)>,
    pub loud_dbfs: f32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            width: 320,
            height: 240,
            fps: 30,
            seconds: 10.0,
            bitrate_kbps: 600,
            preset: "ultrafast".into(),
            quiet_dbfs: -30.0,
            loud: Vec::new(),
            loud_dbfs: -6.0,
        }
    }
}

/// Encoded packets in decode-time order, plus the streams that describe them.
#[derive(Debug, Clone)]
pub struct SynthSession {
    pub streams: Vec<StreamInfo>,
    pub packets: Vec<Packet>,
}

impl SynthSession {
    pub fn time_of(&self, p: &Packet) -> Duration {
        let tb = self
            .streams
            .iter()
            .find(|s| s.track == p.track)
            .map(|s| s.time_base)
            .unwrap_or((1, 1000));
        p.dts_time(tb)
    }
    pub fn video_tb(&self) -> (i32, i32) {
        self.streams[0].time_base
    }
    pub fn audio_tb(&self) -> (i32, i32) {
        self.streams
            .get(1)
            .map(|s| s.time_base)
            .unwrap_or((1, 48000))
    }
}

/// The tone's sample at index `i` (48 kHz) for this config.
pub fn tone_sample(cfg: &SynthConfig, i: usize) -> f32 {
    let t = i as f64 / 48_000.0;
    let loud = cfg.loud.iter().any(|(a, b)| t >= *a && t < *b);
    let db = if loud { cfg.loud_dbfs } else { cfg.quiet_dbfs };
    let amp = 10f32.powf(db / 20.0);
    amp * (2.0 * std::f64::consts::PI * 440.0 * t).sin() as f32
}

/// Encodes `cfg.seconds` of a moving picture and a tone.
pub fn encode_session(cfg: &SynthConfig) -> Result<SynthSession> {
    let err = |e: marquee_studio::StudioError| HighlightError::media("synthetic encode", e);
    let mut v = encode::open_video(&VideoSettings {
        width: cfg.width,
        height: cfg.height,
        fps: cfg.fps,
        bitrate_kbps: cfg.bitrate_kbps,
        encoder: EncoderChoice::X264,
        preset: cfg.preset.clone(),
    })
    .map_err(err)?;
    let mut a = encode::open_audio(&AudioSettings::default()).map_err(err)?;
    let streams = vec![v.info.clone(), a.info.clone()];
    let (w, h) = (cfg.width as usize, cfg.height as usize);
    let frames = (cfg.seconds * cfg.fps as f64).round() as i64;
    let mut video = Vec::new();
    let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, cfg.width, cfg.height);
    let drain_v = |enc: &mut ff::encoder::Video, out: &mut Vec<Packet>| {
        out.extend(drain(enc, Track::Video).map(|p| Packet { duration: 1, ..p }));
    };
    for i in 0..frames {
        // SAFETY: the encoder may still reference the previous buffer; make ours private.
        unsafe {
            ff::ffi::av_frame_make_writable(frame.as_mut_ptr());
        }
        let stride = frame.stride(0);
        let y = frame.data_mut(0);
        let bx = (i as usize * 4) % w.max(1);
        for row in 0..h {
            for col in 0..w {
                let in_box = col >= bx && col < bx + w / 8 && row >= h / 3 && row < h / 3 + h / 4;
                // A gradient plus noise-ish texture so the encoder has real work.
                let tex = ((col * 7 + row * 13 + i as usize * 3) ^ (col * row)) & 0x3f;
                y[row * stride + col] = if in_box { 235 } else { (tex + 60) as u8 };
            }
        }
        for plane in 1..3 {
            let stride = frame.stride(plane);
            let d = frame.data_mut(plane);
            for row in 0..h / 2 {
                for col in 0..w / 2 {
                    d[row * stride + col] = (128 + ((i as usize + plane * 40) % 64)) as u8;
                }
            }
        }
        frame.set_pts(Some(i));
        v.encoder
            .send_frame(&frame)
            .map_err(|e| HighlightError::media("synthetic video encode", e))?;
        drain_v(&mut v.encoder, &mut video);
    }
    let _ = v.encoder.send_eof();
    drain_v(&mut v.encoder, &mut video);

    let n = a.frame_size;
    let mut af = ff::frame::Audio::new(
        ff::format::Sample::F32(ff::format::sample::Type::Planar),
        n,
        ff::ChannelLayout::STEREO,
    );
    // Version-dependent (channel layouts changed at FFmpeg 7); studio's compat does the same.
    af.set_channel_layout(ff::ChannelLayout::STEREO);
    af.set_rate(48_000);
    let total = (cfg.seconds * 48_000.0) as usize;
    let mut audio = Vec::new();
    let drain_a = |enc: &mut ff::encoder::Audio, out: &mut Vec<Packet>| {
        // Priming (pts < 0) is dropped, as the live encoder does.
        out.extend(drain(enc, Track::Audio).filter(|p| p.pts >= 0));
    };
    let mut s = 0;
    while s + n <= total {
        // SAFETY: as for video.
        unsafe {
            ff::ffi::av_frame_make_writable(af.as_mut_ptr());
        }
        for c in 0..2 {
            let plane = af.plane_mut::<f32>(c);
            for (k, x) in plane.iter_mut().enumerate().take(n) {
                *x = tone_sample(cfg, s + k);
            }
        }
        af.set_pts(Some(s as i64));
        a.encoder
            .send_frame(&af)
            .map_err(|e| HighlightError::media("synthetic audio encode", e))?;
        drain_a(&mut a.encoder, &mut audio);
        s += n;
    }
    let _ = a.encoder.send_eof();
    drain_a(&mut a.encoder, &mut audio);

    let mut session = SynthSession {
        streams,
        packets: Vec::new(),
    };
    let mut all: Vec<Packet> = video.into_iter().chain(audio).collect();
    all.sort_by_key(|p| session.time_of(p));
    session.packets = all;
    Ok(session)
}
