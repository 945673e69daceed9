//! Three `marquee room serve --store postgres://… --bus redis://…` processes on one Postgres and
//! one Redis (started by the test on loopback): a viewer on one node sees what is said on
//! another; when the room's owner is killed with SIGKILL mid-burst, another node takes the room
//! over once its lease runs out, the clients resume there with no gap and no duplicate, and every
//! acknowledged gift and vote is there once; an owner paused past its lease is fenced off.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_e2e::{RoomCluster, RoomServer};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, ErrorCode, EventBody, Role};
use marquee_room::store::Storage;
use marquee_room::token::{self, Claims};
use marquee_roomcluster::PgStore;
use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::{Instant, timeout};

const SECRET: &str = "cluster-process-secret-0123456789";
const ROOM: &str = "demo";

struct Dir(PathBuf);
impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mq-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("room.secret"), SECRET).unwrap();
        Dir(p)
    }

    /// Three nodes on a Postgres database named after `name` and a Redis of their own.
    fn cluster(&self, name: &str) -> RoomCluster {
        let secret = self.0.join("room.secret");
        RoomCluster::start(
            name,
            3,
            [std::ffi::OsStr::new("--secret-file"), secret.as_os_str()],
        )
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn url(node: &RoomServer) -> String {
    node.ws_url(ROOM)
}

fn tok(user: &str, role: Role) -> String {
    token::sign(
        SECRET.as_bytes(),
        &Claims {
            room: ROOM.into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    )
}

fn client(url: &str, user: &str, role: Role) -> RoomClient {
    let mut cfg = ClientConfig::new(url).token(tok(user, role));
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    RoomClient::connect(cfg)
}

async fn next(c: &mut RoomClient) -> ClientEvent {
    timeout(Duration::from_secs(20), c.recv())
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

/// What a viewer saw: every event's seq in order, and the danmaku texts.
#[derive(Default)]
struct Seen {
    seqs: Vec<u64>,
    texts: Vec<String>,
}

impl Seen {
    /// Read until the danmaku `text` arrives.
    async fn until(&mut self, c: &mut RoomClient, text: &str) {
        loop {
            match next(c).await {
                ClientEvent::Event(e) => {
                    self.seqs.push(e.seq);
                    if let EventBody::Danmaku { text: t, .. } = &e.body {
                        self.texts.push(t.clone());
                        if t == text {
                            return;
                        }
                    }
                }
                ClientEvent::NotRecoverable { reason } => panic!("not recoverable: {reason}"),
                ClientEvent::Stopped { code, reason } => panic!("{code}: {reason}"),
                _ => {}
            }
        }
    }
}

fn say(text: &str) -> ClientMsg {
    ClientMsg::Danmaku {
        text: text.into(),
        color: None,
        mode: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_node_b_sees_a_message_sent_on_node_a() {
    let dir = Dir::new("procs");
    let mut cluster = dir.cluster("procs");
    for n in cluster.nodes() {
        let banner = n.run().stdout();
        assert!(banner.contains("cluster node"), "{banner}");
        assert!(!banner.contains("never-print-me"), "{banner}");
    }
    let nodes = cluster.nodes();
    let mut host = client(&url(&nodes[0]), "host", Role::Host);
    joined(&mut host).await;
    let mut bea = client(&url(&nodes[1]), "bea", Role::Viewer);
    joined(&mut bea).await;
    let mut cai = client(&url(&nodes[2]), "cai", Role::Viewer);
    joined(&mut cai).await;
    host.send(say("hello from A")).await.unwrap();
    let (mut on_b, mut on_c) = (Seen::default(), Seen::default());
    on_b.until(&mut bea, "hello from A").await;
    on_c.until(&mut cai, "hello from A").await;
    bea.send(say("hello from B")).await.unwrap();
    on_c.until(&mut cai, "hello from B").await;
    assert_eq!(on_c.texts, ["hello from A", "hello from B"]);

    // C dies without a word: the owner stops hearing it, and lets its viewer go.
    presence(&mut host, 3).await;
    cluster.node_mut(2).kill9();
    drop(cai);
    let killed = Instant::now();
    presence(&mut host, 2).await;
    assert!(
        killed.elapsed() >= Duration::from_secs(3),
        "{:?}",
        killed.elapsed()
    );
}

/// Wait until the room's presence says `viewers`.
async fn presence(c: &mut RoomClient, viewers: u64) {
    loop {
        if let ClientEvent::Control(Control::Presence { viewers: v, .. }) = next(c).await
            && v == viewers
        {
            return;
        }
    }
}

/// A viewer's gifts (each key re-sent until acknowledged, across reconnects) and one vote
/// (re-sent until acknowledged or refused as already cast); every event's seq it saw.
async fn gifts_and_a_vote(
    mut c: RoomClient,
    user: String,
    poll: u64,
    acked_total: Arc<AtomicUsize>,
) -> (BTreeSet<String>, Vec<u64>) {
    const GIFTS: usize = 15;
    let mut unacked: BTreeSet<String> = (0..GIFTS).map(|g| format!("{user}-{g}")).collect();
    let mut queue: VecDeque<String> = unacked
        .iter()
        .flat_map(|k| [k.clone(), k.clone()])
        .collect();
    let (mut acked, mut seqs, mut voted) = (BTreeSet::new(), Vec::new(), false);
    let mut pace = tokio::time::interval(Duration::from_millis(130));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ticks = 0u32;
    while !(unacked.is_empty() && voted) {
        assert!(
            Instant::now() < deadline,
            "{user}: unacked {unacked:?}, voted {voted}"
        );
        tokio::select! {
            _ = pace.tick() => {
                ticks += 1;
                if queue.is_empty() {
                    queue.extend(unacked.iter().cloned());
                }
                if let Some(key) = queue.pop_front()
                    && unacked.contains(&key)
                {
                    let _ = c.send(ClientMsg::Gift { gift: "heart".into(), count: 1, key }).await;
                }
                if !voted && ticks % 8 == 1 {
                    let _ = c.send(ClientMsg::Vote { poll, option: 1 }).await;
                }
            }
            ev = c.recv() => match ev.expect("client alive") {
                ClientEvent::Control(Control::GiftAck { key, .. }) => {
                    if unacked.remove(&key) {
                        acked_total.fetch_add(1, Ordering::Relaxed);
                    }
                    acked.insert(key);
                }
                ClientEvent::Control(Control::VoteAck { .. }) => voted = true,
                ClientEvent::Control(Control::Error { code: ErrorCode::AlreadyVoted, .. }) => voted = true,
                ClientEvent::Event(e) => seqs.push(e.seq),
                ClientEvent::NotRecoverable { reason } => panic!("{user}: not recoverable: {reason}"),
                ClientEvent::Stopped { code, reason } => panic!("{user}: {code}: {reason}"),
                _ => {}
            },
        }
    }
    (acked, seqs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_owner_is_killed_9_mid_burst_another_node_takes_the_room_and_nothing_acknowledged_is_lost()
 {
    let dir = Dir::new("failover");
    let mut cluster = dir.cluster("failover");
    let nodes = cluster.nodes();
    let mut host = client(&url(&nodes[0]), "host", Role::Host);
    joined(&mut host).await;
    for user in ["bea", "cai"] {
        host.send(ClientMsg::Grant {
            user: user.into(),
            points: 1_000,
        })
        .await
        .unwrap();
    }
    host.send(ClientMsg::PollStart {
        question: "which?".into(),
        options: vec!["a".into(), "b".into()],
        duration_s: 600,
        allow_change: false,
    })
    .await
    .unwrap();
    let poll = loop {
        if let ClientEvent::Event(e) = next(&mut host).await
            && let EventBody::PollStarted { poll } = e.body
        {
            break poll.poll;
        }
    };
    let acked = Arc::new(AtomicUsize::new(0));
    let mut viewers = Vec::new();
    for (user, node) in [("bea", 1), ("cai", 2)] {
        let mut c = client(&url(&cluster.nodes()[node]), user, Role::Viewer);
        joined(&mut c).await;
        viewers.push(tokio::spawn(gifts_and_a_vote(
            c,
            user.into(),
            poll,
            acked.clone(),
        )));
    }
    // Mid-burst, the owner dies without a word; its lease runs out (5 s) and B or C takes over.
    while acked.load(Ordering::Relaxed) < 8 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.node_mut(0).kill9();
    drop(host);
    let killed = Instant::now();
    assert!(acked.load(Ordering::Relaxed) < 30, "killed mid-burst");
    let mut all_acked = BTreeSet::new();
    for v in viewers {
        let (keys, seqs) = v.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "a gap or a duplicate: {seqs:?}"
        );
        all_acked.extend(keys);
    }
    eprintln!(
        "every gift acknowledged {:?} after the kill",
        killed.elapsed()
    );
    let store = cluster.store().to_string();
    let (ledger, snap) = tokio::task::spawn_blocking(move || {
        let mut s = PgStore::open(&store).unwrap();
        (s.ledger(ROOM).unwrap(), s.load(ROOM, 10_000).unwrap())
    })
    .await
    .unwrap();
    let keys: Vec<String> = ledger.iter().map(|g| g.key.clone()).collect();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "a gift recorded twice: {keys:?}");
    assert_eq!(unique, all_acked);
    let mut votes: Vec<(u64, String)> =
        snap.votes.iter().map(|(p, u, _)| (*p, u.clone())).collect();
    votes.sort();
    assert_eq!(
        votes,
        [(poll, "bea".to_string()), (poll, "cai".to_string())]
    );
    assert_eq!(
        snap.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=snap.events.len() as u64).collect::<Vec<_>>()
    );
}

/// Send `text` from `from` (again, with a number, until it gets through) until `to` sees it:
/// a message sent while a room moves may be lost, like a packet.
async fn until_heard(from: &RoomClient, to: &mut RoomClient, seen: &mut Seen, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in 0.. {
        let text = format!("{text} {n}");
        from.send(say(&text)).await.unwrap();
        if timeout(Duration::from_secs(2), seen.until(to, &text))
            .await
            .is_ok()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{text:?} never got through");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_past_its_lease_has_its_writes_refused_when_it_wakes() {
    let dir = Dir::new("paused");
    let mut cluster = dir.cluster("paused");
    let nodes = cluster.nodes();
    let mut host = client(&url(&nodes[0]), "host", Role::Host);
    joined(&mut host).await;
    let mut bea = client(&url(&nodes[1]), "bea", Role::Viewer);
    joined(&mut bea).await;
    let mut cai = client(&url(&nodes[2]), "cai", Role::Viewer);
    joined(&mut cai).await;
    let mut on_c = Seen::default();
    host.send(say("before")).await.unwrap();
    on_c.until(&mut cai, "before").await;

    // The owner stops past its lease; the host's message waits in its socket meanwhile.
    cluster.node_mut(0).run_mut().signal(libc::SIGSTOP);
    host.send(say("zombie")).await.unwrap();
    joined(&mut bea).await;
    until_heard(&bea, &mut cai, &mut on_c, "taken over").await;

    // It wakes believing it owns the room: its writes are refused (the lease's epoch moved
    // on), it closes its connections, and its host comes back through the new owner.
    cluster.node_mut(0).run_mut().signal(libc::SIGCONT);
    joined(&mut host).await;
    until_heard(&host, &mut cai, &mut on_c, "host is back").await;
    assert!(
        on_c.seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "a gap or a duplicate: {:?}",
        on_c.seqs
    );
    let store = cluster.store().to_string();
    let events = tokio::task::spawn_blocking(move || {
        PgStore::open(&store)
            .unwrap()
            .load(ROOM, 10_000)
            .unwrap()
            .events
    })
    .await
    .unwrap();
    let texts: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Danmaku { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(!texts.iter().any(|t| t == "zombie"), "{texts:?}");
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
}
