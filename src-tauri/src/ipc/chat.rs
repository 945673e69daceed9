//! Platform chat (bilibili, Twitch, YouTube) in the host's chat panel: each message or gift of
//! a source the show reads, and each source's connection state.

use serde::Serialize;
use ts_rs::TS;

/// One platform message or gift, masked as the overlay shows it (`platform_chat` event).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PlatformChat {
    /// The source as set, e.g. `twitch:some_channel`.
    pub source: String,
    /// `bilibili`, `twitch` or `youtube`.
    pub platform: String,
    pub user: String,
    pub text: String,
    /// Bits, gifts, paid messages, memberships, subscriptions: highlighted.
    pub gift: bool,
}

impl PlatformChat {
    pub fn new(source: &str, l: &marquee_show::audience::ChatLine) -> Self {
        Self {
            source: source.to_string(),
            platform: platform_name(l.platform).into(),
            user: l.user.clone(),
            text: l.text.clone(),
            gift: l.gift,
        }
    }
}

fn platform_name(p: marquee_chat::Platform) -> &'static str {
    match p {
        marquee_chat::Platform::Bilibili => "bilibili",
        marquee_chat::Platform::Twitch => "twitch",
        marquee_chat::Platform::Youtube => "youtube",
    }
}

/// Platform lines in arrival order (`platform_chat` event): batched at most ten times a
/// second, so a platform's flood costs the page ten messages a second, not thousands.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PlatformChatBatch {
    pub lines: Vec<PlatformChat>,
    /// Lines left out of this batch because more than [`PlatformChatBatch::MAX`] came within
    /// one tenth of a second (counted, never silent).
    #[ts(type = "number")]
    pub dropped: u64,
}

impl PlatformChatBatch {
    /// Lines per batch at most (ten batches a second: 5,000 lines a second).
    pub const MAX: usize = 500;
}

/// A platform chat source's connection (`chat_source` event).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ChatSourceState {
    pub source: String,
    /// `connecting`, `live`, `reconnecting` or `failed`.
    pub state: String,
    /// The attempt while reconnecting.
    pub attempt: Option<u32>,
    /// Why it reconnects or failed (names the platform and what to do).
    pub reason: Option<String>,
}

impl ChatSourceState {
    pub fn new(source: &str, s: &marquee_chat::SourceState) -> Self {
        use marquee_chat::SourceState as S;
        let (state, attempt, reason) = match s {
            S::Connecting => ("connecting", None, None),
            S::Live => ("live", None, None),
            S::Reconnecting {
                attempt, reason, ..
            } => ("reconnecting", Some(*attempt), Some(reason.clone())),
            S::Failed { reason } => ("failed", None, Some(reason.clone())),
        };
        Self {
            source: source.to_string(),
            state: state.into(),
            attempt,
            reason,
        }
    }
}
