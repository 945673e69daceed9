//! The stores: the ledger's uniqueness, what a transaction keeps, pruning.

use super::{SqliteStore, Storage, StorageError};
use crate::protocol::{Event, EventBody, Role, UserRef};
use crate::room::{GiftOutcome, GiftRecord, WalletRec, Write};

/// What the sender has left once a gift is paid for.
const PAID: Option<&WalletRec> = Some(&WalletRec {
    granted: 0,
    free_used: 2,
    stream: 0,
});

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
            s.record_gift("r", &gift("k1"), PAID).unwrap(),
            GiftOutcome::Inserted
        );
        assert_eq!(
            s.record_gift("r", &gift("k1"), PAID).unwrap(),
            GiftOutcome::Duplicate
        );
        assert_eq!(
            s.record_gift("r", &gift("k2"), PAID).unwrap(),
            GiftOutcome::Inserted
        );
        assert_eq!(
            s.record_gift("other", &gift("k1"), PAID).unwrap(),
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

fn deleted(seq: u64) -> Write {
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

#[test]
fn a_failed_sqlite_transaction_keeps_none_of_its_writes_and_gifts() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    s.commit("r", &[deleted(1)]).unwrap();
    let failed = s.transaction("r", &mut |t| {
        t.write(&deleted(2))?;
        assert_eq!(t.record_gift(&gift("k1"), PAID)?, GiftOutcome::Inserted);
        Err(StorageError::Corrupt("the disk is full".into()))
    });
    assert!(failed.is_err());
    assert_eq!(s.load("r", 10).unwrap().last_seq, 1);
    assert!(s.ledger("r").unwrap().is_empty());
    // The store is usable again, and the gift counts when it is retried.
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
}

#[test]
fn gifts_and_writes_of_one_transaction_are_applied_in_order() {
    for per_gift in [false, true] {
        let mut s = SqliteStore::open_in_memory()
            .unwrap()
            .with_commit_per_gift(per_gift);
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
}
