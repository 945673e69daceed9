//! The one event type every platform's adapter produces, so the chat panel, the danmaku overlay
//! and the highlight signals read bilibili, Twitch and YouTube the same way.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Bilibili,
    Twitch,
    Youtube,
}

impl Platform {
    /// The name users read ("bilibili", "Twitch", "YouTube").
    pub fn label(self) -> &'static str {
        match self {
            Platform::Bilibili => "bilibili",
            Platform::Twitch => "Twitch",
            Platform::Youtube => "YouTube",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Who sent something. `masked` is true when the platform hid the real name or id from an
/// anonymous reader (bilibili without a login shows "张***" and uid 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// The platform's user id, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// Badges as short text: "broadcaster", "subscriber/12", "舰长", "medal:名字 12", "moderator".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub badges: Vec<String>,
    /// The name colour as `#RRGGBB`, when the user or the platform set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
}

/// An emote in a message. The message text keeps the emote's name (`Kappa`, `[doge]`), so a
/// reader without images still reads the message; this says which words are emotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Emote {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Money as the platform states it (`amount` in `currency`: "CNY", "USD", "JPY"…).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
    /// The platform's own rendering ("¥30", "$5.00"), when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// What a viewer did that is not a chat line (bilibili's INTERACT_WORD, the open platform's
/// likes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    Enter,
    Follow,
    Share,
    Like,
}

/// A source's connection state, as the chat panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceState {
    Connecting,
    /// Joined: events flow.
    Live,
    /// Lost; the next attempt (1, 2, …) starts after `retry_in_ms`.
    Reconnecting {
        attempt: u32,
        retry_in_ms: u64,
        reason: String,
    },
    /// Will not retry: `reason` names the platform and what to do.
    Failed {
        reason: String,
    },
}

impl SourceState {
    pub fn reconnecting(attempt: u32, retry_in: Duration, reason: String) -> Self {
        SourceState::Reconnecting {
            attempt,
            retry_in_ms: retry_in.as_millis().min(u64::MAX as u128) as u64,
            reason,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A chat line (danmaku).
    Message {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        user: User,
        text: String,
        /// The text's own colour (bilibili danmaku are coloured), `#RRGGBB`.
        #[serde(skip_serializing_if = "Option::is_none")]
        colour: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        emotes: Vec<Emote>,
    },
    /// Twitch bits cheered with a message.
    Cheer {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        user: User,
        bits: u64,
        text: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        emotes: Vec<Emote>,
    },
    /// A platform gift (bilibili SEND_GIFT). `value` is None for free gifts.
    Gift {
        user: User,
        gift: String,
        count: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Money>,
    },
    /// A paid, pinned message: bilibili 醒目留言, YouTube Super Chat or Super Sticker
    /// (`sticker` holds the sticker's alt text).
    SuperChat {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        user: User,
        text: String,
        value: Money,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_s: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sticker: Option<String>,
    },
    /// A paid membership: bilibili 大航海 (舰长/提督/总督), YouTube channel membership.
    Membership {
        user: User,
        level: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        months: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Money>,
    },
    /// A Twitch subscription: new, renewed, or gifted (`gifted_to` names the recipient;
    /// `count` is set for a gift of several subs to the community).
    Subscription {
        user: User,
        kind: String,
        plan: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        months: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gifted_to: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<u64>,
        #[serde(skip_serializing_if = "String::is_empty")]
        text: String,
    },
    /// Another channel brought its viewers (Twitch raid).
    Raid { user: User, viewers: u64 },
    /// A viewer entered, followed, or shared (bilibili).
    Interaction { user: User, action: Interaction },
    /// A moderator removed one message.
    MessageDeleted {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// A moderator banned (no `duration_s`) or timed out a user.
    UserBanned {
        user: User,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_s: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A moderator cleared the whole chat.
    ChatCleared,
    /// The platform said something to the reader (bilibili's LOG_IN_NOTICE, a Twitch NOTICE).
    Notice {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// How the source itself reads its platform, when it had to settle for less (bilibili read
    /// anonymously after its token was refused, YouTube polled because it cannot stream).
    /// `code` names the case for translation ([`note`]); `text` says it with the reason.
    SourceNote { code: String, text: String },
    /// bilibili's popularity number from each heartbeat reply.
    Popularity { value: u64 },
    /// The live chat ended (YouTube's chatEndedEvent / offlineAt).
    ChatEnded,
    /// The consumer was too slow: this many events were dropped before the next one.
    Dropped { count: u64 },
    /// The source's connection state changed.
    State(SourceState),
}

/// One event from one platform.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatEvent {
    pub platform: Platform,
    #[serde(flatten)]
    pub body: EventBody,
}

impl ChatEvent {
    pub fn new(platform: Platform, body: EventBody) -> Self {
        Self { platform, body }
    }

    /// Plain chat lines (and Dropped notes) may be dropped when the consumer falls behind;
    /// gifts, paid messages, moderation and state never are while a chat line can go instead.
    pub fn droppable(&self) -> bool {
        matches!(
            self.body,
            EventBody::Message { .. }
                | EventBody::Interaction { .. }
                | EventBody::Popularity { .. }
        )
    }
}

/// The cases an [`EventBody::SourceNote`] names (the app translates them by these codes).
pub mod note {
    /// bilibili refused the danmaku token: the room is read anonymously (names masked).
    pub const BILIBILI_ANONYMOUS: &str = "bilibili_anonymous";
    /// YouTube's streaming chat is not offered: the chat is polled.
    pub const YOUTUBE_POLLING: &str = "youtube_polling";
}
