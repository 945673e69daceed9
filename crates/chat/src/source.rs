//! The one trait every platform adapter implements: a sans-IO protocol core. Bytes and a time
//! go in; events, bytes to send and the next wake-up come out. The driver ([`crate::driver`])
//! owns the sockets and the clock, so every protocol case is testable without a network or a
//! sleep.

use crate::event::{ChatEvent, Platform};
use std::time::Instant;

/// How a source reaches its platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// One long WebSocket connection to this URL (bilibili, Twitch).
    WebSocket { url: String },
    /// HTTP requests the source asks for with [`Output::HttpGet`], [`Output::HttpPost`] or
    /// [`Output::GrpcCall`] (YouTube's polling and streaming), and for a source that learns its
    /// WebSocket from an HTTP API (bilibili's open platform), the WebSocket it then names with
    /// [`Output::Connect`].
    HttpPoll,
}

/// What the driver hands a source.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A binary WebSocket message.
    Binary(&'a [u8]),
    /// A text WebSocket message.
    Text(&'a str),
    /// The response to the last [`Output::HttpGet`] or [`Output::HttpPost`]. Status 0: no
    /// answer came (no connection, a timeout); `body` then says why.
    Http { status: u16, body: &'a [u8] },
    /// One response message of the running [`Output::GrpcCall`], as soon as it is whole.
    GrpcMessage(&'a [u8]),
    /// The running [`Output::GrpcCall`] ended with this gRPC status (0: OK). No connection
    /// or a broken stream is UNAVAILABLE (14); a server that does not speak HTTP/2 or the
    /// method is UNIMPLEMENTED (12).
    GrpcEnd { code: u32, message: &'a str },
}

/// What a source asks of the driver.
// Events are nearly every output; boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Event(ChatEvent),
    SendBinary(Vec<u8>),
    SendText(String),
    /// Fetch this URL and hand the response back as [`Input::Http`].
    HttpGet(String),
    /// Send this request and hand the response back as [`Input::Http`].
    HttpPost(HttpRequest),
    /// Open a gRPC server-streaming call: its messages come back as [`Input::GrpcMessage`],
    /// its end as [`Input::GrpcEnd`]. While it runs, only events, [`Output::Reconnect`] and
    /// [`Output::Fail`] are acted on.
    GrpcCall(GrpcCall),
    /// During an HTTP session: open the WebSocket at this URL; [`ChatSource::connected`] is
    /// called again once it is open.
    Connect(String),
    /// Drop the connection and connect again after a backoff (the platform asked, or the
    /// connection went quiet).
    Reconnect(String),
    /// Stop for good: the reason names the platform and what the user can do.
    Fail(String),
}

/// A platform adapter's protocol core. Implementations never panic on any input and keep
/// their buffers bounded.
pub trait ChatSource: Send {
    fn platform(&self) -> Platform;
    fn transport(&self) -> Transport;
    /// A connection is open (or, for HTTP polling, a session begins): queue the login.
    /// Called again after every reconnect; state that must survive (a page token) stays.
    fn connected(&mut self, now: Instant);
    fn handle_input(&mut self, now: Instant, input: Input<'_>);
    /// Time passed: heartbeats, keepalive checks, the next poll.
    fn handle_timeout(&mut self, now: Instant);
    fn poll_output(&mut self) -> Option<Output>;
    /// When [`ChatSource::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The connection (or HTTP session) ended; the driver will connect again after a backoff.
    fn disconnected(&mut self, _now: Instant) {}
    /// The user stops the source: queue what must be said on the way out (bilibili's open
    /// platform ends its session). Only [`Output::HttpPost`]s are sent after this.
    fn stop(&mut self, _now: Instant) {}
}

/// An HTTP POST a source asks for. Its headers and body may carry credentials, so its Debug
/// form shows only the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A gRPC server-streaming call a source asks for. Its metadata may carry credentials, so
/// its Debug form shows only where it goes.
#[derive(Clone, PartialEq, Eq)]
pub struct GrpcCall {
    /// `https://host[:port]` (TLS, HTTP/2 by ALPN) or `http://host:port` (HTTP/2 without TLS,
    /// for local test servers).
    pub origin: String,
    /// `/package.Service/Method`.
    pub path: String,
    pub metadata: Vec<(&'static str, String)>,
    /// The request message, without its length prefix.
    pub message: Vec<u8>,
    /// The call is cancelled (DEADLINE_EXCEEDED) after this long; also sent as `grpc-timeout`.
    pub deadline: std::time::Duration,
}

impl std::fmt::Debug for GrpcCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcCall")
            .field("origin", &self.origin)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
