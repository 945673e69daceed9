//! The WHIP routes as a guest's browser or OBS meets them: a real CoHost served over HTTP on
//! loopback, every refusal of docs/costream.md answered with its status and JSON code, and a
//! real str0m offer answered with 201, an SDP answer and a Location that reports the state.

#![allow(clippy::unwrap_used)]

use marquee_capture::feed::Feeds;
use marquee_costream::guest::http::{Response, Tls, Url, request};
use marquee_costream::host::{CoHost, HostConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::Rtc;
use str0m::media::{Direction, MediaKind};

struct Served {
    host: Arc<CoHost>,
    base: String,
    _rt: tokio::runtime::Runtime,
}

fn serve(life: Duration) -> Served {
    serve_with(life, |_| {})
}

fn serve_with(life: Duration, tweak: impl FnOnce(&mut HostConfig)) -> Served {
    let mut cfg = HostConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        addresses: vec!["127.0.0.1".parse().unwrap()],
        slots: 2,
        invite_life: life,
        green_room: true,
        stun: None,
        guest_ice_servers: Vec::new(),
    };
    tweak(&mut cfg);
    let host = Arc::new(CoHost::start(cfg, Feeds::new()).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    rt.spawn(marquee_costream::signal::serve(listener, host.clone()));
    let base = format!("http://{addr}");
    host.set_base(&base);
    host.set_live(true);
    Served {
        host,
        base,
        _rt: rt,
    }
}

fn call(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Response {
    let tls = Tls::new(None).unwrap();
    request(&tls, method, &Url::parse(url).unwrap(), content_type, body).unwrap()
}

fn post(url: &str, body: &str) -> Response {
    call("POST", url, Some("application/sdp"), body.as_bytes())
}

fn code(r: &Response) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&r.body)));
    v["code"].as_str().unwrap_or_default().to_string()
}

/// A real offer, as a guest's str0m (or browser) makes it: video and audio, send and receive.
fn offer() -> String {
    marquee_costream::install_crypto();
    let mut rtc = Rtc::new(Instant::now());
    rtc.add_local_candidate(str0m::Candidate::host("127.0.0.1:9".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
    api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, _pending) = api.apply().unwrap();
    offer.to_sdp_string()
}

#[test]
fn every_refusal_has_its_status_and_code() {
    let s = serve(Duration::from_secs(3600));
    let invite = s.host.invite(1).unwrap();
    let whip = format!("{}/join/{}/whip", s.base, invite.token);
    let unknown = format!("{}/join/AAAAAAAAAAAAAAAAAAAAAA/whip", s.base);
    let r = post(&unknown, &offer());
    assert_eq!((r.status, code(&r)), (404, "invite_unknown".into()));
    let r = post(&format!("{}/join/short/whip", s.base), &offer());
    assert_eq!((r.status, code(&r)), (404, "invite_unknown".into()));
    let r = call("POST", &whip, Some("text/plain"), offer().as_bytes());
    assert_eq!((r.status, code(&r)), (415, "not_sdp".into()));
    let r = post(&whip, "v=0 this is not SDP");
    assert_eq!((r.status, code(&r)), (400, "bad_offer".into()));
    let big = "a".repeat(70 * 1024);
    let r = post(&whip, &big);
    assert_eq!((r.status, code(&r)), (413, "too_large".into()));
    s.host.set_live(false);
    let r = post(&whip, &offer());
    assert_eq!((r.status, code(&r)), (503, "host_not_live".into()));
    s.host.set_live(true);
    let revoked = s.host.invite(2).unwrap();
    s.host.revoke(&revoked.token);
    let r = post(&format!("{}/join/{}/whip", s.base, revoked.token), &offer());
    assert_eq!((r.status, code(&r)), (410, "invite_revoked".into()));
    let r = call(
        "GET",
        &format!("{}/join/{}/info", s.base, revoked.token),
        None,
        b"",
    );
    assert_eq!((r.status, code(&r)), (410, "invite_revoked".into()));
}

#[test]
fn an_offer_gets_an_answer_a_location_with_its_state_and_holds_the_slot_until_it_leaves() {
    let s = serve(Duration::from_secs(3600));
    let a = s.host.invite(1).unwrap();
    let b = s.host.invite(1).unwrap();
    let r = post(
        &format!("{}/join/{}/whip?name=%E5%B0%8F%E6%98%8E", s.base, a.token),
        &offer(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/sdp"));
    let answer = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        answer.contains("a=candidate") && answer.contains("127.0.0.1"),
        "{answer}"
    );
    let location = r.header("location").unwrap().to_string();
    let state_url = format!("{}{location}", s.base);
    let st: serde_json::Value =
        serde_json::from_slice(&call("GET", &state_url, None, b"").body).unwrap();
    assert_eq!(st["state"], "waiting", "{st}");
    assert_eq!(st["name"], "小明");
    assert_eq!(st["slot"], 1);
    // Another link to the same slot is refused while the first guest is on it.
    let r = post(&format!("{}/join/{}/whip", s.base, b.token), &offer());
    assert_eq!((r.status, code(&r)), (409, "slot_busy".into()));
    // The state is only for its own invite.
    let other = state_url.replace(&a.token, &b.token);
    assert_eq!(call("GET", &other, None, b"").status, 404);
    let session = s.host.guests()[0].session;
    s.host.admit(session).unwrap();
    let st: serde_json::Value =
        serde_json::from_slice(&call("GET", &state_url, None, b"").body).unwrap();
    assert_eq!(st["state"], "on_air");
    assert_eq!(call("DELETE", &state_url, None, b"").status, 200);
    assert!(s.host.guests().is_empty());
    let r = post(&format!("{}/join/{}/whip", s.base, b.token), &offer());
    assert_eq!(r.status, 201, "the slot is free once the guest left");
}

#[test]
fn an_invite_stops_admitting_at_the_end_of_its_life() {
    let s = serve(Duration::from_millis(300));
    let i = s.host.invite(1).unwrap();
    let info = format!("{}/join/{}/info", s.base, i.token);
    let r = call("GET", &info, None, b"");
    assert_eq!(r.status, 200);
    // Waits for the invite's own end (its life is the thing waited for).
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = call("GET", &info, None, b"");
        if r.status != 200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((r.status, code(&r)), (410, "invite_expired".into()));
}

#[test]
fn one_address_knocking_too_often_is_told_to_wait() {
    let s = serve(Duration::from_secs(3600));
    let whip = format!("{}/join/AAAAAAAAAAAAAAAAAAAAAA/whip", s.base);
    let statuses: Vec<u16> = (0..25).map(|_| post(&whip, "x").status).collect();
    assert!(statuses[..20].iter().all(|s| *s == 404), "{statuses:?}");
    let r = post(&whip, "x");
    assert_eq!((r.status, code(&r)), (429, "too_many".into()));
}

#[test]
fn the_guest_page_and_its_scripts_are_served_with_their_types() {
    let s = serve(Duration::from_secs(3600));
    let i = s.host.invite(1).unwrap();
    let page = call("GET", &s.host.link(&i).unwrap(), None, b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    for (file, kind) in [
        ("join.js", "text/javascript"),
        ("join-logic.js", "text/javascript"),
        ("join.css", "text/css"),
    ] {
        let r = call("GET", &format!("{}/join/assets/{file}", s.base), None, b"");
        assert_eq!(r.status, 200, "{file}");
        assert!(
            r.header("content-type").unwrap().starts_with(kind),
            "{file}"
        );
    }
    assert_eq!(
        call("GET", &format!("{}/join/assets/x.js", s.base), None, b"").status,
        404
    );
}

#[test]
fn an_offer_that_trips_the_webrtc_stack_is_refused_and_the_slot_stays_free() {
    // Found by fuzz/costream: str0m 0.25 asserts on it inside accept_offer.
    let tripping = String::from_utf8_lossy(include_bytes!("data/offer_pt_locked.sdp")).into_owned();
    let s = serve(Duration::from_secs(3600));
    let i = s.host.invite(1).unwrap();
    let whip = format!("{}/join/{}/whip", s.base, i.token);
    let r = post(&whip, &tripping);
    assert_eq!((r.status, code(&r)), (400, "bad_offer".into()));
    let r = post(&whip, &offer());
    assert_eq!(
        r.status,
        201,
        "the slot is still free: {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// A STUN server standing for one beyond a NAT: it ignores the first request it gets (a lost
/// datagram) and answers the others with `public` as the mapped address. Returns its address
/// and the requests it saw.
fn nat_stun_server(public: SocketAddr) -> (SocketAddr, Arc<std::sync::Mutex<u32>>) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(0u32));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Some(txid) = marquee_costream::stun::transaction_id(&buf[..n]) else {
                continue;
            };
            let mut s = seen2.lock().unwrap();
            *s += 1;
            if *s > 1 {
                let _ = sock.send_to(&marquee_costream::stun::encode_success(&txid, public), from);
            }
        }
    });
    (addr, seen)
}

