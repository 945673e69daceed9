//! The thin IO layer: axum + WebSocket, one thread per room driving the sans-IO [`Room`].
//!
//! * `http` — the accept loop, the router, the viewer page and JSON endpoints, the upgrade.
//! * `rooms` — one thread per room: its command loop, group commit, and sleep until the room's
//!   next deadline ([`Room::poll_timeout`]), a flush or a command.
//! * `fanout` — frames from a room thread to its connections, coalesced and written once.
//! * `connection` — the per-socket task.
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

mod config;
mod connection;
mod fanout;
mod http;
mod rooms;
mod stats;

pub use config::{ServerConfig, StoreFactory, TuneFn};
pub use fanout::{CloseReason, Fanout, Frame, LocalFanout, batch_frame};
pub use http::VIEWER_HTML;
pub use stats::ServerStats;

use crate::error::RoomError;
use connection::Sockets;
use http::Shared;
use rooms::Rooms;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
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
    /// The WebSocket URL of a room.
    pub fn ws_url(&self, room: &str) -> String {
        format!("ws://{}/room/{room}/ws", self.addr)
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

/// Bind and start serving on the current tokio runtime.
pub async fn start(cfg: ServerConfig) -> Result<ServerHandle, RoomError> {
    if cfg.secret.len() < 16 {
        return Err(crate::token::TokenError::WeakSecret.into());
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
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
        behind_proxy: cfg.behind_proxy,
        rooms: Rooms::new(cfg, stats),
        sockets,
    });
    let serve = tokio::spawn(http::serve(listener, shared.clone()));
    tracing::info!(%addr, "room server listening");
    Ok(ServerHandle {
        addr,
        shared,
        stop,
        serve,
    })
}
