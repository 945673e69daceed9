//! The compositor: one tick per output frame on the session clock. Per source a
//! [`FrameSelector`] picks the frame due for the tick, the [`program`] lays the sources out
//! by the scene on air (and runs transitions), a [`Letterbox`] fits each picture into the
//! I420 [`Canvas`], and the cadence holds when a camera stops (repeat the last frame, then
//! the "camera lost" slate after a second). [`SceneControl`] is the host's handle to switch
//! scenes; the compositor thread that runs all this is in `thread.rs`.

mod canvas;
mod control;
pub mod program;
mod selector;
pub(crate) mod thread;

pub use canvas::{Canvas, Letterbox, fit, slate};
pub use control::SceneControl;
pub use marquee_scene::Rect;
pub use selector::{FrameSelector, Pick};
