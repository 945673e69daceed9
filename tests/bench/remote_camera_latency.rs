//! Benchmark: a network camera's glass-to-glass latency into the program, over SRT on
//! loopback. The "phone" is this process making 640×360@30 test pictures in real time, each
//! carrying a frame code with the moment it was made, piped into the ffmpeg CLI (libx264
//! ultrafast, zerolatency — a phone's hardware encoder sends each picture at once) pushing
//! MPEG-TS over SRT in caller mode. The host is `marquee live` at 1280×720@30 with the test
//! card and the network camera side by side, recording its program. The test card's code is
//! the program tick that composed it, and the host logs its session clock's zero on the wall
//! clock (`MARQUEE_LOG=marquee_capture::clock=debug`), so for the first program frame
//! showing each phone picture:
//!
//! latency = (host zero + host code ms) − (phone zero + phone code ms)
//!
//! That is phone camera → encode → SRT (its latency window) → decode → the next program tick;
//! the program's own encode is the same for every source and not in it. The issue's target:
//! p95 ≤ the SRT latency + 2 frame intervals. The peer in the same run is the ffmpeg CLI as
//! the receiver (its low-delay flags, decoding to raw pictures read by this process as they
//! come: no program tick to wait for). Beside them, the host's own estimate (what its status
//! line shows), to see how well it tracks the measured value.
//!
//! ```text
//! cargo build -p marquee-cli -p marquee-e2e      # the dev profile here is optimised
//! MARQUEE_BIN=target/debug/marquee target/debug/bench_remote_camera_latency \
//!     [--seconds 20] [--latency 120] [--pes-length]
//! ```
//! `--pes-length`: the phone writes each video PES packet's length (as Marquee's own SRT
//! output does; FFmpeg leaves it out by default, and the receiver then learns a picture is
//! complete only when the next one starts).
//! Writes a markdown table to stdout and JSON to `target/bench/remote_camera_latency.json`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use marquee_capture::pattern::{read_code, render_i420};
use marquee_e2e::{
    Run, bench_usage, frame_codes_in, free_udp_port, marquee_in, percentile, program, tempdir,
    udp_port_bound, wait_until,
};
use serde_json::json;

const W: u32 = 1280;
const H: u32 = 720;
const PHONE_W: u32 = 640;
const PHONE_H: u32 = 360;
const FPS: u32 = 30;
/// Phone picture indexes start here, so they are never taken for the host's card.
const PHONE_INDEX: u64 = 3_000_000;

