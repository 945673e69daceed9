//! What crosses IPC, by feature (`app`, `live`, `guests`, `preview`, `room`, `settings`, `clips`; the
//! UI's stores in `ui/src/lib/` carry the same names), and the declaration machinery
//! ([`declare`]) the command list (`commands/mod.rs`) and the event list (`events.rs`) are
//! written in.
//!
//! The types mirror engine types instead of deriving on them, so no engine crate depends on
//! a bindings generator, and the UI sees a stable shape. TypeScript for all of it is
//! generated (`ts-rs` plus [`declare`], rendered by `marquee_ipc_ts`) into `ui/src/bindings/`
//! and committed; `bindings::tests::committed_bindings_are_fresh` fails when it is stale.

pub mod app;
pub mod chat;
pub mod clips;
pub mod declare;
pub mod guests;
pub mod live;
pub mod preview;
pub mod room;
pub mod settings;

pub use app::*;
pub use chat::*;
pub use clips::*;
pub use declare::{Bytes, Callback};
pub use guests::*;
pub use live::*;
pub use preview::*;
pub use room::*;
pub use settings::*;