#[test]
fn with_a_stun_server_the_answer_offers_the_hosts_address_beyond_its_nat_and_info_the_turn_relay() {
    let public: SocketAddr = "203.0.113.7:40000".parse().unwrap();
    let (stun, seen) = nat_stun_server(public);
    let s = serve_with(Duration::from_secs(3600), |c| {
        c.stun = Some(format!("stun:{stun}").parse().unwrap());
        c.guest_ice_servers = vec![
            marquee_costream::ice::IceServer::turn(
                "turn:198.51.100.5:3478?transport=udp",
                "guest",
                "relay-secret",
            )
            .unwrap(),
        ];
    });
    // The first request is lost; the retransmit (500 ms later) is answered.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.host.reflexive_addr().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.host.reflexive_addr(), Some(public));
    assert_eq!(
        *seen.lock().unwrap(),
        2,
        "one request lost, one retransmit answered"
    );

    let i = s.host.invite(1).unwrap();
    let r = post(&format!("{}/join/{}/whip", s.base, i.token), &offer());
    assert_eq!(r.status, 201);
    let answer = String::from_utf8(r.body).unwrap();
    let srflx = answer
        .lines()
        .find(|l| l.contains("typ srflx"))
        .unwrap_or_else(|| panic!("no server-reflexive candidate:\n{answer}"));
    // str0m does not tell the base (raddr 0.0.0.0): the host's private address stays private.
    assert!(srflx.contains("203.0.113.7 40000 typ srflx"), "{srflx}");
    assert!(
        answer.contains("typ host"),
        "the host candidate stays: {answer}"
    );

    let info = call(
        "GET",
        &format!("{}/join/{}/info", s.base, i.token),
        None,
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    assert_eq!(
        v["ice_servers"],
        serde_json::json!([{
            "urls": ["turn:198.51.100.5:3478?transport=udp"],
            "username": "guest",
            "credential": "relay-secret",
        }])
    );
    assert!(
        !format!("{:?}", s.host).contains("relay-secret"),
        "never in a debug print"
    );
}
