//! `marquee room serve`: run a room server until Ctrl-C.

use marquee_room::RoomError;
use marquee_room::secret::load_or_create_secret;
use marquee_room::server::{Caps, IpNet, ServerConfig, outward_address, raise_fd_limit, start};
use marquee_room::token::parse_ttl;
use marquee_roomcluster::{Node, NodeConfig, redact_url};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `marquee room serve`
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0:PORT for every interface).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// SQLite database (created if missing).
    #[arg(long, default_value = "room.db")]
    pub db: PathBuf,
    /// File holding the token secret; created with a random secret (mode 0600) if missing.
    #[arg(long, default_value = "room.secret")]
    pub secret_file: PathBuf,
    /// The address viewers use (e.g. https://room.example.com behind a TLS proxy): viewer links
    /// point there, its host name is one this server answers to, its origin may call it.
    #[arg(long)]
    pub public_url: Option<String>,
    /// A browser origin allowed to call this server besides its own (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// A host name this server answers to besides those of --public-url and --listen
    /// (repeatable; e.g. a LAN name).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Reverse proxies whose X-Forwarded-For (or Forwarded) names the client: addresses or
    /// networks (CIDR), repeatable or several at once. From any other peer, loopback included,
    /// the header is ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR", num_args = 1..)]
    pub trusted_proxies: Vec<IpNet>,
    /// Every connection comes through a reverse proxy that adds X-Forwarded-For: the client is
    /// its last entry, whatever the peer (prefer --trusted-proxy, which names the proxies).
    #[arg(long)]
    pub behind_proxy: bool,
    /// File holding a key that may create any room (`Authorization: Bearer KEY`, e.g. `PUT
    /// /api/rooms/NAME`); created with a random key (mode 0600) if missing. Without it, only a
    /// room's host (a host token for it) creates the room.
    #[arg(long)]
    pub admin_key_file: Option<PathBuf>,
    /// Rooms running at once.
    #[arg(long, default_value_t = Caps::default().max_rooms)]
    pub max_rooms: usize,
    /// WebSocket connections in all.
    #[arg(long, default_value_t = Caps::default().max_connections)]
    pub max_connections: usize,
    /// WebSocket connections to one room.
    #[arg(long, default_value_t = Caps::default().max_room_connections)]
    pub max_room_connections: usize,
    /// WebSocket connections from one client address (IPv4 address or IPv6 /64).
    #[arg(long, default_value_t = Caps::default().max_connections_per_address)]
    pub max_connections_per_address: usize,
    /// HTTP connections not yet upgraded, in all.
    #[arg(long, default_value_t = Caps::default().max_handshakes)]
    pub max_handshakes: usize,
    /// HTTP connections not yet upgraded from one address (trusted proxies are exempt).
    #[arg(long, default_value_t = Caps::default().max_handshakes_per_address)]
    pub max_handshakes_per_address: usize,
    /// A request's headers must arrive within this (idle keep-alive connections close after
    /// it too): 10s, 1m.
    #[arg(long, default_value = "10s")]
    pub header_timeout: String,
    /// A room with no connection for this long stops (its data stays in the database): 10m.
    #[arg(long, default_value = "10m")]
    pub idle_room: String,
    /// Broadcasts in a busy room go out together at most this often (ms); 0 sends each at once.
    #[arg(long, default_value_t = 20)]
    pub coalesce_ms: u64,
    /// Longest coalescing window (ms): a room with many subscribers flushes less often, about
    /// 250,000 socket writes a second, but at least this often.
    #[arg(long, default_value_t = 100)]
    pub coalesce_max_ms: u64,
    /// Threads writing each flush of a room to its sockets (the room's own thread included).
    #[arg(long, default_value_t = 1)]
    pub fanout_threads: usize,
    /// Keep rooms in Postgres (`postgres://USER:PASSWORD@HOST:PORT/DB`) instead of --db, as one
    /// node of several: with --bus, any node serves any room (docs/deploy-room.md). The
    /// password is never printed; `env:NAME` reads the URL from the environment variable NAME
    /// (a command line is visible to every user of the machine).
    #[arg(long, value_name = "URL", requires = "bus")]
    pub store: Option<String>,
    /// The Redis the nodes share (`redis://HOST:PORT/`, or `env:NAME`), with --store.
    #[arg(long, value_name = "URL", requires = "store")]
    pub bus: Option<String>,
    /// This node's name in the cluster (default: one made up, new at every start).
    #[arg(long, value_name = "NAME", requires = "store")]
    pub node: Option<String>,
}

