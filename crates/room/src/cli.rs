//! `marquee room …` commands as plain blocking functions with clap argument types.
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum RoomCmd {
//!     Serve(marquee_room::cli::ServeArgs),
//!     Token(marquee_room::cli::TokenArgs),
//!     Watch(marquee_room::cli::WatchArgs),
//!     Bench(marquee_room::cli::BenchArgs),
//! }
//! match cmd {
//!     RoomCmd::Serve(a) => marquee_room::cli::serve(&a)?,
//!     RoomCmd::Token(a) => println!("{}", marquee_room::cli::token(&a)?),
//!     RoomCmd::Watch(a) => marquee_room::cli::watch(&a)?,
//!     RoomCmd::Bench(a) => { marquee_room::cli::bench(&a)?; }
//! }
//! ```

use crate::RoomError;
use crate::client::{ClientConfig, ClientEvent, RoomClient};
use crate::protocol::{Control, EventBody, Role};
use crate::server::{ServerConfig, start};
use crate::token::{self, Claims};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// `marquee room token`
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    #[arg(long)]
    pub room: String,
    /// User id (votes, gifts, bans are per user id).
    #[arg(long)]
    pub user: String,
    /// Display name (default: the user id).
    #[arg(long)]
    pub name: Option<String>,
    /// host, moderator, guest or viewer.
    #[arg(long)]
    pub role: Role,
    /// Lifetime: 90s, 15m, 12h, 7d.
    #[arg(long, default_value = "12h")]
    pub ttl: String,
    /// The server's secret file (created if missing).
    #[arg(long, default_value = "room.secret")]
    pub secret_file: PathBuf,
}

/// `marquee room watch`
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// `ws://host:port/room/ROOM/ws`, or the viewer page URL `http://host:port/room/ROOM`.
    #[arg(long)]
    pub url: String,
    /// A token from `marquee room token`.
    #[arg(long)]
    pub token: Option<String>,
    /// Join as a viewer with just a nickname instead of a token.
    #[arg(long)]
    pub nickname: Option<String>,
    /// Print every frame as JSON instead of a chat view.
    #[arg(long)]
    pub json: bool,
}

/// `marquee room bench`
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Subscribers in one room.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Danmaku published per second (spread over the publishers).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Publishing time in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Extra idle connections opened to measure memory per idle connection.
    #[arg(long, default_value_t = 0)]
    pub idle: usize,
    /// Bench a running server (`ws://host:port/room/ROOM/ws`) instead of an in-process one;
    /// needs `--secret-file` to mint tokens.
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// With `--url`: the server's process id, to measure its RSS per idle connection.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Subscribers do not ask for `batch` frames (each broadcast arrives as its own frame).
    #[arg(long)]
    pub no_batch: bool,
    /// Threads reading the subscribers' sockets (each polls its share of them).
    #[arg(long, default_value_t = 1)]
    pub readers: usize,
}

fn runtime() -> Result<tokio::runtime::Runtime, RoomError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Read the secret file, or create it with 32 random bytes (hex) if it does not exist.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, RoomError> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let s = s.trim().as_bytes().to_vec();
            if s.len() < 16 {
                return Err(token::TokenError::WeakSecret.into());
            }
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_hex(32)?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            use std::io::Write;
            let mut f = opts.open(path)?;
            f.write_all(secret.as_bytes())?;
            f.write_all(b"\n")?;
            tracing::info!(path = %path.display(), "created a new room secret");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(e.into()),
    }
}

