//! A STUN Binding client (RFC 8489), sans-IO: the host learns the address its one UDP socket
//! has on the far side of a NAT (its server-reflexive address) and offers it to guests as an
//! ICE candidate. The endpoint owns the socket; this module only says what to send when, and
//! reads what came back. Dependency-free (std only) so the fuzzer can include it by path.
//!
//! The same socket carries the guests' ICE checks (STUN too) and their media: a datagram is
//! this client's only if it comes from the server, is a Binding response and carries the
//! transaction id of a request in flight ([`Binding::handle`] says whether it took it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The fixed value every STUN message carries at bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const HEADER: usize = 20;
/// Attributes read at most (a response has a handful; a flood of them is not walked).
const MAX_ATTRIBUTES: usize = 64;

/// RFC 8489 §6.2.1: the first retransmit after 500 ms, doubling, 7 requests in all, and the
/// last one given 16 × RTO before the query is lost (39.5 s in all).
pub const RTO: Duration = Duration::from_millis(500);
pub const MAX_REQUESTS: u32 = 7;
const LAST_WAIT: u32 = 16;

/// How often a learned address is asked again: NAT bindings of an idle socket expire (often
/// after 30 s to a few minutes) and may come back on another port.
pub const REFRESH: Duration = Duration::from_secs(25);
/// After a query is lost, the next one starts this much later.
pub const RETRY_AFTER_LOSS: Duration = Duration::from_secs(30);

