//! The native guest through a TURN relay: the allocation made on the guest's one UDP socket
//! before the offer (its relayed address is an ICE candidate of the offer), permissions for
//! the host's addresses from the answer, and the relay's traffic told apart from the direct.

use crate::turn::{Handled, TurnClient};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How long the allocation may take before the guest gives up on the relay.
const ALLOCATE_WITHIN: Duration = Duration::from_secs(10);

/// A TURN relay for the guest (`marquee guest join --turn`).
#[derive(Clone)]
pub struct GuestTurn {
    /// `turn:HOST[:PORT][?transport=udp]` (TURN over UDP; no TLS or TCP to the relay yet).
    pub url: String,
    pub username: String,
    pub credential: String,
    /// Offer only the relayed candidate (a network that lets nothing else through; tests).
    pub relay_only: bool,
}

impl std::fmt::Debug for GuestTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestTurn")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("credential", &"<secret>")
            .field("relay_only", &self.relay_only)
            .finish()
    }
}

impl GuestTurn {
    /// The server's address: `turn:` over UDP only.
    pub fn server(&self) -> Result<SocketAddr, String> {
        crate::ice::check_turn_url(&self.url)?;
        if self.url.starts_with("turns:") || self.url.ends_with("transport=tcp") {
            return Err(format!(
                "{}: the native guest reaches a TURN server over UDP only (turn:HOST[:PORT])",
                self.url
            ));
        }
        let addr = self.url["turn:".len()..]
            .split('?')
            .next()
            .unwrap_or_default();
        let url: crate::stun::StunUrl = format!("stun:{addr}").parse()?;
        use std::net::ToSocketAddrs;
        (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|e| format!("the TURN server {}: {e}", url.host))?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| format!("the TURN server {} has no IPv4 address", url.host))
    }
}

fn txid() -> [u8; 12] {
    let mut t = [0u8; 12];
    getrandom::fill(&mut t).expect("the OS random number generator");
    t
}

/// The allocation in use, with its relayed address.
pub(crate) struct Relay {
    client: TurnClient,
    pub(crate) addr: SocketAddr,
}

impl Relay {
    /// Allocates on `socket` (blocking, at most 10 s).
    pub(crate) fn allocate(socket: &UdpSocket, t: &GuestTurn) -> Result<Relay, String> {
        let server = t.server()?;
        let mut client = TurnClient::new(server, &t.username, &t.credential);
        let deadline = Instant::now() + ALLOCATE_WITHIN;
        let mut buf = vec![0u8; 2000];
        loop {
            let now = Instant::now();
            if let Some(why) = client.failed() {
                return Err(why.to_string());
            }
            if let Some(addr) = client.relay() {
                return Ok(Relay { client, addr });
            }
            if now >= deadline {
                return Err(format!(
                    "the TURN server {server} gave no relay within {} s",
                    ALLOCATE_WITHIN.as_secs()
                ));
            }
            while let Some(m) = client.poll_transmit(now, txid) {
                let _ = socket.send_to(&m, server);
            }
            let wait = client
                .poll_timeout(now)
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(1), Duration::from_millis(200));
            let _ = socket.set_read_timeout(Some(wait));
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                client.handle(Instant::now(), from, &buf[..n]);
            }
        }
    }

    /// Permissions for every address the host's answer names (its ICE candidates).
    pub(crate) fn permit_answer(&mut self, sdp: &str) {
        for l in sdp.lines() {
            let Some(c) = l.strip_prefix("a=candidate:") else {
                continue;
            };
            if let Some(ip) = c
                .split_whitespace()
                .nth(4)
                .and_then(|s| s.parse::<IpAddr>().ok())
            {
                self.client.permit(ip);
            }
        }
    }

    /// Sends what the client has due (requests, refreshes).
    pub(crate) fn tick(&mut self, socket: &UdpSocket) {
        while let Some(m) = self.client.poll_transmit(Instant::now(), txid) {
            let _ = socket.send_to(&m, self.client.server());
        }
    }

    /// Sends `data` to `peer` through the relay.
    pub(crate) fn send(&self, socket: &UdpSocket, peer: SocketAddr, data: &[u8]) {
        let _ = socket.send_to(&self.client.wrap(peer, data, txid()), self.client.server());
    }

    pub(crate) fn handle<'a>(&mut self, from: SocketAddr, data: &'a [u8]) -> Handled<'a> {
        self.client.handle(Instant::now(), from, data)
    }
}
