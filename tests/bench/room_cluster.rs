//! Benchmark: one room node against a three-node room cluster (Postgres + Redis) on this
//! machine, under the same `marquee room bench` load, and what each process spends on it.
//!
//! Per round, each on a fresh room:
//! 1. **one node**: `marquee room serve` on SQLite, every connection on it;
//! 2. **cluster, on the owner**: three `marquee room serve --store postgres://… --bus redis://…`,
//!    every connection on node 1 (which owns the room: its host joined there first);
//! 3. **cluster, spread**: the host on node 1, subscribers and publishers dealt over nodes 1–3
//!    in turn (`--url` three times), so two thirds of the load crosses the bus to an edge.
//!
//! CPU is read from `/proc/PID/stat` before and after each bench command, for each node, for
//! Redis, for Postgres (the postmaster and its backends) and for the load generator, as % of one
//! core over the command's wall time. The bus's cost per node is the cluster nodes' CPU against
//! the one node's for the same delivered messages.
//!
//! ```text
//! cargo build -p marquee-cli -p marquee-e2e --bins
//! MARQUEE_BIN=target/debug/marquee target/debug/bench_room_cluster [--subscribers 500] [--rate 200] [--seconds 8] [--rounds 2]
//! ```
//! Needs postgresql and redis-server (Debian's; the bench starts its own on loopback). Writes a
//! markdown table to stdout and JSON to `target/bench/room_cluster.json`.

use std::path::Path;
use std::time::{Duration, Instant};

use marquee_e2e::{RoomCluster, RoomServer, Run, bench_usage, marquee, tempdir};
use serde_json::{Value, json};

fn usage(problem: &str) -> ! {
    bench_usage(
        "bench_room_cluster",
        "[--subscribers N] [--rate M] [--seconds S] [--rounds R] [--out FILE]",
        problem,
    )
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    let ticks: f64 = f.get(11..13).map_or(0.0, |t| {
        t.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// A process and its children (Postgres's backends are the postmaster's).
fn with_children(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pid) {
                out.push(child);
            }
        }
    }
    out
}

/// The processes a run is measured on: a name and its pids (read again at each sample, since
/// Postgres starts a backend per connection).
struct Watched {
    name: String,
    pids: Box<dyn Fn() -> Vec<u32>>,
}

fn sample(watched: &[Watched]) -> Vec<f64> {
    watched
        .iter()
        .map(|w| (w.pids)().into_iter().map(cpu_s).sum())
        .collect()
}

struct Load {
    subscribers: u32,
    rate: u32,
    seconds: u32,
}

/// `marquee room bench` against `urls`, with the CPU each watched process spent meanwhile.
fn bench(
    setup: &str,
    urls: &[String],
    secret: &Path,
    load: &Load,
    watched: &[Watched],
    dir: &Path,
) -> Value {
    let out = dir.join(format!("{}.json", setup.replace(' ', "-")));
    let mut c = marquee();
    c.args(["room", "bench", "--secret-file"]).arg(secret);
    for u in urls {
        c.args(["--url", u]);
    }
    c.args(["--subscribers", &load.subscribers.to_string()])
        .args(["--rate", &load.rate.to_string()])
        .args(["--seconds", &load.seconds.to_string()])
        .arg("--json-out")
        .arg(&out);
    let before = sample(watched);
    let started = Instant::now();
    let mut run = Run::spawn(c);
    let status = run.wait(Duration::from_secs(u64::from(load.seconds) + 120));
    let wall = started.elapsed().as_secs_f64();
    let after = sample(watched);
    assert!(
        status.success(),
        "{setup}: marquee room bench failed\n{}",
        run.report()
    );
    // The load generator's own CPU, from wait4.
    let bench_cpu = run.usage().map_or(f64::NAN, |u| u.cpu_s());
    let report: Value = serde_json::from_slice(
        &std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display())),
    )
    .expect("bench json");
    let cpu: serde_json::Map<String, Value> = watched
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(w, (b, a))| (w.name.clone(), json!(100.0 * (a - b) / wall)))
        .collect();
    json!({
        "setup": setup,
        "nodes": urls.len(),
        "delivered_per_s": report["delivered_per_s"],
        "delivered": report["delivered"],
        "expected": report["expected"],
        "p50_ms": report["p50_ms"],
        "p99_ms": report["p99_ms"],
        "p999_ms": report["p999_ms"],
        "wall_s": wall,
        "cpu_percent": cpu,
        "bench_cpu_percent": 100.0 * bench_cpu / wall,
    })
}

