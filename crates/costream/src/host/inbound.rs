//! A guest's media on its way into the show: the endpoint hands each depacketized frame to
//! a bounded queue (dropped and counted when the decoder is behind; after a lost or dropped
//! picture the next ones wait for a keyframe, [`KeyGate`]); one thread decodes the
//! video into the guest's feed (the compositor's "latest frame"), one decodes the voice,
//! conceals lost packets, and places it by RTP time (the feed's consumer puts it on the
//! session clock).

use super::playout::{Playout, quantile};
use super::state::{Picture, Switches};
use crate::media::{AudioDecoder, VideoCodec, VideoDecoder};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use marquee_capture::feed::{Feed, FeedAudio, FeedFrame};
use marquee_capture::remote_latency::LatencyGauge;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use str0m::format::Codec;
use str0m::media::{MediaData, Mid};

/// Opus frames are 20 ms in WebRTC; a gap of up to this many is concealed, a longer one
/// (the guest muted their track, a reconnect) starts a new time.
const MAX_CONCEALED: u64 = 10;
const PACKET: Duration = Duration::from_millis(20);

/// Depacketized pictures waiting for the decoder: at least str0m's video reordering window
/// (30 frames), which it releases at once when a late packet completes them; a smaller
/// queue dropped the bunch, and every drop costs a keyframe round trip ([`KeyGate`]).
const DECODE_QUEUE: usize = 32;
/// Decoded pictures waiting for their time at most (the playout delay is capped at 100 ms:
/// 6 pictures at 60 fps); past it the oldest goes at once.
const MAX_HELD: usize = 8;

/// What a guest's decoders counted (for the host's quality display).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    frames: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    bytes: AtomicU64,
    /// Bytes and time at the last rate reading.
    window: std::sync::Mutex<(u64, Option<Instant>, u32)>,
    /// The latest picture's path on this side, µs ([`Counters::path_ms`]); `u64::MAX`: none.
    path_us: AtomicU64,
}

impl Counters {
    pub(crate) fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// How late the latest picture was ready for the program after the guest sent it, less
    /// the network's one-way delay (the caller adds half the round trip): how much later than
    /// the best of the last minute it arrived against its RTP time (jitter, a queue on the
    /// way; [`LatencyGauge`]) plus its wait for its last packet and its decoding. None before
    /// the first picture.
    pub(crate) fn path_ms(&self) -> Option<f64> {
        let us = self.path_us.load(Ordering::Relaxed);
        (us != u64::MAX).then(|| us as f64 / 1000.0)
    }
    /// Incoming kbit/s since the last reading (read about once a second).
    pub(crate) fn kbps(&self) -> u32 {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let mut w = self.window.lock().expect("rate window");
        let now = Instant::now();
        if let Some(t) = w.1 {
            let secs = now.duration_since(t).as_secs_f64();
            if secs >= 0.2 {
                w.2 = ((bytes - w.0) as f64 * 8.0 / 1000.0 / secs) as u32;
                *w = (bytes, Some(now), w.2);
            }
        } else {
            *w = (bytes, Some(now), 0);
        }
        w.2
    }
}

struct VideoIn {
    codec: VideoCodec,
    data: Arc<[u8]>,
    /// When its first packet arrived.
    arrived: Instant,
    /// Its RTP time, seconds.
    sent_s: f64,
    /// When the guest captured it, on the guest's wall clock ([`captured_unix_s`]).
    captured_unix_s: Option<f64>,
}

struct AudioIn {
    data: Arc<[u8]>,
    media_time: Duration,
    arrived: Instant,
    captured_unix_s: Option<f64>,
}

/// When the sender captured `d`, seconds on its wall clock: its RTP time mapped through the
/// sender's latest report (RTCP SR: a wall-clock time and the RTP time of the same instant,
/// one clock for all of a sender's tracks). None before the first report, or when the two RTP
/// times are implausibly far apart.
fn captured_unix_s(d: &MediaData) -> Option<f64> {
    // RTP time 0: a str0m sender whose last write was stamped ahead of its clock says that.
    let sr = d.last_sender_info.filter(|sr| sr.rtp_time.numer() != 0)?;
    let since = d.time.as_seconds() - sr.rtp_time.as_seconds();
    if since.abs() > 60.0 {
        return None;
    }
    let ntp = sr.ntp_time.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    Some(ntp + since)
}

