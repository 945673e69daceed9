//! Benchmark: the co-stream host's CPU per guest, against the ffmpeg CLI doing the same
//! decode and composite. Four runs of `--seconds` each, one after the other:
//!
//! 1. `marquee live --guests 4` at 1280×720@30 (x264 ultrafast 2500k to a file) with no guest;
//! 2. the same with 4 native guests (`marquee guest join --video test:N --mode 480x270@15`, VP8
//!    and a tone each, in a network namespace over a veth) on air for the whole window;
//! 3. ffmpeg: `testsrc2` 1280×720@30 → libx264 ultrafast 2500k to a file;
//! 4. ffmpeg: the same plus 4 VP8 480×270@15 files (made beforehand, read at their rate) decoded,
//!    scaled and stacked with the host's picture into the 720p frame.
//!
//! Per guest: (2 − 1) / 4 and (4 − 3) / 4, CPU seconds from `wait4` over the same window.
//! marquee's per-guest cost also holds what ffmpeg's does not: SRTP and the jitter buffers, the
//! Opus decode and the guest's mix-minus encode, its share of the return feed (the program
//! scaled to 640×360 and VP8-encoded once for all). The guests' own processes are not counted.
//! Where it goes: each of the host's threads is read from `/proc/PID/task` when every guest is
//! on air and again before the end, and the CPU is summed by thread name (guest-video: a guest's
//! VP8 decode; guest-audio: its Opus decode and placement; guest-return-audio: the mix-minus
//! Opus encodes; guest-video-enc: the return feed's VP8; costream-udp: ICE, DTLS, SRTP and the
//! jitter buffers; compositor: the program, guests scaled into it; video-encoder: x264).
//!
//! ```text
//! cargo build -p marquee-cli -p marquee-e2e
//! MARQUEE_BIN=target/debug/marquee target/debug/bench_costream_cpu --seconds 30
//! ```
//! Writes a markdown table to stdout and JSON to `target/bench/costream_cpu.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use marquee_e2e::{NetLink, Run, Summary, Usage, bench_usage, marquee_in, program, tempdir};
use serde_json::json;

const GUESTS: u32 = 4;

fn usage(problem: &str) -> ! {
    bench_usage("bench_costream_cpu", "[--seconds N] [--out FILE]", problem)
}

fn finish(name: &str, mut run: Run, timeout: Duration) -> (Usage, String) {
    let st = run.wait(timeout);
    if !st.success() {
        eprintln!("bench_costream_cpu: {name} failed:\n{}", run.report());
        std::process::exit(1);
    }
    (run.usage().expect("reaped child has usage"), run.stderr())
}

/// CPU seconds so far of each thread name of process `pid` (threads of one name summed).
fn threads(pid: i32) -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // `tid (comm) state …`: the name may hold spaces and parentheses; the fields after the
        // last ')' are fixed, utime and stime the 12th and 13th of them.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        *by_name.entry(name).or_insert(0.0) += (ticks(11) + ticks(12)) / clock_ticks();
    }
    by_name
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// What each thread name used between two readings, in % of one core over `window`.
fn spent(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    window: Duration,
) -> BTreeMap<String, f64> {
    (after.iter())
        .map(|(name, s)| {
            let was = before.get(name).copied().unwrap_or(0.0);
            (name.clone(), 100.0 * (s - was) / window.as_secs_f64())
        })
        .collect()
}

