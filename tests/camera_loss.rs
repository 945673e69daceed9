//! A camera that stops delivering: the output keeps its cadence (repeats the last frame),
//! shows the "camera lost" slate within a frame interval, and the camera comes back by itself.
//! The synthetic camera is unplugged through the same capture loop a real camera uses.

use marquee_e2e::{
    Run, Summary, assert_exited_ok, control_request, frame_codes, heavy, marquee_in, probe, tempdir,
};
use std::time::Duration;

const W: u32 = 320;
const H: u32 = 180;
const FPS: usize = 30;

#[test]
fn an_unplugged_camera_shows_the_slate_within_a_frame_then_returns_without_breaking_cadence() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let out = home.path().join("loss.mkv");
    let summary = home.path().join("summary.json");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args([
            "--size",
            &format!("{W}x{H}"),
            "--fps",
            "30",
            "--duration",
            "8s",
        ])
        .args(["--test-stall-at", "2s", "--test-stall-for", "3s"])
        .arg("--record")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);

    let p = probe(&out);
    let v = p.video.as_ref().expect("video");
    let codes = frame_codes(&out, W, H);
    // Cadence: one frame per tick for the whole run, stall or not.
    assert!(
        (codes.len() as i64 - 8 * FPS as i64).abs() <= 3,
        "{} frames in 8 s",
        codes.len()
    );
    let pts: Vec<f64> = v.packets.iter().map(|p| p.pts).collect();
    for w in pts.windows(2) {
        assert!(
            (w[1] - w[0] - 1.0 / 30.0).abs() < 0.002,
            "frame interval broke: {:.3} -> {:.3}",
            w[0],
            w[1]
        );
    }
    // Before the stall: frames 0..59 in order.
    for (i, c) in codes.iter().enumerate().take(2 * FPS) {
        assert_eq!(
            c.map(|c| c.index),
            Some(i as u64),
            "frame {i} before the stall"
        );
    }
    // The camera says it is unplugged (the synthetic one fails like a removed device), so
    // the slate replaces it on the first tick without a frame: within one frame interval.
    // (A camera that freezes without an error repeats its last frame for a second first:
    // see FrameSelector's tests.)
    let first_slate = codes
        .iter()
        .position(|c| c.is_none())
        .expect("the slate never appeared");
    let last_frame_at = (2 * FPS - 1) as f64 / 30.0;
    let slate_at = pts[first_slate];
    assert!(
        slate_at - last_frame_at <= 1.0 / 30.0 + 0.002,
        "slate at {slate_at:.3} s, last frame at {last_frame_at:.3} s"
    );
    // The camera returns by itself within its one-second retry after the stall ends (5 s),
    // and from then on output frame N shows camera frame N again.
    let back = codes
        .iter()
        .enumerate()
        .skip(first_slate)
        .position(|(_, c)| c.is_some())
        .map(|n| n + first_slate)
        .expect("the camera never came back");
    assert!(
        pts[back] <= 5.0 + 1.2,
        "camera back only at {:.2} s",
        pts[back]
    );
    assert!(
        codes[first_slate..back].iter().all(Option::is_none),
        "slate is steady"
    );
    for (i, c) in codes.iter().enumerate().skip(back) {
        assert_eq!(
            c.map(|c| c.index),
            Some(i as u64),
            "frame {i} after the camera returned"
        );
    }
    let s = Summary::read(&summary);
    assert!(!s.events_of("source_lost").is_empty(), "{}", s.pretty());
    assert!(!s.events_of("source_back").is_empty(), "{}", s.pretty());
    assert!(s.num("/video/slate").unwrap_or(0.0) > 0.0);
}

/// An extra camera that cannot open (here: the real nokhwa path, which finds no camera on
/// this machine) does not keep the show off the air: the session starts on the test card,
/// reports the camera lost, and a cut to it shows the slate while the cadence holds.
#[test]
fn a_missing_extra_camera_starts_lost_and_cutting_to_it_shows_the_slate() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let out = home.path().join("missing.mkv");
    let summary = home.path().join("summary.json");
    let socket = home.path().join("live.sock");
    let mut c = marquee_in(home.path());
    c.args(["live", "--source", "card=test", "--source", "cam=camera:7"])
        .args(["--start-scene", "card", "--audio", "none"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--duration", "5s", "--replay-seconds", "0"])
        .arg("--record")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .env("MARQUEE_CONTROL", &socket);
    let mut run = Run::spawn(c);
    std::thread::sleep(Duration::from_millis(2500));
    let a = control_request(&socket, "scene cam");
    assert!(a.starts_with("ok"), "the cut is accepted: {a}");
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);

    let codes = frame_codes(&out, W, H);
    assert!(
        (codes.len() as i64 - 5 * FPS as i64).abs() <= 3,
        "{} frames in 5 s",
        codes.len()
    );
    let cut = codes
        .iter()
        .position(|c| c.is_none())
        .expect("the slate never appeared after the cut");
    assert!(
        cut >= 2 * FPS,
        "the test card was on air until the cut (slate at frame {cut})"
    );
    assert!(
        codes[..cut]
            .iter()
            .enumerate()
            .all(|(i, c)| c.map(|c| c.index) == Some(i as u64)),
        "the test card ran without a gap before the cut"
    );
    assert!(
        codes[cut..].iter().all(Option::is_none),
        "slate after the cut"
    );
    let s = Summary::read(&summary);
    let lost: Vec<_> = s.json["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "source_lost")
        .collect();
    assert!(
        lost.iter()
            .any(|e| e["subject"].as_str().unwrap_or("").contains("cam")),
        "{}",
        s.pretty()
    );
}
