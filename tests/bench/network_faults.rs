//! Benchmark: a stream on a faulty path, against the ffmpeg CLI where it can take part.
//!
//! **Loss** (`--loss PCT`, `--seconds N`): `marquee live` and the ffmpeg CLI run side by side in
//! a network namespace, each pushing the same looped clip at the same bitrate across a veth to
//! nginx-rtmp, with nftables dropping PCT % of the TCP segments each way (`numgen random`; this
//! kernel has no netem). Per sender: reconnects (Marquee's summary; the ffmpeg CLI has no
//! reconnect and ends on a broken connection), how long it stayed up, the frames nginx recorded
//! and their rate per second of media time, and how steadily bytes arrived (the recording's
//! size sampled every 250 ms: the seconds in which less than half the stream's rate arrived).
//!
//! **Ingest restarts** (`--restarts N`): `marquee live` (4,000 kbit/s, adaptive bitrate) pushes
//! across the veth shaped to 2,500 kbit/s; nginx is killed, left down 2 s and started again, N
//! times. Per return: how long after nginx listened again Marquee was connected (its summary's
//! `connected` events), and the bitrate nginx recorded in the first 5 s after it, against the
//! link's rate. There is no peer: the ffmpeg CLI does not reconnect.
//!
//! ```text
//! cargo build -p marquee-cli -p marquee-e2e
//! MARQUEE_BIN=target/debug/marquee target/debug/bench_network_faults [--loss 5] [--seconds 300] [--restarts 20]
//! ```
//! Without `--loss` or `--restarts` both run (5 %, 300 s; 20 restarts). Needs root, iproute2,
//! nftables, nginx with the RTMP module, ffmpeg. Writes markdown tables to stdout and JSON to
//! `target/bench/network_faults.json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use marquee_e2e::{
    NetLink, Nginx, Run, Summary, bench_usage, marquee_in, noise_clip, percentile, probe, program,
    tempdir,
};
use serde_json::{Value, json};

const KBPS: u32 = 2500;

