//! Twitch chat over IRC on WebSocket (`wss://irc-ws.chat.twitch.tv:443`), read anonymously.
//!
//! On connect: `CAP REQ :twitch.tv/tags twitch.tv/commands`, `PASS SCHMOOPIIE`, `NICK
//! justinfanNNNN` (the anonymous login Twitch accepts for reading), `JOIN #channel`. The server
//! sends PING (answered with PONG), PRIVMSG (chat; a `bits` tag makes it a cheer), USERNOTICE
//! (sub, resub, subgift, submysterygift, raid…), CLEARMSG (one message deleted), CLEARCHAT (a
//! user banned or timed out, or the whole chat cleared) and RECONNECT (reconnect now).
//! Per dev.twitch.tv/docs/irc (commands, tags).

pub mod helix;
pub mod irc;
pub mod login;

use crate::event::{ChatEvent, Emote, EventBody, Platform, SourceState, User};
use crate::source::{ChatSource, Input, Output, Transport};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const DEFAULT_URL: &str = "wss://irc-ws.chat.twitch.tv:443";

#[derive(Debug, Clone)]
pub struct TwitchConfig {
    /// The channel's login name (lower case, no '#').
    pub channel: String,
    pub url: String,
    /// `justinfan` and digits: Twitch's anonymous read-only login.
    pub nick: String,
    /// After this long without a line, send our own PING…
    pub idle_ping: Duration,
    /// …and reconnect when nothing arrives within this after it.
    pub pong_timeout: Duration,
    /// No JOIN confirmation within this: reconnect.
    pub join_timeout: Duration,
}

impl TwitchConfig {
    pub fn new(channel: &str) -> Self {
        Self {
            channel: channel.trim_start_matches('#').to_ascii_lowercase(),
            url: DEFAULT_URL.into(),
            nick: format!("justinfan{}", fastrand::u32(10_000..99_999_999)),
            idle_ping: Duration::from_secs(60),
            pong_timeout: Duration::from_secs(15),
            join_timeout: Duration::from_secs(15),
        }
    }
}

/// The sans-IO Twitch adapter.
#[derive(Debug)]
pub struct Twitch {
    cfg: TwitchConfig,
    out: VecDeque<Output>,
    /// A line cut between two WebSocket messages.
    partial: String,
    joined: bool,
    closed: bool,
    join_deadline: Option<Instant>,
    ping_at: Option<Instant>,
    pong_deadline: Option<Instant>,
}

impl Twitch {
    pub fn new(cfg: TwitchConfig) -> Self {
        Self {
            cfg,
            out: VecDeque::new(),
            partial: String::new(),
            joined: false,
            closed: true,
            join_deadline: None,
            ping_at: None,
            pong_deadline: None,
        }
    }

    fn event(&mut self, body: EventBody) {
        self.out
            .push_back(Output::Event(ChatEvent::new(Platform::Twitch, body)));
    }

    fn end(&mut self, o: Output) {
        self.closed = true;
        self.join_deadline = None;
        self.ping_at = None;
        self.pong_deadline = None;
        self.out.push_back(o);
    }

    fn line(&mut self, line: &str) {
        let Some(m) = irc::parse(line) else {
            return;
        };
        match m.command {
            "PING" => {
                let token = m.param(0).unwrap_or("tmi.twitch.tv");
                self.out
                    .push_back(Output::SendText(format!("PONG :{token}")));
            }
            "RECONNECT" => self.end(Output::Reconnect(
                "Twitch asked to reconnect (server maintenance)".into(),
            )),
            "JOIN" | "ROOMSTATE" => {
                let ours = m.command == "ROOMSTATE" || m.nick() == Some(self.cfg.nick.as_str());
                if ours && !self.joined {
                    self.joined = true;
                    self.join_deadline = None;
                    self.event(EventBody::State(SourceState::Live));
                }
            }
            "NOTICE" => self.notice(&m),
            "PRIVMSG" => self.privmsg(&m),
            "USERNOTICE" => self.usernotice(&m),
            "CLEARMSG" => {
                if let Some(id) = m.tag("target-msg-id") {
                    let body = EventBody::MessageDeleted {
                        id: id.to_string(),
                        user: m.tag("login").map(str::to_string),
                    };
                    self.event(body);
                }
            }
            "CLEARCHAT" => {
                let body = match m.param(1) {
                    Some(login) => EventBody::UserBanned {
                        user: User {
                            id: m.tag("target-user-id").map(str::to_string),
                            name: login.to_string(),
                            ..User::default()
                        },
                        duration_s: m.tag("ban-duration").and_then(|d| d.parse().ok()),
                        by: None,
                    },
                    None => EventBody::ChatCleared,
                };
                self.event(body);
            }
            _ => {}
        }
    }

