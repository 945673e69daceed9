//! Benchmark: a co-stream guest's glass-to-glass latency into the program. The native guest
//! (`marquee guest join --video test:2`, 640×360@30 VP8) runs in a network namespace joined to
//! the host's by a veth pair (optionally losing `--loss` % of its UDP each way, nftables), or,
//! with `--delay`/`--jitter`, by a path emulated in user space between two TUN devices (each way
//! `--delay` ms ± `--jitter` ms, `--loss` % lost: `marquee_e2e::linkem`);
//! the host is `marquee live --guests 1` at 1280×720@30 recording its program. Each program
//! frame of the side-by-side layout carries two frame codes: the host's test card (left half,
//! its session time when made, i.e. when the program was composed, within a frame) and the
//! guest's (right half, the guest's session time when its camera made it). Both processes log
//! their session clock's zero on the machine's wall clock (`MARQUEE_LOG=marquee_capture::clock=debug`),
//! so for the first program frame showing each guest picture:
//!
//! latency = (host zero + host code ms) − (guest zero + guest code ms − 40 ms)
//!
//! The program composes tick T from the pictures stamped ≤ T, so the host card's stamp is the
//! tick; the test card makes each picture 40 ms before its stamp (`TestPatternCamera`'s lead)
//! and the guest sends it at once, so the guest's picture exists 40 ms before its code's time.
//! That is guest camera → encode → network → decode → the next program tick; the program's own
//! encode and the RTMP hop are the same for every source and not in it.
//!
//! ```text
//! cargo build --release -p marquee-cli -p marquee-e2e
//! MARQUEE_BIN=target/release/marquee target/release/bench_costream_latency --seconds 20 [--loss 2]
//! MARQUEE_BIN=target/release/marquee target/release/bench_costream_latency --seconds 300 --delay 50 --jitter 20 --loss 2
//! ```
//! Also counts the freezes: runs of program frames showing the same guest picture while the
//! guest is on air (the longest, and how many passed 500 ms), and measures the guest's lip
//! sync in the program: the host brings no sound of its own, and the guest's tone (silent
//! for 20 ms at each whole second of its session time) is matched against the guest picture
//! stamped at that second (`marquee_e2e::mark_offsets`); each mark on the wall clock against the
//! guest's second it marks is the voice's latency (`marquee_e2e::tone_marks`). The host's
//! mixer (how far behind real time it ran, its underruns) comes from its summary.
//! Writes a markdown table to stdout and JSON to `target/bench/costream_latency.json`.

use std::path::PathBuf;
use std::time::Duration;

use marquee_e2e::linkem::Shape;
use marquee_e2e::{
    NetLink, Run, bench_usage, exec, frame_codes_in, mark_offsets, marquee_in, percentile, probe,
    tempdir, tone_marks,
};
use serde_json::json;

const W: u32 = 1280;
const H: u32 = 720;
/// How far ahead of its stamp the test card makes a picture (`TestPatternCamera::LEAD`).
const CARD_LEAD_MS: f64 = 40.0;

fn usage(problem: &str) -> ! {
    bench_usage(
        "bench_costream_latency",
        "[--seconds N] [--loss PCT] [--delay MS] [--jitter MS] [--out FILE]",
        problem,
    )
}

