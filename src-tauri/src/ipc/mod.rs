//! Types that cross IPC, by feature (`app`, `live`, `preview`, `room`, `settings`, `clips`).
//! TypeScript bindings are generated from these (`ts-rs`) into `ui/src/bindings/` and
//! committed; `bindings::tests::committed_bindings_are_fresh` fails when they are stale
//! (`UPDATE_BINDINGS=1 cargo test` rewrites them).
//!
//! They mirror engine types instead of deriving on them, so no crate under `crates/` depends on
//! a bindings generator, and the UI sees a stable shape.

pub mod app;
pub mod clips;
pub mod live;
pub mod preview;
pub mod room;
pub mod settings;

pub use app::*;
pub use clips::*;
pub use live::*;
pub use preview::*;
pub use room::*;
pub use settings::*;
