//! The thin I/O around a [`ChatSource`]: one tokio task per source that opens the WebSocket
//! (or makes the HTTP polls), feeds the protocol core bytes and time, sends what it asks,
//! reconnects with jittered exponential backoff, and hands events to a bounded queue.

use crate::event::{ChatEvent, EventBody, Platform, SourceState};
use crate::queue::{self, ChatEvents, EventSender, QueueStats};
use crate::source::{ChatSource, HttpRequest, Input, Output, Transport};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Events held for a slow reader before chat lines are dropped (and counted).
    pub queue: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Connecting (TCP, TLS, WebSocket upgrade) or one HTTP request may take this long.
    pub connect_timeout: Duration,
    /// The largest WebSocket message or HTTP body accepted.
    pub max_message: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            queue: 4096,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            max_message: 4 << 20,
        }
    }
}

/// A running source. Dropping it stops the source.
#[derive(Debug)]
pub struct ChatHandle {
    events: ChatEvents,
    task: JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ChatHandle {
    pub fn platform(&self) -> Platform {
        self.events.platform()
    }

    /// The next event; None once the source has failed for good and everything was read.
    pub async fn recv(&mut self) -> Option<ChatEvent> {
        self.events.recv().await
    }

    pub fn try_recv(&mut self) -> Option<ChatEvent> {
        self.events.try_recv()
    }

    pub fn stats(&self) -> QueueStats {
        self.events.stats()
    }

    pub fn stop(self) {}

    /// Stops the source and lets it say goodbye (bilibili's open platform ends its session
    /// so the next start is not refused), waiting at most `within` for it.
    pub async fn shutdown(mut self, within: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(within, &mut self.task).await;
    }
}

impl Drop for ChatHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts `source` on the current tokio runtime.
pub fn spawn(source: Box<dyn ChatSource>, cfg: DriverConfig) -> ChatHandle {
    let (tx, events) = queue::bounded(source.platform(), cfg.queue);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(run(source, cfg, tx, stopped));
    ChatHandle {
        events,
        task,
        stop: Some(stop),
    }
}

/// Half to all of `min·2^(attempt-1)`, capped at `max`: reconnecting sources spread out.
pub fn backoff(min: Duration, max: Duration, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
    let exp = min.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let full = exp.min(max).max(Duration::from_millis(1));
    let half = full / 2;
    half + Duration::from_micros(rng.u64(..=half.as_micros().min(u64::MAX as u128) as u64))
}

enum End {
    /// Try again after a backoff.
    Lost(String),
    /// Stop for good.
    Failed(String),
}

struct Session<'a> {
    src: &'a mut dyn ChatSource,
    tx: &'a EventSender,
    platform: Platform,
    went_live: bool,
}

impl Session<'_> {
    fn event(&mut self, ev: ChatEvent) {
        if matches!(ev.body, EventBody::State(SourceState::Live)) {
            self.went_live = true;
        }
        self.tx.push(ev);
    }
}

async fn run(
    mut source: Box<dyn ChatSource>,
    cfg: DriverConfig,
    tx: EventSender,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let platform = source.platform();
    let tls = match crate::tls::client_config() {
        Ok(t) => t,
        Err(e) => {
            fail(&tx, platform, format!("{platform}: {e}"));
            return;
        }
    };
    tx.push(ChatEvent::new(
        platform,
        EventBody::State(SourceState::Connecting),
    ));
    let stop = tokio::select! {
        _ = sessions(source.as_mut(), &cfg, &tx, &tls) => false,
        asked = stopped => asked.is_ok(),
    };
    if stop {
        farewell(source.as_mut(), &cfg, &tls, &tx).await;
    }
}

/// The source's last words after [`ChatSource::stop`]: its HTTP requests, a few at most.
async fn farewell(
    src: &mut dyn ChatSource,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
    tx: &EventSender,
) {
    src.stop(Instant::now());
    let mut requests = 0;
    while let Some(o) = src.poll_output() {
        match o {
            Output::Event(e) => tx.push(e),
            Output::HttpPost(req) if requests < 4 => {
                requests += 1;
                post(src, req, cfg, tls).await;
            }
            _ => {}
        }
    }
}

