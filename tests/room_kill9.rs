//! The room server as a real process (`marquee room serve`), killed with SIGKILL in the middle
//! of a gift flood and started again on the same port and database: the ledger holds exactly the
//! acknowledged gifts, each once; and a client resumes across the kill.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, EventBody, Role};
use marquee_room::store::{SqliteStore, Storage};
use marquee_room::token::{self, Claims};
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
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

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Start `marquee room serve` and read the address it prints.
    fn start(dir: &Path, listen: &str) -> Server {
        for _ in 0..50 {
            let mut child = marquee_e2e::marquee()
                .args(["room", "serve", "--listen", listen, "--db"])
                .arg(dir.join("room.db"))
                .arg("--secret-file")
                .arg(dir.join("room.secret"))
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn marquee room serve");
            let mut line = String::new();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            if out.read_line(&mut line).unwrap_or(0) > 0
                && let Some(rest) = line.strip_prefix("room server on ")
            {
                let addr = rest.split_whitespace().next().unwrap().to_string();
                // Keep draining stdout so the server never blocks on it.
                std::thread::spawn(move || for _ in out.lines() {});
                // Its host opens the room (kept in the database across restarts); the
                // viewers here may come first.
                marquee_e2e::open_room(&addr, "demo", &tok("host", Role::Host)).unwrap();
                return Server { child, addr };
            }
            // Port not free yet: try again.
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("marquee room serve did not start");
    }

    /// SIGKILL, no goodbye.
    fn kill9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.addr.clone()
    }

    fn url(&self) -> String {
        format!("ws://{}/room/demo/ws", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gift_flood_with_duplicate_keys_while_the_server_is_killed_9_counts_acked_gifts_once() {
    let dir = Dir::new("flood");
    let mut server = Server::start(&dir.0, "127.0.0.1:0");
    let url = server.url();
    const CLIENTS: usize = 4;
    const GIFTS: usize = 25;
    let mut tasks = Vec::new();
    for ci in 0..CLIENTS {
        let url = url.clone();
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
        let addr = server.kill9();
        server = Server::start(&dir.0, &addr);
    }
    let mut acked = BTreeSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let addr = server.kill9();
    let _ = addr;
    let mut store = SqliteStore::open(dir.0.join("room.db")).unwrap();
    let ledger = store.ledger("demo").unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_resumes_after_the_server_process_is_killed_9() {
    let dir = Dir::new("resume");
    let server = Server::start(&dir.0, "127.0.0.1:0");
    let url = server.url();
    let mut watcher = client(&url, "watcher", Role::Viewer);
    let mut host = client(&url, "host", Role::Host);
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
    let addr = server.kill9();
    let server = Server::start(&dir.0, &addr);
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
    drop(server);
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

async fn joined(c: &mut RoomClient) {
    loop {
        match timeout(Duration::from_secs(20), c.recv())
            .await
            .expect("joined in time")
        {
            Some(ClientEvent::Joined { .. }) => return,
            Some(ClientEvent::Stopped { code, reason }) => panic!("{code}: {reason}"),
            Some(_) => {}
            None => panic!("client stopped"),
        }
    }
}