/// Join the cluster that --store and --bus name (none: a single node on --db).
fn cluster(args: &ServeArgs, cfg: &mut ServerConfig) -> Result<Option<String>, RoomError> {
    let (Some(store), Some(bus)) = (&args.store, &args.bus) else {
        return Ok(None);
    };
    let (store, bus) = (&from_env("--store", store)?, &from_env("--bus", bus)?);
    if !(store.starts_with("postgres://") || store.starts_with("postgresql://")) {
        return Err(RoomError::InvalidArgument(format!(
            "--store {}: expected postgres://USER:PASSWORD@HOST:PORT/DB",
            redact_url(store)
        )));
    }
    if !(bus.starts_with("redis://") || bus.starts_with("rediss://")) {
        return Err(RoomError::InvalidArgument(format!(
            "--bus {}: expected redis://HOST:PORT/",
            redact_url(bus)
        )));
    }
    let mut node = NodeConfig::new(store, bus);
    if let Some(name) = &args.node {
        node.node = name.clone();
    }
    let node = Node::open(node)?;
    let line = format!(
        "cluster node {}: rooms in {}, bus {}",
        node.name(),
        redact_url(store),
        redact_url(bus)
    );
    cfg.db = None;
    cfg.stores = Some(node.stores());
    cfg.cluster = Some(node);
    Ok(Some(line))
}

fn duration(flag: &str, s: &str) -> Result<Duration, RoomError> {
    parse_ttl(s)
        .map(Duration::from_millis)
        .map_err(|e| RoomError::InvalidArgument(format!("{flag}: {e}")))
}

/// A URL given on the command line, or read from the environment variable NAME for `env:NAME`.
fn from_env(flag: &str, value: &str) -> Result<String, RoomError> {
    match value.strip_prefix("env:") {
        Some(name) => std::env::var(name).map_err(|_| {
            RoomError::InvalidArgument(format!(
                "{flag} env:{name}: the environment variable {name} is not set"
            ))
        }),
        None => Ok(value.to_string()),
    }
}

/// The server's settings from the command line.
pub fn config(args: &ServeArgs) -> Result<ServerConfig, RoomError> {
    let secret = load_or_create_secret(&args.secret_file)?;
    let mut cfg = ServerConfig::new(args.listen, secret);
    cfg.db = Some(args.db.clone());
    cfg.public_url = args
        .public_url
        .as_ref()
        .map(|u| u.trim_end_matches('/').to_string());
    cfg.allowed_origins = args.allow_origins.clone();
    cfg.allowed_hosts = args.allow_hosts.clone();
    cfg.trusted_proxies = args.trusted_proxies.clone();
    cfg.behind_proxy = args.behind_proxy;
    if let Some(f) = &args.admin_key_file {
        cfg.admin_key = Some(load_or_create_secret(f)?);
    }
    cfg.caps = Caps {
        max_rooms: args.max_rooms,
        max_connections: args.max_connections,
        max_room_connections: args.max_room_connections,
        max_connections_per_address: args.max_connections_per_address,
        max_handshakes: args.max_handshakes,
        max_handshakes_per_address: args.max_handshakes_per_address,
        header_timeout: duration("--header-timeout", &args.header_timeout)?,
        ..Caps::default()
    };
    cfg.idle_room = duration("--idle-room", &args.idle_room)?;
    cfg.coalesce.window = Duration::from_millis(args.coalesce_ms);
    cfg.coalesce.max_window = Duration::from_millis(args.coalesce_max_ms);
    cfg.fanout_threads = args.fanout_threads;
    Ok(cfg)
}