    fn notice(&mut self, m: &irc::Message<'_>) {
        let text = m.param(1).unwrap_or_default().to_string();
        let code = m.tag("msg-id").map(str::to_string);
        let login_failed = text.contains("Login authentication failed")
            || text.contains("Login unsuccessful")
            || text.contains("Improperly formatted auth");
        if login_failed {
            return self.end(Output::Fail(format!(
                "Twitch refused the anonymous login ({text}); try again later"
            )));
        }
        if matches!(
            code.as_deref(),
            Some("msg_channel_suspended") | Some("msg_banned")
        ) {
            return self.end(Output::Fail(format!(
                "Twitch: cannot read #{} ({text}); check the channel name",
                self.cfg.channel
            )));
        }
        self.event(EventBody::Notice { text, code });
    }

    fn privmsg(&mut self, m: &irc::Message<'_>) {
        let mut text = m.param(1).unwrap_or_default();
        // "/me" lines arrive as CTCP ACTION.
        if let Some(a) = text.strip_prefix("\u{1}ACTION ") {
            text = a.strip_suffix('\u{1}').unwrap_or(a);
        }
        let user = user(m);
        let emotes = emotes(m.tag("emotes"), text);
        let id = m.tag("id").map(str::to_string);
        let text = text.to_string();
        let body = match m.tag("bits").and_then(|b| b.parse::<u64>().ok()) {
            Some(bits) if bits > 0 => EventBody::Cheer {
                id,
                user,
                bits,
                text,
                emotes,
            },
            _ => EventBody::Message {
                id,
                user,
                text,
                colour: None,
                emotes,
            },
        };
        self.event(body);
    }

    fn usernotice(&mut self, m: &irc::Message<'_>) {
        let user = user(m);
        let text = m.param(1).unwrap_or_default().to_string();
        let months = m
            .tag("msg-param-cumulative-months")
            .or(m.tag("msg-param-months"))
            .and_then(|v| v.parse().ok());
        let plan = plan_name(m.tag("msg-param-sub-plan").unwrap_or(""));
        let body = match m.tag("msg-id").unwrap_or("") {
            kind @ ("sub" | "resub") => EventBody::Subscription {
                user,
                kind: kind.into(),
                plan,
                months,
                gifted_to: None,
                count: None,
                text,
            },
            "subgift" | "anonsubgift" => EventBody::Subscription {
                user,
                kind: "subgift".into(),
                plan,
                months,
                gifted_to: m
                    .tag("msg-param-recipient-display-name")
                    .or(m.tag("msg-param-recipient-user-name"))
                    .map(str::to_string),
                count: None,
                text,
            },
            "submysterygift" | "anonsubmysterygift" => EventBody::Subscription {
                user,
                kind: "submysterygift".into(),
                plan,
                months: None,
                gifted_to: None,
                count: m
                    .tag("msg-param-mass-gift-count")
                    .and_then(|v| v.parse().ok()),
                text,
            },
            "raid" => {
                let mut user = user;
                if let Some(n) = m.tag("msg-param-displayName") {
                    user.name = n.to_string();
                }
                EventBody::Raid {
                    user,
                    viewers: m
                        .tag("msg-param-viewerCount")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                }
            }
            other => EventBody::Notice {
                text: m.tag("system-msg").unwrap_or(&text).to_string(),
                code: Some(other.to_string()),
            },
        };
        self.event(body);
    }
}

fn plan_name(p: &str) -> String {
    match p {
        "1000" => "Tier 1".into(),
        "2000" => "Tier 2".into(),
        "3000" => "Tier 3".into(),
        other => other.into(),
    }
}

