//! Storage in memory: tests, and rooms that need not outlive the process.

use super::api::{Storage, StorageError, Txn};
use crate::protocol::{Event, EventBody, LeaderEntry, ModLogEntry};
use crate::room::{DurableState, GiftOutcome, GiftRecord, Snapshot, WalletRec, Write};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default, Clone)]
struct MemRoom {
    state: Option<DurableState>,
    events: BTreeMap<u64, Event>,
    gifts: Vec<GiftRecord>,
    /// `(user, key)` of every gift in `gifts`.
    gift_keys: HashSet<(String, String)>,
    votes: BTreeMap<(u64, String), u32>,
    entrants: Vec<(u64, String, String)>,
    modlog: Vec<ModLogEntry>,
    wallets: BTreeMap<String, WalletRec>,
}

/// Storage in memory (nothing survives the process). Clones share nothing.
///
/// It cannot fail, so a transaction applies each write as it comes: there is never anything
/// to undo.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    rooms: HashMap<String, MemRoom>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Txn for MemRoom {
    fn write(&mut self, w: &Write) -> Result<(), StorageError> {
        match w {
            Write::Event(ev) => {
                self.events.insert(ev.seq, ev.clone());
            }
            Write::Redact { seq } => {
                if let Some(EventBody::Danmaku { text, deleted, .. }) =
                    self.events.get_mut(seq).map(|e| &mut e.body)
                {
                    text.clear();
                    *deleted = true;
                }
            }
            Write::State(s) => self.state = Some(s.as_ref().clone()),
            Write::Vote { poll, user, option } => {
                self.votes.insert((*poll, user.clone()), *option);
            }
            Write::LotteryEntry {
                lottery,
                user,
                name,
            } => {
                if !self
                    .entrants
                    .iter()
                    .any(|(l, u, _)| l == lottery && u == user)
                {
                    self.entrants.push((*lottery, user.clone(), name.clone()));
                }
            }
            Write::ModLog(e) => self.modlog.push(e.clone()),
            Write::Wallet { user, wallet } => {
                self.wallets.insert(user.clone(), *wallet);
            }
        }
        Ok(())
    }

    fn record_gift(
        &mut self,
        g: &GiftRecord,
        wallet: Option<&WalletRec>,
    ) -> Result<GiftOutcome, StorageError> {
        let key = (g.user.id.clone(), g.key.clone());
        if self.gift_keys.contains(&key) {
            return Ok(GiftOutcome::Duplicate);
        }
        let Some(wallet) = wallet else {
            return Ok(GiftOutcome::NotRecorded);
        };
        self.gift_keys.insert(key);
        self.gifts.push(g.clone());
        self.wallets.insert(g.user.id.clone(), *wallet);
        Ok(GiftOutcome::Inserted)
    }
}

impl Storage for MemoryStore {
    fn load(&mut self, room: &str, resume_window: usize) -> Result<Snapshot, StorageError> {
        let r = self.rooms.entry(room.to_string()).or_default();
        let mut leaders: BTreeMap<String, LeaderEntry> = BTreeMap::new();
        let stream = r.state.as_ref().map_or(0, |s| s.stream);
        for g in r.gifts.iter().filter(|g| g.stream == stream) {
            leaders
                .entry(g.user.id.clone())
                .or_insert_with(|| LeaderEntry {
                    user: g.user.id.clone(),
                    name: g.user.name.clone(),
                    coins: 0,
                })
                .coins += g.coins;
        }
        let skip = r.events.len().saturating_sub(resume_window);
        Ok(Snapshot {
            state: r.state.clone(),
            events: r.events.values().skip(skip).cloned().collect(),
            last_seq: r.events.keys().next_back().copied().unwrap_or(0),
            votes: r
                .votes
                .iter()
                .map(|((p, usr), o)| (*p, usr.clone(), *o))
                .collect(),
            entrants: r.entrants.clone(),
            leaderboard: leaders.into_values().collect(),
            modlog: r.modlog.clone(),
            wallets: r.wallets.iter().map(|(u, w)| (u.clone(), *w)).collect(),
        })
    }

    fn transaction(
        &mut self,
        room: &str,
        f: &mut dyn FnMut(&mut dyn Txn) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        f(self.rooms.entry(room.to_string()).or_default())
    }

    fn ledger(&mut self, room: &str) -> Result<Vec<GiftRecord>, StorageError> {
        Ok(self
            .rooms
            .get(room)
            .map(|r| r.gifts.clone())
            .unwrap_or_default())
    }

    fn has_room(&mut self, room: &str) -> Result<bool, StorageError> {
        Ok(self.rooms.get(room).is_some_and(|r| r.state.is_some()))
    }

    fn modlog(&mut self, room: &str, limit: usize) -> Result<Vec<ModLogEntry>, StorageError> {
        let v = self
            .rooms
            .get(room)
            .map(|r| r.modlog.clone())
            .unwrap_or_default();
        let skip = v.len().saturating_sub(limit);
        Ok(v.into_iter().skip(skip).collect())
    }
}
