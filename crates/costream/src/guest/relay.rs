//! The native guest through a TURN relay: the allocation made on the guest's one UDP socket
//! before the offer (its relayed address is an ICE candidate of the offer), permissions for
//! the host's addresses from the answer, and the relay's traffic told apart from the direct.
//! A relay reached over TCP (`?transport=tcp`: a network that lets no UDP out) or TLS
//! (`turns:`: one that lets only HTTPS-like traffic out) is bridged: a loopback UDP socket
//! stands for the server, and a thread each way carries the messages over the connection
//! (RFC 8656 §3.1: over TCP and TLS each STUN or ChannelData message is framed by its own
//! length), so the session stays one UDP socket.

use super::http::Tls;
use crate::turn::{Handled, TurnClient};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A TURN relay for the guest (`marquee guest join --turn`, or the one the host names).
#[derive(Clone)]
pub struct GuestTurn {
    /// `turn:HOST[:PORT][?transport=udp|tcp]` or `turns:HOST[:PORT]`.
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

/// How the relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    /// TLS over TCP (`turns:`), the server's certificate checked like an `https://` link's.
    Tls,
}

impl GuestTurn {
    /// The server's host name, address and transport (`turns:` defaults to port 5349, the
    /// others to 3478: RFC 7065).
    pub fn server(&self) -> Result<(String, SocketAddr, Transport), String> {
        crate::ice::check_turn_url(&self.url)?;
        let (rest, transport) = match self.url.strip_prefix("turns:") {
            Some(rest) => (rest, Transport::Tls),
            None if self.url.ends_with("transport=tcp") => {
                (&self.url["turn:".len()..], Transport::Tcp)
            }
            None => (&self.url["turn:".len()..], Transport::Udp),
        };
        let addr = rest.split('?').next().unwrap_or_default();
        let mut url: crate::stun::StunUrl = format!("stun:{addr}").parse()?;
        let explicit_port = addr.rsplit_once(']').map_or(addr, |(_, t)| t).contains(':');
        if transport == Transport::Tls && !explicit_port {
            url.port = 5349;
        }
        use std::net::ToSocketAddrs;
        let found = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|e| format!("the TURN server {}: {e}", url.host))?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| format!("the TURN server {} has no IPv4 address", url.host))?;
        Ok((url.host, found, transport))
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

/// A loopback UDP socket standing for a TURN server reached over TCP or TLS: what the guest's
/// socket (`guest`, and nothing else on this machine) sends to it goes over the connection,
/// what comes back is sent to the guest's socket.
struct TcpBridge {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// The connection to the server: a plain TCP stream, or TLS on one (its state shared by the
/// two threads, each taking the lock only to turn bytes into records or back and write them,
/// never while waiting to read).
#[derive(Clone)]
enum Conn {
    Tcp,
    Tls(Arc<Mutex<rustls::ClientConnection>>),
}

impl Conn {
    /// Sends one whole message.
    fn send(&self, tcp: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tcp => tcp.write_all(msg),
            Conn::Tls(c) => {
                let mut c = c.lock().expect("tls");
                c.writer().write_all(msg)?;
                while c.wants_write() {
                    c.write_tls(tcp)?;
                }
                Ok(())
            }
        }
    }

