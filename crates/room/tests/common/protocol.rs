//! Protocol checks that need only the room's WebSocket URLs, so one body runs against one
//! server (tests/sockets.rs) and against three nodes of a cluster on Postgres and Redis
//! (crates/roomcluster/tests/cluster.rs includes this file; so do the process suites under
//! tests/ for its helpers): client `i` joins through `urls[i % urls.len()]`.
// Test code: a failed unwrap is a failed test. Not every suite uses every helper.
#![allow(clippy::unwrap_used, dead_code)]

use futures_util::{SinkExt, StreamExt};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, EventBody, Role, ServerMsg};
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// The coalescing window a server needs for the burst check: long, so that a burst surely
/// falls into one even on a loaded machine.
pub const BURST_WINDOW: Duration = Duration::from_millis(300);

type Raw =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where a check runs: the room's WebSocket URL on each server, and the token of a user.
pub struct Deployment {
    pub urls: Vec<String>,
    pub token: fn(&str, Role) -> String,
}

impl Deployment {
    /// Client number `i`, on the `i`-th server (round the list).
    pub fn client(&self, i: usize, user: &str, role: Role, backoff_ms: u64) -> RoomClient {
        let url = &self.urls[i % self.urls.len()];
        let mut cfg = ClientConfig::new(url).token((self.token)(user, role));
        cfg.backoff_min = Duration::from_millis(backoff_ms);
        cfg.backoff_max = Duration::from_millis(backoff_ms * 4);
        RoomClient::connect(cfg)
    }

