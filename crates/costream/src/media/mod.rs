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

/// The payload type `codec` is sent with on `mid` as negotiated (H.264 only in
/// packetization mode 1, the one the encoders' output is packetized for), if any.
pub(crate) fn payload_type(
    rtc: &mut str0m::Rtc,
    mid: str0m::media::Mid,
    codec: str0m::format::Codec,
) -> Option<str0m::media::Pt> {
    use str0m::format::Codec;
    let w = rtc.writer(mid)?;
    w.payload_params()
        .find(|p| {
            let s = p.spec();
            s.codec == codec && (codec != Codec::H264 || s.format.packetization_mode == Some(1))
        })
        .map(|p| p.pt())
}

#[cfg(test)]
mod tests;
