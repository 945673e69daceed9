//! Points: what gifts cost. Every user has the stream's free points (the host's
//! [`GiftRules`]; unspent ones do not carry over to the next stream) and what the host granted
//! them (kept until spent); a gift spends free points first. Only users who ever spent or were
//! granted something have a record: everyone else has exactly the free points.

use super::state::WalletRec;
use crate::protocol::GiftRules;
use std::collections::HashMap;

/// The most points one grant gives.
pub(super) const MAX_GRANT: u64 = 1_000_000_000;

/// Every user's points.
#[derive(Debug, Default)]
pub(super) struct Wallets {
    pub(super) rules: GiftRules,
    map: HashMap<String, WalletRec>,
}

impl Wallets {
    pub(super) fn restore(rules: GiftRules, wallets: Vec<(String, WalletRec)>) -> Self {
        Wallets {
            rules,
            map: wallets.into_iter().collect(),
        }
    }

    /// `user`'s record as it stands in `stream` (a new stream's free points all there).
    fn current(&self, user: &str, stream: u64) -> WalletRec {
        match self.map.get(user) {
            Some(w) if w.stream == stream => *w,
            Some(w) => WalletRec {
                granted: w.granted,
                free_used: 0,
                stream,
            },
            None => WalletRec {
                stream,
                ..WalletRec::default()
            },
        }
    }

    fn free_left(&self, w: &WalletRec) -> u64 {
        self.rules.points_per_stream.saturating_sub(w.free_used)
    }

    /// Points `user` can spend in `stream`.
    pub(super) fn balance(&self, user: &str, stream: u64) -> u64 {
        let w = self.current(user, stream);
        self.free_left(&w).saturating_add(w.granted)
    }

    /// `user`'s record after paying `points` in `stream`, or `None` if they cannot.
    pub(super) fn after_paying(&self, user: &str, stream: u64, points: u64) -> Option<WalletRec> {
        let mut w = self.current(user, stream);
        let free = self.free_left(&w);
        if free.saturating_add(w.granted) < points {
            return None;
        }
        let from_free = points.min(free);
        w.free_used += from_free;
        w.granted -= points - from_free;
        Some(w)
    }

    /// `user`'s record after a grant of `points` (they stay until spent).
    pub(super) fn after_grant(&self, user: &str, stream: u64, points: u64) -> WalletRec {
        let mut w = self.map.get(user).copied().unwrap_or(WalletRec {
            stream,
            ..WalletRec::default()
        });
        w.granted = w.granted.saturating_add(points);
        w
    }

    /// Keep `w` as `user`'s record (it is durable, or made durable with the same call).
    pub(super) fn set(&mut self, user: &str, w: WalletRec) {
        self.map.insert(user.to_string(), w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wallets(per_stream: u64) -> Wallets {
        Wallets::restore(
            GiftRules {
                points_per_stream: per_stream,
            },
            Vec::new(),
        )
    }

    #[test]
    fn free_points_go_first_do_not_carry_over_and_grants_stay() {
        let mut w = wallets(100);
        assert_eq!(w.balance("a", 0), 100);
        let paid = w.after_paying("a", 0, 30).unwrap();
        w.set("a", paid);
        assert_eq!(w.balance("a", 0), 70);
        w.set("a", w.after_grant("a", 0, 50));
        assert_eq!(w.balance("a", 0), 120);
        // 70 free, then 40 of the 50 granted.
        w.set("a", w.after_paying("a", 0, 110).unwrap());
        assert_eq!(w.balance("a", 0), 10);
        assert_eq!(w.after_paying("a", 0, 11), None);
        // A new stream: free points again, the granted 10 still there.
        assert_eq!(w.balance("a", 1), 110);
        assert_eq!(w.balance("b", 1), 100);
    }
}
