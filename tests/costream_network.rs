//! Co-stream across a bad network: the native guest (`marquee guest join`) runs in a network
//! namespace of its own, joined to the host's by a veth pair, with nftables in the namespace
//! dropping about 5 % of the UDP packets each way (this kernel has no netem). The host is
//! `marquee live --guests 1` pushing to a real nginx-rtmp; the guest must stay on air for its
//! whole call, its picture keep arriving in the program (str0m's NACKs get most lost video
//! packets sent again; what stays lost costs a frame and a PLI for the next keyframe), and its
//! voice be heard (Opus concealment). Loss, PLIs and frames are printed from the host's quality
//! stats (`marquee guest list`).

#![allow(clippy::unwrap_used)]

use marquee_e2e::{
    NetLink as Link, Nginx, Run, assert_exited_ok, decode_audio_mono, exec, frame_codes_in, heavy,
    marquee_in, tempdir, tone_level,
};
use std::time::{Duration, Instant};

const W: u32 = 1280;
const H: u32 = 720;
const HOST_HZ: f64 = 440.0;
const GUEST_HZ: f64 = 1000.0;
const CALL_S: u64 = 15;

/// A call of `CALL_S` seconds from a native guest inside `link_net` to a host here that
/// streams to nginx-rtmp as `name`: the guest stays on air, its picture keeps arriving in the
/// program and its voice is heard. Prints the host's quality line for the guest.
fn call_over(link_net: &Link, name: &str) {
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-costream-lossy-");
    let socket = home.path().join("live.sock");
    let url = nginx.url(name);
    let mut c = marquee_in(home.path());
    c.env("MARQUEE_CONTROL", &socket)
        .args(["live", "--video", "test", "--audio"])
        .arg(format!("tone:{HOST_HZ}"))
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--bitrate", "2500", "--preset", "ultrafast"])
        .args(["--to", &url, "--replay-seconds", "0"])
        .args(["--guests", "1", "--guest-address", &link_net.host_ip])
        .args(["--duration", "30s"]);
    let mut host = Run::spawn(c);
    assert!(
        host.wait_for_stdout("guest 1: ", Duration::from_secs(60)),
        "no invite printed\n{}",
        host.report()
    );
    let link = host
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("guest 1: ").map(str::to_string))
        .unwrap();
    assert!(link.contains(&link_net.host_ip), "{link}");

    let mut g = marquee_in(home.path());
    g.args(["guest", "join", &link, "--video", "test:2"])
        .args(["--audio", &format!("tone:{GUEST_HZ}"), "--name", name])
        .args(["--duration", &format!("{CALL_S}s")]);
    let mut guest = Run::spawn(link_net.inside(g));
    assert!(
        guest.wait_for_stderr("on air as guest 1", Duration::from_secs(30)),
        "{}\n{}",
        guest.report(),
        host.report()
    );
    // The host's view of the guest, once a second until the call ends: the last line kept.
    let mut quality = String::new();
    let deadline = Instant::now() + Duration::from_secs(CALL_S + 30);
    while guest.status().is_none() && Instant::now() < deadline {
        let mut l = marquee_in(home.path());
        l.args(["guest", "list", "--socket"]).arg(&socket);
        let d = exec(l, Duration::from_secs(10));
        if let Some(line) = d.stdout_str().lines().find(|l| l.contains("on_air")) {
            quality = line.to_string();
        }
        std::thread::sleep(Duration::from_secs(1)); // the polling period of the quality stats
    }
    guest.wait(Duration::from_secs(30));
    eprintln!("host's view of the guest ({name}): {quality}");
    eprintln!("guest: {}", guest.stderr().lines().last().unwrap_or(""));
    assert_exited_ok(&guest);
    assert!(
        !guest.stderr().contains("reconnect"),
        "the guest stayed on air: {}",
        guest.report()
    );
    host.wait(Duration::from_secs(90));
    assert_exited_ok(&host);
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop();
    let recs = nginx.recordings_of(name);
    assert_eq!(recs.len(), 1, "one uninterrupted publish: {recs:?}");

    // The guest's picture keeps arriving: new pictures through the whole call, no freeze
    // longer than a second and a half (a lost packet waits for the keyframe it asked for).
    let rows = frame_codes_in(&recs[0], W, H, &[(640, 180, 640, 360)]);
    let codes: Vec<(usize, u64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r[0].map(|c| (i, c.index)))
        .filter(|(_, c)| *c >= 2_000_000)
        .collect();
    assert!(!codes.is_empty(), "the guest never reached the program");
    let (first, last) = (codes[0].0, codes[codes.len() - 1].0);
    let mut longest_freeze = 0;
    let mut since = first;
    for w in codes.windows(2) {
        if w[1].1 != w[0].1 {
            longest_freeze = longest_freeze.max(w[1].0 - since);
            since = w[1].0;
        }
    }
    let mut distinct: Vec<u64> = codes.iter().map(|c| c.1).collect();
    distinct.dedup();
    eprintln!(
        "guest in the program {:.1} s, {} distinct pictures, longest freeze {:.2} s",
        (last - first) as f64 / 30.0,
        distinct.len(),
        longest_freeze as f64 / 30.0
    );
    assert!(
        (last - first) as f64 >= 30.0 * (CALL_S as f64 - 4.0),
        "the guest's picture lasted {:.1} s of a {CALL_S} s call",
        (last - first) as f64 / 30.0
    );
    assert!(
        longest_freeze <= 45,
        "the guest's picture froze for {:.2} s",
        longest_freeze as f64 / 30.0
    );
    assert!(
        distinct.len() as f64 >= 0.5 * (last - first) as f64,
        "{} distinct pictures in {} frames",
        distinct.len(),
        last - first
    );

    // The voice is heard in every second of the call.
    let audio = decode_audio_mono(&recs[0]);
    let levels: Vec<(f64, f64)> = audio
        .chunks(48_000)
        .filter(|c| c.len() == 48_000)
        .map(|c| {
            (
                tone_level(c, 48_000.0, GUEST_HZ),
                tone_level(c, 48_000.0, HOST_HZ),
            )
        })
        .collect();
    let (on_from, on_to) = (first / 30 + 1, last / 30);
    let during: Vec<f64> = levels[on_from..on_to.min(levels.len())]
        .iter()
        .map(|l| l.0)
        .collect();
    let after = levels.last().unwrap().0;
    let quietest = during.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        during.len() as u64 >= CALL_S - 5 && quietest > 100.0 * after,
        "the guest's tone must be ≥ 20 dB above the after-call level in every second on air: {levels:?}"
    );
}

#[test]
fn a_native_guest_losing_five_percent_of_its_packets_stays_on_air_seen_and_heard() {
    let _g = heavy();
    let link = Link::start();
    link.lose_udp(5);
    call_over(&link, "lossy");
    let counts = link.udp_counts();
    eprintln!("nftables UDP (chain, packets, dropped): {counts:?}");
    assert!(
        counts
            .iter()
            .all(|(_, seen, dropped)| *dropped > 0 && (*dropped as f64) < 0.1 * *seen as f64),
        "about 5 % of the UDP packets were dropped each way: {counts:?}"
    );
}

#[test]
fn a_native_guest_on_a_one_megabit_link_stays_on_air_seen_and_heard() {
    let _g = heavy();
    let link = Link::start();
    link.shape(1000);
    call_over(&link, "narrow");
}
