//! One node of a cluster: places each room it starts (owner under a lease, or edge of the
//! owner), and carries the room's traffic over the Redis bus ([`crate::bus`]).

use crate::bus::{Envelope, Follower, Verdict, append, in_key, out_key};
use crate::fence::Fences;
use crate::lease::{Lease, LeaseAction, LeaseConfig, LeaseInput};
use crate::pg::{PgLeases, PgStore};
use crate::redact::redact_url;
use crossbeam_channel as cb;
use marquee_room::RoomError;
use marquee_room::server::{
    BusOp, Cluster, EDGE_HEARTBEAT, EdgeLink, OwnerLink, Placement, RemoteInput, RemoteInputs,
    StoreFactory,
};
use marquee_room::store::{Storage, StorageError};
use redis::streams::{StreamRangeReply, StreamReadReply};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a node joins its cluster.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's name, unique in the cluster (a new one per process: a restarted node is a
    /// new owner, under a new epoch).
    pub node: String,
    /// Postgres (`postgres://…`): the truth.
    pub store: String,
    /// Redis (`redis://…`): the bus.
    pub bus: String,
    pub lease: LeaseConfig,
}

impl NodeConfig {
    /// A node with a fresh unique name.
    pub fn new(store: &str, bus: &str) -> Self {
        NodeConfig {
            node: format!("node-{}-{:08x}", std::process::id(), fastrand::u32(..)),
            store: store.to_string(),
            bus: bus.to_string(),
            lease: LeaseConfig::default(),
        }
    }
}

/// A node: its leases, the fences its stores obey, its Redis client.
pub struct Node {
    cfg: NodeConfig,
    leases: Arc<PgLeases>,
    fences: Fences,
    redis: redis::Client,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node", &self.cfg.node)
            .finish_non_exhaustive()
    }
}

fn bus_error(e: &redis::RedisError, url: &str) -> StorageError {
    // A Redis error may echo the URL it was given; show only the redacted one.
    let text = e.to_string().replace(url, &redact_url(url));
    StorageError::Backend(format!("redis: {text} [{}]", redact_url(url)))
}

impl Node {
    /// Connect to Postgres (making the tables if needed) and check Redis answers. Errors
    /// never carry a password.
    pub fn open(cfg: NodeConfig) -> Result<Arc<Node>, StorageError> {
        let leases = Arc::new(PgLeases::open(&cfg.store, &cfg.node, &cfg.node)?);
        let redis = redis::Client::open(cfg.bus.as_str()).map_err(|e| bus_error(&e, &cfg.bus))?;
        let mut c = redis
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(|e| bus_error(&e, &cfg.bus))?;
        redis::cmd("PING")
            .query::<String>(&mut c)
            .map_err(|e| bus_error(&e, &cfg.bus))?;
        Ok(Arc::new(Node {
            cfg,
            leases,
            fences: Fences::default(),
            redis,
        }))
    }

    pub fn name(&self) -> &str {
        &self.cfg.node
    }

    /// Storage for the server's rooms: Postgres, each write fenced by this node's lease.
    pub fn stores(&self) -> StoreFactory {
        let (url, fences) = (self.cfg.store.clone(), self.fences.clone());
        Arc::new(move || {
            Ok(Box::new(PgStore::open(&url)?.with_fences(fences.clone())) as Box<dyn Storage>)
        })
    }

    fn connection(&self) -> Bus {
        Bus {
            client: self.redis.clone(),
            conn: None,
        }
    }