fn usage(problem: &str) -> ! {
    bench_usage(
        "bench_remote_camera_latency",
        "[--seconds N] [--latency MS] [--pes-length] [--out FILE]",
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

/// The host's own latency estimates for the remote camera, from its status lines (` lat N ms`).
fn shown_latencies(stderr: &str) -> Vec<f64> {
    stderr
        .lines()
        .filter(|l| l.contains(" | cam "))
        .filter_map(|l| {
            let rest = l.split(" lat ").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The phone: pictures made in real time from `zero` (each stamped with its ms since), encoded
/// and sent at once, for `seconds`.
fn phone(port: u16, latency_ms: u64, seconds: u64, pes_length: bool, zero: Instant) {
    let mut phone = Command::new(program("ffmpeg"))
        .args(["-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p"])
        .args(["-s", &format!("{PHONE_W}x{PHONE_H}")])
        .args(["-framerate", &FPS.to_string(), "-i", "-"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", &FPS.to_string(), "-f", "mpegts"])
        .args(["-omit_video_pes_length", if pes_length { "0" } else { "1" }])
        .arg(format!(
            "srt://127.0.0.1:{port}?latency={}&pkt_size=1316",
            latency_ms * 1000
        ))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("ffmpeg (apt install ffmpeg) cannot start: {e}"));
    let mut pipe = phone.stdin.take().expect("piped");
    let interval = Duration::from_secs(1) / FPS;
    let mut buf = Vec::new();
    for i in 0..seconds * u64::from(FPS) {
        let due = zero + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let made_ms = zero.elapsed().as_millis() as u64;
        render_i420(&mut buf, PHONE_W, PHONE_H, PHONE_INDEX + i, made_ms);
        if pipe.write_all(&buf).is_err() {
            break;
        }
    }
    drop(pipe);
    let _ = phone.wait();
}

/// The peer: the ffmpeg CLI as the receiver with its low-delay flags, decoding to raw
/// pictures on a pipe that this process reads as they come. Latency = when a picture is read
/// − when the phone made it (no program tick to wait for).
fn ffmpeg_receiver(latency_ms: u64, seconds: u64, pes_length: bool) -> Vec<f64> {
    let port = free_udp_port();
    let mut rx = Command::new(program("ffmpeg"))
        .args(["-v", "error", "-fflags", "nobuffer", "-flags", "low_delay"])
        .arg("-i")
        .arg(format!(
            "srt://127.0.0.1:{port}?mode=listener&latency={}",
            latency_ms * 1000
        ))
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("ffmpeg (apt install ffmpeg) cannot start: {e}"));
    let mut out = rx.stdout.take().expect("piped");
    assert!(
        wait_until(Duration::from_secs(10), || udp_port_bound(port)),
        "the ffmpeg receiver did not listen"
    );
    let zero = Instant::now();
    let sender = std::thread::spawn(move || phone(port, latency_ms, seconds, pes_length, zero));
    let mut luma = vec![0u8; (PHONE_W * PHONE_H) as usize];
    let mut seen = std::collections::HashSet::new();
    let mut lat = Vec::new();
    while out.read_exact(&mut luma).is_ok() {
        let at = zero.elapsed().as_secs_f64() * 1000.0;
        if let Some(c) = read_code(&luma, PHONE_W as usize, PHONE_W, PHONE_H)
            && c.index >= PHONE_INDEX
            && seen.insert(c.index)
        {
            lat.push(at - c.session_ms as f64);
        }
    }
    let _ = sender.join();
    let _ = rx.wait();
    lat.sort_by(f64::total_cmp);
    lat
}

fn main() {
    let mut seconds = 20u64;
    let mut latency_ms = 120u64;
    let mut out = None;
    let mut pes_length = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.trim_end_matches('s').parse().ok())
                    .unwrap_or_else(|| usage("--seconds needs a whole number"))
            }
            "--latency" => {
                latency_ms = it
                    .next()
                    .and_then(|s| s.trim_end_matches("ms").parse().ok())
                    .unwrap_or_else(|| usage("--latency needs milliseconds"))
            }
            "--out" => {
                out = Some(PathBuf::from(
                    it.next().unwrap_or_else(|| usage("--out needs a path")),
                ))
            }
            "--pes-length" => pes_length = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let out = out.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("bench")
            .join("remote_camera_latency.json")
    });

    let port = free_udp_port();
    let home = tempdir("marquee-bench-remote-");
    let show = home.path().join("show.mkv");
    let mut c = marquee_in(home.path());
    c.env("MARQUEE_LOG", "marquee_capture::clock=debug,warn")
        .args(["live", "--source", "card=test"])
        .arg("--source")
        .arg(format!(
            "phone=srt://127.0.0.1:{port}?mode=listener&latency={latency_ms}"
        ))
        .args(["--scene", "duo=side:card,phone", "--audio", "tone"])
        .args(["--size", &format!("{W}x{H}"), "--fps", &FPS.to_string()])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .arg("--record")
        .arg(&show)
        .args(["--duration", &format!("{}s", seconds + 8)]);
    let mut host = Run::spawn(c);
    if !host.wait_for_stderr("going live", Duration::from_secs(30)) {
        panic!("the host did not go live\n{}", host.report());
    }

    let zero = Instant::now();
    let phone_zero = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        * 1000.0;
    phone(port, latency_ms, seconds, pes_length, zero);
    host.wait(Duration::from_secs(seconds + 60));
    let Some(host_zero) = clock_zero(&host.stderr()) else {
        panic!(
            "the host's session clock zero was not logged\n{}",
            host.report()
        );
    };

    let half = (W / 2, W / 2 * PHONE_H / PHONE_W);
    let top = (H - half.1) / 2;
    let rows = frame_codes_in(
        &show,
        W,
        H,
        &[(0, top, half.0, half.1), (half.0, top, half.0, half.1)],
    );
    let mut seen = std::collections::HashSet::new();
    let mut lat = Vec::new();
    for r in &rows {
        let Some(p) = r[1].filter(|p| p.index >= PHONE_INDEX) else {
            continue;
        };
        if !seen.insert(p.index) {
            continue;
        }
        let Some(h) = r[0] else { continue };
        lat.push((host_zero + h.session_ms as f64) - (phone_zero + p.session_ms as f64));
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p95, max) = (
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat.last().copied().unwrap_or(f64::NAN),
    );
    let mut shown = shown_latencies(&host.stderr());
    shown.sort_by(f64::total_cmp);
    let shown_p50 = percentile(&shown, 0.5);
    let peer = ffmpeg_receiver(latency_ms, seconds, pes_length);
    let (f50, f95, fmax) = (
        percentile(&peer, 0.5),
        percentile(&peer, 0.95),
        peer.last().copied().unwrap_or(f64::NAN),
    );
    let target = latency_ms as f64 + 2000.0 / f64::from(FPS);
    println!(
        "**Network camera glass-to-glass** (phone 640×360@30 x264 zerolatency, video PES length {} → SRT latency {latency_ms} ms on loopback; phone camera → program frame / → picture out of the ffmpeg CLI)\n",
        if pes_length {
            "written"
        } else {
            "left out (FFmpeg's default)"
        }
    );
    println!(
        "| receiver | phone pictures measured | p50 ms | p95 ms | max ms | target p95 ms | host's estimate p50 ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| `marquee live` 1280×720@30, side by side | {} | {p50:.1} | {p95:.1} | {max:.1} | {target:.1} | {shown_p50:.0} |",
        lat.len()
    );
    println!(
        "| ffmpeg CLI `-fflags nobuffer -flags low_delay` → raw pictures | {} | {f50:.1} | {f95:.1} | {fmax:.1} | | |",
        peer.len()
    );
    println!("\nmarquee / ffmpeg p95: {:.2}×", p95 / f95);
    if lat.is_empty() {
        eprintln!(
            "no phone picture was read in the program\n{}",
            host.report()
        );
    }
    let v = json!({
        "seconds": seconds, "srt_latency_ms": latency_ms, "pes_length": pes_length,
        "pictures": seen.len(),
        "measured": lat.len(), "p50_ms": p50, "p95_ms": p95, "max_ms": max,
        "target_p95_ms": target, "estimate_p50_ms": shown_p50,
        "ffmpeg": {"measured": peer.len(), "p50_ms": f50, "p95_ms": f95, "max_ms": fmax},
    });
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_else(|e| eprintln!("cannot write {}: {e}", out.display()));
}
