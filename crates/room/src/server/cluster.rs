//! A server that is one node of several (the transport, leases and storage are in
//! `marquee-roomcluster`; this crate only knows the shapes).
//!
//! When a room starts on a node, [`Cluster::open`] places it: either this node owns it (it runs
//! the sans-IO room as always, on storage fenced by its lease, and hands every fan-out operation
//! of each durable group to [`BusOut`]), or another node does, and this node is an edge for it:
//! its connections' inputs are forwarded to the owner ([`EdgeLink::forward`]) and the owner's
//! operations for them come back ([`EdgeLink::ops`]) to be carried out on this node's own
//! sockets — broadcasts once per node, not once per viewer.
//!
//! When the owner changes (its lease is lost or taken over) every connection of the room on the
//! affected nodes is closed with a reason to reconnect: the clients resume from their last seq
//! on the new owner (an exact replay, or an explicit "not recoverable"), as after a restart.

use super::fanout::{CloseReason, Fanout, LocalFanout};
use crate::error::RoomError;
use crate::out::ConnOut;
use crate::protocol::ErrorCode;
use crate::room::ConnId;
use crossbeam_channel as cb;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Places rooms on this node.
pub trait Cluster: Send + Sync {
    /// The room is starting on this node: own it or follow its owner.
    fn open(&self, room: &str) -> Result<Placement, RoomError>;
}

/// Where a room runs, from this node's point of view.
pub enum Placement {
    /// This node owns the room.
    Owner(Box<dyn OwnerLink>),
    /// Another node owns it; this node forwards to it.
    Edge(Box<dyn EdgeLink>),
}

/// A connection of another node, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoteConn {
    pub node: String,
    pub conn: ConnId,
}

/// What an edge forwards to the owner for one of its connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum RemoteInput {
    Open {
        from: RemoteConn,
        ip: Option<IpAddr>,
    },
    Text {
        from: RemoteConn,
        text: String,
    },
    Binary {
        from: RemoteConn,
        len: usize,
    },
    Closed {
        from: RemoteConn,
    },
    /// The edge `node` still follows the room (sent every [`EDGE_HEARTBEAT`]): an edge not
    /// heard from for [`EDGE_SILENT`] is taken as dead, and its connections as closed.
    Alive {
        node: String,
    },
}

/// How often an edge tells the owner it is alive.
pub const EDGE_HEARTBEAT: Duration = Duration::from_secs(1);
/// After this long without a word from an edge, the owner closes that edge's connections.
pub const EDGE_SILENT: Duration = Duration::from_secs(5);

/// A fan-out operation of the owner, for the edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum BusOp {
    Send {
        to: RemoteConn,
        frame: String,
    },
    Subscribe {
        to: RemoteConn,
        batch: bool,
    },
    Close {
        to: RemoteConn,
        code: ErrorCode,
        reason: String,
    },
    Broadcast {
        frame: String,
    },
    /// The room stopped on its owner: every edge closes its connections (they reconnect).
    CloseAll {
        code: ErrorCode,
        reason: String,
    },
}

impl BusOp {
    /// Whether `node` has anything to do for it.
    pub fn concerns(&self, node: &str) -> bool {
        match self {
            BusOp::Send { to, .. } | BusOp::Subscribe { to, .. } | BusOp::Close { to, .. } => {
                to.node == node
            }
            BusOp::Broadcast { .. } | BusOp::CloseAll { .. } => true,
        }
    }
}

/// The owner's side of a room: where its operations go, where other nodes' inputs come from.
pub trait OwnerLink: Send {
    /// Start delivering other nodes' inputs to `inputs` (until the room stops).
    fn start(&mut self, inputs: RemoteInputs);
    /// Publish the fan-out operations of one durable group, in order.
    fn publish(&mut self, ops: Vec<BusOp>);
    /// Whether this node still owns the room (false once its lease is lost: the room stops).
    fn owns(&self) -> bool;
    /// The room is stopping here (give the lease back).
    fn stop(&mut self);
}

/// An edge's side of a room.
pub trait EdgeLink: Send {
    /// This node's name (unique among the nodes, per process).
    fn node(&self) -> &str;
    /// Forward one of this node's connections' inputs to the owner.
    fn forward(&mut self, input: RemoteInput);
    /// The owner's operations for this node, in order. Disconnected (or an error) when the
    /// owner is gone or has changed: the edge then closes its connections.
    fn ops(&self) -> &cb::Receiver<Result<BusOp, String>>;
    /// The room is stopping on this node.
    fn stop(&mut self);
}

/// Where an owner's link delivers other nodes' inputs: into the room thread's queue.
pub struct RemoteInputs {
    deliver: Box<dyn Fn(RemoteInput) -> bool + Send>,
}

impl RemoteInputs {
    pub(super) fn new(deliver: Box<dyn Fn(RemoteInput) -> bool + Send>) -> Self {
        RemoteInputs { deliver }
    }

    /// Hand one input to the room (false: the room has stopped).
    pub fn deliver(&self, input: RemoteInput) -> bool {
        (self.deliver)(input)
    }
}

/// Why a room's connections are closed when it moves to another node: reconnect, and resume
/// there.
pub(super) fn moved() -> CloseReason {
    CloseReason {
        code: ErrorCode::Busy,
        reason: "the room moved to another server; reconnect".into(),
    }
}

