//! The show engine: everything between "the user's settings" and "a running show". The
//! `marquee` CLI and the desktop app are thin shells over it: the CLI parses flags and prints,
//! the app maps IPC to calls and events; neither builds a session by itself.
//!
//! - [`settings`]: [`ShowSettings`], the one plain description of a show (filled from a
//!   profile, flags or the app's form), checked and resolved once (stream keys included).
//! - [`show`]: [`Show`], the running show — session, highlights, room signals, the audience
//!   on the danmaku layer, the preview tap, a monitor with events and stats for an
//!   [`Observer`], and a clean stop.
//! - [`audience`]: what the audience does, from the room (and later platforms and guests), and
//!   the one mapping to overlay commands and highlight signals.
//! - [`chat`]: platform chat (bilibili, Twitch, YouTube) read beside the show into the
//!   audience, each source's state to the [`Observer`].
//! - [`destination`]: destinations as people enter them; an inline key moves to the keychain.
//! - [`overlays`]: overlays as a settings form edits them, over the profile's items.
//! - [`preview`]: [`PreviewHub`], the picture a page shows (a localhost MJPEG stream), fed by
//!   a live show or, before going live, by a device alone.
//! - [`room`]: [`HostRoom`], the host's own room: the room server embedded in the app and
//!   the host's connection to it, kept for a page that attaches late.
//! - [`invites`]: where guests signal: the host's room, else an invite server of the show's
//!   own.
//! - [`stats`]: rates from the engine's counters; [`control`]: the local control channel;
//!   [`follow`]: a room followed as a client.

pub mod audience;
pub mod chat;
pub mod control;
pub mod destination;
mod error;
pub mod firewall;
pub mod follow;
pub mod guests;
pub mod invites;
mod mjpeg;
pub mod moderate;
pub mod netif;
pub mod overlays;
pub mod preview;
pub mod remote_camera;
pub mod room;
pub mod room_home;
pub mod settings;
pub mod show;
pub mod stats;

pub use audience::Audience;
pub use error::ShowError;
pub use guests::{GuestSettings, GuestTurn};
pub use preview::{PreviewHub, PreviewInfo};
pub use room::HostRoom;
pub use settings::{HighlightSettings, Recording, ShowSettings, SourceSetting};
pub use show::{Observer, Show, ShowSummary};
pub use stats::{OutputRate, ShowStats};
