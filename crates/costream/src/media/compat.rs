//! The FFmpeg calls whose shape changed between versions (channel layouts at FFmpeg 5.1/7).
//! Keep any version-dependent call here so builds against newer FFmpeg touch one file.

use ffmpeg_next as ff;

/// Tells an audio decoder, before it opens, that the stream is 48 kHz stereo and that packed
/// f32 is the output wanted (libopus honours the request; others decode to their own format).
pub fn prepare_opus_decoder(ctx: &mut ff::codec::context::Context) {
    // SAFETY: plain fields of a context we own that is not open yet; `ch_layout` exists since
    // FFmpeg 5.1 and `av_channel_layout_default` fills it in place.
    unsafe {
        let c = ctx.as_mut_ptr();
        (*c).sample_rate = super::common::RATE as i32;
        (*c).request_sample_fmt = ff::ffi::AVSampleFormat::AV_SAMPLE_FMT_FLT;
        ff::ffi::av_channel_layout_default(&mut (*c).ch_layout, 2);
    }
}

/// Stereo layout for an audio encoder.
pub fn set_stereo(enc: &mut ff::codec::encoder::audio::Audio) {
    enc.set_channel_layout(ff::ChannelLayout::STEREO);
}

/// Stereo layout for an audio frame.
pub fn set_frame_stereo(frame: &mut ff::frame::Audio) {
    frame.set_channel_layout(ff::ChannelLayout::STEREO);
}
