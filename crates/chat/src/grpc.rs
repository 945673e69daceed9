//! gRPC over HTTP/2, the sans-IO parts (grpc.io's PROTOCOL-HTTP2.md): a message's 5-byte
//! length prefix, a bounded reader that cuts the response body's DATA into whole messages
//! however the frames split them, and the call's status from `grpc-status` / `grpc-message`.

use std::collections::VecDeque;

/// A request message with its length prefix (never compressed: the client does not offer
/// `grpc-accept-encoding`, so a server must not compress either).
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Why a response body cannot be read as gRPC messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeframeError {
    #[error("a compressed message, which this client never asked for")]
    Compressed,
    #[error("a message of {0} bytes, over this client's limit of {1}")]
    TooLong(usize, usize),
    #[error("a message prefix with flags {0:#04x}")]
    BadFlags(u8),
    #[error("the stream ended inside a message")]
    Truncated,
}

/// Cuts a response body into whole messages; holds at most one message's bytes.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    max: usize,
    ready: VecDeque<Vec<u8>>,
}

impl Deframer {
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max_message,
            ready: VecDeque::new(),
        }
    }

    /// Takes the next piece of the body. After an error the call must end.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), DeframeError> {
        while !data.is_empty() {
            let need = match self.expected()? {
                Some(len) => 5 + len - self.buf.len(),
                None => 5 - self.buf.len(),
            };
            let take = need.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Some(len) = self.expected()?
                && self.buf.len() == 5 + len
            {
                let message = self.buf.split_off(5);
                self.buf.clear();
                self.ready.push_back(message);
            }
        }
        Ok(())
    }

    /// The body has ended: an error if it ended inside a message.
    pub fn finish(&self) -> Result<(), DeframeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DeframeError::Truncated)
        }
    }

    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// The message length the prefix in `buf` announces, once the prefix is complete.
    fn expected(&self) -> Result<Option<usize>, DeframeError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        match self.buf[0] {
            0 => {}
            1 => return Err(DeframeError::Compressed),
            f => return Err(DeframeError::BadFlags(f)),
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max {
            return Err(DeframeError::TooLong(len, self.max));
        }
        Ok(Some(len))
    }
}

/// gRPC status codes (grpc.io's statuscodes.md) this client acts on.
pub mod code {
    pub const OK: u32 = 0;
    pub const CANCELLED: u32 = 1;
    pub const UNKNOWN: u32 = 2;
    pub const INVALID_ARGUMENT: u32 = 3;
    pub const DEADLINE_EXCEEDED: u32 = 4;
    pub const NOT_FOUND: u32 = 5;
    pub const PERMISSION_DENIED: u32 = 7;
    pub const RESOURCE_EXHAUSTED: u32 = 8;
    pub const FAILED_PRECONDITION: u32 = 9;
    pub const ABORTED: u32 = 10;
    pub const UNIMPLEMENTED: u32 = 12;
    pub const INTERNAL: u32 = 13;
    pub const UNAVAILABLE: u32 = 14;
    pub const UNAUTHENTICATED: u32 = 16;
}

/// A call's status from its `grpc-status` and `grpc-message` (percent-encoded UTF-8) values.
/// A missing or unreadable status is UNKNOWN, as the spec says a client must treat it.
pub fn status(grpc_status: Option<&[u8]>, grpc_message: Option<&[u8]>) -> (u32, String) {
    let code = grpc_status
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(code::UNKNOWN);
    let message = grpc_message
        .map(|m| {
            percent_encoding::percent_decode(m)
                .decode_utf8_lossy()
                .chars()
                .take(500)
                .collect()
        })
        .unwrap_or_default();
    (code, message)
}

/// The status a gRPC client gives a call whose HTTP response was not 200 (grpc.io's
/// http-grpc-status-mapping.md).
pub fn status_of_http(http: u16) -> u32 {
    match http {
        400 => code::INTERNAL,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 => code::UNIMPLEMENTED,
        429 | 502..=504 => code::UNAVAILABLE,
        _ => code::UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_and_merged_across_reads_come_out_whole() {
        let mut body = frame(b"first");
        body.extend(frame(b""));
        body.extend(frame(&[7u8; 300]));
        for cut in [1, 2, 4, 5, 6, 7, 300, body.len()] {
            let mut d = Deframer::new(1024);
            for piece in body.chunks(cut) {
                d.push(piece).unwrap();
            }
            d.finish().unwrap();
            assert_eq!(
                d.next_message().as_deref(),
                Some(&b"first"[..]),
                "cut {cut}"
            );
            assert_eq!(d.next_message().as_deref(), Some(&b""[..]));
            assert_eq!(d.next_message(), Some(vec![7u8; 300]));
            assert_eq!(d.next_message(), None);
        }
    }

    #[test]
    fn a_message_over_the_limit_is_refused_before_it_is_buffered() {
        let mut d = Deframer::new(100);
        assert_eq!(
            d.push(&[0, 0, 0, 1, 0]),
            Err(DeframeError::TooLong(256, 100))
        );
        assert_eq!(
            Deframer::new(9).push(&[1, 0, 0, 0, 1]),
            Err(DeframeError::Compressed)
        );
        assert_eq!(
            Deframer::new(9).push(&[9, 0, 0, 0, 1]),
            Err(DeframeError::BadFlags(9))
        );
    }

    #[test]
    fn a_body_that_stops_inside_a_message_is_truncated() {
        let mut d = Deframer::new(100);
        d.push(&frame(b"abc")[..6]).unwrap();
        assert_eq!(d.finish(), Err(DeframeError::Truncated));
        assert_eq!(d.next_message(), None);
    }

    #[test]
    fn the_status_reads_the_code_and_the_percent_encoded_message() {
        assert_eq!(
            status(Some(b"8"), Some(b"quota %E9%85%8D%E9%A2%9D exceeded")),
            (8, "quota 配额 exceeded".into())
        );
        assert_eq!(status(None, None), (code::UNKNOWN, String::new()));
        assert_eq!(status(Some(b"x"), None).0, code::UNKNOWN);
        assert_eq!(status_of_http(404), code::UNIMPLEMENTED);
    }
}