fn unix_now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Lip sync: how long after the guest captured it the latest picture went to the program
/// (our wall clock less theirs: the two clocks' offset cancels out, since the voice is
/// measured the same way). The voice is then placed that long after its own capture, so a
/// word meets the picture of the mouth saying it.
///
/// The pictures' lag is the median of the last [`LAG_OF`] (one picture's decode or one late
/// picture must not move the voice).
#[derive(Debug)]
struct Lag {
    median: AtomicU64,
    recent: std::sync::Mutex<VecDeque<f64>>,
}

const LAG_OF: usize = 31;

impl Default for Lag {
    fn default() -> Self {
        Self {
            median: AtomicU64::new(f64::NAN.to_bits()),
            recent: std::sync::Mutex::new(VecDeque::with_capacity(LAG_OF)),
        }
    }
}

impl Lag {
    /// A picture went to the program `s` after it was captured.
    fn picture(&self, s: f64) {
        let mut recent = self.recent.lock().expect("lag");
        if recent.len() == LAG_OF {
            recent.pop_front();
        }
        recent.push_back(s);
        if let Some(m) = quantile(recent.iter().copied(), 0.5) {
            self.median.store(m.to_bits(), Ordering::Relaxed);
        }
    }

    fn get(&self) -> Option<f64> {
        Some(f64::from_bits(self.median.load(Ordering::Relaxed))).filter(|s| s.is_finite())
    }

    /// When a voice block captured at `captured_unix_s` should be heard to meet its picture:
    /// the picture's lag after its capture, as an instant; its arrival when either is unknown,
    /// when that is earlier (the voice cannot be heard before it came), or implausibly late.
    /// `now` and `unix_now_s` are the same moment on the two clocks.
    fn meet_the_picture(
        &self,
        arrived: Instant,
        captured_unix_s: Option<f64>,
        now: Instant,
        unix_now_s: f64,
    ) -> Instant {
        let (Some(c), Some(lag)) = (captured_unix_s, self.get()) else {
            return arrived;
        };
        let wait = c + lag - unix_now_s;
        if !(0.0..=MAX_LIP_SYNC_WAIT_S).contains(&wait) {
            return arrived;
        }
        (now + Duration::from_secs_f64(wait)).max(arrived)
    }
}

/// The most a voice block is held back for its picture (past it the reports are off).
const MAX_LIP_SYNC_WAIT_S: f64 = 0.5;

/// After a picture was lost on the way or dropped here, the pictures that follow refer to it
/// and decode into garbage (the decoder rarely notices) until a keyframe: they are held back,
/// so the program keeps the guest's last good picture, and a keyframe is asked for. Without
/// this, one dropped picture smeared the guest until the next periodic keyframe (4 s).
#[derive(Debug, Default)]
pub(crate) struct KeyGate {
    waiting: bool,
}

impl KeyGate {
    /// Whether a picture goes to the decoder: `contiguous` is false when pictures were lost
    /// before it, `key` when it is a keyframe.
    pub(crate) fn admit(&mut self, contiguous: bool, key: bool) -> bool {
        if key {
            self.waiting = false;
        } else if !contiguous {
            self.waiting = true;
        }
        !self.waiting
    }

    /// An admitted picture could not be queued: the next ones wait for a keyframe.
    pub(crate) fn dropped(&mut self) {
        self.waiting = true;
    }
}

/// The endpoint's side of a guest's decoders.
pub(crate) struct Inbound {
    video: Sender<VideoIn>,
    audio: Sender<AudioIn>,
    counters: Arc<Counters>,
    wish_keyframe: Arc<AtomicBool>,
    gate: KeyGate,
    video_mid: Option<Mid>,
    /// RTP time (µs) of the first audio packet: media time counts from it.
    audio_origin: Option<u64>,
}

