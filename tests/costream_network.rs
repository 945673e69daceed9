//! Co-stream across a bad network: the native guest (`marquee guest join`) runs in a network
//! namespace of its own, joined to the host's by a veth pair, with nftables in the namespace
//! dropping about 5 % of the UDP packets each way (this kernel has no netem). The host is
//! `marquee live --guests 1` pushing to a real nginx-rtmp; the guest must stay on air for its
//! whole call, its picture keep arriving in the program (str0m's NACKs get most lost video
//! packets sent again; what stays lost costs a frame and a PLI for the next keyframe), and its
//! voice be heard (Opus concealment). Loss, PLIs and frames are printed from the host's quality
//! stats (`marquee guest list`). The same call also crosses a path emulated in user space
//! between two TUN devices (50 ms ± 20 ms each way, 2 % lost: the issue's bad network), which
//! is first checked with a UDP echo across it. On a clean veth, a native and a browser guest's
//! voice must meet its picture in the program (lip sync, read from the content: the tone's
//! marks and the frame codes). A guest losing 30 % harms neither the show nor the guest beside
//! it; guests behind firewalls reach the host through a real coturn (UDP, TCP, TLS, and the
//! relay the host names).

#![allow(clippy::unwrap_used)]

use marquee_e2e::linkem::Shape;
use marquee_e2e::{
    Chromium, NetLink as Link, Nginx, Run, assert_exited_ok, decode_audio_mono, exec,
    frame_codes_in, guest_link, heavy, mark_offsets, marquee_in, percentile, probe, program,
    silent_spans, tempdir, tone_level, tone_marks,
};
use std::process::Command;
use std::time::{Duration, Instant};

const W: u32 = 1280;
const H: u32 = 720;
const HOST_HZ: f64 = 440.0;
const GUEST_HZ: f64 = 1000.0;
const CALL_S: u64 = 15;

/// A call of `CALL_S` seconds from a native guest inside `link_net` to a host here that
/// streams to nginx-rtmp as `name`: the guest stays on air, its picture keeps arriving in the
/// program and its voice is heard. Prints the host's quality line for the guest; returns the
/// most resend requests (NACKs) a second it showed.
fn call_over(link_net: &Link, name: &str) -> f64 {
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
    let link = guest_link(&host, 1);
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
    let mut most_nacks = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(CALL_S + 30);
    while guest.try_wait().is_none() && Instant::now() < deadline {
        let mut l = marquee_in(home.path());
        l.args(["guest", "list", "--socket"]).arg(&socket);
        let d = exec(l, Duration::from_secs(10));
        if let Some(line) = d.stdout_str().lines().find(|l| l.contains("on_air")) {
            quality = line.to_string();
            let nacks = (line.split(" NACK/s").next())
                .and_then(|l| l.rsplit('%').next()?.trim().parse::<f64>().ok());
            most_nacks = most_nacks.max(nacks.unwrap_or(0.0));
        }
        std::thread::sleep(Duration::from_secs(1)); // the polling period of the quality stats
    }
    guest.wait(Duration::from_secs(30));
    eprintln!("host's view of the guest ({name}): {quality}");
    // The host's estimate of the guest's latency into the program is in the line.
    let latency: Option<u32> = quality
        .split("latency ≈")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    assert!(
        latency.is_some_and(|l| l < 5_000),
        "no latency estimate in the host's quality line: {quality}"
    );
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
    most_nacks
}

