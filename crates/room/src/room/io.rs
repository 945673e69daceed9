//! What goes in and out of the room: [`Input`]s from the IO layer, [`Action`]s back to it.

use super::state::{DurableState, WalletRec};
use crate::protocol::{ErrorCode, Event, ModLogEntry, ServerMsg, UserRef};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// Identifies one connection, chosen by the IO layer.
pub type ConnId = u64;

/// What the IO layer feeds in.
#[derive(Debug)]
pub enum Input<'a> {
    /// A connection was accepted (before its hello), from this client address if known.
    Open { conn: ConnId, ip: Option<IpAddr> },
    /// A text frame arrived.
    Text { conn: ConnId, text: &'a str },
    /// A binary frame arrived (not part of the protocol).
    Binary { conn: ConnId, len: usize },
    /// The connection is gone.
    Closed { conn: ConnId },
    /// Time passes: feed it once [`super::Room::poll_timeout`] is due. An earlier one does
    /// nothing that was not due.
    Tick,
    /// The ledger insert asked for by [`Action::RecordGift`] was made, in the transaction that
    /// holds this call's writes: what the room answers is sent once that transaction is
    /// durable, like any other send.
    GiftRecorded {
        conn: ConnId,
        gift: GiftRecord,
        outcome: GiftOutcome,
    },
    /// The ledger write failed; nothing was recorded.
    GiftFailed {
        conn: ConnId,
        key: String,
        error: String,
    },
}

/// A gift as written to the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftRecord {
    pub key: String,
    pub user: UserRef,
    pub gift: String,
    pub count: u32,
    pub coins: u64,
    pub at: u64,
    /// The stream (live session) it was sent in; the leaderboard is per stream.
    #[serde(default)]
    pub stream: u64,
}

/// Result of a ledger insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiftOutcome {
    /// Recorded, and the sender's wallet written as [`Action::RecordGift`] said.
    Inserted,
    /// The key was already in the ledger: nothing new was recorded or spent.
    Duplicate,
    /// The key was not in the ledger, and the gift was not recorded: the sender's points do not
    /// cover it (a `RecordGift` without a wallet).
    NotRecorded,
}

/// A durable write.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Event(Event),
    /// A message was deleted: blank its text in the log.
    Redact {
        seq: u64,
    },
    State(Box<DurableState>),
    Vote {
        poll: u64,
        user: String,
        option: u32,
    },
    LotteryEntry {
        lottery: u64,
        user: String,
        name: String,
    },
    ModLog(ModLogEntry),
    /// A user's points (after a grant).
    Wallet {
        user: String,
        wallet: WalletRec,
    },
}

/// What the IO layer must do.
#[derive(Debug, Clone)]
pub enum Action {
    Persist(Write),
    /// Insert the gift in the ledger unless its key is there, and then (in the same
    /// transaction) write the sender's `wallet` as it is after paying for it. Without a wallet
    /// the sender cannot pay: only look the key up (a retried gift that was already recorded
    /// is a duplicate, whatever the sender has left).
    RecordGift {
        conn: ConnId,
        gift: GiftRecord,
        wallet: Option<WalletRec>,
    },
    Send {
        conn: ConnId,
        msg: ServerMsg,
    },
    /// To every subscribed connection.
    Broadcast(Arc<ServerMsg>),
    /// The connection has joined: include it in broadcasts from now on.
    Subscribe {
        conn: ConnId,
        /// It accepts `batch` frames (said so in its hello).
        batch: bool,
    },
    /// The host's connection `conn` takes co-stream guests (`open`) or no longer does: the
    /// IO layer relays guests' requests to it (see `ClientMsg::GuestDoor`).
    GuestDoor {
        conn: ConnId,
        open: bool,
    },
    /// The host's answer to relayed guest request `id`, from `conn`.
    GuestAnswer {
        conn: ConnId,
        id: u64,
        reply: marquee_guestdoor::DoorReply,
    },
    /// Send an error frame with this code and reason, then close the connection.
    Close {
        conn: ConnId,
        code: ErrorCode,
        reason: String,
    },
}

impl Action {
    /// The durable writes among `actions`, in order: what one transaction must hold before any
    /// of the other actions is carried out.
    pub fn writes(actions: &[Action]) -> Vec<Write> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Persist(w) => Some(w.clone()),
                _ => None,
            })
            .collect()
    }
}
