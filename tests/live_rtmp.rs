//! `marquee live` pushing to a real nginx-rtmp ingest, checked with ffprobe on the server's
//! recordings and on marquee's own local recording.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use marquee_e2e::{
    Nginx, Packet, Run, Summary, assert_exited_ok, assert_failed_cleanly, check_continuity,
    frame_codes, heavy, marquee_in, output_lower, probe, tempdir, unix_ms,
};

const W: u32 = 640;
const H: u32 = 360;
const FPS: f64 = 30.0;

/// `marquee live --video test --audio tone --size 640x360 --fps 30 --duration D`, plus `extra`.
fn live(home: &Path, duration_s: u32, extra: &[&str]) -> Command {
    let mut c = marquee_in(home);
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--duration", &format!("{duration_s}s")])
        .args(extra);
    c
}

fn summary_arg(home: &Path) -> (String, std::path::PathBuf) {
    let p = home.join("summary.json");
    (p.display().to_string(), p)
}

#[test]
fn push_reaches_nginx_with_h264_aac_at_requested_size_fps_and_gop() {
    let _g = heavy();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-home-");
    let (sarg, spath) = summary_arg(home.path());
    let url = nginx.url("e2e");
    let mut run = Run::spawn(live(
        home.path(),
        6,
        &["--to", &url, "--summary-json", &sarg],
    ));
    run.wait(Duration::from_secs(90));
    assert_exited_ok(&run);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop(); // closes the recording

    let recs = nginx.recordings_of("e2e");
    assert_eq!(
        recs.len(),
        1,
        "expected one uninterrupted publish, got recordings {:?}\n{}",
        nginx.recordings(),
        run.report()
    );
    let p = probe(&recs[0]);
    let v = p.video.as_ref().expect("the server recording has no video");
    let a = p.audio.as_ref().expect("the server recording has no audio");

    assert_eq!(v.codec, "h264");
    assert_eq!((v.width, v.height), (W, H), "video size");
    let fps = v.measured_fps().expect("video packets");
    assert!(
        (fps - FPS).abs() <= FPS * 0.01,
        "fps {fps:.3} is not 30 ±1% ({} packets)",
        v.packets.len()
    );

    let keys = v.keyframes();
    let first = v.first_pts().unwrap();
    assert!(
        (keys[0] - first).abs() < 1e-6,
        "the stream must start on a keyframe: first pts {first}, keyframes {keys:?}"
    );
    assert!(
        keys.len() >= 3,
        "6 s at a 2 s GOP needs ≥ 3 keyframes: {keys:?}"
    );
    let frame = 1.0 / FPS + 0.002; // one frame, plus FLV's millisecond rounding
    for w in keys.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (gap - 2.0).abs() <= frame,
            "keyframe interval {gap:.3} s is not 2 s ±1 frame: keyframes {keys:?}"
        );
    }

    assert_eq!(a.codec, "aac");
    assert_eq!(a.sample_rate, 48_000, "audio sample rate");
    assert_eq!(a.channels, 2, "audio channels");

    let vspan = v.span_s().unwrap();
    let aspan = a.span_s().expect("audio packets");
    assert!(
        (vspan - 6.0).abs() <= 0.5,
        "video duration {vspan:.3} s, wanted 6 ±0.5"
    );
    assert!(
        (aspan - 6.0).abs() <= 0.5,
        "audio duration {aspan:.3} s, wanted 6 ±0.5"
    );
    // A/V start: FLV has no edit lists, so an AAC encoder's 1024 priming samples (21.3 ms) are
    // either left in at the audio's first timestamp, or compensated by starting the video that
    // much later (what the ffmpeg CLI does). Either convention is in sync; anything else must be
    // within 10 ms.
    let (vs, as_) = (first, a.first_pts().unwrap());
    let off = as_ - vs;
    eprintln!(
        "server recording: {fps:.3} fps, keyframes {keys:?}, video {vspan:.3} s, audio {aspan:.3} s, \
         audio−video start {:.1} ms",
        off * 1000.0
    );
    let priming = 1024.0 / 48_000.0;
    assert!(
        off.abs() <= 0.010 || (off + priming).abs() <= 0.010,
        "audio starts at {as_:.3} s, video at {vs:.3} s: offset {:.1} ms is more than 10 ms \
         from 0 (or from −21.3 ms, AAC priming compensated)",
        off * 1000.0
    );

    let s = Summary::read(&spath);
    let frames = s.num("/video/frames").expect("summary video.frames");
    assert!(
        (frames - 180.0).abs() <= 3.0,
        "summary says {frames} frames for 6 s at 30 fps\n{}",
        s.pretty()
    );
    assert_eq!(s.num("/video/width"), Some(W as f64), "{}", s.pretty());
    assert_eq!(s.num("/video/height"), Some(H as f64), "{}", s.pretty());
    let dests = s.destinations();
    assert_eq!(dests.len(), 1, "{}", s.pretty());
    assert!(
        dests[0]["bytes"].as_f64().unwrap_or(0.0) > 100_000.0,
        "destination bytes: {}",
        s.pretty()
    );
    assert_eq!(
        dests[0]["reconnects"].as_u64().unwrap_or(0),
        0,
        "{}",
        s.pretty()
    );
    // every frame the encoder made reached the server
    assert!(
        (v.packets.len() as f64 - frames).abs() <= 2.0,
        "server got {} video packets, marquee encoded {frames}",
        v.packets.len()
    );
}

