//! YouTube Live chat by polling the Data API's `liveChatMessages.list`.
//!
//! The quota decides how closely a chat can be followed: each `liveChatMessages.list` call
//! costs 5 units of a project's default 10,000 units a day, so one API key makes about 2,000
//! calls a day — one every 43 s around the clock, or 2 h 45 min of polling every 5 s. The
//! adapter honours the `pollingIntervalMillis` each page asks for and can be held to a slower
//! pace ([`YoutubeConfig::min_interval`]). The quota-friendlier server-streaming
//! `liveChatMessages.streamList` (gRPC) is not used yet (docs/platform-chat.md).
//!
//! Flow: `videos.list?part=liveStreamingDetails&id=VIDEO` (1 unit) gives the
//! `activeLiveChatId`; then `liveChatMessages.list` with `pageToken` set to the last page's
//! `nextPageToken`, so no message is read twice. The API key comes from the OS keychain;
//! it travels only in the request URL and never reaches an event, a log or an error.

pub mod moderate;
pub mod page;

use crate::event::{ChatEvent, EventBody, Platform, SourceState};
use crate::http::query_escape;
use crate::source::{ChatSource, Input, Output, Transport};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

pub const DEFAULT_URL: &str = "https://www.googleapis.com/youtube/v3";

#[derive(Clone)]
pub struct YoutubeConfig {
    pub video_id: String,
    pub api_key: String,
    /// The API root (`…/youtube/v3`).
    pub url: String,
    /// Never poll faster than this, whatever the page asks (to stretch the quota).
    pub min_interval: Duration,
    /// When a page gives no `pollingIntervalMillis`.
    pub default_interval: Duration,
}

impl fmt::Debug for YoutubeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YoutubeConfig")
            .field("video_id", &self.video_id)
            .field("api_key", &"<redacted>")
            .field("url", &self.url)
            .field("min_interval", &self.min_interval)
            .finish()
    }
}

