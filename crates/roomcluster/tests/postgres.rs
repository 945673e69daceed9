//! The Postgres store and leases against a real Postgres started by the test.

use marquee_room::room::{GiftOutcome, Write};
use marquee_room::store::conformance::{self as check, PAID, deleted, gift};
use marquee_room::store::{Storage, StorageError};
use marquee_roomcluster::testing::Postgres;
use marquee_roomcluster::{Fences, LeaseInput, PgLeases, PgStore};
use std::sync::Arc;
use std::time::Duration;

/// The test binary's server (shared while tests run at once) and a new database on it.
fn fresh_db(name: &str) -> (Arc<Postgres>, String) {
    let pg = Postgres::shared();
    let url = pg.create_db(name);
    (pg, url)
}

#[test]
fn postgres_passes_the_shared_store_checks() {
    type Check = fn(&mut dyn Storage);
    let checks: [(&str, Check); 4] = [
        ("unique", check::ledger_is_unique_on_key),
        ("snapshot", check::a_snapshot_holds_what_was_written),
        (
            "failed",
            check::a_failed_transaction_keeps_none_of_its_writes_and_gifts,
        ),
        (
            "order",
            check::gifts_and_writes_of_one_transaction_are_applied_in_order,
        ),
    ];
    let pg = Postgres::shared();
    for (name, run) in checks {
        let url = pg.create_db(&format!("check_{name}"));
        run(&mut PgStore::open(&url).unwrap());
    }
    let url = pg.create_db("check_reopen");
    check::what_is_committed_survives_reopening(&mut || {
        Box::new(PgStore::open(&url).unwrap()) as Box<dyn Storage>
    });
}

