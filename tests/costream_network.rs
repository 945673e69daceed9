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
    Nginx, Run, assert_exited_ok, decode_audio_mono, exec, frame_codes_in, heavy, marquee_in,
    tempdir, tone_level,
};
use std::process::Command;
use std::time::{Duration, Instant};

const W: u32 = 1280;
const H: u32 = 720;
const HOST_HZ: f64 = 440.0;
const GUEST_HZ: f64 = 1000.0;
const CALL_S: u64 = 15;

/// A network namespace with one end of a veth pair (`10.X.Y.2`), the other end here
/// (`10.X.Y.1`); removed (with the pair) on drop.
struct Link {
    ns: String,
    host_ip: String,
    /// The veth ends: here (towards the guest) and inside the namespace (towards the host).
    here: String,
    there: String,
}

fn run_ok(mut c: Command, what: &str) -> String {
    let d = exec(
        {
            c.stdin(std::process::Stdio::null());
            c
        },
        Duration::from_secs(10),
    );
    assert!(
        d.success(),
        "{what}: {} (needs root, iproute2 and nftables: apt-get install -y iproute2 nftables)",
        d.stderr
    );
    d.stdout_str()
}

fn ip(args: &[&str]) {
    let mut c = Command::new("ip");
    c.args(args);
    run_ok(c, &format!("ip {}", args.join(" ")));
}

impl Link {
    fn new() -> Link {
        let id = std::process::id();
        let ns = format!("mqice{id}");
        let (here, there) = (format!("mqi{id}h"), format!("mqi{id}v"));
        let net = format!("10.214.{}", id % 250 + 1);
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", &ns]);
        let link = Link {
            ns: ns.clone(),
            host_ip: format!("{net}.1"),
            here: here.clone(),
            there: there.clone(),
        };
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        ip(&["link", "set", &there, "netns", &ns]);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &here]);
        ip(&["link", "set", &here, "up"]);
        let inner = format!("{net}.2/24");
        for args in [
            ["addr", "add", inner.as_str(), "dev", there.as_str()],
            ["link", "set", there.as_str(), "up", ""],
            ["link", "set", "lo", "up", ""],
        ] {
            let mut a = vec!["netns", "exec", &ns, "ip"];
            a.extend(args.iter().filter(|s| !s.is_empty()));
            ip(&a);
        }
        link
    }

    /// `nft` inside the namespace.
    fn nft(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "nft"]).args(args);
        run_ok(c, &format!("nft {}", args.join(" ")))
    }

    /// Drops `pct` % of the UDP packets coming into and going out of the namespace, counted.
    fn lose_udp(&self, pct: u32) {
        self.nft(&["add", "table", "inet", "mqloss"]);
        for (chain, hook) in [("in", "input"), ("out", "output")] {
            self.nft(&[
                "add",
                "chain",
                "inet",
                "mqloss",
                chain,
                &format!("{{ type filter hook {hook} priority 0; }}"),
            ]);
            self.nft(&[
                "add",
                "rule",
                "inet",
                "mqloss",
                chain,
                "meta",
                "l4proto",
                "udp",
                "counter",
                "numgen",
                "random",
                "mod",
                "100",
                "<",
                &pct.to_string(),
                "counter",
                "drop",
            ]);
        }
    }

    /// Limits the link to `kbit` kbit/s each way (tbf on both veth ends: the guest's uplink
    /// and its return feed), with a 400 ms queue before packets are dropped.
    fn shape(&self, kbit: u32) {
        let args = |dev: &str| {
            [
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                "32kbit",
                "latency",
                "400ms",
            ]
            .map(str::to_string)
        };
        let mut c = Command::new("tc");
        c.args(args(&self.here));
        run_ok(c, "tc qdisc … tbf (here)");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "tc"])
            .args(args(&self.there));
        run_ok(c, "tc qdisc … tbf (in the namespace)");
    }

    /// `(seen, dropped)` UDP packets per direction (`in`, `out`) from the rules' counters.
    fn udp_counts(&self) -> Vec<(String, u64, u64)> {
        let text = self.nft(&["list", "table", "inet", "mqloss"]);
        let mut out = Vec::new();
        let mut chain = String::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(c) = l.strip_prefix("chain ") {
                chain = c.trim_end_matches(" {").to_string();
            }
            let packets: Vec<u64> = l
                .split("counter packets ")
                .skip(1)
                .filter_map(|s| s.split_whitespace().next()?.parse().ok())
                .collect();
            if let [seen, dropped] = packets[..] {
                out.push((chain.clone(), seen, dropped));
            }
        }
        out
    }

    /// `c` run inside the namespace (same program, arguments and environment).
    fn inside(&self, c: Command) -> Command {
        let mut n = Command::new("ip");
        n.args(["netns", "exec", &self.ns])
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                n.env(k, v);
            }
        }
        n
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair (and its nftables) with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

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
    let link = Link::new();
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
    let link = Link::new();
    link.shape(1000);
    call_over(&link, "narrow");
}