fn usage(problem: &str) -> ! {
    bench_usage(
        "bench_network_faults",
        "[--loss PCT] [--seconds N] [--restarts N] [--out FILE]",
        problem,
    )
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Frames per second of media time over whole seconds, sorted (the first and last seconds,
/// partial, are left out).
fn fps_per_second(pts: &[f64]) -> Vec<f64> {
    let Some(&t0) = pts.first() else {
        return Vec::new();
    };
    let mut counts = std::collections::BTreeMap::<u64, f64>::new();
    for &t in pts {
        *counts.entry((t - t0).max(0.0) as u64).or_default() += 1.0;
    }
    let n = counts.len();
    let mut v: Vec<f64> = counts
        .into_values()
        .enumerate()
        .filter(|(i, _)| *i > 0 && *i + 1 < n)
        .map(|(_, c)| c)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// What nginx recorded of one stream key.
struct AtServer {
    recordings: usize,
    frames: usize,
    fps: Vec<f64>,
}

fn at_server(nginx: &Nginx, key: &str) -> AtServer {
    let recs = nginx.recordings_of(key);
    let mut pts = Vec::new();
    for r in &recs {
        if let Some(v) = probe(r).video {
            let base = pts.last().copied().unwrap_or(0.0);
            let first = v.packets.first().map_or(0.0, |p| p.pts);
            pts.extend(v.packets.iter().map(|p| base + p.pts - first));
        }
    }
    AtServer {
        recordings: recs.len(),
        frames: pts.len(),
        fps: fps_per_second(&pts),
    }
}

/// Samples the size of each key's newest recording every 250 ms until `until`; returns, per
/// key, the bytes that arrived in each second.
fn arrivals(nginx: &Nginx, keys: &[&str], until: Instant) -> Vec<Vec<u64>> {
    let size = |key: &str| -> u64 {
        (nginx.recordings_of(key).iter())
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum()
    };
    let mut per_second = vec![Vec::new(); keys.len()];
    let mut last: Vec<u64> = keys.iter().map(|k| size(k)).collect();
    let mut tick = Instant::now();
    while Instant::now() < until {
        tick += Duration::from_secs(1);
        std::thread::sleep(tick.saturating_duration_since(Instant::now()));
        for (i, k) in keys.iter().enumerate() {
            let now = size(k);
            per_second[i].push(now.saturating_sub(last[i]));
            last[i] = now;
        }
    }
    per_second
}

fn loss_run(seconds: u64, pct: u32, clip: &Path) -> (String, Value) {
    let link = NetLink::start();
    let nginx = Nginx::start_also_on(&link.host_ip);
    link.lose_tcp(pct);
    let home = tempdir("marquee-bench-loss-");
    let summary = home.path().join("summary.json");
    let url = |key: &str| format!("rtmp://{}:{}/live/{key}", link.host_ip, nginx.port());
    let mut c = marquee_in(home.path());
    c.args(["live", "--audio", "tone", "--video"])
        .arg(format!("file:{}", clip.display()))
        .args(["--size", "640x360", "--fps", "30", "--preset", "ultrafast"])
        .args(["--bitrate", &KBPS.to_string(), "--no-abr"])
        .args([
            "--duration",
            &format!("{seconds}s"),
            "--replay-seconds",
            "0",
        ])
        .args(["--to", &url("marquee")])
        .arg("--summary-json")
        .arg(&summary);
    let t0 = Instant::now();
    let mut marquee = Run::spawn(link.inside(c));
    let mut f = Command::new(program("ffmpeg"));
    f.args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
        .arg(clip)
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-map", "0:v", "-map", "1:a", "-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-b:v", &format!("{KBPS}k"), "-maxrate", &format!("{KBPS}k")])
        .args(["-bufsize", &format!("{KBPS}k"), "-g", "60", "-r", "30"])
        .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv", &url("ffmpeg")]);
    let mut ffmpeg = Run::spawn(link.inside(f));
    let per_second = arrivals(
        &nginx,
        &["marquee", "ffmpeg"],
        t0 + Duration::from_secs(seconds),
    );
    let ffmpeg_status = ffmpeg.wait(Duration::from_secs(seconds + 30));
    let ffmpeg_up_s = t0.elapsed().as_secs_f64().min(seconds as f64);
    marquee.wait(Duration::from_secs(seconds + 60));
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    let (mut seen, mut dropped) = (0, 0);
    for (_, s, d) in link.loss_counts() {
        seen += s;
        dropped += d;
    }
    let s = Summary::read(&summary);
    let dest = &s.destinations()[0];
    let reconnects = dest["reconnects"].as_f64().unwrap_or(0.0);
    // Where Marquee's missing frames went: its writer's drop policy (a queue past 1.5 s drops
    // non-key video up to the next keyframe, to stay live) or its own pipeline.
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let marquee_drops = format!(
        "{reconnects:.0} reconnects; frames dropped: {:.0} at the writer (queue past 1.5 s), {:.0} by the pipeline (capture, render, encoder)",
        n(&dest["dropped"]["congestion"]) + n(&dest["dropped"]["overflow"]),
        ["capture_queue_full", "render_lag", "encoder_lag"]
            .iter()
            .map(|c| s.num(&format!("/video/dropped/{c}")).unwrap_or(0.0))
            .sum::<f64>(),
    );
    let rows = [
        (
            "`marquee live`",
            at_server(&nginx, "marquee"),
            &per_second[0],
            marquee_drops,
        ),
        (
            "ffmpeg CLI",
            at_server(&nginx, "ffmpeg"),
            &per_second[1],
            if ffmpeg_status.success() {
                "ran to the end".to_string()
            } else {
                format!(
                    "exited after {ffmpeg_up_s:.0} s: {}",
                    ffmpeg.stderr().trim()
                )
            },
        ),
    ];
    let half = u64::from(KBPS) * 1000 / 8 / 2;
    let mut out = format!(
        "**{pct} % TCP loss each way, {seconds} s** ({dropped} of {seen} segments dropped, {:.1} %; {KBPS} kbit/s, 640×360@30)\n\n\
         | sender | connection | recordings at nginx | frames at nginx | fps p5 / p50 / min (per media second) | seconds with < half the rate arriving |\n\
         | --- | --- | ---: | ---: | ---: | ---: |\n",
        100.0 * dropped as f64 / seen.max(1) as f64
    );
    let mut json_rows = Vec::new();
    for (name, a, arrived, conn) in &rows {
        let starved = arrived.iter().filter(|&&b| b < half).count();
        let (p5, p50, min) = (
            percentile(&a.fps, 0.05),
            percentile(&a.fps, 0.5),
            a.fps.first().copied().unwrap_or(f64::NAN),
        );
        out.push_str(&format!(
            "| {name} | {conn} | {} | {} | {p5:.0} / {p50:.0} / {min:.0} | {starved} of {} |\n",
            a.recordings,
            a.frames,
            arrived.len()
        ));
        json_rows.push(json!({
            "sender": name, "connection": conn, "recordings": a.recordings, "frames": a.frames,
            "fps_p5": p5, "fps_p50": p50, "fps_min": min, "starved_seconds": starved,
            "seconds": arrived.len(),
        }));
    }
    (
        out,
        json!({"loss_pct": pct, "seconds": seconds, "segments": seen, "dropped": dropped, "rows": json_rows}),
    )
}

fn restart_run(restarts: u32, clip: &Path) -> (String, Value) {
    const LINK_KBPS: u32 = 2500;
    let link = NetLink::start();
    let mut nginx = Nginx::start_also_on(&link.host_ip);
    link.shape(LINK_KBPS);
    let home = tempdir("marquee-bench-restart-");
    let summary = home.path().join("summary.json");
    let seconds = 15 + u64::from(restarts) * 8;
    let mut c = marquee_in(home.path());
    c.args(["live", "--audio", "tone", "--video"])
        .arg(format!("file:{}", clip.display()))
        .args(["--size", "640x360", "--fps", "30", "--preset", "ultrafast"])
        .args(["--bitrate", "4000", "--min-bitrate", "400"])
        .args([
            "--duration",
            &format!("{seconds}s"),
            "--replay-seconds",
            "0",
        ])
        .args([
            "--to",
            &format!("rtmp://{}:{}/live/restart", link.host_ip, nginx.port()),
        ])
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(link.inside(c));
    assert!(
        nginx
            .wait_recording("restart", 50_000, Duration::from_secs(30))
            .is_some(),
        "no stream reached nginx\n{}",
        run.report()
    );
    let mut returns = Vec::new();
    for i in 0..restarts {
        // On air a while (ABR settles), then the ingest dies and comes back.
        let have = nginx.recordings_of("restart").len();
        let on_air = nginx.wait_recording("restart", 50_000, Duration::from_secs(30));
        assert!(
            on_air.is_some(),
            "restart {i}: not on air\n{}",
            run.report()
        );
        std::thread::sleep(Duration::from_secs(4));
        nginx.stop();
        std::thread::sleep(Duration::from_secs(2));
        nginx.start_again();
        returns.push(unix_ms());
        // The next file at nginx is the stream after this return.
        let back = marquee_e2e::wait_until(Duration::from_secs(20), || {
            nginx.recordings_of("restart").len() > have
        });
        assert!(back, "restart {i}: never back\n{}", run.report());
    }
    run.interrupt(Duration::from_secs(20));
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    let s = Summary::read(&summary);
    let connected: Vec<u64> = (s.events_of("connected").into_iter())
        .filter(|e| !e.dest.is_empty())
        .map(|e| e.unix_ms)
        .collect();
    let mut back_ms: Vec<f64> = returns
        .iter()
        .filter_map(|&up| {
            connected
                .iter()
                .find(|&&c| c >= up.saturating_sub(3_000))
                .map(|&c| c as f64 - up as f64)
        })
        .collect();
    // The recordings after each return: the rate in their first 5 s of media.
    let recs = nginx.recordings_of("restart");
    let mut first5: Vec<f64> = recs
        .iter()
        .skip(1)
        .filter_map(|r| {
            let v = probe(r).video?;
            let t0 = v.packets.first()?.pts;
            let bits: u64 = (v.packets.iter())
                .filter(|p| p.pts - t0 < 5.0)
                .map(|p| p.size * 8)
                .sum();
            Some(bits as f64 / 5.0 / 1000.0)
        })
        .collect();
    back_ms.sort_by(f64::total_cmp);
    first5.sort_by(f64::total_cmp);
    let over = first5.iter().filter(|&&k| k > f64::from(LINK_KBPS)).count();
    let out = format!(
        "**nginx killed and restarted {restarts} times** (down 2 s each; `marquee live` 4,000 kbit/s with adaptive bitrate across a veth shaped to {LINK_KBPS} kbit/s)\n\n\
         | returns measured | back on air after the return, ms p50 / p95 / max | video kbit/s in the first 5 s after, p50 / max | returns above the link |\n\
         | ---: | ---: | ---: | ---: |\n\
         | {} | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} | {over} of {} |\n",
        back_ms.len(),
        percentile(&back_ms, 0.5),
        percentile(&back_ms, 0.95),
        back_ms.last().copied().unwrap_or(f64::NAN),
        percentile(&first5, 0.5),
        first5.last().copied().unwrap_or(f64::NAN),
        first5.len(),
    );
    (
        out,
        json!({"restarts": restarts, "link_kbps": LINK_KBPS, "back_ms": back_ms, "first5_kbps": first5}),
    )
}

fn main() {
    let (mut loss, mut seconds, mut restarts) = (None, 300u64, None);
    let mut out =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("bench/network_faults.json");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || -> u64 {
            (args
                .next()
                .and_then(|v| v.trim_end_matches(['s', '%']).parse().ok()))
            .unwrap_or_else(|| usage("needs a number"))
        };
        match a.as_str() {
            "--loss" => loss = Some(num() as u32),
            "--seconds" => seconds = num(),
            "--restarts" => restarts = Some(num() as u32),
            "--out" => {
                out = args
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| usage("--out FILE"))
            }
            "--bench" => {}
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if loss.is_none() && restarts.is_none() {
        (loss, restarts) = (Some(5), Some(20));
    }
    let dir = tempdir("marquee-bench-faults-clip-");
    let clip = noise_clip(dir.path());
    let mut results = serde_json::Map::new();
    if let Some(pct) = loss {
        let (table, v) = loss_run(seconds, pct, &clip);
        println!("{table}");
        results.insert("loss".into(), v);
    }
    if let Some(n) = restarts {
        let (table, v) = restart_run(n, &clip);
        println!("{table}");
        results.insert("restarts".into(), v);
    }
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&results).unwrap_or_default(),
    )
    .unwrap_or_else(|e| eprintln!("cannot write {}: {e}", out.display()));
}
