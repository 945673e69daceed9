//! A connection's outgoing side: whole WebSocket frames, encoded once, written to the socket by
//! whoever has them — straight from the room thread when the socket can take them, by the
//! connection's writer task only when it cannot.
//!
//! Why: a flush of a 5,000-subscriber room used to push one item into 5,000 channels, wake 5,000
//! tasks on the 2-worker runtime, and have each one frame the same payload again (tungstenite) and
//! `send(2)` it. The `send` is unavoidable (one per subscriber per flush); the rest is not: the
//! room thread now writes the shared, pre-encoded bytes with a non-blocking `send` in one tight
//! loop, and a connection's task is woken only when its socket buffer is full (a slow reader) or
//! when it has something of its own to say (a pong, a close).
//!
//! Order is kept by one rule: bytes go to the socket directly only while nothing is queued; once
//! something is queued, everything after it queues behind it and the writer task drains the queue.
//! The queue is bounded in items: a full one is the caller's "slow consumer".

use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io;
use std::sync::Mutex;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// On the socket already (or dropped because the connection is going away).
    Written,
    /// Behind earlier bytes, or what the socket could not take now; the writer task sends it.
    Queued,
    /// The queue is full: nothing was taken.
    Full,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Bytes>,
    /// The socket failed: everything is dropped from now on.
    failed: bool,
}

/// The outgoing side of one connection.
#[derive(Debug)]
pub struct ConnOut {
    /// `None` in unit tests: everything queues, as if the socket were full.
    sock: Option<OwnedWriteHalf>,
    state: Mutex<State>,
    notify: Notify,
    cap: usize,
}

