//! The live session engine: clock, compositor, audio mixer, encoders, outputs (RTMP and
//! recording) with their queues, congestion and reconnect logic, and stats.
//!
//! Data flow: sources → [`compose`] (one tick per output frame) and [`mixer`] (AAC-sized
//! chunks) → [`encode`] threads → packet bus → one queue + writer thread per [`output`].
//! Stateful protocol logic ([`output::policy`], [`mixer::TimelineBuffer`],
//! [`compose::FrameSelector`]) is sans-IO and tested without sleeping.

mod compat;
pub mod compose;
pub mod director;
pub mod encode;
pub mod events;
pub mod frames;
pub mod mixer;
pub mod output;
pub mod overlays;
pub mod packet;
pub mod preview;
pub use compose::program;
pub mod session;
mod sources;
pub mod stats;
pub mod url;

pub use encode::{AudioSettings, EncoderChoice, VideoSettings};
pub use events::{Event, EventKind};
pub use frames::{ComposedFrame, FrameTap};
pub use marquee_overlay::{Comment, Gift, OverlayItem, OverlaySpec};
pub use marquee_scene::{Scene, Transition};
pub use overlays::{OverlayCmd, OverlayControl};
pub use session::{
    DestinationConfig, SceneControl, SceneSetup, Session, SessionConfig, SourceConfig, Summary,
};
pub use stats::{OutputState, StatsSnapshot};
pub use url::DestinationUrl;

/// Errors from starting or running a session. Messages say what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    #[error("video encoder {name}: {reason}")]
    Encoder { name: String, reason: String },
    #[error(transparent)]
    Capture(#[from] marquee_capture::CaptureError),
    #[error("{0}")]
    Frame(String),
    #[error("{0}")]
    Output(String),
    #[error("invalid settings: {0}")]
    Settings(String),
}

/// Initialises FFmpeg once (silencing its log, which could print URLs with keys).
pub fn init() {
    marquee_capture::file::init_ffmpeg();
}

/// Starts one of the session's named threads (the name shows in `top -H` and debuggers).
pub(crate) fn spawn_thread(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawning a thread only fails when the OS is out of resources")
}
