//! One WebSocket connection: the per-socket task. tungstenite reads the client's frames; they go
//! to the room thread through its bounded channel (full → the frame is dropped and the client
//! gets `busy`). Frames to the client are written by the room thread ([`crate::out`]); this task
//! writes only what the socket could not take at once, and closes with the reason it is given.

use super::fanout::CloseReason;
use super::rooms::RoomCmd;
use super::stats::ServerStats;
use crate::out::{ConnOut, Push, close_frame, text_frames};
use crate::protocol::{ErrorCode, ServerMsg};
use bytes::Bytes;
use crossbeam_channel as cb;
use futures_util::StreamExt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite;

/// What every connection task shares: counters, limits, the stop signal.
pub(super) struct Sockets {
    pub(super) stats: Arc<ServerStats>,
    /// The next connection id.
    pub(super) next_conn: AtomicU64,
    /// Outgoing items queued per connection (see `ServerConfig::conn_queue`).
    pub(super) queue: usize,
    /// Hard cap on a WebSocket message.
    pub(super) max_message: usize,
    /// Becomes true when the server stops.
    pub(super) shutdown: watch::Receiver<bool>,
}

fn close_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::TooLarge => 1009,
        ErrorCode::SlowConsumer | ErrorCode::Busy => 1013,
        ErrorCode::RoomClosed => 1000,
        _ => 1008,
    }
}

/// The socket as tungstenite sees it: it reads the client's frames from it (after the bytes
/// hyper had already read), and what it writes itself (pongs, the reply to a close) goes into the
/// connection's ordered outgoing queue — tungstenite writes whole frames per call, so they never
/// interleave with the room's.
struct Wire {
    rd: tokio::net::tcp::OwnedReadHalf,
    prefix: Bytes,
    out: Arc<ConnOut>,
}

impl tokio::io::AsyncRead for Wire {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.rd).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Wire {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(match self.out.push(Bytes::copy_from_slice(buf)) {
            Push::Full => Err(std::io::Error::other("outgoing queue full")),
            Push::Written | Push::Queued => Ok(buf.len()),
        })
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// How long a closing connection may take to get its last frames out.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// Deliver what is already queued, then the reason and the close frame (bounded in time).
async fn close_with(out: &ConnOut, why: CloseReason) {
    let msg = ServerMsg::error(why.code, why.reason.clone()).to_json();
    out.push_force(text_frames([msg.as_str()]));
    let reason: String = why.reason.chars().take(100).collect();
    out.push_force(close_frame(close_code(why.code), &reason));
    let _ = tokio::time::timeout(CLOSE_FLUSH, out.flush()).await;
}

/// Serve one upgraded socket until either side closes it: its frames go to the room thread,
/// what the room sends it is written by the room thread (this task writes only what the socket
/// could not take at once), and a close from the room ends it with the reason.
pub(super) async fn connection(
    s: Arc<Sockets>,
    tcp: tokio::net::TcpStream,
    prefix: Bytes,
    room: cb::Sender<RoomCmd>,
    ip: Option<IpAddr>,
) {
    let conn = s.next_conn.fetch_add(1, Ordering::Relaxed);
    s.stats.connections_open.fetch_add(1, Ordering::Relaxed);
    s.stats.connections_total.fetch_add(1, Ordering::Relaxed);
    let (rd, wr) = tcp.into_split();
    let out = Arc::new(ConnOut::new(Some(wr), s.queue));
    let (kill_tx, mut kill_rx) = oneshot::channel::<CloseReason>();
    let mut shutdown = s.shutdown.clone();
    let max = s.max_message;
    // Small read buffer: most connections are idle viewers (tungstenite defaults to 128 KiB).
    // It writes nothing but pongs and close replies, straight through.
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0);
    let wire = Wire {
        rd,
        prefix,
        out: out.clone(),
    };
    let mut stream = tokio_tungstenite::WebSocketStream::from_raw_socket(
        wire,
        tungstenite::protocol::Role::Server,
        Some(config),
    )
    .await;
    if room
        .try_send(RoomCmd::Open {
            conn,
            ip,
            out: out.clone(),
            kill: kill_tx,
        })
        .is_err()
    {
        s.stats.dropped_in.fetch_add(1, Ordering::Relaxed);
        close_with(
            &out,
            CloseReason {
                code: ErrorCode::Busy,
                reason: "the room is overloaded; try again".into(),
            },
        )
        .await;
        s.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let stopped = async move {
        let _ = shutdown.wait_for(|v| *v).await;
    };
    let writer = async {
        tokio::select! {
            biased;
            why = &mut kill_rx => {
                if let Ok(why) = why {
                    // Boxed: its state would otherwise sit in every idle connection.
                    Box::pin(close_with(&out, why)).await;
                }
            }
            _ = stopped => {
                out.push_force(close_frame(1012, "server restarting"));
                let _ = tokio::time::timeout(CLOSE_FLUSH, out.flush()).await;
            }
            // Wakes only when the socket could not take something at once.
            _ = out.run() => {}
        }
    };
    let reader = async {
        while let Some(msg) = stream.next().await {
            let cmd = match msg {
                Ok(tungstenite::Message::Text(text)) => RoomCmd::Text { conn, text },
                Ok(tungstenite::Message::Binary(b)) => RoomCmd::Binary { conn, len: b.len() },
                Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)) => continue,
                Ok(tungstenite::Message::Frame(_)) => continue,
                Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            };
            s.stats.frames_in.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = room.try_send(cmd) {
                if matches!(e, cb::TrySendError::Disconnected(_)) {
                    // The room thread stopped (idle or storage failure): end this connection;
                    // the client reconnects and the room reopens from storage.
                    break;
                }
                s.stats.dropped_in.fetch_add(1, Ordering::Relaxed);
                let busy =
                    ServerMsg::error(ErrorCode::Busy, "the room is overloaded; message dropped")
                        .to_json();
                if out.push(text_frames([busy.as_str()])) == Push::Full {
                    s.stats.dropped_out.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };
    tokio::select! {
        _ = writer => {},
        _ = reader => {},
    }
    // What is still queued (the reply to the client's close, say) gets a moment to go out.
    let _ = tokio::time::timeout(CLOSE_FLUSH, out.flush()).await;
    // The room must hear about it even when its queue is full.
    if let Err(cb::TrySendError::Full(cmd)) = room.try_send(RoomCmd::Closed { conn }) {
        let _ = tokio::task::spawn_blocking(move || room.send_timeout(cmd, Duration::from_secs(5)))
            .await;
    }
    s.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
}
