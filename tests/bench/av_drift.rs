//! Benchmark: A/V drift over a long session, measured from content (see `av_offsets`):
//! `marquee live --video test --audio tone` records for N minutes; every second's offset
//! between the tone's silent mark and the frame stamped at that second is measured.
//!
//! ```text
//! cargo build --release -p marquee-cli
//! cargo run --release -p marquee-e2e --bin bench_av_drift -- --minutes 10
//! ```
//! Prints a markdown table and writes `target/bench/av_drift.json`.

use marquee_e2e::{Run, assert_exited_ok, av_offsets, marquee_in, marquee_path, tempdir};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut minutes = 10u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => {
                minutes = it.next().and_then(|m| m.parse().ok()).unwrap_or_else(|| {
                    eprintln!("--minutes needs a whole number");
                    std::process::exit(2)
                })
            }
            other => {
                eprintln!("usage: bench_av_drift [--minutes N] (unknown {other})");
                std::process::exit(2)
            }
        }
    }
    eprintln!(
        "bench_av_drift: marquee = {}, {minutes} min",
        marquee_path().display()
    );
    let home = tempdir("marquee-bench-");
    let out = home.path().join("drift.mkv");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", "320x180", "--fps", "30"])
        .args(["--duration", &format!("{}s", minutes * 60)])
        .arg("--record")
        .arg(&out);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(minutes * 60 + 120));
    assert_exited_ok(&run);
    let offsets = av_offsets(&out, 320, 180);
    assert!(!offsets.is_empty(), "no second could be matched");
    let vals: Vec<f64> = offsets.iter().map(|(_, o)| *o).collect();
    let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let first = vals[0];
    let last = vals[vals.len() - 1];
    println!("## A/V offset over {minutes} min (audio minus video, ms; measured from content)\n");
    println!("| seconds matched | first | last | drift (last − first) | min | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} of {} | {first:.1} | {last:.1} | {:.1} | {min:.1} | {max:.1} |",
        offsets.len(),
        minutes * 60 - 1,
        last - first
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("bench").join("av_drift.json");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let j = json!({"minutes": minutes, "matched": offsets.len(), "first_ms": first, "last_ms": last,
        "drift_ms": last - first, "min_ms": min, "max_ms": max, "offsets": offsets});
    std::fs::write(&path, serde_json::to_string_pretty(&j).expect("plain data"))
        .expect("write json");
    eprintln!("bench_av_drift: wrote {}", path.display());
}