/// Sends `req` and hands the answer (or why there is none, as status 0) to the source.
async fn post(
    src: &mut dyn ChatSource,
    req: HttpRequest,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
) {
    let request = crate::http::Request {
        method: hyper::Method::POST,
        headers: req.headers,
        body: req.body,
    };
    let answer = crate::http::send(
        &req.url,
        request,
        Some(tls),
        cfg.max_message,
        cfg.connect_timeout,
    )
    .await;
    let (status, body) = answer.unwrap_or_else(|e| (0, e.into_bytes()));
    src.handle_input(
        Instant::now(),
        Input::Http {
            status,
            body: &body,
        },
    );
}

async fn sessions(
    source: &mut dyn ChatSource,
    cfg: &DriverConfig,
    tx: &EventSender,
    tls: &Arc<rustls::ClientConfig>,
) {
    let platform = source.platform();
    let mut rng = fastrand::Rng::new();
    let mut attempt = 0u32;
    loop {
        let mut s = Session {
            src: &mut *source,
            tx,
            platform,
            went_live: false,
        };
        let end = match s.src.transport() {
            Transport::WebSocket { url } => ws_session(&mut s, &url, cfg, tls).await,
            Transport::HttpPoll => http_session(&mut s, cfg, tls).await,
        };
        let went_live = s.went_live;
        let reason = match end {
            End::Failed(reason) => return fail(tx, platform, reason),
            End::Lost(reason) => reason,
        };
        source.disconnected(Instant::now());
        if went_live {
            attempt = 0;
        }
        attempt = attempt.saturating_add(1);
        let wait = backoff(cfg.backoff_min, cfg.backoff_max, attempt, &mut rng);
        tracing::debug!(%platform, %reason, ?wait, "chat source lost");
        tx.push(ChatEvent::new(
            platform,
            EventBody::State(SourceState::reconnecting(attempt, wait, reason)),
        ));
        let mut s = Session {
            src: &mut *source,
            tx,
            platform,
            went_live: false,
        };
        between_sessions(&mut s, wait, cfg, tls).await;
    }
}

/// The backoff before the next connection, still serving the source's own timers: bilibili's
/// open platform ends a session whose heartbeats (HTTP, every 20 s) stop, and a backoff lasts
/// up to a minute. Only events and HTTP requests go out (nothing is connected to send on; a
/// source's reconnect or failure waits for the next session to be said again). A source whose
/// timer does not move on when served is left alone for the rest of the wait.
async fn between_sessions(
    s: &mut Session<'_>,
    wait: Duration,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
) {
    let until = Instant::now() + wait;
    while let Some(at) = s.src.poll_timeout().filter(|&at| at < until) {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        s.src.handle_timeout(Instant::now());
        while let Some(o) = s.src.poll_output() {
            match o {
                Output::Event(e) => s.event(e),
                Output::HttpPost(req) => post(&mut *s.src, req, cfg, tls).await,
                _ => {}
            }
        }
        if s.src.poll_timeout().is_some_and(|next| next <= at) {
            break;
        }
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
}

fn fail(tx: &EventSender, platform: Platform, reason: String) {
    tx.push(ChatEvent::new(
        platform,
        EventBody::State(SourceState::Failed { reason }),
    ));
    tx.close();
}

/// Sends what the source asks; Some(end) when it asks to reconnect or stop.
async fn drain_ws<S>(
    s: &mut Session<'_>,
    ws: &mut S,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Option<End>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    while let Some(o) = s.src.poll_output() {
        let sent = match o {
            Output::Event(e) => {
                s.event(e);
                Ok(())
            }
            Output::SendBinary(b) => ws.send(Message::Binary(b.into())).await,
            Output::SendText(t) => ws.send(Message::Text(t.into())).await,
            Output::HttpPost(req) => {
                post(&mut *s.src, req, cfg, tls).await;
                Ok(())
            }
            Output::HttpGet(_) | Output::Connect(_) | Output::GrpcCall(_) => Ok(()),
            Output::Reconnect(r) => return Some(End::Lost(r)),
            Output::Fail(r) => return Some(End::Failed(r)),
        };
        if let Err(e) = sent {
            return Some(End::Lost(format!("{}: send failed: {e}", s.platform)));
        }
    }
    None
}

fn connect_error(platform: Platform, e: tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(res) => format!(
            "{platform} refused the WebSocket upgrade (HTTP {})",
            res.status()
        ),
        e => format!("{platform}: cannot connect: {e}"),
    }
}

