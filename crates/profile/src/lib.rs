//! Settings profiles (TOML in the platform config dir) and stream keys (OS keychain only).
//!
//! A stream key is never written to a file: profiles refer to keys as `key:NAME` at the
//! end of a destination URL, and [`keys`] keeps the values in the OS keychain.

pub mod config;
pub mod keys;
pub mod paths;

pub use config::{AppPrefs, Config, GuestPrefs, PlaybackPref, Profile, RoomHomePrefs, RoomPrefs};
pub use keys::{KeyError, Keychain};
