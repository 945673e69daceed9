//! SQLite storage (WAL, `synchronous=FULL`: a returned commit survives a crash or power loss).

use super::api::{Storage, StorageError, Txn};
use crate::protocol::{Event, EventBody, LeaderEntry, ModLogEntry, UserRef};
use crate::room::{DurableState, GiftOutcome, GiftRecord, Snapshot, WalletRec, Write};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
fn json<T: serde::Serialize>(v: &T) -> Result<String, StorageError> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(e.to_string()))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rooms (
    room  TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    room  TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL,
    PRIMARY KEY (room, seq)
);
CREATE TABLE IF NOT EXISTS gifts (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    room  TEXT NOT NULL,
    user  TEXT NOT NULL,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL,
    key   TEXT NOT NULL,
    gift  TEXT NOT NULL,
    count INTEGER NOT NULL,
    coins INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    stream INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room, user, key)
);
CREATE TABLE IF NOT EXISTS votes (
    room   TEXT NOT NULL,
    poll   INTEGER NOT NULL,
    user   TEXT NOT NULL,
    option INTEGER NOT NULL,
    PRIMARY KEY (room, poll, user)
);
CREATE TABLE IF NOT EXISTS lottery_entries (
    room    TEXT NOT NULL,
    lottery INTEGER NOT NULL,
    user    TEXT NOT NULL,
    name    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room, lottery, user)
);
CREATE TABLE IF NOT EXISTS modlog (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    room   TEXT NOT NULL,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS modlog_room ON modlog (room, id);
CREATE TABLE IF NOT EXISTS wallets (
    room      TEXT NOT NULL,
    user      TEXT NOT NULL,
    granted   INTEGER NOT NULL,
    free_used INTEGER NOT NULL,
    stream    INTEGER NOT NULL,
    PRIMARY KEY (room, user)
);
";

/// SQLite storage (WAL, `synchronous=FULL`: a returned commit survives a crash or power loss).
pub struct SqliteStore {
    conn: Connection,
    /// Events kept per room (older ones are pruned; they are past any replay window).
    keep_events: u64,
    since_prune: u64,
    /// Commit (and fsync) after every gift instead of once per transaction.
    commit_each_gift: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// How many recent events to keep per room (default 50 000).
    pub fn with_keep_events(mut self, n: u64) -> Self {
        self.keep_events = n.max(1);
        self
    }

    /// Make every gift durable on its own (a commit and an fsync each) instead of with its
    /// group: what a room without group commit pays, kept to measure the difference
    /// (`marquee room bench --gifts`).
    pub fn with_commit_per_gift(mut self, on: bool) -> Self {
        self.commit_each_gift = on;
        self
    }

    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::init(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Self, StorageError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StorageError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            conn,
            keep_events: 50_000,
            since_prune: 0,
            commit_each_gift: false,
        })
    }

    /// Drop events past the replay window of every reader (every 1 000 writes).
    fn prune(&mut self, room: &str, writes: u64) -> Result<(), StorageError> {
        self.since_prune += writes;
        if self.since_prune >= 1_000 {
            self.since_prune = 0;
            self.conn.execute(
                "DELETE FROM events WHERE room = ?1 AND seq <= (SELECT MAX(seq) FROM events WHERE room = ?1) - ?2",
                params![room, i(self.keep_events)],
            )?;
        }
        Ok(())
    }
}

/// An open SQLite transaction of one room.
struct SqlTxn<'a> {
    conn: &'a Connection,
    room: &'a str,
    commit_each_gift: bool,
    writes: u64,
}

