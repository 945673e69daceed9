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
    /// A write found the disk full (or the user's quota used up).
    #[error("{}", marquee_studio::disk::full_message(std::path::Path::new(.dir)))]
    DiskFull { dir: String },
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
    /// An I/O error on `path`; a full disk is said as such, naming the folder.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        if marquee_studio::disk::is_full(&source) {
            return Self::disk_full(path);
        }
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A muxer's failure writing `path`: `what` and why, or that the disk is full.
    pub fn mux(
        what: impl Into<String>,
        path: &std::path::Path,
        e: marquee_studio::output::mux::MuxError,
    ) -> Self {
        if e.disk_full() {
            return Self::disk_full(path);
        }
        Self::media(what, e)
    }

    /// The disk holding `path` (a file) is full.
    pub fn disk_full(path: &std::path::Path) -> Self {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        Self::DiskFull {
            dir: dir.display().to_string(),
        }
    }
}

pub type Result<T, E = HighlightError> = std::result::Result<T, E>;
