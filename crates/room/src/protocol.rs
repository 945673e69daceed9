//! Wire types of the room protocol: JSON text frames, every message has a `type`.
//!
//! * [`ClientMsg`] — what a client may send.
//! * [`Event`] — a room event: it carries `seq` (its offset in the room log), the room `epoch` and
//!   the server time `at`; events are logged and replayed on resume.
//! * [`ServerMsg`] — everything the server sends: events, plus control messages (welcome, replay,
//!   acks, errors) and ephemeral state (presence, tallies) that carry no `seq`.
//!
//! [`decode_client`] is the only way untrusted text becomes a [`ClientMsg`]: it bounds the size
//! first, reports what was wrong, and never panics.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Room roles, from the signed token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Guest,
    Moderator,
    Host,
}

impl Role {
    /// Hosts and moderators may moderate.
    pub fn can_moderate(self) -> bool {
        matches!(self, Role::Host | Role::Moderator)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Guest => "guest",
            Role::Moderator => "moderator",
            Role::Host => "host",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "guest" => Ok(Role::Guest),
            "moderator" => Ok(Role::Moderator),
            "host" => Ok(Role::Host),
            other => Err(format!(
                "unknown role {other:?} (host, moderator, guest, viewer)"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How danmaku travels across the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DanmakuMode {
    #[default]
    Scroll,
    Top,
    Bottom,
}

/// What the room does with a message that contains a blocked word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BlockedMode {
    #[default]
    Mask,
    Reject,
}

/// Where a reconnecting client left off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub epoch: u64,
    /// The last `seq` the client has applied.
    pub seq: u64,
}

/// Room settings a moderator may change; absent fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_mode_s: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mods_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_mode: Option<BlockedMode>,
    /// At most this many messages per viewer in any 60 s (0 = no limit, at most 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_rate_per_min: Option<u32>,
    /// Host only: where viewers watch the show, replacing the whole list (`[]` clears it).
    /// Checked by [`crate::playback::validate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playback: Option<Vec<PlaybackSource>>,
}

/// Where viewers watch the show: an HLS (`.m3u8`) or HTTP-FLV (`.flv`) URL that the ingest
/// (nginx-rtmp, SRS, a CDN) serves. Several are camera angles the viewer picks between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybackSource {
    /// What the viewer page calls it ("stage", "后台"); empty: the page numbers the angles.
    #[serde(default)]
    pub name: String,
    pub url: String,
}

/// How viewers get the points gifts cost (the host sets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftRules {
    /// Free points every user has for each stream (live session); unspent ones do not carry
    /// over. Points the host grants come on top and are kept until spent.
    pub points_per_stream: u64,
}

impl Default for GiftRules {
    fn default() -> Self {
        GiftRules {
            points_per_stream: 1_000,
        }
    }
}

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on a connection: a token, or just a nickname (a viewer token is issued).
    Hello {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nickname: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumePoint>,
        /// The client understands `batch` frames: broadcasts may arrive several to a frame.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        batch: bool,
    },
    Danmaku {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        color: Option<String>,
        #[serde(default)]
        mode: DanmakuMode,
    },
    Gift {
        gift: String,
        #[serde(default = "one")]
        count: u32,
        /// Client idempotency key: retries of one gift reuse it.
        key: String,
    },
    Vote {
        poll: u64,
        option: u32,
    },
    Ask {
        text: String,
    },
    Ping {
        #[serde(default)]
        t: u64,
    },
    // ---- moderators and host ----
    Delete {
        id: u64,
    },
    Timeout {
        user: String,
        seconds: u32,
    },
    Ban {
        user: String,
    },
    Unban {
        user: String,
    },
    BlockWords {
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    Settings(SettingsPatch),
    PollStart {
        question: String,
        options: Vec<String>,
        duration_s: u32,
        #[serde(default)]
        allow_change: bool,
    },
    PollEnd {
        poll: u64,
    },
    PinQuestion {
        /// `null` unpins.
        question: Option<u64>,
    },
    LotteryStart {
        keyword: String,
        prize: String,
    },
    LotteryDraw {
        lottery: u64,
        winners: u32,
    },
    Modlog {
        #[serde(default = "fifty")]
        limit: u32,
    },
    /// A new stream (live session) begins: the gift leaderboard starts from zero.
    StreamStart,
    // ---- host only ----
    /// Give a user points to spend on gifts.
    Grant {
        user: String,
        points: u64,
    },
    /// How viewers get points.
    GiftRules(GiftRules),
    CloseRoom {
        #[serde(default)]
        reason: String,
    },
    /// Make a user (by id) a moderator of this room.
    Appoint {
        user: String,
    },
    /// An appointed moderator is a viewer again.
    Unappoint {
        user: String,
    },
    /// Mint a moderator invite code (answered with `mod_invite`).
    ModInvite,
    ModInviteRevoke {
        code: String,
    },
    /// The appointed moderators and open invites (answered with `staff`).
    Staff,
    /// Co-stream guests of a hosted room knock on this connection (`open`: a show with guest
    /// slots runs here), or no longer do. The room server relays their requests to it
    /// (`guest_request`) and answers `503 host_not_live` while no host connection is open.
    GuestDoor {
        open: bool,
    },
    /// The answer to a `guest_request`, with its `id`.
    GuestAnswer {
        id: u64,
        reply: marquee_guestdoor::DoorReply,
    },
    // ---- any joined user ----
    /// Redeem a moderator invite: the sender becomes a moderator; the code is used up.
    ModInviteRedeem {
        code: String,
    },
}

