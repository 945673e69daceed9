//! Benchmark: `marquee live --video test --audio tone` against the ffmpeg CLI doing the same
//! encode (lavfi testsrc2 + sine → libx264 veryfast zerolatency CBR 2500k, 2 s GOP, AAC 128k
//! 48 kHz stereo) to the same local nginx-rtmp, one after the other, at 1280x720@30 and
//! 1920x1080@30. Reports CPU seconds (user + sys) and peak RSS per child (from wait4), the
//! ratios marquee / ffmpeg, and marquee's capture-to-socket latency from its summary.
//!
//! ```text
//! cargo build --release -p marquee-cli
//! cargo run --release -p marquee-e2e --bin bench_live -- --seconds 30 [--out FILE]
//! ```
//! Writes a markdown table to stdout and JSON to `target/bench/live.json` (or `--out`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use marquee_e2e::{Nginx, Run, Summary, Usage, bench_usage, marquee_path, probe, program, tempdir};
use serde_json::{Value, json};

const SIZES: [(u32, u32); 2] = [(1280, 720), (1920, 1080)];
const FPS: u32 = 30;
const KBPS: u32 = 2500;

struct Args {
    seconds: u32,
    out: PathBuf,
}

fn parse_args() -> Args {
    let mut seconds = 30;
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.trim_end_matches('s').parse().ok())
                    .unwrap_or_else(|| usage("--seconds needs a whole number"));
            }
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
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        target.join("bench").join("live.json")
    });
    Args { seconds, out }
}

fn usage(problem: &str) -> ! {
    bench_usage("bench_live", "[--seconds N] [--out FILE]", problem)
}

struct Measured {
    tool: &'static str,
    width: u32,
    height: u32,
    wall_s: f64,
    usage: Usage,
    server_frames: usize,
    latency_p50: Option<f64>,
    latency_p99: Option<f64>,
    dropped: Option<Value>,
}

impl Measured {
    fn cpu_pct(&self) -> f64 {
        100.0 * self.usage.cpu_s() / self.wall_s.max(1e-9)
    }
    fn rss_mib(&self) -> f64 {
        self.usage.max_rss_bytes as f64 / (1024.0 * 1024.0)
    }
    fn json(&self) -> Value {
        json!({
            "tool": self.tool,
            "size": format!("{}x{}", self.width, self.height),
            "fps": FPS,
            "wall_s": self.wall_s,
            "cpu_user_s": self.usage.user_s,
            "cpu_sys_s": self.usage.sys_s,
            "cpu_s": self.usage.cpu_s(),
            "cpu_pct_of_one_core": self.cpu_pct(),
            "peak_rss_bytes": self.usage.max_rss_bytes,
            "server_video_frames": self.server_frames,
            "latency_ms": {"p50": self.latency_p50, "p99": self.latency_p99},
            "dropped": self.dropped,
        })
    }
}

fn run_child(name: &str, cmd: Command, seconds: u32) -> (f64, Usage, String) {
    let mut run = Run::spawn(cmd);
    let status = run.wait(Duration::from_secs(seconds as u64 + 120));
    if !status.success() {
        eprintln!("bench_live: {name} failed:\n{}", run.report());
        std::process::exit(1);
    }
    let usage = run.usage().expect("reaped child has usage");
    (run.elapsed().as_secs_f64(), usage, run.stderr())
}

fn server_frames(nginx: &Nginx, stream: &str) -> usize {
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx
        .recordings_of(stream)
        .iter()
        .map(|r| probe(r).video.map(|v| v.packets.len()).unwrap_or(0))
        .sum()
}

fn ffmpeg(nginx: &Nginx, w: u32, h: u32, seconds: u32) -> Measured {
    let stream = format!("ffmpeg-{h}");
    let mut c = Command::new(program("ffmpeg"));
    c.args(["-nostdin", "-hide_banner", "-v", "error", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={w}x{h}:rate={FPS}"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
        ])
        .args(["-pix_fmt", "yuv420p"])
        .args(["-b:v", &format!("{KBPS}k"), "-maxrate", &format!("{KBPS}k")])
        .args(["-bufsize", &format!("{}k", 2 * KBPS)])
        .args([
            "-g",
            &(2 * FPS).to_string(),
            "-keyint_min",
            &(2 * FPS).to_string(),
        ])
        .args(["-sc_threshold", "0", "-bf", "0"])
        // The same CBR signalling marquee asks x264 for.
        .args(["-x264-params", "filler=1:force-cfr=1"])
        .args(["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"])
        .args(["-f", "flv"])
        .arg(nginx.url(&stream));
    let (wall_s, usage, _) = run_child("ffmpeg", c, seconds);
    Measured {
        tool: "ffmpeg",
        width: w,
        height: h,
        wall_s,
        usage,
        server_frames: server_frames(nginx, &stream),
        latency_p50: None,
        latency_p99: None,
        dropped: None,
    }
}

