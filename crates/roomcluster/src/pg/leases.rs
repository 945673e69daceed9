//! The lease rows: acquire, renew, release, and who holds a room. Expiry is Postgres's `now()`,
//! so the nodes' clocks never matter.

use super::conn::{Conn, i, u};
use crate::lease::LeaseInput;
use marquee_room::store::StorageError;
use std::time::Duration;

/// Who holds a room's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub owner: String,
    /// Where the owner takes forwarded writes.
    pub addr: String,
    pub epoch: u64,
    /// Whether its lease has run out (anyone may take it).
    pub expired: bool,
}

/// Lease rows of rooms, for one node.
pub struct PgLeases {
    conn: Conn,
    owner: String,
    addr: String,
}

impl std::fmt::Debug for PgLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLeases")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl PgLeases {
    /// Leases taken as `owner` (unique per node process), reachable at `addr`.
    pub fn open(url: &str, owner: &str, addr: &str) -> Result<PgLeases, StorageError> {
        Ok(PgLeases {
            conn: Conn::open(url)?,
            owner: owner.to_string(),
            addr: addr.to_string(),
        })
    }

    /// Take `room`'s lease if it is free, expired or ours: always under a new epoch (the
    /// fencing token of this grant), one more than any before.
    pub fn acquire(&self, room: &str, ttl: Duration) -> Result<LeaseInput, StorageError> {
        let (room, owner, addr, ttl) = (
            room.to_string(),
            self.owner.clone(),
            self.addr.clone(),
            ms(ttl),
        );
        self.conn.call(move |c| {
            let won = c.query_opt(
                "INSERT INTO leases (room, owner, addr, epoch, expires_at) \
                 VALUES ($1, $2, $3, 1, now() + $4::float8 * interval '1 millisecond') \
                 ON CONFLICT (room) DO UPDATE SET owner = EXCLUDED.owner, addr = EXCLUDED.addr, \
                   epoch = leases.epoch + 1, expires_at = EXCLUDED.expires_at \
                 WHERE leases.expires_at <= now() OR leases.owner = EXCLUDED.owner \
                 RETURNING epoch",
                &[&room, &owner, &addr, &(ttl as f64)],
            )?;
            if let Some(row) = won {
                return Ok(LeaseInput::Acquired {
                    epoch: u(row.get(0)),
                });
            }
            let who = c
                .query_opt("SELECT owner FROM leases WHERE room = $1", &[&room])?
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_default();
            Ok(LeaseInput::HeldByOther { owner: who })
        })
    }

    /// Extend our lease under `epoch`: `Lost` if the row is under another epoch now.
    pub fn renew(&self, room: &str, epoch: u64, ttl: Duration) -> Result<LeaseInput, StorageError> {
        let (room, owner, ttl) = (room.to_string(), self.owner.clone(), ms(ttl));
        self.conn.call(move |c| {
            let n = c.execute(
                "UPDATE leases SET expires_at = now() + $4::float8 * interval '1 millisecond' \
                 WHERE room = $1 AND owner = $2 AND epoch = $3",
                &[&room, &owner, &i(epoch), &(ttl as f64)],
            )?;
            Ok(if n == 1 {
                LeaseInput::Renewed { epoch }
            } else {
                LeaseInput::Lost
            })
        })
    }

    /// Give our lease under `epoch` up at once (the next node to ask gets it).
    pub fn release(&self, room: &str, epoch: u64) -> Result<(), StorageError> {
        let (room, owner) = (room.to_string(), self.owner.clone());
        self.conn.call(move |c| {
            c.execute(
                "UPDATE leases SET expires_at = now() WHERE room = $1 AND owner = $2 AND epoch = $3",
                &[&room, &owner, &i(epoch)],
            )
            .map(|_| ())
        })
    }

    /// Who holds `room`'s lease (`None`: nobody ever did).
    pub fn holder(&self, room: &str) -> Result<Option<Holder>, StorageError> {
        let room = room.to_string();
        self.conn.call(move |c| {
            Ok(c.query_opt(
                "SELECT owner, addr, epoch, expires_at <= now() FROM leases WHERE room = $1",
                &[&room],
            )?
            .map(|r| Holder {
                owner: r.get(0),
                addr: r.get(1),
                epoch: u(r.get(2)),
                expired: r.get(3),
            }))
        })
    }
}
