//! Which local address a datagram arrived on. str0m pairs candidates by the packet's
//! destination, but a socket bound to the wildcard address does not say it; the local address
//! that routes back to the sender is the one it came in on (on every ordinary host: one
//! route per peer). Looked up once per peer with a connected UDP socket (no packet is sent).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// Runs an SDP negotiation step of str0m on network input so that a panic inside it is an
/// error, not the end of the host or the guest: str0m 0.25 asserts on some SDP it parses (a
/// payload type declared in two m-lines: "Pt locked multiple times", found by fuzz/costream).
pub(crate) fn guard_sdp<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        format!("the WebRTC stack could not negotiate it ({why})")
    })
}

/// Peers remembered; beyond this the cache starts over (a flood of sources must not grow it).
const MAX_PEERS: usize = 1024;

/// The local address that routes to `dst`.
pub(crate) fn route_to(dst: IpAddr) -> Option<IpAddr> {
    let any: IpAddr = if dst.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let s = UdpSocket::bind((any, 0)).ok()?;
    s.connect((dst, 9)).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// A socket's view of where each sender's datagrams arrive.
#[derive(Debug)]
pub(crate) struct Arrivals {
    bound: SocketAddr,
    routes: HashMap<IpAddr, IpAddr>,
}

impl Arrivals {
    pub(crate) fn new(bound: SocketAddr) -> Self {
        Self {
            bound,
            routes: HashMap::new(),
        }
    }

    /// The local address (with the socket's port) a datagram from `source` arrived on.
    pub(crate) fn destination(&mut self, source: SocketAddr) -> SocketAddr {
        if !self.bound.ip().is_unspecified() {
            return self.bound;
        }
        let ip = if source.ip().is_loopback() {
            source.ip()
        } else {
            if self.routes.len() >= MAX_PEERS {
                self.routes.clear();
            }
            *self
                .routes
                .entry(source.ip())
                .or_insert_with(|| route_to(source.ip()).unwrap_or(source.ip()))
        };
        SocketAddr::new(ip, self.bound.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_sender_arrived_on_loopback_and_a_bound_socket_on_its_address() {
        let mut a = Arrivals::new("0.0.0.0:5000".parse().unwrap());
        assert_eq!(
            a.destination("127.0.0.1:9".parse().unwrap()),
            "127.0.0.1:5000".parse().unwrap()
        );
        let mut b = Arrivals::new("10.1.2.3:5000".parse().unwrap());
        assert_eq!(
            b.destination("10.9.9.9:9".parse().unwrap()),
            "10.1.2.3:5000".parse().unwrap()
        );
    }
}
