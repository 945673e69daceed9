//! A Rust room client: reconnects by itself with jittered exponential backoff and resumes from
//! its last `seq`, so the application sees every event once, in order — or an explicit
//! [`ClientEvent::NotRecoverable`] followed by fresh history.

use crate::error::RoomError;
use crate::protocol::{
    ClientMsg, Control, ErrorCode, Event, ResumePoint, RoomView, ServerMsg, UserRef, decode_server,
};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Largest server frame the client accepts (a replay can be big).
pub const MAX_SERVER_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://host:port/room/ROOM/ws`
    pub url: String,
    pub token: Option<String>,
    /// Join as a viewer with just a nickname (the issued token is reused on reconnect).
    pub nickname: Option<String>,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Events buffered for the application and messages buffered for the server.
    pub queue: usize,
    /// PEM certificates trusted for `wss://` besides the OS's roots (a private CA).
    pub ca_pem: Option<Arc<[u8]>>,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            token: None,
            nickname: None,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            queue: 4096,
            ca_pem: None,
        }
    }
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
    pub fn nickname(mut self, nick: impl Into<String>) -> Self {
        self.nickname = Some(nick.into());
        self
    }
    /// Trust these PEM certificates for `wss://` as well as the OS's roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into().into());
        self
    }
}

/// What the application receives.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// Joined (again). After a reconnect, the missed events follow as `Event`s (exact replay)
    /// or `NotRecoverable` + `History` comes instead.
    Joined {
        user: UserRef,
        epoch: u64,
        seq: u64,
        view: Box<RoomView>,
    },
    /// A room event. Within an epoch: in seq order, no duplicates, no gaps.
    Event(Event),
    /// The missed events cannot be replayed: drop local room state; `History` follows.
    NotRecoverable { reason: String },
    /// Recent events after a fresh join or `NotRecoverable`.
    History(Vec<Event>),
    /// Acks, errors, presence, tallies, leaderboard…
    Control(Control),
    /// The connection was lost; the client retries after `retry_in`.
    Disconnected { reason: String, retry_in: Duration },
    /// The server refused for good (banned, bad token, room closed): no more retries.
    Stopped { code: ErrorCode, reason: String },
}

/// A connected (or reconnecting) room client.
#[derive(Debug)]
pub struct RoomClient {
    out: mpsc::Sender<ClientMsg>,
    events: mpsc::Receiver<ClientEvent>,
    position: Arc<Mutex<Option<ResumePoint>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RoomClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RoomClient {
    /// Start the client on the current tokio runtime. It connects in the background.
    pub fn connect(cfg: ClientConfig) -> RoomClient {
        let (out_tx, out_rx) = mpsc::channel(cfg.queue);
        let (ev_tx, ev_rx) = mpsc::channel(cfg.queue);
        let position = Arc::new(Mutex::new(None));
        let task = tokio::spawn(run(cfg, out_rx, ev_tx, position.clone()));
        RoomClient {
            out: out_tx,
            events: ev_rx,
            position,
            task,
        }
    }

    /// Queue a message; it is sent once joined. Messages in flight when the connection drops
    /// may be lost: retry gifts with the same key until acknowledged.
    pub async fn send(&self, msg: ClientMsg) -> Result<(), RoomError> {
        self.out
            .send(msg)
            .await
            .map_err(|_| RoomError::WebSocket("client stopped".into()))
    }

    /// The next event; `None` once the client has stopped.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// Sends what is queued, closes the connection and waits for that, at most `within`:
    /// a show that stops still delivers the answers it has made (a guest being told the show
    /// ended). Dropping the client instead cuts it at once.
    pub async fn close(mut self, within: Duration) {
        // With the only sender gone the task sends what is queued, then closes.
        let (gone, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.out, gone));
        let _ = tokio::time::timeout(within, &mut self.task).await;
    }

    /// Where the client is in the room's log.
    pub fn position(&self) -> Option<ResumePoint> {
        *self.position.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Turn a viewer page URL (`http://host:port/room/ROOM`) into its WebSocket URL; WebSocket URLs
/// pass through.
pub fn ws_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let url = if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_string()
    };
    if url.ends_with("/ws") {
        url
    } else {
        format!("{url}/ws")
    }
}

/// Backoff before reconnect attempt `attempt` (0-based): "equal jitter", a random delay in
/// `[cap/2, cap]` with `cap = min(max, min * 2^attempt)`.
pub fn backoff(min: Duration, max: Duration, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
    let cap = min
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(max);
    let half = cap / 2;
    half + Duration::from_micros(rng.u64(..=half.as_micros() as u64))
}

