//! bilibili through the live open platform (直播开放平台) with the streamer's 身份码: viewers'
//! real names and open ids, gifts with their prices, super chats and guards, for the one
//! room the 身份码 belongs to. Per open-live.bilibili.com/document (开放平台 "项目开启/心跳/
//! 关闭" and "长连接"), as implemented by xfgryujk/blivedm `blivedm/clients/open_live.py`:
//!
//! 1. `POST {api}/v2/app/start` `{"code": 身份码, "app_id": N}`, signed ([`sign`]) with the
//!    developer app's key pair → `game_info.game_id`, `websocket_info.auth_body` and
//!    `wss_link` (a list of WebSocket URLs), `anchor_info` (the streamer, the room);
//! 2. `POST /v2/app/heartbeat` `{"game_id"}` every 20 s: bilibili ends a session whose
//!    heartbeats stop (code 7003 afterwards);
//! 3. the long connection: the web protocol's framing ([`super::packet`]) with the
//!    `auth_body` as the body of the auth packet (operation 7), a heartbeat (2) every 30 s,
//!    and `LIVE_OPEN_PLATFORM_*` commands in operation 5 ([`commands`]);
//! 4. `POST /v2/app/end` `{"game_id", "app_id"}` when the user stops, or the next start in the
//!    room is refused for a while (7002).
//!
//! Sans-IO like the other adapters: the driver sends the [`Output::HttpPost`]s and hands their
//! answers back as [`Input::Http`]; the WebSocket comes from [`Output::Connect`].

pub mod commands;
pub mod sign;

use crate::bilibili::long::LongConnection;
use crate::bilibili::packet::{self, Packet};
use crate::event::{ChatEvent, EventBody, Platform, SourceState};
use crate::source::{ChatSource, HttpRequest, Input, Output, Transport};
use serde_json::Value;
use sign::AccessKey;
use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The open platform's HTTP API.
pub const DEFAULT_API: &str = "https://live-open.biliapi.com";

/// Keychain entries: the developer app's key pair and the streamer's 身份码, per app id.
pub fn keychain_names(app_id: u64) -> [String; 3] {
    [
        format!("bilibili-open-{app_id}-key-id"),
        format!("bilibili-open-{app_id}-key-secret"),
        format!("bilibili-open-{app_id}-code"),
    ]
}

/// One streamer's session through one developer app. Debug never shows the secrets.
#[derive(Clone)]
pub struct OpenConfig {
    /// The developer app's id (项目ID) from the open platform's console; not secret.
    pub app_id: u64,
    pub key: AccessKey,
    /// The streamer's 身份码 (from 直播姬 or the live centre): it starts their session.
    pub code: String,
    /// The HTTP API root (`https://live-open.biliapi.com`).
    pub api: String,
    /// Connect here instead of the `wss_link`s bilibili hands out (a local test server).
    pub ws_url: Option<String>,
    pub game_heartbeat: Duration,
    pub heartbeat: Duration,
    pub auth_timeout: Duration,
    pub silence_timeout: Duration,
    /// Unix seconds for `x-bili-timestamp` (a fixed clock in tests).
    pub clock: fn() -> u64,
}

impl std::fmt::Debug for OpenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenConfig")
            .field("app_id", &self.app_id)
            .field("api", &self.api)
            .field("ws_url", &self.ws_url)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl OpenConfig {
    pub fn new(app_id: u64, key: AccessKey, code: &str) -> Self {
        Self {
            app_id,
            key,
            code: code.trim().to_string(),
            api: DEFAULT_API.into(),
            ws_url: None,
            game_heartbeat: Duration::from_secs(20),
            heartbeat: Duration::from_secs(30),
            auth_timeout: Duration::from_secs(10),
            silence_timeout: Duration::from_secs(70),
            clock: unix_now,
        }
    }
}

/// The session bilibili opened for us.
#[derive(Debug, Clone)]
struct Game {
    /// Empty for apps that are not interactive games: no heartbeat, no end.
    id: String,
    auth_body: String,
    links: Vec<String>,
    next_link: usize,
}

/// Which request an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Start,
    Heartbeat,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between connections: the next `connected` begins a session.
    Idle,
    /// `Connect` was asked: the next `connected` is the WebSocket opening.
    Opening,
    /// The WebSocket is open.
    Open,
    /// Stopped or failed.
    Closed,
}

/// The sans-IO open-platform adapter.
#[derive(Debug)]
pub struct BilibiliOpen {
    cfg: OpenConfig,
    conn: LongConnection,
    out: VecDeque<Output>,
    phase: Phase,
    game: Option<Game>,
    asked: Option<Asked>,
    next_game_heartbeat: Option<Instant>,
}

