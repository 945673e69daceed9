//! [`Nginx`]: a private nginx-rtmp ingest that records every published stream.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::run::{Run, tail};

const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

/// A foreground nginx with the RTMP module on a free 127.0.0.1 port.
///
/// `application live { live on; record all; record_unique on; }`: every stream published to
/// `rtmp://127.0.0.1:PORT/live/NAME` is recorded to `record_dir()/NAME-<unix seconds>.flv`.
pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    tls_port: Option<u16>,
    record_dir: PathBuf,
    run: Option<Run>,
}

impl std::fmt::Debug for Nginx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nginx")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Nginx {
    /// Starts nginx and waits until its port accepts connections.
    pub fn start() -> Nginx {
        Self::start_inner(false, None)
    }

    /// Like [`Nginx::start`], also listening on `ip` (e.g. this end of a [`crate::NetLink`]),
    /// so a publisher in another network namespace reaches it across a real link.
    pub fn start_also_on(ip: &str) -> Nginx {
        Self::start_inner(false, Some(ip))
    }

    /// Like [`Nginx::start`], plus an RTMPS front: nginx's stream module terminates TLS
    /// (a self-signed certificate for 127.0.0.1, made with openssl) and passes the RTMP
    /// inside to the RTMP port — how RTMPS ingests are commonly deployed.
    pub fn start_with_tls() -> Nginx {
        Self::start_inner(true, None)
    }

    fn start_inner(tls: bool, also_on: Option<&str>) -> Nginx {
        crate::programs::program("nginx");
        assert!(
            Path::new(RTMP_MODULE).exists(),
            "{RTMP_MODULE} is missing — the end-to-end tests need the RTMP module: \
             install it with `sudo apt-get install -y nginx libnginx-mod-rtmp`"
        );
        let dir = crate::util::tempdir("marquee-nginx-");
        let record_dir = dir.path().join("recordings");
        std::fs::create_dir_all(dir.path().join("logs")).expect("mkdir logs");
        std::fs::create_dir_all(&record_dir).expect("mkdir recordings");
        {
            use std::os::unix::fs::PermissionsExt;
            // The worker process runs as `nobody` when the master is root.
            std::fs::set_permissions(&record_dir, std::fs::Permissions::from_mode(0o777))
                .expect("chmod recordings");
        }
        if tls {
            assert!(
                Path::new(STREAM_MODULE).exists(),
                "{STREAM_MODULE} is missing — the RTMPS test needs it: \
                 install it with `sudo apt-get install -y libnginx-mod-stream`"
            );
            make_certificate(dir.path());
        }
        // A port free when picked may be taken before nginx binds it (every test picks ports
        // at the same time; nginx-rtmp cannot listen on port 0 and say which it got, nor share
        // a reserved port): a port found taken is picked again.
        let mut n = Nginx {
            dir,
            port: 0,
            tls_port: None,
            record_dir,
            run: None,
        };
        for _ in 0..5 {
            n.port = crate::util::free_port();
            n.tls_port = tls.then(crate::util::free_port);
            // The log of a taken port's attempt would read as taken again.
            let _ = std::fs::remove_file(n.dir.path().join("error.log"));
            write_conf(n.dir.path(), &n.record_dir, n.port, n.tls_port, also_on);
            if n.try_launch().is_ok() {
                return n;
            }
        }
        panic!("nginx found its port taken five times in a row");
    }

    fn launch(&mut self) {
        if self.try_launch().is_err() {
            panic!(
                "nginx could not listen again on 127.0.0.1:{} (taken by another program since \
                 it stopped)\n--- error.log ---\n{}",
                self.port,
                self.error_log()
            );
        }
    }

    /// Starts nginx on its configuration; `Err` when its port was taken by someone else.
    fn try_launch(&mut self) -> Result<(), PortTaken> {
        assert!(self.run.is_none(), "nginx is already running");
        let mut c = Command::new(crate::programs::program("nginx"));
        c.arg("-p")
            .arg(self.dir.path())
            .arg("-e")
            .arg(self.dir.path().join("error.log"))
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"));
        // nginx writes its pid file once its listening sockets are bound: a port that accepts
        // before then is someone else's.
        let pid_file = self.dir.path().join("nginx.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut run = Run::spawn(c);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if pid_file.exists()
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                break;
            }
            if let Some(st) = run.try_wait() {
                if self.error_log().contains("Address already in use") {
                    return Err(PortTaken);
                }
                panic!(
                    "nginx exited ({st}) before accepting on port {}:\n{}\n--- error.log ---\n{}",
                    self.port,
                    run.report(),
                    self.error_log()
                );
            }
            if Instant::now() >= deadline {
                run.kill9();
                panic!(
                    "nginx did not accept on 127.0.0.1:{} within 10 s\n{}\n--- error.log ---\n{}",
                    self.port,
                    run.report(),
                    self.error_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.run = Some(run);
        Ok(())
    }

    /// The port it listens on (the same across [`Nginx::start_again`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtmps://127.0.0.1:TLSPORT/live` (from [`Nginx::start_with_tls`]).
    pub fn rtmps_app_url(&self) -> String {
        let tp = self.tls_port.expect("started with start_with_tls");
        format!("rtmps://127.0.0.1:{tp}/live")
    }

    /// The self-signed certificate of the RTMPS front (to trust it as a CA).
    pub fn tls_cert(&self) -> std::path::PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// `rtmp://127.0.0.1:PORT/live/STREAM`.
    pub fn url(&self, stream: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{stream}", self.port)
    }

    /// `rtmp://127.0.0.1:PORT/live` (append `/key:NAME` or `/STREAM`).
    pub fn app_url(&self) -> String {
        format!("rtmp://127.0.0.1:{}/live", self.port)
    }

    /// Where nginx writes recordings.
    pub fn record_dir(&self) -> &Path {
        &self.record_dir
    }

    /// The nginx prefix dir (conf, pid, error.log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// All recordings, oldest first.
    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut v: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&self.record_dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "flv"))
                    .map(|p| {
                        let t = p
                            .metadata()
                            .and_then(|m| m.created().or_else(|_| m.modified()))
                            .unwrap_or(std::time::UNIX_EPOCH);
                        (t, p)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// Recordings of stream `name` (files `NAME-<unix seconds>.flv`), oldest first.
    pub fn recordings_of(&self, name: &str) -> Vec<PathBuf> {
        self.recordings()
            .into_iter()
            .filter(|p| {
                p.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.rsplit_once('-'))
                    .is_some_and(|(stem, ts)| {
                        stem == name && ts.chars().all(|c| c.is_ascii_digit())
                    })
            })
            .collect()
    }

    /// Waits until a recording of `name` has at least `min_bytes`; returns it.
    pub fn wait_recording(&self, name: &str, min_bytes: u64, timeout: Duration) -> Option<PathBuf> {
        let mut found = None;
        crate::util::wait_until(timeout, || {
            found = self
                .recordings_of(name)
                .into_iter()
                .rev()
                .find(|p| p.metadata().map(|m| m.len()).unwrap_or(0) >= min_bytes);
            found.is_some()
        });
        found
    }

    /// Waits until no recording has changed size for `quiet` (nginx has closed them), up to
    /// `timeout`.
    pub fn wait_recordings_settled(&self, quiet: Duration, timeout: Duration) {
        let sizes = || -> Vec<u64> {
            self.recordings()
                .iter()
                .map(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
                .collect()
        };
        let deadline = Instant::now() + timeout;
        let mut last = sizes();
        let mut since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let now = sizes();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// The error log so far (connection and publish events at level info).
    pub fn error_log(&self) -> String {
        let s = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        tail(&s, 8000).to_string()
    }

    /// Whether the server is running.
    pub fn is_running(&mut self) -> bool {
        match self.run.as_mut() {
            Some(r) => r.try_wait().is_none(),
            None => false,
        }
    }

    /// Stops the server (SIGTERM: fast shutdown, connections are dropped), waits for the master
    /// and its workers to be gone and the port to refuse connections.
    pub fn stop(&mut self) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        let workers = children_of(run.pid());
        run.terminate(Duration::from_secs(5));
        for w in workers {
            // SIGTERM to the master normally ends the workers; make sure, so the port is free.
            if Path::new(&format!("/proc/{w}")).exists() {
                // SAFETY: plain kill(2) on a pid we just read as nginx's worker.
                unsafe {
                    libc::kill(w, libc::SIGKILL);
                }
            }
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        crate::util::wait_until(Duration::from_secs(5), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err()
        });
    }

    /// Starts the server again on the same port with the same dirs (after [`Nginx::stop`]).
    pub fn start_again(&mut self) {
        self.stop();
        self.launch();
    }
}

/// nginx could not bind its port: another program holds it.
struct PortTaken;

/// A self-signed certificate for 127.0.0.1 (`cert.pem`, `key.pem` in `dir`), made with openssl.
fn make_certificate(dir: &Path) {
    let mut c = Command::new(crate::programs::program("openssl"));
    c.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    ])
    .args(["-subj", "/CN=127.0.0.1"])
    .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
    .arg("-keyout")
    .arg(dir.join("key.pem"))
    .arg("-out")
    .arg(dir.join("cert.pem"));
    let d = crate::run::exec(c, Duration::from_secs(30));
    assert!(
        d.success(),
        "openssl could not make a certificate: {}",
        d.stderr
    );
}

