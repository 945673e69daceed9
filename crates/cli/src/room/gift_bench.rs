//! `marquee room gift-bench`: gifts per second one room sustains with grouped fsync (every group
//! of waiting inputs committed in one SQLite transaction, the server's behaviour) against one
//! fsync per gift (`ServerConfig::group_commit_max = 1`, a mode that exists for this comparison
//! only), in the same run.
//!
//! Each round starts an in-process server on a fresh SQLite file (WAL, `synchronous=FULL`) in
//! `--dir` — put it on a real disk: on tmpfs an fsync costs nothing — lifts the rate limits and
//! gives everyone enough points, then `--senders` viewers each keep `--window` gifts in flight
//! (a new one as each `gift_ack` comes back) for `--seconds`. A gift counts once acknowledged,
//! which the server does only after its group is durable. The two modes alternate, the order
//! swapped every round, so that a slow patch of a shared machine does not land on one mode.
//! Numbers are reported, never asserted.

use futures_util::{SinkExt, StreamExt};
use marquee_room::RoomError;
use marquee_room::protocol::Role;
use marquee_room::secret::random_hex;
use marquee_room::server::{ServerConfig, start};
use marquee_room::token::{self, Claims};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// `marquee room gift-bench`
#[derive(Debug, Clone, clap::Args)]
pub struct GiftBenchArgs {
    /// Viewers sending gifts at once.
    #[arg(long, default_value_t = 20)]
    pub senders: usize,
    /// Gifts each sender keeps in flight (sent, not yet acknowledged).
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Measured seconds per round and mode.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Rounds; each runs both modes.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Where the SQLite files go (a real disk, not tmpfs). Default: a temporary folder in the
    /// current directory, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// How the room commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    /// The server's behaviour: one transaction (one fsync) per group of waiting inputs.
    Grouped,
    /// One transaction (one fsync) per input: per gift.
    PerGift,
}

impl CommitMode {
    fn group_max(self) -> usize {
        match self {
            CommitMode::Grouped => {
                ServerConfig::new(([127, 0, 0, 1], 0).into(), Vec::new()).group_commit_max
            }
            CommitMode::PerGift => 1,
        }
    }
    fn label(self) -> &'static str {
        match self {
            CommitMode::Grouped => "grouped fsync",
            CommitMode::PerGift => "fsync per gift",
        }
    }
}

/// One mode in one round.
#[derive(Debug, Clone, Serialize)]
pub struct GiftRun {
    pub mode: CommitMode,
    pub round: usize,
    /// Gifts acknowledged within the measured time.
    pub acked: u64,
    pub gifts_per_s: f64,
    /// Gifts refused (should be 0: limits lifted, points plenty).
    pub refused: u64,
}

/// Results of a gift bench.
#[derive(Debug, Clone, Serialize)]
pub struct GiftBenchReport {
    pub senders: usize,
    pub window: usize,
    pub seconds: u64,
    pub runs: Vec<GiftRun>,
    /// Median gifts/s per mode.
    pub grouped_median: f64,
    pub per_gift_median: f64,
    /// `grouped_median / per_gift_median`.
    pub ratio: f64,
}

/// Run both modes, print a table. Blocking; builds its own tokio runtime.
pub fn gift_bench(args: &GiftBenchArgs) -> Result<GiftBenchReport, RoomError> {
    if args.senders == 0 || args.window == 0 || args.seconds == 0 || args.rounds == 0 {
        return Err(RoomError::InvalidArgument(
            "senders, window, seconds and rounds must be at least 1".into(),
        ));
    }
    let (dir, remove) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::current_dir()?.join(format!(".gift-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut runs = Vec::new();
    let result = (|| {
        for round in 0..args.rounds {
            let order = if round % 2 == 0 {
                [CommitMode::Grouped, CommitMode::PerGift]
            } else {
                [CommitMode::PerGift, CommitMode::Grouped]
            };
            for mode in order {
                let db = dir.join(format!("gifts-{round}-{mode:?}.db"));
                let run = rt.block_on(one_run(args, mode, round, db.clone()))?;
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
                }
                eprintln!(
                    "round {round}: {:<15} {:>9.0} gifts/s",
                    mode.label(),
                    run.gifts_per_s
                );
                runs.push(run);
            }
        }
        Ok::<(), RoomError>(())
    })();
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result?;
    let median = |mode: CommitMode| {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|r| r.mode == mode)
            .map(|r| r.gifts_per_s)
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (grouped_median, per_gift_median) =
        (median(CommitMode::Grouped), median(CommitMode::PerGift));
    let report = GiftBenchReport {
        senders: args.senders,
        window: args.window,
        seconds: args.seconds,
        grouped_median,
        per_gift_median,
        ratio: if per_gift_median > 0.0 {
            grouped_median / per_gift_median
        } else {
            0.0
        },
        runs,
    };
    print_table(&report);
    if let Some(path) = &args.json_out {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| RoomError::InvalidArgument(e.to_string()))?;
        std::fs::write(path, json)?;
    }
    Ok(report)
}

