//! Devices and sources → timestamped frames and samples.
//!
//! Every source runs on its own thread, does no work beyond copy/stamp/send, and hands
//! its output to a bounded [`Sink`] that drops (and counts) instead of blocking. Cameras
//! implement [`camera::CameraDevice`]; the synthetic camera and nokhwa's real ones share
//! one capture loop ([`camera::spawn_camera`]).

pub mod audio;
pub mod camera;
pub mod clock;
mod error;
pub mod feed;
pub mod file;
pub mod frame;
pub mod nokhwa_cam;
pub mod pattern;
pub mod pool;
pub mod remote;
pub mod remote_latency;
pub mod sink;
pub mod spec;
mod url;

pub use camera::{CameraMode, SourceHandle, SourceState};
pub use clock::SessionClock;
pub use error::CaptureError;
pub use frame::{AudioBlock, PixelFormat, VideoFrame};
pub use pool::{FrameBuf, FramePool};
pub use sink::{Sink, bounded};
pub use spec::{AudioSpec, VideoSpec};
pub use url::url_escape;
