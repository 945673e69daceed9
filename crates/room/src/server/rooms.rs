//! The rooms of a server: one thread per room, started on its first connection, driving the
//! sans-IO [`Room`]. A room that does not exist yet is created only for its host (or an admin);
//! one that exists reopens for anyone; at most `max_rooms` run at once, and a room with no
//! connection for `idle_room` stops and leaves the registry (its data stays in storage). The
//! thread sleeps until a command comes, the room's next deadline
//! ([`Room::poll_timeout`]), waiting broadcasts falling due, or the idle stop; it takes the
//! commands waiting (up to a bound) as one group commit: all their writes and their gifts'
//! ledger inserts in one transaction, durable (one fsync) before any frame of theirs goes out —
//! a gift is acknowledged only once its group is durable, and a flood of gifts costs one fsync
//! per group, so the host's moderation never waits behind it.

use super::cluster::{OwnerFanout, OwnerLink, Placement, RemoteInput, RemoteInputs, moved};
pub(super) use super::cmd::RoomCmd;
use super::config::{ServerConfig, StoreFactory};
use super::fanout::{CloseReason, Fanout, LocalFanout};
use super::relay::Relay;
use super::stats::ServerStats;
use crate::error::RoomError;
use crate::protocol::ErrorCode;
use crate::room::{Action, Input, Room, RoomConfig, Snapshot};
use crate::store::{Storage, StorageError, Txn};
use crossbeam_channel as cb;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A room's thread and its input channel.
pub(super) struct RoomHandle {
    tx: cb::Sender<RoomCmd>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Which start of the room this is (a room stopped idle may be started again).
    id: u64,
    /// Connections holding a [`RoomLease`]: the room never stops idle while one does.
    users: Arc<AtomicUsize>,
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

/// A connection's hold on its room, from the upgrade until it ends: the room's input channel,
/// and one in its count of users (a room stops idle only at zero users; its connection cap
/// counts them).
pub(super) struct RoomLease {
    tx: cb::Sender<RoomCmd>,
    users: Arc<AtomicUsize>,
}

impl RoomLease {
    pub(super) fn tx(&self) -> &cb::Sender<RoomCmd> {
        &self.tx
    }
}

impl Drop for RoomLease {
    fn drop(&mut self) {
        self.users.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a room cannot be joined now.
#[derive(Debug)]
pub(super) enum OpenError {
    /// It is not running, was never created, and this request may not create it.
    Unknown,
    /// `max_rooms` rooms are running.
    TooManyRooms(usize),
    /// The room holds `max_room_connections` connections.
    RoomFull(usize),
    /// Its storage could not be opened or loaded, or its thread not started.
    Failed(RoomError),
}

/// What the registry lock guards.
#[derive(Default)]
struct Registry {
    running: HashMap<String, RoomHandle>,
    /// Rooms this server has created or found in its storage; any other is unknown.
    known: HashSet<String>,
    /// A storage handle for asking whether a room exists (opened on first use).
    lookup: Option<Box<dyn Storage>>,
}

/// The server's rooms by name.
pub(super) struct Rooms {
    cfg: ServerConfig,
    stores: StoreFactory,
    stats: Arc<ServerStats>,
    registry: Arc<Mutex<Registry>>,
    next_id: AtomicU64,
}

fn lock(r: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rooms {
    pub(super) fn new(cfg: ServerConfig, stats: Arc<ServerStats>) -> Self {
        Rooms {
            stores: cfg.store_factory(),
            cfg,
            stats,
            registry: Arc::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// A lease on the room (its input channel), starting its thread if it is not running: a
    /// room that exists (in storage, or created by this server) reopens for anyone; a room
    /// that does not exist is created only if `may_create()` (a host token for it, or the
    /// admin key) — otherwise nothing is started, opened or written.
    pub(super) fn lease(
        &self,
        room: &str,
        may_create: impl FnOnce() -> bool,
    ) -> Result<RoomLease, OpenError> {
        let caps = &self.cfg.caps;
        let mut reg = lock(&self.registry);
        if let Some(h) = reg.running.get(room) {
            if !h.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let users = h.users.clone();
                if users.load(Ordering::Acquire) >= caps.max_room_connections {
                    return Err(OpenError::RoomFull(caps.max_room_connections));
                }
                users.fetch_add(1, Ordering::AcqRel);
                return Ok(RoomLease {
                    tx: h.tx.clone(),
                    users,
                });
            }
            reg.running.remove(room);
        }
        if !self.exists(&mut reg, room) && !may_create() {
            return Err(OpenError::Unknown);
        }
        if reg.running.len() >= caps.max_rooms {
            return Err(OpenError::TooManyRooms(caps.max_rooms));
        }
        let s = &self.cfg;
        let mut cfg = RoomConfig::new(room, s.secret.clone());
        cfg.rng_seed = fastrand::u64(..);
        if let Some(t) = &s.tune {
            t(&mut cfg);
        }
        let placement = match &s.cluster {
            Some(c) => Some(c.open(room).map_err(OpenError::Failed)?),
            None => None,
        };
        let (tx, rx) = cb::bounded(s.room_queue);
        let (owner, store_snap) = match placement {
            Some(Placement::Edge(link)) => (Err(link), None),
            Some(Placement::Owner(mut link)) => {
                let inputs = tx.clone();
                link.start(RemoteInputs::new(Box::new(move |input| {
                    !matches!(
                        inputs.try_send(RoomCmd::Remote(input)),
                        Err(cb::TrySendError::Disconnected(_))
                    )
                })));
                (Ok(Some(link)), Some(()))
            }
            None => (Ok(None), Some(())),
        };
        let loaded = match store_snap {
            Some(()) => {
                let mut store = (self.stores)().map_err(|e| OpenError::Failed(e.into()))?;
                let snap = store
                    .load(room, cfg.resume_window)
                    .map_err(|e| OpenError::Failed(e.into()))?;
                Some((store, snap))
            }
            None => None,
        };
        let stats = self.stats.clone();
        let (idle_room, coalesce, writers) = (s.idle_room, s.coalesce, s.fanout_threads);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let users = Arc::new(AtomicUsize::new(1));
        let retire = Retire {
            registry: self.registry.clone(),
            room: room.to_string(),
            id,
            users: users.clone(),
            rx: rx.clone(),
            stats: stats.clone(),
        };
        let group_max = s.group_commit_max.max(1);
        let in_flight = s.guest_relay_in_flight;
        let thread = std::thread::Builder::new()
            .name(format!("room-{room}"))
            .spawn(move || {
                let fan = LocalFanout::new(stats.clone(), coalesce).with_writer_threads(writers);
                let pace = Pace {
                    idle_room,
                    group_max,
                    in_flight,
                };
                match (owner, loaded) {
                    (Ok(link), Some((store, snap))) => {
                        let fan = OwnerFanout::new(fan, link.is_some());
                        room_thread(cfg, snap, store, rx, stats, pace, fan, link, &retire)
                    }
                    (Err(link), _) => {
                        let idle = || retire.idle();
                        let room = &cfg.room;
                        let users = &retire.users;
                        super::follow::edge_thread(
                            room,
                            link,
                            &rx,
                            pace.idle_room,
                            fan,
                            users,
                            &idle,
                        )
                    }
                    (Ok(_), None) => {}
                }
            })
            .map_err(|e| OpenError::Failed(e.into()))?;
        self.stats.rooms_opened.fetch_add(1, Ordering::Relaxed);
        self.stats.rooms_open.fetch_add(1, Ordering::Relaxed);
        reg.known.insert(room.to_string());
        reg.running.insert(
            room.to_string(),
            RoomHandle {
                tx: tx.clone(),
                thread: Some(thread),
                id,
                users: users.clone(),
            },
        );
        Ok(RoomLease { tx, users })
    }

    /// Whether the room exists: created by this server, or in its storage (asked once).
    fn exists(&self, reg: &mut Registry, room: &str) -> bool {
        if reg.known.contains(room) {
            return true;
        }
        if reg.lookup.is_none() {
            reg.lookup = (self.stores)()
                .inspect_err(|e| tracing::error!(error = %e, "cannot open the room storage"))
                .ok();
        }
        let found = reg.lookup.as_mut().is_some_and(|st| {
            st.has_room(room)
                .inspect_err(|e| tracing::error!(%room, error = %e, "cannot look the room up"))
                .unwrap_or(false)
        });
        if found {
            reg.known.insert(room.to_string());
        }
        found
    }

    /// The input channel of a room that is running now (none is started for this).
    pub(super) fn running(&self, room: &str) -> Option<cb::Sender<RoomCmd>> {
        let reg = lock(&self.registry);
        reg.running
            .get(room)
            .filter(|h| !h.thread.as_ref().is_some_and(|t| t.is_finished()))
            .map(|h| h.tx.clone())
    }

    /// Every room, taken out (the server is stopping).
    pub(super) fn take_all(&self) -> Vec<RoomHandle> {
        let mut reg = lock(&self.registry);
        reg.running.drain().map(|(_, h)| h).collect()
    }
}

/// How a room thread leaves the registry when it has been idle: under the registry lock, so
/// that a lease handed out at the same moment either keeps it running or finds it gone (and
/// starts it again). Also run when the thread ends otherwise (a storage failure, a panic).
struct Retire {
    registry: Arc<Mutex<Registry>>,
    room: String,
    id: u64,
    users: Arc<AtomicUsize>,
    rx: cb::Receiver<RoomCmd>,
    stats: Arc<ServerStats>,
}

impl Retire {
    /// Leave the registry if no connection holds the room and no command waits.
    fn idle(&self) -> bool {
        let mut reg = lock(&self.registry);
        if self.users.load(Ordering::Acquire) > 0 || !self.rx.is_empty() {
            return false;
        }
        self.remove(&mut reg);
        true
    }

    fn remove(&self, reg: &mut Registry) {
        if reg.running.get(&self.room).is_some_and(|h| h.id == self.id) {
            // Dropping our own JoinHandle detaches the thread: it is freed when it returns.
            reg.running.remove(&self.room);
        }
    }
}

impl Drop for Retire {
    fn drop(&mut self) {
        self.remove(&mut lock(&self.registry));
        self.stats.rooms_open.fetch_sub(1, Ordering::Relaxed);
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
    /// Guest requests relayed to the host at once, at most.
    in_flight: usize,
}

/// How often an owner looks at whether it still holds its lease when nothing else wakes it.
const OWNER_CHECK: Duration = Duration::from_millis(250);

#[allow(clippy::too_many_arguments)]
fn room_thread(
    cfg: RoomConfig,
    snap: Snapshot,
    mut store: Box<dyn Storage>,
    rx: cb::Receiver<RoomCmd>,
    stats: Arc<ServerStats>,
    pace: Pace,
    mut fan: OwnerFanout,
    mut link: Option<Box<dyn OwnerLink>>,
    retire: &Retire,
) {
    let Pace {
        idle_room,
        group_max,
        in_flight,
    } = pace;
    let mut relay = Relay::new(in_flight);
    let room_id = cfg.room.clone();
    let (mut room, init) = Room::restore(cfg, snap, crate::clock::now_ms());
    let mut io = Io {
        store: store.as_mut(),
        fan: &mut fan,
        stats: &stats,
        room_id: &room_id,
    };
    if io.exec(init, &mut relay).is_err() {
        if let Some(l) = link.as_mut() {
            l.stop();
        }
        return;
    }
    publish(&mut link, io.fan);
    tracing::info!(room = %room_id, epoch = room.epoch(), seq = room.last_seq(), "room open");
    let mut last_busy = Instant::now();
    let mut stop = false;
    while !stop {
        if link.as_ref().is_some_and(|l| !l.owns()) {
            tracing::warn!(room = %room_id, "this node no longer owns the room; closing its connections");
            io.fan.close_all(moved());
            publish(&mut link, io.fan);
            break;
        }
        let idle_stop = if io.fan.connections() > 0 {
            last_busy = Instant::now();
            None
        } else if retire.users.load(Ordering::Acquire) > 0 {
            // A connection on its way in (or out): look again later.
            Some(Instant::now() + idle_room)
        } else if last_busy.elapsed() >= idle_room && rx.is_empty() {
            if retire.idle() {
                break;
            }
            last_busy = Instant::now();
            None
        } else {
            Some(last_busy + idle_room)
        };
        let check = link.as_ref().map(|_| Instant::now() + OWNER_CHECK);
        let wake = [next_wake(&room, &*io.fan, idle_stop), check]
            .into_iter()
            .flatten()
            .min();
        let mut next = match wake {
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
                        relay.closed(conn);
                        Some(Input::Closed { conn })
                    }
                    RoomCmd::Relay { request, reply } => {
                        relay.request(request, reply, fan);
                        None
                    }
                    RoomCmd::Remote(input) => remote(fan, &mut room, txn, input, now, &mut after)?,
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
            // Connections of an edge that went silent (died) are closed.
            for conn in fan.silent(Instant::now()) {
                feed(&mut room, txn, Input::Closed { conn }, now, &mut after)?;
            }
            if room.poll_timeout().is_some_and(|at| at <= now) {
                feed(&mut room, txn, Input::Tick, now, &mut after)?;
            }
            Ok(())
        });
        if let Err(e) = group {
            stats.storage_errors.fetch_add(1, Ordering::Relaxed);
            if matches!(e, StorageError::Fenced(_)) {
                tracing::warn!(room = %room_id, error = %e, "another node owns the room now: this node's write was refused; stopping the room here");
            } else {
                tracing::error!(room = %room_id, error = %e, "storage commit failed; stopping the room");
            }
            let why = match e {
                StorageError::Fenced(_) => moved(),
                _ => CloseReason {
                    code: ErrorCode::Storage,
                    reason: "the room's storage failed; reconnect".into(),
                },
            };
            io.fan.close_all(why);
            publish(&mut link, io.fan);
            break;
        }
        io.send(after, &mut relay);
        publish(&mut link, io.fan);
        io.fan.poll_flush(Instant::now());
    }
    if let Some(l) = link.as_mut() {
        l.stop();
    }
    tracing::info!(room = %room_id, "room thread stopped");
}

/// Hand the fan-out operations of a durable group to the bus.
fn publish(link: &mut Option<Box<dyn OwnerLink>>, fan: &mut OwnerFanout) {
    let ops = fan.take_ops();
    if let Some(l) = link.as_mut()
        && !ops.is_empty()
    {
        l.publish(ops);
    }
}

/// Feed an input of another node's connection to the room, under the id the room knows that
/// connection by (an input of a connection it does not know, or no longer, is dropped).
fn remote(
    fan: &mut OwnerFanout,
    room: &mut Room,
    txn: &mut dyn Txn,
    input: RemoteInput,
    now: u64,
    after: &mut Vec<Action>,
) -> Result<Option<Input<'static>>, StorageError> {
    let at = Instant::now();
    match &input {
        RemoteInput::Alive { node } => fan.heard(node, at),
        RemoteInput::Open { from, .. }
        | RemoteInput::Text { from, .. }
        | RemoteInput::Binary { from, .. }
        | RemoteInput::Closed { from } => fan.heard(&from.node, at),
    }
    match input {
        RemoteInput::Open { from, ip } => {
            // The same connection opened again (a node restarted under its name): the old one
            // is gone.
            if let Some(old) = fan.remote_id(&from) {
                fan.forget_remote(old);
                feed(room, txn, Input::Closed { conn: old }, now, after)?;
            }
            let conn = fan.open_remote(&from, at);
            feed(room, txn, Input::Open { conn, ip }, now, after)?;
            Ok(None)
        }
        RemoteInput::Text { from, text } => {
            if let Some(conn) = fan.remote_id(&from) {
                feed(room, txn, Input::Text { conn, text: &text }, now, after)?;
            }
            Ok(None)
        }
        RemoteInput::Binary { from, len } => {
            Ok(fan.remote_id(&from).map(|conn| Input::Binary { conn, len }))
        }
        RemoteInput::Closed { from } => Ok(fan.remote_id(&from).map(|conn| {
            fan.forget_remote(conn);
            Input::Closed { conn }
        })),
        RemoteInput::Alive { .. } => Ok(None),
    }
}

/// The room thread's IO: its storage and its fan-out.
struct Io<'a> {
    store: &'a mut dyn Storage,
    fan: &'a mut OwnerFanout,
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
    fn exec(&mut self, actions: Vec<Action>, relay: &mut Relay) -> Result<(), StorageError> {
        let writes = Action::writes(&actions);
        if let Err(e) = self.store.commit(self.room_id, &writes) {
            self.stats.storage_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(room = %self.room_id, error = %e, "storage commit failed; stopping the room");
            return Err(e);
        }
        self.send(actions, relay);
        Ok(())
    }

    /// What a durable group caused, in order: frames, subscriptions, closes.
    fn send(&mut self, actions: Vec<Action>, relay: &mut Relay) {
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
                Action::GuestDoor { conn, open } => relay.door(conn, open),
                Action::GuestAnswer { conn, id, reply } => relay.answer(conn, id, reply),
            }
        }
    }
}
