//! Durable storage behind a small trait: [`SqliteStore`] (default) and [`MemoryStore`] (tests,
//! ephemeral rooms). A later Postgres store implements the same trait.
//!
//! The room calls [`Storage::commit`] with all writes of one input (one transaction), and
//! [`Storage::record_gift`] for each gift: the ledger is unique on `(room, user, key)`, so a
//! retried, replayed or re-sent gift is recorded once.

use crate::protocol::{Event, EventBody, LeaderEntry, ModLogEntry, UserRef};
use crate::room::{DurableState, GiftOutcome, GiftRecord, Snapshot, Write};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// What the room needs from storage.
pub trait Storage: Send {
    /// Everything needed to reopen a room; `resume_window` most recent events.
    fn load(&mut self, room: &str, resume_window: usize) -> Result<Snapshot, StorageError>;
    /// Make these writes durable, all or nothing.
    fn commit(&mut self, room: &str, writes: &[Write]) -> Result<(), StorageError>;
    /// Insert a gift in the ledger unless its key is already there. Durable when it returns.
    fn record_gift(&mut self, room: &str, gift: &GiftRecord) -> Result<GiftOutcome, StorageError>;
    /// The whole ledger of a room, in insertion order.
    fn ledger(&mut self, room: &str) -> Result<Vec<GiftRecord>, StorageError>;
    /// Moderation log, oldest first, at most `limit` most recent.
    fn modlog(&mut self, room: &str, limit: usize) -> Result<Vec<ModLogEntry>, StorageError>;
    /// Whether the room was ever created here (asking writes nothing). A store that cannot
    /// tell says no: such rooms are then created again only by their host.
    fn has_room(&mut self, room: &str) -> Result<bool, StorageError> {
        let _ = room;
        Ok(false)
    }
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
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
";

/// SQLite storage (WAL, `synchronous=FULL`: a returned commit survives a crash or power loss).
pub struct SqliteStore {
    conn: Connection,
    /// Events kept per room (older ones are pruned; they are past any replay window).
    keep_events: u64,
    since_prune: u64,
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
        })
    }
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
        let modlog = self.modlog(room, 500)?;
        Ok(Snapshot {
            state,
            events,
            last_seq: u(last_seq),
            votes,
            entrants,
            leaderboard,
            modlog,
        })
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

    fn commit(&mut self, room: &str, writes: &[Write]) -> Result<(), StorageError> {
        if writes.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for w in writes {
            match w {
                Write::Event(ev) => {
                    let body = serde_json::to_string(ev)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                    let ty = serde_json::to_value(&ev.body)
                        .ok()
                        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                        .unwrap_or_default();
                    tx.execute(
                        "INSERT OR REPLACE INTO events (room, seq, epoch, at, type, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![room, i(ev.seq), i(ev.epoch), i(ev.at), ty, body],
                    )?;
                }
                Write::Redact { seq } => {
                    let body: Option<String> = tx
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
                        let body = serde_json::to_string(&ev)
                            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                        tx.execute(
                            "UPDATE events SET body = ?3 WHERE room = ?1 AND seq = ?2",
                            params![room, i(*seq), body],
                        )?;
                    }
                }
                Write::State(st) => {
                    let s = serde_json::to_string(st.as_ref())
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO rooms (room, state) VALUES (?1, ?2) ON CONFLICT(room) DO UPDATE SET state = excluded.state",
                        params![room, s],
                    )?;
                }
                Write::Vote { poll, user, option } => {
                    tx.execute(
                        "INSERT INTO votes (room, poll, user, option) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(room, poll, user) DO UPDATE SET option = excluded.option",
                        params![room, i(*poll), user, i64::from(*option)],
                    )?;
                }
                Write::LotteryEntry {
                    lottery,
                    user,
                    name,
                } => {
                    tx.execute(
                        "INSERT OR IGNORE INTO lottery_entries (room, lottery, user, name) VALUES (?1, ?2, ?3, ?4)",
                        params![room, i(*lottery), user, name],
                    )?;
                }
                Write::ModLog(e) => {
                    tx.execute(
                        "INSERT INTO modlog (room, at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![room, i(e.at), e.actor, e.action, e.target, e.detail],
                    )?;
                }
            }
        }
        tx.commit()?;
        self.since_prune += writes.len() as u64;
        if self.since_prune >= 1_000 {
            self.since_prune = 0;
            self.conn.execute(
                "DELETE FROM events WHERE room = ?1 AND seq <= (SELECT MAX(seq) FROM events WHERE room = ?1) - ?2",
                params![room, i(self.keep_events)],
            )?;
        }
        Ok(())
    }

    fn record_gift(&mut self, room: &str, g: &GiftRecord) -> Result<GiftOutcome, StorageError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO gifts (room, user, name, role, key, gift, count, coins, at, stream) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                room,
                g.user.id,
                g.user.name,
                g.user.role.as_str(),
                g.key,
                g.gift,
                i64::from(g.count),
                i(g.coins),
                i(g.at),
                i(g.stream)
            ],
        )?;
        Ok(if n == 1 {
            GiftOutcome::Inserted
        } else {
            GiftOutcome::Duplicate
        })
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

