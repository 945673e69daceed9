//! The heavy media work off the network loop, each on its own thread: the video encoder
//! (latest picture → I420 → VP8/H.264) and the return-feed video decoder (→ Y4M). The loop
//! stays free to read the socket on time, which is what the bandwidth estimate measures.

use super::files::Y4mWriter;
use super::sources::ToI420;
use crate::media::{EncodedVideo, VideoCodec, VideoDecoder, VideoEncoder};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use marquee_capture::VideoFrame;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often idle pipe threads look whether the call is over.
const IDLE: Duration = Duration::from_millis(100);
/// str0m's pacer sends at most 1.1× the bandwidth estimate and lets its queue grow to 2 s
/// before it forces it out: when the estimate falls below what the encoder makes, pictures
/// would arrive seconds late (seen: 1.8 s for half a minute on the bad network). Once the
/// oldest unsent video packet is this old, pictures are skipped before the encoder ...
const HOLD_AFTER: Duration = Duration::from_millis(150);
/// ... until it is younger than this again.
const RESUME_BELOW: Duration = Duration::from_millis(50);

/// How long the oldest video packet not yet sent on `mid` has waited in `rtc`'s pacer.
pub(crate) fn video_queued(rtc: &mut str0m::Rtc, mid: str0m::media::Mid, now: Instant) -> Duration {
    let mut api = rtc.direct_api();
    (api.stream_tx_by_mid(mid, None))
        .and_then(|s| s.queue_info())
        .and_then(|q| q.first_unsent())
        .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
}

/// One encoded frame and when its picture was taken (session time).
pub struct Encoded {
    pub frame: EncodedVideo,
    pub captured: Duration,
}

/// The video encoder's thread and the knobs the loop turns.
pub struct EncoderPipe {
    pub out: Receiver<Encoded>,
    /// Set by the loop on a PLI/FIR; the next picture is a keyframe.
    pub keyframe: Arc<AtomicBool>,
    /// The target bitrate (kbps), from the bandwidth estimate.
    pub kbps: Arc<AtomicU32>,
    /// Set while the pacer's queue is too old ([`EncoderPipe::follow_queue`]): pictures are
    /// taken and not encoded (so no reference goes missing), until it is cleared.
    hold: Arc<AtomicBool>,
    /// Pictures not encoded because of [`EncoderPipe::hold`].
    pub held: Arc<AtomicU64>,
    quit: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EncoderPipe {
    pub fn spawn(mut enc: VideoEncoder, frames: Receiver<VideoFrame>, w: u32, h: u32) -> Self {
        // A few frames of slack; if the loop falls that far behind, pictures are skipped and
        // the next one sent is a keyframe, so the host's decoder never sees a hole.
        let (tx, out): (Sender<Encoded>, _) = crossbeam_channel::bounded(8);
        let keyframe = Arc::new(AtomicBool::new(true));
        let kbps = Arc::new(AtomicU32::new(enc.bitrate()));
        let quit = Arc::new(AtomicBool::new(false));
        let (hold, held) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (k, b, q) = (keyframe.clone(), kbps.clone(), quit.clone());
        let (hd, hc) = (hold.clone(), held.clone());
        let thread = std::thread::Builder::new()
            .name("guest-video-enc".into())
            .spawn(move || {
                let mut to_i420 = ToI420::new(w, h);
                while !q.load(Ordering::Relaxed) {
                    let first = match frames.recv_timeout(IDLE) {
                        Ok(f) => f,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let frame = frames.try_iter().last().unwrap_or(first);
                    if hd.load(Ordering::Relaxed) {
                        hc.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let Some(i420) = to_i420.convert(&frame) else {
                        continue;
                    };
                    enc.set_bitrate(b.load(Ordering::Relaxed));
                    let force = k.swap(false, Ordering::Relaxed);
                    let ms = frame.captured.as_millis() as i64;
                    let Ok(out) = enc.encode(&i420, ms, force) else {
                        k.store(true, Ordering::Relaxed);
                        continue;
                    };
                    for f in out {
                        let e = Encoded {
                            frame: f,
                            captured: frame.captured,
                        };
                        if tx.try_send(e).is_err() {
                            k.store(true, Ordering::Relaxed);
                        }
                    }
                }
            })
            .expect("spawning a thread only fails when the OS is out of resources");
        Self {
            out,
            keyframe,
            kbps,
            hold,
            held,
            quit,
            thread: Some(thread),
        }
    }
}

impl EncoderPipe {
    /// Skips pictures while the pacer's queue is too old (`queued`: its oldest unsent video
    /// packet's wait, the worst of those this encode feeds), and encodes again once it has
    /// drained; says so when it turns.
    pub(crate) fn follow_queue(&self, queued: Duration) {
        let holding = self.hold.load(Ordering::Relaxed);
        if !holding && queued > HOLD_AFTER {
            tracing::info!("the network is behind ({queued:?} queued): skipping pictures");
            self.hold.store(true, Ordering::Relaxed);
        } else if holding && queued < RESUME_BELOW {
            tracing::info!("the network caught up: sending pictures again");
            self.hold.store(false, Ordering::Relaxed);
        }
    }
}

impl Drop for EncoderPipe {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The return feed's video decoder thread, writing the pictures to a Y4M file.
pub struct DecoderPipe {
    tx: Option<Sender<(VideoCodec, Arc<[u8]>)>>,
    /// Set when a frame did not decode: the loop asks the host for a keyframe.
    pub broken: Arc<AtomicBool>,
    pub errors: Arc<AtomicU64>,
    thread: Option<JoinHandle<Option<Y4mWriter>>>,
}

impl DecoderPipe {
    pub fn spawn(mut y4m: Option<Y4mWriter>) -> Self {
        let (tx, rx) = crossbeam_channel::bounded::<(VideoCodec, Arc<[u8]>)>(30);
        let broken = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let (b, e) = (broken.clone(), errors.clone());
        let thread = std::thread::Builder::new()
            .name("guest-video-dec".into())
            .spawn(move || {
                let mut dec: Option<VideoDecoder> = None;
                for (codec, data) in rx.iter() {
                    if dec.as_ref().is_none_or(|d| d.codec() != codec) {
                        dec = VideoDecoder::new(codec).ok();
                    }
                    let Some(d) = dec.as_mut() else { continue };
                    match d.decode(&data) {
                        Ok(Some(pic)) => {
                            if let Some(w) = y4m.as_mut()
                                && w.write(&pic).is_err()
                            {
                                y4m = None;
                            }
                        }
                        Ok(None) => {}
                        Err(_) => {
                            e.fetch_add(1, Ordering::Relaxed);
                            b.store(true, Ordering::Relaxed);
                        }
                    }
                }
                y4m
            })
            .expect("spawning a thread only fails when the OS is out of resources");
        Self {
            tx: Some(tx),
            broken,
            errors,
            thread: Some(thread),
        }
    }

    /// Hands a frame over; when the decoder is behind, the frame is dropped and a keyframe
    /// will be asked for.
    pub fn push(&self, codec: VideoCodec, data: Arc<[u8]>) {
        if let Some(tx) = &self.tx
            && tx.try_send((codec, data)).is_err()
        {
            self.broken.store(true, Ordering::Relaxed);
        }
    }

    /// Waits for the queued frames to be written; gives the file back to be finished.
    pub fn finish(&mut self) -> Option<Y4mWriter> {
        self.tx = None;
        self.thread.take().and_then(|t| t.join().ok()).flatten()
    }
}

impl Drop for DecoderPipe {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
