//! The embedded room as the host sees it: the `room` and `room_ready` events and the `room_*`
//! commands.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
pub struct RoomInfo {
    pub room: String,
    /// The page viewers open (never 127.0.0.1 unless the room lives on this computer).
    pub viewer_url: String,
    pub ws_url: String,
    /// Where the room lives.
    pub home: RoomHomeMode,
    /// A local network room: what the OS firewall may do to it (null: nothing found).
    pub firewall: Option<FirewallHint>,
}

impl RoomInfo {
    pub fn new(
        a: marquee_show::room::RoomAddress,
        home: RoomHomeMode,
        firewall: Option<FirewallHint>,
    ) -> Self {
        Self {
            room: a.room,
            viewer_url: a.viewer_url,
            ws_url: a.ws_url,
            home,
            firewall,
        }
    }
}

/// Where the room lives (Settings → Room).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RoomHomeMode {
    /// 127.0.0.1: for trying things out.
    #[default]
    ThisComputer,
    /// One interface's address: viewers on the same network.
    LocalNetwork,
    /// A public `marquee room serve`, joined as its host.
    Hosted,
}

impl RoomHomeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomHomeMode::ThisComputer => "this_computer",
            RoomHomeMode::LocalNetwork => "local_network",
            RoomHomeMode::Hosted => "hosted",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "local_network" => RoomHomeMode::LocalNetwork,
            "hosted" => RoomHomeMode::Hosted,
            _ => RoomHomeMode::ThisComputer,
        }
    }
}

/// Where the room lives, as remembered (the host key is in the OS keychain, never here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoomHomeSetting {
    pub mode: RoomHomeMode,
    /// Local network: the address to serve on (null: the one the default route uses).
    pub lan_address: Option<String>,
    /// A fixed port, so the viewer link stays the same (null: 7717 or any free port).
    pub port: Option<u16>,
    /// Hosted: the server's public URL (`https://live.example.com`).
    pub hosted_url: String,
    /// Hosted: the room's name on that server.
    pub hosted_room: String,
    /// Hosted: a PEM file of the private CA that signed the server's certificate (besides
    /// the OS's trusted roots, which include `SSL_CERT_FILE`).
    pub ca_file: Option<String>,
}

/// One address of one network interface, for the local network choice.
#[derive(Debug, Clone, Serialize, TS)]
pub struct NetInterface {
    /// `eth0`, `wlan0`, `en0`…
    pub name: String,
    pub address: String,
    /// The default route uses it (the default choice).
    pub default_route: bool,
}

/// What the OS firewall may do to a local network room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FirewallHint {
    /// `by` (ufw, firewalld, nftables, iptables) is on and may block the port; `allow` is
    /// the command that allows it.
    MayBlock { by: String, allow: String },
    /// Windows and macOS ask whether to allow the app the first time it listens.
    PromptMayAppear,
}

impl FirewallHint {
    pub fn from_show(h: marquee_show::firewall::FirewallHint) -> Option<Self> {
        use marquee_show::firewall::FirewallHint as F;
        match h {
            F::Clear => None,
            F::MayBlock { by, allow } => Some(FirewallHint::MayBlock { by, allow }),
            F::PromptMayAppear => Some(FirewallHint::PromptMayAppear),
        }
    }
}

/// Who wrote something in the room.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RoomUser {
    pub id: String,
    pub name: String,
    /// `host`, `moderator`, `guest` or `viewer`.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Poll {
    #[ts(type = "number")]
    pub poll: u64,
    pub question: String,
    pub options: Vec<String>,
    #[ts(type = "number[]")]
    pub tallies: Vec<u64>,
    #[ts(type = "number")]
    pub ends_at: u64,
    pub open: bool,
}

impl From<marquee_room::protocol::PollInfo> for Poll {
    fn from(p: marquee_room::protocol::PollInfo) -> Self {
        Self {
            poll: p.poll,
            question: p.question,
            options: p.options,
            tallies: p.tallies,
            ends_at: p.ends_at,
            open: p.open,
        }
    }
}

