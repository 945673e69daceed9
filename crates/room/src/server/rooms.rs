//! The rooms of a server: one thread per room, started on its first connection, driving the
//! sans-IO [`Room`]. The thread sleeps until a command comes, the room's next deadline
//! ([`Room::poll_timeout`]), waiting broadcasts falling due, or the idle stop; it takes the
//! commands waiting (up to a bound) as one group commit: all their writes and their gifts'
//! ledger inserts in one transaction, durable (one fsync) before any frame of theirs goes out —
//! a gift is acknowledged only once its group is durable, and a flood of gifts costs one fsync
//! per group, so the host's moderation never waits behind it.

use super::config::{ServerConfig, StoreFactory};
use super::fanout::{CloseReason, Fanout, LocalFanout};
use super::stats::ServerStats;
use crate::error::RoomError;
use crate::out::ConnOut;
use crate::protocol::ErrorCode;
use crate::room::{Action, ConnId, Input, Room, RoomConfig, Snapshot};
use crate::store::{Storage, StorageError, Txn};
use crossbeam_channel as cb;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite;

/// What a connection's task tells its room's thread.
pub(super) enum RoomCmd {
    Open {
        conn: ConnId,
        ip: Option<IpAddr>,
        out: Arc<ConnOut>,
        kill: oneshot::Sender<CloseReason>,
    },
    Text {
        conn: ConnId,
        text: tungstenite::Utf8Bytes,
    },
    Binary {
        conn: ConnId,
        len: usize,
    },
    Closed {
        conn: ConnId,
    },
    Shutdown,
}

