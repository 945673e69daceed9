//! Server settings.

use super::ipnet::IpNet;
use super::limits::Caps;
use crate::coalesce::CoalesceConfig;
use crate::room::RoomConfig;
use crate::store::{MemoryStore, SqliteStore, Storage, StorageError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Opens the storage of a room thread.
pub type StoreFactory = Arc<dyn Fn() -> Result<Box<dyn Storage>, StorageError> + Send + Sync>;

/// Adjusts a room's config before it opens.
pub type TuneFn = Arc<dyn Fn(&mut RoomConfig) + Send + Sync>;

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// SQLite file; `None` keeps everything in memory.
    pub db: Option<PathBuf>,
    pub secret: Vec<u8>,
    /// Base URL printed for the viewer page (e.g. `https://live.example.com`).
    pub public_url: Option<String>,
    /// Hard cap on a WebSocket message (bigger ones drop the connection); the room's own,
    /// smaller, limit answers `too_large` with a reason first.
    pub max_ws_message: usize,
    /// Outgoing items (a frame, or a flush's broadcast frames) queued per connection when its
    /// socket cannot take them at once.
    pub conn_queue: usize,
    /// How broadcasts are coalesced; a zero window sends each at once.
    pub coalesce: CoalesceConfig,
    /// Threads writing a room's flush to its subscribers' sockets (the room thread and
    /// `fanout_threads - 1` helpers; see [`super::LocalFanout::with_writer_threads`]).
    pub fanout_threads: usize,
    /// Inputs queued per room.
    pub room_queue: usize,
    /// Adjust each room's config (limits) before it opens.
    pub tune: Option<TuneFn>,
    /// Use this storage instead of `db` (another backend, or a fault-injecting one in tests).
    pub stores: Option<StoreFactory>,
    /// One node of several: where each room runs (see [`super::cluster::Cluster`]); `None`: every room
    /// runs here.
    pub cluster: Option<Arc<dyn super::cluster::Cluster>>,
    /// A room with no connection for this long stops its thread; the next connection reopens
    /// it from storage.
    pub idle_room: Duration,
    /// Peers whose `X-Forwarded-For` (or `Forwarded`) names the client: the reverse proxies in
    /// front of this server (a chain of them is walked from the right while the hop is
    /// listed). From any other peer, loopback included, the header is ignored and the client is
    /// the socket's peer.
    pub trusted_proxies: Vec<IpNet>,
    /// Every peer is a proxy, one hop: the client is the last `X-Forwarded-For` entry from any
    /// peer (`--behind-proxy`; only when every connection comes through a proxy that adds it).
    pub behind_proxy: bool,
    /// Browser origins (`https://studio.example.com`) allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Host names the server answers to besides those of `public_url` and `listen`.
    pub allowed_hosts: Vec<String>,
    /// A key that may create any room (`Authorization: Bearer KEY`), besides its host's token.
    pub admin_key: Option<Vec<u8>>,
    /// Serve only these rooms (the app's embedded server: its own room); `None` serves any.
    pub only_rooms: Option<Vec<String>>,
    /// Caps on rooms, connections and handshakes; timeouts and sizes of requests.
    pub caps: Caps,
    /// Inputs a room takes into one group commit (one transaction, one fsync). `1` commits
    /// every input on its own — one fsync per gift — which only the gift benchmark uses, to
    /// compare against.
    pub group_commit_max: usize,
    /// How long a co-stream guest's request relayed to a hosted room's host may wait for its
    /// answer (then `504 host_not_responding`).
    pub guest_relay_timeout: Duration,
    /// Guest requests relayed to a room's host and not yet answered, at most (beyond:
    /// `503 host_busy`).
    pub guest_relay_in_flight: usize,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("public_url", &self.public_url)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, secret: Vec<u8>) -> Self {
        ServerConfig {
            listen,
            db: None,
            secret,
            public_url: None,
            max_ws_message: 64 * 1024,
            conn_queue: 1024,
            coalesce: CoalesceConfig::default(),
            fanout_threads: 1,
            room_queue: 8192,
            tune: None,
            stores: None,
            cluster: None,
            idle_room: Duration::from_secs(600),
            trusted_proxies: Vec::new(),
            behind_proxy: false,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            admin_key: None,
            only_rooms: None,
            caps: Caps::default(),
            group_commit_max: 256,
            guest_relay_timeout: Duration::from_secs(10),
            guest_relay_in_flight: 16,
        }
    }

    pub(super) fn store_factory(&self) -> StoreFactory {
        if let Some(f) = &self.stores {
            return f.clone();
        }
        match &self.db {
            Some(path) => {
                let path = path.clone();
                Arc::new(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Storage>))
            }
            None => Arc::new(|| Ok(Box::new(MemoryStore::new()) as Box<dyn Storage>)),
        }
    }
}
