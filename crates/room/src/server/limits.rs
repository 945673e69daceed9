//! Caps on what the network may hold open: HTTP connections not upgraded (per peer address and
//! in all, idle keep-alive ones included), the requests being read on them ("handshakes", per
//! peer address and in all: a connection counts only while a request head is arriving, so a
//! browser's idle keep-alive connections never do) and WebSocket connections (per client
//! address and in all). A slot is taken before the work and given back when its guard drops, so
//! a count can never leak; one lock over small maps (taken once per request or connection, never
//! per frame).

use super::refusal::Refusal;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server's caps (see docs/deploy-room.md for what each one protects).
#[derive(Debug, Clone)]
pub struct Caps {
    /// Room threads running at once; a room past it is refused (503) until one goes idle.
    pub max_rooms: usize,
    /// WebSocket connections in all; HTTP connections not upgraded (idle keep-alive ones
    /// included) are bounded by the same number, counted apart.
    pub max_connections: usize,
    /// WebSocket connections to one room.
    pub max_room_connections: usize,
    /// WebSocket connections from one client address (an IPv4 address or an IPv6 /64); HTTP
    /// connections not upgraded from one peer address are bounded by the same number, counted
    /// apart (a trusted proxy is exempt: it carries many clients).
    pub max_connections_per_address: usize,
    /// Requests whose head is being read, in all.
    pub max_handshakes: usize,
    /// Requests whose head is being read from one peer address (a trusted proxy is exempt: it
    /// carries many clients). A connection between requests (an idle keep-alive one) holds
    /// none.
    pub max_handshakes_per_address: usize,
    /// A request's head (request line and headers) must arrive within this; an idle
    /// keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// Largest request head, in bytes.
    pub max_header_bytes: usize,
}

impl Default for Caps {
    /// Sized for a small VPS (1 vCPU, 1 GiB, the usual 1024 descriptors raised by the unit in
    /// docs/deploy-room.md): the server's own descriptors stay far below what the process has.
    fn default() -> Self {
        Caps {
            max_rooms: 100,
            max_connections: 10_000,
            max_room_connections: 5_000,
            max_connections_per_address: 32,
            max_handshakes: 512,
            max_handshakes_per_address: 16,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
        }
    }
}

impl Caps {
    /// No cap worth speaking of (tests and benchmarks that open thousands of sockets from one
    /// address); timeouts stay.
    pub fn unlimited() -> Self {
        Caps {
            max_rooms: usize::MAX,
            max_connections: usize::MAX,
            max_room_connections: usize::MAX,
            max_connections_per_address: usize::MAX,
            max_handshakes: usize::MAX,
            max_handshakes_per_address: usize::MAX,
            ..Caps::default()
        }
    }
}

/// Descriptors the process may open (`RLIMIT_NOFILE`), if known.
fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we pass and nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0 {
            // rlim_t is u64 on the platforms we build for, narrower on some others.
            #[allow(clippy::unnecessary_cast)]
            return Some(r.rlim_cur as u64);
        }
    }
    None
}

/// Raise this process's descriptor limit to its hard limit (what `marquee room serve` does
/// before it starts); returns the limit now in force. The app, which shares its process with
/// cameras and recordings, keeps its own.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write only the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: r.rlim_max,
                    rlim_max: r.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
                    tracing::warn!("could not raise the descriptor limit");
                }
            }
        }
    }
    fd_limit()
}

impl Caps {
    /// Lower the connection caps so that what they allow, plus `rooms` room databases and a
    /// reserve for everything else in the process, fits in its descriptors: a flood then meets
    /// a clear refusal instead of `accept()`, SQLite or a recording failing process-wide.
    pub(super) fn fit_descriptors(&mut self, rooms: usize) {
        let Some(limit) = fd_limit() else { return };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        // A SQLite room holds 3 (db, -wal, -shm), plus one to spare; 128 for the rest of the
        // process.
        let reserve = 128usize.saturating_add(rooms.min(limit / 8).saturating_mul(4));
        let budget = limit.saturating_sub(reserve);
        if self.max_connections.saturating_mul(2) <= budget {
            return;
        }
        let (conns, shakes) = (self.max_connections, self.max_handshakes);
        self.max_handshakes = shakes.min(budget / 4).max(1);
        // WebSockets and HTTP connections not upgraded each up to `max_connections`; the
        // requests being read are on the latter.
        self.max_connections = conns.min(budget / 2).max(1);
        tracing::warn!(
            descriptors = limit,
            max_connections = self.max_connections,
            max_handshakes = self.max_handshakes,
            "the descriptor limit is lower than the caps need: caps lowered to fit (raise \
             LimitNOFILE or `ulimit -n` to allow more)"
        );
    }
}

