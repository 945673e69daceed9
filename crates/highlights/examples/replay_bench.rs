//! Benchmark: highlight save latency (30 s clip at 2500 kbps, 1280x720, real x264/AAC
//! packets) against the ffmpeg CLI doing the same stream copy, and replay-buffer memory
//! against bitrate × seconds. Prints tables; writes JSON to the path given as the first
//! argument (default `highlights-bench.json`).
//!
//! `CARGO_TARGET_DIR=… cargo run --release -p marquee-highlights --example replay_bench`

use marquee_highlights::save::write_packets;
use marquee_highlights::synth::{SynthConfig, encode_session};
use marquee_highlights::{HighlightSaver, ReplayBuffer, ReplayConfig, SharedReplay};
use marquee_studio::output::PacketSink;
use marquee_studio::packet::{Packet, Track};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let json_out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "highlights-bench.json".into());
    let dir = tempfile_dir();
    // 1. Save latency.
    let t0 = Instant::now();
    let s = encode_session(&SynthConfig {
        width: 1280,
        height: 720,
        fps: 30,
        seconds: 34.0,
        bitrate_kbps: 2500,
        preset: "ultrafast".into(),
        ..Default::default()
    })
    .expect("encode");
    let encode_s = t0.elapsed().as_secs_f64();
    let replay = Arc::new(SharedReplay::new(
        ReplayConfig::default(),
        s.video_tb(),
        s.audio_tb(),
    ));
    for p in &s.packets {
        replay.offer(p);
    }
    let saver = HighlightSaver::new(replay.clone(), s.streams.clone(), dir.join("clips"))
        .expect("a clips folder in the temp dir");
    let mut ours = Vec::new();
    let mut snap_ms = Vec::new();
    let mut size = 0;
    let mut dur = 0.0;
    for _ in 0..10 {
        let c = saver
            .save_last(Duration::from_secs(30))
            .expect("a save starts")
            .wait()
            .expect("the clip is written");
        ours.push(c.latency_ms);
        snap_ms.push(c.snapshot_ms);
        size = c.bytes;
        dur = c.duration_s;
        std::fs::remove_file(&c.path).expect("remove the saved clip");
    }
    // The same media as an MKV, stream-copied to a faststart MP4 by the ffmpeg CLI.
    let start = replay
        .snapshot_last(Duration::from_secs(30))
        .expect("30 s in the buffer");
    let mkv = dir.join("src.mkv");
    write_packets(&start.packets, start.start, &s.streams, &mkv).expect("write the recording");
    let mut peer = Vec::new();
    for i in 0..10 {
        let out = dir.join(format!("peer{i}.mp4"));
        let t = Instant::now();
        let st = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&mkv)
            .args(["-c", "copy", "-movflags", "+faststart"])
            .arg(&out)
            .status()
            .expect("ffmpeg CLI (apt-get install ffmpeg)");
        assert!(st.success());
        peer.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (o50, omax) = (pct(&mut ours, 0.5), pct(&mut ours, 1.0));
    let (p50, pmax) = (pct(&mut peer, 0.5), pct(&mut peer, 1.0));
    println!(
        "save a 30 s highlight (1280x720 30 fps, 2500 kbps x264 + AAC 128k; clip {dur:.1} s, {:.1} MiB; 10 runs)",
        size as f64 / 1048576.0
    );
    println!("| what | p50 ms | max ms |");
    println!("| --- | ---: | ---: |");
    println!(
        "| replay buffer → MP4 faststart (snapshot + write + fsync + rename) | {o50:.1} | {omax:.1} |"
    );
    println!(
        "| of which the snapshot under the buffer lock | {:.3} | {:.3} |",
        pct(&mut snap_ms, 0.5),
        pct(&mut snap_ms, 1.0)
    );
    println!(
        "| peer: `ffmpeg -c copy -movflags +faststart` from MKV (process incl.) | {p50:.1} | {pmax:.1} |"
    );
    println!("| ratio ours / peer (p50) | {:.2} | |", o50 / p50);
    println!("(encoding the 34 s source took {encode_s:.1} s)\n");

    // 2. Memory against bitrate × seconds (packet sizes of a CBR stream; 30 fps, GOP 2 s,
    //    keyframes 8× a P-frame, AAC 128 kbps).
    println!("replay-buffer memory after 3× the window has streamed through");
    println!(
        "(held = payload at the end, on a GOP boundary; peak = highest ever, just before a trim;"
    );
    println!(" overhead = packet structs + Arc headers; push = time inside ReplayBuffer::push)");
    println!(
        "| video kbps | window s | bitrate×s MiB | held MiB | held / (bitrate×s) | peak MiB | peak / (bitrate×s) | overhead MiB | push ns/packet |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for &(kbps, secs) in &[
        (2500u64, 30u64),
        (2500, 60),
        (6000, 60),
        (6000, 120),
        (20000, 60),
        (50000, 60),
    ] {
        let mut b = ReplayBuffer::new(
            ReplayConfig {
                max_duration: Duration::from_secs(secs),
                max_bytes: usize::MAX,
            },
            (1, 30),
            (1, 48000),
        );
        let per_gop = kbps * 1000 / 8 * 2; // bytes per 2 s GOP
        let p_size = (per_gop / (59 + 8)) as usize;
        let k_size = p_size * 8;
        let a_size = 128_000 / 8 * 1024 / 48000;
        let frames = secs * 3 * 30;
        let mut pushing = Duration::ZERO;
        let mut n = 0u64;
        let mut a = 0i64;
        for i in 0..frames as i64 {
            let key = i % 60 == 0;
            // Each packet gets its own buffer, as the encoder's do.
            let p = Packet {
                track: Track::Video,
                data: Arc::from(vec![0u8; if key { k_size } else { p_size }]),
                pts: i,
                dts: i,
                duration: 1,
                key,
                captured: Duration::ZERO,
            };
            let t = Instant::now();
            b.push(&p);
            pushing += t.elapsed();
            n += 1;
            while a * 1024 * 30 < (i + 1) * 48000 {
                let p = Packet {
                    track: Track::Audio,
                    data: Arc::from(vec![0u8; a_size]),
                    pts: a * 1024,
                    dts: a * 1024,
                    duration: 1024,
                    key: true,
                    captured: Duration::ZERO,
                };
                let t = Instant::now();
                b.push(&p);
                pushing += t.elapsed();
                a += 1;
                n += 1;
            }
        }
        let ns = pushing.as_nanos() as f64 / n as f64;
        let c = b.counters();
        let expect = ((kbps + 128) * 1000 / 8 * secs) as f64;
        let mib = |x: f64| x / 1048576.0;
        // Packet struct in a Vec + the Arc<[u8]> header (two counters).
        let overhead = c.packets_held as f64 * (std::mem::size_of::<Packet>() + 16) as f64;
        println!(
            "| {kbps} | {secs} | {:.1} | {:.1} | {:.3} | {:.1} | {:.3} | {:.2} | {ns:.0} |",
            mib(expect),
            mib(c.bytes_held as f64),
            c.bytes_held as f64 / expect,
            mib(c.peak_bytes as f64),
            c.peak_bytes as f64 / expect,
            mib(overhead)
        );
        rows.push(serde_json::json!({
            "video_kbps": kbps, "window_s": secs, "expected_bytes": expect,
            "held_bytes": c.bytes_held, "peak_bytes": c.peak_bytes, "overhead_bytes": overhead,
            "push_ns": ns,
        }));
        drop(b);
    }
    let out = serde_json::json!({
        "save_30s_2500kbps": {"ours_p50_ms": o50, "ours_max_ms": omax, "peer_p50_ms": p50, "peer_max_ms": pmax, "clip_bytes": size, "clip_s": dur},
        "memory": rows,
    });
    std::fs::write(
        &json_out,
        serde_json::to_string_pretty(&out).expect("plain data"),
    )
    .expect("write the results");
    println!("\nwrote {json_out}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("marquee-hl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("a temp dir");
    d
}
