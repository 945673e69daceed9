//! Director mode with real microphones: two PulseAudio null sinks are the microphones of
//! two test cameras; whoever "talks" (a tone played into their sink) gets the shot, after
//! the hold; a host's cut pauses the director and `director on` resumes it. Proven from
//! the frame codes in the recording (which card is on air at every frame).

use marquee_capture::camera::TestPatternCamera;
use marquee_e2e::{
    Pulse, Run, assert_exited_ok, control_request, frame_codes, heavy, marquee_in, probe, tempdir,
};
use std::time::{Duration, Instant};

const W: u32 = 320;
const H: u32 = 180;

#[test]
fn the_loudest_microphone_gets_the_shot_and_the_host_can_override() {
    let _g = heavy();
    let pulse = Pulse::start();
    pulse.add_sink("vsink2");
    let home = tempdir("marquee-director-");
    let rec = home.path().join("director.mkv");
    let socket = home.path().join("live.sock");
    // "a" talks from the start.
    let tone_a = pulse.play_tone_to("vsink", 440);
    let mut c = marquee_in(home.path());
    c.args([
        "live", "--audio", "none", "--size", "320x180", "--fps", "30",
    ])
    .args(["--source", "a=test:1+mic:vsink.monitor"])
    .args(["--source", "b=test:2+mic:vsink2.monitor"])
    .args(["--director", "--director-hold", "2s", "--duration", "13s"])
    .args(["--replay-seconds", "0"])
    .arg("--record")
    .arg(&rec)
    .env("MARQUEE_CONTROL", &socket)
    .envs(pulse.env());
    let started = Instant::now();
    let mut run = Run::spawn(c);
    let at = |s: f64| {
        let until = started + Duration::from_secs_f64(s);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    };
    // 4 s: "a" stops, "b" talks.
    at(4.0);
    drop(tone_a);
    let tone_b = pulse.play_tone_to("vsink2", 660);
    // 7.5 s: the host cuts to "a" although "b" is talking: the director pauses.
    at(7.5);
    assert!(control_request(&socket, "scene a").starts_with("ok"));
    // 9.5 s: director back on: "b" gets the shot again after the hold (2 s).
    at(9.5);
    assert!(control_request(&socket, "director on").starts_with("ok"));
    run.wait(Duration::from_secs(60));
    drop(tone_b);
    assert_exited_ok(&run);

    let pts: Vec<f64> = probe(&rec)
        .video
        .unwrap()
        .packets
        .iter()
        .map(|p| p.pts)
        .collect();
    let cards: Vec<Option<u64>> = frame_codes(&rec, W, H)
        .iter()
        .map(|c| c.map(|c| c.index / TestPatternCamera::CARD_STRIDE))
        .collect();
    // The session time when the process started is unknown to within its start-up; find
    // each change of card and check the order and rough times.
    let mut changes = Vec::new();
    for i in 1..cards.len() {
        if cards[i].is_some() && cards[i] != cards[i - 1] && cards[i - 1].is_some() {
            changes.push((pts[i], cards[i].unwrap()));
        }
    }
    let report = format!("card changes (s, card): {changes:?}\n{}", run.report());
    assert_eq!(
        cards.iter().flatten().next(),
        Some(&1),
        "starts on a: {report}"
    );
    // Exactly three cuts: to b (director), to a (host), to b (director after resuming).
    let cuts: Vec<u64> = changes.iter().map(|c| c.1).collect();
    assert_eq!(cuts, vec![2, 1, 2], "{report}");
    // Times relative to the host's cut (7.5 s after launch; the session's own zero is
    // unknown to within its start-up): "b" started talking 3.5 s before it, and the
    // director is sure within ~1.5 s (smoothing, confirm, the microphone's latency).
    let before_host = changes[1].0 - changes[0].0;
    assert!(before_host > 2.0 && before_host <= 3.5, "{report}");
    // The director came back on 2 s after the host's cut and waited its 2 s hold.
    let paused = changes[2].0 - changes[1].0;
    assert!((3.9..5.0).contains(&paused), "{report}");
}