impl Txn for SqlTxn<'_> {
    fn write(&mut self, w: &Write) -> Result<(), StorageError> {
        self.writes += 1;
        write(self.conn, self.room, w)
    }

    fn record_gift(
        &mut self,
        g: &GiftRecord,
        wallet: Option<&WalletRec>,
    ) -> Result<GiftOutcome, StorageError> {
        let Some(wallet) = wallet else {
            let known = self
                .conn
                .prepare_cached("SELECT 1 FROM gifts WHERE room = ?1 AND user = ?2 AND key = ?3")?
                .exists(params![self.room, g.user.id, g.key])?;
            return Ok(if known {
                GiftOutcome::Duplicate
            } else {
                GiftOutcome::NotRecorded
            });
        };
        let n = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO gifts (room, user, name, role, key, gift, count, coins, at, stream) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?.execute(params![
            self.room,
            g.user.id,
            g.user.name,
            g.user.role.as_str(),
            g.key,
            g.gift,
            i64::from(g.count),
            i(g.coins),
            i(g.at),
            i(g.stream)
        ])?;
        if n == 1 {
            write_wallet(self.conn, self.room, &g.user.id, wallet)?;
        }
        if self.commit_each_gift {
            self.conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
        }
        Ok(if n == 1 {
            GiftOutcome::Inserted
        } else {
            GiftOutcome::Duplicate
        })
    }
}

fn write_wallet(c: &Connection, room: &str, user: &str, w: &WalletRec) -> Result<(), StorageError> {
    c.prepare_cached(
        "INSERT INTO wallets (room, user, granted, free_used, stream) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(room, user) DO UPDATE SET granted = excluded.granted, free_used = excluded.free_used, stream = excluded.stream",
    )?
    .execute(params![room, user, i(w.granted), i(w.free_used), i(w.stream)])?;
    Ok(())
}