fn one() -> u32 {
    1
}
fn fifty() -> u32 {
    50
}

const CLIENT_TYPES: &[&str] = &[
    "hello",
    "danmaku",
    "gift",
    "vote",
    "ask",
    "ping",
    "delete",
    "timeout",
    "ban",
    "unban",
    "block_words",
    "settings",
    "poll_start",
    "poll_end",
    "pin_question",
    "lottery_start",
    "lottery_draw",
    "modlog",
    "stream_start",
    "grant",
    "gift_rules",
    "close_room",
    "appoint",
    "unappoint",
    "mod_invite",
    "mod_invite_revoke",
    "staff",
    "mod_invite_redeem",
    "guest_door",
    "guest_answer",
];

/// Error codes carried by `error` frames. Stable strings; see docs/protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    UnknownType,
    Invalid,
    TooLarge,
    NotJoined,
    AlreadyJoined,
    Unauthorized,
    TokenExpired,
    Forbidden,
    RateLimited,
    SlowMode,
    Muted,
    Banned,
    BlockedWord,
    ModsOnly,
    NotFound,
    PollClosed,
    AlreadyVoted,
    Storage,
    Busy,
    Flood,
    SlowConsumer,
    RoomClosed,
    InsufficientBalance,
    ReservedName,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Invalid => "invalid",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::SlowMode => "slow_mode",
            ErrorCode::Muted => "muted",
            ErrorCode::Banned => "banned",
            ErrorCode::BlockedWord => "blocked_word",
            ErrorCode::ModsOnly => "mods_only",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PollClosed => "poll_closed",
            ErrorCode::AlreadyVoted => "already_voted",
            ErrorCode::Storage => "storage",
            ErrorCode::Busy => "busy",
            ErrorCode::Flood => "flood",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::RoomClosed => "room_closed",
            ErrorCode::InsufficientBalance => "insufficient_balance",
            ErrorCode::ReservedName => "reserved_name",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
}

/// Decode one untrusted text frame. Checks the size before parsing; never panics.
pub fn decode_client(text: &str, max_bytes: usize) -> Result<ClientMsg, DecodeError> {
    if text.len() > max_bytes {
        return Err(DecodeError {
            code: ErrorCode::TooLarge,
            message: format!("frame of {} bytes, limit {max_bytes}", text.len()),
        });
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError {
        code: ErrorCode::BadJson,
        message: format!("invalid JSON: {e}"),
    })?;
    let ty = match value.get("type") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(DecodeError {
                code: ErrorCode::Invalid,
                message: "`type` must be a string".into(),
            });
        }
        None => {
            return Err(DecodeError {
                code: if value.is_object() {
                    ErrorCode::Invalid
                } else {
                    ErrorCode::BadJson
                },
                message: "expected a JSON object with a `type`".into(),
            });
        }
    };
    if !CLIENT_TYPES.contains(&ty.as_str()) {
        let mut shown: String = ty.chars().take(32).collect();
        if shown.len() < ty.len() {
            shown.push('…');
        }
        return Err(DecodeError {
            code: ErrorCode::UnknownType,
            message: format!("unknown message type {shown:?}"),
        });
    }
    serde_json::from_value(value).map_err(|e| DecodeError {
        code: ErrorCode::Invalid,
        message: format!("{ty}: {e}"),
    })
}

/// Public identity of a user in the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// A room event: logged, numbered, replayed on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub epoch: u64,
    /// Server time, ms since the Unix epoch.
    pub at: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

