//! Opening encoders: libx264 with broadcast settings, hardware encoders probed at run
//! time, and AAC-LC. The encoder is opened once per session and never reopened.

use crate::StudioError;
use crate::compat;
use crate::packet::{StreamInfo, Track};
use ffmpeg_next as ff;

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

/// Audio settings (AAC-LC, stereo, 48 kHz).
#[derive(Debug, Clone)]
pub struct AudioSettings {
    pub bitrate_kbps: u32,
    /// Gain on the main input (the microphone), in dB; camera microphones are not changed.
    pub gain_db: f32,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            bitrate_kbps: 128,
            gain_db: 0.0,
        }
    }
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

fn video_options(s: &VideoSettings, x264: bool) -> ff::Dictionary<'static> {
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
        d.set("x264-params", "nal-hrd=cbr:force-cfr=1");
    }
    d
}

fn try_open_video(name: &str, s: &VideoSettings) -> Result<OpenedVideo, String> {
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
        .open_with(video_options(s, name == "libx264"))
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

/// Opens the chosen video encoder; `Auto` tries hardware encoders and falls back to x264.
pub fn open_video(s: &VideoSettings) -> Result<OpenedVideo, StudioError> {
    crate::init();
    match &s.encoder {
        EncoderChoice::X264 => try_open_video("libx264", s).map_err(|e| StudioError::Encoder {
            name: "libx264".into(),
            reason: e,
        }),
        EncoderChoice::Named(n) => try_open_video(n, s).map_err(|e| StudioError::Encoder {
            name: n.clone(),
            reason: format!("{e} (see `marquee devices --encoders`, or use --encoder x264)"),
        }),
        EncoderChoice::Auto => {
            let mut skipped = Vec::new();
            for name in HARDWARE_ENCODERS {
                match try_open_video(name, s) {
                    Ok(mut v) => {
                        v.skipped = skipped;
                        return Ok(v);
                    }
                    Err(e) => skipped.push((name.to_string(), e)),
                }
            }
            let mut v = try_open_video("libx264", s).map_err(|e| StudioError::Encoder {
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
    crate::init();
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
        .map(|n| (n.to_string(), try_open_video(n, &s).map(|_| ())))
        .collect()
}

/// An opened AAC encoder.
pub struct OpenedAudio {
    pub encoder: ff::encoder::Audio,
    pub info: StreamInfo,
    /// Samples per channel in each frame the encoder takes (1024 for AAC).
    pub frame_size: usize,
}

/// Opens AAC-LC, 48 kHz stereo, at the given bitrate.
pub fn open_audio(s: &AudioSettings) -> Result<OpenedAudio, StudioError> {
    crate::init();
    let err = |reason: String| StudioError::Encoder {
        name: "aac".into(),
        reason,
    };
    let codec = ff::encoder::find(ff::codec::Id::AAC)
        .ok_or_else(|| err("not in this FFmpeg build".into()))?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(|e| err(e.to_string()))?;
    enc.set_rate(crate::mixer::RATE as i32);
    enc.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
    compat::set_stereo(&mut enc);
    enc.set_bit_rate(s.bitrate_kbps as usize * 1000);
    enc.set_time_base((1, crate::mixer::RATE as i32));
    enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let opened = enc.open().map_err(|e| err(e.to_string()))?;
    let frame_size = (opened.frame_size() as usize).max(1);
    let mut params = ff::codec::Parameters::from(&opened);
    // The priming packet is dropped (see the audio encoder thread), so containers must not
    // tell decoders to skip priming samples too: that would shift audio 21 ms early.
    // SAFETY: a plain field of the parameters we own.
    unsafe {
        (*params.as_mut_ptr()).initial_padding = 0;
    }
    let info = StreamInfo {
        track: Track::Audio,
        params,
        time_base: (1, crate::mixer::RATE as i32),
    };
    Ok(OpenedAudio {
        encoder: opened,
        info,
        frame_size,
    })
}