/// A `stun:HOST[:PORT]` URL (RFC 7064), port 3478 by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunUrl {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for StunUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("stun:")
            .ok_or_else(|| format!("'{s}' is not a stun: URL (stun:HOST[:PORT])"))?;
        if rest.is_empty() || rest.contains(['/', '?', '@', ' ']) {
            return Err(format!("'{s}' is not a stun: URL (stun:HOST[:PORT])"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or_else(|| format!("'{s}': an IPv6 host needs its closing ']'"))?;
            match tail {
                "" => (h, None),
                t => (h, Some(t.strip_prefix(':').unwrap_or(t))),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let port = match port {
            None => 3478,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("'{s}': the port must be 1–65535"))?,
        };
        if host.is_empty() {
            return Err(format!("'{s}' names no host"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for StunUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "stun:[{}]:{}", self.host, self.port)
        } else {
            write!(f, "stun:{}:{}", self.host, self.port)
        }
    }
}

/// A STUN Binding request with `txid`: a header and no attributes.
pub fn binding_request(txid: &[u8; 12]) -> [u8; HEADER] {
    let mut m = [0u8; HEADER];
    m[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    m[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m[8..20].copy_from_slice(txid);
    m
}

/// What a Binding response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Success: where the server saw the request come from.
    Mapped(SocketAddr),
    /// An error response (its class is enough: the query is over).
    Error,
}

/// Why bytes are not a Binding response this client can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not STUN at all (media, DTLS, too short, no magic cookie).
    NotStun,
    /// STUN, but not a Binding response (a guest's ICE check, say).
    NotBindingResponse,
    /// A Binding response whose length or attributes do not add up, or with no address.
    Malformed(&'static str),
}

/// Whether `data` looks like a STUN message at all (RFC 8489 §6: two zero bits, a cookie).
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= HEADER
        && data[0] & 0xC0 == 0
        && u32::from_be_bytes([data[4], data[5], data[6], data[7]]) == MAGIC_COOKIE
}

/// The transaction id of a STUN message.
pub fn transaction_id(data: &[u8]) -> Option<[u8; 12]> {
    if !is_stun(data) {
        return None;
    }
    let mut t = [0u8; 12];
    t.copy_from_slice(&data[8..20]);
    Some(t)
}

/// Reads a Binding response: XOR-MAPPED-ADDRESS, else (an RFC 3489 server) MAPPED-ADDRESS.
/// Bounded: never reads past `data`, walks at most [`MAX_ATTRIBUTES`], never panics.
pub fn decode_response(data: &[u8]) -> Result<Response, DecodeError> {
    if !is_stun(data) {
        return Err(DecodeError::NotStun);
    }
    let kind = u16::from_be_bytes([data[0], data[1]]);
    let len = u16::from_be_bytes([data[2], data[3]]) as usize;
    match kind {
        BINDING_SUCCESS | BINDING_ERROR => {}
        _ => return Err(DecodeError::NotBindingResponse),
    }
    if !len.is_multiple_of(4) || HEADER + len != data.len() {
        return Err(DecodeError::Malformed(
            "the length does not match the datagram",
        ));
    }
    if kind == BINDING_ERROR {
        return Ok(Response::Error);
    }
    let txid = &data[8..20];
    let mut body = &data[HEADER..];
    let mut plain = None;
    for _ in 0..MAX_ATTRIBUTES {
        if body.is_empty() {
            break;
        }
        if body.len() < 4 {
            return Err(DecodeError::Malformed("a truncated attribute header"));
        }
        let t = u16::from_be_bytes([body[0], body[1]]);
        let l = u16::from_be_bytes([body[2], body[3]]) as usize;
        let padded = l.div_ceil(4) * 4;
        if body.len() < 4 + padded {
            return Err(DecodeError::Malformed("an attribute runs past the message"));
        }
        let value = &body[4..4 + l];
        match t {
            ATTR_XOR_MAPPED_ADDRESS => {
                return address(value, Some(txid))
                    .map(Response::Mapped)
                    .ok_or(DecodeError::Malformed("a bad XOR-MAPPED-ADDRESS"));
            }
            ATTR_MAPPED_ADDRESS if plain.is_none() => plain = address(value, None),
            _ => {}
        }
        body = &body[4 + padded..];
    }
    plain
        .map(Response::Mapped)
        .ok_or(DecodeError::Malformed("no mapped address"))
}

/// An address attribute's value; XORed with the cookie (and the transaction id for IPv6) when
/// `xor` carries the transaction id.
fn address(v: &[u8], xor: Option<&[u8]>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    if xor.is_some() {
        port ^= u16::from_be_bytes([cookie[0], cookie[1]]);
    }
    let ip = match (v[1], v.len()) {
        (0x01, 8) => {
            let mut b = [v[4], v[5], v[6], v[7]];
            if xor.is_some() {
                for (x, c) in b.iter_mut().zip(cookie) {
                    *x ^= c;
                }
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        (0x02, 20) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&v[4..20]);
            if let Some(txid) = xor {
                for (i, x) in b.iter_mut().enumerate() {
                    *x ^= if i < 4 { cookie[i] } else { txid[i - 4] };
                }
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Encodes a Binding success response with XOR-MAPPED-ADDRESS (what a server sends; for
/// tests, fuzz seeds and the round trip).
pub fn encode_success(txid: &[u8; 12], mapped: SocketAddr) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = mapped.port() ^ u16::from_be_bytes([cookie[0], cookie[1]]);
    let mut value = vec![0u8];
    match mapped.ip() {
        IpAddr::V4(ip) => {
            value.push(0x01);
            value.extend_from_slice(&port.to_be_bytes());
            value.extend(ip.octets().iter().zip(cookie).map(|(a, c)| a ^ c));
        }
        IpAddr::V6(ip) => {
            value.push(0x02);
            value.extend_from_slice(&port.to_be_bytes());
            let key: Vec<u8> = cookie.iter().chain(txid.iter()).copied().collect();
            value.extend(ip.octets().iter().zip(key).map(|(a, c)| a ^ c));
        }
    }
    let mut m = Vec::with_capacity(HEADER + 4 + value.len());
    m.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    m.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    m.extend_from_slice(&cookie);
    m.extend_from_slice(txid);
    m.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
    m.extend_from_slice(&(value.len() as u16).to_be_bytes());
    m.extend_from_slice(&value);
    m
}

/// Where a query stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Requests in flight: `sent` so far, the next one (or the give-up) at `due`.
    Asking { sent: u32, due: Instant },
    /// Between queries: the next starts at `due`.
    Idle { due: Instant },
}

/// One server's Binding queries, repeated: the first at once, then every [`REFRESH`] while
/// answered (the NAT binding kept alive, a changed address noticed), [`RETRY_AFTER_LOSS`]
/// after a query that got no answer.
#[derive(Debug, Clone)]
pub struct Binding {
    server: SocketAddr,
    txid: [u8; 12],
    phase: Phase,
    mapped: Option<SocketAddr>,
    /// Queries that ended without an answer, in a row.
    lost: u32,
}

impl Binding {
    /// A client for `server`; the first request is due at `now`.
    pub fn new(server: SocketAddr, now: Instant) -> Self {
        Self {
            server,
            txid: [0; 12],
            phase: Phase::Idle { due: now },
            mapped: None,
            lost: 0,
        }
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The address the server last saw; `None` before the first answer and after a query
    /// was lost (a NAT that stopped answering may have dropped the binding).
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// Queries lost in a row (for the host's log).
    pub fn lost(&self) -> u32 {
        self.lost
    }

    /// When [`Binding::poll_transmit`] next has something to do.
    pub fn poll_timeout(&self) -> Instant {
        match self.phase {
            Phase::Asking { due, .. } | Phase::Idle { due } => due,
        }
    }

    /// A request to send to [`Binding::server`] now, if one is due. `fresh_txid` is used when
    /// a new query starts (random, 96 bits: the caller's source of randomness); a retransmit
    /// keeps the query's id.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        fresh_txid: impl FnOnce() -> [u8; 12],
    ) -> Option<[u8; HEADER]> {
        match self.phase {
            Phase::Idle { due } if now >= due => {
                self.txid = fresh_txid();
                self.phase = Phase::Asking {
                    sent: 1,
                    due: now + RTO,
                };
                Some(binding_request(&self.txid))
            }
            Phase::Asking { sent, due } if now >= due => {
                if sent >= MAX_REQUESTS {
                    self.lost += 1;
                    self.mapped = None;
                    self.phase = Phase::Idle {
                        due: now + RETRY_AFTER_LOSS,
                    };
                    return None;
                }
                let wait = if sent + 1 == MAX_REQUESTS {
                    RTO * LAST_WAIT
                } else {
                    RTO * (1 << sent)
                };
                self.phase = Phase::Asking {
                    sent: sent + 1,
                    due: now + wait,
                };
                Some(binding_request(&self.txid))
            }
            _ => None,
        }
    }

    /// A datagram from `from`: whether it was this client's (a Binding response from the
    /// server to the query in flight); if so it is consumed, else it belongs to someone else
    /// (a guest's ICE, DTLS or media) and the caller passes it on.
    pub fn handle(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> bool {
        let Phase::Asking { .. } = self.phase else {
            return false;
        };
        if from != self.server || transaction_id(data) != Some(self.txid) {
            return false;
        }
        match decode_response(data) {
            Ok(Response::Mapped(a)) => {
                self.mapped = Some(a);
                self.lost = 0;
                self.phase = Phase::Idle { due: now + REFRESH };
                true
            }
            Ok(Response::Error) => {
                self.lost += 1;
                self.mapped = None;
                self.phase = Phase::Idle {
                    due: now + RETRY_AFTER_LOSS,
                };
                true
            }
            // Ours by id but unreadable: dropped, the retransmits go on.
            Err(DecodeError::Malformed(_)) => true,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "198.51.100.1:3478";

    fn ids() -> impl FnMut() -> [u8; 12] {
        let mut n = 0u8;
        move || {
            n += 1;
            [n; 12]
        }
    }

    #[test]
    fn stun_urls_parse_with_the_default_port_and_refuse_what_is_not_one() {
        let u: StunUrl = "stun:stun.example.org".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("stun.example.org", 3478));
        let u: StunUrl = "stun:10.0.0.1:19302".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("10.0.0.1", 19302));
        let u: StunUrl = "stun:[2001:db8::1]:5000".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 5000));
        assert_eq!(u.to_string(), "stun:[2001:db8::1]:5000");
        for bad in [
            "turn:x:3478",
            "stun:",
            "stun::3478",
            "stun:x:0",
            "stun:x:99999",
            "stun:x?transport=udp",
            "stun:u@x",
        ] {
            assert!(bad.parse::<StunUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_response_round_trips_for_ipv4_and_ipv6() {
        let txid = [7u8; 12];
        for a in ["203.0.113.9:40000", "[2001:db8::42]:1234"] {
            let a: SocketAddr = a.parse().unwrap();
            let m = encode_success(&txid, a);
            assert_eq!(transaction_id(&m), Some(txid));
            assert_eq!(decode_response(&m), Ok(Response::Mapped(a)));
        }
    }

    #[test]
    fn the_rfc_5769_sample_responses_are_read() {
        // RFC 5769 §2.2: a sample IPv4 response (XOR-MAPPED-ADDRESS 192.0.2.1:32853), with
        // SOFTWARE, MESSAGE-INTEGRITY and FINGERPRINT around it.
        let hex = "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220\
                   002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7\
                   80280004c07d4c96";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            decode_response(&bytes),
            Ok(Response::Mapped("192.0.2.1:32853".parse().unwrap()))
        );
        // §2.3: the IPv6 one (the address XORed with the cookie and the transaction id).
        let hex = "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220\
                   002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9\
                   00080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            decode_response(&bytes),
            Ok(Response::Mapped(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            ))
        );
    }

    #[test]
    fn garbage_truncations_and_other_stun_are_refused_without_panicking() {
        let good = encode_success(&[1; 12], "203.0.113.9:40000".parse().unwrap());
        for n in 0..good.len() {
            assert!(decode_response(&good[..n]).is_err(), "{n} bytes");
        }
        assert_eq!(decode_response(b"\x80\x60 rtp"), Err(DecodeError::NotStun));
        assert_eq!(
            decode_response(&binding_request(&[1; 12])),
            Err(DecodeError::NotBindingResponse)
        );
        // An attribute longer than the message, a length that is not a multiple of 4.
        let mut long = good.clone();
        long[22..24].copy_from_slice(&200u16.to_be_bytes());
        assert!(matches!(
            decode_response(&long),
            Err(DecodeError::Malformed(_))
        ));
        let mut odd = good.clone();
        odd[3] += 1;
        odd.push(0);
        assert!(decode_response(&odd).is_err());
        // Many empty unknown attributes and no address.
        let mut flood = good[..20].to_vec();
        flood[2..4].copy_from_slice(&(4u16 * 1000).to_be_bytes());
        flood.extend(std::iter::repeat_n([0x80, 0x22, 0, 0], 1000).flatten());
        assert!(decode_response(&flood).is_err());
        // Every byte flipped in turn: never a panic.
        for i in 0..good.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut m = good.clone();
                m[i] ^= x;
                let _ = decode_response(&m);
            }
        }
    }

    #[test]
    fn requests_are_retransmitted_on_the_rfc_schedule_then_the_query_is_lost() {
        let t0 = Instant::now();
        let mut b = Binding::new(SERVER.parse().unwrap(), t0);
        let mut id = ids();
        let first = b
            .poll_transmit(t0, &mut id)
            .expect("the first request at once");
        assert!(
            b.poll_transmit(t0, &mut id).is_none(),
            "nothing more before the RTO"
        );
        let mut at = Vec::new();
        let mut now = t0;
        while b.lost() == 0 {
            now = b.poll_timeout();
            if let Some(again) = b.poll_transmit(now, &mut id) {
                assert_eq!(again, first, "a retransmit keeps the transaction id");
                at.push((now - t0).as_millis());
            }
        }
        assert_eq!(at, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!((now - t0).as_millis(), 39500, "lost 16 × RTO after the 7th");
        assert_eq!(b.mapped(), None);
        assert_eq!(b.poll_timeout() - now, RETRY_AFTER_LOSS);
        let next = b.poll_transmit(b.poll_timeout(), &mut id).unwrap();
        assert_ne!(next[8..], first[8..], "a new query, a new transaction id");
    }

    #[test]
    fn only_the_servers_answer_to_the_query_in_flight_is_taken() {
        let t0 = Instant::now();
        let server: SocketAddr = SERVER.parse().unwrap();
        let mut b = Binding::new(server, t0);
        let req = b.poll_transmit(t0, || [9; 12]).unwrap();
        let txid: [u8; 12] = req[8..20].try_into().unwrap();
        let mapped: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        let answer = encode_success(&txid, mapped);
        // From someone else, another transaction, a guest's ICE request, media: not ours.
        assert!(!b.handle(t0, "198.51.100.2:3478".parse().unwrap(), &answer));
        assert!(!b.handle(t0, server, &encode_success(&[8; 12], mapped)));
        assert!(!b.handle(t0, server, &binding_request(&txid)));
        assert!(!b.handle(t0, server, b"\x80\x60\x00\x01rtp payload....."));
        assert_eq!(b.mapped(), None);
        // Ours but unreadable: swallowed, the query goes on.
        assert!(b.handle(t0, server, &answer[..answer.len() - 4]));
        assert_eq!(b.mapped(), None);
        assert!(b.handle(t0, server, &answer));
        assert_eq!(b.mapped(), Some(mapped));
        assert!(
            !b.handle(t0, server, &answer),
            "a duplicate after the query ended goes on to the guests' side"
        );
        assert_eq!(
            b.poll_timeout() - t0,
            REFRESH,
            "asked again to keep the binding"
        );
    }

    #[test]
    fn an_error_response_ends_the_query_and_a_later_one_asks_again() {
        let t0 = Instant::now();
        let server: SocketAddr = SERVER.parse().unwrap();
        let mut b = Binding::new(server, t0);
        let req = b.poll_transmit(t0, || [3; 12]).unwrap();
        let mut err = req.to_vec();
        err[0..2].copy_from_slice(&BINDING_ERROR.to_be_bytes());
        assert!(b.handle(t0, server, &err));
        assert_eq!((b.mapped(), b.lost()), (None, 1));
        assert!(b.poll_transmit(t0 + RETRY_AFTER_LOSS, || [4; 12]).is_some());
    }
}