/// Why the API refused, worded for the streamer, and whether retrying can help.
fn refusal(app_id: u64, code: i64, message: &str) -> (String, bool) {
    let why = match code {
        7007 => {
            return (
                format!(
                    "bilibili open platform refused the 身份码 (code 7007 {message}): copy the \
                     streamer's 身份码 again from 直播姬 or the live centre (直播中心 → 身份码; it \
                     changes when reset) and store it with `marquee chat login bilibili-open \
                     --app-id {app_id}`"
                ),
                false,
            );
        }
        4001 | 4002 | 4005 | 4006 | 4012 => format!(
            "refused the request signature (code {code} {message}): check the access key id \
             and secret stored for app {app_id} (`marquee chat login bilibili-open --app-id \
             {app_id}`) against the open platform's console"
        ),
        4003 => format!(
            "says the request is out of date (code 4003 {message}): set this computer's clock \
             right (within 10 minutes)"
        ),
        4007 => format!(
            "refused this computer's address (code 4007 {message}): add it to app {app_id}'s IP whitelist in the console"
        ),
        4008 | 5004 | 5011 | 8002 => format!(
            "will not let app {app_id} read this room (code {code} {message}): an app that is \
             not online (未上架) may only connect its developer's own room; check the app id \
             and its state in the open platform's console"
        ),
        4009 | 7001 | 7010 => {
            return (
                format!(
                    "bilibili open platform is rate limiting (code {code} {message}); trying again"
                ),
                true,
            );
        }
        7002 => {
            return (
                format!(
                    "bilibili open platform: the room already has a session of app {app_id} \
                     (code 7002 {message}), e.g. one not ended; trying again"
                ),
                true,
            );
        }
        5000..=5003 => {
            return (
                format!(
                    "bilibili open platform had an error (code {code} {message}); trying again"
                ),
                true,
            );
        }
        _ => format!("refused to start (code {code} {message})"),
    };
    (format!("bilibili open platform {why}"), false)
}

impl BilibiliOpen {
    pub fn new(cfg: OpenConfig) -> Self {
        let conn = LongConnection::new(
            "bilibili open platform",
            b"",
            cfg.heartbeat,
            cfg.auth_timeout,
            cfg.silence_timeout,
        );
        Self {
            cfg,
            conn,
            out: VecDeque::new(),
            phase: Phase::Idle,
            game: None,
            asked: None,
            next_game_heartbeat: None,
        }
    }

    /// The game id of the running session, if any.
    pub fn game_id(&self) -> Option<&str> {
        self.game.as_ref().map(|g| g.id.as_str())
    }

    fn event(&mut self, body: EventBody) {
        self.out
            .push_back(Output::Event(ChatEvent::new(Platform::Bilibili, body)));
    }

    fn request(&mut self, asked: Asked, path: &str, body: Value) {
        let body = body.to_string().into_bytes();
        let nonce = format!("{:016x}", fastrand::u64(..));
        let headers = sign::headers(&self.cfg.key, &body, (self.cfg.clock)(), &nonce);
        self.asked = Some(asked);
        self.out.push_back(Output::HttpPost(HttpRequest {
            url: format!("{}{path}", self.cfg.api.trim_end_matches('/')),
            headers,
            body,
        }));
    }

    fn end(&mut self, o: Output) {
        if matches!(o, Output::Fail(_)) {
            self.phase = Phase::Closed;
            self.next_game_heartbeat = None;
        }
        self.conn.close();
        self.out.push_back(o);
    }

    fn connect_next(&mut self) {
        let Some(g) = self.game.as_mut() else {
            return;
        };
        let url = match &self.cfg.ws_url {
            Some(u) => u.clone(),
            None => {
                let u = g.links[g.next_link % g.links.len()].clone();
                g.next_link = g.next_link.wrapping_add(1);
                u
            }
        };
        self.phase = Phase::Opening;
        self.out.push_back(Output::Connect(url));
    }

