//! The tables: SQLite's, in Postgres types (`user` is a reserved word there: `uid`), and the
//! lease row of each room.

use postgres::Client;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rooms (
    room  TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    room  TEXT NOT NULL,
    seq   BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    at    BIGINT NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL,
    PRIMARY KEY (room, seq)
);
CREATE TABLE IF NOT EXISTS gifts (
    id     BIGSERIAL PRIMARY KEY,
    room   TEXT NOT NULL,
    uid    TEXT NOT NULL,
    name   TEXT NOT NULL,
    role   TEXT NOT NULL,
    key    TEXT NOT NULL,
    gift   TEXT NOT NULL,
    count  BIGINT NOT NULL,
    coins  BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    stream BIGINT NOT NULL DEFAULT 0,
    UNIQUE (room, uid, key)
);
CREATE TABLE IF NOT EXISTS votes (
    room   TEXT NOT NULL,
    poll   BIGINT NOT NULL,
    uid    TEXT NOT NULL,
    option BIGINT NOT NULL,
    PRIMARY KEY (room, poll, uid)
);
CREATE TABLE IF NOT EXISTS lottery_entries (
    room    TEXT NOT NULL,
    lottery BIGINT NOT NULL,
    uid     TEXT NOT NULL,
    name    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room, lottery, uid)
);
CREATE TABLE IF NOT EXISTS modlog (
    id     BIGSERIAL PRIMARY KEY,
    room   TEXT NOT NULL,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS modlog_room ON modlog (room, id);
CREATE TABLE IF NOT EXISTS wallets (
    room      TEXT NOT NULL,
    uid       TEXT NOT NULL,
    granted   BIGINT NOT NULL,
    free_used BIGINT NOT NULL,
    stream    BIGINT NOT NULL,
    PRIMARY KEY (room, uid)
);
CREATE TABLE IF NOT EXISTS leases (
    room       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    addr       TEXT NOT NULL DEFAULT '',
    epoch      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
";

/// How long a session may sit inside a transaction between two statements, and wait for a
/// lock, before Postgres gives up on it (ms). A room's transaction never waits on anything but
/// its own statements, so only a node that is paused or cut off mid-transaction reaches it — and
/// it must not keep the lease row locked, which would hold up the node taking over.
const STALL_MS: u32 = 2_000;

/// Set this session's limits on stalled transactions and lock waits.
pub(super) fn limits(c: &mut Client) -> Result<(), postgres::Error> {
    c.batch_execute(&format!(
        "SET idle_in_transaction_session_timeout = {STALL_MS}; SET lock_timeout = {STALL_MS}"
    ))
}

/// Make the tables if they are missing. `CREATE TABLE IF NOT EXISTS` is not safe against a
/// concurrent one, so nodes take a transaction-scoped advisory lock first.
pub(super) fn ensure(c: &mut Client) -> Result<(), postgres::Error> {
    let mut t = c.transaction()?;
    t.execute("SELECT pg_advisory_xact_lock(7460921)", &[])?;
    t.batch_execute(SCHEMA)?;
    t.commit()
}
