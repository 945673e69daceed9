//! Taking packets out of an encoder, written once for all of them: the video and audio
//! encoders while live and when flushed at the end, the preview's JPEG encoder, and the
//! highlights' re-encodes (accurate cuts, vertical export, synthetic sessions).

use crate::packet::{Packet, Track};
use ffmpeg_next as ff;

/// Every packet `enc` has ready: after a frame, until it wants the next one; after
/// `send_eof`, until it is flushed (see [`Packet::from_ff`]; an encoder's packets always
/// carry a time).
pub fn drain(enc: &mut ff::encoder::Encoder, track: Track) -> impl Iterator<Item = Packet> + '_ {
    std::iter::from_fn(move || {
        let mut pkt = ff::Packet::empty();
        loop {
            enc.receive_packet(&mut pkt).ok()?;
            if let Some(p) = Packet::from_ff(&pkt, track) {
                return Some(p);
            }
        }
    })
}