/// What the room panel receives, emitted as the `room` event.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// The host connection joined (again); the chat list is reset and history follows.
    Joined {
        #[ts(type = "number")]
        viewers: u64,
        /// Boxed: once per join, and it keeps every other (per-message) variant small.
        poll: Option<Box<Poll>>,
        settings: RoomSettings,
        pinned: Option<Question>,
        lottery: Option<Lottery>,
        /// Gifts viewers can send (art at `<room origin>/gifts/<art>`).
        catalog: Vec<GiftDef>,
    },
    Chat {
        #[ts(type = "number")]
        id: u64,
        #[ts(type = "number")]
        at: u64,
        user: RoomUser,
        text: String,
        color: String,
        /// `scroll`, `top` or `bottom` (how it crosses the video).
        mode: String,
        /// A blocked word in it was masked by the room.
        masked: bool,
        deleted: bool,
    },
    ChatDeleted {
        #[ts(type = "number")]
        id: u64,
    },
    Gift {
        /// The room event's number (chat ids are numbered the same way, so a gift row sorts
        /// among the messages).
        #[ts(type = "number")]
        seq: u64,
        #[ts(type = "number")]
        at: u64,
        user: RoomUser,
        gift: String,
        count: u32,
        #[ts(type = "number")]
        coins: u64,
        combo: u32,
    },
    Poll {
        poll: Poll,
    },
    PollTally {
        #[ts(type = "number")]
        poll: u64,
        #[ts(type = "number[]")]
        tallies: Vec<u64>,
    },
    Viewers {
        #[ts(type = "number")]
        count: u64,
    },
    /// A viewer asked a question (the Q&A queue).
    Question {
        question: Question,
    },
    /// The question shown on screen (none: unpinned).
    QuestionPinned {
        question: Option<Question>,
    },
    /// A lottery started or was drawn (winners filled in).
    Lottery {
        lottery: Lottery,
    },
    LotteryCount {
        #[ts(type = "number")]
        lottery: u64,
        #[ts(type = "number")]
        entrants: u64,
    },
    /// A user was timed out (`until` ms since the epoch), banned or unbanned.
    Moderated {
        action: ModAction,
        user: String,
        #[ts(type = "number | null")]
        until: Option<u64>,
        by: String,
    },
    /// Slow mode, moderators-only or the blocked-word mode changed.
    Settings {
        settings: RoomSettings,
    },
    BlockedWords {
        count: u32,
    },
    /// The host connection dropped (it reconnects by itself) or stopped for good.
    Disconnected {
        reason: String,
        retrying: bool,
        /// What to fix: `unreachable`, `certificate`, `host_key` or `refused` (null: not
        /// known, e.g. the room could not start here).
        problem: Option<String>,
        /// When it retries, milliseconds from now.
        #[ts(type = "number | null")]
        retry_in_ms: Option<u64>,
    },
    /// The server refused a moderation action or message.
    Refused {
        code: String,
        message: String,
    },
    /// The host appointed a moderator (`appointed`, with their name) or removed one.
    Moderator {
        user: String,
        name: Option<String>,
        appointed: bool,
        by: String,
    },
    /// The appointed moderators and the open invite codes (after every change, and on
    /// `room_staff`).
    Staff {
        moderators: Vec<StaffMember>,
        invites: Vec<String>,
    },
    /// A new moderator invite (`room_mod_invite`): the link to send is the viewer link with
    /// `#mod=<code>` (the page redeems it once joined).
    ModInvite {
        code: String,
    },
    /// The latest moderation log entries, oldest first (`room_moderation_log`).
    ModLog {
        entries: Vec<ModLogEntry>,
    },
}

/// A moderator the host appointed (by user id).
#[derive(Debug, Clone, Serialize, TS)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
}

/// One moderation action: who did it, what, to what, when.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ModLogEntry {
    /// ms since the epoch.
    #[ts(type = "number")]
    pub at: u64,
    /// The user id of whoever did it.
    pub actor: String,
    /// `delete`, `timeout`, `ban`, `unban`, `block_words`, `settings`, `pin_question`,
    /// `appoint`, `unappoint`, `mod_invite`…
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl From<marquee_room::protocol::ModLogEntry> for ModLogEntry {
    fn from(e: marquee_room::protocol::ModLogEntry) -> Self {
        Self {
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
        }
    }
}

/// A poll the host starts from the vote panel.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PollStart {
    pub question: String,
    pub options: Vec<String>,
    pub duration_s: u32,
}

