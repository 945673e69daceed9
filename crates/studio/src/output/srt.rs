//! SRT output (caller mode, MPEG-TS) through FFmpeg's libsrt. The reconnect loop, the
//! queue and its drop policy are the RTMP output's; only connecting differs.
//!
//! Congestion must reach our queue, as it does for RTMP (a small kernel send buffer): by
//! default SRT would take every write into a sender buffer of seconds and, the link being too
//! narrow, drop packets that are too late on either end (a broken picture at the ingest,
//! while the queue, the drop policy and adaptive bitrate see nothing wrong). So the sender
//! buffer is small and too-late packets are not dropped: a narrow link makes writes wait, the
//! queue grows, adaptive bitrate steps down and the drop policy drops whole frames. A URL that
//! sets `sndbuf` or `tlpktdrop` itself keeps its own.
//!
//! libsrt tells FFmpeg nothing but "Input/output error" whether the listener rejected us (a
//! wrong passphrase or stream id) or never answered; the time it took tells them apart: a
//! rejection comes back within a round trip, silence only when the connect timeout ends.

use crate::output::mux::Muxer;
use crate::packet::StreamInfo;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// SRT's sender buffer, in bytes (RTMP's kernel send buffer is as small, for the same reason).
const SEND_BUFFER: &str = "262144";

/// How long a caller waits for the listener's answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A failure this much before the timeout was an answer: the listener said no.
const ANSWERED_WITHIN: Duration = Duration::from_millis(2500);

/// Why connecting failed, in a streamer's words (never a secret).
pub(super) struct Refused {
    /// It can never work as configured: stop trying.
    pub fatal: bool,
    pub reason: String,
}

fn refused(fatal: bool, reason: String) -> Refused {
    Refused { fatal, reason }
}

/// Connects to the listener at `host:port` with the full `url` (its secrets in it).
pub(super) fn connect(
    host: &str,
    port: u16,
    url: &str,
    streams: &[StreamInfo],
    abort: &Arc<AtomicBool>,
    was_live: bool,
) -> Result<Muxer, Refused> {
    if let Err(e) = (host, port).to_socket_addrs() {
        return Err(match was_live {
            true => refused(false, format!("cannot resolve {host}: {e}")),
            false => refused(true, format!("unknown host '{host}': {e}")),
        });
    }
    let mut url = url.to_string();
    for (k, v) in [("sndbuf", SEND_BUFFER), ("tlpktdrop", "0")] {
        let set = url
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|i| i.split('=').next() == Some(k)));
        if !set {
            url.push_str(&format!("&{k}={v}"));
        }
    }
    let timeout_ms = CONNECT_TIMEOUT.as_millis().to_string();
    let io = [
        ("connect_timeout", timeout_ms.as_str()),
        // A stalled link breaks the write after 5 s, like RTMP's rw_timeout.
        ("rw_timeout", "5000000"),
    ];
    let started = Instant::now();
    // A video PES with its length lets the receiver's demuxer hand each picture on as soon
    // as it is in, not when the next one starts (a frame interval of latency).
    let mux_opts = [("flush_packets", "1"), ("omit_video_pes_length", "0")];
    Muxer::open(&url, "mpegts", streams, &io, &mux_opts, abort.clone()).map_err(|e| {
        let answered = started.elapsed() < ANSWERED_WITHIN;
        let why = e.message();
        match (answered, was_live) {
            (true, false) => refused(
                true,
                format!(
                    "the SRT listener at {host}:{port} refused the connection ({why}): check \
                     the passphrase (the same on both ends) and the stream id the ingest expects"
                ),
            ),
            (true, true) => refused(
                false,
                format!("the SRT listener at {host}:{port} refused the connection ({why})"),
            ),
            (false, _) => refused(
                false,
                format!(
                    "no SRT listener answered at {host}:{port} (is the ingest running, and UDP \
                     port {port} open?)"
                ),
            ),
        }
    })
}