/// `marquee live --guests 4` for `seconds` (+ the start), with `join` guests on air from the
/// first invite to the end. Returns the host's usage, its summary and its CPU by thread name
/// while every guest was on air (% of one core).
fn marquee_run(
    link: &NetLink,
    home: &Path,
    seconds: u64,
    join: bool,
) -> (Usage, Summary, BTreeMap<String, f64>) {
    let summary = home.join("summary.json");
    let mut c = marquee_in(home);
    c.env("MARQUEE_CONTROL", home.join("live.sock"))
        .args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", "1280x720", "--fps", "30", "--bitrate", "2500"])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .arg("--record")
        .arg(home.join("show.mkv"))
        .arg("--summary-json")
        .arg(&summary)
        .args([
            "--guests",
            &GUESTS.to_string(),
            "--guest-address",
            &link.host_ip,
        ])
        .args(["--duration", &format!("{}s", seconds + 4)]);
    let host = Run::spawn(c);
    if !host.wait_output(Duration::from_secs(60), |out, _| {
        out.contains(&format!("guest {GUESTS}: "))
    }) {
        eprintln!("no invites printed\n{}", host.report());
        std::process::exit(1);
    }
    let mut guests = Vec::new();
    if join {
        for n in 1..=GUESTS {
            let prefix = format!("guest {n}: ");
            let invite = host
                .stdout()
                .lines()
                .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
                .expect("an invite per slot");
            let mut g = marquee_in(home);
            g.args([
                "guest",
                "join",
                &invite,
                "--video",
                &format!("test:{}", n + 1),
            ])
            .args([
                "--mode",
                "480x270@15",
                "--audio",
                &format!("tone:{}", 500 + 200 * n),
            ])
            .args(["--duration", &format!("{}s", seconds + 8)]);
            guests.push(Run::spawn(link.inside(g)));
        }
    }
    for g in &guests {
        if !g.wait_for_stderr("on air as guest", Duration::from_secs(60)) {
            eprintln!("a guest did not come on air\n{}", g.report());
            std::process::exit(1);
        }
    }
    // The window: from every guest on air until shortly before the host's --duration ends
    // (a reading, not a wait for an event: the host ends by itself after it).
    let window = Duration::from_secs(seconds.saturating_sub(6).max(5));
    let before = threads(host.pid());
    std::thread::sleep(window);
    let by_thread = spent(&before, &threads(host.pid()), window);
    let (usage, _) = finish("marquee live", host, Duration::from_secs(seconds + 90));
    for mut g in guests {
        g.wait(Duration::from_secs(30));
    }
    (usage, Summary::read(&summary), by_thread)
}

fn ffmpeg_run(dir: &Path, seconds: u64, inputs: &[PathBuf]) -> Usage {
    let mut c = Command::new(program("ffmpeg"));
    c.args(["-nostdin", "-hide_banner", "-v", "error", "-y"]);
    for i in inputs {
        c.args(["-re", "-stream_loop", "-1", "-i"]).arg(i);
    }
    c.args(["-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"]);
    let host = inputs.len();
    let filter = if inputs.is_empty() {
        "[0:v]format=yuv420p[out]".to_string()
    } else {
        // Host and guests in a 3×2 grid of 426×240 tiles on the 720p frame.
        let mut f = format!("[{host}:v]scale=426:240[t0];");
        let mut layout = vec!["0_0".to_string()];
        for (k, _) in inputs.iter().enumerate() {
            f.push_str(&format!("[{k}:v]fps=30,scale=426:240[t{}];", k + 1));
            let slot = k + 1;
            layout.push(format!("{}_{}", (slot % 3) * 426, (slot / 3) * 240));
        }
        for k in 0..=inputs.len() {
            f.push_str(&format!("[t{k}]"));
        }
        f.push_str(&format!(
            "xstack=inputs={}:layout={}:fill=black,pad=1280:720,format=yuv420p[out]",
            inputs.len() + 1,
            layout.join("|")
        ));
        f
    };
    c.args(["-filter_complex", &filter, "-map", "[out]"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k", "-g", "60",
        ])
        .arg(dir.join(format!("ffmpeg-{}.mkv", inputs.len())));
    finish("ffmpeg", Run::spawn(c), Duration::from_secs(seconds + 90)).0
}

