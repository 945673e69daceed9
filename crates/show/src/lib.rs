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
//! - [`destination`]: destinations as people enter them; an inline key moves to the keychain.
//! - [`overlays`]: overlays as a settings form edits them, over the profile's items.
//! - [`preview`]: [`PreviewHub`], the picture a page shows (a localhost MJPEG stream), fed by
//!   a live show or, before going live, by a device alone.
//! - [`room`]: [`HostRoom`], the host's own room: the room server embedded in the app and
//!   the host's connection to it, kept for a page that attaches late.
//! - [`stats`]: rates from the engine's counters; [`control`]: the local control channel;
//!   [`follow`]: a room followed as a client.

pub mod audience;
pub mod control;
pub mod destination;
pub mod follow;
pub mod overlays;
pub mod preview;
pub mod room;
pub mod settings;
pub mod show;
pub mod stats;

pub use audience::Audience;
pub use preview::{PreviewHub, PreviewInfo};
pub use room::HostRoom;
pub use settings::{HighlightSettings, Recording, ShowSettings, SourceSetting};
pub use show::{Observer, Show, ShowSummary};
pub use stats::{OutputRate, ShowStats};

/// Why a show could not start or a request failed. Messages say what was wrong and what to
/// do, and never contain a stream key.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// A setting must change (the CLI exits 2; the app points at the form).
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    Key(#[from] marquee_profile::KeyError),
    #[error(transparent)]
    Device(marquee_capture::CaptureError),
    #[error(transparent)]
    Engine(marquee_studio::StudioError),
    #[error("{0}")]
    Highlights(#[from] marquee_highlights::HighlightError),
    /// The show has ended (or never started).
    #[error("not live")]
    NotLive,
    /// A part of the show that is off, and why.
    #[error("{0}")]
    Off(String),
    /// The host's own room: its server, its storage or the host's connection.
    #[error("{0}")]
    Room(String),
    /// Something local the show needs and could not have (a socket, randomness): not the
    /// user's doing.
    #[error("{0}")]
    Internal(String),
}

impl From<marquee_room::RoomError> for ShowError {
    fn from(e: marquee_room::RoomError) -> Self {
        ShowError::Room(e.to_string())
    }
}

impl From<marquee_studio::StudioError> for ShowError {
    fn from(e: marquee_studio::StudioError) -> Self {
        match e {
            marquee_studio::StudioError::Settings(m) => ShowError::Settings(m),
            marquee_studio::StudioError::Capture(c) => ShowError::Device(c),
            e => ShowError::Engine(e),
        }
    }
}

impl From<marquee_studio::url::UrlError> for ShowError {
    fn from(e: marquee_studio::url::UrlError) -> Self {
        ShowError::Settings(e.to_string())
    }
}