/// The sender from `display-name`, `user-id`, `color` and `badges` (`name/version,…`).
fn user(m: &irc::Message<'_>) -> User {
    let name = m
        .tag("display-name")
        .or(m.tag("login"))
        .or(m.nick())
        .unwrap_or_default()
        .to_string();
    let badges = m
        .tag("badges")
        .unwrap_or("")
        .split(',')
        .filter(|b| !b.is_empty())
        .map(|b| match b.split_once('/') {
            Some((n, "1")) => n.to_string(),
            _ => b.to_string(),
        })
        .collect();
    User {
        id: m.tag("user-id").map(str::to_string),
        name,
        badges,
        colour: m
            .tag("color")
            .filter(|c| c.len() == 7 && c.starts_with('#'))
            .map(str::to_ascii_uppercase),
        masked: false,
    }
}

/// `emotes=25:0-4,12-16/1902:6-10`: each emote's name is the text at its first range
/// (indices count characters).
fn emotes(tag: Option<&str>, text: &str) -> Vec<Emote> {
    let Some(tag) = tag else {
        return Vec::new();
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for entry in tag.split('/').take(256) {
        let Some((id, ranges)) = entry.split_once(':') else {
            continue;
        };
        let Some((a, b)) = ranges.split(',').next().and_then(|r| r.split_once('-')) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else {
            continue;
        };
        let Some(name) = chars.get(a..=b.min(chars.len().saturating_sub(1))) else {
            continue;
        };
        if a > b {
            continue;
        }
        out.push(Emote {
            name: name.iter().collect(),
            id: Some(id.to_string()),
            url: Some(format!(
                "https://static-cdn.jtvnw.net/emoticons/v2/{id}/default/dark/1.0"
            )),
        });
    }
    out
}

impl ChatSource for Twitch {
    fn platform(&self) -> Platform {
        Platform::Twitch
    }

    fn transport(&self) -> Transport {
        Transport::WebSocket {
            url: self.cfg.url.clone(),
        }
    }

    fn connected(&mut self, now: Instant) {
        self.partial.clear();
        self.joined = false;
        self.closed = false;
        for line in [
            "CAP REQ :twitch.tv/tags twitch.tv/commands".to_string(),
            "PASS SCHMOOPIIE".to_string(),
            format!("NICK {}", self.cfg.nick),
            format!("JOIN #{}", self.cfg.channel),
        ] {
            self.out.push_back(Output::SendText(line));
        }
        self.join_deadline = Some(now + self.cfg.join_timeout);
        self.ping_at = Some(now + self.cfg.idle_ping);
        self.pong_deadline = None;
    }

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.closed {
            return;
        }
        let text = match input {
            Input::Text(t) => t,
            Input::Binary(b) => match std::str::from_utf8(b) {
                Ok(t) => t,
                Err(_) => return,
            },
            Input::Http { .. } | Input::GrpcMessage(_) | Input::GrpcEnd { .. } => return,
        };
        self.ping_at = Some(now + self.cfg.idle_ping);
        self.pong_deadline = None;
        self.partial.push_str(text);
        if self.partial.len() > irc::MAX_LINE * 64 && !self.partial.contains('\n') {
            self.partial.clear();
            return;
        }
        let Some(last) = self.partial.rfind('\n') else {
            return;
        };
        let rest = self.partial.split_off(last + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        for line in done.split('\n') {
            self.line(line.trim_end_matches('\r'));
            if self.closed {
                return;
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.join_deadline.is_some_and(|d| now >= d) {
            return self.end(Output::Reconnect(format!(
                "Twitch did not confirm joining #{} within {} s",
                self.cfg.channel,
                self.cfg.join_timeout.as_secs()
            )));
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            return self.end(Output::Reconnect(
                "Twitch did not answer a PING; the connection is gone".into(),
            ));
        }
        if self.ping_at.is_some_and(|d| now >= d) {
            self.out
                .push_back(Output::SendText("PING :tmi.twitch.tv".into()));
            self.ping_at = None;
            self.pong_deadline = Some(now + self.cfg.pong_timeout);
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.join_deadline, self.ping_at, self.pong_deadline]
            .into_iter()
            .flatten()
            .min()
    }
}
