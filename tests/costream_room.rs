//! Co-stream guests signalling through the host's room, end to end, as the app does it: the
//! show engine's room (`marquee_show::room`) and a show with a guest slot whose co-stream host
//! takes its guests through that room (`HostRoom::open_guests`). The native guest (`marquee
//! guest join`) joins from the room's link and is seen (its frame codes) and heard (its tone)
//! in the stream at a real nginx-rtmp.
//!
//! * Embedded: the room server in this process serves the invite routes under the room,
//!   `{viewer_url}/join/TOKEN`, over the show's co-stream host.
//! * Hosted: `marquee room serve` behind a real nginx TLS front; the host joins with its host
//!   key over wss and the room server relays the guest's WHIP requests to it over that
//!   WebSocket; the guest's link is `https://localhost:PORT/room/NAME/join/TOKEN`. The guest
//!   page loads through the proxy too. Media goes from the guest to the host directly.

#![allow(clippy::unwrap_used)]

use marquee_e2e::{
    Nginx, RoomProxy, RoomServer, Run, assert_exited_ok, decode_audio_mono, frame_codes_in,
    free_port, guest_link, heavy, marquee, marquee_in, tempdir, tone_level, wait_until,
};
use marquee_room::client::ClientEvent;
use marquee_show::room::{HostRoom, RoomPlan};
use marquee_show::{GuestSettings, HighlightSettings, Observer, Show, ShowSettings, ShowStats};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const W: u32 = 1280;
const H: u32 = 720;
const HOST_HZ: f64 = 440.0;
const GUEST_HZ: f64 = 1000.0;

struct Quiet;
impl Observer for Quiet {
    fn event(&self, _: &marquee_studio::Event) {}
    fn stats(&self, _: &ShowStats) {}
}

/// This machine's address towards the outside (the guest's media goes to it).
fn outward_address() -> IpAddr {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("192.0.2.1:9").ok();
    let ip = s.local_addr().unwrap().ip();
    assert!(
        !ip.is_unspecified() && !ip.is_loopback(),
        "the co-stream test needs a non-loopback network address with a route"
    );
    ip
}

/// A show with one guest slot, streaming to `url`; its media on `addresses` (empty: every
/// address of this machine, loopback included).
fn start_show(url: &str, addresses: Vec<IpAddr>) -> Arc<Show> {
    let settings = ShowSettings {
        audio: format!("tone:{HOST_HZ}"),
        width: W,
        height: H,
        fps: 30,
        bitrate_kbps: 2500,
        preset: "ultrafast".into(),
        destinations: vec![marquee_studio::url::DestinationUrl::parse(url).unwrap()],
        highlights: HighlightSettings {
            replay_seconds: 0,
            ..Default::default()
        },
        guests: GuestSettings {
            slots: 1,
            addresses,
            ..Default::default()
        },
        ..Default::default()
    };
    let keychain = marquee_profile::Keychain::new("marquee-e2e-costream-room");
    Show::start(&settings, &keychain, Arc::new(Quiet)).unwrap()
}

/// The host's room as the app starts it; the receiver hears of each join.
async fn start_room(
    data: &Path,
    plan: RoomPlan,
) -> (HostRoom<()>, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let room = marquee_show::room::start(
        data,
        plan,
        |_| {},
        |ev| match ev {
            ClientEvent::Joined { .. } => vec![()],
            _ => vec![],
        },
        move |e, _| {
            let _ = tx.send(e);
        },
    )
    .await
    .unwrap();
    (room, rx)
}

/// The guest joins from `link` for 8 s with test card 2 and its tone; extra args first.
fn guest_joins(home: &Path, link: &str, extra: &[&str]) -> Run {
    let mut g = marquee_in(home);
    g.args(["guest", "join", link])
        .args(extra)
        .args(["--video", "test:2", "--audio", &format!("tone:{GUEST_HZ}")])
        .args(["--name", "Ada", "--duration", "8s"]);
    let mut guest = Run::spawn(g);
    guest.wait(Duration::from_secs(60));
    assert_exited_ok(&guest);
    assert!(
        (guest.stdout() + &guest.stderr()).contains("on air as guest 1"),
        "{}",
        guest.report()
    );
    guest
}

/// The stream at the server: the guest's card in the right half (side by side) while they
/// were on, and their tone in the program.
fn assert_guest_in_the_stream(nginx: &mut Nginx, name: &str) {
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop();
    let recs = nginx.recordings_of(name);
    assert_eq!(recs.len(), 1, "one uninterrupted publish: {recs:?}");
    let rows = frame_codes_in(&recs[0], W, H, &[(640, 180, 640, 360)]);
    let mut guest: Vec<u64> = rows
        .iter()
        .filter_map(|r| r[0].map(|c| c.index))
        .filter(|c| *c >= 2_000_000)
        .collect();
    guest.dedup();
    assert!(
        guest.len() >= 120,
        "the guest's card moves in {} of {} frames (8 s on air ≈ 240)",
        guest.len(),
        rows.len()
    );
    // Seconds in which the guest's tone is within 20 dB of the host's (without the guest, a
    // 1 kHz component of the host's 440 Hz tone is far below that).
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
    let heard = levels.iter().filter(|(g, h)| *g * 100.0 > *h).count();
    assert!(
        heard >= 5,
        "the guest's tone is in the mix for {heard} s of an 8 s call: {levels:?}"
    );
}

