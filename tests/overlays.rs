//! Overlays burnt into the stream by `marquee live --overlay`: a text line and a danmaku
//! layer fed over the control socket appear in the recording; switching the text off
//! removes it from the following frames.

use marquee_e2e::{Run, assert_exited_ok, control_request, gray_frames, marquee_in, tempdir};
use std::time::Duration;

const W: u32 = 640;
const H: u32 = 360;

/// Bright pixels (text) in rows `y0..y1` of a luma plane.
fn bright(luma: &[u8], y0: u32, y1: u32) -> usize {
    luma[(y0 * W) as usize..(y1 * W) as usize]
        .iter()
        .filter(|&&y| y > 200)
        .count()
}

#[test]
fn text_and_danmaku_overlays_are_burnt_in_and_switch_off() {
    let home = tempdir("marquee-overlay-");
    let rec = home.path().join("overlay.mkv");
    let socket = home.path().join("live.sock");
    let mut c = marquee_in(home.path());
    // A black-ish file-less source would be ideal; the test card's top band is black
    // behind its code and its lower quarter is a solid tint, so the text goes bottom centre.
    c.args([
        "live", "--video", "test", "--audio", "none", "--size", "640x360",
    ])
    .args(["--duration", "6s", "--replay-seconds", "0"])
    .args([
        "--overlay",
        "title=text:LIVE 直播中@bc",
        "--overlay",
        "chat=danmaku",
    ])
    .arg("--record")
    .arg(&rec)
    .env("MARQUEE_CONTROL", &socket);
    let mut run = Run::spawn(c);
    std::thread::sleep(Duration::from_millis(1500));
    let a = control_request(&socket, "comment 前方高能 666");
    assert!(a.starts_with("ok"), "{a}");
    std::thread::sleep(Duration::from_millis(2000));
    let a = control_request(&socket, "overlay title off");
    assert!(a.starts_with("ok"), "{a}");
    let a = control_request(&socket, "overlay nope off");
    run.wait(Duration::from_secs(60));
    assert_exited_ok(&run);

    let frames = gray_frames(&rec, W, H);
    assert!(frames.len() >= 170, "{} frames", frames.len());
    let at = |s: f64| &frames[(s * 30.0) as usize];
    // The test card has no bright pixels in its bottom rows; the title puts some there
    // until it is switched off at ~3.5 s.
    let bottom = (H - 50, H);
    assert!(bright(at(1.0), bottom.0, bottom.1) > 200, "title drawn");
    assert_eq!(
        bright(at(5.5), bottom.0, bottom.1),
        0,
        "title gone after off"
    );
    // The comment scrolls in from the right edge in the top lanes. The card's last bar
    // (x 560..640) is black above its bouncing box, so text there is the comment.
    let lane = |f: &[u8]| -> usize {
        (0..120)
            .map(|y| {
                f[(y * W + 560) as usize..((y + 1) * W) as usize]
                    .iter()
                    .filter(|&&v| v > 200)
                    .count()
            })
            .sum()
    };
    assert_eq!(lane(at(1.0)), 0, "no danmaku before it was sent");
    assert!(
        lane(at(2.5)) > 30,
        "the comment is on screen: {}",
        lane(at(2.5))
    );
    assert!(a.starts_with("err"), "unknown overlay id is an error: {a}");
}
