//! Real Postgres and Redis servers for tests, each on loopback with a port, data and socket
//! directory of its own under a temporary directory, started by the test, waited for (until
//! it answers, never a fixed sleep) and stopped and removed when dropped. A missing server
//! fails loudly with the command that installs it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Run `f` on a thread of its own: the blocking Postgres client starts a runtime of its own,
/// which it may not do on a thread driving async tasks (an async test).
fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on loopback")
}

/// A new empty directory under the system's temporary directory, removed with the server.
fn scratch(what: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "marquee-{what}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).expect("cannot make a temporary directory");
    dir
}

fn id_of(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn stop_child(child: &mut Child, signal: i32, grace: Duration) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: signalling a child process of ours that we have not yet reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A Postgres server of the test's own.
pub struct Postgres {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    /// `(uid, gid)` to run it as when this process is root (Postgres refuses root).
    run_as: Option<(u32, u32)>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("port", &self.port)
            .finish()
    }
}

/// Where Debian puts a Postgres's programs (the newest installed), or `pg_config`'s answer.
fn postgres_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").exists() && b.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return b;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let b = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if b.join("postgres").exists() {
            return b;
        }
    }
    panic!(
        "PostgreSQL is not installed: run `apt-get install postgresql` (the tests start their own server)"
    );
}

impl Postgres {
    /// Make a database cluster and start a server on a free loopback port; returns once it
    /// accepts connections.
    pub fn start() -> Postgres {
        let bin = postgres_bin();
        let dir = scratch("pg");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let run_as = root.then(|| {
            let uid = id_of("postgres", "-u");
            let gid = id_of("postgres", "-g");
            match (uid, gid) {
                (Some(u), Some(g)) => (u, g),
                _ => panic!(
                    "no `postgres` user to run the server as: run `apt-get install postgresql`"
                ),
            }
        });
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the Postgres dir");
        }
        let mut pg = Postgres {
            child: None,
            dir,
            port: free_port(),
            bin,
            run_as,
        };
        let data = pg.dir.join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.launch();
        pg
    }

    /// One server shared by the tests of a binary that run at the same time: it starts with
    /// the first that asks and stops (and is removed) when the last of them drops it. (A
    /// `static` would never be dropped, and would leave the server running.)
    pub fn shared() -> Arc<Postgres> {
        static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pg) = slot.upgrade() {
            return pg;
        }
        let pg = Arc::new(Postgres::start());
        *slot = Arc::downgrade(&pg);
        pg
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.current_dir(&self.dir);
        if let Some((uid, gid)) = self.run_as {
            c.uid(uid).gid(gid);
        }
        c
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("postgres.log")).expect("postgres log");
        if let Some((uid, gid)) = self.run_as {
            let _ = std::os::unix::fs::chown(self.dir.join("postgres.log"), Some(uid), Some(gid));
        }
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=100",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(Child::try_wait) {
                panic!("postgres exited ({st}) before it was ready: {}", self.log());
            }
            let url = self.url("postgres");
            if off_runtime(move || postgres::Client::connect(&url, postgres::NoTls).is_ok()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections in 30 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The URL of database `db` (trust authentication: any password is accepted).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Make a new empty database (named `db` and a number unique in this server) and return
    /// its URL.
    pub fn create_db(&self, db: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let db = format!("{db}_{}", N.fetch_add(1, Ordering::Relaxed));
        let url = self.url("postgres");
        let create = format!("CREATE DATABASE \"{db}\"");
        off_runtime(move || {
            let mut c =
                postgres::Client::connect(&url, postgres::NoTls).expect("connect to postgres");
            c.batch_execute(&create).expect("create database");
        });
        self.url(&db)
    }

    /// Stop the server (fast shutdown); [`Postgres::restart`] starts it again on its data.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGINT, Duration::from_secs(10));
        }
    }

    /// Start it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis server of the test's own, with no persistence (`--save '' --appendonly no`).
pub struct Redis {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("port", &self.port).finish()
    }
}

fn redis_bin() -> &'static Path {
    let p = Path::new("/usr/bin/redis-server");
    if p.exists() {
        return p;
    }
    panic!(
        "redis-server is not installed: run `apt-get install redis-server` (the tests start their own)"
    );
}

impl Redis {
    /// Start on a free loopback port; returns once it answers PING.
    pub fn start() -> Redis {
        let mut r = Redis {
            child: None,
            dir: scratch("redis"),
            port: free_port(),
        };
        r.launch();
        r
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("redis log");
        let child = Command::new(redis_bin())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.pong() {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "redis-server exited ({st}): {}",
                    std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING in 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pong(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's process id (for a benchmark's CPU accounting).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGKILL, Duration::from_secs(5));
        }
    }

    /// Kill it and start it again, empty, on the same port (no persistence: its data is gone).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
