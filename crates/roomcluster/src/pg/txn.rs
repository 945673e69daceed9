//! One open transaction of a room: each write is a statement on the connection's thread,
//! in order.

use super::conn::{Conn, i, u};
use marquee_room::protocol::{Event, EventBody};
use marquee_room::room::{GiftOutcome, GiftRecord, WalletRec, Write};
use marquee_room::store::{StorageError, Txn};

/// What a room's transaction must check before its first write.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fence {
    /// Nothing (a store without fences).
    None,
    /// That the room's lease is still under this epoch.
    Held(u64),
    /// This node does not hold the room's lease: no write.
    NotHeld,
}

pub(super) struct PgTxn<'a> {
    conn: &'a Conn,
    room: String,
    fence: Fence,
    started: bool,
}

impl<'a> PgTxn<'a> {
    pub(super) fn new(conn: &'a Conn, room: &str, fence: Fence) -> Self {
        PgTxn {
            conn,
            room: room.to_string(),
            fence,
            started: false,
        }
    }

    pub(super) fn started(&self) -> bool {
        self.started
    }

    /// Begin, at the first write: check the lease's epoch first (`FOR SHARE`: a takeover
    /// waits for this transaction, and the next one sees the new epoch and is refused).
    fn begin(&mut self) -> Result<(), StorageError> {
        if self.started {
            return Ok(());
        }
        let room = self.room.clone();
        let ours = match self.fence {
            Fence::NotHeld => {
                return Err(StorageError::Fenced(format!(
                    "this node does not hold the lease of room {room}"
                )));
            }
            Fence::None => None,
            Fence::Held(e) => Some(e),
        };
        let found = self.conn.call(move |c| {
            c.batch_execute("BEGIN")?;
            match ours {
                None => Ok(None),
                Some(_) => Ok(c
                    .query_opt(
                        "SELECT epoch FROM leases WHERE room = $1 FOR SHARE",
                        &[&room],
                    )?
                    .map(|row| u(row.get(0)))),
            }
        })?;
        self.started = true;
        if let Some(ours) = ours
            && found != Some(ours)
        {
            let now = found.map_or("none".into(), |e| e.to_string());
            return Err(StorageError::Fenced(format!(
                "room {}: this node's lease epoch is {ours}, the room's is {now}",
                self.room
            )));
        }
        Ok(())
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StorageError> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(e.to_string()))
}

const WALLET: &str = "INSERT INTO wallets (room, uid, granted, free_used, stream) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room, uid) DO UPDATE SET granted = EXCLUDED.granted, free_used = EXCLUDED.free_used, stream = EXCLUDED.stream";

fn wallet_params(w: &WalletRec) -> [i64; 3] {
    [i(w.granted), i(w.free_used), i(w.stream)]
}