/// Aligns two packet lists of the same encode (by payload sizes) and returns
/// (packets compared, packets identical in size and key flag).
fn compare_packets(a: &[Packet], b: &[Packet]) -> (usize, usize) {
    const PROBE: usize = 12;
    let find = |hay: &[Packet], needle: &[Packet]| -> Option<usize> {
        if needle.len() < PROBE {
            return None;
        }
        (0..hay.len().saturating_sub(PROBE)).find(|&i| {
            hay[i..i + PROBE]
                .iter()
                .zip(&needle[..PROBE])
                .all(|(x, y)| x.size == y.size && x.key == y.key)
        })
    };
    let (long, short, off) = match find(a, b) {
        Some(off) => (a, b, off),
        None => match find(b, a) {
            Some(off) => (b, a, off),
            None => return (0, 0),
        },
    };
    let pairs: Vec<(&Packet, &Packet)> = long[off..].iter().zip(short).collect();
    let same = pairs
        .iter()
        .filter(|(x, y)| x.size == y.size && x.key == y.key)
        .count();
    (pairs.len(), same)
}

#[test]
fn two_destinations_receive_the_same_stream() {
    let _g = heavy();
    let mut one = Nginx::start();
    let mut two = Nginx::start();
    let home = tempdir("marquee-home-");
    let (sarg, spath) = summary_arg(home.path());
    let (u1, u2) = (one.url("one"), two.url("two"));
    let mut run = Run::spawn(live(
        home.path(),
        6,
        &["--to", &u1, "--to", &u2, "--summary-json", &sarg],
    ));
    run.wait(Duration::from_secs(90));
    assert_exited_ok(&run);
    for n in [&one, &two] {
        n.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    }
    one.stop();
    two.stop();

    let r1 = one.recordings_of("one");
    let r2 = two.recordings_of("two");
    assert_eq!(
        r1.len(),
        1,
        "server one: {:?}\n{}",
        one.recordings(),
        run.report()
    );
    assert_eq!(
        r2.len(),
        1,
        "server two: {:?}\n{}",
        two.recordings(),
        run.report()
    );
    let (p1, p2) = (probe(&r1[0]), probe(&r2[0]));
    for (name, p) in [("one", &p1), ("two", &p2)] {
        let v = p
            .video
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no video"));
        let a = p
            .audio
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no audio"));
        assert_eq!(
            (v.codec.as_str(), v.width, v.height),
            ("h264", W, H),
            "{name}"
        );
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("aac", 48_000, 2),
            "{name}"
        );
        let span = v.span_s().unwrap();
        assert!(span >= 5.5, "{name}: only {span:.2} s of video");
    }

    // One encode feeds every output: the two servers got byte-identical video packets.
    let (v1, v2) = (
        &p1.video.as_ref().unwrap().packets,
        &p2.video.as_ref().unwrap().packets,
    );
    let (compared, same) = compare_packets(v1, v2);
    assert!(
        compared >= 150,
        "could not align the two servers' video packets ({compared} overlap of {} / {})",
        v1.len(),
        v2.len()
    );
    assert!(
        same as f64 >= compared as f64 * 0.98,
        "only {same} of {compared} video packets are identical across destinations"
    );

    let s = Summary::read(&spath);
    let dests = s.destinations();
    assert_eq!(dests.len(), 2, "{}", s.pretty());
    let bytes: Vec<f64> = dests
        .iter()
        .map(|d| d["bytes"].as_f64().unwrap_or(0.0))
        .collect();
    assert!(
        bytes.iter().all(|&b| b > 100_000.0),
        "bytes per destination {bytes:?}"
    );
    assert!(
        (bytes[0] - bytes[1]).abs() <= bytes[0].max(bytes[1]) * 0.05,
        "destinations got different amounts: {bytes:?}"
    );
}

