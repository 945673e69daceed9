//! What every [`Storage`] must do, as checks any backend's tests run against their store: the
//! SQLite and memory stores here, Postgres in `marquee-roomcluster`. Each check takes a fresh,
//! empty store (or a way to open one on the same data) and panics on the first difference.
// Test code: a failed unwrap is the failure being reported.
#![allow(clippy::unwrap_used)]

use super::{Storage, StorageError};
use crate::protocol::{Event, EventBody, ModLogEntry, Role, UserRef};
use crate::room::{DurableState, GiftOutcome, GiftRecord, WalletRec, Write};

/// What the sender has left once a gift is paid for.
pub const PAID: Option<&WalletRec> = Some(&WalletRec {
    granted: 0,
    free_used: 2,
    stream: 0,
});

/// A gift of 2 roses from `u1` under `key`.
pub fn gift(key: &str) -> GiftRecord {
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

/// An event at `seq` (a deletion notice: small, and any store keeps it as it is).
pub fn deleted(seq: u64) -> Write {
    Write::Event(Event {
        seq,
        epoch: 1,
        at: seq,
        body: EventBody::MessageDeleted {
            id: seq,
            by: "m".into(),
        },
    })
}

fn danmaku(seq: u64, text: &str) -> Write {
    Write::Event(Event {
        seq,
        epoch: 7,
        at: seq,
        body: EventBody::Danmaku {
            id: seq,
            user: UserRef {
                id: "u2".into(),
                name: "V".into(),
                role: Role::Viewer,
            },
            text: text.into(),
            color: "#ffffff".into(),
            mode: Default::default(),
            masked: false,
            deleted: false,
        },
    })
}

/// A gift key is recorded once per room and sender: again it is a duplicate, and in another
/// room it is new. The ledger and the leaderboard count it once.
pub fn ledger_is_unique_on_key(s: &mut dyn Storage) {
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Duplicate
    );
    assert_eq!(
        s.record_gift("r", &gift("k1"), None).unwrap(),
        GiftOutcome::Duplicate
    );
    assert_eq!(
        s.record_gift("r", &gift("k9"), None).unwrap(),
        GiftOutcome::NotRecorded
    );
    assert_eq!(
        s.record_gift("r", &gift("k2"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
    assert_eq!(
        s.record_gift("other", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
    let l = s.ledger("r").unwrap();
    assert_eq!(l, vec![gift("k1"), gift("k2")]);
    let snap = s.load("r", 10).unwrap();
    assert_eq!(snap.leaderboard.len(), 1);
    assert_eq!(snap.leaderboard[0].coins, 4);
    assert_eq!(
        snap.wallets,
        vec![("u1".to_string(), PAID.copied().unwrap())]
    );
}

/// A transaction's writes and gifts are applied in the order they are made: a duplicate is
/// seen as one within the same transaction.
pub fn gifts_and_writes_of_one_transaction_are_applied_in_order(s: &mut dyn Storage) {
    s.transaction("r", &mut |t| {
        t.write(&deleted(1))?;
        assert_eq!(t.record_gift(&gift("k1"), PAID)?, GiftOutcome::Inserted);
        assert_eq!(t.record_gift(&gift("k1"), PAID)?, GiftOutcome::Duplicate);
        t.write(&deleted(2))
    })
    .unwrap();
    assert_eq!(s.load("r", 10).unwrap().last_seq, 2);
    assert_eq!(s.ledger("r").unwrap().len(), 1);
}

/// A transaction that fails keeps none of its writes and gifts; the store is usable after it
/// and the gift counts when it is retried. (Not for stores that cannot fail.)
pub fn a_failed_transaction_keeps_none_of_its_writes_and_gifts(s: &mut dyn Storage) {
    s.commit("r", &[deleted(1)]).unwrap();
    let failed = s.transaction("r", &mut |t| {
        t.write(&deleted(2))?;
        assert_eq!(t.record_gift(&gift("k1"), PAID)?, GiftOutcome::Inserted);
        Err(StorageError::Corrupt("the disk is full".into()))
    });
    assert!(failed.is_err());
    assert_eq!(s.load("r", 10).unwrap().last_seq, 1);
    assert!(s.ledger("r").unwrap().is_empty());
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
}

/// What a room writes comes back in its snapshot: its state, the most recent events in
/// order (a redacted message without its text), one vote per viewer per poll (the last one),
/// lottery entrants once, wallets, the moderation log oldest first; `has_room` tells a room
/// with a state from one without.
pub fn a_snapshot_holds_what_was_written(s: &mut dyn Storage) {
    assert!(!s.has_room("r").unwrap_or(false));
    let state = DurableState {
        epoch: 7,
        next_id: 4,
        stream: 0,
        ..DurableState::default()
    };
    let log = |n: u64| ModLogEntry {
        at: n,
        actor: "host".into(),
        action: "mute".into(),
        target: format!("u{n}"),
        detail: String::new(),
    };
    let wallet = WalletRec {
        granted: 10,
        free_used: 0,
        stream: 0,
    };
    let writes = vec![
        Write::State(Box::new(state.clone())),
        danmaku(1, "first"),
        danmaku(2, "rude"),
        danmaku(3, "third"),
        Write::Redact { seq: 2 },
        Write::Vote {
            poll: 1,
            user: "u2".into(),
            option: 0,
        },
        Write::Vote {
            poll: 1,
            user: "u2".into(),
            option: 1,
        },
        Write::Vote {
            poll: 1,
            user: "u3".into(),
            option: 0,
        },
        Write::LotteryEntry {
            lottery: 1,
            user: "u2".into(),
            name: "V".into(),
        },
        Write::LotteryEntry {
            lottery: 1,
            user: "u2".into(),
            name: "V".into(),
        },
        Write::ModLog(log(1)),
        Write::ModLog(log(2)),
        Write::Wallet {
            user: "u2".into(),
            wallet,
        },
    ];
    s.commit("r", &writes).unwrap();
    assert!(s.has_room("r").unwrap());
    let snap = s.load("r", 2).unwrap();
    assert_eq!(snap.state, Some(state));
    assert_eq!(snap.last_seq, 3);
    assert_eq!(
        snap.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );
    match &snap.events[0].body {
        EventBody::Danmaku { text, deleted, .. } => {
            assert!(text.is_empty() && *deleted, "{text:?} {deleted}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snap.events[0].epoch, 7);
    let mut votes = snap.votes.clone();
    votes.sort();
    assert_eq!(
        votes,
        vec![(1, "u2".to_string(), 1), (1, "u3".to_string(), 0)]
    );
    assert_eq!(snap.entrants, vec![(1, "u2".to_string(), "V".to_string())]);
    assert_eq!(snap.wallets, vec![("u2".to_string(), wallet)]);
    assert_eq!(snap.modlog, vec![log(1), log(2)]);
    assert_eq!(s.modlog("r", 1).unwrap(), vec![log(2)]);
    // Another room sees none of it.
    let other = s.load("other", 10).unwrap();
    assert!(other.state.is_none() && other.events.is_empty() && other.last_seq == 0);
}

/// What was committed is there when the store is opened again on the same data.
pub fn what_is_committed_survives_reopening(open: &mut dyn FnMut() -> Box<dyn Storage>) {
    {
        let mut s = open();
        s.commit("r", &[deleted(1), deleted(2)]).unwrap();
        assert_eq!(
            s.record_gift("r", &gift("k1"), PAID).unwrap(),
            GiftOutcome::Inserted
        );
    }
    let mut s = open();
    assert_eq!(s.load("r", 10).unwrap().last_seq, 2);
    assert_eq!(s.ledger("r").unwrap(), vec![gift("k1")]);
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Duplicate
    );
}