    /// A bare socket to the `i`-th server that said hello as `user` (a host) and got its welcome.
    pub async fn raw_host(&self, i: usize, user: &str, batch: bool) -> Raw {
        let url = &self.urls[i % self.urls.len()];
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let hello = ClientMsg::Hello {
            token: Some((self.token)(user, Role::Host)),
            nickname: None,
            resume: None,
            batch,
        };
        let hello = serde_json::to_string(&hello).unwrap();
        ws.send(Message::Text(hello.into())).await.unwrap();
        loop {
            let m = timeout(Duration::from_secs(5), ws.next()).await.unwrap();
            if let Some(Ok(Message::Text(t))) = m
                && t.contains(r#""type":"welcome""#)
            {
                return ws;
            }
        }
    }
}

/// Wait for the client's next join (20 s: a cluster's room may be moving to another node).
pub async fn joined(c: &mut RoomClient) {
    loop {
        match timeout(Duration::from_secs(20), c.recv())
            .await
            .expect("join in time")
        {
            Some(ClientEvent::Joined { .. }) => return,
            Some(ClientEvent::Stopped { code, reason }) => panic!("{code}: {reason}"),
            Some(_) => {}
            None => panic!("client stopped"),
        }
    }
}

/// Collect danmaku texts until `n` arrived.
pub async fn danmaku(c: &mut RoomClient, n: usize) -> (Vec<String>, Vec<ClientEvent>) {
    let mut texts = Vec::new();
    let mut all = Vec::new();
    while texts.len() < n {
        let ev = timeout(Duration::from_secs(15), c.recv())
            .await
            .unwrap_or_else(|_| panic!("only {texts:?} arrived"))
            .expect("client alive");
        if let ClientEvent::Event(e) = &ev
            && let EventBody::Danmaku { text, .. } = &e.body
        {
            texts.push(text.clone());
        }
        all.push(ev);
    }
    (texts, all)
}

pub fn say(text: &str) -> ClientMsg {
    ClientMsg::Danmaku {
        text: text.into(),
        color: None,
        mode: Default::default(),
    }
}

/// 40 viewers (spread over the servers) and the host on the last one: every viewer gets the
/// host's 20 messages, all of them, in the order sent.
pub async fn many_clients_receive_every_danmaku_in_order(d: &Deployment) {
    let mut viewers = Vec::new();
    for i in 0..40 {
        let mut c = d.client(i, &format!("v{i}"), Role::Viewer, 100);
        joined(&mut c).await;
        viewers.push(c);
    }
    let mut host = d.client(d.urls.len() - 1, "host", Role::Host, 100);
    joined(&mut host).await;
    let sent: Vec<String> = (0..20).map(|i| format!("hello {i}")).collect();
    for t in &sent {
        host.send(say(t)).await.unwrap();
    }
    for c in &mut viewers {
        let (texts, _) = danmaku(c, sent.len()).await;
        assert_eq!(texts, sent);
    }
}

/// The host (on the first server) sends rounds of danmaku, gifts and questions; a watcher (on
/// the second) sees every event in seq order, none missing: gifts, which wait for the ledger,
/// are not overtaken by what was sent after them.
pub async fn mixed_bursts_arrive_in_seq_order_without_gaps(d: &Deployment) {
    let mut watcher = d.client(1, "watcher", Role::Viewer, 50);
    joined(&mut watcher).await;
    let mut host = d.client(0, "host", Role::Host, 50);
    joined(&mut host).await;
    for round in 0..20 {
        host.send(say(&format!("r{round}"))).await.unwrap();
        host.send(ClientMsg::Gift {
            gift: "rose".into(),
            count: 1,
            key: format!("o{round}"),
        })
        .await
        .unwrap();
        host.send(ClientMsg::Ask {
            text: format!("q{round}"),
        })
        .await
        .unwrap();
        host.send(say(&format!("s{round}"))).await.unwrap();
    }
    let mut last = watcher.position().unwrap().seq;
    let mut seen = 0;
    while seen < 80 {
        match timeout(Duration::from_secs(10), watcher.recv())
            .await
            .unwrap()
        {
            Some(ClientEvent::Event(e)) => {
                assert_eq!(e.seq, last + 1, "in order, no gap");
                last = e.seq;
                seen += 1;
            }
            Some(ClientEvent::Disconnected { reason, .. }) => panic!("disconnected: {reason}"),
            Some(_) => {}
            None => panic!("stopped"),
        }
    }
}

/// Danmaku seqs in a frame, and how many messages it held (a `batch` frame holds several).
fn danmaku_seqs(text: &str) -> (Vec<u64>, usize, bool) {
    let msg: ServerMsg = serde_json::from_str(text).unwrap();
    let (msgs, batch) = match msg {
        ServerMsg::Control(Control::Batch { messages }) => (messages, true),
        one => (vec![one], false),
    };
    let n = msgs.len();
    let seqs = msgs
        .into_iter()
        .filter_map(|m| match m {
            ServerMsg::Event(e) if matches!(e.body, EventBody::Danmaku { .. }) => Some(e.seq),
            _ => None,
        })
        .collect();
    (seqs, n, batch)
}

/// A burst of 12 danmaku from a host (on the first server) reaches a client that asked for
/// batches (on the second) in batch frames, and one that did not (on the third) one frame
/// each; both get every seq in order. The servers coalesce over [`BURST_WINDOW`].
pub async fn a_burst_reaches_batch_clients_in_batch_frames_and_others_one_frame_each(
    d: &Deployment,
) {
    let mut batched = d.raw_host(1, "b", true).await;
    let mut plain = d.raw_host(2, "p", false).await;
    let mut publisher = d.raw_host(0, "host", false).await;
    const N: usize = 12;
    for i in 0..N {
        let f = format!(r#"{{"type":"danmaku","text":"burst {i}"}}"#);
        publisher.feed(Message::Text(f.into())).await.unwrap();
    }
    publisher.flush().await.unwrap();
    for (ws, batch) in [(&mut batched, true), (&mut plain, false)] {
        let mut seqs = Vec::new();
        let mut biggest = 0;
        while seqs.len() < N {
            let m = timeout(Duration::from_secs(10), ws.next())
                .await
                .unwrap_or_else(|_| panic!("only {seqs:?}"));
            let Some(Ok(Message::Text(t))) = m else {
                continue;
            };
            let (s, n, is_batch) = danmaku_seqs(&t);
            assert!(
                batch || !is_batch,
                "a batch frame to a client that did not ask: {t}"
            );
            seqs.extend(s);
            biggest = biggest.max(n);
        }
        let first = seqs[0];
        assert_eq!(seqs, (first..first + N as u64).collect::<Vec<_>>());
        if batch {
            assert!(biggest >= 2, "the burst never came as a batch");
        } else {
            assert_eq!(biggest, 1);
        }
    }
}