#[derive(Debug, Default, Clone)]
struct MemRoom {
    state: Option<DurableState>,
    events: BTreeMap<u64, Event>,
    gifts: Vec<GiftRecord>,
    votes: BTreeMap<(u64, String), u32>,
    entrants: Vec<(u64, String, String)>,
    modlog: Vec<ModLogEntry>,
}

/// Storage in memory (nothing survives the process). Clones share nothing.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    rooms: HashMap<String, MemRoom>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
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
        })
    }

    fn commit(&mut self, room: &str, writes: &[Write]) -> Result<(), StorageError> {
        let r = self.rooms.entry(room.to_string()).or_default();
        for w in writes {
            match w {
                Write::Event(ev) => {
                    r.events.insert(ev.seq, ev.clone());
                }
                Write::Redact { seq } => {
                    if let Some(EventBody::Danmaku { text, deleted, .. }) =
                        r.events.get_mut(seq).map(|e| &mut e.body)
                    {
                        text.clear();
                        *deleted = true;
                    }
                }
                Write::State(s) => r.state = Some(s.as_ref().clone()),
                Write::Vote { poll, user, option } => {
                    r.votes.insert((*poll, user.clone()), *option);
                }
                Write::LotteryEntry {
                    lottery,
                    user,
                    name,
                } => {
                    if !r.entrants.iter().any(|(l, u, _)| l == lottery && u == user) {
                        r.entrants.push((*lottery, user.clone(), name.clone()));
                    }
                }
                Write::ModLog(e) => r.modlog.push(e.clone()),
            }
        }
        Ok(())
    }

    fn record_gift(&mut self, room: &str, g: &GiftRecord) -> Result<GiftOutcome, StorageError> {
        let r = self.rooms.entry(room.to_string()).or_default();
        if r.gifts
            .iter()
            .any(|x| x.user.id == g.user.id && x.key == g.key)
        {
            return Ok(GiftOutcome::Duplicate);
        }
        r.gifts.push(g.clone());
        Ok(GiftOutcome::Inserted)
    }

    fn ledger(&mut self, room: &str) -> Result<Vec<GiftRecord>, StorageError> {
        Ok(self
            .rooms
            .get(room)
            .map(|r| r.gifts.clone())
            .unwrap_or_default())
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

    fn has_room(&mut self, room: &str) -> Result<bool, StorageError> {
        Ok(self.rooms.get(room).is_some_and(|r| r.state.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Role;

    fn gift(key: &str) -> GiftRecord {
        GiftRecord {
            key: key.into(),
            user: UserRef {
                id: "u1".into(),
                name: "U".into(),
                role: Role::Viewer,
            },
            gift: "rose".into(),
            count: 2,
            coins: 2,
            at: 5,
            stream: 0,
        }
    }

    #[test]
    fn sqlite_ledger_is_unique_on_key_and_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("mq-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.db");
        let _ = std::fs::remove_file(&path);
        {
            let mut s = SqliteStore::open(&path).unwrap();
            assert_eq!(
                s.record_gift("r", &gift("k1")).unwrap(),
                GiftOutcome::Inserted
            );
            assert_eq!(
                s.record_gift("r", &gift("k1")).unwrap(),
                GiftOutcome::Duplicate
            );
            assert_eq!(
                s.record_gift("r", &gift("k2")).unwrap(),
                GiftOutcome::Inserted
            );
            assert_eq!(
                s.record_gift("other", &gift("k1")).unwrap(),
                GiftOutcome::Inserted
            );
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let l = s.ledger("r").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0], gift("k1"));
        let snap = s.load("r", 10).unwrap();
        assert_eq!(snap.leaderboard[0].coins, 4);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn old_events_are_pruned_but_the_last_seq_is_kept() {
        use crate::protocol::{Event, EventBody};
        let mut s = SqliteStore::open_in_memory().unwrap().with_keep_events(10);
        for seq in 1..=1_500u64 {
            let ev = Event {
                seq,
                epoch: 1,
                at: seq,
                body: EventBody::MessageDeleted {
                    id: seq,
                    by: "m".into(),
                },
            };
            s.commit("r", &[Write::Event(ev)]).unwrap();
        }
        let snap = s.load("r", 100).unwrap();
        assert_eq!(snap.last_seq, 1_500);
        assert!(snap.events.len() <= 510, "{}", snap.events.len());
        assert_eq!(snap.events.last().unwrap().seq, 1_500);
    }
}
