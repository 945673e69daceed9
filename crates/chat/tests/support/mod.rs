//! Local servers speaking the platforms' protocols, for the adapters to connect to.
#![allow(dead_code)]

pub mod bili_open;
pub mod twitch_api;
pub mod youtube_api;
pub mod youtube_grpc;

use futures_util::{SinkExt, StreamExt};
use marquee_chat::{ChatEvent, ChatHandle, DriverConfig, EventBody, SourceState};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = WebSocketStream<TcpStream>;

/// A WebSocket server on a free loopback port: its `ws://` URL and its accepted connections.
pub async fn ws_server() -> (String, mpsc::Receiver<Ws>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/sub", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await
                && tx.send(ws).await.is_err()
            {
                return;
            }
        }
    });
    (url, rx)
}

/// The next connection, failing the test after 10 s.
pub async fn accept(rx: &mut mpsc::Receiver<Ws>) -> Ws {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the adapter connects within 10 s")
        .expect("server running")
}

/// The next binary or text message from the client (pings skipped).
pub async fn next_msg(ws: &mut Ws) -> Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the adapter sends within 10 s")
            .expect("connection open")
            .expect("a valid frame");
        if matches!(m, Message::Binary(_) | Message::Text(_) | Message::Close(_)) {
            return m;
        }
    }
}

pub async fn send_bin(ws: &mut Ws, b: Vec<u8>) {
    ws.send(Message::Binary(b.into())).await.unwrap();
}

pub async fn send_text(ws: &mut Ws, t: &str) {
    ws.send(Message::Text(t.to_string().into())).await.unwrap();
}

/// Quick reconnects for tests.
pub fn fast() -> DriverConfig {
    DriverConfig {
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..DriverConfig::default()
    }
}

/// The next event that is not a popularity tick, within 10 s.
pub async fn next_event(h: &mut ChatHandle) -> ChatEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), h.recv())
            .await
            .expect("an event within 10 s")
            .expect("the source is running");
        if !matches!(ev.body, EventBody::Popularity { .. }) {
            return ev;
        }
    }
}

/// Events until (and including) the first that `stop` accepts.
pub async fn events_until(h: &mut ChatHandle, stop: impl Fn(&EventBody) -> bool) -> Vec<EventBody> {
    let mut out = Vec::new();
    loop {
        let ev = next_event(h).await;
        let done = stop(&ev.body);
        out.push(ev.body);
        if done {
            return out;
        }
    }
}

/// The reason a source gives when it fails for good (every event until then is read).
pub async fn failure(h: &mut ChatHandle) -> String {
    let evs = events_until(h, |b| {
        is_state(b, |s| matches!(s, SourceState::Failed { .. }))
    })
    .await;
    match evs.last() {
        Some(EventBody::State(SourceState::Failed { reason })) => reason.clone(),
        _ => unreachable!(),
    }
}

pub fn is_state(b: &EventBody, want: fn(&SourceState) -> bool) -> bool {
    matches!(b, EventBody::State(s) if want(s))
}

/// The bearer token of a request's (lower-cased) head, or "".
pub fn bearer(head: &str) -> String {
    (head.lines())
        .find_map(|l| l.strip_prefix("authorization: bearer "))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The head, lower-cased.
    pub head: String,
    /// The head as sent.
    pub raw_head: String,
    pub body: String,
}

/// A one-request-per-connection HTTP/1.1 server: `handler(path_and_query)` gives the status
/// and JSON body. Every request's path is sent on the returned channel.
pub async fn http_server(
    handler: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (String, mpsc::UnboundedReceiver<String>) {
    let (base, mut requests) = http_server_with(move |r| handler(&r.path)).await;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(r) = requests.recv().await {
            let _ = tx.send(r.path);
        }
    });
    (base, rx)
}

/// Like [`http_server`], for requests with a method, headers and a body (read to its
/// Content-Length): the handler and the channel get the whole request.
pub async fn http_server_with(
    handler: impl Fn(&HttpRequest) -> (u16, String) + Send + Sync + 'static,
) -> (String, mpsc::UnboundedReceiver<HttpRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = std::sync::Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let handler = handler.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 1024];
                let head_end = loop {
                    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
                let length: usize = (head.lines())
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while data.len() < head_end + length {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let first = String::from_utf8_lossy(&data[..head_end]).to_string();
                let mut words = first.split(' ');
                let req = HttpRequest {
                    method: words.next().unwrap_or("").to_string(),
                    path: words.next().unwrap_or("/").to_string(),
                    head,
                    raw_head: first.clone(),
                    body: String::from_utf8_lossy(&data[head_end..head_end + length]).to_string(),
                };
                let (status, body) = handler(&req);
                let _ = tx.send(req);
                let reason = if status == 200 { "OK" } else { "Error" };
                let resp = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(resp.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (base, rx)
}