/// One option's tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollInfo {
    pub poll: u64,
    pub question: String,
    pub options: Vec<String>,
    pub ends_at: u64,
    pub allow_change: bool,
    pub tallies: Vec<u64>,
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionInfo {
    pub question: u64,
    pub user: UserRef,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotteryInfo {
    pub lottery: u64,
    pub keyword: String,
    pub prize: String,
    /// SHA-256 of the seed (hex), published at the start: the seed cannot change afterwards.
    pub commitment: String,
    /// Revealed by the draw (absent before): the draw is reproducible from it and the
    /// entrants, and its SHA-256 is the commitment (see docs/protocol.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    pub entrants: u64,
    pub open: bool,
    /// Winner user ids, in draw order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub winners: Vec<String>,
    /// Their display names, same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub winner_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderEntry {
    pub user: String,
    pub name: String,
    pub coins: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftDef {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub price: u64,
    pub art: String,
}

/// The body of an event; its `type` is the event's `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A chat message. Its id is the event's seq.
    Danmaku {
        id: u64,
        user: UserRef,
        text: String,
        color: String,
        mode: DanmakuMode,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        masked: bool,
        /// Set when the message was deleted later (a replay shows a tombstone, never the text).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deleted: bool,
    },
    MessageDeleted {
        id: u64,
        by: String,
    },
    Gift {
        user: UserRef,
        gift: String,
        count: u32,
        coins: u64,
        key: String,
        /// Display-only: how many sends of this gift by this user in the current combo window.
        combo: u32,
    },
    PollStarted {
        poll: PollInfo,
    },
    PollEnded {
        poll: PollInfo,
    },
    Question {
        question: QuestionInfo,
    },
    QuestionPinned {
        question: Option<QuestionInfo>,
    },
    LotteryStarted {
        lottery: LotteryInfo,
    },
    LotteryDrawn {
        lottery: LotteryInfo,
        /// Sorted user ids that took part; the draw shuffles this list with the seed.
        entrants: Vec<String>,
    },
    UserTimedOut {
        user: String,
        until: u64,
        by: String,
    },
    UserBanned {
        user: String,
        by: String,
    },
    UserUnbanned {
        user: String,
        by: String,
    },
    BlockedWordsChanged {
        count: u32,
        by: String,
    },
    SettingsChanged {
        settings: Settings,
        by: String,
    },
    StreamStarted {
        stream: u64,
    },
    GiftRulesChanged {
        rules: GiftRules,
        by: String,
    },
    RoomClosed {
        reason: String,
    },
    /// The host made this user a moderator (their open connections are moderators from now).
    ModeratorAppointed {
        user: UserRef,
        by: String,
    },
    /// An appointed moderator is a viewer again.
    ModeratorRemoved {
        user: String,
        by: String,
    },
}

/// Current room settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub slow_mode_s: u32,
    pub mods_only: bool,
    pub blocked_mode: BlockedMode,
    /// Messages per viewer in any rolling minute; 0 = no limit. (`default`: rooms saved
    /// before the rule existed load with it off.)
    #[serde(default)]
    pub user_rate_per_min: u32,
    /// Where viewers watch the show (see [`PlaybackSource`]); empty: no video on the page.
    #[serde(default)]
    pub playback: Vec<PlaybackSource>,
}

/// An appointed moderator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
}

/// A moderation log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModLogEntry {
    pub at: u64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// State a joining client needs besides the event history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomView {
    pub settings: Settings,
    pub viewers: u64,
    pub poll: Option<PollInfo>,
    pub lottery: Option<LotteryInfo>,
    pub pinned: Option<QuestionInfo>,
    pub leaderboard: Vec<LeaderEntry>,
    pub catalog: Vec<GiftDef>,
    #[serde(default)]
    pub gift_rules: GiftRules,
}

/// Everything the server sends. Events are flattened to the top level (their own `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerMsg {
    Event(Event),
    Control(Control),
}

