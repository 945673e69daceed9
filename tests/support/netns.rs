//! [`NetLink`]: a network namespace joined to this one by a veth pair, for tests of
//! what crosses a real (if local) network: loss with nftables, rate limits with tbf; or by two
//! TUN devices with a path emulated in user space between them (delay, jitter, loss: this
//! kernel has no netem). Needs root, iproute2 and nftables.

use crate::linkem::{Counts, Direction, Shape};
use crate::run::exec;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A network namespace with one end of a link (`10.X.Y.2`), the other end here (`10.X.Y.1`);
/// removed (with the link) on drop.
pub struct NetLink {
    ns: String,
    /// This end's address, `10.X.Y.1` (the guest's is `.2`).
    pub host_ip: String,
    /// The link's ends: here (towards the guest) and inside the namespace (towards the host).
    here: String,
    there: String,
    /// The user-space path between two TUN devices, when the link is emulated.
    emulated: Option<Emulated>,
}

/// The thread that carries packets between the two TUN devices, and what it did.
struct Emulated {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// (from the namespace towards here, from here into the namespace)
    counts: Arc<Mutex<(Counts, Counts)>>,
}

fn run_ok(mut c: Command, what: &str) -> String {
    let d = exec(
        {
            c.stdin(std::process::Stdio::null());
            c
        },
        Duration::from_secs(10),
    );
    assert!(
        d.success(),
        "{what}: {} (needs root, iproute2 and nftables: apt-get install -y iproute2 nftables)",
        d.stderr
    );
    d.stdout_str()
}

fn ip(args: &[&str]) {
    let mut c = Command::new("ip");
    c.args(args);
    run_ok(c, &format!("ip {}", args.join(" ")));
}

impl NetLink {
    /// Creates the namespace and the pair (a name of this process's own; removed on drop).
    pub fn start() -> NetLink {
        let link = NetLink::named("mqi");
        ip(&[
            "link",
            "add",
            &link.here,
            "type",
            "veth",
            "peer",
            "name",
            &link.there,
        ]);
        link.address_both_ends(false);
        link
    }

