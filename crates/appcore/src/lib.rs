//! The desktop app without Tauri: everything of it that is not wiring to the WebView, so it
//! builds and its tests run without WebKitGTK (`cargo test -p marquee-appcore`), and
//! `src-tauri` stays the shell that maps commands and events onto it.
//!
//! - [`ipc`]: the types that cross IPC, by feature (mirrors of engine types, so no engine crate
//!   depends on a bindings generator); [`error::AppError`]: the one error type (code + message).
//! - [`settings`]: the UI's settings to and from the profile and the keychain.
//! - [`live`]: the UI's settings become a show; the show's events and stats become the UI's.
//! - [`invites`]: the invite link of each guest slot while live.

pub mod error;
pub mod invites;
pub mod ipc;
pub mod live;
pub mod settings;
