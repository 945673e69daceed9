//! [`RoomServer`]: `marquee room serve` as a process, waited for until it prints where it
//! listens, killed when dropped; [`RoomCluster`]: a Postgres, a Redis and n such nodes on them
//! (`--store postgres://… --bus redis://…`), so a suite can run the same body on one node and
//! on a cluster.

use crate::cli::marquee;
use crate::room_proxy::PROXY_SOURCE;
use crate::run::Run;
use marquee_roomcluster::testing::{Postgres, Redis};
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `marquee` command a server is started from (with the environment or `HOME` it needs).
type MakeCommand = Arc<dyn Fn() -> Command + Send + Sync>;

/// A running `marquee room serve`.
pub struct RoomServer {
    run: Run,
    addr: SocketAddr,
    make: MakeCommand,
    args: Vec<OsString>,
}

impl RoomServer {
    /// `marquee room serve --listen 127.0.0.1:0 ARGS`, once it listens.
    pub fn start<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> RoomServer {
        RoomServer::start_with(marquee, "127.0.0.1:0", args)
    }

    /// As it runs on a public machine behind [`crate::room_proxy::RoomProxy`] at
    /// `https://localhost:{front}`: its database and `room.secret` in `dir`, the proxy trusted.
    pub fn start_behind_proxy(dir: &Path, front: u16) -> RoomServer {
        let public = format!("https://localhost:{front}");
        let mut args: Vec<OsString> = vec!["--db".into(), dir.join("room.db").into()];
        args.extend(["--secret-file".into(), dir.join("room.secret").into()]);
        args.extend(["--public-url".into(), public.into()]);
        args.extend(["--trusted-proxy".into(), PROXY_SOURCE.into()]);
        RoomServer::start(args)
    }

    /// `make()` (a `marquee` command with its environment) run as `room serve --listen LISTEN
    /// ARGS`. A fixed `listen` still held by a server just killed is tried again for 5 s.
    pub fn start_with<S: AsRef<OsStr>>(
        make: impl Fn() -> Command + Send + Sync + 'static,
        listen: &str,
        args: impl IntoIterator<Item = S>,
    ) -> RoomServer {
        let args: Vec<OsString> = std::iter::once("--listen".into())
            .chain(std::iter::once(listen.into()))
            .chain(args.into_iter().map(|a| a.as_ref().to_owned()))
            .collect();
        RoomServer::launch(Arc::new(make), args)
    }

    fn launch(make: MakeCommand, args: Vec<OsString>) -> RoomServer {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = make();
            c.args(["room", "serve"]).args(&args);
            let run = Run::spawn(c);
            let listening = run.wait_output(Duration::from_secs(20), |o, _| {
                o.lines().any(|l| l.starts_with("room server on "))
            });
            if let Some(addr) = listening.then(|| banner_addr(&run.stdout())).flatten() {
                return RoomServer {
                    run,
                    addr,
                    make,
                    args,
                };
            }
            let in_use = run.stderr().contains("in use");
            assert!(
                in_use && Instant::now() < deadline,
                "marquee room serve did not start: {}",
                run.report()
            );
            drop(run);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://ADDR/room/ROOM/ws`.
    pub fn ws_url(&self, room: &str) -> String {
        format!("ws://{}/room/{room}/ws", self.addr)
    }

    /// The process, with what it printed.
    pub fn run(&self) -> &Run {
        &self.run
    }

    pub fn run_mut(&mut self) -> &mut Run {
        &mut self.run
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        self.run.kill9();
    }

    /// SIGKILL, then the same command again on the same address.
    pub fn restart(&mut self) {
        self.run.kill9();
        let mut args = self.args.clone();
        args[1] = self.addr.to_string().into();
        *self = RoomServer::launch(self.make.clone(), args);
    }
}

/// The address in `room server on ADDR — …`.
fn banner_addr(stdout: &str) -> Option<SocketAddr> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("room server on "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
}

/// `n` nodes of one room cluster: a database of their own on the Postgres shared by this test
/// binary, a Redis of their own.
pub struct RoomCluster {
    nodes: Vec<RoomServer>,
    store: String,
    redis: Redis,
    pg: Arc<Postgres>,
}

/// The variable the nodes read the store's URL from (`--store env:NAME`), as a deployment is
/// told to: the URL carries a password.
const STORE_VAR: &str = "MQ_TEST_ROOM_STORE";

impl RoomCluster {
    /// `n` nodes, each `marquee room serve --store … --bus … ARGS` (ARGS: the secret file and
    /// whatever else every node needs). The store's URL has a password in it (trust
    /// authentication ignores it) that a node must never print.
    pub fn start<S: AsRef<OsStr>>(
        name: &str,
        n: usize,
        args: impl IntoIterator<Item = S>,
    ) -> RoomCluster {
        let pg = Postgres::shared();
        let store = pg
            .create_db(name)
            .replace("postgres@", "postgres:never-print-me@");
        let redis = Redis::start();
        let args: Vec<OsString> = ["--store".into(), format!("env:{STORE_VAR}").into()]
            .into_iter()
            .chain(["--bus".into(), redis.url().into()])
            .chain(args.into_iter().map(|a| a.as_ref().to_owned()))
            .collect();
        let make = {
            let store = store.clone();
            move || {
                let mut c = marquee();
                c.env(STORE_VAR, &store);
                c
            }
        };
        let make: MakeCommand = Arc::new(make);
        let nodes = (0..n)
            .map(|_| {
                let make = make.clone();
                RoomServer::start_with(move || make(), "127.0.0.1:0", &args)
            })
            .collect();
        RoomCluster {
            nodes,
            store,
            redis,
            pg,
        }
    }

    pub fn nodes(&self) -> &[RoomServer] {
        &self.nodes
    }

    pub fn node_mut(&mut self, i: usize) -> &mut RoomServer {
        &mut self.nodes[i]
    }

    /// The Postgres URL of the cluster's database (with its password).
    pub fn store(&self) -> &str {
        &self.store
    }

    pub fn redis_mut(&mut self) -> &mut Redis {
        &mut self.redis
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The Postgres the cluster's database is on (shared by this process's clusters).
    pub fn postgres(&self) -> &Postgres {
        &self.pg
    }
}