    /// Creates the namespace joined to this one by two TUN devices, and a thread that carries
    /// each packet across after the path's `up` (out of the namespace) or `down` (into it)
    /// shape: delay, jitter and loss as netem would (see [`crate::linkem`]), repeatable
    /// (seeded). Removed on drop.
    pub fn start_emulated(up: Shape, down: Shape) -> NetLink {
        let mut link = NetLink::named("mqe");
        let here = open_tun(&link.here);
        let there = open_tun(&link.there);
        let counts = Arc::new(Mutex::new((Counts::default(), Counts::default())));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, stop) = (counts.clone(), stop.clone());
            std::thread::Builder::new()
                .name("link-emulator".into())
                .spawn(move || carry(there, here, up, down, &counts, &stop))
                .expect("spawn the link emulator")
        };
        link.emulated = Some(Emulated {
            stop,
            thread: Some(thread),
            counts,
        });
        // Point to point: each end's address with the other as its peer.
        link.address_both_ends(true);
        link
    }

    /// What the emulated path did so far: (out of the namespace, into it); None for a veth.
    pub fn emulated_counts(&self) -> Option<(Counts, Counts)> {
        (self.emulated.as_ref()).map(|e| *e.counts.lock().expect("link counts"))
    }

    /// A namespace and device names of this process's own, and the addresses; nothing made
    /// but the namespace.
    fn named(prefix: &str) -> NetLink {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10;
        let id = format!("{}{n}", std::process::id());
        let pid = std::process::id();
        let ns = format!("{prefix}ce{id}");
        let net = format!("10.{}.{}", 214 + n, pid % 250 + 1);
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", &ns]);
        NetLink {
            ns,
            host_ip: format!("{net}.1"),
            here: format!("{prefix}{id}h"),
            there: format!("{prefix}{id}v"),
            emulated: None,
        }
    }

    /// Moves `there` into the namespace and gives both ends their address, up: on one /24 (a
    /// veth), or each with the other as its peer (`point_to_point`: TUN devices).
    fn address_both_ends(&self, point_to_point: bool) {
        let (near, far) = (self.host_ip.clone(), self.inner_ip());
        let mask = if point_to_point { "" } else { "/24" };
        let ns = self.ns.as_str();
        ip(&["link", "set", &self.there, "netns", ns]);
        let here_addr = format!("{near}{mask}");
        let there_addr = format!("{far}{mask}");
        let mut a = vec!["addr", "add", here_addr.as_str()];
        if point_to_point {
            a.extend(["peer", far.as_str()]);
        }
        a.extend(["dev", self.here.as_str()]);
        ip(&a);
        ip(&["link", "set", &self.here, "up"]);
        let mut a = vec![
            "netns",
            "exec",
            ns,
            "ip",
            "addr",
            "add",
            there_addr.as_str(),
        ];
        if point_to_point {
            a.extend(["peer", near.as_str()]);
        }
        a.extend(["dev", self.there.as_str()]);
        ip(&a);
        ip(&["netns", "exec", ns, "ip", "link", "set", &self.there, "up"]);
        ip(&["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
    }

    /// `nft` inside the namespace.
    fn nft(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "nft"]).args(args);
        run_ok(c, &format!("nft {}", args.join(" ")))
    }

    /// Drops `pct` % of the UDP packets coming into and going out of the namespace, counted.
    pub fn lose_udp(&self, pct: u32) {
        self.lose("udp", pct);
    }

    /// Drops `pct` % of the TCP segments coming into and going out of the namespace, counted.
    pub fn lose_tcp(&self, pct: u32) {
        self.lose("tcp", pct);
    }

    fn lose(&self, proto: &str, pct: u32) {
        self.nft(&["add", "table", "inet", "mqloss"]);
        for (chain, hook) in [("in", "input"), ("out", "output")] {
            self.nft(&[
                "add",
                "chain",
                "inet",
                "mqloss",
                chain,
                &format!("{{ type filter hook {hook} priority 0; }}"),
            ]);
            self.nft(&[
                "add",
                "rule",
                "inet",
                "mqloss",
                chain,
                "meta",
                "l4proto",
                proto,
                "counter",
                "numgen",
                "random",
                "mod",
                "100",
                "<",
                &pct.to_string(),
                "counter",
                "drop",
            ]);
        }
    }

    /// A firewall in the namespace: no UDP leaves for `ip` except to `port` (a network that
    /// lets only its TURN relay through). Returns nothing; [`NetLink::blocked`] counts.
    pub fn block_udp_to(&self, ip: &str, port: u16) {
        self.nft(&["add", "table", "inet", "mqfw"]);
        self.nft(&[
            "add",
            "chain",
            "inet",
            "mqfw",
            "out",
            "{ type filter hook output priority 0; }",
        ]);
        self.nft(&[
            "add",
            "rule",
            "inet",
            "mqfw",
            "out",
            "ip",
            "daddr",
            ip,
            "udp",
            "dport",
            "!=",
            &port.to_string(),
            "counter",
            "drop",
        ]);
    }

    /// UDP packets the firewall of [`NetLink::block_udp_to`] dropped.
    pub fn blocked(&self) -> u64 {
        let text = self.nft(&["list", "table", "inet", "mqfw"]);
        text.split("counter packets ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Limits the link to `kbit` kbit/s each way (tbf on both veth ends: the guest's uplink
    /// and its return feed), with a 400 ms queue before packets are dropped.
    pub fn shape(&self, kbit: u32) {
        let args = |dev: &str| {
            [
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                "32kbit",
                "latency",
                "400ms",
            ]
            .map(str::to_string)
        };
        let mut c = Command::new("tc");
        c.args(args(&self.here));
        run_ok(c, "tc qdisc … tbf (here)");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "tc"])
            .args(args(&self.there));
        run_ok(c, "tc qdisc … tbf (in the namespace)");
    }

    /// `(seen, dropped)` packets per loss rule and direction (`in`, `out`) from its counters.
    pub fn loss_counts(&self) -> Vec<(String, u64, u64)> {
        let text = self.nft(&["list", "table", "inet", "mqloss"]);
        let mut out = Vec::new();
        let mut chain = String::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(c) = l.strip_prefix("chain ") {
                chain = c.trim_end_matches(" {").to_string();
            }
            let packets: Vec<u64> = l
                .split("counter packets ")
                .skip(1)
                .filter_map(|s| s.split_whitespace().next()?.parse().ok())
                .collect();
            if let [seen, dropped] = packets[..] {
                out.push((chain.clone(), seen, dropped));
            }
        }
        out
    }

    /// The namespace's own address (`10.X.Y.2`).
    pub fn inner_ip(&self) -> String {
        let net = self.host_ip.rsplit_once('.').map_or("", |(n, _)| n);
        format!("{net}.2")
    }

    /// Whether a socket inside the namespace has bound UDP `port` (an SRT listener that is up).
    pub fn udp_port_bound(&self, port: u16) -> bool {
        let mut cat = Command::new("cat");
        cat.arg("/proc/net/udp");
        let d = exec(self.inside(cat), Duration::from_secs(5));
        let needle = format!(":{port:04X}");
        d.stdout_str().lines().skip(1).any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&needle))
        })
    }

    /// A UDP socket inside the namespace, bound to its address on a free port (made on a
    /// thread that joins the namespace; a socket stays in the namespace it was made in).
    pub fn udp_socket_inside(&self) -> std::net::UdpSocket {
        let path = format!("/var/run/netns/{}", self.ns);
        let addr = format!("{}:0", self.inner_ip());
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: setns on a namespace file we opened; it moves only this thread.
                let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert!(r == 0, "setns {path}: {}", std::io::Error::last_os_error());
                std::net::UdpSocket::bind(&addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
            })
            .join()
            .expect("the namespace thread")
        })
    }

    /// `c` run inside the namespace (same program, arguments and environment).
    pub fn inside(&self, c: Command) -> Command {
        let mut n = Command::new("ip");
        n.args(["netns", "exec", &self.ns])
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                n.env(k, v);
            }
        }
        n
    }
}