    fn own(&self, room: &str, lease: Lease, epoch: u64) -> Result<Placement, RoomError> {
        self.fences.hold(room, epoch);
        let stop = Arc::new(AtomicBool::new(false));
        let owns = Arc::new(AtomicBool::new(true));
        let (wake, wakes) = cb::bounded(1);
        let keeper = Keeper {
            room: room.to_string(),
            lease,
            leases: self.leases.clone(),
            fences: self.fences.clone(),
            ttl: self.cfg.lease.ttl,
            owns: owns.clone(),
            stop: wakes,
        };
        std::thread::Builder::new()
            .name(format!("lease-{room}"))
            .spawn(move || keeper.run())?;
        tracing::info!(room, epoch, node = %self.cfg.node, "this node owns the room");
        Ok(Placement::Owner(Box::new(Owner {
            room: room.to_string(),
            epoch,
            n: 0,
            publisher: self.connection(),
            reader: Some(self.connection()),
            stop,
            owns,
            wake,
        })))
    }

    fn follow(&self, room: &str, epoch: u64) -> Result<Placement, RoomError> {
        let (tx, ops) = cb::bounded(4096);
        let stop = Arc::new(AtomicBool::new(false));
        let mut reader = self.connection();
        let from = reader
            .last_id(&out_key(room))
            .map_err(|e| RoomError::from(bus_error(&e, &self.cfg.bus)))?;
        let follow = Follow {
            room: room.to_string(),
            node: self.cfg.node.clone(),
            epoch,
            from,
            leases: self.leases.clone(),
            stop: stop.clone(),
            tx,
        };
        std::thread::Builder::new()
            .name(format!("follow-{room}"))
            .spawn(move || follow.run(reader))?;
        tracing::info!(room, epoch, node = %self.cfg.node, "another node owns the room; following it");
        Ok(Placement::Edge(Box::new(Edge {
            room: room.to_string(),
            node: self.cfg.node.clone(),
            publisher: self.connection(),
            ops,
            stop,
        })))
    }
}

impl Cluster for Node {
    fn open(&self, room: &str) -> Result<Placement, RoomError> {
        let mut lease = Lease::new(self.cfg.lease, Instant::now());
        // A fresh lease asks at once.
        if lease.poll_action(Instant::now()) == Some(LeaseAction::Acquire) {
            let answer = self.leases.acquire(room, self.cfg.lease.ttl)?;
            lease.handle(answer.clone(), Instant::now());
            if let Some(LeaseAction::Owner { epoch }) = lease.poll_action(Instant::now()) {
                return self.own(room, lease, epoch);
            }
        }
        match self.leases.holder(room)? {
            Some(h) if !h.expired => self.follow(room, h.epoch),
            _ => Err(RoomError::Refused {
                code: "busy".into(),
                message: format!("room {room} is changing servers; try again"),
            }),
        }
    }
}

/// Keeps an owner's lease: renews it, and when it is lost says so (the room stops here).
struct Keeper {
    room: String,
    lease: Lease,
    leases: Arc<PgLeases>,
    fences: Fences,
    ttl: Duration,
    owns: Arc<AtomicBool>,
    /// Closed (or a message) when the room stops here.
    stop: cb::Receiver<()>,
}

impl Keeper {
    fn run(mut self) {
        let mut stopping = false;
        loop {
            while let Some(action) = self.lease.poll_action(Instant::now()) {
                match action {
                    LeaseAction::Renew { epoch } => {
                        let answer = self
                            .leases
                            .renew(&self.room, epoch, self.ttl)
                            .unwrap_or(LeaseInput::Failed);
                        self.lease.handle(answer, Instant::now());
                    }
                    LeaseAction::Release { epoch } => {
                        let _ = self.leases.release(&self.room, epoch);
                    }
                    LeaseAction::NotOwner => {
                        self.owns.store(false, Ordering::Release);
                        self.fences.drop_room(&self.room);
                        if !stopping {
                            tracing::warn!(room = %self.room, "lost the room's lease");
                        }
                        return;
                    }
                    LeaseAction::Owner { .. } | LeaseAction::Acquire => {}
                }
            }
            let wait = self
                .lease
                .poll_timeout()
                .map_or(Duration::from_secs(1), |at| {
                    at.saturating_duration_since(Instant::now())
                });
            match self.stop.recv_timeout(wait) {
                Err(cb::RecvTimeoutError::Timeout) => {}
                _ => {
                    stopping = true;
                    self.lease.release(Instant::now());
                }
            }
        }
    }
}