enum Outcome {
    Lost(String),
    Fatal(ErrorCode, String),
    AppGone,
}

async fn run(
    cfg: ClientConfig,
    mut out_rx: mpsc::Receiver<ClientMsg>,
    ev_tx: mpsc::Sender<ClientEvent>,
    position: Arc<Mutex<Option<ResumePoint>>>,
) {
    let mut rng = fastrand::Rng::new();
    let mut token = cfg.token.clone();
    let mut attempt = 0u32;
    let tls = if cfg.url.starts_with("wss://") {
        match crate::tls::client_config(cfg.ca_pem.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = ev_tx
                    .send(ClientEvent::Stopped {
                        code: ErrorCode::Invalid,
                        reason: e.to_string(),
                    })
                    .await;
                return;
            }
        }
    } else {
        None
    };
    loop {
        let (joined, outcome) = session(
            &cfg,
            tls.clone(),
            &mut token,
            &mut out_rx,
            &ev_tx,
            &position,
        )
        .await;
        if joined {
            attempt = 0;
        }
        let reason = match outcome {
            Outcome::AppGone => return,
            Outcome::Fatal(code, reason) => {
                let _ = ev_tx.send(ClientEvent::Stopped { code, reason }).await;
                return;
            }
            Outcome::Lost(reason) => reason,
        };
        let retry_in = backoff(cfg.backoff_min, cfg.backoff_max, attempt, &mut rng);
        attempt = attempt.saturating_add(1);
        tracing::debug!(%reason, ?retry_in, "room connection lost");
        if ev_tx
            .send(ClientEvent::Disconnected { reason, retry_in })
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(retry_in).await;
    }
}

fn is_fatal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Banned
            | ErrorCode::RoomClosed
            | ErrorCode::Unauthorized
            | ErrorCode::TokenExpired
    )
}

/// The upgrade request: the URL, and the token as `Authorization: Bearer` too, so that a
/// host's connection can open its room (the server creates a room only for its host).
fn upgrade_request(
    url: &str,
    token: Option<&str>,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(v) = token.and_then(|t| format!("Bearer {t}").parse().ok()) {
        req.headers_mut().insert("authorization", v);
    }
    Ok(req)
}

/// A failed connect, said plainly: an HTTP refusal carries the server's reason.
fn connect_error(e: tokio_tungstenite::tungstenite::Error) -> String {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(res) => {
            let body = res
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default();
            format!("connect: HTTP {}: {body}", res.status())
        }
        e => format!("connect: {e}"),
    }
}