#[test]
fn a_native_guest_losing_five_percent_of_its_packets_stays_on_air_seen_and_heard() {
    let _g = heavy();
    let link = Link::start();
    link.lose_udp(5);
    let nacks = call_over(&link, "lossy");
    // What NACKs repaired does not count as loss; the host sees the uplink's loss here.
    assert!(nacks > 0.0, "the host's line never showed a resend request");
    let counts = link.loss_counts();
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

/// `marquee live` with no sound of its own recording its program to `show` (side by side
/// with one guest slot) for `seconds`, its guests reaching it on `link`'s host address.
fn lip_sync_host(link: &Link, home: &std::path::Path, show: &std::path::Path, seconds: u64) -> Run {
    let mut c = marquee_in(home);
    c.args(["live", "--video", "test", "--audio", "none"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .arg("--record")
        .arg(show)
        .args(["--guests", "1", "--guest-address", &link.host_ip])
        .args(["--duration", &format!("{seconds}s")]);
    Run::spawn(c)
}

/// Lip sync of the guest whose picture (codes from 2,000,000) is the right half of `show` and
/// whose tone is its only sound: from the third matched second on, the median and 4 seconds
/// in 5 within 40 ms (the issue's bound). `late(k)`: how much later than second k its picture
/// was made than its voice's mark, taken off. Returns the offsets by second.
fn assert_lip_sync(show: &std::path::Path, late: impl Fn(u64) -> f64) -> Vec<(u64, f64)> {
    let rows = frame_codes_in(show, W, H, &[(640, 180, 640, 360)]);
    let guest_pictures: Vec<_> = (rows.iter())
        .map(|r| r[0].filter(|g| g.index >= 2_000_000))
        .collect();
    let by_second: Vec<(u64, f64)> = (mark_offsets(show, &guest_pictures).into_iter())
        .map(|(k, ms)| (k, ms + late(k)))
        .collect();
    eprintln!("lip sync by the guest's second (ms, + = voice late): {by_second:.0?}");
    let first = by_second.first().map_or(0, |(k, _)| *k);
    let mut settled: Vec<f64> = (by_second.iter())
        .filter(|(k, _)| *k >= first + 3)
        .map(|(_, ms)| ms.abs())
        .collect();
    settled.sort_by(f64::total_cmp);
    // Which whole seconds reached the program, and where the tone's marks were heard: what
    // to look at when seconds go unmatched.
    let whole: Vec<u64> = (guest_pictures.iter().flatten())
        .filter(|c| c.session_ms % 1000 == 0)
        .map(|c| c.session_ms / 1000)
        .collect();
    let a0 = probe(show).audio.and_then(|a| a.start_time).unwrap_or(0.0);
    let marks: Vec<String> = (tone_marks(show, a0).iter())
        .map(|m| format!("{m:.2}"))
        .collect();
    let silences = silent_spans(&decode_audio_mono(show), 48_000.0, 0.02, 0.012);
    let seen = format!(
        "the guest's whole seconds in the program: {whole:?}; its tone's marks at {marks:?} s; \
         silences of 12 ms or more (start s, length s): {silences:.3?}"
    );
    eprintln!("{seen}");
    assert!(
        settled.len() as u64 >= CALL_S - 7,
        "only {} seconds of the {CALL_S} s call could be matched: {by_second:.0?}; {seen}",
        settled.len()
    );
    let within = settled.iter().filter(|ms| **ms <= 40.0).count();
    assert!(
        percentile(&settled, 0.5) <= 40.0 && within * 5 >= settled.len() * 4,
        "the guest's voice and picture must meet within 40 ms (median, and 4 seconds in 5): \
         {within} of {} within, by second {by_second:.0?}",
        settled.len()
    );
    by_second
}

/// Lip sync: the guest's tone is silent for 20 ms at each whole second of its session time and
/// the picture its camera stamped at that second shows the second; in the program the two must
/// meet within 40 ms (the issue's bound). The host has no sound of its own, so the program's
/// audio is the guest's tone alone. The first seconds after the guest comes on air are left
/// out: the host is still learning the path (the voice's placement and the pictures' lag settle
/// over the first 31 pictures and sender reports). Settled, a run's offset sits within one
/// program tick (0–33 ms, by where the guest's pictures fall between the compositor's ticks):
/// −1 to +31 ms in seven runs.
#[test]
fn a_native_guests_voice_meets_its_picture_in_the_program() {
    let _g = heavy();
    let link = Link::start();
    let home = tempdir("marquee-costream-lipsync-");
    let show = home.path().join("show.mkv");
    let mut host = lip_sync_host(&link, home.path(), &show, CALL_S + 12);
    let invite = guest_link(&host, 1);
    let mut g = marquee_in(home.path());
    g.args(["guest", "join", &invite, "--video", "test:2"])
        .args([
            "--mode",
            "640x360@30",
            "--audio",
            &format!("tone:{GUEST_HZ}"),
        ])
        .args(["--duration", &format!("{CALL_S}s")]);
    let mut guest = Run::spawn(link.inside(g));
    guest.wait(Duration::from_secs(CALL_S + 60));
    assert_exited_ok(&guest);
    host.wait(Duration::from_secs(CALL_S + 90));
    assert_exited_ok(&host);
    assert_lip_sync(&show, |_| 0.0);
}

/// The same in headless Chromium on the guest's network: the guest page's camera and
/// microphone made from one clock by a script run before the page (tests/support/
/// synced_media.js: the same frame codes and tone marks), joined by filling in a name and
/// pressing Join, on air for `CALL_S` seconds, then Leave. Its voice reaches the host through
/// Chromium's WebRTC (its Opus, its sender reports), so this is the browser guests' lip sync.
#[test]
fn a_browser_guests_voice_meets_its_picture_in_the_program() {
    let _g = heavy();
    let link = Link::start();
    let home = tempdir("marquee-costream-lipsync-browser-");
    let show = home.path().join("show.mkv");
    let mut host = lip_sync_host(&link, home.path(), &show, 600);
    let invite = guest_link(&host, 1);
    let origin = invite
        .split("/join/")
        .next()
        .unwrap_or_default()
        .to_string();
    let mut chromium = Chromium::start_with(
        link.inside(Command::new(program("chromium"))),
        &[
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-background-timer-throttling",
            // The CLI serves its links over plain http (a deployment puts TLS in front).
            &format!("--unsafely-treat-insecure-origin-as-secure={origin}"),
        ],
    );
    let page = (chromium.open(&invite, Some(include_str!("support/synced_media.js"))))
        .unwrap_or_else(|e| panic!("open {invite}: {e}"));
    let state = "document.body && document.body.dataset.state";
    // What the page was doing, for a failure: its state, the join button, the synced media.
    let report = "JSON.stringify({ state: document.body && document.body.dataset.state, \
                  join_disabled: document.getElementById('join')?.disabled, \
                  synced: window.marqueeSynced, error: window.marqueeSyncedError })";
    let step = |c: &mut Chromium, expression: &str, secs: u64| {
        if let Err(e) = c.wait_for(&page, expression, report, Duration::from_secs(secs)) {
            panic!("{e}\n{}", host.report());
        }
    };
    // Join is enabled once the camera and microphone are open.
    step(
        &mut chromium,
        &format!("{state} === 'preview' && !document.getElementById('join').disabled"),
        30,
    );
    chromium
        .eval(
            &page,
            "const n = document.getElementById('name'); n.value = 'Lip'; \
             n.dispatchEvent(new Event('input', { bubbles: true })); \
             document.getElementById('join').click(); true",
        )
        .unwrap();
    step(&mut chromium, &format!("{state} === 'on_air'"), 30);
    let on_air = chromium.eval(&page, "window.marqueeSynced.second").unwrap();
    let until = on_air.as_u64().unwrap_or(0) + CALL_S;
    step(
        &mut chromium,
        &format!("window.marqueeSynced.second >= {until}"),
        CALL_S + 30,
    );
    let synced = chromium.eval(&page, "window.marqueeSynced").unwrap();
    chromium
        .eval(&page, "document.getElementById('leave').click(); true")
        .unwrap();
    step(&mut chromium, &format!("{state} === 'left'"), 15);
    drop(chromium);
    host.interrupt(Duration::from_secs(30));
    assert_exited_ok(&host);
    eprintln!(
        "the page's clocks: performance.now() − AudioContext.currentTime {} ms",
        synced["offsetMs"]
    );
    assert_lip_sync(&show, |k| {
        synced["late"][k.to_string()].as_f64().unwrap_or(0.0)
    });
}

/// The issue's bad network, each way: 50 ms ± 20 ms, 2 % lost.
fn bad_path() -> Shape {
    Shape::new(Duration::from_millis(50), Duration::from_millis(20), 2.0)
}

#[test]
fn the_emulated_path_holds_each_packet_its_delay_and_loses_its_share_each_way() {
    let shape = Shape::new(Duration::from_millis(50), Duration::from_millis(20), 10.0);
    let link = Link::start_emulated(shape, shape);
    let echo = std::net::UdpSocket::bind((link.host_ip.as_str(), 0)).unwrap();
    let to = echo.local_addr().unwrap();
    let echoer = std::thread::spawn(move || {
        echo.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            echo.send_to(&buf[..n], from).unwrap();
        }
    });
    let inside = link.udp_socket_inside();
    inside.connect(to).unwrap();
    let sent = 1000u32;
    let sending = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    // Echoes are taken as they come (a socket buffer left unread would drop them).
    let receiver = {
        let (rx, sending) = (inside.try_clone().unwrap(), sending.clone());
        std::thread::spawn(move || {
            rx.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let (mut got, mut buf) = (Vec::new(), [0u8; 64]);
            loop {
                match rx.recv(&mut buf) {
                    Ok(n) => got.push((
                        u32::from_be_bytes(buf[..4.min(n)].try_into().unwrap()),
                        Instant::now(),
                    )),
                    // Quiet for a second after the last send: the path (≤ 70 ms a way, both
                    // ways) has long been empty, even with the test's threads held up a while.
                    Err(_) if !sending.load(std::sync::atomic::Ordering::Relaxed) => return got,
                    Err(_) => {}
                }
            }
        })
    };
    let t0 = Instant::now();
    let stamps: Vec<Instant> = (0..sent)
        .map(|i| {
            let at = Instant::now();
            inside.send(&i.to_be_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(1)); // the send rate, not a wait
            at
        })
        .collect();
    sending.store(false, std::sync::atomic::Ordering::Relaxed);
    let rtts: Vec<Duration> = (receiver.join().unwrap().into_iter())
        .map(|(i, at)| at - stamps[i as usize])
        .collect();
    echoer.join().unwrap();
    let (up, down) = link.emulated_counts().unwrap();
    let got = rtts.len() as u32;
    let min = rtts.iter().min().copied().unwrap_or_default();
    let max = rtts.iter().max().copied().unwrap_or_default();
    println!(
        "{got} of {sent} echoes in {:?}; round trip {min:?}–{max:?}; up {up:?}, down {down:?}",
        t0.elapsed()
    );
    // Two passes at 10 % each: 190 lost on average, a standard deviation of about 12.
    assert!(
        (100..300).contains(&(sent - got)),
        "lost {} of {sent}",
        sent - got
    );
    assert!(up.lost + down.lost >= u64::from(sent - got));
    // Held at least delay − jitter each way, never less; and held differently.
    assert!(
        min >= Duration::from_millis(60),
        "shortest round trip {min:?}"
    );
    assert!(
        max - min > Duration::from_millis(10),
        "no jitter: {min:?}–{max:?}"
    );
}

#[test]
fn a_native_guest_on_a_delayed_jittery_lossy_path_stays_on_air_seen_and_heard() {
    let _g = heavy();
    let link = Link::start_emulated(bad_path(), bad_path());
    let nacks = call_over(&link, "badpath");
    assert!(nacks > 0.0, "the host's line never showed a resend request");
    let (up, down) = link.emulated_counts().unwrap();
    println!("the path: up {up:?}, down {down:?}");
    assert!(up.lost > 0 && down.lost > 0, "the path lost nothing");
}

/// Whether a STUN Binding request to `server` is answered within 300 ms.
fn stun_answers(server: std::net::SocketAddr) -> bool {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut req = [0u8; 20];
    req[1] = 1; // Binding request
    req[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
    req[8..20].copy_from_slice(&fastrand::u128(..).to_be_bytes()[..12]);
    let _ = s.send_to(&req, server);
    let mut buf = [0u8; 512];
    matches!(s.recv_from(&mut buf), Ok((n, _)) if n >= 20 && buf[0..2] == [1, 1] && buf[8..20] == req[8..20])
}

/// Runs `ip` with `args`; panics with its error.
fn ip(args: &[&str]) {
    let mut c = std::process::Command::new("ip");
    c.args(args);
    let d = exec(c, Duration::from_secs(10));
    assert!(d.success(), "ip {}: {}", args.join(" "), d.stderr);
}

/// A host behind a NAT: namespace `h` (the host, `10.231.N.2`) routes through namespace `r`
/// (the router: forwarding on, nftables masquerading whatever leaves on its outside end,
/// `10.230.N.1`) to this namespace (`10.230.N.2`, "the internet"). Removed on drop.
struct Nat {
    h: String,
    r: String,
    outside_here: String,
    router_outside: String,
    host_inside: String,
}

impl Nat {
    fn start() -> Nat {
        let pid = std::process::id();
        let n = pid % 250 + 1;
        let (h, r) = (format!("mqnath{pid}"), format!("mqnatr{pid}"));
        let (o_here, o_r) = (format!("mqn{pid}o"), format!("mqn{pid}r"));
        let (i_r, i_h) = (format!("mqn{pid}i"), format!("mqn{pid}h"));
        for ns in [&h, &r] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(std::process::Stdio::null())
                .status();
            ip(&["netns", "add", ns]);
        }
        let nat = Nat {
            h: h.clone(),
            r: r.clone(),
            outside_here: format!("10.230.{n}.2"),
            router_outside: format!("10.230.{n}.1"),
            host_inside: format!("10.231.{n}.2"),
        };
        ip(&["link", "add", &o_here, "type", "veth", "peer", "name", &o_r]);
        ip(&["link", "set", &o_r, "netns", &r]);
        ip(&["addr", "add", &format!("10.230.{n}.2/24"), "dev", &o_here]);
        ip(&["link", "set", &o_here, "up"]);
        ip(&[
            "-n", &r, "link", "add", &i_r, "type", "veth", "peer", "name", &i_h,
        ]);
        ip(&["-n", &r, "link", "set", &i_h, "netns", &h]);
        ip(&[
            "-n",
            &r,
            "addr",
            "add",
            &format!("10.230.{n}.1/24"),
            "dev",
            &o_r,
        ]);
        ip(&[
            "-n",
            &r,
            "addr",
            "add",
            &format!("10.231.{n}.1/24"),
            "dev",
            &i_r,
        ]);
        for dev in [o_r.as_str(), i_r.as_str(), "lo"] {
            ip(&["-n", &r, "link", "set", dev, "up"]);
        }
        ip(&[
            "-n",
            &h,
            "addr",
            "add",
            &format!("10.231.{n}.2/24"),
            "dev",
            &i_h,
        ]);
        ip(&["-n", &h, "link", "set", &i_h, "up"]);
        ip(&["-n", &h, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &h,
            "route",
            "add",
            "default",
            "via",
            &format!("10.231.{n}.1"),
        ]);
        // The router: forwarding is per namespace; masquerade on the way out.
        for args in [
            vec!["sysctl", "-qw", "net.ipv4.ip_forward=1"],
            vec!["nft", "add", "table", "ip", "mqnat"],
            vec![
                "nft",
                "add chain ip mqnat post { type nat hook postrouting priority 100; }",
            ],
            vec![
                "nft",
                "add",
                "rule",
                "ip",
                "mqnat",
                "post",
                "oifname",
                &o_r,
                "masquerade",
            ],
        ] {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", &r]).args(&args);
            let d = exec(c, Duration::from_secs(10));
            assert!(d.success(), "{args:?} in the router: {}", d.stderr);
        }
        nat
    }

    /// `c` run inside the host's namespace (same program, arguments and environment).
    fn inside(&self, c: std::process::Command) -> std::process::Command {
        let mut n = std::process::Command::new("ip");
        n.args(["netns", "exec", &self.h])
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

impl Drop for Nat {
    fn drop(&mut self) {
        for ns in [&self.h, &self.r] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .status();
        }
    }
}

#[test]
fn a_host_behind_a_nat_offers_the_nats_outside_address_that_a_real_stun_server_saw() {
    let _g = heavy();
    let nat = Nat::start();
    let home = tempdir("marquee-costream-nat-");
    // coturn here, "on the internet", answering STUN (no relay, no users needed for it).
    let port = {
        let s = std::net::UdpSocket::bind((nat.outside_here.as_str(), 0)).unwrap();
        s.local_addr().unwrap().port()
    };
    let mut t = std::process::Command::new(marquee_e2e::program("turnserver"));
    t.args(["-n", "--listening-ip", &nat.outside_here])
        .args(["--listening-port", &port.to_string()])
        .args(["--no-tls", "--no-dtls", "--no-cli", "--no-auth"])
        .args(["--log-file", "stdout", "--simple-log"])
        .arg("--pidfile")
        .arg(home.path().join("turn.pid"))
        .arg("--userdb")
        .arg(home.path().join("turndb"));
    let mut turn = Run::spawn(t);
    let server: std::net::SocketAddr = format!("{}:{port}", nat.outside_here).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !stun_answers(server) {
        assert!(
            Instant::now() < deadline && turn.try_wait().is_none(),
            "coturn did not answer STUN: {}",
            turn.report()
        );
    }

    let mut c = marquee_in(home.path());
    c.env("MARQUEE_LOG", "marquee_costream=info,warn")
        .env("MARQUEE_CONTROL", home.path().join("live.sock"))
        .args([
            "live", "--video", "test", "--audio", "tone", "--size", "640x360",
        ])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .arg("--record")
        .arg(home.path().join("show.mkv"))
        .args(["--guests", "1", "--guest-address", &nat.host_inside])
        .args(["--stun", &format!("stun:{}:{port}", nat.outside_here)])
        .args(["--duration", "20s"]);
    let mut host = Run::spawn(nat.inside(c));
    let link = guest_link(&host, 1);
    assert!(
        host.wait_for_stderr("beyond its NAT", Duration::from_secs(10)),
        "the host never heard from the STUN server: {}\n{}",
        host.report(),
        turn.report()
    );
    // A guest's offer (str0m's, as `marquee guest join` makes it), posted from the host's side.
    let offer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/costream/corpus/whip_offer/str0m_guest_vp8");
    let mut curl = std::process::Command::new("curl");
    curl.args([
        "-s",
        "--max-time",
        "10",
        "-H",
        "Content-Type: application/sdp",
    ])
    .arg("--data-binary")
    .arg(format!("@{}", offer.display()))
    .arg(format!("{link}/whip"));
    let d = exec(nat.inside(curl), Duration::from_secs(20));
    let answer = d.stdout_str();
    let srflx = answer
        .lines()
        .find(|l| l.contains("typ srflx"))
        .unwrap_or_else(|| panic!("no server-reflexive candidate in the answer:\n{answer}"));
    eprintln!("{srflx}");
    assert!(
        srflx.contains(&format!(" {} ", nat.router_outside)),
        "the srflx is the NAT's outside address {}: {srflx}",
        nat.router_outside
    );
    assert!(
        answer.contains(&format!(" {} ", nat.host_inside)) && answer.contains("typ host"),
        "the host candidate stays: {answer}"
    );
    host.interrupt(Duration::from_secs(30));
    assert_exited_ok(&host);
    turn.interrupt(Duration::from_secs(10));
}

#[test]
fn a_native_guest_whose_network_lets_only_a_turn_relay_through_is_seen_in_the_show() {
    relayed_native_call(Relayed::Udp);
}

#[test]
fn a_native_guest_whose_network_lets_no_udp_out_reaches_the_turn_relay_over_tcp_and_is_seen() {
    relayed_native_call(Relayed::Tcp);
}

#[test]
fn a_native_guest_whose_network_lets_no_udp_out_reaches_the_turn_relay_over_tls_and_is_seen() {
    relayed_native_call(Relayed::Tls);
}

#[test]
fn a_native_guest_takes_the_relay_the_host_names_when_only_the_relay_gets_through() {
    relayed_native_call(Relayed::NamedByHost);
}

/// How the relayed guest of [`relayed_native_call`] reaches its relay.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Relayed {
    /// `--turn turn:…` over UDP.
    Udp,
    /// `--turn turn:…?transport=tcp`, no UDP out at all.
    Tcp,
    /// `--turn turns:…` (TLS, the server's certificate from a CA the guest is given), no UDP
    /// out at all.
    Tls,
    /// No `--turn`: the relay the host names in the invite's info (`--guest-turn`, its
    /// credential in the host's OS keychain), over UDP.
    NamedByHost,
}

/// A native guest whose firewall lets nothing through to the host but the TURN server: its
/// UDP port, or no UDP at all (the relay reached over TCP or TLS).
fn relayed_native_call(how: Relayed) {
    let _g = heavy();
    let link_net = Link::start();
    let home = tempdir("marquee-costream-turn-");
    let secret = format!("s{:016x}", fastrand::u64(..));
    let ip = link_net.host_ip.as_str();
    let port = (std::net::UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap())
    .port();
    let tls_port = (std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap())
    .port();
    let low = 42000 + (std::process::id() % 200) as u16 * 50;
    let mut t = std::process::Command::new(marquee_e2e::program("turnserver"));
    t.args([
        "-n",
        "--listening-ip",
        &link_net.host_ip,
        "--relay-ip",
        &link_net.host_ip,
    ])
    .args(["--listening-port", &port.to_string()])
    .args([
        "--min-port",
        &low.to_string(),
        "--max-port",
        &(low + 49).to_string(),
    ])
    .args(["--lt-cred-mech", "--user", &format!("guest:{secret}")])
    .args(["--realm", "marquee.test", "--no-dtls", "--no-cli"]);
    if how == Relayed::Tls {
        marquee_e2e::make_certificates(home.path(), &[&link_net.host_ip]);
        t.args(["--tls-listening-port", &tls_port.to_string()])
            .arg("--cert")
            .arg(home.path().join("server.pem"))
            .arg("--pkey")
            .arg(home.path().join("server.key"));
    } else {
        t.arg("--no-tls");
    }
    t.args(["--no-tcp-relay", "--log-file", "stdout", "--simple-log"])
        .arg("--pidfile")
        .arg(home.path().join("turn.pid"))
        .arg("--userdb")
        .arg(home.path().join("turndb"));
    let mut turn = Run::spawn(t);
    let server: std::net::SocketAddr = format!("{}:{port}", link_net.host_ip).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !stun_answers(server) {
        assert!(
            Instant::now() < deadline && turn.status().is_none(),
            "coturn did not answer: {}",
            turn.report()
        );
    }
    if how == Relayed::Tls {
        let deadline = Instant::now() + Duration::from_secs(15);
        let tls_at = format!("{}:{tls_port}", link_net.host_ip);
        while std::net::TcpStream::connect(&tls_at).is_err() {
            assert!(
                Instant::now() < deadline && turn.status().is_none(),
                "coturn did not listen for TLS on {tls_at}: {}",
                turn.report()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The guest's network lets nothing through to the host but the relay's port; over TCP or
    // TLS no UDP at all (port 9, discard, is used by nobody here).
    let udp_open = match how {
        Relayed::Udp | Relayed::NamedByHost => port,
        Relayed::Tcp | Relayed::Tls => 9,
    };
    link_net.block_udp_to(&link_net.host_ip, udp_open);

    let show = home.path().join("show.mkv");
    let mut c = marquee_in(home.path());
    c.env("MARQUEE_CONTROL", home.path().join("live.sock"))
        .args(["live", "--video", "test", "--audio", "tone"])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .arg("--record")
        .arg(&show)
        .args(["--guests", "1", "--guest-address", &link_net.host_ip])
        .args(["--duration", "25s"]);
    let _keychain = (how == Relayed::NamedByHost).then(|| {
        let kc = marquee_e2e::Keychain::start();
        let mut set = marquee_in(home.path());
        set.envs(kc.env()).args(["key", "set", "turnpw"]);
        let done = marquee_e2e::exec_with_input(set, secret.as_bytes(), Duration::from_secs(30));
        assert!(done.success(), "marquee key set: {}", done.all_output());
        c.envs(kc.env())
            .args(["--guest-turn", &format!("turn:{server}")])
            .args(["--guest-turn-user", "guest"])
            .args(["--guest-turn-credential", "key:turnpw"]);
        kc
    });
    let mut host = Run::spawn(c);
    let link = guest_link(&host, 1);
    let mut g = marquee_in(home.path());
    g.args([
        "guest", "join", &link, "--video", "test:2", "--audio", "none",
    ])
    .args(["--duration", "8s"]);
    let relay_url = match how {
        Relayed::Udp => Some(format!("turn:{server}?transport=udp")),
        Relayed::Tcp => Some(format!("turn:{server}?transport=tcp")),
        Relayed::Tls => Some(format!("turns:{}:{tls_port}", link_net.host_ip)),
        Relayed::NamedByHost => None,
    };
    if let Some(url) = &relay_url {
        g.env("MARQUEE_TURN_CREDENTIAL", &secret)
            .args(["--turn", url, "--turn-user", "guest"]);
    }
    if how == Relayed::Tls {
        g.arg("--ca-file").arg(home.path().join("ca.pem"));
    }
    let mut guest = Run::spawn(link_net.inside(g));
    guest.wait(Duration::from_secs(60));
    assert_exited_ok(&guest);
    assert!(
        guest.stderr().contains("on air as guest 1"),
        "{}\n{}",
        guest.report(),
        turn.report()
    );
    let said = match &relay_url {
        Some(url) => format!("the relay {url} gave the address"),
        None => format!("the host's relay turn:{server} gave the address"),
    };
    assert!(
        guest.stderr().contains(&said),
        "the guest says which relay gave it an address ({said:?}): {}",
        guest.report()
    );
    for out in [guest.stderr(), guest.stdout(), host.stderr(), host.stdout()] {
        assert!(!out.contains(&secret), "the credential is never printed");
    }
    let blocked = link_net.blocked();
    eprintln!("direct UDP to the host dropped by the guest's firewall: {blocked} packets");
    assert!(
        blocked > 0,
        "the guest tried the direct path too (and the firewall stopped it)"
    );
    // The call is over: the show ends now rather than at its duration.
    host.interrupt(Duration::from_secs(30));
    assert_exited_ok(&host);
    turn.interrupt(Duration::from_secs(10));

    let rows = frame_codes_in(&show, W, H, &[(640, 180, 640, 360)]);
    let mut codes: Vec<u64> = rows
        .iter()
        .filter_map(|r| r[0].map(|c| c.index))
        .filter(|c| *c >= 2_000_000)
        .collect();
    codes.dedup();
    assert!(
        codes.len() >= 120,
        "the relayed guest's picture is in the program: {} distinct pictures in an 8 s call",
        codes.len()
    );
}

/// The issue: a guest who loses 30 % of its packets is shown as their last picture, then the
/// slate within a second, while the output cadence, the other guests and the RTMP stream go
/// on untouched. Two native guests side by side (a scene naming both slots): guest 1 on a
/// clean path, guest 2 inside a namespace whose nftables drop 30 % of the UDP each way from
/// its first picture in the program on.
#[test]
fn a_guest_losing_thirty_percent_of_its_packets_harms_neither_the_show_nor_the_other_guest() {
    let _g = heavy();
    let link_net = Link::start();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-costream-thirty-");
    let summary = home.path().join("summary.json");
    let url = nginx.url("thirty");
    let mut c = marquee_in(home.path());
    c.env("MARQUEE_CONTROL", home.path().join("live.sock"))
        .args(["live", "--video", "test", "--audio"])
        .arg(format!("tone:{HOST_HZ}"))
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--bitrate", "2500", "--preset", "ultrafast"])
        .args(["--to", &url, "--replay-seconds", "0"])
        .args(["--guests", "2", "--guest-address", &link_net.host_ip])
        .args(["--scene", "pair=side:guest1,guest2"])
        .arg("--summary-json")
        .arg(&summary)
        .args(["--duration", "32s"]);
    let mut host = Run::spawn(c);
    let (clean_link, lossy_link) = (guest_link(&host, 1), guest_link(&host, 2));
    // 15 pictures a second each: three encoders and two decoders share this machine's 2 cores
    // with the host's own 720p30 encode, whose cadence is what is checked.
    let join = |link: &str, card: &str| {
        let mut g = marquee_in(home.path());
        g.args([
            "guest",
            "join",
            link,
            "--video",
            card,
            "--mode",
            "640x360@15",
        ])
        .args(["--audio", &format!("tone:{GUEST_HZ}")])
        .args(["--duration", &format!("{CALL_S}s")]);
        g
    };
    let mut clean = Run::spawn(join(&clean_link, "test:2"));
    let mut lossy = Run::spawn(link_net.inside(join(&lossy_link, "test:3")));
    // Guest 2 is seen first; then its network starts losing 30 % (a guest whose connection
    // goes bad mid-call: at that loss the bandwidth estimate collapses and few pictures pass).
    assert!(
        host.wait_for_stderr("guest2 is back", Duration::from_secs(30)),
        "{}\n{}",
        host.report(),
        lossy.report()
    );
    link_net.lose_udp(30);
    clean.wait(Duration::from_secs(CALL_S + 60));
    assert_exited_ok(&clean);
    lossy.wait(Duration::from_secs(CALL_S + 60));
    assert!(
        lossy.stderr().contains("on air as guest 2"),
        "the lossy guest came on air: {}",
        lossy.report()
    );
    host.interrupt(Duration::from_secs(30));
    assert_exited_ok(&host);
    eprintln!(
        "UDP in the lossy guest's namespace (direction, seen, dropped): {:?}",
        link_net.loss_counts()
    );

    // The show's cadence never broke, and the stream reached nginx as one publish.
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let v = &s["video"];
    assert_eq!(v["dropped"]["render_lag"], 0, "{v}");
    assert_eq!(v["dropped"]["encoder_lag"], 0, "{v}");
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop();
    let recs = nginx.recordings_of("thirty");
    assert_eq!(recs.len(), 1, "one uninterrupted publish: {recs:?}");
    let rows = frame_codes_in(&recs[0], W, H, &[(0, 180, 640, 360), (640, 180, 640, 360)]);
    // Each slot's runs of one picture: (first frame, picture or None, frames).
    let runs = |slot: usize, card: u64| {
        let mut runs: Vec<(usize, Option<u64>, usize)> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let code = r[slot]
                .filter(|c| c.index / 1_000_000 == card)
                .map(|c| c.index);
            match runs.last_mut() {
                Some(last) if last.1 == code => last.2 += 1,
                _ => runs.push((i, code, 1)),
            }
        }
        runs
    };
    let (clean_runs, lossy_runs) = (runs(0, 2), runs(1, 3));
    let on_air = |runs: &[(usize, Option<u64>, usize)]| {
        let shown: Vec<_> = runs.iter().filter(|r| r.1.is_some()).collect();
        (
            shown.len(),
            shown.first().map(|r| r.0),
            shown.last().map(|r| r.0),
        )
    };
    // The clean guest: new pictures all through its call, never held for half a second.
    let (n, first, last) = on_air(&clean_runs);
    let (first, last) = (first.expect("guest 1 in the program"), last.unwrap());
    let held = (clean_runs.iter())
        .filter(|r| r.0 > first && r.0 < last)
        .map(|r| r.2)
        .max()
        .unwrap_or(0);
    eprintln!(
        "guest 1 (clean): {n} pictures over {:.1} s, longest held {held} frames",
        (last - first) as f64 / 30.0
    );
    assert!(
        (last - first) as u64 >= 30 * (CALL_S - 4) && held <= 15,
        "the clean guest goes on untouched: {n} pictures over {} frames, one held {held} \
         frames\n{}",
        last - first,
        clean.report()
    );
    // The lossy guest: seen before the loss began, and a picture of theirs never held more
    // than ~1.2 s without the slate (no code in the slot) taking its place.
    let (n, _, _) = on_air(&lossy_runs);
    let longest = (lossy_runs.iter())
        .filter(|r| r.1.is_some())
        .map(|r| r.2)
        .max()
        .unwrap_or(0);
    let slate = (lossy_runs.iter())
        .filter(|r| r.1.is_none())
        .map(|r| r.2)
        .sum::<usize>();
    eprintln!(
        "guest 2 (30 % lost from its first picture on): {n} pictures, the longest held {longest} \
         frames, {slate} frames without its picture"
    );
    assert!(n >= 1, "the lossy guest was seen before its loss began");
    assert!(
        longest <= 36,
        "a picture of the lossy guest stayed {longest} frames (over 1.2 s) before the slate"
    );
}
