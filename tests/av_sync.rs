//! Audio and video stay together, measured from content: the tone is silent for 20 ms at
//! each whole second of session time, and the test pattern's code carries each frame's
//! session time. The onset of each silent mark must meet the frame stamped k·1000 ms.

use marquee_e2e::{Run, Summary, assert_exited_ok, av_offsets, heavy, marquee_in, probe, tempdir};
use std::time::Duration;

const W: u32 = 320;
const H: u32 = 180;
const SECONDS: u32 = 30;

#[test]
fn audio_and_video_start_together_and_do_not_drift_over_30s() {
    let _g = heavy();
    let home = tempdir("marquee-home-");
    let out = home.path().join("sync.mkv");
    let summary = home.path().join("summary.json");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--duration", &format!("{SECONDS}s")])
        .arg("--record")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);
    run.wait(Duration::from_secs(SECONDS as u64 + 60));
    assert_exited_ok(&run);

    let p = probe(&out);
    let v0 = p
        .video
        .as_ref()
        .and_then(|v| v.packets.first())
        .expect("video")
        .pts;
    let a0 = p.audio.as_ref().and_then(|a| a.start_time).expect("audio");
    assert!(
        (a0 - v0).abs() <= 0.010,
        "streams start {:.1} ms apart",
        (a0 - v0) * 1000.0
    );
    let s = Summary::read(&summary);
    let offsets = av_offsets(&out, W, H);
    eprintln!("A/V offsets (second, ms): {offsets:?}");
    assert!(
        offsets.len() as u32 >= SECONDS - 3,
        "only {} seconds could be matched\n{}",
        offsets.len(),
        s.pretty()
    );
    for (k, off) in &offsets {
        assert!(
            off.abs() <= 10.0,
            "second {k}: audio is {off:.1} ms off video"
        );
    }
    let first = offsets.first().unwrap().1;
    let last = offsets.last().unwrap().1;
    assert!(
        (last - first).abs() <= 5.0,
        "A/V drifted {:.1} ms over {SECONDS} s",
        last - first
    );
    assert_eq!(s.num("/audio/padded_samples"), Some(0.0), "{}", s.pretty());
    assert_eq!(s.num("/audio/dropped_samples"), Some(0.0), "{}", s.pretty());
}
