//! bilibili live danmaku over the web client's WebSocket protocol, read anonymously by room id.
//!
//! On connect: an auth packet (operation 7) `{"uid":0,"roomid":ID,"protover":3,"platform":"web",
//! "type":2}`; the server answers 8 (`{"code":0}`), then pushes operation 5 messages (batches
//! in brotli, protocol version 3). A heartbeat (operation 2) every 30 s keeps the connection;
//! its reply (3) carries the popularity number. Without a login bilibili masks the other
//! viewers: names arrive as "张***", uids as 0, and it says so once with LOG_IN_NOTICE.

mod commands;
pub mod discover;
pub mod open;
pub mod packet;

use crate::event::{ChatEvent, EventBody, Platform, SourceState};
use crate::source::{ChatSource, Input, Output, Transport};
use packet::{Packet, Reassembler};
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
    reasm: Reassembler,
    out: VecDeque<Output>,
    authed: bool,
    auth_deadline: Option<Instant>,
    next_heartbeat: Option<Instant>,
    silence_deadline: Option<Instant>,
    /// Ended: nothing more until the next `connected`.
    closed: bool,
}

impl Bilibili {
    pub fn new(cfg: BilibiliConfig) -> Self {
        Self {
            cfg,
            reasm: Reassembler::default(),
            out: VecDeque::new(),
            authed: false,
            auth_deadline: None,
            next_heartbeat: None,
            silence_deadline: None,
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
        v.to_string()
    }

    fn event(&mut self, body: EventBody) {
        self.out
            .push_back(Output::Event(ChatEvent::new(Platform::Bilibili, body)));
    }

    fn end(&mut self, o: Output) {
        self.closed = true;
        self.auth_deadline = None;
        self.next_heartbeat = None;
        self.silence_deadline = None;
        self.out.push_back(o);
    }

    fn packet(&mut self, now: Instant, p: Packet) {
        match p.op {
            packet::OP_AUTH_REPLY => {
                let code = serde_json::from_slice::<serde_json::Value>(&p.body)
                    .ok()
                    .and_then(|v| v.get("code").and_then(|c| c.as_i64()))
                    .unwrap_or(0);
                if code != 0 {
                    return self.end(Output::Fail(format!(
                        "bilibili refused to join room {} (auth code {code}): check the room id \
                         (the real, long id from the room page) or connect again later",
                        self.cfg.room_id
                    )));
                }
                if !self.authed {
                    self.authed = true;
                    self.auth_deadline = None;
                    self.next_heartbeat = Some(now);
                    self.event(EventBody::State(SourceState::Live));
                }
            }
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
        self.reasm.clear();
        self.closed = false;
        self.authed = false;
        let auth = packet::encode(
            packet::VER_INT,
            packet::OP_AUTH,
            self.auth_body().as_bytes(),
        );
        self.out.push_back(Output::SendBinary(auth));
        self.auth_deadline = Some(now + self.cfg.auth_timeout);
        self.next_heartbeat = None;
        self.silence_deadline = Some(now + self.cfg.silence_timeout);
    }

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.closed {
            return;
        }
        let data = match input {
            Input::Binary(b) => b,
            Input::Text(t) => t.as_bytes(),
            Input::Http { .. } => return,
        };
        self.silence_deadline = Some(now + self.cfg.silence_timeout);
        let mut packets = Vec::new();
        let result = self.reasm.push(data, &mut packets);
        for p in packets {
            self.packet(now, p);
            if self.closed {
                return;
            }
        }
        if let Err(e) = result {
            self.end(Output::Reconnect(format!(
                "bilibili sent a packet this client cannot read ({e})"
            )));
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.auth_deadline.is_some_and(|d| now >= d) {
            return self.end(Output::Reconnect(format!(
                "bilibili did not answer the login within {} s",
                self.cfg.auth_timeout.as_secs()
            )));
        }
        if self.silence_deadline.is_some_and(|d| now >= d) {
            return self.end(Output::Reconnect(format!(
                "bilibili sent nothing for {} s",
                self.cfg.silence_timeout.as_secs()
            )));
        }
        if let Some(at) = self.next_heartbeat
            && now >= at
        {
            // What the web client sends as the heartbeat body.
            let hb = packet::encode(packet::VER_INT, packet::OP_HEARTBEAT, b"[object Object]");
            self.out.push_back(Output::SendBinary(hb));
            self.next_heartbeat = Some(now + self.cfg.heartbeat);
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.auth_deadline,
            self.silence_deadline,
            self.next_heartbeat,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
