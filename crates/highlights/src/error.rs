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
    /// A write found the disk full (or the user's quota used up): what was being written,
    /// where, and about how much it needed when that is known.
    #[error(
        "cannot write {file}: {}",
        marquee_studio::disk::full_message(std::path::Path::new(.dir), *.needed)
    )]
    DiskFull {
        file: String,
        dir: String,
        needed: Option<u64>,
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
            file: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            dir: dir.display().to_string(),
            needed: None,
        }
    }

    /// A full disk's error with about how many bytes the write needed (`needed` is asked only
    /// then); any other error as it is.
    pub fn needing(self, needed: impl FnOnce() -> Option<u64>) -> Self {
        match self {
            Self::DiskFull {
                file,
                dir,
                needed: None,
            } => Self::DiskFull {
                file,
                dir,
                needed: needed(),
            },
            e => e,
        }
    }

    /// Whether this is a full disk (the app gives it its own code).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::DiskFull { .. })
    }
}

pub type Result<T, E = HighlightError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_says_what_where_how_much_and_what_to_do() {
        let e = HighlightError::io(
            std::path::Path::new("/media/clips/goal.mp4"),
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert!(e.is_disk_full());
        let e = e.needing(|| Some(3_160_000));
        assert_eq!(
            e.to_string(),
            "cannot write goal.mp4: the disk holding /media/clips is full (about 3.2 \
             MB needed): free space or choose another folder"
        );
        let other = HighlightError::io(
            std::path::Path::new("/x"),
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert!(!other.needing(|| Some(1)).is_disk_full());
    }
}
