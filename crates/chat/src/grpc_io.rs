//! One gRPC server-streaming call over hyper's HTTP/2 client: each whole response message is
//! handed over as it arrives, then the call's status. Bounded: a message over the driver's
//! limit, a deadline, and the connection's own flow control (hyper reads only as fast as the
//! messages are taken). Errors never repeat the metadata (it carries API keys and tokens).

use crate::grpc::{self, Deframer, code};
use crate::http::Target;
use crate::source::GrpcCall;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

/// Runs `call`, giving each message to `on_message` (which may stop the call), and returns
/// the call's status, or None when `on_message` stopped it.
pub(crate) async fn run(
    call: &GrpcCall,
    tls: &Arc<rustls::ClientConfig>,
    max_message: usize,
    connect_timeout: Duration,
    mut on_message: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> Option<(u32, String)> {
    let deadline = call.deadline;
    let work = exchange(call, tls, max_message, connect_timeout, &mut on_message);
    match tokio::time::timeout(deadline, work).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(Stopped)) => None,
        Err(_) => Some((
            code::DEADLINE_EXCEEDED,
            format!("the call did not end within {} s", deadline.as_secs()),
        )),
    }
}

struct Stopped;

async fn exchange(
    call: &GrpcCall,
    tls: &Arc<rustls::ClientConfig>,
    max_message: usize,
    connect_timeout: Duration,
    on_message: &mut impl FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(u32, String), Stopped> {
    let unavailable = |why: String| Ok((code::UNAVAILABLE, why));
    let target = match Target::parse(&call.origin) {
        Ok(t) => t,
        Err(e) => return Ok((code::INVALID_ARGUMENT, format!("the endpoint: {e}"))),
    };
    let io = match tokio::time::timeout(connect_timeout, target.connect(Some(tls), true)).await {
        Ok(Ok((_, false))) => {
            return Ok((
                code::UNIMPLEMENTED,
                format!("{} does not offer HTTP/2", target.authority),
            ));
        }
        Ok(Ok((io, true))) => io,
        Ok(Err(e)) => return unavailable(e),
        Err(_) => {
            return unavailable(format!(
                "no connection within {} s",
                connect_timeout.as_secs()
            ));
        }
    };
    let handshake = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .max_header_list_size(64 << 10)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await;
    let (mut sender, conn) = match handshake {
        Ok(h) => h,
        Err(e) => return Ok((code::UNIMPLEMENTED, format!("HTTP/2 refused: {e}"))),
    };
    let conn = tokio::spawn(conn);
    let result = async {
        let scheme = if target.https { "https" } else { "http" };
        let mut builder = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri(format!("{scheme}://{}{}", target.authority, call.path))
            .header(hyper::header::CONTENT_TYPE, "application/grpc")
            .header(hyper::header::TE, "trailers")
            .header(hyper::header::USER_AGENT, "marquee-chat")
            .header(
                "grpc-timeout",
                format!("{}S", call.deadline.as_secs().max(1)),
            );
        for (name, value) in &call.metadata {
            builder = builder.header(*name, value);
        }
        let Ok(req) = builder.body(Full::new(Bytes::from(grpc::frame(&call.message)))) else {
            return Ok((
                code::INVALID_ARGUMENT,
                "a metadata value is not valid".into(),
            ));
        };
        let res = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => return unavailable(format!("HTTP/2: {e}")),
        };
        let http = res.status().as_u16();
        let headers = res.headers();
        if let Some(s) = headers.get("grpc-status") {
            // Trailers-only: the call ended before any message.
            return Ok(grpc::status(
                Some(s.as_bytes()),
                headers.get("grpc-message").map(|m| m.as_bytes()),
            ));
        }
        if http != 200 {
            return Ok((grpc::status_of_http(http), format!("HTTP {http}")));
        }
        let grpc_type = headers
            .get(hyper::header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"application/grpc"));
        if !grpc_type {
            return Ok((code::UNKNOWN, "the answer is not gRPC".into()));
        }
        let mut body = res.into_body();
        let mut deframer = Deframer::new(max_message);
        loop {
            let frame = match body.frame().await {
                None => {
                    let why = match deframer.finish() {
                        Ok(()) => "the stream ended without a status".to_string(),
                        Err(e) => e.to_string(),
                    };
                    return Ok((code::INTERNAL, why));
                }
                Some(Err(e)) => return unavailable(format!("the stream broke: {e}")),
                Some(Ok(f)) => f,
            };
            let frame = match frame.into_data() {
                Ok(data) => {
                    if let Err(e) = deframer.push(&data) {
                        return Ok((code::INTERNAL, e.to_string()));
                    }
                    while let Some(m) = deframer.next_message() {
                        if on_message(&m).is_break() {
                            return Err(Stopped);
                        }
                    }
                    continue;
                }
                Err(f) => f,
            };
            if let Ok(trailers) = frame.into_trailers() {
                if let Err(e) = deframer.finish() {
                    return Ok((code::INTERNAL, e.to_string()));
                }
                return Ok(grpc::status(
                    trailers.get("grpc-status").map(|s| s.as_bytes()),
                    trailers.get("grpc-message").map(|m| m.as_bytes()),
                ));
            }
        }
    }
    .await;
    conn.abort();
    result
}
