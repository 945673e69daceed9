//! Media between WebRTC and the show: guest VP8/H.264/Opus decoded into frames and audio
//! blocks, and encoders for what Marquee sends (the native guest's media, the return feed).
//!
//! Video is tightly packed I420 (like `marquee_capture::PixelFormat::I420`); audio is 48 kHz
//! stereo interleaved f32, Opus in 20 ms packets (960 samples per channel).

mod common;
mod compat;
mod decode;
mod encode;

pub use common::{MediaError, OPUS_FRAME, RATE, VideoCodec, i420_len};
pub(crate) use decode::pack_i420;
pub use decode::{AudioDecoder, DecodedVideo, VideoDecoder};
pub use encode::{AudioEncoder, EncodedVideo, VideoEncoder};

#[cfg(test)]
mod tests;
