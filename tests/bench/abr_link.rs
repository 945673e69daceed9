//! Benchmark: a 4,000 kbit/s show into a link shaped to 1,500 kbit/s, then widened to
//! 10 Mbit/s — with adaptive bitrate, and with a fixed rate (`--no-abr`: the writer's drop
//! policy alone) as the peer, one after the other on the same link.
//!
//! The link is real: `marquee live` runs in a network namespace and pushes across a veth pair
//! shaped by tbf (both ends) to nginx-rtmp listening on this end. The picture is moving noise
//! (an ffmpeg clip, looped) that needs every bit of 4,000 kbit/s. Per run: when the target first
//! went under the link, reconnects, the frames nginx recorded against the frames the encoder
//! made, and how long after the widening the target was back at 4,000.
//!
//! ```text
//! cargo build -p marquee-cli -p marquee-e2e
//! MARQUEE_BIN=target/debug/marquee target/debug/bench_abr_link [--narrow 30] [--wide 35]
//! ```
//! Writes a markdown table to stdout and JSON to `target/bench/abr_link.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use marquee_e2e::{
    NetLink, Nginx, Run, Summary, bench_usage, marquee_in, noise_clip, probe, tempdir,
};
use serde_json::json;

const TARGET_KBPS: u32 = 4000;
const NARROW_KBPS: u32 = 1500;
const WIDE_KBPS: u32 = 10_000;

fn usage(problem: &str) -> ! {
    bench_usage(
        "bench_abr_link",
        "[--narrow SECONDS] [--wide SECONDS] [--out FILE]",
        problem,
    )
}