impl Txn for PgTxn<'_> {
    fn write(&mut self, w: &Write) -> Result<(), StorageError> {
        self.begin()?;
        let room = self.room.clone();
        match w {
            Write::Event(ev) => {
                let ty = serde_json::to_value(&ev.body)
                    .ok()
                    .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                let body = json(ev)?;
                let (seq, epoch, at) = (i(ev.seq), i(ev.epoch), i(ev.at));
                self.conn.call(move |c| {
                    c.execute(
                        "INSERT INTO events (room, seq, epoch, at, type, body) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (room, seq) DO UPDATE SET epoch = EXCLUDED.epoch, at = EXCLUDED.at, type = EXCLUDED.type, body = EXCLUDED.body",
                        &[&room, &seq, &epoch, &at, &ty, &body],
                    )
                })?;
            }
            Write::Redact { seq } => {
                let seq = i(*seq);
                let r = room.clone();
                let body = self.conn.call(move |c| {
                    c.query_opt(
                        "SELECT body FROM events WHERE room = $1 AND seq = $2",
                        &[&r, &seq],
                    )
                    .map(|row| row.map(|row| row.get::<_, String>(0)))
                })?;
                if let Some(body) = body
                    && let Ok(mut ev) = serde_json::from_str::<Event>(&body)
                {
                    if let EventBody::Danmaku { text, deleted, .. } = &mut ev.body {
                        text.clear();
                        *deleted = true;
                    }
                    let body = json(&ev)?;
                    self.conn.call(move |c| {
                        c.execute(
                            "UPDATE events SET body = $3 WHERE room = $1 AND seq = $2",
                            &[&room, &seq, &body],
                        )
                    })?;
                }
            }
            Write::State(st) => {
                let state = json(st.as_ref())?;
                self.conn.call(move |c| {
                    c.execute(
                        "INSERT INTO rooms (room, state) VALUES ($1, $2) ON CONFLICT (room) DO UPDATE SET state = EXCLUDED.state",
                        &[&room, &state],
                    )
                })?;
            }
            Write::Vote { poll, user, option } => {
                let (poll, user, option) = (i(*poll), user.clone(), i64::from(*option));
                self.conn.call(move |c| {
                    c.execute(
                        "INSERT INTO votes (room, poll, uid, option) VALUES ($1, $2, $3, $4) ON CONFLICT (room, poll, uid) DO UPDATE SET option = EXCLUDED.option",
                        &[&room, &poll, &user, &option],
                    )
                })?;
            }
            Write::LotteryEntry {
                lottery,
                user,
                name,
            } => {
                let (lottery, user, name) = (i(*lottery), user.clone(), name.clone());
                self.conn.call(move |c| {
                    c.execute(
                        "INSERT INTO lottery_entries (room, lottery, uid, name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&room, &lottery, &user, &name],
                    )
                })?;
            }
            Write::ModLog(e) => {
                let e = e.clone();
                self.conn.call(move |c| {
                    c.execute(
                        "INSERT INTO modlog (room, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
                        &[&room, &i(e.at), &e.actor, &e.action, &e.target, &e.detail],
                    )
                })?;
            }
            Write::Wallet { user, wallet } => {
                let (user, [g, f, s]) = (user.clone(), wallet_params(wallet));
                self.conn
                    .call(move |c| c.execute(WALLET, &[&room, &user, &g, &f, &s]))?;
            }
        }
        Ok(())
    }

    fn record_gift(
        &mut self,
        g: &GiftRecord,
        wallet: Option<&WalletRec>,
    ) -> Result<GiftOutcome, StorageError> {
        self.begin()?;
        let room = self.room.clone();
        let g = g.clone();
        let wallet = wallet.map(wallet_params);
        self.conn.call(move |c| {
            let Some([wg, wf, ws]) = wallet else {
                let known = c
                    .query_opt(
                        "SELECT 1 FROM gifts WHERE room = $1 AND uid = $2 AND key = $3",
                        &[&room, &g.user.id, &g.key],
                    )?
                    .is_some();
                return Ok(if known {
                    GiftOutcome::Duplicate
                } else {
                    GiftOutcome::NotRecorded
                });
            };
            // Concurrent inserts of one key wait on the unique index for the first to commit,
            // and then do nothing: one row, whoever retried.
            let n = c.execute(
                "INSERT INTO gifts (room, uid, name, role, key, gift, count, coins, at, stream) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (room, uid, key) DO NOTHING",
                &[
                    &room,
                    &g.user.id,
                    &g.user.name,
                    &g.user.role.as_str(),
                    &g.key,
                    &g.gift,
                    &i64::from(g.count),
                    &i(g.coins),
                    &i(g.at),
                    &i(g.stream),
                ],
            )?;
            if n == 0 {
                return Ok(GiftOutcome::Duplicate);
            }
            c.execute(WALLET, &[&room, &g.user.id, &wg, &wf, &ws])?;
            Ok(GiftOutcome::Inserted)
        })
    }
}
