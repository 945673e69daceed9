//! Three room servers in one process on one Postgres and one Redis (started by the test): a
//! room runs on one of them (the first to take its lease), and clients of any of them are in
//! the same room.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "../../room/tests/common/protocol.rs"]
mod protocol;

use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, EventBody, Role};
use marquee_room::server::{Caps, ServerConfig, ServerHandle, start};
use marquee_room::store::Storage;
use marquee_room::token::{self, Claims};
use marquee_roomcluster::testing::{Postgres, Redis};
use marquee_roomcluster::{Node, NodeConfig, PgStore};
use protocol::say;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

const SECRET: &[u8] = b"cluster-test-secret-0123456789";
const ROOM: &str = "premiere";

fn tok(user: &str, role: Role) -> String {
    token::sign(
        SECRET,
        &Claims {
            room: ROOM.into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    )
}

struct Cluster {
    nodes: Vec<ServerHandle>,
    db: String,
    redis: Redis,
    _pg: Arc<Postgres>,
}

async fn cluster(name: &str, n: usize) -> Cluster {
    cluster_with(name, n, |_| {}).await
}

/// As [`cluster`], each node's configuration changed by `tune` first.
async fn cluster_with(name: &str, n: usize, tune: impl Fn(&mut ServerConfig)) -> Cluster {
    let pg = Postgres::shared();
    let db = pg.create_db(name);
    let redis = Redis::start();
    let mut nodes = Vec::new();
    for _ in 0..n {
        let (db, bus) = (db.clone(), redis.url());
        let node = tokio::task::spawn_blocking(move || Node::open(NodeConfig::new(&db, &bus)))
            .await
            .unwrap()
            .unwrap();
        let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), SECRET.to_vec());
        cfg.stores = Some(node.stores());
        cfg.cluster = Some(node);
        // Every test client comes from 127.0.0.1, faster than people type (as in the room's
        // own socket tests, whose protocol checks run here too).
        cfg.caps = Caps::unlimited();
        cfg.tune = Some(Arc::new(|c| {
            c.conn_rate_per_s = 5_000.0;
            c.conn_burst = 5_000.0;
            c.user_rate_per_s = 5_000.0;
            c.user_burst = 5_000.0;
            c.gift_rate_per_s = 5_000.0;
            c.gift_burst = 5_000.0;
        }));
        tune(&mut cfg);
        nodes.push(start(cfg).await.unwrap());
    }
    Cluster {
        nodes,
        db,
        redis,
        _pg: pg,
    }
}

fn client(h: &ServerHandle, user: &str, role: Role) -> RoomClient {
    let mut cfg = ClientConfig::new(h.ws_url(ROOM)).token(tok(user, role));
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    RoomClient::connect(cfg)
}

async fn next(c: &mut RoomClient) -> ClientEvent {
    timeout(Duration::from_secs(15), c.recv())
        .await
        .expect("an event in time")
        .expect("client alive")
}

async fn joined(c: &mut RoomClient) {
    loop {
        match next(c).await {
            ClientEvent::Joined { .. } => return,
            ClientEvent::Stopped { code, reason } => panic!("{code}: {reason}"),
            _ => {}
        }
    }
}

/// Wait for the first control message `pick` accepts.
async fn until_control(c: &mut RoomClient, pick: impl Fn(&Control) -> bool) {
    loop {
        if let ClientEvent::Control(m) = next(c).await
            && pick(&m)
        {
            return;
        }
    }
}

