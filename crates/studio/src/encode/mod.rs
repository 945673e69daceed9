//! The encoders, each opened once per session (before the clock starts) and never reopened,
//! each on its own thread: `video.rs` (libx264 with broadcast settings, or a hardware
//! encoder probed at run time) and `audio.rs` (AAC-LC). Both hand their packets to the
//! packet bus.

pub(crate) mod audio;
mod drain;
pub(crate) mod video;

pub use audio::{AudioSettings, OpenedAudio, open_audio};
pub use drain::drain;
pub(crate) use video::copy_i420_into;
pub use video::{
    EncoderChoice, HARDWARE_ENCODERS, OpenedVideo, RateControl, VideoSettings, open_video,
    open_video_with, probe_encoders,
};