/// `nginx.conf` in `dir`: RTMP on `port` recording into `record_dir`, and with `tls_port` an
/// RTMPS front (the stream module terminating TLS and passing the RTMP inside to `port`);
/// RTMP also on `also_on:port` when given.
fn write_conf(
    dir: &Path,
    record_dir: &Path,
    port: u16,
    tls_port: Option<u16>,
    also_on: Option<&str>,
) {
    let also = also_on.map_or(String::new(), |ip| {
        format!("\x20       listen {ip}:{port};\n")
    });
    let (stream_module, stream_conf) = match tls_port {
        None => (String::new(), String::new()),
        Some(tp) => (
            format!("load_module {STREAM_MODULE};\n"),
            format!(
                "stream {{\n\
                 \x20   server {{\n\
                 \x20       listen 127.0.0.1:{tp} ssl;\n\
                 \x20       ssl_certificate {cert};\n\
                 \x20       ssl_certificate_key {key};\n\
                 \x20       proxy_pass 127.0.0.1:{port};\n\
                 \x20   }}\n\
                 }}\n",
                cert = dir.join("cert.pem").display(),
                key = dir.join("key.pem").display(),
            ),
        ),
    };
    let conf = format!(
        "load_module {RTMP_MODULE};\n\
         {stream_module}\
         daemon off;\n\
         master_process on;\n\
         worker_processes 1;\n\
         pid {pid};\n\
         error_log {log} info;\n\
         events {{ worker_connections 256; }}\n\
         rtmp {{\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         {also}\
         \x20       application live {{\n\
         \x20           live on;\n\
         \x20           record all;\n\
         \x20           record_path {rec};\n\
         \x20           record_unique on;\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n\
         {stream_conf}",
        pid = dir.join("nginx.pid").display(),
        log = dir.join("error.log").display(),
        rec = record_dir.display(),
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
}

fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_taken_before_nginx_binds_it_is_reported_not_mistaken_for_nginx() {
        // Someone else listens on the port nginx is told to use: the port accepts, but it is
        // not nginx's — the launch must say so rather than hand the port to the test.
        let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let dir = crate::util::tempdir("marquee-nginx-");
        let record_dir = dir.path().join("recordings");
        std::fs::create_dir_all(&record_dir).expect("mkdir recordings");
        let port = other.local_addr().expect("addr").port();
        write_conf(dir.path(), &record_dir, port, None, None);
        let mut n = Nginx {
            dir,
            port,
            tls_port: None,
            record_dir,
            run: None,
        };
        assert!(n.try_launch().is_err(), "a taken port is reported");
        // And a free port starts as usual.
        let started = Nginx::start();
        assert_ne!(started.port(), port);
    }
}