/// The address a per-address cap counts: an IPv4 address, or the /64 of an IPv6 one (what
/// one subscriber usually holds).
fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

#[derive(Debug, Default)]
struct Counts {
    http: usize,
    http_by: HashMap<IpAddr, usize>,
    handshakes: usize,
    handshakes_by: HashMap<IpAddr, usize>,
    conns: usize,
    conns_by: HashMap<IpAddr, usize>,
}

/// The live counts against [`Caps`].
#[derive(Debug)]
pub(super) struct Limits {
    caps: Caps,
    counts: Mutex<Counts>,
}

fn take(map: &mut HashMap<IpAddr, usize>, k: IpAddr) {
    *map.entry(k).or_default() += 1;
}

fn give(map: &mut HashMap<IpAddr, usize>, k: IpAddr) {
    if let Some(n) = map.get_mut(&k) {
        *n -= 1;
        if *n == 0 {
            map.remove(&k);
        }
    }
}

impl Limits {
    pub(super) fn new(caps: Caps) -> Arc<Self> {
        Arc::new(Limits {
            caps,
            counts: Mutex::default(),
        })
    }

    pub(super) fn caps(&self) -> &Caps {
        &self.caps
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for an accepted HTTP connection from `peer` (`None`: a trusted proxy, counted
    /// in all only), held until it closes or is upgraded, idle or not.
    pub(super) fn http_connection(
        self: &Arc<Self>,
        peer: Option<IpAddr>,
    ) -> Result<HttpSlot, Refusal> {
        let mut c = self.lock();
        if c.http >= self.caps.max_connections {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server is full ({} connections); try again later",
                    self.caps.max_connections
                ),
            ));
        }
        let net = peer.map(network);
        if let Some(n) = net
            && c.http_by.get(&n).copied().unwrap_or(0) >= self.caps.max_connections_per_address
        {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many connections from {n} (at most {})",
                    self.caps.max_connections_per_address
                ),
            ));
        }
        c.http += 1;
        if let Some(n) = net {
            take(&mut c.http_by, n);
        }
        Ok(HttpSlot {
            limits: self.clone(),
            net,
        })
    }

    /// A slot for a request head being read on a connection from `peer` (`None`: a trusted
    /// proxy, counted in all only), held until the head has been read.
    pub(super) fn handshake(
        self: &Arc<Self>,
        peer: Option<IpAddr>,
    ) -> Result<HandshakeSlot, Refusal> {
        let mut c = self.lock();
        if c.handshakes >= self.caps.max_handshakes {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy: too many connections are being opened; try again",
            ));
        }
        let net = peer.map(network);
        if let Some(n) = net
            && c.handshakes_by.get(&n).copied().unwrap_or(0) >= self.caps.max_handshakes_per_address
        {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many connections being opened from {n} (at most {})",
                    self.caps.max_handshakes_per_address
                ),
            ));
        }
        c.handshakes += 1;
        if let Some(n) = net {
            take(&mut c.handshakes_by, n);
        }
        Ok(HandshakeSlot {
            limits: self.clone(),
            net,
        })
    }

    /// A slot for a WebSocket connection from client address `ip`.
    pub(super) fn connection(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, Refusal> {
        let mut c = self.lock();
        if c.conns >= self.caps.max_connections {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server is full ({} connections); try again later",
                    self.caps.max_connections
                ),
            ));
        }
        let net = network(ip);
        if c.conns_by.get(&net).copied().unwrap_or(0) >= self.caps.max_connections_per_address {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many connections from {net} (at most {})",
                    self.caps.max_connections_per_address
                ),
            ));
        }
        c.conns += 1;
        take(&mut c.conns_by, net);
        Ok(ConnSlot {
            limits: self.clone(),
            net,
        })
    }
}

