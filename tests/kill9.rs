//! The local recording survives the process being killed, and a signal stops it cleanly.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use marquee_e2e::{
    Run, Summary, assert_exited_ok, check_continuity, frame_codes, heavy, marquee_in, probe,
    tempdir, wait_until,
};

const W: u32 = 640;
const H: u32 = 360;

fn record(home: &Path, out: &Path, duration_s: u32) -> Command {
    let mut c = marquee_in(home);
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--duration", &format!("{duration_s}s")])
        .arg("--record")
        .arg(out);
    c
}

/// Waits until `path` exists and is non-empty; returns when that was seen.
fn wait_file(run: &Run, path: &Path) -> Instant {
    let ok = wait_until(Duration::from_secs(30), || {
        path.metadata().map(|m| m.len() > 0).unwrap_or(false)
    });
    assert!(ok, "{} never appeared\n{}", path.display(), run.report());
    Instant::now()
}

#[test]
fn recording_survives_kill_9() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let out = home.path().join("killed.mkv");
    let mut run = Run::spawn(record(home.path(), &out, 60));
    let first = wait_file(&run, &out);
    // 6.5 s: not a multiple of a plausible flush interval, so the check does not sit on an edge
    std::thread::sleep(Duration::from_millis(6500));
    let recorded_wall = first.elapsed().as_secs_f64();
    run.kill9();
    let ran = run.elapsed().as_secs_f64();

    let p = probe(&out);
    let v = p
        .video
        .as_ref()
        .expect("ffprobe finds no video in the killed recording");
    assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", W, H));
    let codes = frame_codes(&out, W, H);
    let decoded = codes.len() as f64 / 30.0;
    eprintln!(
        "kill -9: process ran {ran:.2} s, file written {recorded_wall:.2} s, {} frames = {decoded:.2} s decode",
        codes.len()
    );
    assert!(
        decoded >= recorded_wall - 1.2,
        "after kill -9 only {decoded:.2} s decode; the file was being written for {recorded_wall:.2} s"
    );
    assert!(
        decoded <= ran + 0.1,
        "{decoded:.2} s of frames from a process that ran {ran:.2} s"
    );
    check_continuity(&codes).unwrap_or_else(|e| panic!("killed recording: {e}"));
}

#[test]
fn sigint_stops_cleanly_and_finalizes_the_recording() {
    stops_cleanly_on(libc::SIGINT);
}

#[test]
fn sigterm_stops_cleanly_and_finalizes_the_recording() {
    stops_cleanly_on(libc::SIGTERM);
}

fn stops_cleanly_on(sig: libc::c_int) {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let out = home.path().join("stopped.mkv");
    let summary = home.path().join("summary.json");
    let mut c = record(home.path(), &out, 60);
    c.arg("--summary-json").arg(&summary);
    let mut run = Run::spawn(c);
    let first = wait_file(&run, &out);
    std::thread::sleep(Duration::from_secs(4));
    let recorded_wall = first.elapsed().as_secs_f64();
    run.signal(sig);
    let stopping = Instant::now();
    run.wait(Duration::from_secs(20));
    assert_exited_ok(&run);
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "signal {sig} took {:?} to stop",
        stopping.elapsed()
    );

    let p = probe(&out);
    let d = p
        .duration
        .expect("a finalized recording states its duration");
    assert!(
        d >= recorded_wall - 1.0 && d <= recorded_wall + 1.5,
        "recording lasts {d:.2} s, written for {recorded_wall:.2} s"
    );
    let codes = frame_codes(&out, W, H);
    check_continuity(&codes).unwrap_or_else(|e| panic!("stopped recording: {e}"));
    let s = Summary::read(&summary);
    let frames = s.num("/video/frames").expect("summary video.frames");
    assert!(
        (frames - codes.len() as f64).abs() <= 2.0,
        "summary says {frames} frames, the recording has {}",
        codes.len()
    );
    let path_ok = s
        .str("/recording/path")
        .is_some_and(|p| Path::new(p).file_name() == out.file_name());
    assert!(path_ok, "summary recording.path: {}", s.pretty());
}
