//! The thin IO layer: axum + WebSocket, one thread per room driving the sans-IO [`Room`].
//!
//! * `http` — the accept loop, the router, the viewer page and JSON endpoints, the upgrade.
//! * `rooms` — one thread per room: its command loop, group commit, and sleep until the room's
//!   next deadline ([`Room::poll_timeout`]), a flush or a command.
//! * `fanout` — frames from a room thread to its connections, coalesced and written once.
//! * `connection` — the per-socket task.
//! * `edge` — what a request must be to be answered: its `Host` one of the server's names, its
//!   `Origin` the server's own (or allowed), its client address taken from a forwarding header
//!   only through a trusted proxy, a new room only for its host's token or the admin key.
//! * `limits` — caps on rooms, connections and handshakes, per address and in all.
//! * `meter` — when a connection counts as a handshake: only while a request head arrives.
//! * `ipnet`, `refusal` — networks (trusted proxies) and refusals (a status and a reason).
//! * `shared` — what the handlers share.
//! * `cluster`, `follow` — one node of several: a room owned here publishes its fan-out
//!   operations for the other nodes; a room owned elsewhere is followed (inputs forwarded, the
//!   owner's operations carried out on this node's sockets).
//! * `guests` — co-stream guests under each room (`/room/{room}/join/…`): a door set in process
//!   ([`ServerHandle::set_guest_door`]), else relayed to the room's host; `relay` — that relay on
//!   the room thread (`guest_request` out, `guest_answer` back, bounded).
//!
//! Every queue is bounded and every drop is counted ([`ServerStats`]): frames from a socket go to
//! the room thread through a bounded channel (full → the frame is dropped and the client gets
//! `busy`); frames to a socket that its kernel buffer cannot take at once wait in a bounded
//! per-connection queue (full → the connection is closed as a `slow_consumer`; it resumes from its
//! last seq when it reconnects).
//!
//! Broadcasts are coalesced ([`crate::coalesce`]): a busy room hands each subscriber one shared
//! batch of frames per window (20 ms, longer in big rooms) instead of one frame per message. A
//! connection that said `"batch": true` in its hello gets a batch as one `batch` frame; others get
//! the same frames one by one.
//!
//! Outgoing frames are encoded once and written by the room thread itself with a non-blocking
//! `send` ([`crate::out`]); a connection's task writes only what its socket could not take at
//! once. For that the server owns its sockets after the upgrade: connections are served by
//! hyper's HTTP/1 connection directly (not `axum::serve`, whose upgraded stream cannot be taken
//! apart), the handshake is answered here, and tungstenite only reads the client's frames.
//!
//! [`Room`]: crate::room::Room
//! [`Room::poll_timeout`]: crate::room::Room::poll_timeout

mod assets;
mod cluster;
mod cmd;
mod config;
mod connection;
mod edge;
mod fanout;
mod follow;
mod guests;
mod http;
mod ipnet;
mod limits;
mod meter;
mod refusal;
mod relay;
mod rooms;
mod shared;
mod stats;

pub use cluster::{
    BusOp, Cluster, EDGE_HEARTBEAT, EDGE_SILENT, EdgeLink, OwnerLink, Placement, RemoteConn,
    RemoteInput, RemoteInputs,
};
pub use config::{ServerConfig, StoreFactory, TuneFn};
pub use fanout::{CloseReason, Fanout, Frame, LocalFanout, batch_frame};
pub use http::{VIEWER_HTML, valid_room_name};
pub use ipnet::IpNet;
pub use limits::{Caps, raise_fd_limit};
pub use stats::ServerStats;

