//! YouTube Live chat: streamed by `liveChatMessages.streamList` (gRPC), or polled by
//! `liveChatMessages.list`.
//!
//! The quota decides how closely a chat can be followed. A project has 10,000 units a day by
//! default; either call costs 5. A stream stays open about 10 s (YouTube closes it; the next
//! call resumes at its last `nextPageToken`), so streaming spends 30 units a minute — about
//! 5 h 30 min a day — and delivers each line as it is said. Polling every 5 s (a typical
//! `pollingIntervalMillis`) spends 60 a minute — 2 h 45 min — and delivers lines up to 5 s
//! late. Both can be held to a slower pace ([`YoutubeConfig::min_interval`]). Streaming is
//! the default; a server that does not offer it (gRPC UNIMPLEMENTED, or no HTTP/2) turns the
//! source to polling for the rest of its life, and says so.
//!
//! Flow: `videos.list?part=liveStreamingDetails&id=VIDEO` (1 unit) gives the
//! `activeLiveChatId`; then the stream (or the polls) with the page token of the last
//! response, so no message is read twice. The API key comes from the OS keychain; it travels
//! only in a request URL or the call's `x-goog-api-key` metadata and never reaches an event, a
//! log or an error.

pub mod moderate;
pub mod page;
pub mod stream;

use crate::event::{ChatEvent, EventBody, Platform, SourceState};
use crate::http::query_escape;
use crate::source::{ChatSource, GrpcCall, Input, Output, Transport};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// The Data API's root; the same host serves the streaming call (gRPC) at its origin.
pub const DEFAULT_URL: &str = "https://youtube.googleapis.com/youtube/v3";

/// YouTube ends a stream after about 10 s; one that does not end by itself is cut here.
const STREAM_DEADLINE: Duration = Duration::from_secs(30);
/// Calls start at least this far apart, whatever a server does (each costs 5 units).
const STREAM_MIN_GAP: Duration = Duration::from_secs(1);

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
    /// Stream the chat (`streamList`); false: poll (`list`).
    pub stream: bool,
    /// Where the streaming call goes (`https://host[:port]`); None: the origin of `url`.
    pub stream_origin: Option<String>,
}

impl fmt::Debug for YoutubeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YoutubeConfig")
            .field("video_id", &self.video_id)
            .field("api_key", &"<redacted>")
            .field("url", &self.url)
            .field("min_interval", &self.min_interval)
            .field("stream", &self.stream)
            .field("stream_origin", &self.stream_origin)
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
            stream: true,
            stream_origin: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    FindChat,
    Poll { chat_id: String },
    Done,
}

/// The REST reason a streaming call's refusal stands for: named in its message when Google
/// names it, else read from the status and its words.
fn grpc_reason(code: u32, message: &str) -> &'static str {
    use crate::grpc::code::*;
    const NAMED: [&str; 8] = [
        "quotaExceeded",
        "rateLimitExceeded",
        "liveChatEnded",
        "liveChatDisabled",
        "liveChatNotFound",
        "keyInvalid",
        "keyExpired",
        "accessNotConfigured",
    ];
    if let Some(r) = NAMED.iter().find(|r| message.contains(**r)) {
        return r;
    }
    let m = message.to_ascii_lowercase();
    match code {
        RESOURCE_EXHAUSTED if m.contains("rate") => "rateLimitExceeded",
        RESOURCE_EXHAUSTED => "quotaExceeded",
        UNAUTHENTICATED | PERMISSION_DENIED | INVALID_ARGUMENT if m.contains("api key") => {
            "keyInvalid"
        }
        PERMISSION_DENIED if m.contains("has not been used") || m.contains("is disabled") => {
            "accessNotConfigured"
        }
        NOT_FOUND => "liveChatNotFound",
        FAILED_PRECONDITION | PERMISSION_DENIED if m.contains("ended") => "liveChatEnded",
        FAILED_PRECONDITION | PERMISSION_DENIED if m.contains("disabled") => "liveChatDisabled",
        _ => "",
    }
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
    /// Streaming (until a server says it cannot), else polling.
    streaming: bool,
    /// When the running (or last) streaming call started.
    call_started: Option<Instant>,
}