/// The owner's link: publishes each group's operations, reads the edges' inputs.
struct Owner {
    room: String,
    epoch: u64,
    n: u64,
    publisher: Bus,
    reader: Option<Bus>,
    stop: Arc<AtomicBool>,
    owns: Arc<AtomicBool>,
    /// Dropped when the room stops here: the keeper releases the lease.
    wake: cb::Sender<()>,
}

impl OwnerLink for Owner {
    fn start(&mut self, inputs: RemoteInputs) {
        let Some(mut c) = self.reader.take() else {
            return;
        };
        let (room, stop) = (self.room.clone(), self.stop.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("inputs-{room}"))
            .spawn(move || read_inputs(&mut c, &room, &stop, &inputs));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the room's input reader");
        }
    }

    fn publish(&mut self, ops: Vec<BusOp>) {
        self.n += 1;
        let env = Envelope {
            e: self.epoch,
            n: self.n,
            ops,
        };
        let Ok(body) = serde_json::to_string(&env) else {
            return;
        };
        let xadd = append(&out_key(&self.room), "g", body);
        // Lost here, the group is a hole the edges see (their clients then resume).
        if let Err(e) = self.publisher.retried::<String>(&xadd) {
            tracing::warn!(room = %self.room, error = %e, "cannot publish to the bus");
        }
    }

    fn owns(&self) -> bool {
        self.owns.load(Ordering::Acquire)
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.wake.try_send(());
    }
}

/// How long one blocking read of a stream waits (then the reader looks at its stop flag).
const BLOCK_MS: u64 = 250;

fn read_inputs(c: &mut Bus, room: &str, stop: &AtomicBool, inputs: &RemoteInputs) {
    let key = in_key(room);
    let mut from = match c.last_id(&key) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(room, error = %e, "cannot read the room's inputs");
            return;
        }
    };
    while !stop.load(Ordering::Acquire) {
        let read: Result<Option<StreamReadReply>, _> = c.query(
            redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&key)
                .arg(&from),
        );
        let reply = match read {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(room, error = %e, "reading the room's inputs failed; retrying");
                std::thread::sleep(Duration::from_millis(BLOCK_MS));
                continue;
            }
        };
        for entry in reply.keys.into_iter().flat_map(|k| k.ids) {
            from = entry.id.clone();
            let Some(text) = entry.get::<String>("i") else {
                continue;
            };
            match serde_json::from_str::<RemoteInput>(&text) {
                Ok(input) => {
                    if !inputs.deliver(input) {
                        return;
                    }
                }
                Err(e) => tracing::warn!(room, error = %e, "a malformed forwarded input"),
            }
        }
    }
}

/// An edge's link: forwards inputs, hands the owner's operations to the room's edge thread.
struct Edge {
    room: String,
    node: String,
    publisher: Bus,
    ops: cb::Receiver<Result<BusOp, String>>,
    stop: Arc<AtomicBool>,
}

impl EdgeLink for Edge {
    fn node(&self) -> &str {
        &self.node
    }

    fn forward(&mut self, input: RemoteInput) {
        let Ok(body) = serde_json::to_string(&input) else {
            return;
        };
        let xadd = append(&in_key(&self.room), "i", body);
        let sent = self.publisher.retried::<String>(&xadd);
        // A lost input is like a lost packet: the client gets no answer and retries (a gift
        // with its same key).
        if let Err(e) = sent {
            tracing::warn!(room = %self.room, error = %e, "cannot forward to the room's owner");
        }
    }

