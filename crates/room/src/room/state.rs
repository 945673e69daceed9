//! The room's durable state: what storage keeps as one record, and what it hands back when a
//! room is (re)opened.

use crate::protocol::{Event, GiftRules, LeaderEntry, ModLogEntry, QuestionInfo, Settings};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A poll as kept in the durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRec {
    pub poll: u64,
    pub question: String,
    pub options: Vec<String>,
    pub ends_at: u64,
    pub allow_change: bool,
    pub open: bool,
    /// Final tallies once closed.
    #[serde(default)]
    pub result: Vec<u64>,
}

/// A lottery as kept in the durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotteryRec {
    pub lottery: u64,
    pub keyword: String,
    pub prize: String,
    pub seed: String,
    pub open: bool,
    #[serde(default)]
    pub winners: Vec<String>,
}

/// The part of the room state saved as one record (votes, lottery entries, gifts, events and
/// the moderation log have their own tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DurableState {
    pub epoch: u64,
    pub settings: Settings,
    pub blocked_words: Vec<String>,
    pub bans: BTreeSet<String>,
    pub timeouts: BTreeMap<String, u64>,
    pub polls: Vec<PollRec>,
    pub lotteries: Vec<LotteryRec>,
    pub questions: Vec<QuestionInfo>,
    pub pinned: Option<u64>,
    pub next_id: u64,
    pub closed: bool,
    /// The current stream (live session); `stream_start` begins a new one.
    #[serde(default)]
    pub stream: u64,
    /// How users get points for gifts.
    #[serde(default)]
    pub gift_rules: GiftRules,
    /// Moderators the host appointed: user id → name.
    #[serde(default)]
    pub moderators: BTreeMap<String, String>,
    /// Moderator invite codes not yet redeemed → when minted (ms).
    #[serde(default)]
    pub mod_invites: BTreeMap<String, u64>,
}

/// A user's points, as kept (a user without one has the stream's free points and nothing else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletRec {
    /// Points the host granted, not spent yet (kept across streams).
    pub granted: u64,
    /// Free points spent in `stream` (the free points of a later stream are all there).
    pub free_used: u64,
    pub stream: u64,
}

/// What storage hands back when a room is (re)opened.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub state: Option<DurableState>,
    /// The most recent events, ascending by seq.
    pub events: Vec<Event>,
    pub last_seq: u64,
    /// `(poll, user, option)`.
    pub votes: Vec<(u64, String, u32)>,
    /// `(lottery, user id, display name)`.
    pub entrants: Vec<(u64, String, String)>,
    /// Coins per user from the ledger.
    pub leaderboard: Vec<LeaderEntry>,
    pub modlog: Vec<ModLogEntry>,
    /// Every user's points that were ever spent or granted, by user id.
    pub wallets: Vec<(String, WalletRec)>,
}
