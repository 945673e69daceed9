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
pub mod disk;
pub mod encode;
mod error;
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
mod util;

pub use encode::{AudioSettings, EncoderChoice, VideoSettings};
pub use error::StudioError;
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
pub use util::init;