/// `n` random bytes from the OS, as hex.
pub fn random_hex(n: usize) -> Result<String, RoomError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| RoomError::Io(std::io::Error::other(e.to_string())))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
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
    runtime()?.block_on(async move {
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

/// Mint a signed token. Returns the token string (the CLI prints it).
pub fn token(args: &TokenArgs) -> Result<String, RoomError> {
    let secret = load_or_create_secret(&args.secret_file)?;
    let ttl = token::parse_ttl(&args.ttl).map_err(RoomError::InvalidArgument)?;
    if args.room.is_empty() || args.user.is_empty() {
        return Err(RoomError::InvalidArgument(
            "--room and --user must not be empty".into(),
        ));
    }
    let claims = Claims {
        room: args.room.clone(),
        user: args.user.clone(),
        name: args.name.clone().unwrap_or_else(|| args.user.clone()),
        role: args.role,
        exp_ms: crate::now_ms().saturating_add(ttl),
    };
    Ok(token::sign(&secret, &claims))
}

/// Turn a viewer page URL into the WebSocket URL; WebSocket URLs pass through.
pub fn ws_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let url = if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_string()
    };
    if url.ends_with("/ws") {
        url
    } else {
        format!("{url}/ws")
    }
}

/// One line of the terminal chat view for a client event (None: nothing to print).
pub fn render(ev: &ClientEvent) -> Option<String> {
    Some(match ev {
        ClientEvent::Joined {
            user,
            epoch,
            seq,
            view,
        } => format!(
            "* joined as {} ({}) — epoch {epoch}, seq {seq}, {} viewers",
            user.name, user.role, view.viewers
        ),
        ClientEvent::Event(e) => {
            let body = match &e.body {
                EventBody::Danmaku {
                    user,
                    text,
                    deleted,
                    ..
                } => {
                    if *deleted {
                        format!("{}: (deleted)", user.name)
                    } else {
                        format!("{}: {text}", user.name)
                    }
                }
                EventBody::MessageDeleted { id, by } => format!("* message {id} deleted by {by}"),
                EventBody::Gift {
                    user,
                    gift,
                    count,
                    coins,
                    combo,
                    ..
                } => {
                    format!(
                        "* {} sent {gift} ×{count} ({coins} coins, combo {combo})",
                        user.name
                    )
                }
                EventBody::PollStarted { poll } => {
                    format!("* poll {}: {} {:?}", poll.poll, poll.question, poll.options)
                }
                EventBody::PollEnded { poll } => {
                    format!("* poll {} ended: {:?}", poll.poll, poll.tallies)
                }
                EventBody::Question { question } => {
                    format!("? {}: {}", question.user.name, question.text)
                }
                EventBody::QuestionPinned { question } => match question {
                    Some(q) => format!("* pinned: {}", q.text),
                    None => "* unpinned".into(),
                },
                EventBody::LotteryStarted { lottery } => format!(
                    "* lottery {}: send \"{}\" to win {} (seed {})",
                    lottery.lottery, lottery.keyword, lottery.prize, lottery.seed
                ),
                EventBody::LotteryDrawn { lottery, entrants } => format!(
                    "* lottery {} winners {:?} of {} entrants",
                    lottery.lottery,
                    lottery.winners,
                    entrants.len()
                ),
                EventBody::UserTimedOut { user, until, by } => {
                    format!("* {user} muted until {until} by {by}")
                }
                EventBody::UserBanned { user, by } => format!("* {user} banned by {by}"),
                EventBody::UserUnbanned { user, by } => format!("* {user} unbanned by {by}"),
                EventBody::BlockedWordsChanged { count, by } => {
                    format!("* {count} blocked words (by {by})")
                }
                EventBody::SettingsChanged { settings, by } => {
                    format!("* settings {settings:?} (by {by})")
                }
                EventBody::StreamStarted { stream } => format!("* stream {stream} started"),
                EventBody::RoomClosed { reason } => format!("* room closed: {reason}"),
            };
            format!("[{}] {body}", e.seq)
        }
        ClientEvent::NotRecoverable { reason } => {
            format!("* missed events cannot be replayed ({reason}); reloading")
        }
        ClientEvent::History(events) => format!("* {} recent events", events.len()),
        ClientEvent::Control(Control::Error { code, message }) => format!("! {code}: {message}"),
        ClientEvent::Control(Control::Presence { viewers, .. }) => format!("* {viewers} viewers"),
        ClientEvent::Control(_) => return None,
        ClientEvent::Disconnected { reason, retry_in } => {
            format!(
                "* disconnected ({reason}); retrying in {} ms",
                retry_in.as_millis()
            )
        }
        ClientEvent::Stopped { code, reason } => format!("! stopped: {code}: {reason}"),
    })
}

