//! `marquee room serve` as it runs on a public machine: behind a real nginx that terminates TLS
//! (a certificate from a CA this test makes with openssl), passes WebSocket upgrades through and
//! adds `X-Forwarded-For`, all on loopback. The host's token creates the room through the proxy
//! over wss (the Rust client trusting the test CA); a viewer joins the same way; the server
//! counts the viewer at the address the proxy forwarded only because it trusts that proxy (a
//! second server that does not trust it counts everyone at the proxy's address); a forged
//! `Origin` or a foreign `Host` is refused through the proxy. Headless Chromium opens the public
//! https viewer page through the proxy and joins over wss (its Origin is the server's own).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "../crates/room/tests/common/protocol.rs"]
mod protocol;

use marquee_e2e::{
    Chromium, PROXY_SOURCE, RoomProxy, RoomServer, reserve_port, tempdir, wait_until,
};
use marquee_room::client::{ClientConfig, RoomClient};
use marquee_room::protocol::{ClientMsg, DanmakuMode, Role};
use marquee_room::token::{self, Claims};
use protocol::joined;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "behind-proxy-test-secret-0123456789";

fn tok(user: &str, role: Role) -> String {
    token::sign(
        SECRET.as_bytes(),
        &Claims {
            room: "demo".into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    )
}

/// `marquee room serve` on a free loopback port with `args`; its address and what it printed.
fn serve(dir: &Path, name: &str, args: &[String]) -> (RoomServer, SocketAddr, String) {
    let db = dir.join(format!("{name}.db"));
    let secret = dir.join("room.secret");
    let mut all = vec!["--db".into(), db.into_os_string()];
    all.extend(["--secret-file".into(), secret.into_os_string()]);
    all.extend(args.iter().map(Into::into));
    let server = RoomServer::start::<std::ffi::OsString>(all);
    let (addr, out) = (server.addr(), server.run().stdout());
    (server, addr, out)
}

fn tls(ca: &[u8]) -> Arc<rustls::ClientConfig> {
    marquee_room::tls::client_config(Some(ca)).unwrap()
}

/// A WebSocket upgrade through the proxy, with extra headers: the refusal's status and body if
/// refused.
async fn upgrade(
    port: u16,
    headers: &[(&'static str, &str)],
    ca: &[u8],
) -> Result<(), (u16, String)> {
    let mut req = format!("wss://localhost:{port}/room/demo/ws")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    let connector = tokio_tungstenite::Connector::Rustls(tls(ca));
    match tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector)).await
    {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err((
            res.status().as_u16(),
            String::from_utf8_lossy(res.body().as_deref().unwrap_or_default()).to_string(),
        )),
        Err(e) => panic!("upgrade through the proxy: {e}"),
    }
}

/// An HTTPS GET through the proxy: status and body.
async fn get(port: u16, path: &str, headers: &[(&str, &str)], ca: &[u8]) -> (u16, String) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(tls(ca))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: localhost:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    // nginx may close without TLS close_notify: what was read is the answer.
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Through the proxy on `port`: the host opens room "demo" over wss.
async fn host(port: u16, ca: &[u8]) -> RoomClient {
    let url = format!("wss://localhost:{port}/room/demo/ws");
    let mut host = RoomClient::connect(
        ClientConfig::new(&url)
            .token(tok("host", Role::Host))
            .ca_pem(ca.to_vec()),
    );
    joined(&mut host).await;
    host
}

/// Through the proxy on `port`: the host opens room "demo" over wss, a viewer joins; returns
/// both (they hold two connections from this machine).
async fn host_and_viewer(port: u16, ca: &[u8]) -> (RoomClient, RoomClient) {
    let url = format!("wss://localhost:{port}/room/demo/ws");
    let host = host(port, ca).await;
    let mut viewer =
        RoomClient::connect(ClientConfig::new(&url).nickname("fan").ca_pem(ca.to_vec()));
    joined(&mut viewer).await;
    (host, viewer)
}

#[test]
fn a_public_room_behind_a_tls_proxy_opens_for_its_host_and_counts_viewers_through_a_trusted_proxy_only()
 {
    let dir = tempdir("marquee-room-public-");
    std::fs::write(dir.path().join("room.secret"), SECRET).unwrap();
    // Held until nginx listens on them: the servers below are told these ports first.
    let reserved = [reserve_port(), reserve_port()];
    let (front_trusted, front_plain) = (reserved[0].port(), reserved[1].port());
    // Two connections per client address, so that the address a server sees shows in its
    // refusal of the third.
    let caps = |front: u16| {
        vec![
            "--public-url".to_string(),
            format!("https://localhost:{front}"),
            "--max-connections-per-address".into(),
            "2".into(),
        ]
    };
    let mut trusting = caps(front_trusted);
    trusting.extend(["--trusted-proxy".into(), PROXY_SOURCE.into()]);
    let (_a, a_addr, banner) = serve(dir.path(), "trusting", &trusting);
    assert!(
        banner.contains(&format!(
            "viewer page: https://localhost:{front_trusted}/room/ROOM"
        )),
        "the printed viewer page is the public one: {banner}"
    );
    let (_b, b_addr, _) = serve(dir.path(), "plain", &caps(front_plain));
    let proxy = RoomProxy::start(&[(front_trusted, a_addr), (front_plain, b_addr)]);
    drop(reserved);
    let ca = proxy.ca_pem();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Nobody but its host opens a room, through the proxy as anywhere.
        let (status, body) = upgrade(front_trusted, &[], &ca).await.unwrap_err();
        assert_eq!(status, 404, "{body}");
        let viewer_token = format!("Bearer {}", tok("v", Role::Viewer));
        let (status, _) = upgrade(front_trusted, &[("authorization", &viewer_token)], &ca)
            .await
            .unwrap_err();
        assert_eq!(status, 403);

        // The host's key opens it over wss; a viewer joins; the page is served.
        let (_host, _viewer) = host_and_viewer(front_trusted, &ca).await;
        let (status, page) = get(front_trusted, "/room/demo", &[], &ca).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("text/html"));

        // A third socket from this machine, forging X-Forwarded-For: the server counts it at
        // 127.0.0.1 — the address the trusted proxy forwarded — and refuses it as the third
        // from there. Neither the proxy's own 127.0.0.2 nor the forged address.
        let (status, body) = upgrade(front_trusted, &[("x-forwarded-for", "203.0.113.9")], &ca)
            .await
            .unwrap_err();
        assert_eq!(status, 429, "{body}");
        assert!(
            body.contains("too many connections from 127.0.0.1 "),
            "{body}"
        );

        // A page on another site cannot join or read the stats through the proxy; nor can a
        // rebinding page that calls the server by its own name.
        let (status, body) = upgrade(front_trusted, &[("origin", "https://evil.example")], &ca)
            .await
            .unwrap_err();
        assert_eq!(status, 403);
        assert!(body.contains("cross-site request refused"), "{body}");
        let (status, body) = get(
            front_trusted,
            "/api/stats",
            &[("Origin", "https://evil.example")],
            &ca,
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = get(
            front_trusted,
            "/api/stats",
            &[("Host", "rebind.attacker.example")],
            &ca,
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("not a name of this server"), "{body}");
        // The server's own origin (its public URL) reads them.
        let own = format!("https://localhost:{front_trusted}");
        let (status, body) = get(front_trusted, "/api/stats", &[("Origin", &own)], &ca).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"refused_origin_or_host\":3"), "{body}");

        // The server that does not trust the proxy counts everyone at the proxy's address.
        let (_host, _viewer) = host_and_viewer(front_plain, &ca).await;
        let (status, body) = upgrade(front_plain, &[], &ca).await.unwrap_err();
        assert_eq!(status, 429, "{body}");
        assert!(
            body.contains(&format!("too many connections from {PROXY_SOURCE} ")),
            "{body}"
        );
    });
    assert!(
        proxy.access_log().contains("/room/demo/ws"),
        "everything went through nginx: {}",
        proxy.access_log()
    );
}

