//! bilibili's danmaku packet framing: a 16-byte big-endian header (packet length, header
//! length, protocol version, operation, sequence) and a body. Version 2 bodies are zlib and
//! version 3 bodies brotli, each holding further whole packets. The server may split a packet
//! across WebSocket messages or put several in one; [`Reassembler`] takes care of both.
//! Layout per bilibili-API-collect (SocialSisterYi) `docs/live/message_stream.md`.

use std::io::Read;

pub const HEADER_LEN: usize = 16;
pub const OP_HEARTBEAT: u32 = 2;
pub const OP_HEARTBEAT_REPLY: u32 = 3;
pub const OP_MESSAGE: u32 = 5;
pub const OP_AUTH: u32 = 7;
pub const OP_AUTH_REPLY: u32 = 8;
/// Plain JSON body.
pub const VER_PLAIN: u16 = 0;
/// Client packets and the heartbeat reply (a u32 popularity).
pub const VER_INT: u16 = 1;
pub const VER_ZLIB: u16 = 2;
pub const VER_BROTLI: u16 = 3;

/// Largest packet accepted on the wire; real batches are a few KiB.
pub const MAX_PACKET: usize = 1 << 20;
/// Largest decompressed body; a decompression bomb stops here.
pub const MAX_INFLATED: usize = 8 << 20;
/// Compressed bodies nest packets; deeper than this is not bilibili.
const MAX_DEPTH: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub ver: u16,
    pub op: u32,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet header says {len} bytes with a {header}-byte header")]
    BadHeader { len: u32, header: u16 },
    #[error("packet of {0} bytes is over the {MAX_PACKET}-byte limit")]
    TooLarge(u32),
    #[error("{0} body does not decompress: {1}")]
    Decompress(&'static str, String),
    #[error("decompressed body is over the {MAX_INFLATED}-byte limit")]
    Inflated,
    #[error("compressed packets nested too deep")]
    TooDeep,
    #[error("a compressed body ends inside a packet")]
    Truncated,
}

/// A client packet (sequence 1, as the web client sends).
pub fn encode(ver: u16, op: u32, body: &[u8]) -> Vec<u8> {
    let len = (HEADER_LEN + body.len()) as u32;
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&(HEADER_LEN as u16).to_be_bytes());
    out.extend_from_slice(&ver.to_be_bytes());
    out.extend_from_slice(&op.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(body);
    out
}

struct Header {
    len: usize,
    header: usize,
    ver: u16,
    op: u32,
}

fn header(b: &[u8]) -> Option<Result<Header, PacketError>> {
    let h = b.get(..HEADER_LEN)?;
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let header = u16::from_be_bytes([h[4], h[5]]);
    let ver = u16::from_be_bytes([h[6], h[7]]);
    let op = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    if (header as usize) < HEADER_LEN || len < header as u32 {
        return Some(Err(PacketError::BadHeader { len, header }));
    }
    if len as usize > MAX_PACKET {
        return Some(Err(PacketError::TooLarge(len)));
    }
    Some(Ok(Header {
        len: len as usize,
        header: header as usize,
        ver,
        op,
    }))
}

/// Packets from a byte stream cut anywhere: bytes in, whole packets out.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
}

impl Reassembler {
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Bytes waiting for the rest of their packet (at most [`MAX_PACKET`]).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Appends `data` and moves every complete packet, expanded, into `out`. After an error
    /// the stream is out of step and the connection must be dropped.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Packet>) -> Result<(), PacketError> {
        self.buf.extend_from_slice(data);
        let mut at = 0;
        let result = loop {
            let rest = &self.buf[at..];
            let h = match header(rest) {
                None => break Ok(()),
                Some(Err(e)) => break Err(e),
                Some(Ok(h)) => h,
            };
            if rest.len() < h.len {
                break Ok(());
            }
            let packet = Packet {
                ver: h.ver,
                op: h.op,
                body: rest[h.header..h.len].to_vec(),
            };
            at += h.len;
            if let Err(e) = expand(packet, out, 0) {
                break Err(e);
            }
        };
        self.buf.drain(..at);
        if result.is_err() {
            self.buf.clear();
        }
        result
    }
}

/// A packet as its contents: compressed bodies become the packets inside them.
pub fn expand(p: Packet, out: &mut Vec<Packet>, depth: u8) -> Result<(), PacketError> {
    let inflated = match p.ver {
        VER_ZLIB => inflate_zlib(&p.body)?,
        VER_BROTLI => inflate_brotli(&p.body)?,
        _ => {
            out.push(p);
            return Ok(());
        }
    };
    if depth >= MAX_DEPTH {
        return Err(PacketError::TooDeep);
    }
    let mut at = 0;
    while at < inflated.len() {
        let h = match header(&inflated[at..]) {
            None => return Err(PacketError::Truncated),
            Some(h) => h?,
        };
        let end = at + h.len;
        let Some(body) = inflated.get(at + h.header..end) else {
            return Err(PacketError::Truncated);
        };
        let inner = Packet {
            ver: h.ver,
            op: h.op,
            body: body.to_vec(),
        };
        expand(inner, out, depth + 1)?;
        at = end;
    }
    Ok(())
}

fn read_bounded(mut r: impl Read, what: &'static str) -> Result<Vec<u8>, PacketError> {
    let mut out = Vec::new();
    (&mut r)
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| PacketError::Decompress(what, e.to_string()))?;
    if out.len() > MAX_INFLATED {
        return Err(PacketError::Inflated);
    }
    Ok(out)
}

fn inflate_zlib(body: &[u8]) -> Result<Vec<u8>, PacketError> {
    read_bounded(flate2::read::ZlibDecoder::new(body), "zlib")
}

fn inflate_brotli(body: &[u8]) -> Result<Vec<u8>, PacketError> {
    read_bounded(brotli_decompressor::Decompressor::new(body, 4096), "brotli")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_packet_split_at_every_byte_comes_out_whole() {
        let p = encode(VER_PLAIN, OP_MESSAGE, br#"{"cmd":"X"}"#);
        let mut r = Reassembler::default();
        let mut out = Vec::new();
        for b in &p {
            r.push(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].body, br#"{"cmd":"X"}"#);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn zlib_bodies_give_their_nested_packets() {
        let mut inner = encode(VER_PLAIN, OP_MESSAGE, b"{}");
        inner.extend(encode(VER_PLAIN, OP_MESSAGE, b"[]"));
        let outer = encode(VER_ZLIB, OP_MESSAGE, &zlib(&inner));
        let mut out = Vec::new();
        Reassembler::default().push(&outer, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].body, b"[]");
    }

    #[test]
    fn a_header_shorter_than_sixteen_bytes_is_refused() {
        let mut p = encode(VER_PLAIN, OP_MESSAGE, b"{}");
        p[5] = 4;
        let err = Reassembler::default()
            .push(&p, &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, PacketError::BadHeader { .. }));
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; MAX_INFLATED + 10];
        let outer = encode(VER_ZLIB, OP_MESSAGE, &zlib(&zeros));
        let err = Reassembler::default()
            .push(&outer, &mut Vec::new())
            .unwrap_err();
        assert_eq!(err, PacketError::Inflated);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let n = rng.usize(..64);
            let mut b: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            if rng.bool() && b.len() >= 8 {
                let len = b.len() as u32;
                b[..4].copy_from_slice(&len.to_be_bytes());
                b[4..6].copy_from_slice(&16u16.to_be_bytes());
            }
            let _ = Reassembler::default().push(&b, &mut Vec::new());
        }
    }
}