/// Print room events as they come until Ctrl-C or the server refuses for good. Blocking.
pub fn watch(args: &WatchArgs) -> Result<(), RoomError> {
    let mut cfg = ClientConfig::new(ws_url(&args.url));
    cfg.token = args.token.clone();
    cfg.nickname = args.nickname.clone();
    if cfg.token.is_none() && cfg.nickname.is_none() {
        cfg.nickname = Some("watcher".into());
    }
    let json = args.json;
    runtime()?.block_on(async move {
        let mut client = RoomClient::connect(cfg);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                ev = client.recv() => {
                    let Some(ev) = ev else { return Ok(()) };
                    if json {
                        let line = match &ev {
                            ClientEvent::Event(e) => serde_json::to_string(e).unwrap_or_default(),
                            ClientEvent::Control(c) => serde_json::to_string(c).unwrap_or_default(),
                            ClientEvent::History(h) => {
                                for e in h {
                                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                                }
                                continue;
                            }
                            other => format!("{{\"type\":\"client\",\"note\":{:?}}}", format!("{other:?}")),
                        };
                        println!("{line}");
                    } else if let Some(line) = render(&ev) {
                        println!("{line}");
                    } else if let ClientEvent::History(h) = &ev {
                        for e in h {
                            if let Some(l) = render(&ClientEvent::Event(e.clone())) {
                                println!("{l}");
                            }
                        }
                    }
                    if let ClientEvent::Stopped { code, reason } = ev {
                        return Err(RoomError::Refused { code: code.to_string(), message: reason });
                    }
                }
            }
        }
    })
}

/// Run the load generator and print a table; see [`crate::bench`].
pub fn bench(args: &BenchArgs) -> Result<crate::bench::BenchReport, RoomError> {
    runtime()?.block_on(crate::bench::run(args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }
    #[derive(clap::Subcommand)]
    enum Cmd {
        Serve(ServeArgs),
        Token(TokenArgs),
        Watch(WatchArgs),
        Bench(BenchArgs),
    }

    #[test]
    fn args_parse_with_the_documented_defaults() {
        let c = Cli::try_parse_from(["x", "serve"]).unwrap();
        let Cmd::Serve(s) = c.cmd else { panic!() };
        assert_eq!(s.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(s.db, PathBuf::from("room.db"));
        let c = Cli::try_parse_from([
            "x",
            "token",
            "--room",
            "r",
            "--user",
            "u",
            "--role",
            "moderator",
        ])
        .unwrap();
        let Cmd::Token(t) = c.cmd else { panic!() };
        assert_eq!((t.role, t.ttl.as_str()), (Role::Moderator, "12h"));
        assert!(
            Cli::try_parse_from([
                "x", "token", "--room", "r", "--user", "u", "--role", "admin"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from(["x", "watch", "--url", "ws://h/room/r/ws", "--token", "t"])
                .is_ok()
        );
        assert!(Cli::try_parse_from(["x", "bench", "--subscribers", "10"]).is_ok());
    }

    #[test]
    fn token_command_signs_for_the_secret_file() {
        let dir = std::env::temp_dir().join(format!("mq-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret_file = dir.join("s.secret");
        let _ = std::fs::remove_file(&secret_file);
        let args = TokenArgs {
            room: "r".into(),
            user: "alice".into(),
            name: None,
            role: Role::Host,
            ttl: "1h".into(),
            secret_file: secret_file.clone(),
        };
        let t = token(&args).unwrap();
        let secret = load_or_create_secret(&secret_file).unwrap();
        let c = token::verify(&secret, &t, "r", crate::now_ms()).unwrap();
        assert_eq!((c.user.as_str(), c.role), ("alice", Role::Host));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn page_urls_become_websocket_urls() {
        assert_eq!(ws_url("http://h:1/room/r"), "ws://h:1/room/r/ws");
        assert_eq!(ws_url("https://h/room/r/"), "wss://h/room/r/ws");
        assert_eq!(ws_url("ws://h/room/r/ws"), "ws://h/room/r/ws");
    }
}