/// An HTTP connection's place in the counts; given back on drop.
#[derive(Debug)]
pub(super) struct HttpSlot {
    limits: Arc<Limits>,
    net: Option<IpAddr>,
}

impl Drop for HttpSlot {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        c.http -= 1;
        if let Some(n) = self.net {
            give(&mut c.http_by, n);
        }
    }
}

/// A request head's place in the counts while it is read; given back on drop.
#[derive(Debug)]
pub(super) struct HandshakeSlot {
    limits: Arc<Limits>,
    net: Option<IpAddr>,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        c.handshakes -= 1;
        if let Some(n) = self.net {
            give(&mut c.handshakes_by, n);
        }
    }
}

/// A WebSocket connection's place in the counts; given back on drop.
#[derive(Debug)]
pub(super) struct ConnSlot {
    limits: Arc<Limits>,
    net: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        c.conns -= 1;
        give(&mut c.conns_by, self.net);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Caps {
        Caps {
            max_connections: 3,
            max_connections_per_address: 2,
            max_handshakes: 3,
            max_handshakes_per_address: 2,
            ..Caps::default()
        }
    }

    #[test]
    fn per_address_and_total_connection_caps_hold_and_free_on_drop() {
        let l = Limits::new(caps());
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        let a1 = l.connection(a).unwrap();
        let _a2 = l.connection(a).unwrap();
        let r = l.connection(a).unwrap_err();
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.reason.contains("198.51.100.1"), "{r:?}");
        let _b1 = l.connection(b).unwrap();
        let full = l.connection("192.0.2.9".parse().unwrap()).unwrap_err();
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        drop(a1);
        let _a3 = l.connection(a).unwrap();
        // One IPv6 /64 is one address.
        let l = Limits::new(caps());
        let _x = l.connection("2001:db8:1:2::1".parse().unwrap()).unwrap();
        let _y = l.connection("2001:db8:1:2::99".parse().unwrap()).unwrap();
        assert!(
            l.connection("2001:db8:1:2:ffff::1".parse().unwrap())
                .is_err()
        );
        assert!(l.connection("2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn handshakes_are_capped_per_peer_except_trusted_proxies_and_in_all() {
        let l = Limits::new(caps());
        let p: IpAddr = "203.0.113.5".parse().unwrap();
        let h1 = l.handshake(Some(p)).unwrap();
        let _h2 = l.handshake(Some(p)).unwrap();
        assert_eq!(
            l.handshake(Some(p)).unwrap_err().status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let _proxy = l.handshake(None).unwrap();
        assert_eq!(
            l.handshake(None).unwrap_err().status,
            StatusCode::SERVICE_UNAVAILABLE,
            "the total holds for proxies too"
        );
        drop(h1);
        assert!(l.handshake(Some(p)).is_ok());
        let c = l.lock();
        assert!(c.handshakes_by.len() <= 1, "no entry left behind: {c:?}");
    }

    #[test]
    fn http_connections_are_capped_per_peer_apart_from_handshakes_and_websockets() {
        let l = Limits::new(caps());
        let p: IpAddr = "203.0.113.5".parse().unwrap();
        let c1 = l.http_connection(Some(p)).unwrap();
        let _c2 = l.http_connection(Some(p)).unwrap();
        let r = l.http_connection(Some(p)).unwrap_err();
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.reason.contains("203.0.113.5 (at most 2)"), "{r:?}");
        // Held HTTP connections take no handshake or WebSocket place.
        let _h = l.handshake(Some(p)).unwrap();
        let _w = l.connection(p).unwrap();
        let _proxy = l.http_connection(None).unwrap();
        assert_eq!(
            l.http_connection(None).unwrap_err().status,
            StatusCode::SERVICE_UNAVAILABLE,
            "the total holds for proxies too"
        );
        drop(c1);
        assert!(l.http_connection(Some(p)).is_ok());
    }
}