/// The wall-clock zero a process logged for its session clock, unix ms.
fn clock_zero(stderr: &str) -> Option<f64> {
    stderr.lines().find_map(|l| {
        let rest = l.split("session clock zero at unix ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A whole number of milliseconds from the argument after `flag`.
fn ms_arg(it: &mut impl Iterator<Item = String>, flag: &str) -> u64 {
    it.next()
        .and_then(|s| s.trim_end_matches("ms").parse().ok())
        .unwrap_or_else(|| usage(&format!("{flag} needs a whole number of ms")))
}

fn main() {
    let mut seconds = 20u64;
    let mut loss = 0u32;
    let (mut delay, mut jitter) = (None, 0u64);
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.trim_end_matches('s').parse().ok())
                    .unwrap_or_else(|| usage("--seconds needs a whole number"))
            }
            "--loss" => {
                loss = it
                    .next()
                    .and_then(|s| s.trim_end_matches('%').parse().ok())
                    .filter(|l| *l < 100)
                    .unwrap_or_else(|| usage("--loss needs a per cent below 100"))
            }
            "--delay" => delay = Some(ms_arg(&mut it, "--delay")),
            "--jitter" => jitter = ms_arg(&mut it, "--jitter"),
            "--out" => {
                out = Some(PathBuf::from(
                    it.next().unwrap_or_else(|| usage("--out needs a path")),
                ))
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let out = out.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("bench")
            .join("costream_latency.json")
    });

    let emulated = delay.is_some() || jitter > 0;
    let link = if emulated {
        let ms = Duration::from_millis;
        let path = Shape::new(ms(delay.unwrap_or(0)), ms(jitter), f64::from(loss));
        NetLink::start_emulated(path, path)
    } else {
        let link = NetLink::start();
        if loss > 0 {
            link.lose_udp(loss);
        }
        link
    };
    let home = tempdir("marquee-bench-costream-");
    let show = home.path().join("show.mkv");
    // More of the processes' logs (e.g. `marquee_costream=debug,warn`) with MQ_BENCH_LOG; both
    // are written beside the JSON.
    let log = std::env::var("MQ_BENCH_LOG").map_or_else(
        |_| "marquee_capture::clock=debug,warn".to_string(),
        |l| format!("marquee_capture::clock=debug,{l}"),
    );
    let log = log.as_str();
    let mut c = marquee_in(home.path());
    c.env("MARQUEE_LOG", log)
        .env("MARQUEE_CONTROL", home.path().join("live.sock"))
        // No sound of the host's own: the program's audio is the guest's tone alone, whose
        // marks measure the guest's lip sync.
        .args(["live", "--video", "test", "--audio", "none"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .arg("--record")
        .arg(&show)
        .arg("--summary-json")
        .arg(home.path().join("summary.json"))
        .args(["--guests", "1", "--guest-address", &link.host_ip])
        .args(["--duration", &format!("{}s", seconds + 12)]);
    let mut host = Run::spawn(c);
    let spawned = std::time::Instant::now();
    if !host.wait_for_stdout("guest 1: ", Duration::from_secs(60)) {
        panic!("no invite printed\n{}", host.report());
    }
    let invite = host
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("guest 1: ").map(str::to_string))
        .expect("an invite");
    let mut g = marquee_in(home.path());
    g.env("MARQUEE_LOG", log)
        .args(["guest", "join", &invite, "--video", "test:2"])
        .args(["--mode", "640x360@30", "--audio", "tone:1000"])
        .args(["--duration", &format!("{seconds}s")]);
    let mut guest = Run::spawn(link.inside(g));
    // The host's own estimate of the guest's latency (its quality line), sampled once a second
    // while the guest is on: it leaves out the guest's camera and encoder and the wait for the
    // program's next frame, which the measurement below holds.
    let mut estimates = Vec::new();
    // The host's quality line each second, by seconds since the host started (≈ program time).
    let mut lines: Vec<(f64, String)> = Vec::new();
    while guest.try_wait().is_none() {
        let mut l = marquee_in(home.path());
        l.args(["guest", "list", "--socket"])
            .arg(home.path().join("live.sock"));
        let d = exec(l, Duration::from_secs(10));
        let line = d
            .stdout_str()
            .lines()
            .find(|l| l.contains("on_air"))
            .map(str::to_string);
        if let Some(l) = &line {
            lines.push((spawned.elapsed().as_secs_f64(), l.clone()));
        }
        if let Some(ms) = line
            .as_deref()
            .and_then(|l| l.split("latency ≈").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
        {
            estimates.push(ms);
        }
        std::thread::sleep(Duration::from_secs(1)); // the quality stats' period
    }
    estimates.sort_by(f64::total_cmp);
    guest.wait(Duration::from_secs(seconds + 60));
    host.wait(Duration::from_secs(seconds + 90));
    let (Some(host_zero), Some(guest_zero)) =
        (clock_zero(&host.stderr()), clock_zero(&guest.stderr()))
    else {
        panic!(
            "a session clock's zero was not logged\n{}\n{}",
            host.report(),
            guest.report()
        );
    };

    for (run, name) in [(&host, "host"), (&guest, "guest")] {
        let path = out.with_extension(format!("{name}.log"));
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&path, run.stderr());
    }
    let rows = frame_codes_in(&show, W, H, &[(0, 180, 640, 360), (640, 180, 640, 360)]);
    let mut seen = std::collections::HashSet::new();
    let mut lat = Vec::new();
    let mut unreadable_host = 0;
    for r in &rows {
        let Some(g) = r[1].filter(|g| g.index >= 2_000_000) else {
            continue;
        };
        if !seen.insert(g.index) {
            continue;
        }
        let Some(h) = r[0] else {
            unreadable_host += 1;
            continue;
        };
        lat.push(
            (host_zero + h.session_ms as f64) - (guest_zero + g.session_ms as f64 - CARD_LEAD_MS),
        );
    }
    lat.sort_by(f64::total_cmp);
    // Freezes: program frames (30 a second) in a row showing the same guest picture, from the
    // first to the last frame that shows the guest.
    let guest_codes: Vec<Option<u64>> = rows
        .iter()
        .map(|r| r[1].filter(|g| g.index >= 2_000_000).map(|g| g.index))
        .collect();
    let first = guest_codes.iter().position(Option::is_some).unwrap_or(0);
    let last = guest_codes.iter().rposition(Option::is_some).unwrap_or(0);
    // (program frame where the run starts, frames in it)
    let mut runs = Vec::new();
    let mut run = (first, 0u32);
    for (i, w) in guest_codes[first..=last].windows(2).enumerate() {
        if w[0] == w[1] || w[1].is_none() {
            run.1 += 1;
        } else {
            runs.push(run);
            run = (first + i + 1, 0);
        }
    }
    runs.push(run);
    let frame_ms = 1000.0 / 30.0;
    let run_ms = |r: u32| f64::from(r + 1) * frame_ms;
    let longest_freeze_ms = runs.iter().map(|r| run_ms(r.1)).fold(0.0, f64::max);
    let freezes: Vec<(f64, f64)> = (runs.iter())
        .filter(|r| run_ms(r.1) > 500.0)
        .map(|r| (r.0 as f64 / 30.0, run_ms(r.1)))
        .collect();
    let unreadable_in = |at: f64, ms: f64| {
        let from = (at * 30.0).round() as usize;
        let to = (from + (ms / frame_ms).round() as usize).min(guest_codes.len());
        guest_codes[from..to].iter().filter(|c| c.is_none()).count()
    };
    let freezes_over_500 = freezes.len();
    for (at, ms) in &freezes {
        eprintln!(
            "freeze of {ms:.0} ms at {at:.1} s of the program ({} of its frames without a readable guest code); the host's lines around it:",
            unreadable_in(*at, *ms)
        );
        for (t, l) in lines
            .iter()
            .filter(|(t, _)| (t - at).abs() <= 4.0 + ms / 1000.0)
        {
            eprintln!("  {t:6.1} s  {l}");
        }
    }
    // Lip sync: the guest's tone is silent for 20 ms at each whole second of its session
    // time, the picture stamped at that second shows it; in the program the two should meet.
    let guest_pictures: Vec<_> = rows
        .iter()
        .map(|r| r[1].filter(|g| g.index >= 2_000_000))
        .collect();
    let by_second = mark_offsets(&show, &guest_pictures);
    let mut sync: Vec<f64> = by_second.iter().map(|(_, ms)| *ms).collect();
    sync.sort_by(f64::total_cmp);
    let mut sync_abs: Vec<f64> = sync.iter().map(|ms| ms.abs()).collect();
    sync_abs.sort_by(f64::total_cmp);
    // The voice's latency: each mark in the program (its time on the host's session clock:
    // the recording's timeline plus the offset the host's frame codes show) against the
    // guest's whole second it marks, both on the wall clock. A mark belongs to the guest's
    // second before it (a voice is not early, and not a second late).
    let voice = {
        let p = probe(&show);
        let a0 = p.audio.as_ref().and_then(|a| a.start_time).unwrap_or(0.0);
        let v = p.video.as_ref().expect("the recording has video");
        let mut shift: Vec<f64> = (rows.iter().zip(&v.packets))
            .filter_map(|(r, pkt)| r[0].map(|h| h.session_ms as f64 / 1000.0 - pkt.pts))
            .collect();
        shift.sort_by(f64::total_cmp);
        let shift = percentile(&shift, 0.5);
        let mut ms: Vec<f64> = tone_marks(&show, a0)
            .into_iter()
            .map(|m| (host_zero + (m + shift) * 1000.0 - guest_zero).rem_euclid(1000.0))
            .collect();
        eprintln!("the voice's latency, mark by mark (ms): {ms:.0?}");
        ms.sort_by(f64::total_cmp);
        ms
    };
    eprintln!("lip sync by the guest's second (ms): {by_second:.0?}");
    let (p50, p95, max) = (
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "**Co-stream glass-to-glass** (native guest 640×360@30 VP8 in a network namespace{}, host 1280×720@30; guest camera → program frame)\n",
        match (emulated, loss) {
            (true, _) => format!(
                " over a path emulated in user space ({} ms ± {jitter} ms each way, {loss} % lost each way)",
                delay.unwrap_or(0)
            ),
            (false, 0) => " over a veth".to_string(),
            (false, _) => format!(" over a veth, {loss} % UDP loss each way"),
        }
    );
    println!(
        "| seconds | guest pictures in the program | measured | p50 ms | p95 ms | max ms | longest freeze ms | freezes > 500 ms |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {seconds} | {} | {} | {p50:.1} | {p95:.1} | {max:.1} | {longest_freeze_ms:.0} | {freezes_over_500} |",
        seen.len(),
        lat.len()
    );
    if let Some((up, down)) = link.emulated_counts() {
        println!(
            "\nThe path: towards the host {} passed, {} lost; towards the guest {} passed, {} lost",
            up.passed, up.lost, down.passed, down.lost
        );
    }
    println!(
        "\nThe host's own estimate (`marquee guest list`, once a second, {} samples): p50 {:.1} ms, p95 {:.1} ms (network, jitter, the frame's last packet and decoding: no camera, encoder or program tick)",
        estimates.len(),
        percentile(&estimates, 0.5),
        percentile(&estimates, 0.95)
    );
    println!(
        "\nLip sync (the guest's tone marks against its pictures in the program, {} of {seconds} seconds matched): median {:+.1} ms (positive: the voice late), 95 % within {:.1} ms",
        sync.len(),
        percentile(&sync, 0.5),
        percentile(&sync_abs, 0.95)
    );
    println!(
        "\nThe guest's voice into the program (its tone's marks, {} of them): p50 {:.1} ms, p95 {:.1} ms (its capture → Opus → network → the host's placement, lip sync included → the program mix)",
        voice.len(),
        percentile(&voice, 0.5),
        percentile(&voice, 0.95)
    );
    // Its totals (pictures decoded and dropped, keyframes asked for) as the call ended.
    if let Some((_, l)) = lines.last() {
        println!("\nThe host's last quality line: `{}`", l.trim());
    }
    // How far behind real time the mixer had to run for the voice to arrive in time, and the
    // silence it played where it did not.
    let summary: serde_json::Value = std::fs::read(home.path().join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let audio = &summary["audio"];
    println!(
        "\nThe host's mixer: {} ms behind real time at the end, {} samples of underrun, {} of silence padded and {} dropped to follow the inputs' stamps",
        audio["buffer_ms"],
        audio["underrun_samples"],
        audio["padded_samples"],
        audio["dropped_samples"]
    );
    if unreadable_host > 0 {
        eprintln!("{unreadable_host} program frames with the guest's code but not the host's");
    }
    let v = json!({
        "seconds": seconds, "loss_pct": loss, "delay_ms": delay, "jitter_ms": jitter,
        "pictures": seen.len(), "measured": lat.len(),
        "p50_ms": p50, "p95_ms": p95, "max_ms": max,
        "longest_freeze_ms": longest_freeze_ms, "freezes_over_500_ms": freezes_over_500,
        "freezes_at_s_ms": freezes,
        "voice_p50_ms": percentile(&voice, 0.5),
        "voice_p95_ms": percentile(&voice, 0.95),
        "lip_sync_seconds": sync.len(),
        "lip_sync_median_ms": percentile(&sync, 0.5),
        "lip_sync_p95_abs_ms": percentile(&sync_abs, 0.95),
        "host_estimate_p50_ms": percentile(&estimates, 0.5),
        "host_estimate_p95_ms": percentile(&estimates, 0.95),
    });
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_else(|e| eprintln!("cannot write {}: {e}", out.display()));
}