#[test]
fn server_restart_mid_stream_reconnects_within_2s_and_recording_has_no_gap() {
    let _g = heavy();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-home-");
    let (sarg, spath) = summary_arg(home.path());
    let local = home.path().join("local.mkv");
    let url = nginx.url("restart");
    let duration_s = 16;
    let mut run = Run::spawn(live(
        home.path(),
        duration_s,
        &[
            "--to",
            &url,
            "--record",
            &local.display().to_string(),
            "--summary-json",
            &sarg,
        ],
    ));

    // The stream is flowing once the server's recording grows.
    let flowing = nginx.wait_recording("restart", 20_000, Duration::from_secs(30));
    assert!(
        flowing.is_some(),
        "no stream reached nginx\n{}",
        run.report()
    );
    let flowing_at = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let stop_ms = unix_ms();
    nginx.stop();
    std::thread::sleep(Duration::from_secs(3));
    nginx.start_again();
    let up_ms = unix_ms();
    assert!(
        flowing_at.elapsed() < Duration::from_secs(duration_s as u64 - 6),
        "the machine is too slow for this test's timeline"
    );

    run.wait(Duration::from_secs(90));
    assert_exited_ok(&run);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop();

    let s = Summary::read(&spath);
    // destination events only (the recording may report events of its own, with no `dest`)
    let events: Vec<_> = s
        .events()
        .into_iter()
        .filter(|e| !e.dest.is_empty())
        .collect();
    eprintln!("server stopped at {stop_ms}, back at {up_ms}; events: {events:#?}");
    let back = events
        .iter()
        .find(|e| e.kind == "connected" && e.unix_ms >= stop_ms)
        .cloned();
    let Some(back) = back else {
        panic!(
            "no `connected` event after the server stopped at {stop_ms} (restarted at {up_ms}): {events:#?}\n{}",
            run.report()
        );
    };
    assert!(
        back.unix_ms <= up_ms + 2000,
        "reconnected {} ms after the server came back (> 2000 ms): {events:#?}",
        back.unix_ms as i64 - up_ms as i64
    );
    assert!(
        events.iter().any(|e| e.unix_ms >= stop_ms
            && e.unix_ms <= back.unix_ms
            && (e.kind == "disconnected" || e.kind == "reconnecting")),
        "the break was not reported as disconnected/reconnecting: {events:#?}"
    );
    assert!(
        !events.iter().any(|e| e.kind == "failed"),
        "a destination was given up: {events:#?}"
    );

    // Adaptive bitrate and the reconnect work together: the stream came back below the rate
    // it had (the path after an outage is unknown), not at the old one.
    let abr = &s.json["abr"];
    assert!(
        abr["changes"].as_f64().unwrap_or(0.0) >= 1.0
            && abr["target_kbps"].as_f64() < abr["max_kbps"].as_f64(),
        "the stream resumed at its old rate: {abr}"
    );

    // The server has a second recording, which starts on a keyframe and runs to the end.
    let recs = nginx.recordings_of("restart");
    assert!(recs.len() >= 2, "recordings after restart: {recs:?}");
    let after = probe(recs.last().unwrap());
    let v = after
        .video
        .as_ref()
        .expect("post-restart recording has no video");
    let keys = v.keyframes();
    assert!(
        !keys.is_empty() && (keys[0] - v.first_pts().unwrap()).abs() < 1e-6,
        "the resumed stream does not start on a keyframe: first pts {:?}, keyframes {keys:?}",
        v.first_pts()
    );
    let codes = frame_codes(recs.last().unwrap(), W, H);
    check_continuity(&codes)
        .unwrap_or_else(|e| panic!("post-restart server recording is not continuous: {e}"));

    // The local recording never noticed: every frame, in order, once.
    let p = probe(&local);
    let lv = p.video.as_ref().expect("local recording has no video");
    assert_eq!((lv.width, lv.height), (W, H));
    assert!(p.audio.is_some(), "local recording has no audio");
    let codes = frame_codes(&local, W, H);
    check_continuity(&codes).unwrap_or_else(|e| panic!("local recording has a gap: {e}"));
    let expected = duration_s as f64 * FPS;
    assert!(
        (codes.len() as f64 - expected).abs() <= 6.0,
        "local recording has {} frames, expected {expected} ±6",
        codes.len()
    );
    assert_eq!(
        codes[0].map(|c| c.index),
        Some(0),
        "local recording must start at frame 0"
    );
}

