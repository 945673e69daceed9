//! What a call is given, reports and returns, and how it fails.

use crate::media::{MediaError, VideoCodec};
use marquee_capture::{AudioSpec, VideoSpec};
use std::path::PathBuf;
use std::time::Duration;

/// Everything `marquee guest join` is given.
#[derive(Debug, Clone)]
pub struct GuestOptions {
    /// `{base}/join/{token}`.
    pub link: String,
    pub video: VideoSpec,
    /// `AudioSpec::None` sends no audio (the m-line is still offered, to hear the show).
    pub audio: AudioSpec,
    /// Display name (at most 32 characters); the host says "Guest N" without one.
    pub name: Option<String>,
    /// Leave after this long on the call; `None` until stopped or removed.
    pub duration: Option<Duration>,
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Where the return feed's audio goes (WAV, 48 kHz stereo 16-bit).
    pub return_audio: Option<PathBuf>,
    /// Where the return feed's video goes (Y4M, I420, the first picture's size).
    pub return_video: Option<PathBuf>,
    /// Extra CA certificates (PEM) to trust for an `https://` link, besides the OS's.
    pub ca_file: Option<PathBuf>,
    /// A TURN relay to reach the host through (its relayed address is offered as well).
    pub turn: Option<super::relay::GuestTurn>,
    /// Join as OBS's and FFmpeg's WHIP outputs do: the invite as a bearer token on
    /// `{base}/whip`, a send-only offer, no return feed and no name.
    pub send_only: bool,
}

impl GuestOptions {
    /// The defaults of the CLI: synthetic camera at 640×360@30, a 440 Hz tone, VP8.
    pub fn new(link: impl Into<String>) -> Self {
        Self {
            link: link.into(),
            video: VideoSpec::Test,
            audio: AudioSpec::Tone(440.0),
            name: None,
            duration: None,
            codec: VideoCodec::Vp8,
            width: 640,
            height: 360,
            fps: 30,
            return_audio: None,
            return_video: None,
            ca_file: None,
            turn: None,
            send_only: false,
        }
    }
}

/// What happens during the call, as it happens (the CLI prints these).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The host accepted the offer; the session's resource.
    Signalled { location: String },
    /// ICE and DTLS are up: media flows.
    Connected,
    /// The host reported a new state.
    State(StateReport),
    /// The send bitrate changed with the bandwidth estimate (kbps).
    Bitrate(u32),
    /// A TURN relay (`url`; `by_host`: named in the invite's info, not `--turn`) gave an
    /// address to offer, or could not be used (then the guest joins without it).
    Relay {
        url: String,
        by_host: bool,
        outcome: Result<std::net::SocketAddr, String>,
    },
}

/// Why the call ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// `--duration` elapsed.
    Duration,
    /// Stopped by the user (Ctrl-C).
    Stopped,
    Declined,
    Removed,
    /// The show ended (or the host forgot the session).
    ShowEnded,
}

/// Counters of the call, for the summary line and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub video_frames_sent: u64,
    pub audio_packets_sent: u64,
    /// 20 ms blocks of sound not sent because they were already stale when due (made while
    /// the call was not yet open, or while the sender was held up).
    pub audio_blocks_stale: u64,
    /// Pictures not encoded while the pacer's queue was too old (the estimate fell below what
    /// was being sent: fewer pictures for a moment, not a second of delay).
    pub video_frames_left_out: u64,
    pub video_frames_received: u64,
    pub audio_packets_received: u64,
    /// Return-feed frames or packets that did not decode.
    pub decode_errors: u64,
    /// Keyframes sent because the host asked (PLI/FIR).
    pub keyframes_requested: u64,
}

/// Why the guest could not join or stay.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("bad invite link: {0}")]
    BadLink(String),
    #[error("the name must be 1 to 32 characters")]
    BadName,
    #[error("cannot reach the host at {host}: {reason}")]
    Network { host: String, reason: String },
    #[error("{}", refused_message(*status, code, message))]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the host's answer is unusable: {0}")]
    BadAnswer(String),
    #[error(
        "no media connection to the host within {0:?}: UDP between you and the host may be blocked (a firewall, or a network that only allows the web); try another network or ask the host for a TURN server"
    )]
    NoConnection(Duration),
    #[error("lost the media connection to the host")]
    Disconnected,
    #[error("WebRTC: {0}")]
    Rtc(String),
    #[error("{0}")]
    Media(#[from] MediaError),
    #[error("cannot open the {what}: {reason}")]
    Source { what: &'static str, reason: String },
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
}

impl GuestError {
    /// The host's error code (docs/costream.md), if it refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }
}

fn refused_message(status: u16, code: &str, message: &str) -> String {
    match code {
        "invite_unknown" => {
            "the host does not know this invite: check the link, or ask the host for a new one"
                .into()
        }
        "invite_expired" => "this invite has expired: ask the host for a new link".into(),
        "invite_revoked" => "the host revoked this invite: ask the host for a new link".into(),
        "slot_busy" => {
            "another guest is already on this invite: ask the host for your own link".into()
        }
        "host_not_live" => {
            "the host is not live (or not taking guests) yet: try again once the show is on".into()
        }
        "bad_offer" => format!("the host could not use this guest's offer: {message}"),
        "too_large" => "the host refused the offer as too large".into(),
        "not_sdp" => "the host refused the offer's content type".into(),
        "too_many" => "too many attempts from this address: wait a minute, then try again".into(),
        _ if message.is_empty() => format!("the host refused to let this guest in (HTTP {status})"),
        _ => format!("the host refused to let this guest in (HTTP {status}): {message}"),
    }
}

/// The guest's state as the host reports it (`GET …/whip/{session}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct StateReport {
    pub state: GuestState,
    #[serde(default)]
    pub slot: u32,
    #[serde(default)]
    pub muted_by_host: bool,
    #[serde(default)]
    pub message: String,
}

/// docs/costream.md's guest states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestState {
    Waiting,
    OnAir,
    Declined,
    Removed,
    Ended,
    /// A state this guest does not know (a newer host).
    #[serde(other)]
    Unknown,
}

impl GuestState {
    /// Whether the session is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Declined | Self::Removed | Self::Ended)
    }

    /// What the guest is told.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Waiting => "waiting for the host to let you in",
            Self::OnAir => "on air",
            Self::Declined => "the host declined you",
            Self::Removed => "removed by the host",
            Self::Ended => "the show ended",
            Self::Unknown => "in a state this version does not know",
        }
    }
}