/// Server messages that are not room events: no `seq`, never replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    Welcome {
        room: String,
        epoch: u64,
        /// The room's last seq at the time of joining.
        seq: u64,
        user: UserRef,
        /// A token issued to a nickname-only viewer; keep it to be the same user next time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// Points this user can spend on gifts now.
        #[serde(default)]
        balance: u64,
        view: Box<RoomView>,
    },
    /// Recent events for a fresh join or after `not_recoverable` (deleted text never included).
    History {
        epoch: u64,
        events: Vec<Event>,
    },
    /// Exactly the events after the client's resume point, in order.
    Replay {
        epoch: u64,
        events: Vec<Event>,
    },
    /// The resume point cannot be served; the client must drop its state and use `history`.
    NotRecoverable {
        epoch: u64,
        reason: String,
    },
    Error {
        code: ErrorCode,
        message: String,
        /// The gift this refuses (its idempotency key): nothing was recorded, and a retry with
        /// this key will not count twice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    GiftAck {
        key: String,
        /// True when this key was already in the ledger: the gift counted once, earlier.
        duplicate: bool,
        /// Points the sender has left.
        #[serde(default)]
        balance: u64,
    },
    /// A user's points changed other than by their own gift (a grant, a new stream, new rules):
    /// to that user's connections, and to the host who granted them.
    Balance {
        user: String,
        balance: u64,
    },
    VoteAck {
        poll: u64,
        option: u32,
    },
    Presence {
        viewers: u64,
        /// A sample of recent joiners (names), not every join.
        joined: Vec<String>,
        joins: u64,
        leaves: u64,
    },
    PollTally {
        poll: u64,
        tallies: Vec<u64>,
        ends_at: u64,
    },
    Leaderboard {
        top: Vec<LeaderEntry>,
    },
    LotteryCount {
        lottery: u64,
        entrants: u64,
    },
    Modlog {
        entries: Vec<ModLogEntry>,
    },
    Pong {
        t: u64,
        server_time: u64,
    },
    /// To the host: the appointed moderators and the open invite codes.
    Staff {
        moderators: Vec<StaffMember>,
        invites: Vec<String>,
    },
    /// To the host who asked: a new moderator invite code.
    ModInvite {
        code: String,
    },
    /// To the host connection whose guest door is open: a co-stream guest's request, relayed
    /// by the room server; answer with `guest_answer` and the same `id`.
    GuestRequest {
        id: u64,
        request: marquee_guestdoor::DoorRequest,
    },
    /// Broadcast messages sent together, in order; only to clients that said `"batch": true` in
    /// their hello. Each element is what would otherwise have been its own frame.
    Batch {
        messages: Vec<ServerMsg>,
    },
}

impl ServerMsg {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Control(Control::Error {
            code,
            message: message.into(),
            key: None,
        })
    }

    /// Serialise to a text frame. Serialising these types cannot fail; an empty object is the
    /// fallback if it ever did.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// Decode a server frame (for clients). Bounded by `max_bytes`.
pub fn decode_server(text: &str, max_bytes: usize) -> Result<ServerMsg, DecodeError> {
    if text.len() > max_bytes {
        return Err(DecodeError {
            code: ErrorCode::TooLarge,
            message: format!("frame of {} bytes, limit {max_bytes}", text.len()),
        });
    }
    serde_json::from_str(text).map_err(|e| DecodeError {
        code: ErrorCode::BadJson,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_reports_what_was_wrong() {
        assert_eq!(
            decode_client("{", 100).unwrap_err().code,
            ErrorCode::BadJson
        );
        assert_eq!(
            decode_client("[1,2]", 100).unwrap_err().code,
            ErrorCode::BadJson
        );
        assert_eq!(
            decode_client(r#"{"a":1}"#, 100).unwrap_err().code,
            ErrorCode::Invalid
        );
        assert_eq!(
            decode_client(r#"{"type":"launch_missiles"}"#, 100)
                .unwrap_err()
                .code,
            ErrorCode::UnknownType
        );
        let e = decode_client(r#"{"type":"vote","poll":"x"}"#, 100).unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.starts_with("vote:"), "{}", e.message);
        assert_eq!(
            decode_client(&"x".repeat(101), 100).unwrap_err().code,
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn decoder_survives_deep_nesting() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            decode_client(&deep, 1 << 20).unwrap_err().code,
            ErrorCode::BadJson
        );
    }

    #[test]
    fn events_flatten_with_seq_epoch_and_type() {
        let ev = Event {
            seq: 7,
            epoch: 42,
            at: 1000,
            body: EventBody::MessageDeleted {
                id: 3,
                by: "host".into(),
            },
        };
        let json = ServerMsg::Event(ev.clone()).to_json();
        assert_eq!(
            json,
            r#"{"seq":7,"epoch":42,"at":1000,"type":"message_deleted","id":3,"by":"host"}"#
        );
        assert_eq!(decode_server(&json, 1000).unwrap(), ServerMsg::Event(ev));
        let ctl = ServerMsg::error(ErrorCode::SlowMode, "wait");
        assert_eq!(decode_server(&ctl.to_json(), 1000).unwrap(), ctl);
    }
}
