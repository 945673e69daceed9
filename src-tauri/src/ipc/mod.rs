//! What crosses IPC: the types (`marquee_appcore::ipc`, by feature) and the declaration
//! machinery ([`declare`]) the command list (`commands/mod.rs`) and the event list
//! (`events.rs`) are written in. TypeScript for all of it is generated (`ts-rs` plus
//! [`declare`], rendered by `marquee_ipc_ts`) into `ui/src/bindings/` and committed;
//! `bindings::tests::committed_bindings_are_fresh` fails when it is stale.

pub mod declare;

pub use declare::{Bytes, Callback};
pub use marquee_appcore::ipc::*;