/// The owner's fan-out: this node's sockets as always, plus the other nodes' connections and
/// broadcasts as operations collected for the bus (published once the group is durable).
pub(super) struct OwnerFanout {
    pub(super) local: LocalFanout,
    /// Connections of other nodes, by the id the room knows them by.
    remote: HashMap<ConnId, RemoteConn>,
    by_remote: HashMap<RemoteConn, ConnId>,
    /// Operations of the group being sent, for the bus.
    pub(super) ops: Vec<BusOp>,
    clustered: bool,
    next_remote: ConnId,
    /// When each edge with connections here was last heard from.
    heard: HashMap<String, Instant>,
}

/// Ids of other nodes' connections on the owner: above any local one.
const REMOTE_BASE: ConnId = 1 << 62;

impl OwnerFanout {
    pub(super) fn new(local: LocalFanout, clustered: bool) -> Self {
        OwnerFanout {
            local,
            remote: HashMap::new(),
            by_remote: HashMap::new(),
            ops: Vec::new(),
            clustered,
            next_remote: REMOTE_BASE,
            heard: HashMap::new(),
        }
    }

    /// Another node was heard from now.
    pub(super) fn heard(&mut self, node: &str, now: Instant) {
        if let Some(at) = self.heard.get_mut(node) {
            *at = now;
        } else if self.remote.values().any(|r| r.node == node) {
            self.heard.insert(node.to_string(), now);
        }
    }

    /// Connections of edges silent for [`EDGE_SILENT`] at `now` (taken out: the caller tells
    /// the room they closed).
    pub(super) fn silent(&mut self, now: Instant) -> Vec<ConnId> {
        let dead: Vec<String> = self
            .heard
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(**at) >= EDGE_SILENT)
            .map(|(n, _)| n.clone())
            .collect();
        if dead.is_empty() {
            return Vec::new();
        }
        for n in &dead {
            self.heard.remove(n);
        }
        let conns: Vec<ConnId> = self
            .remote
            .iter()
            .filter(|(_, r)| dead.contains(&r.node))
            .map(|(id, _)| *id)
            .collect();
        conns.iter().for_each(|c| self.forget_remote(*c));
        conns
    }

    /// The room's id for another node's connection, if it is open here.
    pub(super) fn remote_id(&mut self, from: &RemoteConn) -> Option<ConnId> {
        self.by_remote.get(from).copied()
    }

    /// A new id for another node's connection at its `Open`.
    pub(super) fn open_remote(&mut self, from: &RemoteConn, now: Instant) -> ConnId {
        self.heard.entry(from.node.clone()).or_insert(now);
        let id = self.next_remote;
        self.next_remote += 1;
        self.remote.insert(id, from.clone());
        self.by_remote.insert(from.clone(), id);
        id
    }

    pub(super) fn forget_remote(&mut self, conn: ConnId) {
        if let Some(r) = self.remote.remove(&conn) {
            self.by_remote.remove(&r);
        }
    }

    pub(super) fn take_ops(&mut self) -> Vec<BusOp> {
        std::mem::take(&mut self.ops)
    }
}

impl Fanout for OwnerFanout {
    fn attach(&mut self, conn: ConnId, out: Arc<ConnOut>, kill: oneshot::Sender<CloseReason>) {
        self.local.attach(conn, out, kill)
    }
    fn detach(&mut self, conn: ConnId) {
        if self.remote.contains_key(&conn) {
            self.forget_remote(conn);
        } else {
            self.local.detach(conn)
        }
    }
    fn subscribe(&mut self, conn: ConnId, batch: bool) {
        match self.remote.get(&conn) {
            Some(to) => self.ops.push(BusOp::Subscribe {
                to: to.clone(),
                batch,
            }),
            None => self.local.subscribe(conn, batch),
        }
    }
    fn send(&mut self, conn: ConnId, frame: super::fanout::Frame) {
        match self.remote.get(&conn) {
            Some(to) => self.ops.push(BusOp::Send {
                to: to.clone(),
                frame: frame.as_str().to_string(),
            }),
            None => self.local.send(conn, frame),
        }
    }
    fn broadcast(&mut self, frame: super::fanout::Frame) {
        if self.clustered {
            self.ops.push(BusOp::Broadcast {
                frame: frame.as_str().to_string(),
            });
        }
        self.local.broadcast(frame)
    }
    fn poll_flush(&mut self, now: Instant) {
        self.local.poll_flush(now)
    }
    fn flush_deadline(&self, now: Instant) -> Option<Instant> {
        self.local.flush_deadline(now)
    }
    fn close(&mut self, conn: ConnId, why: CloseReason) {
        match self.remote.get(&conn).cloned() {
            Some(to) => {
                self.forget_remote(conn);
                self.ops.push(BusOp::Close {
                    to,
                    code: why.code,
                    reason: why.reason,
                });
            }
            None => self.local.close(conn, why),
        }
    }
    fn close_all(&mut self, why: CloseReason) {
        if self.clustered {
            self.ops.push(BusOp::CloseAll {
                code: why.code,
                reason: why.reason.clone(),
            });
        }
        self.remote.clear();
        self.by_remote.clear();
        self.local.close_all(why)
    }
    fn connections(&self) -> usize {
        self.local.connections() + self.remote.len()
    }
}