async fn ws_session(
    s: &mut Session<'_>,
    url: &str,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> End {
    let platform = s.platform;
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(cfg.max_message))
        .max_frame_size(Some(cfg.max_message));
    let connector = url
        .starts_with("wss://")
        .then(|| tokio_tungstenite::Connector::Rustls(tls.clone()));
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(ws_cfg), false, connector);
    let mut ws = match tokio::time::timeout(cfg.connect_timeout, connect).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            // A malformed endpoint can never work.
            if matches!(e, tokio_tungstenite::tungstenite::Error::Url(_)) {
                return End::Failed(format!(
                    "{platform}: the endpoint '{url}' is not usable: {e}"
                ));
            }
            return End::Lost(connect_error(platform, e));
        }
        Err(_) => {
            return End::Lost(format!(
                "{platform}: no connection within {} s",
                cfg.connect_timeout.as_secs()
            ));
        }
    };
    s.src.connected(Instant::now());
    loop {
        if let Some(end) = drain_ws(s, &mut ws, cfg, tls).await {
            let _ = ws.close(None).await;
            return end;
        }
        let wake = s.src.poll_timeout();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = ws.next() => {
                let now = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(b))) => s.src.handle_input(now, Input::Binary(&b)),
                    Some(Ok(Message::Text(t))) => s.src.handle_input(now, Input::Text(t.as_str())),
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame
                            .map(|f| format!(" ({} {})", u16::from(f.code), f.reason))
                            .unwrap_or_default();
                        return End::Lost(format!("{platform} closed the connection{why}"));
                    }
                    // Pings are answered by tungstenite on the next write; flush it now.
                    Some(Ok(_)) => {
                        let _ = ws.flush().await;
                    }
                    Some(Err(e)) => return End::Lost(format!("{platform}: connection lost: {e}")),
                    None => return End::Lost(format!("{platform} closed the connection")),
                }
            }
            _ = sleep => s.src.handle_timeout(Instant::now()),
        }
    }
}

async fn http_session(
    s: &mut Session<'_>,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> End {
    let platform = s.platform;
    s.src.connected(Instant::now());
    loop {
        while let Some(o) = s.src.poll_output() {
            match o {
                Output::Event(e) => s.event(e),
                Output::HttpGet(url) => {
                    match crate::http::get(&url, Some(tls), cfg.max_message, cfg.connect_timeout)
                        .await
                    {
                        Ok((status, body)) => s.src.handle_input(
                            Instant::now(),
                            Input::Http {
                                status,
                                body: &body,
                            },
                        ),
                        Err(e) => return End::Lost(format!("{platform}: {e}")),
                    }
                }
                Output::HttpPost(req) => post(&mut *s.src, req, cfg, tls).await,
                Output::GrpcCall(call) => {
                    if let Some(end) = grpc_call(s, &call, cfg, tls).await {
                        return end;
                    }
                }
                Output::Connect(url) => return ws_session(s, &url, cfg, tls).await,
                Output::SendBinary(_) | Output::SendText(_) => {}
                Output::Reconnect(r) => return End::Lost(r),
                Output::Fail(r) => return End::Failed(r),
            }
        }
        match s.src.poll_timeout() {
            Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
            None => return End::Lost(format!("{platform}: the source stalled")),
        }
        s.src.handle_timeout(Instant::now());
    }
}

/// Runs a gRPC call, feeding its messages to the source and acting on what it says after each
/// (events at once: a streamed chat line reaches the panel as it arrives); Some(end) when the
/// source asks to reconnect or stop.
async fn grpc_call(
    s: &mut Session<'_>,
    call: &crate::source::GrpcCall,
    cfg: &DriverConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Option<End> {
    let mut end = None;
    let status = crate::grpc_io::run(call, tls, cfg.max_message, cfg.connect_timeout, |m| {
        s.src.handle_input(Instant::now(), Input::GrpcMessage(m));
        end = drain_during_call(s);
        if end.is_some() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .await;
    if let Some((code, message)) = status {
        s.src.handle_input(
            Instant::now(),
            Input::GrpcEnd {
                code,
                message: &message,
            },
        );
    }
    end
}

fn drain_during_call(s: &mut Session<'_>) -> Option<End> {
    while let Some(o) = s.src.poll_output() {
        match o {
            Output::Event(e) => s.event(e),
            Output::Reconnect(r) => return Some(End::Lost(r)),
            Output::Fail(r) => return Some(End::Failed(r)),
            other => tracing::debug!(platform = %s.platform, ?other, "ignored during a gRPC call"),
        }
    }
    None
}