    fn started(&mut self, now: Instant, status: u16, body: &[u8]) {
        if status == 0 {
            let why = String::from_utf8_lossy(body).into_owned();
            return self.end(Output::Reconnect(format!(
                "bilibili open platform: cannot reach the API: {why}"
            )));
        }
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = v["code"].as_i64();
        if status != 200 || code.is_none() {
            return self.end(Output::Reconnect(format!(
                "bilibili open platform answered the start with HTTP {status} and no code; \
                 trying again"
            )));
        }
        let code = code.unwrap_or(-1);
        if code != 0 {
            let message = v["message"].as_str().unwrap_or("");
            let (why, retry) = refusal(self.cfg.app_id, code, message);
            return self.end(if retry {
                Output::Reconnect(why)
            } else {
                Output::Fail(why)
            });
        }
        let d = &v["data"];
        let links: Vec<String> = d["websocket_info"]["wss_link"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .take(16)
                    .collect()
            })
            .unwrap_or_default();
        let auth_body = d["websocket_info"]["auth_body"].as_str().unwrap_or("");
        if auth_body.is_empty() || (links.is_empty() && self.cfg.ws_url.is_none()) {
            return self.end(Output::Reconnect(
                "bilibili open platform's start answer has no long-connection address; trying \
                 again"
                    .into(),
            ));
        }
        let game = Game {
            id: d["game_info"]["game_id"].as_str().unwrap_or("").to_string(),
            auth_body: auth_body.to_string(),
            links,
            next_link: 0,
        };
        self.next_game_heartbeat = (!game.id.is_empty()).then(|| now + self.cfg.game_heartbeat);
        self.game = Some(game);
        let anchor = &d["anchor_info"];
        if let (Some(name), Some(room)) = (anchor["uname"].as_str(), anchor["room_id"].as_u64()) {
            self.event(EventBody::Notice {
                text: format!("open platform session for {name}'s room {room}"),
                code: Some("ANCHOR".into()),
            });
        }
        self.connect_next();
    }

    fn heartbeat_answer(&mut self, status: u16, body: &[u8]) {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = v["code"].as_i64();
        // 7003: the heartbeat came too late; 7000: not in a session. Start a new one.
        if status == 200 && matches!(code, Some(7003) | Some(7000)) {
            self.game = None;
            self.next_game_heartbeat = None;
            if self.phase != Phase::Closed {
                self.end(Output::Reconnect(format!(
                    "bilibili open platform ended the session (code {}); starting a new one",
                    code.unwrap_or(0)
                )));
            }
        }
    }

    fn packet(&mut self, now: Instant, p: Packet) {
        match p.op {
            packet::OP_AUTH_REPLY => match self.conn.auth_reply(now, &p.body) {
                Err(code) => {
                    // The auth body is stale: a new session gives a new one.
                    self.game = None;
                    self.end(Output::Reconnect(format!(
                        "bilibili open platform refused the long connection (auth code {code}); \
                         starting a new session"
                    )));
                }
                Ok(true) => self.event(EventBody::State(SourceState::Live)),
                Ok(false) => {}
            },
            packet::OP_MESSAGE => {
                let mut bodies = Vec::new();
                let mut ended = false;
                for v in serde_json::Deserializer::from_slice(&p.body).into_iter::<Value>() {
                    match v {
                        Ok(v) => {
                            ended |= commands::events(&v, &mut bodies)
                                == commands::Control::SessionEnded;
                        }
                        Err(_) => break,
                    }
                }
                for b in bodies {
                    self.event(b);
                }
                if ended {
                    self.game = None;
                    self.next_game_heartbeat = None;
                    self.end(Output::Reconnect(
                        "bilibili open platform ended the session; starting a new one".into(),
                    ));
                }
            }
            _ => {}
        }
    }
}

impl ChatSource for BilibiliOpen {
    fn platform(&self) -> Platform {
        Platform::Bilibili
    }

    fn transport(&self) -> Transport {
        Transport::HttpPoll
    }

    fn connected(&mut self, now: Instant) {
        match self.phase {
            Phase::Closed => {}
            Phase::Opening => {
                self.phase = Phase::Open;
                let body = self.game.as_ref().map_or("", |g| g.auth_body.as_str());
                let auth = self.conn.open(now, body.as_bytes());
                self.out.push_back(auth);
            }
            Phase::Idle | Phase::Open => {
                if self.game.is_some() {
                    self.connect_next();
                } else {
                    let body =
                        serde_json::json!({"code": self.cfg.code, "app_id": self.cfg.app_id});
                    self.request(Asked::Start, "/v2/app/start", body);
                }
            }
        }
    }

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        let data = match input {
            Input::Http { status, body } => {
                match self.asked.take() {
                    Some(Asked::Start) if self.phase != Phase::Closed => {
                        self.started(now, status, body)
                    }
                    Some(Asked::Heartbeat) => self.heartbeat_answer(status, body),
                    _ => {}
                }
                return;
            }
            Input::Binary(b) => b,
            Input::Text(t) => t.as_bytes(),
            Input::GrpcMessage(_) | Input::GrpcEnd { .. } => return,
        };
        if self.phase != Phase::Open {
            return;
        }
        let mut packets = Vec::new();
        let broken = self.conn.receive(now, data, &mut packets);
        for p in packets {
            self.packet(now, p);
            if self.phase != Phase::Open || !self.conn.is_open() {
                return;
            }
        }
        if let Some(o) = broken {
            self.end(o);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(at) = self.next_game_heartbeat
            && now >= at
            && self.asked.is_none()
            && let Some(id) = self.game.as_ref().map(|g| g.id.clone())
        {
            self.request(
                Asked::Heartbeat,
                "/v2/app/heartbeat",
                serde_json::json!({"game_id": id}),
            );
            self.next_game_heartbeat = Some(now + self.cfg.game_heartbeat);
        }
        if self.phase != Phase::Open {
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
        [self.next_game_heartbeat, self.conn.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn disconnected(&mut self, _now: Instant) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Idle;
        }
        self.asked = None;
        self.conn.close();
    }

    fn stop(&mut self, _now: Instant) {
        self.out.clear();
        self.conn.close();
        self.next_game_heartbeat = None;
        self.phase = Phase::Closed;
        if let Some(g) = self.game.take()
            && !g.id.is_empty()
        {
            let body = serde_json::json!({"game_id": g.id, "app_id": self.cfg.app_id});
            self.request(Asked::End, "/v2/app/end", body);
        }
    }
}
