//! The heavy media work off the network loop, each on its own thread: the video encoder
//! (latest picture → I420 → VP8/H.264) and the return-feed video decoder (→ Y4M). The loop
//! stays free to read the socket on time, which is what the bandwidth estimate measures.

use super::files::Y4mWriter;
use super::sources::ToI420;
use crate::media::{EncodedVideo, VideoCodec, VideoDecoder, VideoEncoder};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use marquee_capture::VideoFrame;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often idle pipe threads look whether the call is over.
const IDLE: Duration = Duration::from_millis(100);
/// How much of the camera's pictures an encoder takes, by how long str0m's pacer has held its
/// oldest unsent video packet. The pacer sends at most 1.1× the bandwidth estimate and lets
/// its queue grow to 2 s before it forces it out: when the estimate falls below what the
/// encoder makes, pictures would arrive seconds late (seen: 1.8 s for half a minute on the bad
/// network). Skipping every picture until the queue drained instead froze the picture for over
/// half a second at a low estimate, so the encoder first thins the pictures out and stops only
/// when the queue keeps growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Thinning {
    All = 0,
    /// One picture each [`Thinning::EVERY`].
    Some = 1,
    None = 2,
}

impl Thinning {
    /// Thin out past this much queued ...
    const AFTER: Duration = Duration::from_millis(150);
    /// ... stop past this ...
    const STOP_AFTER: Duration = Duration::from_millis(400);
    /// ... thin again below this ...
    const THIN_BELOW: Duration = Duration::from_millis(250);
    /// ... and take every picture again below this.
    const RESUME_BELOW: Duration = Duration::from_millis(50);
    /// While thinning, a picture this long after the last one taken.
    const EVERY: Duration = Duration::from_millis(250);

    fn next(self, queued: Duration) -> Thinning {
        match self {
            _ if queued > Self::STOP_AFTER => Thinning::None,
            Thinning::All if queued > Self::AFTER => Thinning::Some,
            Thinning::Some | Thinning::None if queued < Self::RESUME_BELOW => Thinning::All,
            Thinning::None if queued < Self::THIN_BELOW => Thinning::Some,
            s => s,
        }
    }

    fn from_u8(v: u8) -> Thinning {
        match v {
            0 => Thinning::All,
            1 => Thinning::Some,
            _ => Thinning::None,
        }
    }

    /// Whether a picture taken at `at` is encoded, the last one encoded taken at `last`.
    fn takes(self, at: Duration, last: Option<Duration>) -> bool {
        match self {
            Thinning::All => true,
            Thinning::Some => last.is_none_or(|l| at >= l + Self::EVERY),
            Thinning::None => false,
        }
    }
}

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
    /// The [`Thinning`] in force ([`EncoderPipe::follow_queue`]): the pictures left out are
    /// never encoded, so no reference goes missing.
    thinning: Arc<AtomicU8>,
    /// Pictures not encoded because of the thinning.
    pub left_out: Arc<AtomicU64>,
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
        let (thinning, left_out) = (Arc::new(AtomicU8::new(0)), Arc::new(AtomicU64::new(0)));
        let (k, b, q) = (keyframe.clone(), kbps.clone(), quit.clone());
        let (th, lo) = (thinning.clone(), left_out.clone());
        let thread = std::thread::Builder::new()
            .name("guest-video-enc".into())
            .spawn(move || {
                let mut to_i420 = ToI420::new(w, h);
                let mut last_taken: Option<Duration> = None;
                while !q.load(Ordering::Relaxed) {
                    let first = match frames.recv_timeout(IDLE) {
                        Ok(f) => f,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let frame = frames.try_iter().last().unwrap_or(first);
                    if !Thinning::from_u8(th.load(Ordering::Relaxed))
                        .takes(frame.captured, last_taken)
                    {
                        lo.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    last_taken = Some(frame.captured);
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
            thinning,
            left_out,
            quit,
            thread: Some(thread),
        }
    }
}

impl EncoderPipe {
    /// Thins out the pictures while the pacer's queue is too old (`queued`: its oldest unsent
    /// video packet's wait, the worst of those this encode feeds: [`Thinning`]); says so when
    /// it turns, naming the encode (`what`).
    pub(crate) fn follow_queue(&self, what: &str, queued: Duration) {
        let now = Thinning::from_u8(self.thinning.load(Ordering::Relaxed));
        let next = now.next(queued);
        if next != now {
            let ms = queued.as_millis();
            match next {
                Thinning::All => tracing::info!("{what}: the network caught up ({ms} ms queued)"),
                Thinning::Some => tracing::info!(
                    "{what}: the network is behind ({ms} ms queued): 4 pictures a second"
                ),
                Thinning::None => tracing::info!(
                    "{what}: the network is far behind ({ms} ms queued): pictures paused"
                ),
            }
            self.thinning.store(next as u8, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::Thinning;
    use std::time::Duration;

    const fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn an_old_pacer_queue_thins_the_pictures_then_stops_them_and_a_drained_one_takes_all_again() {
        let mut t = Thinning::All;
        let mut seen = Vec::new();
        for q in [0, 100, 160, 300, 420, 300, 240, 100, 40, 120] {
            t = t.next(ms(q));
            seen.push(t);
        }
        use Thinning::{All, None, Some};
        assert_eq!(
            seen,
            [All, All, Some, Some, None, None, Some, Some, All, All]
        );
    }

    #[test]
    fn thinning_takes_a_picture_every_quarter_second() {
        let taken: Vec<u64> = (0..30u64)
            .scan(Option::<Duration>::None, |last, i| {
                let at = ms(i * 33);
                let take = Thinning::Some.takes(at, *last);
                if take {
                    *last = Some(at);
                }
                Some(take.then_some(i))
            })
            .flatten()
            .collect();
        assert_eq!(taken, [0, 8, 16, 24]);
        assert!(Thinning::All.takes(ms(1), Some(ms(0))));
        assert!(!Thinning::None.takes(ms(10_000), Some(ms(0))));
    }
}
