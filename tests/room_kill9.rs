//! The room server as a real process (`marquee room serve`), killed with SIGKILL in the middle
//! of a gift flood and started again on the same port and database: the ledger holds exactly the
//! acknowledged gifts, each once; and a client resumes across the kill. Each runs again on three
//! nodes of a cluster (Postgres and Redis started by the test), its clients spread over the
//! nodes, the node of the room's first owner killed.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "../crates/room/tests/common/protocol.rs"]
mod protocol;

use marquee_e2e::{RoomCluster, RoomServer};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, EventBody, Role};
use marquee_room::room::GiftRecord;
use marquee_room::store::{SqliteStore, Storage};
use marquee_room::token::{self, Claims};
use marquee_roomcluster::PgStore;
use protocol::joined;
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::{Instant, timeout};

const SECRET: &str = "process-test-secret-0123456789";

struct Dir(PathBuf);
impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mq-proc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("room.secret"), SECRET).unwrap();
        Dir(p)
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a test runs: one `marquee room serve` on SQLite, or the nodes of a cluster on
/// Postgres and Redis (the same room on each).
enum Rooms {
    One(RoomServer, Dir),
    /// (The directory holds the nodes' secret file.)
    Cluster {
        nodes: RoomCluster,
        _dir: Dir,
    },
}

impl Rooms {
    fn one(name: &str) -> Rooms {
        let dir = Dir::new(name);
        let server = RoomServer::start(server_args(&dir.0, Some("room.db")));
        // Its host opens the room (kept in the database across restarts); the viewers here may
        // come first.
        open(&server);
        Rooms::One(server, dir)
    }

    fn cluster(name: &str) -> Rooms {
        let dir = Dir::new(&format!("{name}-cluster"));
        let cluster = RoomCluster::start(name, 3, server_args(&dir.0, None));
        open(&cluster.nodes()[0]);
        Rooms::Cluster {
            nodes: cluster,
            _dir: dir,
        }
    }

    /// The URL for client number `i`: on a cluster, each client on the next node.
    fn url(&self, i: usize) -> String {
        match self {
            Rooms::One(s, _) => s.ws_url("demo"),
            Rooms::Cluster { nodes: c, .. } => c.nodes()[i % c.nodes().len()].ws_url("demo"),
        }
    }

    /// SIGKILL the server of client 0 (on a cluster: the node the room was opened on, its
    /// first owner) and start it again on the same address and storage.
    fn kill9_and_restart(&mut self) {
        match self {
            Rooms::One(s, _) => {
                s.restart();
                open(s);
            }
            Rooms::Cluster { nodes: c, .. } => c.node_mut(0).restart(),
        }
    }

    /// The gift ledger of room "demo", once every server is stopped.
    async fn ledger(self) -> Vec<GiftRecord> {
        tokio::task::spawn_blocking(move || match self {
            Rooms::One(mut s, dir) => {
                s.kill9();
                let mut store = SqliteStore::open(dir.0.join("room.db")).unwrap();
                store.ledger("demo").unwrap()
            }
            Rooms::Cluster { nodes: c, .. } => {
                PgStore::open(c.store()).unwrap().ledger("demo").unwrap()
            }
        })
        .await
        .unwrap()
    }
}

fn server_args(dir: &Path, db: Option<&str>) -> Vec<std::ffi::OsString> {
    let mut args = Vec::new();
    if let Some(db) = db {
        args.extend(["--db".into(), dir.join(db).into()]);
    }
    args.extend(["--secret-file".into(), dir.join("room.secret").into()]);
    args
}

fn open(server: &RoomServer) {
    marquee_e2e::open_room(&server.addr().to_string(), "demo", &tok("host", Role::Host)).unwrap();
}

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

fn client(url: &str, user: &str, role: Role) -> RoomClient {
    let mut cfg = ClientConfig::new(url).token(tok(user, role));
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(400);
    RoomClient::connect(cfg)
}