/// Room rules the host sets (room settings panel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoomSettings {
    /// Seconds a viewer waits between messages (0: off).
    pub slow_mode_s: u32,
    /// Only moderators (and the host) may write.
    pub mods_only: bool,
    /// What happens to a message with a blocked word.
    pub blocked_mode: BlockedMode,
    /// Messages a viewer may send in any rolling minute (0: no limit).
    pub user_rate_per_min: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BlockedMode {
    /// Shown with the word replaced by ***.
    Mask,
    /// Refused; the sender is told why.
    Reject,
}

impl From<marquee_room::protocol::Settings> for RoomSettings {
    fn from(s: marquee_room::protocol::Settings) -> Self {
        Self {
            slow_mode_s: s.slow_mode_s,
            mods_only: s.mods_only,
            blocked_mode: s.blocked_mode.into(),
            user_rate_per_min: s.user_rate_per_min,
        }
    }
}

impl From<marquee_room::protocol::BlockedMode> for BlockedMode {
    fn from(m: marquee_room::protocol::BlockedMode) -> Self {
        match m {
            marquee_room::protocol::BlockedMode::Mask => Self::Mask,
            marquee_room::protocol::BlockedMode::Reject => Self::Reject,
        }
    }
}

impl From<BlockedMode> for marquee_room::protocol::BlockedMode {
    fn from(m: BlockedMode) -> Self {
        match m {
            BlockedMode::Mask => Self::Mask,
            BlockedMode::Reject => Self::Reject,
        }
    }
}

/// A question in the Q&A queue.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Question {
    #[ts(type = "number")]
    pub question: u64,
    pub user: RoomUser,
    pub text: String,
}

/// A lottery: viewers enter by sending the keyword. Commit–reveal: the start publishes SHA-256
/// of the seed (`commitment`), the draw reveals the seed, and the draw is reproducible from it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Lottery {
    #[ts(type = "number")]
    pub lottery: u64,
    pub keyword: String,
    pub prize: String,
    /// SHA-256 of the seed, published at the start.
    pub commitment: String,
    /// Revealed by the draw (null before).
    pub seed: Option<String>,
    #[ts(type = "number")]
    pub entrants: u64,
    pub open: bool,
    /// Winners' names (after the draw).
    pub winners: Vec<String>,
    /// After the draw, whether this app checked it: SHA-256 of the seed is the commitment,
    /// and the seed and the entrants give these winners. Null before the draw (or when the
    /// draw came without its entrants, as in a join's view).
    pub verified: Option<bool>,
}

impl From<marquee_room::protocol::LotteryInfo> for Lottery {
    fn from(l: marquee_room::protocol::LotteryInfo) -> Self {
        let winners = if l.winner_names.is_empty() {
            l.winners
        } else {
            l.winner_names
        };
        Self {
            lottery: l.lottery,
            keyword: l.keyword,
            prize: l.prize,
            commitment: l.commitment,
            seed: l.seed,
            entrants: l.entrants,
            open: l.open,
            winners,
            verified: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ModAction {
    Timeout,
    Ban,
    Unban,
}

/// A moderation action from a message's menu.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    Delete {
        #[ts(type = "number")]
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
}

/// Where viewers watch the show: an HLS (`.m3u8`) or HTTP-FLV (`.flv`) http(s) URL the ingest
/// serves, and what the viewer page calls it (empty: numbered). Several are camera angles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PlaybackUrl {
    pub name: String,
    pub url: String,
}

/// A change to the room rules; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct RoomSettingsPatch {
    #[ts(optional)]
    pub slow_mode_s: Option<u32>,
    #[ts(optional)]
    pub mods_only: Option<bool>,
    #[ts(optional)]
    pub blocked_mode: Option<BlockedMode>,
    #[ts(optional)]
    pub user_rate_per_min: Option<u32>,
}

/// A gift in the room's catalog.
#[derive(Debug, Clone, Serialize, TS)]
pub struct GiftDef {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    #[ts(type = "number")]
    pub price: u64,
    /// File name of its art, served by the room server under `/gifts/`.
    pub art: String,
}

impl From<marquee_room::protocol::GiftDef> for GiftDef {
    fn from(g: marquee_room::protocol::GiftDef) -> Self {
        Self {
            id: g.id,
            name: g.name,
            name_zh: g.name_zh,
            price: g.price,
            art: g.art,
        }
    }
}
