//! Encoded packets as they travel from an encoder to every output: the [`PacketBus`] hands
//! each one, shared, to every [`PacketSink`] (the destinations, the recording, a replay
//! buffer…).

use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Which elementary stream a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    Video = 0,
    Audio = 1,
}

/// One encoded packet, shared by reference between outputs (never copied per output).
#[derive(Debug, Clone)]
pub struct Packet {
    pub track: Track,
    pub data: Arc<[u8]>,
    /// In the track's time base (video: 1/fps, audio: 1/48000).
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub key: bool,
    /// Session time of the frame's capture, for capture-to-socket latency.
    pub captured: Duration,
}

impl Packet {
    /// An FFmpeg packet (from an encoder or a demuxer) as ours: its bytes copied once, into
    /// the buffer every output shares; `None` when it has no timestamp at all. Every audio
    /// packet is a key (each AAC frame decodes alone). `captured` is zero: the caller knows
    /// better where it does.
    pub fn from_ff(pkt: &ffmpeg_next::Packet, track: Track) -> Option<Packet> {
        let pts = pkt.pts().or(pkt.dts())?;
        Some(Packet {
            track,
            data: Arc::from(pkt.data().unwrap_or(&[])),
            pts,
            dts: pkt.dts().unwrap_or(pts),
            duration: pkt.duration(),
            key: track == Track::Audio || pkt.is_key(),
            captured: Duration::ZERO,
        })
    }

    /// Decode time on the session clock.
    pub fn dts_time(&self, tb: (i32, i32)) -> Duration {
        let secs = self.dts.max(0) as f64 * tb.0 as f64 / tb.1 as f64;
        Duration::from_secs_f64(secs)
    }
}

/// What an output needs to describe a stream to its muxer: the opened encoder's
/// parameters (codec, size or rate, global headers) and its time base.
#[derive(Clone)]
pub struct StreamInfo {
    pub track: Track,
    pub params: ffmpeg_next::codec::Parameters,
    pub time_base: (i32, i32),
}

impl std::fmt::Debug for StreamInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInfo")
            .field("track", &self.track)
            .field("time_base", &self.time_base)
            .finish()
    }
}

/// Anything the packet bus can hand packets to.
pub trait PacketSink: Send + Sync {
    /// Takes a packet without blocking.
    fn offer(&self, p: &Packet);
}

/// Hands every encoded packet to every output; outputs can come and go while live.
#[derive(Default)]
pub struct PacketBus {
    sinks: RwLock<Vec<Arc<dyn PacketSink>>>,
}

impl PacketBus {
    pub fn add(&self, s: Arc<dyn PacketSink>) {
        self.sinks.write().expect("bus lock").push(s);
    }

    pub fn publish(&self, p: &Packet) {
        for s in self.sinks.read().expect("bus lock").iter() {
            s.offer(p);
        }
    }
}