pub(crate) fn spawn(
    feed: Arc<Feed>,
    switches: Arc<Switches>,
    session: u64,
    voices: Arc<super::outbound::Voices>,
) -> Inbound {
    let (vtx, vrx) = crossbeam_channel::bounded(DECODE_QUEUE);
    let (atx, arx) = crossbeam_channel::bounded(50);
    let counters = Arc::new(Counters {
        path_us: AtomicU64::new(u64::MAX),
        ..Counters::default()
    });
    let wish = Arc::new(AtomicBool::new(false));
    let lag = Arc::new(Lag::default());
    {
        let (feed, switches, counters, wish, lag) = (
            feed.clone(),
            switches.clone(),
            counters.clone(),
            wish.clone(),
            lag.clone(),
        );
        let _ = std::thread::Builder::new()
            .name("guest-video".into())
            .spawn(move || video_thread(vrx, feed, switches, counters, wish, &lag));
    }
    {
        let counters = counters.clone();
        let _ = std::thread::Builder::new()
            .name("guest-audio".into())
            .spawn(move || audio_thread(arx, feed, switches, counters, session, &voices, &lag));
    }
    Inbound {
        video: vtx,
        audio: atx,
        counters,
        wish_keyframe: wish,
        gate: KeyGate::default(),
        video_mid: None,
        audio_origin: None,
    }
}

impl Inbound {
    /// One depacketized frame from the guest. Returns true when the video needs a keyframe
    /// (a picture was lost or dropped: the next ones are held back until one comes).
    pub(crate) fn media(&mut self, d: MediaData) -> bool {
        self.counters
            .bytes
            .fetch_add(d.data.len() as u64, Ordering::Relaxed);
        let codec = match d.params.spec().codec {
            Codec::Vp8 => Some(VideoCodec::Vp8),
            Codec::H264 => Some(VideoCodec::H264),
            Codec::Opus => None,
            _ => return false,
        };
        let sent = match codec {
            Some(codec) => {
                self.video_mid = Some(d.mid);
                if !self.gate.admit(d.contiguous, d.is_keyframe()) {
                    self.count(false);
                    return true;
                }
                let captured_unix_s = captured_unix_s(&d);
                let sent = self
                    .video
                    .try_send(VideoIn {
                        codec,
                        captured_unix_s,
                        data: d.data,
                        arrived: d.network_time,
                        sent_s: d.time.as_micros() as f64 / 1e6,
                    })
                    .is_ok();
                if !sent {
                    self.gate.dropped();
                    self.count(false);
                    return true;
                }
                true
            }
            None => {
                let t = d.time.as_micros();
                let origin = *self.audio_origin.get_or_insert(t);
                let captured_unix_s = captured_unix_s(&d);
                self.audio
                    .try_send(AudioIn {
                        captured_unix_s,
                        data: d.data,
                        media_time: Duration::from_micros(t.saturating_sub(origin)),
                        arrived: d.network_time,
                    })
                    .is_ok()
            }
        };
        self.count(sent);
        false
    }

