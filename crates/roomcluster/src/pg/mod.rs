//! Postgres storage: the same tables and semantics as the SQLite store (events with seq and
//! epoch, a ledger unique on `(room, uid, key)`, one vote per viewer and poll, wallets), and a
//! lease row per room whose epoch fences every write transaction.
//!
//! The room's storage trait is synchronous and is also called from async handlers (a room is
//! opened while its first connection is being upgraded), where a blocking Postgres client must
//! not start its own runtime. So each [`PgStore`] owns one connection on a thread of its own,
//! and every statement is a request to that thread: blocking the caller the way a SQLite call
//! does, from any thread.

mod conn;
mod leases;
mod schema;
mod txn;

use crate::fence::Fences;
use conn::{Conn, i, u};
use marquee_room::protocol::{Event, LeaderEntry, ModLogEntry, UserRef};
use marquee_room::room::{DurableState, GiftRecord, Snapshot, WalletRec};
use marquee_room::store::{Storage, StorageError, Txn};

pub use leases::{Holder, PgLeases};

use txn::{Fence, PgTxn};

fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

/// Room storage in Postgres. Several nodes may open it on one database; with
/// [`PgStore::with_fences`] a room's writes commit only while this node holds its lease.
pub struct PgStore {
    conn: Conn,
    fences: Option<Fences>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/db`, or key=value settings). An
    /// error never carries the password.
    pub fn open(url: &str) -> Result<PgStore, StorageError> {
        Ok(PgStore {
            conn: Conn::open(url)?,
            fences: None,
        })
    }

    /// Commit a room's writes only under the lease epoch this node holds for it (in `fences`):
    /// each transaction reads the room's lease row first (`FOR SHARE`, so a takeover waits for
    /// it and then refuses the next) and is refused with [`StorageError::Fenced`] when the
    /// epoch there is not ours — a replaced owner never commits.
    pub fn with_fences(mut self, fences: Fences) -> PgStore {
        self.fences = Some(fences);
        self
    }
}

impl Storage for PgStore {
    fn load(&mut self, room: &str, resume_window: usize) -> Result<Snapshot, StorageError> {
        let room = room.to_string();
        let rows = self.conn.call(move |c| {
            let mut t = c.build_transaction().read_only(true).start()?;
            let state = t.query_opt("SELECT state FROM rooms WHERE room = $1", &[&room])?;
            let last: i64 = t
                .query_one(
                    "SELECT COALESCE(MAX(seq), 0) FROM events WHERE room = $1",
                    &[&room],
                )?
                .get(0);
            let events = t.query(
                "SELECT body FROM events WHERE room = $1 ORDER BY seq DESC LIMIT $2",
                &[&room, &i(resume_window as u64)],
            )?;
            let votes = t.query(
                "SELECT poll, uid, option FROM votes WHERE room = $1",
                &[&room],
            )?;
            let entrants = t.query(
                "SELECT lottery, uid, name FROM lottery_entries WHERE room = $1",
                &[&room],
            )?;
            let gifts = t.query(
                "SELECT uid, MAX(name), SUM(coins)::BIGINT, stream FROM gifts WHERE room = $1 GROUP BY uid, stream",
                &[&room],
            )?;
            let wallets = t.query(
                "SELECT uid, granted, free_used, stream FROM wallets WHERE room = $1 ORDER BY uid",
                &[&room],
            )?;
            let modlog = t.query(
                "SELECT at, actor, action, target, detail FROM modlog WHERE room = $1 ORDER BY id DESC LIMIT 500",
                &[&room],
            )?;
            t.commit()?;
            Ok((state, last, events, votes, entrants, gifts, wallets, modlog))
        })?;
        let (state, last, events, votes, entrants, gifts, wallets, modlog) = rows;
        let state: Option<DurableState> = match state {
            Some(r) => Some(serde_json::from_str(r.get::<_, &str>(0)).map_err(corrupt)?),
            None => None,
        };
        let stream = state.as_ref().map_or(0, |s| s.stream);
        let mut evs = Vec::with_capacity(events.len());
        for r in events.iter().rev() {
            evs.push(serde_json::from_str::<Event>(r.get::<_, &str>(0)).map_err(corrupt)?);
        }
        Ok(Snapshot {
            state,
            events: evs,
            last_seq: u(last),
            votes: votes
                .iter()
                .map(|r| {
                    let o: i64 = r.get(2);
                    (u(r.get(0)), r.get(1), u32::try_from(o).unwrap_or(u32::MAX))
                })
                .collect(),
            entrants: entrants
                .iter()
                .map(|r| (u(r.get(0)), r.get(1), r.get(2)))
                .collect(),
            leaderboard: gifts
                .iter()
                .filter(|r| u(r.get(3)) == stream)
                .map(|r| LeaderEntry {
                    user: r.get(0),
                    name: r.get(1),
                    coins: u(r.get(2)),
                })
                .collect(),
            modlog: modlog.iter().rev().map(modlog_entry).collect(),
            wallets: wallets
                .iter()
                .map(|r| {
                    let w = WalletRec {
                        granted: u(r.get(1)),
                        free_used: u(r.get(2)),
                        stream: u(r.get(3)),
                    };
                    (r.get(0), w)
                })
                .collect(),
        })
    }

    fn transaction(
        &mut self,
        room: &str,
        f: &mut dyn FnMut(&mut dyn Txn) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let fence = match &self.fences {
            None => Fence::None,
            Some(fences) => match fences.held(room) {
                Some(epoch) => Fence::Held(epoch),
                None => Fence::NotHeld,
            },
        };
        // Begun at its first write: a group with nothing to write costs no round trip.
        let mut t = PgTxn::new(&self.conn, room, fence);
        let done = f(&mut t).and_then(|()| {
            if t.started() {
                self.conn.call(|c| c.batch_execute("COMMIT"))
            } else {
                Ok(())
            }
        });
        if done.is_err() && t.started() {
            let _ = self.conn.call(|c| c.batch_execute("ROLLBACK"));
        }
        done
    }

    fn ledger(&mut self, room: &str) -> Result<Vec<GiftRecord>, StorageError> {
        let room = room.to_string();
        let rows = self.conn.call(move |c| {
            c.query(
                "SELECT uid, name, role, key, gift, count, coins, at, stream FROM gifts WHERE room = $1 ORDER BY id",
                &[&room],
            )
        })?;
        rows.iter()
            .map(|r| {
                let count: i64 = r.get(5);
                Ok(GiftRecord {
                    user: UserRef {
                        id: r.get(0),
                        name: r.get(1),
                        role: r.get::<_, &str>(2).parse().map_err(StorageError::Corrupt)?,
                    },
                    key: r.get(3),
                    gift: r.get(4),
                    count: u32::try_from(count).unwrap_or(0),
                    coins: u(r.get(6)),
                    at: u(r.get(7)),
                    stream: u(r.get(8)),
                })
            })
            .collect()
    }

    fn modlog(&mut self, room: &str, limit: usize) -> Result<Vec<ModLogEntry>, StorageError> {
        let room = room.to_string();
        let rows = self.conn.call(move |c| {
            c.query(
                "SELECT at, actor, action, target, detail FROM modlog WHERE room = $1 ORDER BY id DESC LIMIT $2",
                &[&room, &i(limit as u64)],
            )
        })?;
        Ok(rows.iter().rev().map(modlog_entry).collect())
    }

    /// A room exists once its state is written, or once a node holds (or held) its lease: the
    /// node that opens a room takes its lease before it answers "opened", and its room thread
    /// writes the state only afterwards, so another node asked in between finds the room by its
    /// lease.
    fn has_room(&mut self, room: &str) -> Result<bool, StorageError> {
        let room = room.to_string();
        self.conn.call(move |c| {
            Ok(c.query_opt(
                "SELECT 1 FROM rooms WHERE room = $1 \
                 UNION ALL SELECT 1 FROM leases WHERE room = $1 LIMIT 1",
                &[&room],
            )?
            .is_some())
        })
    }
}

fn modlog_entry(r: &postgres::Row) -> ModLogEntry {
    ModLogEntry {
        at: u(r.get(0)),
        actor: r.get(1),
        action: r.get(2),
        target: r.get(3),
        detail: r.get(4),
    }
}
