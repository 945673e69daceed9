//! `marquee room serve`: run a room server until Ctrl-C.

use marquee_room::RoomError;
use marquee_room::secret::load_or_create_secret;
use marquee_room::server::{ServerConfig, start};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `marquee room serve`
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// SQLite database (created if missing).
    #[arg(long, default_value = "room.db")]
    pub db: PathBuf,
    /// File holding the token secret; created with a random secret (mode 0600) if missing.
    #[arg(long, default_value = "room.secret")]
    pub secret_file: PathBuf,
    /// Public base URL, used when printing the viewer page address.
    #[arg(long)]
    pub public_url: Option<String>,
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
    /// Behind a reverse proxy on another machine that always adds `X-Forwarded-For`: take the
    /// client address (new nickname viewers are limited per address) from that header. From a
    /// proxy or tunnel on this machine the header is always used.
    #[arg(long)]
    pub behind_proxy: bool,
}

/// Run the room server until Ctrl-C. Blocking; builds its own tokio runtime.
pub fn serve(args: &ServeArgs) -> Result<(), RoomError> {
    let secret = load_or_create_secret(&args.secret_file)?;
    let mut cfg = ServerConfig::new(args.listen, secret);
    cfg.db = Some(args.db.clone());
    cfg.public_url = args.public_url.clone();
    cfg.coalesce.window = std::time::Duration::from_millis(args.coalesce_ms);
    cfg.coalesce.max_window = std::time::Duration::from_millis(args.coalesce_max_ms);
    cfg.fanout_threads = args.fanout_threads;
    cfg.behind_proxy = args.behind_proxy;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let handle = start(cfg).await?;
        let base = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", handle.addr()));
        println!(
            "room server on {} — viewer page: {}/room/ROOM",
            handle.addr(),
            base.trim_end_matches('/')
        );
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping");
        handle.shutdown().await;
        Ok(())
    })
}
