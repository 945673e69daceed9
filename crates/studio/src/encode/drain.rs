//! Taking packets out of an encoder, written once for all of them: the video and audio
//! encoders while live and when flushed at the end, and the preview's JPEG encoder.

use crate::packet::{Packet, Track};
use ffmpeg_next as ff;
use std::sync::Arc;
use std::time::Duration;

/// Every packet `enc` has ready: after a frame, until it wants the next one; after
/// `send_eof`, until it is flushed. Each packet's bytes are copied once, into the buffer
/// every output shares. `duration` is the encoder's and `captured` zero: the caller knows
/// better where it does.
pub(crate) fn drain(
    enc: &mut ff::encoder::Encoder,
    track: Track,
) -> impl Iterator<Item = Packet> + '_ {
    std::iter::from_fn(move || {
        let mut pkt = ff::Packet::empty();
        enc.receive_packet(&mut pkt).ok()?;
        let pts = pkt.pts().unwrap_or(0);
        Some(Packet {
            track,
            data: Arc::from(pkt.data().unwrap_or(&[])),
            pts,
            dts: pkt.dts().unwrap_or(pts),
            duration: pkt.duration(),
            key: pkt.is_key(),
            captured: Duration::ZERO,
        })
    })
}