/// Runs `marquee live` to a URL that can never work; returns the finished run.
fn live_to_bad_url(url: &str) -> Run {
    let home = tempdir("marquee-home-");
    let mut run = Run::spawn(live(home.path(), 30, &["--to", url]));
    run.wait(Duration::from_secs(20));
    run
}

#[test]
fn bad_scheme_and_unknown_host_fail_fast_with_clear_message() {
    let _g = heavy();
    let run = live_to_bad_url("http://127.0.0.1:1/live/e2e");
    assert_failed_cleanly(&run);
    assert!(
        run.elapsed() < Duration::from_secs(10),
        "a bad scheme took {:?} to fail",
        run.elapsed()
    );
    let msg = output_lower(&run);
    assert!(
        msg.contains("scheme") || (msg.contains("http") && msg.contains("rtmp")),
        "the message does not say the scheme is wrong:\n{}",
        run.report()
    );

    let run = live_to_bad_url("rtmp://no-such-host.invalid/live/e2e");
    assert_failed_cleanly(&run);
    assert!(
        run.elapsed() < Duration::from_secs(10),
        "an unknown host took {:?} to fail",
        run.elapsed()
    );
    assert!(
        output_lower(&run).contains("no-such-host.invalid"),
        "the message does not name the host:\n{}",
        run.report()
    );
}

#[test]
fn server_rejecting_the_app_fails_fast_with_clear_message() {
    let _g = heavy();
    let nginx = Nginx::start();
    // nginx-rtmp closes the connection on `connect` to an application it does not have.
    let url = format!("rtmp://127.0.0.1:{}/nosuchapp/e2e", nginx.port());
    let run = live_to_bad_url(&url);
    assert_failed_cleanly(&run);
    assert!(
        run.elapsed() < Duration::from_secs(10),
        "a rejected publish took {:?} to fail",
        run.elapsed()
    );
    let msg = output_lower(&run);
    assert!(
        msg.contains("reject") || msg.contains("refused") || msg.contains("nosuchapp"),
        "the message does not say the server rejected the stream:\n{}",
        run.report()
    );
}

#[test]
fn rtmps_reaches_a_tls_ingest_whose_certificate_is_trusted_and_refuses_one_that_is_not() {
    let _g = heavy();
    let mut nginx = Nginx::start_with_tls();
    let url = format!("{}/secure", nginx.rtmps_app_url());
    // Trusted (its CA file given): the stream goes through TLS into the RTMP server.
    let home = tempdir("marquee-home-");
    let mut c = live(home.path(), 4, &["--to", &url]);
    c.env("MARQUEE_TLS_CA_FILE", nginx.tls_cert());
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    // Not trusted (a self-signed certificate and no CA file): refused before going live,
    // saying what to do.
    let home2 = tempdir("marquee-home-");
    let mut refused = Run::spawn(live(home2.path(), 30, &["--to", &url]));
    refused.wait(Duration::from_secs(30));
    nginx.stop();
    let recs = nginx.recordings_of("secure");
    assert_eq!(recs.len(), 1, "{:?}\n{}", nginx.recordings(), run.report());
    let p = probe(&recs[0]);
    assert_eq!(p.video.as_ref().expect("video").codec, "h264");
    assert_eq!(p.audio.as_ref().expect("audio").codec, "aac");
    assert!(p.duration.unwrap_or(0.0) > 2.5, "{:?}", p.duration);
    assert_failed_cleanly(&refused);
    let err = refused.stderr();
    assert!(err.contains("MARQUEE_TLS_CA_FILE"), "{}", refused.report());
}
