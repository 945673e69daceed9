//! A TURN client (RFC 8656) over UDP, sans-IO, for the native guest: one allocation on a TURN
//! server with a long-term credential, permissions for the host's addresses, and the guest's
//! ICE/DTLS/media wrapped in Send indications and unwrapped from Data indications. str0m has
//! no TURN client; the guest's session owns the socket and asks this module what to send.
//!
//! Requests go one at a time, retransmitted like STUN's (`crate::stun`); the allocation is
//! refreshed every 5 minutes and permissions every 4 (they last 5).

use crate::stun;
use hmac::{Hmac, Mac};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const ALLOCATE: u16 = 0x0003;
const REFRESH: u16 = 0x0004;
const CREATE_PERMISSION: u16 = 0x0008;
const SEND_INDICATION: u16 = 0x0016;
const DATA_INDICATION: u16 = 0x0017;
const SUCCESS: u16 = 0x0100;
const ERROR: u16 = 0x0110;

const A_USERNAME: u16 = 0x0006;
const A_MESSAGE_INTEGRITY: u16 = 0x0008;
const A_ERROR_CODE: u16 = 0x0009;
const A_LIFETIME: u16 = 0x000D;
const A_XOR_PEER_ADDRESS: u16 = 0x0012;
const A_DATA: u16 = 0x0013;
const A_REALM: u16 = 0x0014;
const A_NONCE: u16 = 0x0015;
const A_XOR_RELAYED_ADDRESS: u16 = 0x0016;
const A_REQUESTED_TRANSPORT: u16 = 0x0019;

const ALLOCATION_REFRESH: Duration = Duration::from_secs(300);
const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// How often an auth challenge (401/438) is answered before the server is given up on.
const MAX_CHALLENGES: u32 = 3;

/// What a datagram from the network was to the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled<'a> {
    /// Not from the TURN server (a peer reached directly): the caller's.
    NotMine,
    /// The server's answer to a request: consumed.
    Consumed,
    /// What `peer` sent to the relayed address.
    Data { peer: SocketAddr, data: &'a [u8] },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Allocate,
    Refresh,
    Permission,
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    txid: [u8; 12],
    bytes: Vec<u8>,
    sent: u32,
    due: Instant,
    /// For a permission request, the addresses it covers.
    peers: Vec<IpAddr>,
}

/// One allocation on one TURN server.
#[derive(Debug)]
pub struct TurnClient {
    server: SocketAddr,
    username: String,
    password: String,
    realm: Option<String>,
    nonce: Option<Vec<u8>>,
    relay: Option<SocketAddr>,
    refresh_at: Option<Instant>,
    /// Addresses the peers may send from, and when each permission is renewed.
    permits: Vec<(IpAddr, Option<Instant>)>,
    pending: Option<Pending>,
    challenges: u32,
    /// A request to make again with the credential the server's challenge asked for.
    retry: Option<(Kind, Vec<IpAddr>)>,
    failed: Option<String>,
}

/// MD5 (RFC 1321): the long-term credential's key is MD5(user:realm:password) (RFC 8489 §9.2.2).
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut msg = input.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((input.len() as u64).wrapping_mul(8)).to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(
                a.wrapping_add(f)
                    .wrapping_add(k[i])
                    .wrapping_add(m[g])
                    .rotate_left(S[i]),
            );
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 16];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// A STUN message under construction.
struct Msg(Vec<u8>);

impl Msg {
    fn new(kind: u16, txid: &[u8; 12]) -> Self {
        let mut m = Vec::with_capacity(128);
        m.extend_from_slice(&kind.to_be_bytes());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(txid);
        Self(m)
    }

    fn attr(&mut self, t: u16, v: &[u8]) {
        self.0.extend_from_slice(&t.to_be_bytes());
        self.0.extend_from_slice(&(v.len() as u16).to_be_bytes());
        self.0.extend_from_slice(v);
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
        self.set_len(self.0.len() - 20);
    }

    fn set_len(&mut self, n: usize) {
        self.0[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    }

    fn xor_addr(&mut self, t: u16, a: SocketAddr) {
        let txid: [u8; 12] = self.0[8..20].try_into().unwrap_or([0; 12]);
        let enc = stun::encode_success(&txid, a);
        // The value of the XOR-MAPPED-ADDRESS in a success response is the same encoding.
        self.attr(t, &enc[24..]);
    }

    /// MESSAGE-INTEGRITY over everything so far (the length counting the attribute itself).
    fn integrity(mut self, key: &[u8]) -> Vec<u8> {
        let len = self.0.len() - 20 + 24;
        self.set_len(len);
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).expect("any key length");
        mac.update(&self.0);
        let tag = mac.finalize().into_bytes();
        self.0.extend_from_slice(&A_MESSAGE_INTEGRITY.to_be_bytes());
        self.0.extend_from_slice(&20u16.to_be_bytes());
        self.0.extend_from_slice(&tag);
        self.0
    }
}