    /// Turns `raw` bytes from the socket into what they carry (for TLS: decrypted; an alert or
    /// a bad record is an error), answering what TLS itself needs on `tcp`.
    fn received(
        &self,
        tcp: &mut TcpStream,
        raw: &[u8],
        plain: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        match self {
            Conn::Tcp => plain.extend_from_slice(raw),
            Conn::Tls(c) => {
                let mut c = c.lock().expect("tls");
                let mut raw = raw;
                while !raw.is_empty() {
                    c.read_tls(&mut raw)?;
                    c.process_new_packets().map_err(std::io::Error::other)?;
                    // Taken at once: rustls refuses more records while its plaintext is full.
                    match c.reader().read_to_end(plain) {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                while c.wants_write() {
                    c.write_tls(tcp)?;
                }
            }
        }
        Ok(())
    }
}

impl TcpBridge {
    /// Connects to `server` (named `host` in its certificate, for TLS) within the allocation's
    /// time and starts carrying messages.
    fn start(
        server: SocketAddr,
        host: &str,
        tls: Option<&Tls>,
        guest: SocketAddr,
        within: Duration,
    ) -> Result<TcpBridge, String> {
        let over = if tls.is_some() { "TLS" } else { "TCP" };
        let mut tcp = TcpStream::connect_timeout(&server, within)
            .map_err(|e| format!("cannot reach the TURN server {server} over {over}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let conn = match tls {
            None => Conn::Tcp,
            Some(tls) => {
                let _ = tcp.set_read_timeout(Some(within));
                let _ = tcp.set_write_timeout(Some(within));
                let mut c = tls
                    .client(host)
                    .map_err(|e| format!("the TURN server {host}: {e}"))?;
                while c.is_handshaking() {
                    c.complete_io(&mut tcp)
                        .map_err(|e| format!("TLS with the TURN server {host}: {e}"))?;
                }
                let _ = tcp.set_read_timeout(None);
                Conn::Tls(Arc::new(Mutex::new(c)))
            }
        };
        let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("loopback UDP: {e}"))?;
        let addr = udp.local_addr().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let (mut tcp_in, mut tcp_out) = (tcp.try_clone().map_err(|e| e.to_string())?, tcp);
        let udp_in = udp.try_clone().map_err(|e| e.to_string())?;
        let (halt, out_conn) = (stop.clone(), conn.clone());
        std::thread::Builder::new()
            .name("turn-tcp-out".into())
            .spawn(move || {
                let _ = udp.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = vec![0u8; 65_536];
                while !halt.load(Ordering::Relaxed) {
                    // Each datagram is one whole message: the framing TCP wants.
                    if let Ok((n, from)) = udp.recv_from(&mut buf)
                        && from == guest
                        && out_conn.send(&mut tcp_out, &buf[..n]).is_err()
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
                let mut answer = match tcp_in.try_clone() {
                    Ok(t) => t,
                    Err(_) => return,
                };
                let (mut pending, mut buf) = (Vec::new(), vec![0u8; 65_536]);
                while !halt.load(Ordering::Relaxed) {
                    let n = match tcp_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if let Err(e) = conn.received(&mut answer, &buf[..n], &mut pending) {
                        tracing::warn!("TURN over {over}: {e}; the relay is closed");
                        return;
                    }
                    while let Some(len) = frame_len(&pending) {
                        let Ok(len) = len else {
                            tracing::warn!(
                                "TURN over {over}: a message out of frame; the relay is closed"
                            );
                            return;
                        };
                        if pending.len() < len {
                            break;
                        }
                        let frame: Vec<u8> = pending.drain(..len).collect();
                        let _ = udp_in.send_to(&frame, guest);
                    }
                    // A peer that never completes a frame must not grow this without bound.
                    if pending.len() > 2 * 65_536 {
                        tracing::warn!("TURN over {over}: a message too long; the relay is closed");
                        return;
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
    /// How long the relay the guest asked for (`--turn`) may take to allocate.
    pub(crate) const ASKED_WITHIN: Duration = Duration::from_secs(10);
    /// How long one the host names may take: a fallback must not hold up a guest who does not
    /// need it for long.
    pub(crate) const HOST_NAMED_WITHIN: Duration = Duration::from_secs(4);

    /// Allocates on `socket` (blocking, at most `within`); `tls` checks a `turns:` server.
    pub(crate) fn allocate(
        socket: &UdpSocket,
        t: &GuestTurn,
        tls: &Tls,
        within: Duration,
    ) -> Result<Relay, String> {
        let (host, server, transport) = t.server()?;
        let guest = socket.local_addr().map_err(|e| e.to_string())?;
        let bridge = match transport {
            Transport::Udp => None,
            Transport::Tcp => Some(TcpBridge::start(server, &host, None, guest, within)?),
            Transport::Tls => Some(TcpBridge::start(server, &host, Some(tls), guest, within)?),
        };
        let mut client = TurnClient::new(
            bridge.as_ref().map_or(server, |b| b.addr),
            &t.username,
            &t.credential,
        );
        let deadline = Instant::now() + within;
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
                    within.as_secs()
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
