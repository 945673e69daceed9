//! What the decoders and encoders share: the codecs, the error, the sizes.

/// Opus's (and the mixer's) sample rate.
pub const RATE: u32 = 48_000;
/// Samples per channel in one 20 ms Opus packet.
pub const OPUS_FRAME: usize = 960;

/// The video codecs a guest may send (docs/costream.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    /// Constrained baseline, Annex B (packetization-mode 1 on the wire).
    H264,
}

impl VideoCodec {
    pub fn name(self) -> &'static str {
        match self {
            Self::Vp8 => "VP8",
            Self::H264 => "H.264",
        }
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for VideoCodec {
    type Err = MediaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "vp8" => Ok(Self::Vp8),
            "h264" | "h.264" | "avc" => Ok(Self::H264),
            _ => Err(MediaError::UnknownCodec(s.to_string())),
        }
    }
}

/// What went wrong in a decoder or an encoder; every message names the codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("{codec}: this FFmpeg build has no {what}")]
    Missing { codec: &'static str, what: String },
    #[error("{codec}: opening the {what} failed: {reason}")]
    Open {
        codec: &'static str,
        what: &'static str,
        reason: String,
    },
    #[error("{codec}: decoding failed: {reason}")]
    Decode { codec: &'static str, reason: String },
    #[error("{codec}: encoding failed: {reason}")]
    Encode { codec: &'static str, reason: String },
    #[error("{codec}: {reason}")]
    BadInput { codec: &'static str, reason: String },
    #[error("unknown video codec {0:?}: use vp8 or h264")]
    UnknownCodec(String),
}

/// Bytes of a tightly packed I420 picture (odd sizes round the chroma planes up).
pub fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

pub(crate) fn init() {
    marquee_capture::file::init_ffmpeg();
}
