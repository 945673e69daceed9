//! Gifts: a gift from the catalog with a client idempotency key goes to the ledger first
//! ([`Action::RecordGift`]); only once it is durable is it acknowledged and broadcast, so a
//! retried key counts once. Repeats within a window form a combo (display only). The
//! leaderboard counts the current stream; `stream_start` begins a new one.

use super::base::{Cx, Sender, earliest};
use super::io::{Action, ConnId, GiftOutcome, GiftRecord};
use crate::protocol::{Control, ErrorCode, EventBody, LeaderEntry};
use std::collections::HashMap;

/// Entries of the leaderboard sent to clients.
const LEADERBOARD_TOP: usize = 10;

/// `gift`.
#[derive(Debug)]
pub(super) struct Gift {
    pub(super) gift: String,
    pub(super) count: u32,
    /// Client idempotency key: retries of one gift reuse it.
    pub(super) key: String,
}

/// The current stream's gifts: its number, the leaderboard, the combos in progress.
#[derive(Debug, Default)]
pub(super) struct Gifts {
    stream: u64,
    leaderboard: HashMap<String, LeaderEntry>,
    /// (user, gift) → (count in the combo, last send).
    combos: HashMap<(String, String), (u32, u64)>,
    /// The leaderboard changed since the last `leaderboard` broadcast.
    changed: bool,
    /// No combo is due to be forgotten before this.
    combos_due: Option<u64>,
}

impl Gifts {
    pub(super) fn restore(stream: u64, leaderboard: Vec<LeaderEntry>) -> Self {
        Gifts {
            stream,
            leaderboard: leaderboard
                .into_iter()
                .map(|e| (e.user.clone(), e))
                .collect(),
            ..Gifts::default()
        }
    }

    pub(super) fn stream(&self) -> u64 {
        self.stream
    }

    /// The top of the leaderboard, most coins first.
    pub(super) fn top(&self) -> Vec<LeaderEntry> {
        let mut v: Vec<LeaderEntry> = self.leaderboard.values().cloned().collect();
        v.sort_by(|a, b| b.coins.cmp(&a.coins).then_with(|| a.user.cmp(&b.user)));
        v.truncate(LEADERBOARD_TOP);
        v
    }

    /// Check a gift and ask the IO layer to write it to the ledger.
    pub(super) fn send(&self, cx: &mut Cx, from: &Sender, msg: Gift) {
        let Gift { gift, count, key } = msg;
        let conn = from.conn;
        let Some(def) = cx.cfg().catalog.iter().find(|g| g.id == gift) else {
            cx.refuse(
                conn,
                ErrorCode::NotFound,
                format!("no gift {gift:?} in the catalog"),
            );
            return;
        };
        let price = def.price;
        if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_graphic()) {
            cx.refuse(
                conn,
                ErrorCode::Invalid,
                "key: 1 to 64 printable ASCII characters",
            );
            return;
        }
        if count == 0 || count > 9_999 {
            cx.refuse(conn, ErrorCode::Invalid, "count: 1 to 9999");
            return;
        }
        cx.out.push(Action::RecordGift {
            conn,
            gift: GiftRecord {
                key,
                user: from.user.clone(),
                gift,
                count,
                coins: price.saturating_mul(u64::from(count)),
                at: cx.now,
                stream: self.stream,
            },
        });
    }

    /// The ledger write is durable: acknowledge, and broadcast a gift that is new.
    pub(super) fn recorded(
        &mut self,
        cx: &mut Cx,
        conn: ConnId,
        gift: GiftRecord,
        outcome: GiftOutcome,
    ) {
        if outcome == GiftOutcome::Duplicate {
            cx.base.stats.duplicate_gifts += 1;
            cx.send(
                conn,
                Control::GiftAck {
                    key: gift.key,
                    duplicate: true,
                },
            );
            return;
        }
        cx.base.stats.gifts += 1;
        let e = self
            .leaderboard
            .entry(gift.user.id.clone())
            .or_insert_with(|| LeaderEntry {
                user: gift.user.id.clone(),
                name: gift.user.name.clone(),
                coins: 0,
            });
        e.coins = e.coins.saturating_add(gift.coins);
        self.changed = true;
        let (now, window) = (cx.now, cx.cfg().combo_window_ms);
        let combo = self
            .combos
            .entry((gift.user.id.clone(), gift.gift.clone()))
            .and_modify(|(n, last)| {
                if now.saturating_sub(*last) <= window {
                    *n += 1;
                } else {
                    *n = 1;
                }
                *last = now;
            })
            .or_insert((1, now))
            .0;
        self.combos_due = earliest(self.combos_due, Some(now + window + 1));
        cx.send(
            conn,
            Control::GiftAck {
                key: gift.key.clone(),
                duplicate: false,
            },
        );
        cx.emit(EventBody::Gift {
            user: gift.user,
            gift: gift.gift,
            count: gift.count,
            coins: gift.coins,
            key: gift.key,
            combo,
        });
    }

    /// The ledger write failed: nothing was recorded, the client may retry with the same key.
    pub(super) fn failed(&self, cx: &mut Cx, conn: ConnId, key: String, error: String) {
        tracing::warn!(room = %cx.cfg().room, %key, %error, "gift not recorded");
        cx.error(
            conn,
            ErrorCode::Storage,
            format!("gift {key} was not recorded; retry with the same key"),
        );
    }

    /// `stream_start`: a new stream begins and its leaderboard starts from zero.
    pub(super) fn stream_start(&mut self, cx: &mut Cx, from: &Sender) {
        self.stream += 1;
        self.leaderboard.clear();
        self.changed = true;
        self.combos.clear();
        cx.log(
            &from.user,
            "stream_start",
            &self.stream.to_string(),
            String::new(),
        );
        cx.state_changed();
        cx.emit(EventBody::StreamStarted {
            stream: self.stream,
        });
    }

    /// The leaderboard changed since the last [`Gifts::broadcast_leaderboard`].
    pub(super) fn leaderboard_changed(&self) -> bool {
        self.changed
    }

    /// The leaderboard, if it changed (at most once per state tick).
    pub(super) fn broadcast_leaderboard(&mut self, cx: &mut Cx) {
        if std::mem::take(&mut self.changed) {
            cx.broadcast(Control::Leaderboard { top: self.top() });
        }
    }

    /// When a combo is next due to be forgotten (a lower bound).
    pub(super) fn combos_due(&self) -> Option<u64> {
        self.combos_due
    }

    /// Forget combos whose window has passed.
    pub(super) fn forget_old_combos(&mut self, now: u64, window: u64) {
        self.combos
            .retain(|_, (_, last)| now.saturating_sub(*last) <= window);
        self.combos_due = self
            .combos
            .values()
            .map(|(_, last)| last + window + 1)
            .min();
    }
}