impl Youtube {
    pub fn new(cfg: YoutubeConfig) -> Self {
        let cfg_stream = cfg.stream;
        Self {
            cfg,
            phase: Phase::FindChat,
            page_token: None,
            out: VecDeque::new(),
            in_flight: false,
            next_request: None,
            live: false,
            streaming: cfg_stream,
            call_started: None,
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
        let transient = status == 429 || status >= 500;
        self.refused(&reason, &message, transient, &format!("HTTP {status}"));
    }

    /// A refusal by its REST reason: what to do, and whether trying again can help.
    fn refused(&mut self, reason: &str, message: &str, transient: bool, said: &str) {
        let v = self.cfg.video_id.clone();
        let o = match reason {
            "quotaExceeded" | "dailyLimitExceeded" => Output::Fail(
                "YouTube: the API key's daily quota is used up (each chat call costs 5 of the \
                 default 10,000 units a day). It resets at midnight Pacific time; follow the \
                 chat less often (--min-interval) or ask Google for more quota"
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
            "rateLimitExceeded" => Output::Reconnect("YouTube: asking too fast".into()),
            _ if transient => Output::Reconnect(format!("YouTube answered {said}")),
            _ => Output::Fail(format!(
                "YouTube refused the request ({said}{}{}): check the video id and the API key",
                if reason.is_empty() { "" } else { ", " },
                if message.is_empty() { reason } else { message },
            )),
        };
        match o {
            Output::Reconnect(_) => self.out.push_back(o),
            _ => self.finish(o),
        }
    }

    /// A page's events and resume point; false when the chat has ended (the source is done).
    fn page(&mut self, p: page::Page) -> bool {
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
            self.finish(Output::Fail(format!(
                "YouTube: the live chat of video {} has ended",
                self.cfg.video_id
            )));
            return false;
        }
        true
    }

    fn streamed(&mut self, message: &[u8]) {
        let page = stream::response(message)
            .map_err(|e| e.to_string())
            .and_then(|v| page::page_of(&v).ok_or_else(|| "not a page".to_string()));
        match page {
            Ok(p) => {
                self.page(p);
            }
            Err(e) => self.out.push_back(Output::Reconnect(format!(
                "YouTube streamed a message this client cannot read ({e})"
            ))),
        }
    }

    /// The streaming call ended: the next one at once (resuming at the last page token),
    /// polling if the server cannot stream, or the refusal said plainly.
    fn call_ended(&mut self, now: Instant, code: u32, message: &str) {
        use crate::grpc::code::*;
        self.in_flight = false;
        if self.phase == Phase::Done {
            return;
        }
        match code {
            OK => {
                let gap = STREAM_MIN_GAP.max(self.cfg.min_interval);
                let at = self.call_started.map_or(now, |t| (t + gap).max(now));
                self.next_request = Some(at);
            }
            UNIMPLEMENTED => {
                tracing::warn!(%message, "YouTube: no streaming chat here; polling instead");
                self.streaming = false;
                self.next_request = Some(now);
                self.event(EventBody::SourceNote {
                    code: crate::event::note::YOUTUBE_POLLING.into(),
                    text: format!(
                        "YouTube: streaming chat is not available ({message}); polling instead"
                    ),
                });
            }
            _ => {
                let transient = matches!(
                    code,
                    UNAVAILABLE | DEADLINE_EXCEEDED | INTERNAL | ABORTED | UNKNOWN | CANCELLED
                );
                let said = format!("gRPC status {code}: {message}");
                self.refused(grpc_reason(code, message), message, transient, &said);
            }
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
                let interval = p.polling_interval_ms;
                if self.page(p) {
                    let wait = interval
                        .map(Duration::from_millis)
                        .unwrap_or(self.cfg.default_interval)
                        .max(self.cfg.min_interval);
                    self.next_request = Some(now + wait);
                }
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
        if !self.in_flight {
            return;
        }
        match input {
            Input::Http { status, body } => {
                self.in_flight = false;
                self.response(now, status, body);
            }
            Input::GrpcMessage(m) => self.streamed(m),
            Input::GrpcEnd { code, message } => self.call_ended(now, code, message),
            Input::Binary(_) | Input::Text(_) => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.in_flight || self.next_request.is_none_or(|t| now < t) {
            return;
        }
        if let (true, Phase::Poll { chat_id }) = (self.streaming, &self.phase) {
            let call = GrpcCall {
                origin: self
                    .cfg
                    .stream_origin
                    .clone()
                    .unwrap_or_else(|| origin(&self.cfg.url)),
                path: stream::PATH.into(),
                metadata: vec![("x-goog-api-key", self.cfg.api_key.clone())],
                message: stream::request(chat_id, self.page_token.as_deref()),
                deadline: STREAM_DEADLINE,
            };
            self.in_flight = true;
            self.next_request = None;
            self.call_started = Some(now);
            self.out.push_back(Output::GrpcCall(call));
        } else if let Some(url) = self.request_url() {
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

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    let rest = url.find("://").map_or(0, |i| i + 3);
    match url[rest..].find('/') {
        Some(i) => url[..rest + i].to_string(),
        None => url.to_string(),
    }
}
