//! The native guest: `marquee guest join LINK` signals over WHIP and sends a camera (or the
//! synthetic one) and a microphone (or a tone) to the host, and keeps the return feed.
//!
//! * [`whip`] — the link, the offer, the state poll and leaving (docs/costream.md).
//! * [`http`] — a small bounded HTTP/1.1 client (`http://` and `https://`).
//! * `session` — one UDP socket and one str0m `Rtc`: media out, the return feed in.
//! * `sources`, `files` — capture through `marquee_capture`, and the return feed's files.

mod files;
pub mod http;
mod pipes;
mod session;
mod sources;
pub mod whip;

use crate::media::{MediaError, VideoCodec};
use marquee_capture::{AudioSpec, VideoSpec};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use whip::{GuestState, Link, StateReport};

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

/// Joins the call and stays until `duration`, `stop`, or the host ends it; always leaves
/// (DELETE) on the way out once signalled. `progress` is called from this thread.
pub fn join(
    opts: &GuestOptions,
    stop: Arc<AtomicBool>,
    progress: impl FnMut(Progress),
) -> Result<(EndReason, Summary), GuestError> {
    if let Some(n) = &opts.name
        && (n.trim().is_empty() || n.chars().count() > 32)
    {
        return Err(GuestError::BadName);
    }
    let link = Link::parse(&opts.link)?;
    session::run(opts, &link, stop, progress)
}
