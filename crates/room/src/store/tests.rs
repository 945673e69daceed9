//! The stores against the shared checks ([`super::conformance`]), and what is SQLite's own:
//! pruning and a commit per gift.

use super::conformance::{self as check, PAID, deleted, gift};
use super::{MemoryStore, SqliteStore, Storage};
use crate::protocol::{Event, EventBody};
use crate::room::{GiftOutcome, Write};

fn sqlite() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn sqlite_ledger_is_unique_on_key() {
    check::ledger_is_unique_on_key(&mut sqlite());
}

#[test]
fn memory_ledger_is_unique_on_key() {
    check::ledger_is_unique_on_key(&mut MemoryStore::new());
}

#[test]
fn sqlite_snapshot_holds_what_was_written() {
    check::a_snapshot_holds_what_was_written(&mut sqlite());
}

#[test]
fn memory_snapshot_holds_what_was_written() {
    check::a_snapshot_holds_what_was_written(&mut MemoryStore::new());
}

#[test]
fn a_failed_sqlite_transaction_keeps_none_of_its_writes_and_gifts() {
    check::a_failed_transaction_keeps_none_of_its_writes_and_gifts(&mut sqlite());
}

#[test]
fn sqlite_ledger_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    check::what_is_committed_survives_reopening(&mut || {
        Box::new(SqliteStore::open(&path).unwrap()) as Box<dyn Storage>
    });
}

#[test]
fn gifts_and_writes_of_one_transaction_are_applied_in_order() {
    check::gifts_and_writes_of_one_transaction_are_applied_in_order(&mut MemoryStore::new());
    for per_gift in [false, true] {
        check::gifts_and_writes_of_one_transaction_are_applied_in_order(
            &mut sqlite().with_commit_per_gift(per_gift),
        );
    }
}

#[test]
fn old_events_are_pruned_but_the_last_seq_is_kept() {
    let mut s = sqlite().with_keep_events(10);
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

#[test]
fn a_gift_paid_in_one_commit_is_a_duplicate_in_the_next() {
    let mut s = sqlite();
    s.commit("r", &[deleted(1)]).unwrap();
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
    assert_eq!(
        s.record_gift("r", &gift("k1"), PAID).unwrap(),
        GiftOutcome::Duplicate
    );
}
