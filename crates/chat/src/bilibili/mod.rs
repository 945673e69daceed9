//! bilibili live danmaku over the web client's WebSocket protocol, read anonymously by room id.
//!
//! On connect: an auth packet (operation 7) `{"uid":0,"roomid":ID,"protover":3,"platform":"web",
//! "type":2}`; the server answers 8 (`{"code":0}`), then pushes operation 5 messages (batches
//! in brotli, protocol version 3). A heartbeat (operation 2) every 30 s keeps the connection;
//! its reply (3) carries the popularity number. Without a login bilibili masks the other
//! viewers: names arrive as "张***", uids as 0, and it says so once with LOG_IN_NOTICE.

mod commands;
pub mod discover;
mod long;
pub mod open;
pub mod packet;
pub mod wbi;

use crate::event::{ChatEvent, EventBody, Platform, SourceState};
use crate::source::{ChatSource, Input, Output, Transport};
use long::LongConnection;
use packet::Packet;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The public danmaku server; the room's own host list comes from getDanmuInfo.
pub const DEFAULT_URL: &str = "wss://broadcastlv.chat.bilibili.com/sub";

/// One room to read.
#[derive(Debug, Clone)]
pub struct BilibiliConfig {
    /// The real (long) room id.
    pub room_id: u64,
    /// The WebSocket endpoint (`wss://…/sub`).
    pub url: String,
    /// The auth token from getDanmuInfo, when discovery ran (`key` in the auth packet).
    pub token: Option<String>,
    /// The visitor's device id (`buvid3`) discovery was given, sent as the web client does.
    pub buvid: Option<String>,
    pub heartbeat: Duration,
    /// No auth reply within this: reconnect.
    pub auth_timeout: Duration,
    /// Nothing at all received for this long (two missed heartbeat replies): reconnect.
    pub silence_timeout: Duration,
}

impl BilibiliConfig {
    pub fn new(room_id: u64) -> Self {
        Self {
            room_id,
            url: DEFAULT_URL.into(),
            token: None,
            buvid: None,
            heartbeat: Duration::from_secs(30),
            auth_timeout: Duration::from_secs(10),
            silence_timeout: Duration::from_secs(70),
        }
    }
}

/// The sans-IO bilibili adapter.
#[derive(Debug)]
pub struct Bilibili {
    cfg: BilibiliConfig,
    conn: LongConnection,
    out: VecDeque<Output>,
    /// Ended: nothing more until the next `connected`.
    closed: bool,
}

impl Bilibili {
    pub fn new(cfg: BilibiliConfig) -> Self {
        // What the web client sends as the heartbeat body.
        let conn = LongConnection::new(
            "bilibili",
            b"[object Object]",
            cfg.heartbeat,
            cfg.auth_timeout,
            cfg.silence_timeout,
        );
        Self {
            cfg,
            conn,
            out: VecDeque::new(),
            closed: true,
        }
    }

    /// The auth packet body: anonymous (uid 0) unless a token came from discovery.
    pub fn auth_body(&self) -> String {
        let mut v = serde_json::json!({
            "uid": 0,
            "roomid": self.cfg.room_id,
            "protover": 3,
            "platform": "web",
            "type": 2,
        });
        if let Some(t) = &self.cfg.token {
            v["key"] = t.clone().into();
        }
        if let Some(b) = &self.cfg.buvid {
            v["buvid"] = b.clone().into();
        }
        v.to_string()
    }

    fn event(&mut self, body: EventBody) {
        self.out
            .push_back(Output::Event(ChatEvent::new(Platform::Bilibili, body)));
    }

    fn end(&mut self, o: Output) {
        self.closed = true;
        self.conn.close();
        self.out.push_back(o);
    }

    fn packet(&mut self, now: Instant, p: Packet) {
        match p.op {
            packet::OP_AUTH_REPLY => match self.conn.auth_reply(now, &p.body) {
                Err(code) => self.end(Output::Fail(format!(
                    "bilibili refused to join room {} (auth code {code}): check the room id \
                     (the real, long id from the room page) or connect again later",
                    self.cfg.room_id
                ))),
                Ok(true) => self.event(EventBody::State(SourceState::Live)),
                Ok(false) => {}
            },
            packet::OP_HEARTBEAT_REPLY => {
                if let Some(b) = p.body.get(..4) {
                    let value = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
                    self.event(EventBody::Popularity { value });
                }
            }
            packet::OP_MESSAGE => {
                let mut bodies = Vec::new();
                // A plain body may hold several JSON objects back to back.
                for v in
                    serde_json::Deserializer::from_slice(&p.body).into_iter::<serde_json::Value>()
                {
                    match v {
                        Ok(v) => commands::events(&v, &mut bodies),
                        Err(_) => break,
                    }
                }
                for b in bodies {
                    self.event(b);
                }
            }
            _ => {}
        }
    }
}

impl ChatSource for Bilibili {
    fn platform(&self) -> Platform {
        Platform::Bilibili
    }

    fn transport(&self) -> Transport {
        Transport::WebSocket {
            url: self.cfg.url.clone(),
        }
    }

    fn connected(&mut self, now: Instant) {
        self.closed = false;
        let auth = self.conn.open(now, self.auth_body().as_bytes());
        self.out.push_back(auth);
    }

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.closed {
            return;
        }
        let data = match input {
            Input::Binary(b) => b,
            Input::Text(t) => t.as_bytes(),
            Input::Http { .. } | Input::GrpcMessage(_) | Input::GrpcEnd { .. } => return,
        };
        let mut packets = Vec::new();
        let broken = self.conn.receive(now, data, &mut packets);
        for p in packets {
            self.packet(now, p);
            if self.closed {
                return;
            }
        }
        if let Some(o) = broken {
            self.end(o);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        match self.conn.timeout(now) {
            Some(o @ Output::Reconnect(_)) => self.end(o),
            Some(o) => self.out.push_back(o),
            None => {}
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }
}