/// A room's thread and its input channel.
pub(super) struct RoomHandle {
    tx: cb::Sender<RoomCmd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RoomHandle {
    /// Ask the thread to stop and wait for it (its storage is closed). Blocking.
    pub(super) fn stop(mut self) {
        let _ = self.tx.send(RoomCmd::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The server's rooms by name.
pub(super) struct Rooms {
    cfg: ServerConfig,
    stores: StoreFactory,
    stats: Arc<ServerStats>,
    handles: Mutex<HashMap<String, RoomHandle>>,
}

impl Rooms {
    pub(super) fn new(cfg: ServerConfig, stats: Arc<ServerStats>) -> Self {
        Rooms {
            stores: cfg.store_factory(),
            cfg,
            stats,
            handles: Mutex::new(HashMap::new()),
        }
    }

    /// The room's input channel, starting the room thread on first use (or again after it
    /// stopped: idle, or a storage failure — it reopens from storage).
    pub(super) fn sender(&self, room: &str) -> Result<cb::Sender<RoomCmd>, RoomError> {
        let mut rooms = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = rooms.get(room)
            && !h.thread.as_ref().is_some_and(|t| t.is_finished())
        {
            return Ok(h.tx.clone());
        }
        let s = &self.cfg;
        let mut cfg = RoomConfig::new(room, s.secret.clone());
        cfg.rng_seed = fastrand::u64(..);
        if let Some(t) = &s.tune {
            t(&mut cfg);
        }
        let mut store = (self.stores)()?;
        let snap = store.load(room, cfg.resume_window)?;
        let (tx, rx) = cb::bounded(s.room_queue);
        let stats = self.stats.clone();
        let (idle_room, coalesce, writers) = (s.idle_room, s.coalesce, s.fanout_threads);
        let group_max = s.group_commit_max.max(1);
        let thread = std::thread::Builder::new()
            .name(format!("room-{room}"))
            .spawn(move || {
                let fan = LocalFanout::new(stats.clone(), coalesce).with_writer_threads(writers);
                let pace = Pace {
                    idle_room,
                    group_max,
                };
                room_thread(cfg, snap, store, rx, stats, pace, fan)
            })?;
        self.stats.rooms_opened.fetch_add(1, Ordering::Relaxed);
        rooms.insert(
            room.to_string(),
            RoomHandle {
                tx: tx.clone(),
                thread: Some(thread),
            },
        );
        Ok(tx)
    }

    /// Every room, taken out (the server is stopping).
    pub(super) fn take_all(&self) -> Vec<RoomHandle> {
        let mut rooms = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        rooms.drain().map(|(_, h)| h).collect()
    }
}

/// When the room thread must wake without a command: the room's next deadline, waiting
/// broadcasts falling due, or the idle stop.
fn next_wake(room: &Room, fan: &dyn Fanout, idle_stop: Option<Instant>) -> Option<Instant> {
    let now = Instant::now();
    let due = room.poll_timeout().map(|at| {
        // The room counts in wall-clock ms; the wait is measured on the monotonic clock.
        now + Duration::from_millis(at.saturating_sub(crate::clock::now_ms()))
    });
    [due, fan.flush_deadline(now), idle_stop]
        .into_iter()
        .flatten()
        .min()
}

/// When a room thread stops for idleness, and how many inputs go into one group commit.
struct Pace {
    idle_room: Duration,
    group_max: usize,
}

fn room_thread(
    cfg: RoomConfig,
    snap: Snapshot,
    mut store: Box<dyn Storage>,
    rx: cb::Receiver<RoomCmd>,
    stats: Arc<ServerStats>,
    pace: Pace,
    mut fan: LocalFanout,
) {
    let Pace {
        idle_room,
        group_max,
    } = pace;
    let room_id = cfg.room.clone();
    let (mut room, init) = Room::restore(cfg, snap, crate::clock::now_ms());
    let mut io = Io {
        store: store.as_mut(),
        fan: &mut fan,
        stats: &stats,
        room_id: &room_id,
    };
    if io.exec(init).is_err() {
        return;
    }
    tracing::info!(room = %room_id, epoch = room.epoch(), seq = room.last_seq(), "room open");
    let mut last_busy = Instant::now();
    let mut stop = false;
    while !stop {
        let idle_stop = if io.fan.connections() > 0 {
            last_busy = Instant::now();
            None
        } else if last_busy.elapsed() >= idle_room && rx.is_empty() {
            break;
        } else {
            Some(last_busy + idle_room)
        };
        let mut next = match next_wake(&room, &*io.fan, idle_stop) {
            Some(at) => match rx.recv_deadline(at) {
                Ok(cmd) => Some(cmd),
                Err(cb::RecvTimeoutError::Timeout) => None,
                Err(cb::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(cmd) => Some(cmd),
                Err(cb::RecvError) => break,
            },
        };
        // Group commit: take everything that is waiting (up to a bound) and run it through the
        // room inside one transaction — its writes and its gifts' ledger inserts — made durable
        // by one commit before any frame it caused goes out.
        let mut after: Vec<Action> = Vec::new();
        let (fan, stats) = (&mut *io.fan, io.stats);
        let group = io.store.transaction(io.room_id, &mut |txn| {
            let mut taken = 0;
            while let Some(cmd) = next.take() {
                let now = crate::clock::now_ms();
                let input = match cmd {
                    RoomCmd::Open {
                        conn,
                        ip,
                        out,
                        kill,
                    } => {
                        fan.attach(conn, out, kill);
                        feed(&mut room, txn, Input::Open { conn, ip }, now, &mut after)?;
                        None
                    }
                    RoomCmd::Text { conn, text } => {
                        let input = Input::Text { conn, text: &text };
                        feed(&mut room, txn, input, now, &mut after)?;
                        None
                    }
                    RoomCmd::Binary { conn, len } => Some(Input::Binary { conn, len }),
                    RoomCmd::Closed { conn } => {
                        fan.detach(conn);
                        Some(Input::Closed { conn })
                    }
                    RoomCmd::Shutdown => {
                        stop = true;
                        break;
                    }
                };
                if let Some(input) = input {
                    feed(&mut room, txn, input, now, &mut after)?;
                }
                taken += 1;
                if taken < group_max {
                    next = rx.try_recv().ok();
                }
            }
            let now = crate::clock::now_ms();
            if room.poll_timeout().is_some_and(|at| at <= now) {
                feed(&mut room, txn, Input::Tick, now, &mut after)?;
            }
            Ok(())
        });
        if let Err(e) = group {
            stats.storage_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(room = %room_id, error = %e, "storage commit failed; stopping the room");
            io.fan.close_all(CloseReason {
                code: ErrorCode::Storage,
                reason: "the room's storage failed; reconnect".into(),
            });
            break;
        }
        io.send(after);
        io.fan.poll_flush(Instant::now());
    }
    tracing::info!(room = %room_id, "room thread stopped");
}

/// The room thread's IO: its storage and its fan-out.
struct Io<'a> {
    store: &'a mut dyn Storage,
    fan: &'a mut dyn Fanout,
    stats: &'a ServerStats,
    room_id: &'a str,
}

/// Feed one input to the room inside the group's transaction: its writes are applied at once,
/// in order, and so is a gift's ledger insert, whose outcome goes back to the room at once (so
/// that events are numbered in the order they will be sent). What is left to do once the group
/// is durable (sends, broadcasts, closes) is appended to `after`.
fn feed(
    room: &mut Room,
    txn: &mut dyn Txn,
    input: Input<'_>,
    now: u64,
    after: &mut Vec<Action>,
) -> Result<(), StorageError> {
    let actions = room.handle(input, now);
    resolve(room, txn, actions, after)
}

fn resolve(
    room: &mut Room,
    txn: &mut dyn Txn,
    actions: Vec<Action>,
    after: &mut Vec<Action>,
) -> Result<(), StorageError> {
    for a in actions {
        match a {
            Action::Persist(w) => txn.write(&w)?,
            Action::RecordGift { conn, gift, wallet } => {
                let outcome = txn.record_gift(&gift, wallet.as_ref())?;
                let input = Input::GiftRecorded {
                    conn,
                    gift,
                    outcome,
                };
                feed(room, txn, input, crate::clock::now_ms(), after)?;
            }
            other => after.push(other),
        }
    }
    Ok(())
}

impl Io<'_> {
    /// Carry out actions outside a group (the initial state of a new room): their writes in one
    /// transaction, then the rest. If the commit fails nothing is sent and the error is
    /// returned: the caller stops the room (crash-only), and the next connection reopens it
    /// from what is durable — the same path as a restart after `kill -9`.
    fn exec(&mut self, actions: Vec<Action>) -> Result<(), StorageError> {
        let writes = Action::writes(&actions);
        if let Err(e) = self.store.commit(self.room_id, &writes) {
            self.stats.storage_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(room = %self.room_id, error = %e, "storage commit failed; stopping the room");
            return Err(e);
        }
        self.send(actions);
        Ok(())
    }

    /// What a durable group caused, in order: frames, subscriptions, closes.
    fn send(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                // Resolved inside the group's transaction.
                Action::Persist(_) | Action::RecordGift { .. } => {}
                Action::Send { conn, msg } => self.fan.send(conn, msg.to_json().into()),
                Action::Broadcast(msg) => self.fan.broadcast(msg.to_json().into()),
                Action::Subscribe { conn, batch } => self.fan.subscribe(conn, batch),
                Action::Close { conn, code, reason } => {
                    self.fan.close(conn, CloseReason { code, reason })
                }
            }
        }
    }
}
