//! The FFmpeg calls whose shape changed between versions (channel layouts at FFmpeg 7).
//! ffmpeg-next hides the field change behind `set_channel_layout`; FFmpeg 5.1 derives the
//! channel count from the layout when it opens the codec. Keep any further
//! version-dependent call here so macOS/Windows builds against newer FFmpeg touch one file.

use ffmpeg_next as ff;

/// Stereo layout for an audio encoder.
pub fn set_stereo(enc: &mut ff::codec::encoder::audio::Audio) {
    enc.set_channel_layout(ff::ChannelLayout::STEREO);
}

/// Stereo layout for an audio frame.
pub fn set_frame_stereo(frame: &mut ff::frame::Audio) {
    frame.set_channel_layout(ff::ChannelLayout::STEREO);
}