fn marquee(nginx: &Nginx, w: u32, h: u32, seconds: u32) -> Measured {
    let stream = format!("marquee-{h}");
    let home = tempdir("marquee-bench-");
    let summary = home.path().join("summary.json");
    let mut c = marquee_e2e::marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone:440"])
        .args(["--size", &format!("{w}x{h}"), "--fps", &FPS.to_string()])
        .args([
            "--bitrate",
            &KBPS.to_string(),
            "--encoder",
            "x264",
            "--preset",
            "veryfast",
        ])
        .args(["--to", &nginx.url(&stream)])
        .args(["--duration", &format!("{seconds}s")])
        .arg("--summary-json")
        .arg(&summary);
    let (wall_s, usage, _) = run_child("marquee", c, seconds);
    let s = Summary::read(&summary);
    Measured {
        tool: "marquee",
        width: w,
        height: h,
        wall_s,
        usage,
        server_frames: server_frames(nginx, &stream),
        latency_p50: s.num("/latency_ms/p50"),
        latency_p99: s.num("/latency_ms/p99"),
        dropped: s.json.pointer("/video/dropped").cloned(),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "–".into())
}

fn main() {
    let args = parse_args();
    let bin = marquee_path();
    eprintln!("bench_live: marquee = {}", bin.display());
    if bin.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "bench_live: WARNING: that is a debug build; build with --release for real numbers"
        );
    }
    let nginx = Nginx::start();
    let mut rows = Vec::new();
    for (w, h) in SIZES {
        eprintln!("bench_live: {w}x{h}@{FPS}: ffmpeg for {} s …", args.seconds);
        let f = ffmpeg(&nginx, w, h, args.seconds);
        eprintln!(
            "bench_live: {w}x{h}@{FPS}: marquee for {} s …",
            args.seconds
        );
        let m = marquee(&nginx, w, h, args.seconds);
        rows.push((f, m));
    }

    println!(
        "## marquee live vs ffmpeg CLI ({} s each, libx264 veryfast CBR {KBPS}k, AAC 128k, to local nginx-rtmp; {} cores)\n",
        args.seconds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "| size | tool | wall s | CPU s | CPU % (1 core) | peak RSS MiB | frames at server | latency p50 / p99 ms |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (f, m) in &rows {
        for r in [f, m] {
            println!(
                "| {}x{} | {} | {:.1} | {:.2} | {:.0} | {:.1} | {} | {} / {} |",
                r.width,
                r.height,
                r.tool,
                r.wall_s,
                r.usage.cpu_s(),
                r.cpu_pct(),
                r.rss_mib(),
                r.server_frames,
                opt(r.latency_p50),
                opt(r.latency_p99)
            );
        }
    }
    println!();
    println!(
        "| size | CPU marquee/ffmpeg (target ≤ 1.10) | RSS marquee/ffmpeg | marquee RSS MiB (target ≤ 150 MB) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    let mut ratios = Vec::new();
    for (f, m) in &rows {
        let cpu = m.usage.cpu_s() / f.usage.cpu_s().max(1e-9);
        let rss = m.usage.max_rss_bytes as f64 / (f.usage.max_rss_bytes.max(1)) as f64;
        println!(
            "| {}x{} | {cpu:.2}× | {rss:.2}× | {:.1} |",
            m.width,
            m.height,
            m.rss_mib()
        );
        ratios.push(json!({
            "size": format!("{}x{}", m.width, m.height),
            "cpu_ratio": cpu,
            "rss_ratio": rss,
            "marquee_peak_rss_bytes": m.usage.max_rss_bytes,
            "cpu_target_met": cpu <= 1.10,
            "rss_target_met": m.usage.max_rss_bytes <= 150_000_000,
        }));
    }

    let doc = json!({
        "benchmark": "live_vs_ffmpeg",
        "seconds": args.seconds,
        "fps": FPS,
        "bitrate_kbps": KBPS,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "marquee_bin": bin.display().to_string(),
        "unix_ms": marquee_e2e::unix_ms(),
        "runs": rows.iter().flat_map(|(f, m)| [f.json(), m.json()]).collect::<Vec<_>>(),
        "ratios": ratios,
    });
    if let Some(dir) = args.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&doc).expect("json"))
        .unwrap_or_else(|e| panic!("write {}: {e}", args.out.display()));
    eprintln!("bench_live: wrote {}", args.out.display());
}
