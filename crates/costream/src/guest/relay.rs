//! The native guest through a TURN relay: the allocation made on the guest's one UDP socket
//! before the offer (its relayed address is an ICE candidate of the offer), permissions for
//! the host's addresses from the answer, and the relay's traffic told apart from the direct.
//! A relay reached over TCP (`?transport=tcp`: a network that lets no UDP out) is bridged: a
//! loopback UDP socket stands for the server, and a thread each way carries the messages over
//! the TCP connection (RFC 8656 §3.1: over TCP each STUN or ChannelData message is framed by
//! its own length), so the session stays one UDP socket.

use crate::turn::{Handled, TurnClient};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the allocation may take before the guest gives up on the relay.
const ALLOCATE_WITHIN: Duration = Duration::from_secs(10);

/// A TURN relay for the guest (`marquee guest join --turn`).
#[derive(Clone)]
pub struct GuestTurn {
    /// `turn:HOST[:PORT][?transport=udp|tcp]` (no TLS to the relay yet).
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
    /// The server's address, and whether it is reached over TCP.
    pub fn server(&self) -> Result<(SocketAddr, bool), String> {
        crate::ice::check_turn_url(&self.url)?;
        if self.url.starts_with("turns:") {
            return Err(format!(
                "{}: the native guest reaches a TURN server over UDP or TCP, not TLS (turn:HOST[:PORT][?transport=tcp])",
                self.url
            ));
        }
        let tcp = self.url.ends_with("transport=tcp");
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
            .map(|a| (a, tcp))
            .ok_or_else(|| format!("the TURN server {} has no IPv4 address", url.host))
    }
}

/// The length of the whole message at the start of `buf` once its 4-byte head is there: a STUN
/// message (first two bits 0) is 20 + its length; ChannelData (0x4000–0x7FFF) 4 + its length,
/// padded to 4 over TCP.
fn frame_len(buf: &[u8]) -> Option<Result<usize, String>> {
    let head = buf.get(..4)?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    Some(match head[0] >> 6 {
        0 => Ok(20 + len),
        1 => Ok((4 + len).div_ceil(4) * 4),
        _ => Err("the TURN server sent something that is neither STUN nor ChannelData".into()),
    })
}

/// A loopback UDP socket standing for a TURN server reached over TCP: what the guest's socket
/// (`guest`, and nothing else on this machine) sends to it goes over the connection, what
/// comes back is sent to the guest's socket.
struct TcpBridge {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl TcpBridge {
    fn start(server: SocketAddr, guest: SocketAddr) -> Result<TcpBridge, String> {
        let tcp = TcpStream::connect_timeout(&server, ALLOCATE_WITHIN)
            .map_err(|e| format!("cannot reach the TURN server {server} over TCP: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("loopback UDP: {e}"))?;
        let addr = udp.local_addr().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let (mut tcp_in, mut tcp_out) = (tcp.try_clone().map_err(|e| e.to_string())?, tcp);
        let udp_in = udp.try_clone().map_err(|e| e.to_string())?;
        let halt = stop.clone();
        std::thread::Builder::new()
            .name("turn-tcp-out".into())
            .spawn(move || {
                let _ = udp.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = vec![0u8; 65_536];
                while !halt.load(Ordering::Relaxed) {
                    // Each datagram is one whole message: the framing TCP wants.
                    if let Ok((n, from)) = udp.recv_from(&mut buf)
                        && from == guest
                        && tcp_out.write_all(&buf[..n]).is_err()
                    {
                        break;
                    }
                }
                let _ = tcp_out.shutdown(std::net::Shutdown::Both);
            })
            .map_err(|e| e.to_string())?;
        let halt = stop.clone();
        std::thread::Builder::new()
            .name("turn-tcp-in".into())
            .spawn(move || {
                let mut pending: Vec<u8> = Vec::new();
                let mut buf = vec![0u8; 65_536];
                while !halt.load(Ordering::Relaxed) {
                    let n = match tcp_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(len) = frame_len(&pending) {
                        let Ok(len) = len else {
                            tracing::warn!(
                                "TURN over TCP: a message out of frame; the relay is closed"
                            );
                            return;
                        };
                        if pending.len() < len {
                            break;
                        }
                        let frame: Vec<u8> = pending.drain(..len).collect();
                        let _ = udp_in.send_to(&frame, guest);
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(TcpBridge { addr, stop })
    }
}

impl Drop for TcpBridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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
    /// The loopback stand-in for a server reached over TCP (kept for the relay's life).
    _bridge: Option<TcpBridge>,
}

impl Relay {
    /// Allocates on `socket` (blocking, at most 10 s).
    pub(crate) fn allocate(socket: &UdpSocket, t: &GuestTurn) -> Result<Relay, String> {
        let (server, tcp) = t.server()?;
        let bridge = if tcp {
            let guest = socket.local_addr().map_err(|e| e.to_string())?;
            Some(TcpBridge::start(server, guest)?)
        } else {
            None
        };
        let mut client = TurnClient::new(
            bridge.as_ref().map_or(server, |b| b.addr),
            &t.username,
            &t.credential,
        );
        let deadline = Instant::now() + ALLOCATE_WITHIN;
        let mut buf = vec![0u8; 2000];
        loop {
            let now = Instant::now();
            if let Some(why) = client.failed() {
                return Err(why.to_string());
            }
            if let Some(addr) = client.relay() {
                return Ok(Relay {
                    client,
                    addr,
                    _bridge: bridge,
                });
            }
            if now >= deadline {
                return Err(format!(
                    "the TURN server {server} gave no relay within {} s",
                    ALLOCATE_WITHIN.as_secs()
                ));
            }
            while let Some(m) = client.poll_transmit(now, txid) {
                let _ = socket.send_to(&m, client.server());
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

#[cfg(test)]
mod tests {
    use super::frame_len;

    #[test]
    fn over_tcp_a_message_is_framed_by_its_own_length_channel_data_padded_to_four() {
        // A STUN header (type 0x0101, 12 bytes of attributes) is 20 + 12.
        assert_eq!(frame_len(&[0x01, 0x01, 0x00, 0x0c]), Some(Ok(32)));
        // ChannelData 0x4000 with 5 bytes: 4 + 5, padded to 12.
        assert_eq!(frame_len(&[0x40, 0x00, 0x00, 0x05, 1]), Some(Ok(12)));
        assert_eq!(frame_len(&[0x40, 0x00, 0x00, 0x08]), Some(Ok(12)));
        // Not enough for a head yet; then neither kind.
        assert_eq!(frame_len(&[0x01, 0x01]), None);
        assert!(matches!(frame_len(&[0xc0, 0, 0, 0]), Some(Err(_))));
    }
}