impl Drop for NetLink {
    fn drop(&mut self) {
        if let Some(e) = &mut self.emulated {
            // The TUN devices go with the emulator's file descriptors.
            e.stop.store(true, Ordering::Relaxed);
            if let Some(t) = e.thread.take() {
                let _ = t.join();
            }
        }
        // Deleting the namespace deletes the veth pair (and its nftables) with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// A TUN device `name` (IP packets, no extra header), non-blocking; it lives as long as the
/// file.
fn open_tun(name: &str) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .unwrap_or_else(|e| panic!("open /dev/net/tun: {e} (needs root and the tun module)"));
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _rest: [u8; 22],
    }
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
        _rest: [0; 22],
    };
    assert!(name.len() < libc::IFNAMSIZ, "TUN name {name} too long");
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq` (name, flags, union) that `req`
    // matches in size and layout; the descriptor is ours.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) };
    assert!(
        r == 0,
        "TUNSETIFF {name}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fcntl on our own descriptor.
    unsafe {
        let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    f
}

/// Carries packets between the namespace's TUN (`inner`) and this side's (`outer`) through
/// one emulated direction each way, until `stop`.
fn carry(
    inner: std::fs::File,
    outer: std::fs::File,
    up: Shape,
    down: Shape,
    counts: &Mutex<(Counts, Counts)>,
    stop: &AtomicBool,
) {
    use std::io::{Read, Write};
    let mut dirs = [
        Direction::new(up, 0x5eed_0001),
        Direction::new(down, 0x5eed_0002),
    ];
    let mut ends = [inner, outer];
    let start = Instant::now();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let now = start.elapsed();
        for (i, d) in dirs.iter_mut().enumerate() {
            while let Some(p) = d.poll_transmit(now) {
                // Direction 0 leaves the namespace: it is written into this side's TUN.
                let _ = ends[1 - i].write(&p);
            }
        }
        *counts.lock().expect("link counts") = (dirs[0].counts, dirs[1].counts);
        let wake = (dirs.iter().filter_map(Direction::poll_timeout))
            .min()
            .map_or(Duration::from_millis(100), |t| t.saturating_sub(now))
            .min(Duration::from_millis(100));
        let mut fds = ends.each_ref().map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // Millisecond wake-ups, rounded up: a packet never leaves before it is due.
        let ms = wake.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: poll on two descriptors we own, with the array's true length.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        let now = start.elapsed();
        for (i, end) in ends.iter_mut().enumerate() {
            while let Ok(n) = end.read(&mut buf) {
                if n == 0 {
                    break;
                }
                dirs[i].push(buf[..n].to_vec(), now);
            }
        }
    }
}
