//! What the socket suites share: a temporary directory, tokens, a server with test limits, and
//! clients that wait for what they expect.
// Test code: a failed unwrap is a failed test. Not every suite uses every helper.
#![allow(clippy::unwrap_used, dead_code)]

use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{Control, Event, Role, ServerMsg};
use marquee_room::server::{ServerConfig, ServerHandle, start};
use marquee_room::token::{self, Claims};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

pub const SECRET: &[u8] = b"socket-test-secret-0123456789";
pub const ROOM: &str = "demo";

pub struct TempDir(pub PathBuf);
impl TempDir {
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mq-room-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server on 127.0.0.1 with its database in `db`, limits as high as tests need unless
/// `tune` says otherwise.
pub fn config(db: &TempDir) -> ServerConfig {
    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        SECRET.to_vec(),
    );
    cfg.db = Some(db.0.join("room.db"));
    cfg.tune = Some(Arc::new(|c| {
        c.conn_rate_per_s = 5_000.0;
        c.conn_burst = 5_000.0;
        c.user_rate_per_s = 5_000.0;
        c.user_burst = 5_000.0;
        c.gift_rate_per_s = 5_000.0;
        c.gift_burst = 5_000.0;
    }));
    cfg
}

pub async fn server(cfg: ServerConfig) -> ServerHandle {
    start(cfg).await.unwrap()
}

pub fn tok(user: &str, role: Role) -> String {
    token::sign(
        SECRET,
        &Claims {
            room: ROOM.into(),
            user: user.into(),
            name: user.into(),
            role,
            exp_ms: marquee_room::now_ms() + 3_600_000,
        },
    )
}

pub fn client(h: &ServerHandle, user: &str, role: Role) -> RoomClient {
    let mut cfg = ClientConfig::new(h.ws_url(ROOM)).token(tok(user, role));
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(200);
    RoomClient::connect(cfg)
}

/// The next event of the client, or a panic after 15 s.
pub async fn next(c: &mut RoomClient) -> ClientEvent {
    timeout(Duration::from_secs(15), c.recv())
        .await
        .expect("an event in time")
        .expect("client alive")
}

pub async fn joined(c: &mut RoomClient) {
    loop {
        match next(c).await {
            ClientEvent::Joined { .. } => return,
            ClientEvent::Stopped { code, reason } => panic!("{code}: {reason}"),
            _ => {}
        }
    }
}

/// Wait for the first room event `pick` accepts.
pub async fn until_event<T>(c: &mut RoomClient, pick: impl Fn(&Event) -> Option<T>) -> T {
    loop {
        if let ClientEvent::Event(e) = next(c).await
            && let Some(t) = pick(&e)
        {
            return t;
        }
    }
}

/// Wait for the first control message `pick` accepts.
pub async fn until_control<T>(c: &mut RoomClient, pick: impl Fn(&Control) -> Option<T>) -> T {
    loop {
        if let ClientEvent::Control(m) = next(c).await
            && let Some(t) = pick(&m)
        {
            return t;
        }
    }
}

pub type Raw =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare socket that sent `hello` and got its `welcome` (or the error that refused it).
pub async fn raw_join(
    h: &ServerHandle,
    hello: serde_json::Value,
) -> Result<(Raw, Control), marquee_room::protocol::ErrorCode> {
    use futures_util::SinkExt;
    let (mut ws, _) = tokio_tungstenite::connect_async(h.ws_url(ROOM))
        .await
        .unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        hello.to_string().into(),
    ))
    .await
    .unwrap();
    loop {
        match raw_next(&mut ws).await {
            Some(ServerMsg::Control(w @ Control::Welcome { .. })) => return Ok((ws, w)),
            Some(ServerMsg::Control(Control::Error { code, .. })) => return Err(code),
            Some(_) => {}
            None => panic!("closed before the welcome"),
        }
    }
}

/// The next message on a bare socket (each element of a `batch` frame on its own is left to
/// the caller), or `None` once it is closed; a panic after 15 s of silence.
pub async fn raw_next(ws: &mut Raw) -> Option<ServerMsg> {
    use futures_util::StreamExt;
    loop {
        let m = timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a frame in time");
        match m {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                return Some(serde_json::from_str(&t).unwrap());
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | Some(Err(_)) | None => {
                return None;
            }
            Some(Ok(_)) => {}
        }
    }
}

pub async fn raw_send(ws: &mut Raw, msg: serde_json::Value) {
    use futures_util::SinkExt;
    let _ = ws
        .send(tokio_tungstenite::tungstenite::Message::Text(
            msg.to_string().into(),
        ))
        .await;
}
