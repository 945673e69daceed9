//! The one error type that crosses IPC: a stable `code` the UI can branch on and a `message`
//! in a streamer's words. Commands never return a bare `String`.

use serde::Serialize;
use ts_rs::TS;

/// What kind of failure, stable across versions (the UI picks its wording and way out by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A setting is invalid (size, fps, URL…): fix the form.
    Settings,
    /// Go Live while already live.
    AlreadyLive,
    /// End / stats while not live.
    NotLive,
    /// The OS keychain is missing, locked, or has no such key.
    Keychain,
    /// A camera or microphone could not be listed or opened.
    Device,
    /// The engine failed to start (encoder, recording path…).
    Engine,
    /// The embedded room server or its connection.
    Room,
    /// A destination could not be reached ("Test connection").
    Network,
    /// The clip library or a recording: a name taken or not usable, a clip gone, an export
    /// or a cut that failed.
    Clip,
    /// The disk a clip or a recording is written to is full: the message names the folder,
    /// about how much was needed, and says to free space or choose another folder.
    DiskFull,
    /// A co-stream guest action that cannot be done: the show takes no guests, the guest
    /// has left, no such slot.
    Guest,
    /// A platform (Twitch…) refused a moderation or a login, cannot be reached, or the app is
    /// not logged in to it: the message names the platform and what to do.
    Platform,
    /// A bug or an unexpected state.
    Internal,
}

/// An error as the UI receives it: `{ code, message }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<marquee_profile::KeyError> for AppError {
    fn from(e: marquee_profile::KeyError) -> Self {
        let code = match e {
            marquee_profile::KeyError::BadName(_) | marquee_profile::KeyError::Empty => {
                ErrorCode::Settings
            }
            _ => ErrorCode::Keychain,
        };
        Self::new(code, e.to_string())
    }
}

impl From<marquee_studio::StudioError> for AppError {
    fn from(e: marquee_studio::StudioError) -> Self {
        let code = match e {
            marquee_studio::StudioError::Settings(_) => ErrorCode::Settings,
            marquee_studio::StudioError::Capture(_) => ErrorCode::Device,
            _ => ErrorCode::Engine,
        };
        Self::new(code, e.to_string())
    }
}

impl From<marquee_capture::CaptureError> for AppError {
    fn from(e: marquee_capture::CaptureError) -> Self {
        Self::new(ErrorCode::Device, e.to_string())
    }
}

impl From<marquee_highlights::HighlightError> for AppError {
    fn from(e: marquee_highlights::HighlightError) -> Self {
        let code = if e.is_disk_full() {
            ErrorCode::DiskFull
        } else {
            ErrorCode::Clip
        };
        Self::new(code, e.to_string())
    }
}

impl From<marquee_highlights::DeskError> for AppError {
    fn from(e: marquee_highlights::DeskError) -> Self {
        Self::new(ErrorCode::Clip, e.0)
    }
}

impl From<marquee_room::RoomError> for AppError {
    fn from(e: marquee_room::RoomError) -> Self {
        Self::new(ErrorCode::Room, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e = AppError::new(ErrorCode::AlreadyLive, "already live");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "already_live", "message": "already live"})
        );
    }

    #[test]
    fn a_full_disk_has_its_own_code_and_says_where() {
        let e = marquee_highlights::HighlightError::io(
            std::path::Path::new("/media/clips/goal.mp4"),
            std::io::Error::from_raw_os_error(28),
        );
        let e: AppError = e.into();
        assert_eq!(e.code, ErrorCode::DiskFull);
        assert!(
            e.message.contains("the disk holding /media/clips is full"),
            "{e}"
        );
        assert_eq!(serde_json::to_value(e.code).unwrap(), "disk_full");
    }

    #[test]
    fn missing_key_is_a_keychain_error_without_the_key() {
        let e: AppError = marquee_profile::KeyError::Missing("main".into()).into();
        assert_eq!(e.code, ErrorCode::Keychain);
        assert!(e.message.contains("main"));
    }
}