#[test]
fn one_gift_key_sent_a_thousand_times_at_once_through_several_nodes_is_one_ledger_row_and_one_seq()
{
    let (_pg, url) = fresh_db("thousand");
    let nodes: Vec<Arc<std::sync::Mutex<PgStore>>> = (0..4)
        .map(|_| Arc::new(std::sync::Mutex::new(PgStore::open(&url).unwrap())))
        .collect();
    // 1,000 sends on 20 threads over 4 connections; each records the gift and, if it was new,
    // its event (seq 1) in the same transaction, the way a room does.
    let inserted = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..20 {
            let node = nodes[t % nodes.len()].clone();
            let inserted = &inserted;
            s.spawn(move || {
                for _ in 0..50 {
                    let mut store = node.lock().unwrap();
                    store
                        .transaction("r", &mut |txn| {
                            if txn.record_gift(&gift("same-key"), PAID)? == GiftOutcome::Inserted {
                                inserted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                txn.write(&deleted(1))?;
                            }
                            Ok(())
                        })
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(inserted.into_inner(), 1);
    let mut check = PgStore::open(&url).unwrap();
    assert_eq!(check.ledger("r").unwrap(), vec![gift("same-key")]);
    let snap = check.load("r", 100).unwrap();
    assert_eq!(snap.events.len(), 1);
    assert_eq!(snap.last_seq, 1);
}

#[test]
fn concurrent_inserts_of_one_key_on_separate_connections_wait_and_record_once() {
    // Every transaction is open at the same moment (a barrier inside them), so the unique
    // index really sees concurrent inserts, not a queue.
    let (_pg, url) = fresh_db("racing");
    let n = 8;
    let barrier = std::sync::Barrier::new(n);
    let outcomes: Vec<GiftOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (url, barrier) = (&url, &barrier);
                s.spawn(move || {
                    let mut store = PgStore::open(url).unwrap();
                    let mut out = None;
                    store
                        .transaction("r", &mut |txn| {
                            txn.write(&Write::Vote {
                                poll: 1,
                                user: format!("v{i}"),
                                option: 0,
                            })?;
                            barrier.wait();
                            out = Some(txn.record_gift(&gift("k"), PAID)?);
                            Ok(())
                        })
                        .unwrap();
                    out.unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted = outcomes
        .iter()
        .filter(|o| **o == GiftOutcome::Inserted)
        .count();
    assert_eq!(inserted, 1, "{outcomes:?}");
    assert_eq!(PgStore::open(&url).unwrap().ledger("r").unwrap().len(), 1);
}

const TTL: Duration = Duration::from_secs(5);

#[test]
fn a_replaced_owners_writes_are_refused_and_the_new_owner_continues_the_seq() {
    let (_pg, url) = fresh_db("fencing");
    let (a_fences, b_fences) = (Fences::default(), Fences::default());
    let a_lease = PgLeases::open(&url, "node-a", "127.0.0.1:1").unwrap();
    let b_lease = PgLeases::open(&url, "node-b", "127.0.0.1:2").unwrap();
    let mut a = PgStore::open(&url).unwrap().with_fences(a_fences.clone());
    let mut b = PgStore::open(&url).unwrap().with_fences(b_fences.clone());

    // Without the lease, no write.
    assert!(matches!(
        a.commit("r", &[deleted(1)]),
        Err(StorageError::Fenced(_))
    ));
    let LeaseInput::Acquired { epoch: ea } = a_lease.acquire("r", TTL).unwrap() else {
        panic!("a free lease was not granted");
    };
    a_fences.hold("r", ea);
    a.commit("r", &[deleted(1), deleted(2)]).unwrap();
    assert_eq!(
        b_lease.acquire("r", TTL).unwrap(),
        LeaseInput::HeldByOther {
            owner: "node-a".into()
        }
    );

    // A stalls past its lease (made to expire at once here), B takes over under a new epoch.
    a_lease.acquire("r", Duration::ZERO).unwrap();
    let ea = match a_lease.holder("r").unwrap() {
        Some(h) => {
            assert!(h.expired);
            a_fences.hold("r", h.epoch);
            h.epoch
        }
        None => panic!("no lease row"),
    };
    let LeaseInput::Acquired { epoch: eb } = b_lease.acquire("r", TTL).unwrap() else {
        panic!("an expired lease was not granted");
    };
    assert!(eb > ea, "{eb} > {ea}");
    b_fences.hold("r", eb);

    // A still believes it owns the room: its write (seq 3) is refused, and nothing of it kept.
    let refused = a.transaction("r", &mut |t| {
        t.write(&deleted(3))?;
        t.record_gift(&gift("late"), PAID).map(|_| ())
    });
    assert!(
        matches!(refused, Err(StorageError::Fenced(ref m)) if m.contains(&eb.to_string())),
        "{refused:?}"
    );
    assert_eq!(a_lease.renew("r", ea, TTL).unwrap(), LeaseInput::Lost);

    // B reloads the room and continues at max(seq) + 1.
    let snap = b.load("r", 100).unwrap();
    assert_eq!(snap.last_seq, 2);
    b.commit("r", &[deleted(snap.last_seq + 1)]).unwrap();
    assert_eq!(
        b.record_gift("r", &gift("late"), PAID).unwrap(),
        GiftOutcome::Inserted
    );
    let snap = b.load("r", 100).unwrap();
    assert_eq!(
        snap.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        b_lease.renew("r", eb, TTL).unwrap(),
        LeaseInput::Renewed { epoch: eb }
    );
    assert_eq!(b.ledger("r").unwrap().len(), 1);
}

#[test]
fn a_released_lease_goes_to_the_next_node_under_a_new_epoch() {
    let (_pg, url) = fresh_db("release");
    let a = PgLeases::open(&url, "node-a", "a:1").unwrap();
    let b = PgLeases::open(&url, "node-b", "b:1").unwrap();
    let LeaseInput::Acquired { epoch: e1 } = a.acquire("r", TTL).unwrap() else {
        panic!("not granted");
    };
    a.release("r", e1).unwrap();
    let LeaseInput::Acquired { epoch: e2 } = b.acquire("r", TTL).unwrap() else {
        panic!("a released lease was not granted");
    };
    assert_eq!(e2, e1 + 1);
    let h = a.holder("r").unwrap().unwrap();
    assert_eq!(
        (h.owner.as_str(), h.addr.as_str(), h.epoch),
        ("node-b", "b:1", e2)
    );
}

#[test]
fn a_wrong_password_error_never_shows_the_password() {
    // Trust authentication accepts any password, so ask for a database that does not exist.
    let pg = Postgres::shared();
    let url = format!(
        "postgres://postgres:hunter2-secret@127.0.0.1:{}/no_such_db",
        pg.port()
    );
    let err = PgStore::open(&url).unwrap_err().to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("no_such_db"), "{err}");
}

#[test]
fn an_owner_stalled_inside_a_transaction_does_not_hold_up_the_takeover() {
    let (_pg, url) = fresh_db("stalled");
    let a_fences = Fences::default();
    let a_lease = PgLeases::open(&url, "node-a", "a:1").unwrap();
    let b_lease = PgLeases::open(&url, "node-b", "b:1").unwrap();
    let mut a = PgStore::open(&url).unwrap().with_fences(a_fences.clone());
    // A holds the lease (it runs out at once here) and stalls inside a transaction that has
    // checked it: the lease row is locked meanwhile.
    let LeaseInput::Acquired { epoch } = a_lease.acquire("r", Duration::ZERO).unwrap() else {
        panic!("not granted");
    };
    a_fences.hold("r", epoch);
    let (taken_tx, taken) = std::sync::mpsc::channel::<Duration>();
    let a_result = std::thread::scope(|s| {
        s.spawn(move || {
            let started = std::time::Instant::now();
            loop {
                if let Ok(LeaseInput::Acquired { .. }) = b_lease.acquire("r", TTL) {
                    let _ = taken_tx.send(started.elapsed());
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "B never took over"
                );
            }
        });
        a.transaction("r", &mut |t| {
            t.write(&deleted(1))?;
            let after = taken
                .recv_timeout(Duration::from_secs(10))
                .expect("B took the lease while A was stalled");
            assert!(after < Duration::from_secs(5), "{after:?}");
            t.write(&deleted(2))
        })
    });
    // A's session was ended under it: nothing of its transaction is kept.
    assert!(a_result.is_err());
    let mut b = PgStore::open(&url).unwrap();
    assert_eq!(b.load("r", 10).unwrap().last_seq, 0);
}

/// The node that opens a room answers "opened" once it holds the lease, before the room's
/// thread writes its state: another node asked at that moment must find the room.
#[test]
fn a_room_whose_lease_is_taken_exists_for_every_node_before_its_state_is_written() {
    let (_pg, url) = fresh_db("exists");
    let mut other = PgStore::open(&url).unwrap();
    assert!(!other.has_room("r").unwrap());
    let owner = PgLeases::open(&url, "node-a", "a:1").unwrap();
    let LeaseInput::Acquired { .. } = owner.acquire("r", TTL).unwrap() else {
        panic!("not granted");
    };
    assert!(other.has_room("r").unwrap());
    assert!(!other.has_room("another").unwrap());
}
