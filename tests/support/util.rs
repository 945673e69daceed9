//! Small helpers the parts and the suites share: ports, clocks, waiting, temp dirs, files.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A free TCP port on 127.0.0.1 (bind :0, read the port, release it).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A free UDP port on 127.0.0.1 (bind :0, read the port, release it), for SRT.
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
    s.local_addr().expect("local addr").port()
}

/// Whether something has bound UDP `port` on 127.0.0.1 (an SRT listener that is up).
pub fn udp_port_bound(port: u16) -> bool {
    std::net::UdpSocket::bind(("127.0.0.1", port)).is_err()
}

/// Whether a socket listens on TCP `port` (from /proc/net/tcp and tcp6: asking by
/// connecting would be taken as a client by a server that accepts one connection).
pub fn tcp_listening(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && format!("{} ", cols[1]).ends_with(&needle) && cols[3] == "0A"
            })
        })
    })
}

/// A port on 127.0.0.1 kept for a server that is told its number before it starts (nginx
/// cannot listen on port 0 and say which port it got). The port stays bound (not listening,
/// with `SO_REUSEPORT`) until this is dropped: no other socket on the machine can take it in the
/// meantime — [`free_port`]'s port is free again the moment it returns, and any `bind(0)` or
/// outgoing connection elsewhere may get it — while a server of the same user that listens on
/// it with `SO_REUSEPORT` (nginx's `listen … reuseport`) can. Connections reach only the
/// listening socket.
#[derive(Debug)]
pub struct ReservedPort {
    _socket: std::os::fd::OwnedFd,
    port: u16,
}

impl ReservedPort {
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Reserves a free port on 127.0.0.1 (see [`ReservedPort`]).
pub fn reserve_port() -> ReservedPort {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let err = || std::io::Error::last_os_error();
    // SAFETY: a new socket whose descriptor is owned at once; setsockopt, bind and
    // getsockname get correctly sized values we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", err());
        let socket = OwnedFd::from_raw_fd(fd);
        let on: libc::c_int = 1;
        let r = libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            &on as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "SO_REUSEPORT: {}", err());
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let r = libc::bind(
            socket.as_raw_fd(),
            &addr as *const _ as *const libc::sockaddr,
            len,
        );
        assert_eq!(r, 0, "bind 127.0.0.1:0: {}", err());
        let mut len = len;
        let r = libc::getsockname(
            socket.as_raw_fd(),
            &mut addr as *mut _ as *mut libc::sockaddr,
            &mut len,
        );
        assert_eq!(r, 0, "getsockname: {}", err());
        ReservedPort {
            _socket: socket,
            port: u16::from_be(addr.sin_port),
        }
    }
}

/// Milliseconds since the Unix epoch (the clock summary events use).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Polls `f` every 20 ms until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serialises the tests that encode video in real time: on two shared cores, two live sessions
/// at once would turn timing assertions (fps, reconnect within 2 s) into noise.
pub fn heavy() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `needle` occurs anywhere in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `dir` (recursively) whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file()
                && let Ok(bytes) = std::fs::read(&p)
                && contains_bytes(&bytes, needle)
            {
                hits.push(p);
            }
        }
    }
    hits
}

/// A world-traversable temp dir (nginx's worker runs as `nobody` when the tests run as root).
/// With `MARQUEE_E2E_KEEP=1` it is left behind (and its path printed) for a post-mortem.
pub fn tempdir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let keep = std::env::var_os("MARQUEE_E2E_KEEP").is_some_and(|v| v == "1");
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(keep)
        .tempdir()
        .expect("create temp dir");
    if keep {
        eprintln!("MARQUEE_E2E_KEEP: keeping {}", d.path().display());
    }
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    d
}

/// The value at fraction `p` (0…1) of `sorted` (nearest rank); NaN when it is empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize]
}

/// A benchmark binary's answer to arguments it cannot use: what was wrong, how it is called,
/// exit code 2.
pub fn bench_usage(bench: &str, args: &str, problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("{bench}: {problem}");
    }
    eprintln!("usage: {bench} {args}");
    std::process::exit(2)
}
