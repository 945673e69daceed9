//! [`RoomProxy`]: the room server as it runs on a public machine — behind nginx terminating TLS
//! with a certificate from a CA the test makes (openssl), passing WebSocket upgrades through,
//! adding `X-Forwarded-For` — and [`open_room`], a room opened over HTTP as an admin would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::run::{Run, tail};

/// The address nginx connects to the room servers from (`proxy_bind`): another loopback
/// address than the clients', so that a server can tell the proxy from the client.
pub const PROXY_SOURCE: &str = "127.0.0.2";

/// A foreground nginx: one TLS server block per upstream room server, each on its own
/// 127.0.0.1 port, for the names `localhost` and `127.0.0.1`.
pub struct RoomProxy {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    run: Option<Run>,
}

impl std::fmt::Debug for RoomProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomProxy")
            .field("ports", &self.ports)
            .field("dir", &self.dir.path())
            .finish()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let mut c = Command::new(crate::programs::program("openssl"));
    c.current_dir(dir).args(args);
    let d = crate::run::exec(c, Duration::from_secs(30));
    assert!(d.success(), "openssl {args:?}: {}", d.stderr);
}

/// A CA (`ca.pem`) and a server certificate it signed for `localhost`, 127.0.0.1 and `ips`
/// (`server.pem`, `server.key`), in `dir`.
pub fn make_certificates(dir: &Path, ips: &[&str]) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=Marquee test CA"];
    ca.extend(ec);
    ca.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    let names: String = ips.iter().map(|ip| format!(",IP:{ip}")).collect();
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "subjectAltName=DNS:localhost,IP:127.0.0.1{names}\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

impl RoomProxy {
    /// Starts nginx with a TLS front on each `(port, upstream)` and waits until every front
    /// accepts connections. A room server is told its public URL before the proxy starts: take
    /// the ports with [`crate::reserve_port`] and hold them until this returns (nginx listens
    /// with `reuseport`, so it shares a port only with such a reservation).
    pub fn start(fronts: &[(u16, SocketAddr)]) -> RoomProxy {
        crate::programs::program("nginx");
        let dir = crate::util::tempdir("marquee-room-proxy-");
        make_certificates(dir.path(), &[]);
        for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.path().join("tmp").join(t)).expect("mkdir tmp");
        }
        let ports: Vec<u16> = fronts.iter().map(|(port, _)| *port).collect();
        let p = |f: &str| dir.path().join(f).display().to_string();
        let mut servers = String::new();
        for (port, up) in fronts {
            servers.push_str(&format!(
                "    server {{\n\
                 \x20       listen 127.0.0.1:{port} ssl reuseport;\n\
                 \x20       server_name localhost 127.0.0.1;\n\
                 \x20       ssl_certificate {cert};\n\
                 \x20       ssl_certificate_key {key};\n\
                 \x20       location / {{\n\
                 \x20           proxy_pass http://{up};\n\
                 \x20           proxy_http_version 1.1;\n\
                 \x20           proxy_set_header Upgrade $http_upgrade;\n\
                 \x20           proxy_set_header Connection $connection_upgrade;\n\
                 \x20           proxy_set_header Host $host;\n\
                 \x20           proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 \x20           proxy_set_header X-Forwarded-Proto $scheme;\n\
                 \x20           proxy_bind {PROXY_SOURCE};\n\
                 \x20           proxy_read_timeout 1h;\n\
                 \x20       }}\n\
                 \x20   }}\n",
                cert = p("server.pem"),
                key = p("server.key"),
            ));
        }
        let tmp = |t: &str| dir.path().join("tmp").join(t).display().to_string();
        let conf = format!(
            "daemon off;\n\
             master_process on;\n\
             worker_processes 1;\n\
             pid {pid};\n\
             error_log {log} info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
             \x20   access_log {access};\n\
             \x20   client_body_temp_path {body};\n\
             \x20   proxy_temp_path {proxy};\n\
             \x20   fastcgi_temp_path {fastcgi};\n\
             \x20   uwsgi_temp_path {uwsgi};\n\
             \x20   scgi_temp_path {scgi};\n\
             \x20   map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
             {servers}\
             }}\n",
            pid = p("nginx.pid"),
            log = p("error.log"),
            access = p("access.log"),
            body = tmp("body"),
            proxy = tmp("proxy"),
            fastcgi = tmp("fastcgi"),
            uwsgi = tmp("uwsgi"),
            scgi = tmp("scgi"),
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
        let mut c = Command::new(crate::programs::program("nginx"));
        c.arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"));
        let mut run = Run::spawn(c);
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in &ports {
            let addr = SocketAddr::from(([127, 0, 0, 1], *port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                if let Some(st) = run.try_wait() {
                    panic!(
                        "nginx exited ({st}) before accepting on {port}:\n{}\n--- error.log ---\n{}",
                        run.report(),
                        tail(&log, 4000)
                    );
                }
                if Instant::now() >= deadline {
                    run.kill9();
                    panic!(
                        "nginx did not accept on {port} within 10 s\n{}",
                        tail(&log, 4000)
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        RoomProxy {
            dir,
            ports,
            run: Some(run),
        }
    }

    /// The CA that signed the proxy's certificate (PEM).
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.ca_path()).expect("read ca.pem")
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// nginx's access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for RoomProxy {
    fn drop(&mut self) {
        if let Some(mut run) = self.run.take() {
            run.terminate(Duration::from_secs(5));
        }
    }
}

/// `PUT /api/rooms/ROOM` with `Authorization: Bearer CREDENTIAL` (a host token for the room,
/// or the admin key) on the room server at `addr`: the room exists afterwards.
pub fn open_room(addr: &str, room: &str, credential: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        s,
        "PUT /api/rooms/{room} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {credential}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut res = String::new();
    s.read_to_string(&mut res).map_err(|e| e.to_string())?;
    if res.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("open room {room}: {}", tail(&res, 500)))
    }
}