/// The seq of the first danmaku with `text`.
async fn sees(c: &mut RoomClient, text: &str) -> u64 {
    loop {
        if let ClientEvent::Event(e) = next(c).await
            && let EventBody::Danmaku { text: t, .. } = &e.body
            && t == text
        {
            return e.seq;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_one_node_sees_a_message_sent_on_another() {
    let c = cluster("three_nodes", 3).await;
    let (a, b, third) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    // The host opens the room on A: A owns it.
    let mut host = client(a, "host", Role::Host);
    joined(&mut host).await;
    let mut on_b = client(b, "bea", Role::Viewer);
    joined(&mut on_b).await;
    let mut on_c = client(third, "cai", Role::Viewer);
    joined(&mut on_c).await;

    host.send(say("hello from A")).await.unwrap();
    let seq_b = sees(&mut on_b, "hello from A").await;
    let seq_c = sees(&mut on_c, "hello from A").await;
    assert_eq!(seq_b, seq_c);
    // A viewer's message on B goes through A (the owner) to everyone.
    on_b.send(say("hi from B")).await.unwrap();
    let seq_host = sees(&mut host, "hi from B").await;
    assert_eq!(sees(&mut on_c, "hi from B").await, seq_host);
    assert_eq!(sees(&mut on_b, "hi from B").await, seq_host);
    assert!(seq_host > seq_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gift_key_sent_a_thousand_times_through_three_nodes_is_recorded_once() {
    let c = cluster("gift_three_nodes", 3).await;
    let mut host = client(&c.nodes[0], "host", Role::Host);
    joined(&mut host).await;
    host.send(ClientMsg::Grant {
        user: "fan".into(),
        points: 1_000,
    })
    .await
    .unwrap();
    // The same user on every node, each sending the same gift key many times at once.
    let mut fans = Vec::new();
    for h in &c.nodes {
        let mut f = client(h, "fan", Role::Viewer);
        joined(&mut f).await;
        fans.push(f);
    }
    // 1,002 sends in all, the three nodes' at once.
    let sends = fans.iter().map(|f| async move {
        for _ in 0..334 {
            f.send(ClientMsg::Gift {
                gift: "rose".into(),
                count: 1,
                key: "once".into(),
            })
            .await
            .unwrap();
        }
    });
    futures_util::future::join_all(sends).await;
    // Every node's client hears the gift acknowledged.
    for f in &mut fans {
        loop {
            if let ClientEvent::Control(Control::GiftAck { key, .. }) = next(f).await
                && key == "once"
            {
                break;
            }
        }
    }
    let db = c.db.clone();
    let (ledger, gifts) = tokio::task::spawn_blocking(move || {
        let mut s = PgStore::open(&db).unwrap();
        let snap = s.load(ROOM, 10_000).unwrap();
        let gifts = snap
            .events
            .iter()
            .filter(|e| matches!(e.body, EventBody::Gift { .. }))
            .count();
        (s.ledger(ROOM).unwrap(), gifts)
    })
    .await
    .unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(gifts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_recover_when_redis_restarts_empty() {
    let mut c = cluster("redis_restart", 2).await;
    let mut host = client(&c.nodes[0], "host", Role::Host);
    joined(&mut host).await;
    let mut bea = client(&c.nodes[1], "bea", Role::Viewer);
    joined(&mut bea).await;
    let mut seqs = Vec::new();
    host.send(say("before")).await.unwrap();
    seqs.push(sees(&mut bea, "before").await);

    // Redis loses everything (no persistence) and comes back on the same port.
    c.redis.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    loop {
        let text = format!("after {n}");
        host.send(say(&text)).await.unwrap();
        // Everything B's viewer gets from now on, in order, until the new message.
        let got = timeout(Duration::from_secs(2), async {
            loop {
                match next(&mut bea).await {
                    ClientEvent::Event(e) => {
                        seqs.push(e.seq);
                        if matches!(&e.body, EventBody::Danmaku { text: t, .. } if *t == text) {
                            return;
                        }
                    }
                    ClientEvent::NotRecoverable { reason } => panic!("not recoverable: {reason}"),
                    _ => {}
                }
            }
        })
        .await;
        if got.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never heard A again"
        );
        n += 1;
    }
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "a gap or a duplicate: {seqs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewers_of_an_edge_that_stopped_leave_the_room_on_its_owner() {
    let mut c = cluster("silent_edge", 2).await;
    let mut host = client(&c.nodes[0], "host", Role::Host);
    joined(&mut host).await;
    let mut bea = client(&c.nodes[1], "bea", Role::Viewer);
    joined(&mut bea).await;
    let viewers = |want: u64| move |m: &Control| matches!(m, Control::Presence { viewers, .. } if *viewers == want);
    until_control(&mut host, viewers(2)).await;
    // B stops (a dead one is tests/room_cluster.rs's: kill -9 needs a process).
    let b = c.nodes.pop().unwrap();
    b.shutdown().await;
    drop(bea);
    // A lets B's viewer go.
    until_control(&mut host, viewers(1)).await;
}

impl Cluster {
    /// The protocol checks' view of the cluster, room opened (on the first node, its owner).
    fn deployment(&self) -> protocol::Deployment {
        // Off the async runtime: opening reads the room from Postgres with a blocking client.
        std::thread::scope(|s| s.spawn(|| self.nodes[0].create_room(ROOM)).join())
            .unwrap()
            .unwrap();
        protocol::Deployment {
            urls: self.nodes.iter().map(|n| n.ws_url(ROOM)).collect(),
            token: tok,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_spread_over_three_nodes_receive_every_danmaku_in_order() {
    let c = cluster("many", 3).await;
    protocol::many_clients_receive_every_danmaku_in_order(&c.deployment()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_bursts_through_another_node_arrive_in_seq_order_without_gaps() {
    let c = cluster("order", 3).await;
    protocol::mixed_bursts_arrive_in_seq_order_without_gaps(&c.deployment()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_one_node_reaches_batch_clients_on_others_in_batch_frames() {
    let c = cluster_with("batch", 3, |cfg| {
        cfg.coalesce.window = protocol::BURST_WINDOW
    })
    .await;
    protocol::a_burst_reaches_batch_clients_in_batch_frames_and_others_one_frame_each(
        &c.deployment(),
    )
    .await;
}