/// The attributes of a STUN message (bounded; `None` when its framing is broken).
fn attributes(data: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    if !stun::is_stun(data) {
        return None;
    }
    let len = u16::from_be_bytes([data[2], data[3]]) as usize;
    if 20 + len != data.len() {
        return None;
    }
    let mut out = Vec::new();
    let mut body = &data[20..];
    while !body.is_empty() && out.len() < 64 {
        if body.len() < 4 {
            return None;
        }
        let t = u16::from_be_bytes([body[0], body[1]]);
        let l = u16::from_be_bytes([body[2], body[3]]) as usize;
        let padded = l.div_ceil(4) * 4;
        if body.len() < 4 + padded {
            return None;
        }
        out.push((t, &body[4..4 + l]));
        body = &body[4 + padded..];
    }
    Some(out)
}

/// An XOR address attribute's value, read as the XOR-MAPPED-ADDRESS of a response would be.
fn xor_addr(txid: &[u8], v: &[u8]) -> Option<SocketAddr> {
    let mut m = Vec::with_capacity(24 + v.len());
    m.extend_from_slice(&0x0101u16.to_be_bytes());
    m.extend_from_slice(&((4 + v.len()) as u16).to_be_bytes());
    m.extend_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
    m.extend_from_slice(txid);
    m.extend_from_slice(&0x0020u16.to_be_bytes());
    m.extend_from_slice(&(v.len() as u16).to_be_bytes());
    m.extend_from_slice(v);
    while !m.len().is_multiple_of(4) {
        m.push(0);
    }
    let n = m.len() - 20;
    m[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    match stun::decode_response(&m) {
        Ok(stun::Response::Mapped(a)) => Some(a),
        _ => None,
    }
}

impl TurnClient {
    pub fn new(server: SocketAddr, username: &str, password: &str) -> Self {
        Self {
            server,
            username: username.to_string(),
            password: password.to_string(),
            realm: None,
            nonce: None,
            relay: None,
            refresh_at: None,
            permits: Vec::new(),
            pending: None,
            challenges: 0,
            retry: None,
            failed: None,
        }
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The relayed address, once allocated.
    pub fn relay(&self) -> Option<SocketAddr> {
        self.relay
    }

    /// Why the server could not be used (wrong credential, no answer, refused).
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Lets `ip` send to the relayed address (and be sent to).
    pub fn permit(&mut self, ip: IpAddr) {
        if !self.permits.iter().any(|(p, _)| *p == ip) {
            self.permits.push((ip, None));
        }
    }

    /// Whether `ip` has a permission in place.
    pub fn permitted(&self, ip: IpAddr) -> bool {
        self.permits.iter().any(|(p, at)| *p == ip && at.is_some())
    }

    fn key(&self) -> Option<[u8; 16]> {
        let realm = self.realm.as_ref()?;
        Some(md5(
            format!("{}:{realm}:{}", self.username, self.password).as_bytes()
        ))
    }

    fn request(&self, kind: Kind, txid: [u8; 12], peers: &[IpAddr]) -> Vec<u8> {
        let method = match kind {
            Kind::Allocate => ALLOCATE,
            Kind::Refresh => REFRESH,
            Kind::Permission => CREATE_PERMISSION,
        };
        let mut m = Msg::new(method, &txid);
        match kind {
            Kind::Allocate => m.attr(A_REQUESTED_TRANSPORT, &[17, 0, 0, 0]),
            Kind::Refresh => m.attr(A_LIFETIME, &600u32.to_be_bytes()),
            Kind::Permission => {
                for ip in peers {
                    m.xor_addr(A_XOR_PEER_ADDRESS, SocketAddr::new(*ip, 0));
                }
            }
        }
        match (self.key(), &self.realm, &self.nonce) {
            (Some(key), Some(realm), Some(nonce)) => {
                m.attr(A_USERNAME, self.username.as_bytes());
                m.attr(A_REALM, realm.as_bytes());
                m.attr(A_NONCE, nonce);
                m.integrity(&key)
            }
            _ => m.0,
        }
    }

    /// When [`TurnClient::poll_transmit`] next has something to do.
    pub fn poll_timeout(&self, now: Instant) -> Instant {
        if let Some(p) = &self.pending {
            return p.due;
        }
        if self.retry.is_some() {
            return now;
        }
        let mut t = now + Duration::from_secs(60);
        if let Some(r) = self.refresh_at {
            t = t.min(r);
        }
        for (_, at) in &self.permits {
            t = t.min(at.unwrap_or(now));
        }
        t
    }

    /// A request for the server, when one is due.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        mut fresh_txid: impl FnMut() -> [u8; 12],
    ) -> Option<Vec<u8>> {
        if self.failed.is_some() {
            return None;
        }
        if let Some(p) = &mut self.pending {
            if now < p.due {
                return None;
            }
            if p.sent >= stun::MAX_REQUESTS {
                self.failed = Some(format!("the TURN server {} does not answer", self.server));
                self.pending = None;
                return None;
            }
            p.due = now + stun::RTO * (1 << p.sent.min(5));
            p.sent += 1;
            return Some(p.bytes.clone());
        }
        let (kind, peers) = if let Some(r) = self.retry.take() {
            r
        } else if self.relay.is_none() {
            (Kind::Allocate, Vec::new())
        } else if self.refresh_at.is_some_and(|r| now >= r) {
            (Kind::Refresh, Vec::new())
        } else {
            let due: Vec<IpAddr> = self
                .permits
                .iter()
                .filter(|(_, at)| at.is_none_or(|t| now >= t))
                .map(|(ip, _)| *ip)
                .collect();
            if due.is_empty() {
                return None;
            }
            (Kind::Permission, due)
        };
        let txid = fresh_txid();
        let bytes = self.request(kind, txid, &peers);
        self.pending = Some(Pending {
            kind,
            txid,
            bytes: bytes.clone(),
            sent: 1,
            due: now + stun::RTO,
            peers,
        });
        Some(bytes)
    }

    /// A datagram from `from`.
    pub fn handle<'a>(&mut self, now: Instant, from: SocketAddr, data: &'a [u8]) -> Handled<'a> {
        if from != self.server || !stun::is_stun(data) {
            return Handled::NotMine;
        }
        let Some(attrs) = attributes(data) else {
            return Handled::Consumed;
        };
        let kind = u16::from_be_bytes([data[0], data[1]]);
        let txid = &data[8..20];
        if kind == DATA_INDICATION {
            let peer = attrs
                .iter()
                .find(|(t, _)| *t == A_XOR_PEER_ADDRESS)
                .and_then(|(_, v)| xor_addr(txid, v));
            let payload = attrs.iter().find(|(t, _)| *t == A_DATA).map(|(_, v)| *v);
            return match (peer, payload) {
                (Some(peer), Some(data)) => Handled::Data { peer, data },
                _ => Handled::Consumed,
            };
        }
        let Some(p) = self.pending.take_if(|p| p.txid == txid) else {
            return Handled::Consumed;
        };
        let class = kind & 0x0110;
        if class == SUCCESS {
            self.challenges = 0;
            match p.kind {
                Kind::Allocate => {
                    self.relay = attrs
                        .iter()
                        .find(|(t, _)| *t == A_XOR_RELAYED_ADDRESS)
                        .and_then(|(_, v)| xor_addr(txid, v));
                    if self.relay.is_none() {
                        self.failed = Some("the TURN server gave no relayed address".into());
                    }
                    self.refresh_at = Some(now + ALLOCATION_REFRESH);
                }
                Kind::Refresh => self.refresh_at = Some(now + ALLOCATION_REFRESH),
                Kind::Permission => {
                    for (ip, at) in &mut self.permits {
                        if p.peers.contains(ip) {
                            *at = Some(now + PERMISSION_REFRESH);
                        }
                    }
                }
            }
            return Handled::Consumed;
        }
        if class == ERROR {
            let code = attrs
                .iter()
                .find(|(t, _)| *t == A_ERROR_CODE)
                .filter(|(_, v)| v.len() >= 4)
                .map(|(_, v)| (v[2] & 7) as u16 * 100 + v[3] as u16)
                .unwrap_or(0);
            let realm = attrs.iter().find(|(t, _)| *t == A_REALM).map(|(_, v)| *v);
            let nonce = attrs.iter().find(|(t, _)| *t == A_NONCE).map(|(_, v)| *v);
            if matches!(code, 401 | 438) && self.challenges < MAX_CHALLENGES {
                self.challenges += 1;
                if let Some(r) = realm {
                    self.realm = Some(String::from_utf8_lossy(r).into_owned());
                }
                if let Some(n) = nonce {
                    self.nonce = Some(n.to_vec());
                }
                // Asked again at once, with the credential (a new transaction).
                self.retry = Some((p.kind, p.peers));
                return Handled::Consumed;
            }
            self.failed = Some(match code {
                401 => "the TURN server refused the user or credential".to_string(),
                c => format!("the TURN server refused ({c})"),
            });
        }
        Handled::Consumed
    }

    /// `data` for `peer`, wrapped for the server (a Send indication).
    pub fn wrap(&self, peer: SocketAddr, data: &[u8], txid: [u8; 12]) -> Vec<u8> {
        let mut m = Msg::new(SEND_INDICATION, &txid);
        m.xor_addr(A_XOR_PEER_ADDRESS, peer);
        m.attr(A_DATA, data);
        m.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn md5_matches_rfc_1321() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn an_allocation_answers_the_challenge_then_asks_permission_and_wraps_data() {
        let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut c = TurnClient::new(server, "guest", "pw");
        let mut n = 0u8;
        let mut id = || {
            n += 1;
            [n; 12]
        };
        let first = c.poll_transmit(t0, &mut id).unwrap();
        assert_eq!(&first[0..2], &ALLOCATE.to_be_bytes());
        // 401 with realm and nonce.
        let mut e = Msg::new(ALLOCATE | ERROR, first[8..20].try_into().unwrap());
        e.attr(A_ERROR_CODE, &[0, 0, 4, 1]);
        e.attr(A_REALM, b"marquee.test");
        e.attr(A_NONCE, b"abcd");
        assert_eq!(c.handle(t0, server, &e.0), Handled::Consumed);
        let second = c.poll_transmit(t0, &mut id).unwrap();
        let attrs = attributes(&second).unwrap();
        assert!(
            attrs
                .iter()
                .any(|(t, v)| *t == A_USERNAME && *v == b"guest")
        );
        let (_, mi) = attrs.last().unwrap();
        assert_eq!(mi.len(), 20, "MESSAGE-INTEGRITY last");
        // Its HMAC checks out with MD5(user:realm:pw).
        let mut check = second[..second.len() - 24].to_vec();
        check[2..4].copy_from_slice(&((second.len() - 20) as u16).to_be_bytes());
        let mut mac =
            <Hmac<sha1::Sha1> as Mac>::new_from_slice(&md5(b"guest:marquee.test:pw")).unwrap();
        mac.update(&check);
        assert_eq!(&mac.finalize().into_bytes()[..], *mi);
        // Success with a relayed address.
        let relay: SocketAddr = "198.51.100.1:50000".parse().unwrap();
        let txid: [u8; 12] = second[8..20].try_into().unwrap();
        let mut ok = Msg::new(ALLOCATE | SUCCESS, &txid);
        ok.xor_addr(A_XOR_RELAYED_ADDRESS, relay);
        assert_eq!(c.handle(t0, server, &ok.0), Handled::Consumed);
        assert_eq!(c.relay(), Some(relay));
        // A permission for the host, then data both ways.
        let host: SocketAddr = "203.0.113.5:40000".parse().unwrap();
        c.permit(host.ip());
        let perm = c.poll_transmit(t0, &mut id).unwrap();
        assert_eq!(&perm[0..2], &CREATE_PERMISSION.to_be_bytes());
        let ptx: [u8; 12] = perm[8..20].try_into().unwrap();
        c.handle(t0, server, &Msg::new(CREATE_PERMISSION | SUCCESS, &ptx).0);
        assert!(c.permitted(host.ip()));
        let sent = c.wrap(host, b"hello", [7; 12]);
        let mut ind = Msg::new(DATA_INDICATION, &[7; 12]);
        let a = attributes(&sent).unwrap();
        ind.attr(A_XOR_PEER_ADDRESS, a[0].1);
        ind.attr(A_DATA, b"hello");
        assert_eq!(
            c.handle(t0, server, &ind.0),
            Handled::Data {
                peer: host,
                data: b"hello"
            }
        );
        assert_eq!(c.handle(t0, host, &ind.0), Handled::NotMine);
        assert!(c.poll_transmit(t0, &mut id).is_none(), "nothing due");
        assert!(c.poll_transmit(t0 + PERMISSION_REFRESH, &mut id).is_some());
    }

    #[test]
    fn a_refused_credential_and_a_silent_server_fail_with_a_reason() {
        let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let mut c = TurnClient::new(server, "guest", "wrong");
        let mut now = t0;
        let mut tx = || [1u8; 12];
        for _ in 0..=MAX_CHALLENGES {
            let req = c.poll_transmit(now, &mut tx).unwrap();
            let mut e = Msg::new(ALLOCATE | ERROR, req[8..20].try_into().unwrap());
            e.attr(A_ERROR_CODE, &[0, 0, 4, 1]);
            e.attr(A_REALM, b"r");
            e.attr(A_NONCE, b"n");
            c.handle(now, server, &e.0);
        }
        assert!(c.failed().unwrap().contains("refused"), "{:?}", c.failed());
        let mut silent = TurnClient::new(server, "guest", "pw");
        while silent.failed().is_none() {
            let _ = silent.poll_transmit(now, &mut tx);
            now = silent.poll_timeout(now);
            assert!(now - t0 < Duration::from_secs(120));
        }
        for junk in [&b""[..], b"\x00\x01\x00\x00garbage", &[0u8; 20]] {
            let _ = c.handle(now, server, junk);
        }
    }
}