    fn count(&self, sent: bool) {
        if !sent {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    pub(crate) fn video_mid(&self) -> Option<Mid> {
        self.video_mid
    }

    /// The decoder failed since the last call: ask the guest for a keyframe.
    pub(crate) fn take_keyframe_wish(&self) -> bool {
        self.wish_keyframe.swap(false, Ordering::Relaxed)
    }
}

fn video_thread(
    rx: Receiver<VideoIn>,
    feed: Arc<Feed>,
    switches: Arc<Switches>,
    counters: Arc<Counters>,
    wish: Arc<AtomicBool>,
    lag: &Lag,
) {
    let mut decoder: Option<(VideoCodec, VideoDecoder)> = None;
    let origin = Instant::now();
    let secs = |t: Instant| t.saturating_duration_since(origin).as_secs_f64();
    // WebRTC holds nothing back on purpose: no window, only what the way in adds.
    let mut gauge = LatencyGauge::new(0);
    let mut playout = Playout::default();
    // Decoded pictures waiting for their time (`Playout`), oldest first.
    let mut held: VecDeque<Held> = VecDeque::new();
    loop {
        let next = match held.front() {
            Some(h) => {
                let wait = (h.due - secs(Instant::now())).max(0.0);
                rx.recv_timeout(Duration::from_secs_f64(wait))
            }
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(v) => {
                if let Some(h) = decode(&mut decoder, v, &feed, &switches, &counters, &wish) {
                    let due = playout.due(h.sent_s, secs(h.arrived));
                    if held.len() == MAX_HELD {
                        let first = held.pop_front().expect("held is full");
                        show(first, &mut gauge, &feed, &switches, &counters, lag, secs);
                    }
                    held.push_back(Held { due, ..h });
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = secs(Instant::now());
        while held.front().is_some_and(|h| h.due <= now) {
            let h = held.pop_front().expect("a due picture");
            show(h, &mut gauge, &feed, &switches, &counters, lag, secs);
        }
    }
}

/// A decoded picture waiting for its time to go to the program.
struct Held {
    frame: FeedFrame,
    /// Its first packet's arrival and its RTP time (s), for the latency gauge.
    arrived: Instant,
    sent_s: f64,
    captured_unix_s: Option<f64>,
    /// When it goes, seconds on the thread's clock.
    due: f64,
}

/// Decodes one picture (the green room's thumbnail takes it at once); None when the decoder
/// gave nothing (buffering, or an error: then a keyframe is wished for).
fn decode(
    decoder: &mut Option<(VideoCodec, VideoDecoder)>,
    v: VideoIn,
    feed: &Feed,
    switches: &Switches,
    counters: &Counters,
    wish: &AtomicBool,
) -> Option<Held> {
    if decoder.as_ref().is_none_or(|(c, _)| *c != v.codec) {
        match VideoDecoder::new(v.codec) {
            Ok(d) => *decoder = Some((v.codec, d)),
            Err(e) => {
                tracing::warn!("{}: {e}", feed.name());
                counters.errors.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
    }
    let (_, dec) = decoder.as_mut()?;
    match dec.decode(&v.data) {
        Ok(Some(pic)) => {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            if switches.peek.wants_picture() {
                switches.peek.keep_picture(Picture {
                    width: pic.width,
                    height: pic.height,
                    i420: Arc::new(pic.i420.clone()),
                });
            }
            Some(Held {
                frame: FeedFrame {
                    width: pic.width,
                    height: pic.height,
                    i420: pic.i420,
                    arrived: v.arrived,
                },
                arrived: v.arrived,
                sent_s: v.sent_s,
                captured_unix_s: v.captured_unix_s,
                due: 0.0,
            })
        }
        Ok(None) => None,
        Err(e) => {
            tracing::debug!("{}: {e}", feed.name());
            counters.errors.fetch_add(1, Ordering::Relaxed);
            wish.store(true, Ordering::Relaxed);
            None
        }
    }
}

/// A picture's time has come: into the program (when the guest is on air and shown), its
/// path — held time included — into the host's latency estimate, and how long after its
/// capture it went to the voice ([`Lag`]).
fn show(
    h: Held,
    gauge: &mut LatencyGauge,
    feed: &Feed,
    switches: &Switches,
    counters: &Counters,
    lag: &Lag,
    secs: impl Fn(Instant) -> f64,
) {
    if let Some(c) = h.captured_unix_s {
        lag.picture(unix_now_s() - c);
    }
    let now = Instant::now();
    let path_ms = gauge.picture(secs(h.arrived), h.sent_s, secs(now));
    counters
        .path_us
        .store((path_ms * 1000.0) as u64, Ordering::Relaxed);
    if switches.on_air.load(Ordering::Relaxed) && !switches.hidden.load(Ordering::Relaxed) {
        feed.push_video(FeedFrame {
            arrived: now,
            ..h.frame
        });
    }
}

fn audio_thread(
    rx: Receiver<AudioIn>,
    feed: Arc<Feed>,
    switches: Arc<Switches>,
    counters: Arc<Counters>,
    session: u64,
    voices: &super::outbound::Voices,
    lag: &Lag,
) {
    let mut decoder = match AudioDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("{}: {e}", feed.name());
            return;
        }
    };
    let mut next: Option<Duration> = None;
    while let Ok(a) = rx.recv() {
        let audible =
            switches.on_air.load(Ordering::Relaxed) && !switches.muted.load(Ordering::Relaxed);
        let arrived =
            lag.meet_the_picture(a.arrived, a.captured_unix_s, Instant::now(), unix_now_s());
        // Lost packets: concealed so the voice does not click, up to MAX_CONCEALED.
        if let Some(expected) = next
            && a.media_time > expected
        {
            let missing = ((a.media_time - expected).as_micros() / PACKET.as_micros()) as u64;
            if missing <= MAX_CONCEALED {
                for i in 0..missing {
                    let mut samples = decoder.conceal();
                    if audible {
                        scale(&mut samples, switches.gain());
                        voices.push(session, &samples);
                        feed.push_audio(FeedAudio {
                            samples,
                            media_time: expected + PACKET * i as u32,
                            arrived,
                        });
                    }
                }
            }
        }
        match decoder.decode(&a.data) {
            Ok(mut samples) => {
                switches.peek.heard(&samples);
                scale(&mut samples, switches.gain());
                let frames = samples.len() / 2;
                next =
                    Some(a.media_time + Duration::from_micros(frames as u64 * 1_000_000 / 48_000));
                if audible {
                    voices.push(session, &samples);
                    feed.push_audio(FeedAudio {
                        samples,
                        media_time: a.media_time,
                        arrived,
                    });
                }
            }
            Err(e) => {
                tracing::debug!("{}: {e}", feed.name());
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The host's volume for this guest.
fn scale(samples: &mut [f32], gain: f32) {
    if gain != 1.0 {
        for s in samples {
            *s *= gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeyGate;

    #[test]
    fn the_voice_waits_as_long_after_its_capture_as_the_pictures_did_after_theirs() {
        use super::Lag;
        use std::time::{Duration, Instant};
        let lag = Lag::default();
        // The same moment on the two clocks.
        let (now, unix) = (Instant::now(), 1_800_000_000.0);
        let meet = |captured| lag.meet_the_picture(now, captured, now, unix);
        // No picture yet, or no sender report: heard as it came.
        assert_eq!(meet(Some(unix)), now);
        for s in [0.09, 0.1, 0.1, 0.5, 0.11] {
            lag.picture(s);
        }
        assert_eq!(meet(None), now);
        // Pictures go 100 ms after capture (the median: one late picture does not count); a
        // voice block captured 30 ms ago waits 70 ms more.
        let wait = meet(Some(unix - 0.03)).duration_since(now);
        assert!(
            wait.abs_diff(Duration::from_millis(70)) < Duration::from_micros(10),
            "{wait:?}"
        );
        // Already later than its picture, or reports that make no sense: as it came.
        assert_eq!(meet(Some(unix - 0.5)), now);
        assert_eq!(meet(Some(unix + 30.0)), now);
    }

    #[test]
    fn after_a_lost_picture_the_next_ones_wait_for_a_keyframe() {
        let mut g = KeyGate::default();
        assert!(g.admit(true, true));
        assert!(g.admit(true, false));
        // Pictures were lost before this one: held back, and so are the ones after it.
        assert!(!g.admit(false, false));
        assert!(!g.admit(true, false));
        // The keyframe that was asked for opens the gate again.
        assert!(g.admit(true, true));
        assert!(g.admit(true, false));
    }

    #[test]
    fn a_picture_dropped_because_the_decoder_was_behind_closes_the_gate_until_a_keyframe() {
        let mut g = KeyGate::default();
        assert!(g.admit(true, false));
        g.dropped();
        assert!(!g.admit(true, false));
        // A keyframe after a loss (not contiguous) is still whole: it goes through.
        assert!(g.admit(false, true));
    }
}