/// Two tests of one body: `$one` on one server, `$cluster` on three nodes of a cluster.
macro_rules! on_one_server_and_on_a_cluster {
    ($body:ident: $one:ident, $cluster:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $one() {
            $body(Rooms::one(stringify!($body))).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $cluster() {
            $body(Rooms::cluster(stringify!($body))).await;
        }
    };
}

on_one_server_and_on_a_cluster!(gift_flood_while_killed_9:
    gift_flood_with_duplicate_keys_while_the_server_is_killed_9_counts_acked_gifts_once,
    gift_flood_with_duplicate_keys_while_a_node_of_3_is_killed_9_counts_acked_gifts_once
);

/// Clients sending each gift twice, spread over the servers, while client 0's server is
/// killed with -9 and restarted twice: the ledger is exactly the acknowledged gifts, each once.
async fn gift_flood_while_killed_9(mut rooms: Rooms) {
    const CLIENTS: usize = 4;
    const GIFTS: usize = 25;
    let mut tasks = Vec::new();
    for ci in 0..CLIENTS {
        let url = rooms.url(ci);
        tasks.push(tokio::spawn(async move {
            let user = format!("fan{ci}");
            let mut c = client(&url, &user, Role::Viewer);
            let mut unacked: BTreeSet<String> = (0..GIFTS).map(|g| format!("{user}-{g}")).collect();
            // Every gift is sent twice (a retrying client), paced under the 10 msg/s limit.
            let mut queue: VecDeque<String> = unacked.iter().flat_map(|k| [k.clone(), k.clone()]).collect();
            let mut acked = BTreeSet::new();
            let mut pace = tokio::time::interval(Duration::from_millis(130));
            let mut last_progress = Instant::now();
            let deadline = Instant::now() + Duration::from_secs(90);
            while !unacked.is_empty() {
                assert!(Instant::now() < deadline, "{user}: still unacked {unacked:?}");
                tokio::select! {
                    _ = pace.tick() => {
                        if let Some(key) = queue.pop_front() {
                            if unacked.contains(&key) {
                                let _ = c.send(ClientMsg::Gift { gift: "heart".into(), count: 1, key }).await;
                            }
                        } else if last_progress.elapsed() > Duration::from_secs(2) {
                            queue.extend(unacked.iter().cloned());
                            last_progress = Instant::now();
                        }
                    }
                    ev = c.recv() => match ev {
                        Some(ClientEvent::Control(Control::GiftAck { key, .. })) => {
                            unacked.remove(&key);
                            acked.insert(key);
                            last_progress = Instant::now();
                        }
                        Some(ClientEvent::Joined { .. }) => {
                            // After a reconnect: everything unacknowledged again, same keys.
                            queue.retain(|k| unacked.contains(k));
                            for k in &unacked {
                                if !queue.contains(k) {
                                    queue.push_back(k.clone());
                                }
                            }
                        }
                        Some(ClientEvent::Stopped { code, reason }) => panic!("{code}: {reason}"),
                        Some(_) => {}
                        None => panic!("client stopped"),
                    }
                }
            }
            acked
        }));
    }
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        rooms.kill9_and_restart();
    }
    let mut acked = BTreeSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let ledger = rooms.ledger().await;
    let keys: Vec<String> = ledger.iter().map(|g| g.key.clone()).collect();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "no key twice in the ledger");
    assert_eq!(
        unique, acked,
        "the ledger equals the acknowledged gifts, no more, no less"
    );
    assert_eq!(acked.len(), CLIENTS * GIFTS);
    assert_eq!(
        ledger.iter().map(|g| g.coins).sum::<u64>(),
        (CLIENTS * GIFTS * 5) as u64
    );
}

on_one_server_and_on_a_cluster!(client_resumes_after_a_kill_9:
    client_resumes_after_the_server_process_is_killed_9,
    client_resumes_after_its_node_of_3_is_killed_9
);

/// A watcher on client 0's server, the host on the next: the watcher's server is killed with
/// -9 and restarted, and the watcher resumes with exactly the events it missed.
async fn client_resumes_after_a_kill_9(mut rooms: Rooms) {
    let mut watcher = client(&rooms.url(0), "watcher", Role::Viewer);
    let mut host = client(&rooms.url(1), "host", Role::Host);
    joined(&mut watcher).await;
    joined(&mut host).await;
    let mut texts = Vec::new();
    let mut not_recoverable = false;
    for i in 0..3 {
        host.send(ClientMsg::Danmaku {
            text: format!("m{i}"),
            color: None,
            mode: Default::default(),
        })
        .await
        .unwrap();
    }
    collect(&mut watcher, &mut texts, &mut not_recoverable, 3).await;
    rooms.kill9_and_restart();
    // Messages written into the dead socket are lost (the client says so): send after rejoining.
    joined(&mut host).await;
    for i in 3..6 {
        host.send(ClientMsg::Danmaku {
            text: format!("m{i}"),
            color: None,
            mode: Default::default(),
        })
        .await
        .unwrap();
    }
    collect(&mut watcher, &mut texts, &mut not_recoverable, 6).await;
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert!(!not_recoverable, "the log survived kill -9: resumable");
}

async fn collect(c: &mut RoomClient, texts: &mut Vec<String>, nr: &mut bool, n: usize) {
    while texts.len() < n {
        match timeout(Duration::from_secs(20), c.recv())
            .await
            .expect("events in time")
        {
            Some(ClientEvent::Event(e)) => {
                if let EventBody::Danmaku { text, .. } = e.body {
                    texts.push(text);
                }
            }
            Some(ClientEvent::NotRecoverable { .. }) => *nr = true,
            Some(_) => {}
            None => panic!("stopped"),
        }
    }
}