async fn session(
    cfg: &ClientConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: &mut Option<String>,
    out_rx: &mut mpsc::Receiver<ClientMsg>,
    ev_tx: &mpsc::Sender<ClientEvent>,
    position: &Arc<Mutex<Option<ResumePoint>>>,
) -> (bool, Outcome) {
    let req = match upgrade_request(&cfg.url, token.as_deref()) {
        Ok(r) => r,
        Err(e) => return (false, Outcome::Lost(format!("connect: {e}"))),
    };
    let connector = tls.map(tokio_tungstenite::Connector::Rustls);
    let ws =
        match tokio_tungstenite::connect_async_tls_with_config(req, None, true, connector).await {
            Ok((ws, _)) => ws,
            Err(e) => return (false, Outcome::Lost(connect_error(e))),
        };
    let (mut sink, mut stream) = ws.split();
    let resume = *position.lock().unwrap_or_else(|e| e.into_inner());
    let hello = ClientMsg::Hello {
        token: token.clone(),
        nickname: if token.is_none() {
            cfg.nickname.clone()
        } else {
            None
        },
        resume,
        batch: true,
    };
    let hello = serde_json::to_string(&hello).unwrap_or_default();
    if let Err(e) = sink.send(Message::Text(hello.into())).await {
        return (false, Outcome::Lost(format!("send: {e}")));
    }
    let mut joined = false;
    let mut epoch = 0u64;
    let mut seq = 0u64;
    let mut welcome_seq = 0u64;
    let mut fatal: Option<(ErrorCode, String)> = None;
    let set_pos = |epoch: u64, seq: u64| {
        *position.lock().unwrap_or_else(|e| e.into_inner()) = Some(ResumePoint { epoch, seq });
    };
    macro_rules! emit {
        ($ev:expr) => {
            if ev_tx.send($ev).await.is_err() {
                return (joined, Outcome::AppGone);
            }
        };
    }
    loop {
        tokio::select! {
            m = stream.next() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(frame))) => {
                        let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                        return match fatal {
                            Some((code, r)) => (joined, Outcome::Fatal(code, r)),
                            None => (joined, Outcome::Lost(format!("closed by server: {reason}"))),
                        };
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return (joined, Outcome::Lost(e.to_string())),
                    None => {
                        return match fatal {
                            Some((code, r)) => (joined, Outcome::Fatal(code, r)),
                            None => (joined, Outcome::Lost("connection ended".into())),
                        };
                    }
                };
                let msg = match decode_server(&text, MAX_SERVER_FRAME) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable server frame");
                        continue;
                    }
                };
                // A `batch` frame holds what would have been several frames, in order.
                let msgs = match msg {
                    ServerMsg::Control(Control::Batch { messages }) => messages,
                    one => vec![one],
                };
                for msg in msgs {
                    match msg {
                        ServerMsg::Event(e) => {
                            if !joined || e.epoch != epoch || e.seq <= seq {
                                continue; // duplicate or stale
                            }
                            if e.seq != seq + 1 {
                                return (joined, Outcome::Lost(format!("gap: expected seq {}, got {}", seq + 1, e.seq)));
                            }
                            seq = e.seq;
                            set_pos(epoch, seq);
                            emit!(ClientEvent::Event(e));
                        }
                        ServerMsg::Control(Control::Welcome { epoch: ep, seq: s, user, token: issued, view, .. }) => {
                            if let Some(t) = issued {
                                *token = Some(t);
                            }
                            joined = true;
                            epoch = ep;
                            welcome_seq = s;
                            // Replay or history comes next and brings us to `s`.
                            seq = resume.filter(|r| r.epoch == ep).map_or(s, |r| r.seq.min(s));
                            emit!(ClientEvent::Joined { user, epoch: ep, seq: s, view });
                            if resume.is_none() {
                                seq = s;
                                set_pos(epoch, seq);
                            }
                        }
                        ServerMsg::Control(Control::Replay { events, .. }) => {
                            for e in events {
                                if e.seq > seq {
                                    seq = e.seq;
                                    emit!(ClientEvent::Event(e));
                                }
                            }
                            set_pos(epoch, seq);
                        }
                        ServerMsg::Control(Control::NotRecoverable { reason, .. }) => {
                            emit!(ClientEvent::NotRecoverable { reason });
                        }
                        ServerMsg::Control(Control::History { events, .. }) => {
                            // History ends at the welcome's seq: continue from there.
                            seq = welcome_seq;
                            set_pos(epoch, seq);
                            emit!(ClientEvent::History(events));
                        }
                        ServerMsg::Control(Control::Error { code, message, key }) => {
                            if is_fatal(code) {
                                fatal = Some((code, message.clone()));
                                if !joined {
                                    let _ = sink.close().await;
                                    return (false, Outcome::Fatal(code, message));
                                }
                            }
                            emit!(ClientEvent::Control(Control::Error { code, message, key }));
                        }
                        ServerMsg::Control(c) => emit!(ClientEvent::Control(c)),
                    }
                }
            }
            msg = out_rx.recv(), if joined => {
                let Some(msg) = msg else {
                    let _ = sink.close().await;
                    return (joined, Outcome::AppGone);
                };
                let text = serde_json::to_string(&msg).unwrap_or_default();
                if let Err(e) = sink.send(Message::Text(text.into())).await {
                    return (joined, Outcome::Lost(format!("send: {e}")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut rng = fastrand::Rng::with_seed(1);
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(10));
        for attempt in 0..40 {
            let cap = (min * 2u32.saturating_pow(attempt.min(20))).min(max);
            let d = backoff(min, max, attempt, &mut rng);
            assert!(d >= cap / 2 && d <= cap, "{attempt}: {d:?} vs {cap:?}");
        }
        let a: Vec<Duration> = (0..10).map(|_| backoff(min, max, 6, &mut rng)).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]), "jittered");
    }

    #[test]
    fn page_urls_become_websocket_urls() {
        assert_eq!(ws_url("http://h:1/room/r"), "ws://h:1/room/r/ws");
        assert_eq!(ws_url("https://h/room/r/"), "wss://h/room/r/ws");
        assert_eq!(ws_url("ws://h/room/r/ws"), "ws://h/room/r/ws");
    }
}
