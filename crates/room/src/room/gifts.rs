//! Gifts: a gift from the catalog with a client idempotency key goes to the ledger first
//! ([`Action::RecordGift`]), paid for with the sender's points in the same transaction; only
//! once it is durable is it acknowledged and broadcast, so a retried key counts (and is paid
//! for) once. A gift the sender's points do not cover is refused; gifts are rate-limited per
//! user over all their connections. Repeats within a window form a combo (display only). The
//! leaderboard counts the current stream; `stream_start` begins a new one (and new free
//! points). The host grants points and sets how many free points a stream brings.

use super::base::{Cx, Sender, earliest};
use super::io::{Action, ConnId, GiftOutcome, GiftRecord, Write};
use super::state::WalletRec;
use super::wallets::{MAX_GRANT, Wallets};
use crate::protocol::{Control, ErrorCode, EventBody, GiftRules, LeaderEntry};
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

/// `grant`: points for a user (host only).
#[derive(Debug)]
pub(super) struct Grant {
    pub(super) user: String,
    pub(super) points: u64,
}

/// The current stream's gifts: its number, the leaderboard, the combos in progress, and
/// everyone's points.
#[derive(Debug, Default)]
pub(super) struct Gifts {
    stream: u64,
    wallets: Wallets,
    leaderboard: HashMap<String, LeaderEntry>,
    /// (user, gift) → (count in the combo, last send).
    combos: HashMap<(String, String), (u32, u64)>,
    /// The leaderboard changed since the last `leaderboard` broadcast.
    changed: bool,
    /// No combo is due to be forgotten before this.
    combos_due: Option<u64>,
}

impl Gifts {
    pub(super) fn restore(
        stream: u64,
        leaderboard: Vec<LeaderEntry>,
        rules: GiftRules,
        wallets: Vec<(String, WalletRec)>,
    ) -> Self {
        Gifts {
            stream,
            wallets: Wallets::restore(rules, wallets),
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

    pub(super) fn rules(&self) -> GiftRules {
        self.wallets.rules
    }

    /// Points `user` can spend now.
    pub(super) fn balance(&self, user: &str) -> u64 {
        self.wallets.balance(user, self.stream)
    }

    /// The top of the leaderboard, most coins first.
    pub(super) fn top(&self) -> Vec<LeaderEntry> {
        let mut v: Vec<LeaderEntry> = self.leaderboard.values().cloned().collect();
        v.sort_by(|a, b| b.coins.cmp(&a.coins).then_with(|| a.user.cmp(&b.user)));
        v.truncate(LEADERBOARD_TOP);
        v
    }

    /// Check a gift and ask the IO layer to write it to the ledger, paid for if the sender's
    /// points cover it (whether they do is told only once the key is known to be new: a
    /// retried gift that was already recorded is a duplicate, never "too expensive").
    pub(super) fn send(&self, cx: &mut Cx, from: &Sender, msg: Gift) {
        let Gift { gift, count, key } = msg;
        let conn = from.conn;
        let (now, rate, burst) = (cx.now, cx.cfg().gift_rate_per_s, cx.cfg().gift_burst);
        if let Some(us) = cx.base.users.get_mut(&from.user.id)
            && !us.gift_bucket.take(now, rate, burst)
        {
            cx.refuse(
                conn,
                ErrorCode::RateLimited,
                format!("at most {rate} gifts a second (over all your connections)"),
            );
            return;
        }
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
        let coins = price.saturating_mul(u64::from(count));
        let wallet = self.wallets.after_paying(&from.user.id, self.stream, coins);
        cx.out.push(Action::RecordGift {
            conn,
            gift: GiftRecord {
                key,
                user: from.user.clone(),
                gift,
                count,
                coins,
                at: cx.now,
                stream: self.stream,
            },
            wallet,
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
        let user = gift.user.id.clone();
        match outcome {
            GiftOutcome::Inserted => {}
            GiftOutcome::Duplicate => {
                cx.base.stats.duplicate_gifts += 1;
                let balance = self.balance(&user);
                let ack = Control::GiftAck {
                    key: gift.key,
                    duplicate: true,
                    balance,
                };
                cx.send(conn, ack);
                return;
            }
            GiftOutcome::NotRecorded => {
                let balance = self.balance(&user);
                let message = format!(
                    "{} ×{} costs {} points; you have {balance}",
                    gift.gift, gift.count, gift.coins
                );
                let refusal = Control::Error {
                    code: ErrorCode::InsufficientBalance,
                    message,
                    key: Some(gift.key),
                };
                cx.base.stats.errors_sent += 1;
                cx.send(conn, refusal);
                return;
            }
        }
        // Paid for in the ledger's transaction, as `send` computed (nothing came in between).
        match self.wallets.after_paying(&user, gift.stream, gift.coins) {
            Some(w) => self.wallets.set(&user, w),
            None => tracing::error!(%user, key = %gift.key, "a recorded gift was not covered"),
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
        let ack = Control::GiftAck {
            key: gift.key.clone(),
            duplicate: false,
            balance: self.balance(&user),
        };
        cx.send(conn, ack);
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
        cx.base.stats.errors_sent += 1;
        let refusal = Control::Error {
            code: ErrorCode::Storage,
            message: format!("gift {key} was not recorded; retry with the same key"),
            key: Some(key),
        };
        cx.send(conn, refusal);
    }

    /// `grant` (host only): points for a user, kept until spent.
    pub(super) fn grant(&mut self, cx: &mut Cx, from: &Sender, msg: Grant) {
        let Grant { user, points } = msg;
        if user.is_empty() || user.len() > 64 || points == 0 || points > MAX_GRANT {
            let why = format!("grant: a user id and 1 to {MAX_GRANT} points");
            cx.error(from.conn, ErrorCode::Invalid, why);
            return;
        }
        let wallet = self.wallets.after_grant(&user, self.stream, points);
        self.wallets.set(&user, wallet);
        cx.persist(Write::Wallet {
            user: user.clone(),
            wallet,
        });
        cx.log(&from.user, "grant", &user, format!("+{points}"));
        let balance = self.balance(&user);
        let mut to = cx.base.conns_of(&user);
        if !to.contains(&from.conn) {
            to.push(from.conn);
        }
        for c in to {
            let user = user.clone();
            cx.send(c, Control::Balance { user, balance });
        }
    }

    /// `gift_rules` (host only): how many free points a stream brings.
    pub(super) fn set_rules(&mut self, cx: &mut Cx, from: &Sender, rules: GiftRules) {
        if rules.points_per_stream > MAX_GRANT {
            let why = format!("at most {MAX_GRANT} free points per stream");
            cx.error(from.conn, ErrorCode::Invalid, why);
            return;
        }
        self.wallets.rules = rules;
        let detail = format!("{} points per stream", rules.points_per_stream);
        cx.log(&from.user, "gift_rules", "", detail);
        cx.state_changed();
        cx.emit(EventBody::GiftRulesChanged {
            rules,
            by: from.user.id.clone(),
        });
        self.tell_balances(cx);
    }

    /// Every connected user's points, to them (they changed for everyone at once).
    fn tell_balances(&self, cx: &mut Cx) {
        let joined: Vec<(ConnId, String)> = cx
            .base
            .conns
            .iter()
            .filter_map(|(c, conn)| conn.user.as_ref().map(|u| (*c, u.id.clone())))
            .collect();
        for (c, user) in joined {
            let balance = self.balance(&user);
            cx.send(c, Control::Balance { user, balance });
        }
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
        self.tell_balances(cx);
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