    fn ops(&self) -> &cb::Receiver<Result<BusOp, String>> {
        &self.ops
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Reads the owner's stream for an edge, and watches the owner's lease.
struct Follow {
    room: String,
    node: String,
    epoch: u64,
    from: String,
    leases: Arc<PgLeases>,
    stop: Arc<AtomicBool>,
    tx: cb::Sender<Result<BusOp, String>>,
}

/// How often an edge asks Postgres whether the owner it follows still holds the lease.
const OWNER_CHECK: Duration = Duration::from_secs(1);

impl Follow {
    fn run(mut self, mut c: Bus) {
        let key = out_key(&self.room);
        let mut follower = Follower::new(self.epoch);
        let mut checked = Instant::now();
        let mut beat: Option<Instant> = None;
        while !self.stop.load(Ordering::Acquire) {
            if beat.is_none_or(|at| at.elapsed() >= EDGE_HEARTBEAT) {
                beat = Some(Instant::now());
                self.heartbeat(&mut c);
            }
            if checked.elapsed() >= OWNER_CHECK {
                checked = Instant::now();
                match self.leases.holder(&self.room) {
                    Ok(Some(h)) if h.epoch == self.epoch && !h.expired => {}
                    Ok(_) => return self.end("the room's owner is gone"),
                    Err(e) => {
                        tracing::warn!(room = %self.room, error = %e, "cannot check the room's owner")
                    }
                }
            }
            let read: Result<Option<StreamReadReply>, _> = c.query(
                redis::cmd("XREAD")
                    .arg("BLOCK")
                    .arg(BLOCK_MS)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(&self.from),
            );
            let reply = match read {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(room = %self.room, error = %e, "reading the bus failed; retrying");
                    std::thread::sleep(Duration::from_millis(BLOCK_MS));
                    continue;
                }
            };
            for entry in reply.keys.into_iter().flat_map(|k| k.ids) {
                self.from = entry.id.clone();
                let Some(env) = entry
                    .get::<String>("g")
                    .and_then(|t| serde_json::from_str::<Envelope>(&t).ok())
                else {
                    continue;
                };
                match follower.accept(&env) {
                    Verdict::Apply => {
                        for op in env.ops.into_iter().filter(|op| op.concerns(&self.node)) {
                            if self.tx.send(Ok(op)).is_err() {
                                return;
                            }
                        }
                    }
                    Verdict::Duplicate | Verdict::Stale => {}
                    Verdict::Gap { expected, got } => {
                        return self.end(&format!("missed groups {expected}..{got} of the bus"));
                    }
                    Verdict::Moved { epoch } => {
                        return self.end(&format!("the room moved (epoch {epoch})"));
                    }
                }
            }
        }
    }

    /// Tell the owner this edge is alive (else it closes this edge's connections).
    fn heartbeat(&self, c: &mut Bus) {
        let alive = RemoteInput::Alive {
            node: self.node.clone(),
        };
        let Ok(body) = serde_json::to_string(&alive) else {
            return;
        };
        let xadd = append(&in_key(&self.room), "i", body);
        if let Err(e) = c.query::<String>(&xadd) {
            tracing::warn!(room = %self.room, error = %e, "cannot reach the bus");
        }
    }

    fn end(&self, why: &str) {
        let _ = self.tx.send(Err(why.to_string()));
    }
}

/// A Redis connection that is made again after any error (Redis restarted, a network blip):
/// the next command connects anew.
struct Bus {
    client: redis::Client,
    conn: Option<redis::Connection>,
}

impl Bus {
    fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(
                self.client
                    .get_connection_with_timeout(Duration::from_secs(2))?,
            ),
        };
        let r = cmd.query(conn);
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    /// `query`, once more on a new connection if the first attempt failed.
    fn retried<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        self.query(cmd).or_else(|_| self.query(cmd))
    }

    /// The id of the newest entry of a stream (`0-0` when empty): reading from it gets only
    /// what is written from now on.
    fn last_id(&mut self, key: &str) -> redis::RedisResult<String> {
        let r: StreamRangeReply = self.query(
            redis::cmd("XREVRANGE")
                .arg(key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1),
        )?;
        Ok(r.ids.first().map_or("0-0".to_string(), |e| e.id.clone()))
    }
}