impl ConnOut {
    /// At most `cap` items wait (`cap` ≥ 1).
    pub fn new(sock: Option<OwnedWriteHalf>, cap: usize) -> Self {
        ConnOut {
            sock,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send whole frames: on the socket now if nothing waits and it takes them, else queued.
    pub fn push(&self, bytes: Bytes) -> Push {
        self.push_inner(bytes, false)
    }

    /// The same, past the bound (the last words before a close: an error frame, the close frame).
    pub fn push_force(&self, bytes: Bytes) -> Push {
        self.push_inner(bytes, true)
    }

    fn push_inner(&self, mut bytes: Bytes, force: bool) -> Push {
        let mut st = self.lock();
        if st.failed || bytes.is_empty() {
            return Push::Written;
        }
        if !st.queue.is_empty() {
            if st.queue.len() >= self.cap && !force {
                return Push::Full;
            }
            // The writer task was woken when the queue became non-empty.
            st.queue.push_back(bytes);
            return Push::Queued;
        }
        if let Some(sock) = &self.sock {
            while !bytes.is_empty() {
                match sock.try_write(&bytes) {
                    Ok(n) => bytes.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        st.failed = true;
                        drop(st);
                        // The writer task sees the failure and ends the connection.
                        self.notify.notify_one();
                        return Push::Written;
                    }
                }
            }
        }
        if bytes.is_empty() {
            return Push::Written;
        }
        st.queue.push_back(bytes);
        drop(st);
        self.notify.notify_one();
        Push::Queued
    }

    /// Items waiting for the writer task.
    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Take everything queued (tests: what would have been written).
    pub fn take_queued(&self) -> Vec<Bytes> {
        self.lock().queue.drain(..).collect()
    }

    /// Write what is queued until it is all written (`Ok(true)`) or the socket is full
    /// (`Ok(false)`).
    fn drain(&self) -> io::Result<bool> {
        let mut st = self.lock();
        if st.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let Some(sock) = &self.sock else {
            return Ok(st.queue.is_empty());
        };
        while let Some(front) = st.queue.front_mut() {
            match sock.try_write(front) {
                Ok(n) if n == front.len() => {
                    st.queue.pop_front();
                }
                Ok(n) => front.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => {
                    st.failed = true;
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    /// Write everything queued now, waiting for the socket as needed.
    pub async fn flush(&self) -> io::Result<()> {
        while !self.drain()? {
            match &self.sock {
                Some(sock) => sock.writable().await?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// The writer task's loop: sleep until something is queued, then write it out. Returns when
    /// the socket fails. Cancel-safe (a queued item stays queued).
    pub async fn run(&self) -> io::Result<()> {
        loop {
            self.notify.notified().await;
            self.flush().await?;
        }
    }
}

fn header(out: &mut BytesMut, opcode: u8, len: usize) {
    out.extend_from_slice(&[0x80 | opcode]);
    match len {
        0..=125 => out.extend_from_slice(&[len as u8]),
        126..=65535 => {
            out.extend_from_slice(&[126]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.extend_from_slice(&[127]);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Server text frames (unmasked, final), back to back in one buffer: encoded once per flush and
/// shared by every subscriber that gets them.
pub fn text_frames<'a>(payloads: impl IntoIterator<Item = &'a str> + Clone) -> Bytes {
    let len: usize = payloads.clone().into_iter().map(|p| p.len() + 10).sum();
    let mut out = BytesMut::with_capacity(len);
    for p in payloads {
        header(&mut out, 0x1, p.len());
        out.extend_from_slice(p.as_bytes());
    }
    out.freeze()
}

/// A close frame with a code and a reason (cut to fit the 125-byte control frame limit).
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = BytesMut::with_capacity(4 + end);
    header(&mut out, 0x8, 2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_frames_carry_the_length_in_the_shortest_form() {
        let short = "a".repeat(125);
        let mid = "b".repeat(126);
        let long = "c".repeat(70_000);
        let f = text_frames([short.as_str()]);
        assert_eq!(&f[..2], &[0x81, 125]);
        assert_eq!(f.len(), 2 + 125);
        let f = text_frames([mid.as_str()]);
        assert_eq!(&f[..4], &[0x81, 126, 0, 126]);
        let f = text_frames([long.as_str(), "x"]);
        assert_eq!(&f[..2], &[0x81, 127]);
        assert_eq!(u64::from_be_bytes(f[2..10].try_into().unwrap()), 70_000);
        assert_eq!(&f[10 + 70_000..], &[0x81, 1, b'x']);
    }

    #[test]
    fn close_frames_fit_a_control_frame_and_cut_on_a_character() {
        let f = close_frame(1013, "busy");
        assert_eq!(&f[..], &[0x88, 6, 0x03, 0xf5, b'b', b'u', b's', b'y']);
        let f = close_frame(1008, &"é".repeat(100));
        assert!(f.len() <= 127);
        assert!(std::str::from_utf8(&f[4..]).is_ok());
    }

    #[test]
    fn pushes_queue_in_order_up_to_the_bound_and_the_last_words_go_past_it() {
        let out = ConnOut::new(None, 2);
        assert_eq!(out.push(Bytes::from_static(b"1")), Push::Queued);
        assert_eq!(out.push(Bytes::from_static(b"2")), Push::Queued);
        assert_eq!(out.push(Bytes::from_static(b"3")), Push::Full);
        assert_eq!(out.push_force(Bytes::from_static(b"close")), Push::Queued);
        let got: Vec<Bytes> = out.take_queued();
        assert_eq!(got, [&b"1"[..], b"2", b"close"]);
        assert_eq!(out.queued(), 0);
    }

    #[tokio::test]
    async fn bytes_go_straight_to_the_socket_while_nothing_waits_and_in_order_after() {
        use tokio::io::AsyncReadExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(l.local_addr().unwrap());
        let (client, server) = tokio::join!(client, l.accept());
        let mut client = client.unwrap();
        let (_r, w) = server.unwrap().0.into_split();
        // Wait until the socket is known writable, then write straight through.
        w.writable().await.unwrap();
        let out = std::sync::Arc::new(ConnOut::new(Some(w), 4));
        assert_eq!(out.push(Bytes::from_static(b"hello ")), Push::Written);
        // Fill the socket until it refuses: the rest queues, the writer task sends it in order.
        let big = Bytes::from(vec![b'x'; 1 << 20]);
        let mut pushed = 6;
        while out.push(big.clone()) == Push::Written {
            pushed += big.len();
        }
        pushed += big.len();
        assert!(out.queued() > 0);
        assert_eq!(out.push(Bytes::from_static(b"!")), Push::Queued);
        pushed += 1;
        let writer = tokio::spawn({
            let out = out.clone();
            async move { out.run().await }
        });
        let mut got = Vec::new();
        let mut buf = vec![0; 1 << 16];
        while got.len() < pushed {
            let n = client.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"hello x"));
        assert_eq!(got.last(), Some(&b'!'));
        assert_eq!(got.len(), pushed);
        writer.abort();
    }
}
