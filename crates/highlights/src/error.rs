//! Errors of this crate. Messages say what was wrong and what to do.

/// Anything a highlight operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HighlightError {
    #[error(
        "the replay buffer is empty: nothing has been encoded yet (wait for the first keyframe)"
    )]
    EmptyBuffer,
    #[error("{what}: {reason}")]
    Media { what: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot reach the live session at {path}: {reason} (is `marquee live` running?)")]
    NotRunning { path: String, reason: String },
    #[error("the live session said: {0}")]
    Remote(String),
}

impl HighlightError {
    /// `2` for a request to fix (bad value, unknown clip or mark), `1` otherwise: a command
    /// line's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            HighlightError::Invalid(_) => 2,
            _ => 1,
        }
    }

    /// A media operation that failed, and why.
    pub fn media(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Media {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = HighlightError> = std::result::Result<T, E>;