/// `adaptive bitrate: new target kbps=N` log lines: (wall time, kbps).
fn targets(stderr: &str) -> Vec<(SystemTime, u32)> {
    let plain: String = {
        // Drop ANSI colour sequences.
        let mut out = String::new();
        let mut esc = false;
        for ch in stderr.chars() {
            match (esc, ch) {
                (false, '\x1b') => esc = true,
                (true, c) if c.is_ascii_alphabetic() => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    plain
        .lines()
        .filter(|l| l.contains("adaptive bitrate: new target"))
        .filter_map(|l| {
            let stamp = l.split_whitespace().next()?;
            let at = parse_rfc3339(stamp)?;
            let kbps = l
                .split("kbps=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((at, kbps))
        })
        .collect()
}

/// `2026-12-05T21:59:01.123456Z` → a SystemTime (UTC, no leap seconds).
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + min * 60;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64) + Duration::from_secs_f64(sec))
}

struct Outcome {
    mode: &'static str,
    below_link_after_s: Option<f64>,
    back_to_target_after_s: Option<f64>,
    reconnects: f64,
    frames_made: f64,
    frames_at_server: usize,
    narrow_kbps_at_server: f64,
}

fn run_once(
    link: &NetLink,
    nginx: &Nginx,
    noise: &Path,
    mode: &'static str,
    narrow: u64,
    wide: u64,
) -> Outcome {
    link.shape(NARROW_KBPS);
    let home = tempdir("marquee-bench-abr-");
    let summary = home.path().join("summary.json");
    let mut c = marquee_in(home.path());
    c.env("MARQUEE_LOG", "warn,marquee_studio::output::abr_run=info")
        .args(["live", "--audio", "tone", "--video"])
        .arg(format!("file:{}", noise.display()))
        .args(["--size", "640x360", "--fps", "30", "--preset", "ultrafast"])
        .args([
            "--bitrate",
            &TARGET_KBPS.to_string(),
            "--min-bitrate",
            "400",
        ])
        .args(["--duration", &format!("{}s", narrow + wide)])
        .args(["--replay-seconds", "0"])
        .args([
            "--to",
            &format!("rtmp://{}:{}/live/{mode}", link.host_ip, nginx.port()),
        ])
        .arg("--summary-json")
        .arg(&summary);
    if mode == "fixed" {
        c.arg("--no-abr");
    }
    let started = SystemTime::now();
    let t0 = Instant::now();
    let mut run = Run::spawn(link.inside(c));
    // The scenario's schedule: the link widens `narrow` seconds in.
    while t0.elapsed() < Duration::from_secs(narrow) {
        if run.try_wait().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    link.shape(WIDE_KBPS);
    let widened = SystemTime::now();
    let st = run.wait(Duration::from_secs(narrow + wide + 60));
    if !st.success() {
        eprintln!("bench_abr_link: {mode} failed:\n{}", run.report());
        std::process::exit(1);
    }
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    let s = Summary::read(&summary);
    let recs = nginx.recordings_of(mode);
    let p = probe(recs.first().expect("no recording at the server"));
    let v = p.video.as_ref().expect("video at the server");
    let t_first = v.packets.first().map_or(0.0, |p| p.pts);
    let narrow_bits: u64 = (v.packets.iter())
        .filter(|p| p.pts - t_first < narrow as f64)
        .map(|p| p.size * 8)
        .sum();
    let ts = targets(&run.stderr());
    let since = |from: SystemTime, at: SystemTime| {
        at.duration_since(from).unwrap_or_default().as_secs_f64()
    };
    Outcome {
        mode,
        below_link_after_s: (ts.iter())
            .find(|(_, k)| *k < NARROW_KBPS)
            .map(|(at, _)| since(started, *at)),
        back_to_target_after_s: (ts.iter())
            .find(|(at, k)| *at >= widened && *k >= TARGET_KBPS)
            .map(|(at, _)| since(widened, *at)),
        reconnects: s.destinations()[0]["reconnects"].as_f64().unwrap_or(0.0),
        frames_made: s.num("/video/frames").unwrap_or(0.0),
        frames_at_server: v.packets.len(),
        narrow_kbps_at_server: narrow_bits as f64 / 1000.0 / narrow as f64,
    }
}

fn main() {
    let mut narrow = 30u64;
    let mut wide = 35u64;
    let mut out =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("bench/abr_link.json");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || -> u64 {
            (args.next().and_then(|v| v.parse().ok())).unwrap_or_else(|| usage("needs a number"))
        };
        match a.as_str() {
            "--narrow" => narrow = num(),
            "--wide" => wide = num(),
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
    let dir = tempdir("marquee-bench-abr-clip-");
    let noise = noise_clip(dir.path());
    let link = NetLink::start();
    let nginx = Nginx::start_also_on(&link.host_ip);
    let runs: Vec<Outcome> = ["abr", "fixed"]
        .into_iter()
        .map(|mode| run_once(&link, &nginx, &noise, mode, narrow, wide))
        .collect();

    let opt = |v: Option<f64>| v.map_or("never".to_string(), |s| format!("{s:.1}"));
    let share = |o: &Outcome| o.frames_at_server as f64 / o.frames_made.max(1.0);
    println!(
        "{TARGET_KBPS} kbit/s show (640x360@30 moving noise), link {NARROW_KBPS} kbit/s for \
         {narrow} s then {WIDE_KBPS} kbit/s for {wide} s (tbf on a veth, nginx-rtmp across it)\n"
    );
    println!(
        "| mode | target under the link after s | back to {TARGET_KBPS} after widening, s | reconnects | frames at server / made | share | kbit/s at server while narrow |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for o in &runs {
        println!(
            "| {} | {} | {} | {} | {} / {} | {:.1} % | {:.0} |",
            o.mode,
            opt(o.below_link_after_s),
            opt(o.back_to_target_after_s),
            o.reconnects,
            o.frames_at_server,
            o.frames_made,
            100.0 * share(o),
            o.narrow_kbps_at_server
        );
    }
    let ratio = share(&runs[0]) / share(&runs[1]).max(1e-9);
    println!("\nframes delivered, adaptive ÷ fixed: **{ratio:.2}×**");
    let j = json!({
        "narrow_s": narrow, "wide_s": wide,
        "runs": runs.iter().map(|o| json!({
            "mode": o.mode,
            "below_link_after_s": o.below_link_after_s,
            "back_to_target_after_s": o.back_to_target_after_s,
            "reconnects": o.reconnects,
            "frames_made": o.frames_made,
            "frames_at_server": o.frames_at_server,
            "narrow_kbps_at_server": o.narrow_kbps_at_server,
        })).collect::<Vec<_>>(),
        "delivered_ratio_abr_over_fixed": ratio,
    });
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&out, serde_json::to_string_pretty(&j).expect("json")).expect("write json");
}
