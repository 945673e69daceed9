//! The show engine's error type.

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
