//! SRT output (caller mode, MPEG-TS) through FFmpeg's libsrt. The reconnect loop, the
//! queue and its drop policy are the RTMP output's; only connecting differs.
//!
//! libsrt tells FFmpeg nothing but "Input/output error" whether the listener rejected us (a
//! wrong passphrase or stream id) or never answered; the time it took tells them apart: a
//! rejection comes back within a round trip, silence only when the connect timeout ends.

use super::{ConnectError, RtmpTarget};
use crate::output::mux::Muxer;
use crate::packet::StreamInfo;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How long a caller waits for the listener's answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A failure this much before the timeout was an answer: the listener said no.
const ANSWERED_WITHIN: Duration = Duration::from_millis(2500);

pub(super) fn connect(
    target: &RtmpTarget,
    url: &str,
    streams: &[StreamInfo],
    abort: &Arc<AtomicBool>,
    was_live: bool,
) -> Result<Muxer, ConnectError> {
    let (host, port) = (target.url.host(), target.url.port());
    match (host, port).to_socket_addrs() {
        Ok(_) => {}
        Err(e) if was_live => {
            return Err(ConnectError::Retry(format!("cannot resolve {host}: {e}")));
        }
        Err(e) => return Err(ConnectError::Fatal(format!("unknown host '{host}': {e}"))),
    }
    let timeout_ms = CONNECT_TIMEOUT.as_millis().to_string();
    let io = [
        ("connect_timeout", timeout_ms.as_str()),
        // A stalled link breaks the write after 5 s, like RTMP's rw_timeout.
        ("rw_timeout", "5000000"),
    ];
    let started = Instant::now();
    Muxer::open(
        url,
        "mpegts",
        streams,
        &io,
        &[("flush_packets", "1")],
        abort.clone(),
    )
    .map_err(|e| {
        let answered = started.elapsed() < ANSWERED_WITHIN;
        match (answered, was_live) {
            (true, false) => ConnectError::Fatal(format!(
                "the SRT listener at {host}:{port} refused the connection ({}): check the \
                     passphrase (the same on both ends) and the stream id the ingest expects",
                e.message()
            )),
            (true, true) => ConnectError::Retry(format!(
                "the SRT listener at {host}:{port} refused the connection ({})",
                e.message()
            )),
            (false, _) => ConnectError::Retry(format!(
                "no SRT listener answered at {host}:{port} (is the ingest running, and UDP \
                     port {port} open?)"
            )),
        }
    })
}
