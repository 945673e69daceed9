//! Platform chat (bilibili, Twitch, YouTube) in the host's chat panel: each message or gift of
//! a source the show reads, and each source's connection state.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Moderation sent to the platform a message came from (`platform_moderate`). Twitch and
/// YouTube have an API Marquee can call (with a login); elsewhere the page hides the message
/// locally.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlatformModeration {
    /// Deletes one message (its platform id).
    Delete {
        source: String,
        message_id: String,
    },
    /// Keeps its sender out of the chat for `seconds`.
    Timeout {
        source: String,
        user_id: String,
        seconds: u32,
    },
    Ban {
        source: String,
        user_id: String,
    },
}

/// A platform the app logs in to, to moderate its chat from the chat panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LoginPlatform {
    /// A device code with a public application's Client ID (dev.twitch.tv/console).
    Twitch,
    /// Google's device code with an OAuth client of type "TVs and Limited Input devices"
    /// (its ID and secret; the secret is kept with the login in the keychain).
    Youtube,
}

/// How logging in to a platform goes (`platform_login` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PlatformLogin {
    pub platform: LoginPlatform,
    pub state: LoginState,
}

/// A login's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoginState {
    /// Open `uri` (it carries the code) and approve; `code` is what the page asks for.
    Waiting {
        code: String,
        uri: String,
    },
    Done,
    Failed {
        reason: String,
    },
}

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
    /// The platform's message id and sender id, where it gives them (moderating there).
    pub message_id: Option<String>,
    pub user_id: Option<String>,
}

impl PlatformChat {
    pub fn new(source: &str, l: &marquee_show::audience::ChatLine) -> Self {
        Self {
            source: source.to_string(),
            platform: platform_name(l.platform).into(),
            user: l.user.clone(),
            text: l.text.clone(),
            gift: l.gift,
            message_id: l.message_id.clone(),
            user_id: l.user_id.clone(),
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
    /// Lines a moderator took away on the platform since the last batch, for the panel to
    /// strike (after this batch's lines).
    pub removed: Vec<PlatformRemoval>,
    /// Lines left out of this batch because more than [`PlatformChatBatch::MAX`] came within
    /// one tenth of a second (counted, never silent).
    #[ts(type = "number")]
    pub dropped: u64,
}

/// Lines taken away on a platform: one message (`message_id`), every line of a user
/// (`user_id`), or, with neither, the whole chat of the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PlatformRemoval {
    pub source: String,
    pub message_id: Option<String>,
    pub user_id: Option<String>,
}

impl PlatformRemoval {
    pub fn new(source: &str, r: &marquee_show::audience::ChatRemoval) -> Self {
        use marquee_show::audience::ChatRemoval as R;
        let (message_id, user_id) = match r {
            R::Message(id) => (Some(id.clone()), None),
            R::User(id) => (None, Some(id.clone())),
            R::All => (None, None),
        };
        Self {
            source: source.to_string(),
            message_id,
            user_id,
        }
    }
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
    /// How it reads its platform when it had to settle for less: `bilibili_anonymous`
    /// (bilibili refused its token), `youtube_polling` (no streaming chat); kept across states.
    pub note_code: Option<String>,
    /// The same said with the platform's reason (English, from the platform adapter).
    pub note: Option<String>,
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
            note_code: None,
            note: None,
        }
    }
}
