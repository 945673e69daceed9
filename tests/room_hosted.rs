//! The app's room when it is hosted: `marquee_show::room` joins a real `marquee room serve`
//! behind a real nginx TLS proxy (a CA this test makes) as the host, with a host key minted by
//! `marquee room token`, exactly as the app does. The viewer link is the public https URL; a
//! viewer's danmaku reaches the host and the host's deletion reaches the viewer. A connection
//! that cannot work says why, from the real failures: the CA not given (certificate), another
//! room's key (host key), nothing listening (unreachable).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_e2e::{RoomProxy, RoomServer, marquee, reserve_port, tempdir};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, EventBody};
use marquee_show::room::{HostRoom, RoomPlan};
use marquee_show::room_home::{self, Problem};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the host's connection saw: a room event's danmaku text, or why it is down.
#[derive(Debug, Clone)]
enum Seen {
    Joined,
    Chat(u64, String),
    Down(Problem, String),
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

/// The room as the app starts it for "Hosted" at `url`, room `room`.
async fn join(
    url: &str,
    room: &str,
    key: &str,
    ca: Option<&[u8]>,
) -> (HostRoom<Seen>, mpsc::UnboundedReceiver<Seen>) {
    let hosted = room_home::Hosted {
        url: room_home::hosted_url(url).unwrap(),
        room: room.into(),
        ca_file: None,
    };
    let plan = RoomPlan::Hosted {
        viewer_url: hosted.viewer_url(),
        ws_url: hosted.ws_url(),
        host_key: key.into(),
        ca_pem: ca.map(<[u8]>::to_vec),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let dir = tempdir("marquee-room-hosted-app-");
    let room = marquee_show::room::start(
        dir.path(),
        plan,
        |_| {},
        |ev| match ev {
            ClientEvent::Joined { .. } => vec![Seen::Joined],
            ClientEvent::Event(e) => match e.body {
                EventBody::Danmaku { id, text, .. } => vec![Seen::Chat(id, text)],
                _ => vec![],
            },
            ClientEvent::Disconnected { reason, .. } => {
                vec![Seen::Down(room_home::problem(None, &reason), reason)]
            }
            ClientEvent::Stopped { code, reason } => {
                vec![Seen::Down(room_home::problem(Some(code), &reason), reason)]
            }
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

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>, what: &str) -> Seen {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap()
}

#[test]
fn the_app_hosts_a_room_on_a_public_server_over_wss_and_says_why_when_it_cannot() {
    let dir = tempdir("marquee-room-hosted-");
    // Held until nginx listens on it: the server is told its public URL first.
    let reserved = reserve_port();
    let front = reserved.port();
    let server = RoomServer::start_behind_proxy(dir.path(), front);
    let addr = server.addr();
    let proxy = RoomProxy::start(&[(front, addr)]);
    drop(reserved);
    let ca = proxy.ca_pem();
    let url = format!("https://localhost:{front}/");
    let key = host_key(dir.path(), "premiere");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The CA not given: the certificate is not trusted, said as such.
        let (room, mut rx) = join(&url, "premiere", &key, None).await;
        match next(&mut rx, "a refusal").await {
            Seen::Down(p, reason) => assert_eq!(p, Problem::Certificate, "{reason}"),
            other => panic!("{other:?}"),
        }
        room.stop().await;

        // Another room's key: the host key is refused, and the key is in no reason.
        let other = host_key(dir.path(), "elsewhere");
        let (room, mut rx) = join(&url, "premiere", &other, Some(&ca)).await;
        match next(&mut rx, "a refusal").await {
            Seen::Down(p, reason) => {
                assert_eq!(p, Problem::HostKey, "{reason}");
                assert!(!reason.contains(&other), "the key leaked: {reason}");
            }
            other => panic!("{other:?}"),
        }
        room.stop().await;

        // Nothing listening there: a port held (bound, not listening) by this test.
        let held = reserve_port();
        let closed = format!("https://localhost:{}", held.port());
        let (room, mut rx) = join(&closed, "premiere", &key, Some(&ca)).await;
        match next(&mut rx, "a refusal").await {
            Seen::Down(p, reason) => assert_eq!(p, Problem::Unreachable, "{reason}"),
            other => panic!("{other:?}"),
        }
        room.stop().await;

        // The host key and the CA: joined; the link is the public page.
        let (room, mut rx) = join(&url, "premiere", &key, Some(&ca)).await;
        assert_eq!(
            room.address.viewer_url,
            format!("https://localhost:{front}/room/premiere")
        );
        assert!(room.address.listen.is_none(), "no server on this machine");
        assert!(matches!(next(&mut rx, "joined").await, Seen::Joined));

        // A viewer through the proxy chats; the host sees it and deletes it; the viewer sees
        // the deletion.
        let mut viewer = RoomClient::connect(
            ClientConfig::new(format!("wss://localhost:{front}/room/premiere/ws"))
                .nickname("fan")
                .ca_pem(ca.clone()),
        );
        loop {
            match tokio::time::timeout(Duration::from_secs(20), viewer.recv())
                .await
                .unwrap()
            {
                Some(ClientEvent::Joined { .. }) => break,
                Some(ClientEvent::Stopped { reason, .. }) => panic!("{reason}"),
                Some(_) => {}
                None => panic!("viewer stopped"),
            }
        }
        viewer
            .send(ClientMsg::Danmaku {
                text: "hello from afar".into(),
                color: None,
                mode: Default::default(),
            })
            .await
            .unwrap();
        let id = loop {
            if let Seen::Chat(id, text) = next(&mut rx, "the viewer's danmaku").await
                && text == "hello from afar"
            {
                break id;
            }
        };
        room.send(ClientMsg::Delete { id }).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(20), viewer.recv())
                .await
                .unwrap()
            {
                Some(ClientEvent::Event(e))
                    if matches!(e.body, EventBody::MessageDeleted { .. }) =>
                {
                    break;
                }
                Some(ClientEvent::Control(Control::Error { message, .. })) => panic!("{message}"),
                Some(_) => {}
                None => panic!("viewer stopped"),
            }
        }
        room.stop().await;
    });
    assert!(proxy.access_log().contains("/room/premiere/ws"));
}
