//! The studio crate's error type.

/// Errors from starting or running a session. Messages say what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    #[error("video encoder {name}: {reason}")]
    Encoder { name: String, reason: String },
    #[error(transparent)]
    Capture(#[from] marquee_capture::CaptureError),
    #[error("{0}")]
    Frame(String),
    #[error("{0}")]
    Output(String),
    #[error("invalid settings: {0}")]
    Settings(String),
}
