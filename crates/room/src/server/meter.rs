//! What a handshake is: an HTTP connection counts against the handshake caps only while a
//! request head is arriving on it — from the head's first byte until hyper has read it whole. A
//! fresh connection that has sent nothing yet and a keep-alive connection between requests
//! hold no handshake slot (they hold their connection slot, and hyper's header timeout closes
//! them when idle), so the few idle connections every browser keeps never crowd out others
//! behind the same address; a flood of half-sent heads still meets the handshake caps.

use super::limits::{HandshakeSlot, Limits};
use super::stats::ServerStats;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Where a connection is between its requests.
#[derive(Debug, Default)]
enum Phase {
    /// Waiting for a request (fresh, or idle keep-alive): no handshake slot.
    #[default]
    Idle,
    /// A request head is arriving: holds a handshake slot (given back when the phase changes).
    Head(#[expect(dead_code, reason = "held for its drop")] HandshakeSlot),
    /// A request is being answered (its body, if any, is read now): no slot.
    Serving,
}

/// One connection's phase, shared by its socket (which sees the first byte of a head) and its
/// service (which sees the head complete and the answer made).
pub(super) struct Meter {
    limits: Arc<Limits>,
    /// The peer address counted (`None`: a trusted proxy, counted in all only).
    peer: Option<IpAddr>,
    stats: Arc<ServerStats>,
    phase: Mutex<Phase>,
}

impl Meter {
    pub(super) fn new(
        limits: Arc<Limits>,
        peer: Option<IpAddr>,
        stats: Arc<ServerStats>,
    ) -> Arc<Self> {
        Arc::new(Meter {
            limits,
            peer,
            stats,
            phase: Mutex::default(),
        })
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived: if they start a request head, it takes a handshake slot. The refusal's
    /// answer when the caps are full.
    fn bytes_arrived(&self) -> Result<(), Vec<u8>> {
        let mut phase = self.phase();
        if !matches!(*phase, Phase::Idle) {
            return Ok(());
        }
        match self.limits.handshake(self.peer) {
            Ok(slot) => {
                *phase = Phase::Head(slot);
                Ok(())
            }
            Err(why) => {
                self.stats.refused_caps.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = ?self.peer, reason = %why.reason, "request refused");
                Err(why.raw_http())
            }
        }
    }

    /// The request head has been read: its handshake slot is given back.
    pub(super) fn head_read(&self) {
        *self.phase() = Phase::Serving;
    }

    /// The answer is made: the connection waits for its next request.
    pub(super) fn answered(&self) {
        *self.phase() = Phase::Idle;
    }

    /// The connection is closed or upgraded: whatever it held is given back.
    pub(super) fn ended(&self) {
        *self.phase() = Phase::Serving;
    }
}

/// An accepted socket whose reads tell its [`Meter`] when a request head starts.
pub(super) struct Metered {
    tcp: TcpStream,
    meter: Arc<Meter>,
}

impl Metered {
    pub(super) fn new(tcp: TcpStream, meter: Arc<Meter>) -> Self {
        Metered { tcp, meter }
    }

    /// The socket, for an upgraded connection.
    pub(super) fn into_inner(self) -> TcpStream {
        self.tcp
    }
}

impl AsyncRead for Metered {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.tcp).poll_read(cx, buf))?;
        if buf.filled().len() > before
            && let Err(answer) = this.meter.bytes_arrived()
        {
            // Refused: the client is told why, and hyper sees the connection end between
            // requests (a clean close; everything the client sent has been read).
            let _ = this.tcp.try_write(&answer);
            buf.set_filled(before);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