fn main() {
    let mut seconds = 30u64;
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
            .join("costream_cpu.json")
    });
    let link = NetLink::start();
    let dir = tempdir("marquee-bench-costream-cpu-");

    // The guests' pictures for ffmpeg, made before anything is measured.
    let files: Vec<PathBuf> = (1..=GUESTS)
        .map(|n| {
            let f = dir.path().join(format!("guest{n}.webm"));
            let mut c = Command::new(program("ffmpeg"));
            c.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg(format!(
                    "testsrc2=size=480x270:rate=15:duration={}",
                    seconds + 5
                ))
                .args(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"])
                .args(["-b:v", "400k"])
                .arg(&f);
            finish(
                "ffmpeg (guest file)",
                Run::spawn(c),
                Duration::from_secs(300),
            );
            f
        })
        .collect();

    let alone_home = dir.path().join("alone");
    let with_home = dir.path().join("with");
    let (alone, _, alone_threads) = marquee_run(&link, &alone_home, seconds, false);
    let (with, summary, with_threads) = marquee_run(&link, &with_home, seconds, true);
    let peer_alone = ffmpeg_run(dir.path(), seconds, &[]);
    let peer_with = ffmpeg_run(dir.path(), seconds, &files);

    let per = |a: &Usage, b: &Usage| (b.cpu_s() - a.cpu_s()) / GUESTS as f64;
    let (m, f) = (per(&alone, &with), per(&peer_alone, &peer_with));
    let pct = |cpu_s: f64| 100.0 * cpu_s / seconds as f64;
    let dropped = summary.num("/video/dropped/render_lag").unwrap_or(f64::NAN)
        + summary
            .num("/video/dropped/encoder_lag")
            .unwrap_or(f64::NAN);
    println!(
        "**Co-stream host CPU per guest** ({GUESTS} native guests 480×270@15 VP8 + tone; host 1280×720@30 x264 ultrafast 2500k to a file; {seconds} s; 2 cores)\n"
    );
    println!("| run | CPU s | CPU % (1 core) |");
    println!("| --- | ---: | ---: |");
    for (name, u) in [
        ("marquee live, no guest", &alone),
        ("marquee live, 4 guests", &with),
        ("ffmpeg, host picture only", &peer_alone),
        ("ffmpeg, host + 4 VP8 decoded and stacked", &peer_with),
    ] {
        println!("| {name} | {:.2} | {:.0} |", u.cpu_s(), pct(u.cpu_s()));
    }
    println!();
    println!(
        "| per guest | marquee | ffmpeg | marquee/ffmpeg | dropped output frames with guests |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| CPU % of one core | {:.1} | {:.1} | {:.2}× | {dropped} |",
        pct(m),
        pct(f),
        m / f
    );
    // Where the per-guest CPU goes, by the host's thread names (those over 0.5 % anywhere).
    println!();
    println!(
        "| host thread | CPU % no guest | CPU % {GUESTS} guests | per guest (difference / {GUESTS}) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    let mut names: Vec<&String> = alone_threads.keys().chain(with_threads.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows: Vec<(String, f64, f64)> = names
        .into_iter()
        .map(|n| {
            let a = alone_threads.get(n).copied().unwrap_or(0.0);
            let w = with_threads.get(n).copied().unwrap_or(0.0);
            (n.clone(), a, w)
        })
        .filter(|(_, a, w)| a.max(*w) >= 0.5)
        .collect();
    rows.sort_by(|x, y| (y.2 - y.1).total_cmp(&(x.2 - x.1)));
    for (n, a, w) in &rows {
        println!("| {n} | {a:.1} | {w:.1} | {:.1} |", (w - a) / GUESTS as f64);
    }
    let v = json!({
        "threads_no_guest_pct": alone_threads, "threads_with_guests_pct": with_threads,
        "seconds": seconds, "guests": GUESTS,
        "marquee_alone_cpu_s": alone.cpu_s(), "marquee_with_cpu_s": with.cpu_s(),
        "ffmpeg_alone_cpu_s": peer_alone.cpu_s(), "ffmpeg_with_cpu_s": peer_with.cpu_s(),
        "per_guest_cpu_pct": {"marquee": pct(m), "ffmpeg": pct(f)},
        "dropped_output_frames": dropped,
    });
    if let Some(d) = out.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_else(|e| eprintln!("cannot write {}: {e}", out.display()));
}