fn main() {
    let mut load = Load {
        subscribers: 500,
        rate: 200,
        seconds: 8,
    };
    let mut rounds = 2;
    let mut out_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u32 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{what} needs a number")))
        };
        match a.as_str() {
            "--subscribers" => load.subscribers = num("--subscribers"),
            "--rate" => load.rate = num("--rate"),
            "--seconds" => load.seconds = num("--seconds"),
            "--rounds" => rounds = num("--rounds"),
            "--out" => out_path = args.next(),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let dir = tempdir("mq-bench-cluster");
    let secret = dir.path().join("room.secret");
    std::fs::write(&secret, "bench-secret-0123456789abcdef-0123456789").expect("secret");
    // The bench's connections all come from loopback: lift the per-address caps.
    let caps = [
        "--max-connections-per-address",
        "100000",
        "--max-handshakes-per-address",
        "1000",
        "--max-handshakes",
        "1000",
    ];
    let secret_arg = secret.to_string_lossy().into_owned();
    let mut node_args: Vec<String> = vec!["--secret-file".into(), secret_arg];
    node_args.extend(caps.iter().map(|s| s.to_string()));

    let single = {
        let mut a = node_args.clone();
        a.extend([
            "--db".into(),
            dir.path().join("one.db").to_string_lossy().into(),
        ]);
        RoomServer::start(a)
    };
    let cluster = RoomCluster::start("bench", 3, &node_args);
    let pid = |s: &RoomServer| s.run().pid() as u32;
    let one_node = [Watched {
        name: "node".into(),
        pids: Box::new({
            let p = pid(&single);
            move || vec![p]
        }),
    }];
    let mut in_cluster: Vec<Watched> = cluster
        .nodes()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let p = pid(n);
            Watched {
                name: format!("node{}", i + 1),
                pids: Box::new(move || vec![p]),
            }
        })
        .collect();
    if let Some(p) = cluster.redis().pid() {
        in_cluster.push(Watched {
            name: "redis".into(),
            pids: Box::new(move || vec![p]),
        });
    }
    if let Some(p) = cluster.postgres().pid() {
        in_cluster.push(Watched {
            name: "postgres".into(),
            pids: Box::new(move || with_children(p)),
        });
    }

    let mut runs = Vec::new();
    for r in 0..rounds {
        let room = |case: &str| format!("b{r}{case}");
        runs.push(bench(
            "one node",
            &[single.ws_url(&room("one"))],
            &secret,
            &load,
            &one_node,
            dir.path(),
        ));
        runs.push(bench(
            "cluster on the owner",
            &[cluster.nodes()[0].ws_url(&room("own"))],
            &secret,
            &load,
            &in_cluster,
            dir.path(),
        ));
        let spread: Vec<String> = cluster
            .nodes()
            .iter()
            .map(|n| n.ws_url(&room("spread")))
            .collect();
        runs.push(bench(
            "cluster spread",
            &spread,
            &secret,
            &load,
            &in_cluster,
            dir.path(),
        ));
    }

    println!(
        "| setup | delivered msg/s | p50 / p99 / p999 (ms) | CPU % of a core: nodes | Redis | Postgres | load generator |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &runs {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let cpu = r["cpu_percent"].as_object().cloned().unwrap_or_default();
        let nodes: Vec<String> = cpu
            .iter()
            .filter(|(k, _)| k.starts_with("node"))
            .map(|(_, v)| format!("{:.0}", v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        let one = |k: &str| {
            cpu.get(k)
                .and_then(Value::as_f64)
                .map_or("–".into(), |v| format!("{v:.0}"))
        };
        println!(
            "| {} | {:.0} ({} of {}) | {:.1} / {:.1} / {:.1} | {} | {} | {} | {:.0} |",
            r["setup"].as_str().unwrap_or(""),
            f("delivered_per_s"),
            r["delivered"],
            r["expected"],
            f("p50_ms"),
            f("p99_ms"),
            f("p999_ms"),
            nodes.join(" / "),
            one("redis"),
            one("postgres"),
            f("bench_cpu_percent"),
        );
    }
    let out = out_path.map_or_else(
        || {
            let t = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            Path::new(&t).join("bench/room_cluster.json")
        },
        Into::into,
    );
    if let Some(p) = out.parent() {
        let _ = std::fs::create_dir_all(p);
    }
    let _ = std::fs::write(
        &out,
        serde_json::to_vec_pretty(&json!({
            "subscribers": load.subscribers,
            "rate": load.rate,
            "seconds": load.seconds,
            "runs": runs,
        }))
        .unwrap_or_default(),
    );
    eprintln!("bench_room_cluster: JSON in {}", out.display());
}
