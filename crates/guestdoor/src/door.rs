//! The door a guest knocks on: one request (a WHIP offer, the guest's state, leaving, the
//! invite's info) and its reply. The same values go over a hosted room's WebSocket when the
//! room server relays a guest to its host (docs/protocol.md), so they are plain serde data.

use serde::{Deserialize, Serialize};

/// What a guest asks, after the HTTP layer has checked and bounded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DoorRequest {
    /// `POST …/join/{token}/whip`: an SDP offer (UTF-8, at most [`crate::MAX_OFFER`] bytes).
    Offer {
        token: String,
        /// The guest's display name as sent (`?name=`); empty for "Guest N".
        #[serde(default)]
        name: String,
        sdp: String,
    },
    /// `GET …/join/{token}/whip/{session}`.
    State { token: String, session: u64 },
    /// `DELETE …/join/{token}/whip/{session}`.
    Leave { token: String, session: u64 },
    /// `GET …/join/{token}/info`.
    Info { token: String },
}

/// The host's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DoorReply {
    /// The offer was taken: the session (for the Location) and the SDP answer.
    Answer { session: u64, sdp: String },
    /// A JSON body for `200` (the guest's state, the invite's info).
    Json { body: serde_json::Value },
    /// The guest left.
    Left,
    /// Refused: an HTTP status (4xx/5xx) with the contract's `{code, message}`.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

impl DoorReply {
    pub fn refused(status: u16, code: &str, message: &str) -> Self {
        DoorReply::Refused {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// No show is taking guests here.
    pub fn host_not_live() -> Self {
        Self::refused(
            503,
            "host_not_live",
            "the host is not live (or not accepting guests)",
        )
    }
}

/// Where guests of one show are let in: the show's co-stream host. Called from a blocking
/// thread (an offer may wait on the WebRTC endpoint briefly).
pub trait GuestDoor: Send + Sync + 'static {
    fn answer(&self, request: DoorRequest) -> DoorReply;
}