use crate::error::RoomError;
use connection::Sockets;
use edge::Edge;
use limits::Limits;
use rooms::{OpenError, Rooms};
use shared::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    public_url: Option<String>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn stats(&self) -> &ServerStats {
        &self.shared.sockets.stats
    }
    /// The WebSocket URL of a room for a client on this machine (a wildcard listener is
    /// reached on loopback).
    pub fn ws_url(&self, room: &str) -> String {
        let mut at = self.addr;
        if at.ip().is_unspecified() {
            at.set_ip(match at.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("ws://{at}/room/{room}/ws")
    }

    /// The viewer page of a room, for viewers: under the public URL if there is one, else at
    /// the listening address (a wildcard listener: the address this machine reaches other
    /// networks from, if it has one).
    pub fn viewer_url(&self, room: &str) -> String {
        if let Some(base) = &self.public_url {
            return format!("{}/room/{room}", base.trim_end_matches('/'));
        }
        let mut at = self.addr;
        if at.ip().is_unspecified()
            && let Some(ip) = outward_address(at.is_ipv6())
        {
            at.set_ip(ip);
        }
        format!("http://{at}/room/{room}")
    }

    /// Let co-stream guests of `room` in through `door` (the show's co-stream host, while a
    /// show with guest slots runs), or refuse them (`None`: `503 host_not_live`, unless the
    /// room's host takes them over its WebSocket). The links are `{viewer_url}/join/{token}`.
    pub fn set_guest_door(&self, room: &str, door: Option<Arc<dyn marquee_guestdoor::GuestDoor>>) {
        self.shared.doors.set(room, door);
    }

    /// Create a room (or find it) from inside the process, as the admin key would; it stops
    /// again when idle.
    pub fn create_room(&self, room: &str) -> Result<(), RoomError> {
        let refused = |code: &str, message: String| RoomError::Refused {
            code: code.into(),
            message,
        };
        if !valid_room_name(room) {
            return Err(RoomError::InvalidArgument(format!(
                "{room:?} is not a room name (1–64 of A-Z a-z 0-9 - _)"
            )));
        }
        match self.shared.rooms.lease(room, || true) {
            Ok(_) => Ok(()),
            Err(OpenError::Failed(e)) => Err(e),
            Err(OpenError::TooManyRooms(n)) => {
                Err(refused("too_many_rooms", format!("{n} rooms are running")))
            }
            Err(OpenError::RoomFull(n)) => Err(refused("room_full", format!("{n} connections"))),
            Err(OpenError::Unknown) => Err(refused("not_found", room.into())),
        }
    }

    /// Stop: close every connection (code 1012, "restarting"), stop the room threads (their
    /// storage is closed), release the port.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.serve.abort();
        let _ = self.serve.await;
        let rooms = self.shared.rooms.take_all();
        let _ = tokio::task::spawn_blocking(move || rooms.into_iter().for_each(|r| r.stop())).await;
        // Let connection tasks see the stop signal and close their sockets.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self
            .shared
            .sockets
            .stats
            .connections_open
            .load(Ordering::Relaxed)
            > 0
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The local address this machine sends from toward other networks (its default route), if it
/// has one: what a wildcard listener's link carries. A UDP socket is connected, which only picks
/// a route: nothing is sent.
pub fn outward_address(v6: bool) -> Option<std::net::IpAddr> {
    let (bind, probe) = if v6 {
        ("[::]:0", "[2001:db8::1]:9")
    } else {
        ("0.0.0.0:0", "192.0.2.1:9")
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(probe).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Bind and start serving on the current tokio runtime.
pub async fn start(mut cfg: ServerConfig) -> Result<ServerHandle, RoomError> {
    if cfg.secret.len() < 16 {
        return Err(crate::token::TokenError::WeakSecret.into());
    }
    if let Some(u) = &cfg.public_url
        && edge::origin_of(u).is_none()
    {
        return Err(RoomError::InvalidArgument(format!(
            "public URL {u:?} is not an http(s):// URL"
        )));
    }
    let rooms = cfg.only_rooms.as_ref().map_or(cfg.caps.max_rooms, Vec::len);
    cfg.caps.fit_descriptors(rooms);
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let edge = Edge::new(addr, &cfg);
    let limits = Limits::new(cfg.caps.clone());
    let (public_url, only_rooms) = (cfg.public_url.clone(), cfg.only_rooms.clone());
    let relay_timeout = cfg.guest_relay_timeout;
    let (stop, shutdown) = watch::channel(false);
    let stats = Arc::new(ServerStats::default());
    let sockets = Arc::new(Sockets {
        stats: stats.clone(),
        next_conn: AtomicU64::new(1),
        queue: cfg.conn_queue,
        max_message: cfg.max_ws_message,
        shutdown,
    });
    let shared = Arc::new(Shared {
        rooms: Rooms::new(cfg, stats),
        sockets,
        edge,
        limits,
        only_rooms,
        doors: Default::default(),
        relay_timeout,
    });
    let serve = tokio::spawn(http::serve(listener, shared.clone()));
    tracing::info!(%addr, "room server listening");
    Ok(ServerHandle {
        addr,
        public_url,
        shared,
        stop,
        serve,
    })
}