/// Apply one write inside the open transaction.
fn write(c: &Connection, room: &str, w: &Write) -> Result<(), StorageError> {
    match w {
        Write::Event(ev) => {
            let ty = serde_json::to_value(&ev.body)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_default();
            c.prepare_cached(
                "INSERT OR REPLACE INTO events (room, seq, epoch, at, type, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![room, i(ev.seq), i(ev.epoch), i(ev.at), ty, json(ev)?])?;
        }
        Write::Redact { seq } => {
            let body: Option<String> = c
                .query_row(
                    "SELECT body FROM events WHERE room = ?1 AND seq = ?2",
                    params![room, i(*seq)],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(body) = body
                && let Ok(mut ev) = serde_json::from_str::<Event>(&body)
            {
                if let EventBody::Danmaku { text, deleted, .. } = &mut ev.body {
                    text.clear();
                    *deleted = true;
                }
                c.execute(
                    "UPDATE events SET body = ?3 WHERE room = ?1 AND seq = ?2",
                    params![room, i(*seq), json(&ev)?],
                )?;
            }
        }
        Write::State(st) => {
            c.prepare_cached(
                "INSERT INTO rooms (room, state) VALUES (?1, ?2) ON CONFLICT(room) DO UPDATE SET state = excluded.state",
            )?
            .execute(params![room, json(st.as_ref())?])?;
        }
        Write::Vote { poll, user, option } => {
            c.prepare_cached(
                "INSERT INTO votes (room, poll, user, option) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(room, poll, user) DO UPDATE SET option = excluded.option",
            )?
            .execute(params![room, i(*poll), user, i64::from(*option)])?;
        }
        Write::LotteryEntry {
            lottery,
            user,
            name,
        } => {
            c.prepare_cached(
                "INSERT OR IGNORE INTO lottery_entries (room, lottery, user, name) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![room, i(*lottery), user, name])?;
        }
        Write::ModLog(e) => {
            c.prepare_cached(
                "INSERT INTO modlog (room, at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![room, i(e.at), e.actor, e.action, e.target, e.detail])?;
        }
        Write::Wallet { user, wallet } => write_wallet(c, room, user, wallet)?,
    }
    Ok(())
}

impl Storage for SqliteStore {
    fn load(&mut self, room: &str, resume_window: usize) -> Result<Snapshot, StorageError> {
        let c = &self.conn;
        let state: Option<String> = c
            .query_row(
                "SELECT state FROM rooms WHERE room = ?1",
                params![room],
                |r| r.get(0),
            )
            .optional()?;
        let state: Option<DurableState> = match state {
            Some(s) => {
                Some(serde_json::from_str(&s).map_err(|e| StorageError::Corrupt(e.to_string()))?)
            }
            None => None,
        };
        let last_seq: i64 = c.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE room = ?1",
            params![room],
            |r| r.get(0),
        )?;
        let mut events = Vec::new();
        {
            let mut st =
                c.prepare("SELECT body FROM events WHERE room = ?1 ORDER BY seq DESC LIMIT ?2")?;
            let rows = st.query_map(params![room, i(resume_window as u64)], |r| {
                r.get::<_, String>(0)
            })?;
            for row in rows {
                let body = row?;
                let ev: Event = serde_json::from_str(&body)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                events.push(ev);
            }
        }
        events.reverse();
        let mut votes = Vec::new();
        {
            let mut st = c.prepare("SELECT poll, user, option FROM votes WHERE room = ?1")?;
            let rows = st.query_map(params![room], |r| {
                Ok((u(r.get(0)?), r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })?;
            for row in rows {
                let (p, usr, o) = row?;
                votes.push((p, usr, u32::try_from(o).unwrap_or(u32::MAX)));
            }
        }
        let mut entrants = Vec::new();
        {
            let mut st =
                c.prepare("SELECT lottery, user, name FROM lottery_entries WHERE room = ?1")?;
            let rows = st.query_map(params![room], |r| {
                Ok((u(r.get(0)?), r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                entrants.push(row?);
            }
        }
        let mut leaderboard = Vec::new();
        {
            let mut st = c.prepare(
                "SELECT user, MAX(name), SUM(coins) FROM gifts WHERE room = ?1 AND stream = ?2 GROUP BY user",
            )?;
            let stream = state.as_ref().map_or(0, |s| s.stream);
            let rows = st.query_map(params![room, i(stream)], |r| {
                Ok(LeaderEntry {
                    user: r.get(0)?,
                    name: r.get(1)?,
                    coins: u(r.get(2)?),
                })
            })?;
            for row in rows {
                leaderboard.push(row?);
            }
        }
        let mut wallets = Vec::new();
        {
            let mut st =
                c.prepare("SELECT user, granted, free_used, stream FROM wallets WHERE room = ?1")?;
            let rows = st.query_map(params![room], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    WalletRec {
                        granted: u(r.get(1)?),
                        free_used: u(r.get(2)?),
                        stream: u(r.get(3)?),
                    },
                ))
            })?;
            for row in rows {
                wallets.push(row?);
            }
        }
        let modlog = self.modlog(room, 500)?;
        Ok(Snapshot {
            state,
            events,
            last_seq: u(last_seq),
            votes,
            entrants,
            leaderboard,
            modlog,
            wallets,
        })
    }

    fn transaction(
        &mut self,
        room: &str,
        f: &mut dyn FnMut(&mut dyn Txn) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut t = SqlTxn {
            conn: &self.conn,
            room,
            commit_each_gift: self.commit_each_gift,
            writes: 0,
        };
        let done = f(&mut t).and_then(|()| Ok(self.conn.execute_batch("COMMIT")?));
        let writes = t.writes;
        if let Err(e) = done {
            // Some errors (a full disk) have already ended the transaction: then there is
            // nothing left to roll back.
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(e);
        }
        self.prune(room, writes)
    }

    fn ledger(&mut self, room: &str) -> Result<Vec<GiftRecord>, StorageError> {
        let mut st = self.conn.prepare(
            "SELECT user, name, role, key, gift, count, coins, at, stream FROM gifts WHERE room = ?1 ORDER BY id",
        )?;
        let rows = st.query_map(params![room], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, role, key, gift, count, coins, at, stream) = row?;
            out.push(GiftRecord {
                key,
                user: UserRef {
                    id,
                    name,
                    role: role.parse().map_err(StorageError::Corrupt)?,
                },
                gift,
                count: u32::try_from(count).unwrap_or(0),
                coins: u(coins),
                at: u(at),
                stream: u(stream),
            });
        }
        Ok(out)
    }

    fn has_room(&mut self, room: &str) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM rooms WHERE room = ?1", params![room], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }

    fn modlog(&mut self, room: &str, limit: usize) -> Result<Vec<ModLogEntry>, StorageError> {
        let mut st = self.conn.prepare(
            "SELECT at, actor, action, target, detail FROM modlog WHERE room = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![room, i(limit as u64)], |r| {
            Ok(ModLogEntry {
                at: u(r.get(0)?),
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        let mut v = Vec::new();
        for row in rows {
            v.push(row?);
        }
        v.reverse();
        Ok(v)
    }
}