/// What `serve` prints once listening: where it is, the viewer page, and — when nobody else
/// can reach it — that it is for this computer only. A link for someone else never points at
/// a loopback address.
pub fn banner(listen: SocketAddr, public_url: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    match public_url {
        Some(base) => out.push(format!(
            "room server on {listen} — viewer page: {}/room/ROOM",
            base.trim_end_matches('/')
        )),
        None if listen.ip().is_loopback() => {
            out.push(format!(
                "room server on {listen} — viewer page (this computer only): \
                 http://{listen}/room/ROOM"
            ));
            out.push(format!(
                "only this computer can reach {listen}: for viewers on the local network \
                 listen on 0.0.0.0:{port} (--listen); for viewers anywhere, run it behind a TLS \
                 proxy with --public-url https://… (docs/deploy-room.md)",
                port = listen.port()
            ));
        }
        None if listen.ip().is_unspecified() => {
            let host = match outward_address(listen.is_ipv6()) {
                Some(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
                Some(v4) => v4.to_string(),
                None => "<this machine's address>".into(),
            };
            out.push(format!(
                "room server on {listen} — viewer page: http://{host}:{}/room/ROOM \
                 (on the local network; set --public-url to print the address viewers use)",
                listen.port()
            ));
        }
        None => out.push(format!(
            "room server on {listen} — viewer page: http://{listen}/room/ROOM"
        )),
    }
    out
}

/// Run the room server until Ctrl-C. Blocking; builds its own tokio runtime.
pub fn serve(args: &ServeArgs) -> Result<(), RoomError> {
    let mut cfg = config(args)?;
    if let Some(line) = cluster(args, &mut cfg)? {
        println!("{line}");
    }
    if let Some(n) = raise_fd_limit() {
        tracing::debug!(descriptors = n, "descriptor limit");
    }
    tokio::runtime::Runtime::new()?.block_on(async move {
        let public_url = cfg.public_url.clone();
        let handle = start(cfg).await?;
        for line in banner(handle.addr(), public_url.as_deref()) {
            println!("{line}");
        }
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping");
        handle.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_url_comes_from_the_command_line_or_the_environment() {
        assert_eq!(
            from_env("--store", "postgres://db/m").unwrap(),
            "postgres://db/m"
        );
        let err = from_env("--store", "env:MARQUEE_TEST_NO_SUCH_VARIABLE")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MARQUEE_TEST_NO_SUCH_VARIABLE is not set"),
            "{err}"
        );
        // PATH is set in every test run: its value is what comes back.
        assert_eq!(
            from_env("--bus", "env:PATH").unwrap(),
            std::env::var("PATH").unwrap()
        );
    }

    #[test]
    fn a_loopback_server_without_a_public_url_says_it_is_for_this_computer_only() {
        let lo = banner("127.0.0.1:8787".parse().unwrap(), None);
        assert!(lo[0].starts_with("room server on 127.0.0.1:8787 "));
        assert!(lo[0].contains("this computer only"));
        assert!(lo[1].contains("only this computer can reach"), "{lo:?}");
        let public = banner(
            "127.0.0.1:8787".parse().unwrap(),
            Some("https://room.example.com/"),
        );
        assert_eq!(
            public,
            ["room server on 127.0.0.1:8787 — viewer page: https://room.example.com/room/ROOM"]
        );
        let any = banner("0.0.0.0:8787".parse().unwrap(), None).join("\n");
        assert!(
            !any.contains("127.0.0.1") && !any.contains("http://0.0.0.0"),
            "{any}"
        );
    }
}