fn print_table(r: &GiftBenchReport) {
    println!(
        "gifts per second, one room, {} senders × {} in flight, {} s per run (median of {} rounds)",
        r.senders,
        r.window,
        r.seconds,
        r.runs.len() / 2
    );
    println!("| commit | gifts/s (median) | runs | refused |");
    println!("| --- | ---: | --- | ---: |");
    for (mode, median) in [
        (CommitMode::Grouped, r.grouped_median),
        (CommitMode::PerGift, r.per_gift_median),
    ] {
        let runs: Vec<String> = r
            .runs
            .iter()
            .filter(|x| x.mode == mode)
            .map(|x| format!("{:.0}", x.gifts_per_s))
            .collect();
        let refused: u64 = r
            .runs
            .iter()
            .filter(|x| x.mode == mode)
            .map(|x| x.refused)
            .sum();
        println!(
            "| {} | {median:.0} | {} | {refused} |",
            mode.label(),
            runs.join(", ")
        );
    }
    println!("grouped / per gift: {:.2}×", r.ratio);
}

fn hello(secret: &[u8], user: &str, role: Role) -> String {
    let t = token::sign(
        secret,
        &Claims {
            room: "gifts".into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    );
    format!(r#"{{"type":"hello","token":"{t}","batch":true}}"#)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect and wait for the welcome.
async fn join(url: &str, hello: String) -> Result<Ws, RoomError> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| RoomError::Io(std::io::Error::other(e.to_string())))?;
    send(&mut ws, hello).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains(r#""type":"welcome""#) => return Ok(ws),
            Some(Ok(Message::Text(t))) if t.contains(r#""type":"error""#) => {
                return Err(RoomError::InvalidArgument(format!("refused: {t}")));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(RoomError::Io(std::io::Error::other(e.to_string()))),
            None => return Err(RoomError::InvalidArgument("closed before welcome".into())),
        }
    }
}

async fn send(ws: &mut Ws, text: String) -> Result<(), RoomError> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| RoomError::Io(std::io::Error::other(e.to_string())))
}

async fn one_run(
    args: &GiftBenchArgs,
    mode: CommitMode,
    round: usize,
    db: PathBuf,
) -> Result<GiftRun, RoomError> {
    let secret = random_hex(32)?.into_bytes();
    let mut cfg = ServerConfig::new(([127, 0, 0, 1], 0).into(), secret.clone());
    cfg.db = Some(db);
    cfg.group_commit_max = mode.group_max();
    // The limits a real room puts on one user (rate, points) are not what is measured here.
    cfg.tune = Some(Arc::new(|c| {
        c.conn_rate_per_s = 1e9;
        c.conn_burst = 1e9;
        c.gift_rate_per_s = 1e9;
        c.gift_burst = 1e9;
    }));
    let server = start(cfg).await?;
    let url = server.ws_url("gifts");
    let mut host = join(&url, hello(&secret, "host", Role::Host)).await?;
    send(
        &mut host,
        r#"{"type":"gift_rules","points_per_stream":1000000000}"#.into(),
    )
    .await?;
    // The rules are in once the host sees their event.
    while let Some(Ok(m)) = host.next().await {
        if m.to_text().is_ok_and(|t| t.contains("gift_rules_changed")) {
            break;
        }
    }
    drop(host);
    let mut senders = Vec::new();
    for i in 0..args.senders {
        senders.push(join(&url, hello(&secret, &format!("fan{i}"), Role::Viewer)).await?);
    }
    let start_at = Instant::now() + Duration::from_millis(200);
    let deadline = start_at + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(flood(ws, i, args.window, start_at, deadline)))
        .collect();
    let (mut acked, mut refused) = (0, 0);
    for t in tasks {
        let (a, r) = t
            .await
            .map_err(|e| RoomError::Io(std::io::Error::other(e.to_string())))??;
        acked += a;
        refused += r;
    }
    server.shutdown().await;
    Ok(GiftRun {
        mode,
        round,
        acked,
        gifts_per_s: acked as f64 / args.seconds as f64,
        refused,
    })
}

/// One sender: keep `window` gifts in flight from `start` to `deadline`; the gifts
/// acknowledged in that time, and the refused ones.
async fn flood(
    mut ws: Ws,
    id: usize,
    window: usize,
    start: Instant,
    deadline: Instant,
) -> Result<(u64, u64), RoomError> {
    tokio::time::sleep_until(start).await;
    let (mut n, mut in_flight, mut acked, mut refused) = (0u64, 0usize, 0u64, 0u64);
    loop {
        while in_flight < window && Instant::now() < deadline {
            n += 1;
            let gift = format!(r#"{{"type":"gift","gift":"rose","count":1,"key":"b{id}-{n}"}}"#);
            send(&mut ws, gift).await?;
            in_flight += 1;
        }
        if in_flight == 0 {
            break;
        }
        let msg = match tokio::time::timeout_at(deadline + Duration::from_secs(10), ws.next()).await
        {
            Ok(Some(Ok(m))) => m,
            _ => break,
        };
        let Ok(text) = msg.to_text() else { continue };
        let acks = text.matches(r#""type":"gift_ack""#).count();
        let errors = text.matches(r#""type":"error""#).count();
        in_flight = in_flight.saturating_sub(acks + errors);
        if Instant::now() <= deadline {
            acked += acks as u64;
        }
        refused += errors as u64;
    }
    let _ = ws.close(None).await;
    Ok((acked, refused))
}