impl YoutubeConfig {
    pub fn new(video_id: &str, api_key: String) -> Self {
        Self {
            video_id: video_id.to_string(),
            api_key,
            url: DEFAULT_URL.into(),
            min_interval: Duration::ZERO,
            default_interval: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    FindChat,
    Poll { chat_id: String },
    Done,
}

/// The sans-IO YouTube adapter.
#[derive(Debug)]
pub struct Youtube {
    cfg: YoutubeConfig,
    phase: Phase,
    page_token: Option<String>,
    out: VecDeque<Output>,
    in_flight: bool,
    next_request: Option<Instant>,
    live: bool,
}

impl Youtube {
    pub fn new(cfg: YoutubeConfig) -> Self {
        Self {
            cfg,
            phase: Phase::FindChat,
            page_token: None,
            out: VecDeque::new(),
            in_flight: false,
            next_request: None,
            live: false,
        }
    }

    fn event(&mut self, body: EventBody) {
        self.out
            .push_back(Output::Event(ChatEvent::new(Platform::Youtube, body)));
    }

    fn root(&self) -> &str {
        self.cfg.url.trim_end_matches('/')
    }

    fn request_url(&self) -> Option<String> {
        let key = query_escape(&self.cfg.api_key);
        match &self.phase {
            Phase::FindChat => Some(format!(
                "{}/videos?part=liveStreamingDetails&id={}&key={key}",
                self.root(),
                query_escape(&self.cfg.video_id)
            )),
            Phase::Poll { chat_id } => {
                let mut u = format!(
                    "{}/liveChat/messages?liveChatId={}&part=snippet,authorDetails&maxResults=2000&key={key}",
                    self.root(),
                    query_escape(chat_id)
                );
                if let Some(t) = &self.page_token {
                    u.push_str("&pageToken=");
                    u.push_str(&query_escape(t));
                }
                Some(u)
            }
            Phase::Done => None,
        }
    }

    fn finish(&mut self, o: Output) {
        self.phase = Phase::Done;
        self.next_request = None;
        self.out.push_back(o);
    }

    /// An HTTP error said plainly; quota and key problems stop, server trouble retries.
    fn error(&mut self, status: u16, body: &[u8]) {
        let (reason, message) = page::parse_error(body).unwrap_or_default();
        let v = self.cfg.video_id.clone();
        let o = match reason.as_str() {
            "quotaExceeded" | "dailyLimitExceeded" => Output::Fail(
                "YouTube: the API key's daily quota is used up (each chat poll costs 5 of the \
                 default 10,000 units a day). It resets at midnight Pacific time; poll less \
                 often or ask Google for more quota"
                    .into(),
            ),
            "keyInvalid" | "keyExpired" | "API_KEY_INVALID" => Output::Fail(
                "YouTube refused the API key: store a valid YouTube Data API v3 key with \
                 `marquee key set youtube-api-key`"
                    .into(),
            ),
            "accessNotConfigured" | "SERVICE_DISABLED" => Output::Fail(
                "YouTube: the YouTube Data API v3 is not enabled for this API key's Google \
                 Cloud project; enable it in the Cloud console"
                    .into(),
            ),
            "liveChatEnded" => {
                self.event(EventBody::ChatEnded);
                Output::Fail(format!("YouTube: the live chat of video {v} has ended"))
            }
            "liveChatDisabled" => {
                Output::Fail(format!("YouTube: the live chat of video {v} is turned off"))
            }
            "liveChatNotFound" => {
                Output::Fail(format!("YouTube: video {v} has no live chat (is it live?)"))
            }
            "rateLimitExceeded" => Output::Reconnect("YouTube: polling too fast".into()),
            _ if status == 429 || status >= 500 => {
                Output::Reconnect(format!("YouTube answered HTTP {status}"))
            }
            _ => Output::Fail(format!(
                "YouTube refused the request (HTTP {status}{}{}): check the video id and the \
                 API key",
                if reason.is_empty() { "" } else { ", " },
                if message.is_empty() {
                    &reason
                } else {
                    &message
                },
            )),
        };
        match o {
            Output::Reconnect(_) => self.out.push_back(o),
            _ => self.finish(o),
        }
    }

    fn response(&mut self, now: Instant, status: u16, body: &[u8]) {
        if status != 200 {
            return self.error(status, body);
        }
        match self.phase.clone() {
            Phase::FindChat => match page::parse_chat_id(body) {
                page::ChatId::Active(chat_id) => {
                    self.phase = Phase::Poll { chat_id };
                    self.next_request = Some(now);
                }
                page::ChatId::None => self.finish(Output::Fail(format!(
                    "YouTube: video {} has no active live chat (not live now, or chat is off)",
                    self.cfg.video_id
                ))),
                page::ChatId::NoVideo => self.finish(Output::Fail(format!(
                    "YouTube: no video {} (check the id: the part after watch?v=)",
                    self.cfg.video_id
                ))),
            },
            Phase::Poll { .. } => {
                let Some(p) = page::parse_page(body) else {
                    return self.out.push_back(Output::Reconnect(
                        "YouTube sent a page this client cannot read".into(),
                    ));
                };
                if !self.live {
                    self.live = true;
                    self.event(EventBody::State(SourceState::Live));
                }
                for e in p.events {
                    self.event(e);
                }
                if p.next_page_token.is_some() {
                    self.page_token = p.next_page_token;
                }
                if p.ended {
                    self.event(EventBody::ChatEnded);
                    return self.finish(Output::Fail(format!(
                        "YouTube: the live chat of video {} has ended",
                        self.cfg.video_id
                    )));
                }
                let wait = p
                    .polling_interval_ms
                    .map(Duration::from_millis)
                    .unwrap_or(self.cfg.default_interval)
                    .max(self.cfg.min_interval);
                self.next_request = Some(now + wait);
            }
            Phase::Done => {}
        }
    }
}

impl ChatSource for Youtube {
    fn platform(&self) -> Platform {
        Platform::Youtube
    }

    fn transport(&self) -> Transport {
        Transport::HttpPoll
    }

    fn connected(&mut self, now: Instant) {
        self.in_flight = false;
        self.live = false;
        if self.phase != Phase::Done {
            self.next_request = Some(self.next_request.map_or(now, |t| t.max(now)));
        }
    }

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if let Input::Http { status, body } = input
            && self.in_flight
        {
            self.in_flight = false;
            self.response(now, status, body);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.in_flight || self.next_request.is_none_or(|t| now < t) {
            return;
        }
        if let Some(url) = self.request_url() {
            self.in_flight = true;
            self.next_request = None;
            self.out.push_back(Output::HttpGet(url));
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight {
            None
        } else {
            self.next_request
        }
    }
}