#[test]
fn headless_chromium_opens_the_public_viewer_page_through_the_tls_proxy_and_shows_the_hosts_message()
 {
    let dir = tempdir("marquee-room-chromium-");
    std::fs::write(dir.path().join("room.secret"), SECRET).unwrap();
    let reserved = reserve_port();
    let front = reserved.port();
    let args = [
        "--public-url".to_string(),
        format!("https://localhost:{front}"),
        "--trusted-proxy".into(),
        PROXY_SOURCE.into(),
    ];
    let (_server, addr, _) = serve(dir.path(), "chromium", &args);
    let proxy = RoomProxy::start(&[(front, addr)]);
    drop(reserved);
    let ca = proxy.ca_pem();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The host opens the room over wss and says something the page must show.
    let host = rt.block_on(async {
        let host = host(front, &ca).await;
        host.send(ClientMsg::Danmaku {
            text: "欢迎公网观众 welcome".into(),
            color: None,
            mode: DanmakuMode::default(),
        })
        .await
        .unwrap();
        host
    });

    // Chromium's own trust store does not hold the test's CA (the Rust clients above check the
    // chain with it): certificate errors are ignored here, everything else is the real path.
    let mut chromium = Chromium::start(&["--ignore-certificate-errors"]);
    let page = format!(
        "https://localhost:{front}/room/demo#token={}",
        tok("browser", Role::Viewer)
    );
    let shown = chromium.text_until(&page, "欢迎公网观众 welcome", Duration::from_secs(30));
    assert!(
        shown.is_ok(),
        "the viewer page in Chromium joined through the TLS proxy and shows the host's message: \
         {shown:?}\nnginx: {}",
        proxy.access_log()
    );
    // nginx logs a WebSocket request when it ends: the browser goes first.
    drop(chromium);
    let through_nginx = || {
        (proxy.access_log().lines())
            .any(|l| l.contains("/room/demo/ws") && l.contains("HeadlessChrome"))
    };
    assert!(
        wait_until(Duration::from_secs(10), through_nginx),
        "the page's socket went through nginx: {}",
        proxy.access_log()
    );
    drop(host);
}