#[test]
fn a_native_guest_joins_through_the_embedded_room_link_and_is_seen_and_heard_in_the_stream() {
    let _g = heavy();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-costream-embedded-");
    let ip = outward_address();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The room on the local network, as "Local network" starts it (a free port).
    let plan = RoomPlan::Embedded {
        listen: SocketAddr::new(ip, 0),
        fixed: false,
    };
    let (room, _joins) = rt.block_on(start_room(&home.path().join("room"), plan));
    let show = start_show(&nginx.url("embedded"), vec![ip]);
    let cohost = show.cohost().unwrap().clone();
    rt.block_on(room.open_guests(&cohost));
    let links = marquee_show::invites::invite_every_slot(&cohost).unwrap();
    let link = &links[0].1;
    assert_eq!(
        link.rsplit_once('/').unwrap().0,
        format!("{}/join", room.address.viewer_url),
        "the link is under the room's viewer URL"
    );
    guest_joins(home.path(), link, &[]);
    show.stop().unwrap();
    rt.block_on(async {
        room.close_guests().await;
        room.stop().await;
    });
    assert_guest_in_the_stream(&mut nginx, "embedded");
}

fn host_key(dir: &Path, room: &str) -> String {
    let out = marquee()
        .args([
            "room", "token", "--room", room, "--user", "host", "--role", "host",
        ])
        .args(["--ttl", "1d", "--secret-file"])
        .arg(dir.join("room.secret"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `curl` through the proxy, trusting its CA: status and body.
fn curl(ca: &Path, url: &str) -> (u16, String) {
    let out = std::process::Command::new(marquee_e2e::program("curl"))
        .args(["-s", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn a_native_guest_joins_through_a_hosted_room_behind_tls_and_is_seen_and_heard_in_the_stream() {
    let _g = heavy();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-costream-hosted-");
    let front = free_port();
    let server = RoomServer::start_behind_proxy(home.path(), front);
    let addr = server.addr();
    let proxy = RoomProxy::start(&[(front, addr)]);
    let key = host_key(home.path(), "premiere");
    let url = format!("https://localhost:{front}");
    let plan = RoomPlan::Hosted {
        viewer_url: format!("{url}/room/premiere"),
        ws_url: format!("wss://localhost:{front}/room/premiere/ws"),
        host_key: key,
        ca_pem: Some(proxy.ca_pem()),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (room, mut joins) = rt.block_on(start_room(&home.path().join("app"), plan));
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), joins.recv())
            .await
            .expect("the host joined its hosted room")
    });
    // The native guest offers the address that routes to the link's host (here the proxy on
    // loopback): the show offers loopback too, as for any guest on the same machine.
    let show = start_show(&nginx.url("hosted"), vec![]);
    let cohost = show.cohost().unwrap().clone();
    rt.block_on(room.open_guests(&cohost));
    let links = marquee_show::invites::invite_every_slot(&cohost).unwrap();
    let link = links[0].1.clone();
    assert!(
        link.starts_with(&format!("{url}/room/premiere/join/")),
        "{link}"
    );
    // The room server has the host's door open once the invite's info comes back from it.
    let ca = proxy.ca_path();
    assert!(
        wait_until(Duration::from_secs(20), || curl(
            &ca,
            &format!("{link}/info")
        )
        .0 == 200),
        "the invite's info never came back through the room: {:?}",
        curl(&ca, &format!("{link}/info"))
    );
    let (status, page) = curl(&ca, &link);
    assert!(
        status == 200 && page.contains("join.js"),
        "{status}: {page}"
    );
    let (status, _) = curl(&ca, &format!("{url}/room/premiere/join/assets/join.js"));
    assert_eq!(status, 200, "the page's script through the proxy");

    guest_joins(home.path(), &link, &["--ca-file", ca.to_str().unwrap()]);
    show.stop().unwrap();
    rt.block_on(async {
        room.close_guests().await;
        room.stop().await;
    });
    // With the show gone, the room refuses guests: the host is not live.
    let (status, body) = curl(&ca, &format!("{link}/info"));
    assert!(
        status == 503 && body.contains("host_not_live"),
        "{status}: {body}"
    );
    assert_guest_in_the_stream(&mut nginx, "hosted");
}

#[test]
fn marquee_live_joined_as_the_rooms_host_prints_links_through_the_room_and_a_guest_joins_there() {
    let _g = heavy();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-costream-cli-room-");
    let front = free_port();
    let server = RoomServer::start_behind_proxy(home.path(), front);
    let addr = server.addr();
    let proxy = RoomProxy::start(&[(front, addr)]);
    let key = host_key(home.path(), "premiere");
    let ca = proxy.ca_path();
    let room_url = format!("https://localhost:{front}/room/premiere");
    let mut c = marquee_in(home.path());
    // The show's room connection trusts the proxy's CA as the OS's trust store would.
    c.env("SSL_CERT_FILE", &ca)
        .args([
            "live",
            "--video",
            "test",
            "--audio",
            &format!("tone:{HOST_HZ}"),
        ])
        .args(["--size", &format!("{W}x{H}"), "--fps", "30"])
        .args(["--preset", "ultrafast", "--replay-seconds", "0"])
        .args(["--to", &nginx.url("cli")])
        .args(["--danmaku-from", &room_url, "--danmaku-token", &key])
        .args(["--guests", "1", "--duration", "20s"]);
    let mut host = Run::spawn(c);
    let link = guest_link(&host, 1);
    assert!(link.starts_with(&format!("{room_url}/join/")), "{link}");
    assert!(
        wait_until(Duration::from_secs(20), || curl(
            &ca,
            &format!("{link}/info")
        )
        .0 == 200),
        "the invite's info never came back through the room\n{}",
        host.report()
    );
    guest_joins(home.path(), &link, &["--ca-file", ca.to_str().unwrap()]);
    host.wait(Duration::from_secs(90));
    assert_exited_ok(&host);
    assert!(
        host.stderr()
            .contains("guests: invite links through the room"),
        "{}",
        host.report()
    );
    assert_guest_in_the_stream(&mut nginx, "cli");
}
