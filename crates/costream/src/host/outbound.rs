//! The return feed: what every guest sees and hears of the show. One small encode of the
//! program for all of them (VP8, 640×360, at most 15 pictures a second, its bitrate set by the
//! weakest guest's bandwidth estimate, a keyframe whenever any guest asks) — and a second one
//! in H.264 only while a guest that takes nothing else is connected — and one Opus mix-minus
//! per guest: the host's mix (every input but the guests') plus every other guest's voice,
//! never their own.

use crate::guest::pipes::{Encoded, EncoderPipe};
use crate::guest::sources::Blocks;
use crate::media::{AudioEncoder, VideoCodec, VideoEncoder};
use crossbeam_channel::{Receiver, Sender};
use marquee_capture::feed::Feeds;
use marquee_capture::{AudioBlock, Sink, VideoFrame};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The return picture's size and its bitrate bounds (kbit/s).
pub(crate) const RETURN_W: u32 = 640;
pub(crate) const RETURN_H: u32 = 360;
const MIN_KBPS: u32 = 150;
const START_KBPS: u32 = 600;
const MAX_KBPS: u32 = 1200;
/// Each guest's voice kept for the others' mixes (then the oldest is dropped).
const VOICE_KEEP: usize = 2 * 48_000 / 2;

/// Every guest's recent voice (48 kHz stereo), by session, for the others' mix-minus.
#[derive(Debug, Default)]
pub(crate) struct Voices {
    by_session: Mutex<HashMap<u64, VecDeque<f32>>>,
}

impl Voices {
    pub(crate) fn push(&self, session: u64, samples: &[f32]) {
        let mut v = self.by_session.lock().expect("voices");
        let q = v.entry(session).or_default();
        q.extend(samples);
        let extra = q.len().saturating_sub(VOICE_KEEP);
        q.drain(..extra);
    }

    pub(crate) fn forget(&self, session: u64) {
        self.by_session.lock().expect("voices").remove(&session);
    }

    /// The next `n` samples of every voice (silence where one has less).
    fn take(&self, n: usize) -> HashMap<u64, Vec<f32>> {
        let mut v = self.by_session.lock().expect("voices");
        v.iter_mut()
            .map(|(s, q)| {
                let mut out: Vec<f32> = q.drain(..n.min(q.len())).collect();
                out.resize(n, 0.0);
                (*s, out)
            })
            .collect()
    }
}

/// One guest's mix-minus packet, for the endpoint to send.
pub(crate) struct AudioOut {
    pub session: u64,
    pub packet: Vec<u8>,
    /// Samples (per channel) since the return audio began: the RTP time.
    pub pos: u64,
}

/// The return feed's threads and what the endpoint reads from them.
pub(crate) struct Outbound {
    /// The return picture's encodes, one per codec in use (VP8 from the start).
    video: Vec<(VideoCodec, EncoderPipe)>,
    /// Where the tee hands each program picture: one input per encode.
    inputs: Arc<TeeInputs>,
    tee: Option<JoinHandle<()>>,
    /// Codecs whose encoder would not open (said once, not tried at every turn).
    unavailable: Vec<VideoCodec>,
    pub audio: Receiver<AudioOut>,
    pub voices: Arc<Voices>,
    /// The sessions to make a mix-minus for (connected guests), kept by the endpoint.
    pub listeners: Arc<Mutex<Vec<u64>>>,
    quit: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Outbound {
    /// Attaches to the show's program and host mix (through `feeds`) and starts encoding.
    pub(crate) fn start(feeds: &Feeds) -> Self {
        let (program_sink, program) = marquee_capture::bounded::<VideoFrame>(2);
        feeds.attach_program(program_sink);
        let inputs: Arc<TeeInputs> = Arc::default();
        let (mix_sink, host_mix) = marquee_capture::bounded::<AudioBlock>(64);
        feeds.attach_host_mix(mix_sink);
        let (tx, audio) = crossbeam_channel::bounded(64);
        let voices = Arc::new(Voices::default());
        let listeners = Arc::new(Mutex::new(Vec::new()));
        let quit = Arc::new(AtomicBool::new(false));
        let tee = {
            let (inputs, quit) = (inputs.clone(), quit.clone());
            std::thread::Builder::new()
                .name("guest-return-tee".into())
                .spawn(move || tee(&program, &inputs, &quit))
                .ok()
        };
        let thread = {
            let (voices, listeners, quit) = (voices.clone(), listeners.clone(), quit.clone());
            std::thread::Builder::new()
                .name("guest-return-audio".into())
                .spawn(move || mix_minus(host_mix, &voices, &listeners, &tx, &quit))
                .ok()
        };
        let mut out = Self {
            video: Vec::new(),
            inputs,
            tee,
            unavailable: Vec::new(),
            audio,
            voices,
            listeners,
            quit,
            thread,
        };
        out.use_codecs(&[VideoCodec::Vp8]);
        out
    }

    /// Keeps an encode for each of `codecs` (VP8's is kept in any case: every browser takes
    /// it, and starting it again would cost the next guest a moment), starting the missing
    /// ones and stopping those no guest takes any longer.
    pub(crate) fn use_codecs(&mut self, codecs: &[VideoCodec]) {
        let keep = |c: VideoCodec| c == VideoCodec::Vp8 || codecs.contains(&c);
        if self.video.iter().any(|(c, _)| !keep(*c)) {
            self.inputs
                .lock()
                .expect("inputs")
                .retain(|(c, _)| keep(*c));
            self.video.retain(|(c, _)| keep(*c));
        }
        for &codec in codecs.iter().chain([&VideoCodec::Vp8]) {
            if self.video.iter().any(|(c, _)| *c == codec) || self.unavailable.contains(&codec) {
                continue;
            }
            match VideoEncoder::new(codec, RETURN_W, RETURN_H, 15, START_KBPS) {
                Ok(enc) => {
                    let (sink, frames) = marquee_capture::bounded::<VideoFrame>(2);
                    let pipe = EncoderPipe::spawn(enc, frames, RETURN_W, RETURN_H);
                    self.inputs.lock().expect("inputs").push((codec, sink));
                    self.video.push((codec, pipe));
                }
                Err(e) => {
                    tracing::warn!("no {codec} return video for guests: {e}");
                    self.unavailable.push(codec);
                }
            }
        }
    }

    /// Encoded return pictures waiting to be sent, with their codec.
    pub(crate) fn pictures(&self) -> Vec<(VideoCodec, Encoded)> {
        (self.video.iter())
            .flat_map(|(c, v)| v.out.try_iter().map(move |e| (*c, e)))
            .collect()
    }

    /// The next picture of `codec`'s encode (of every encode: None) is a keyframe.
    pub(crate) fn request_keyframe(&self, codec: Option<VideoCodec>) {
        for (_, v) in self
            .video
            .iter()
            .filter(|(c, _)| codec.is_none_or(|w| w == *c))
        {
            v.keyframe.store(true, Ordering::Relaxed);
        }
    }

    /// `codec`'s encode thins its pictures while its most held-back guest's pacer queue is too
    /// old ([`EncoderPipe::follow_queue`]).
    pub(crate) fn follow_queue(&self, codec: VideoCodec, queued: Duration) {
        if let Some((_, v)) = self.video.iter().find(|(c, _)| *c == codec) {
            let what = match codec {
                VideoCodec::Vp8 => "the guests' return feed (VP8)",
                VideoCodec::H264 => "the guests' return feed (H.264)",
            };
            v.follow_queue(what, queued);
        }
    }

    /// The weakest estimate (kbit/s) of the guests taking `codec` sets its encode's bitrate.
    pub(crate) fn set_bitrate(&self, codec: VideoCodec, weakest_kbps: u32) {
        if let Some((_, v)) = self.video.iter().find(|(c, _)| *c == codec) {
            let kbps = (weakest_kbps * 8 / 10)
                .saturating_sub(64)
                .clamp(MIN_KBPS, MAX_KBPS);
            v.kbps.store(kbps, Ordering::Relaxed);
        }
    }
}

/// Each encode's input, by codec.
type TeeInputs = Mutex<Vec<(VideoCodec, Sink<VideoFrame>)>>;

/// Hands each program picture to every encode (a copy for all but the last).
fn tee(program: &Receiver<VideoFrame>, inputs: &TeeInputs, quit: &AtomicBool) {
    while !quit.load(Ordering::Relaxed) {
        let Ok(frame) = program.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let inputs = inputs.lock().expect("inputs");
        if let Some(((_, last), others)) = inputs.split_last() {
            for (_, s) in others {
                s.send(frame.clone());
            }
            last.send(frame);
        }
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
        for t in [self.thread.take(), self.tee.take()].into_iter().flatten() {
            let _ = t.join();
        }
    }
}

/// Every 20 ms of the host's mix: each listening guest gets it plus the others' voices.
fn mix_minus(
    host_mix: Receiver<AudioBlock>,
    voices: &Voices,
    listeners: &Mutex<Vec<u64>>,
    tx: &Sender<AudioOut>,
    quit: &AtomicBool,
) {
    let mut blocks = Blocks::default();
    let mut encoders: HashMap<u64, AudioEncoder> = HashMap::new();
    let mut pos = 0u64;
    while !quit.load(Ordering::Relaxed) {
        let Ok(b) = host_mix.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        blocks.push(&b);
        while let Some(host) = blocks.next_block() {
            let n = host.len();
            let own = voices.take(n);
            let sessions = listeners.lock().expect("listeners").clone();
            encoders.retain(|s, _| sessions.contains(s));
            for s in sessions {
                let mut out = host.clone();
                for (other, voice) in &own {
                    if *other != s {
                        for (o, v) in out.iter_mut().zip(voice) {
                            *o += v;
                        }
                    }
                }
                for o in &mut out {
                    *o = o.clamp(-1.0, 1.0);
                }
                let enc = match encoders.entry(s) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => match AudioEncoder::new(64) {
                        Ok(enc) => e.insert(enc),
                        Err(err) => {
                            tracing::warn!("no return audio for guests: {err}");
                            return;
                        }
                    },
                };
                if let Ok(packet) = enc.encode(&out) {
                    let _ = tx.try_send(AudioOut {
                        session: s,
                        packet,
                        pos,
                    });
                }
            }
            pos += (n / 2) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_is_taken_once_and_padded_with_silence() {
        let v = Voices::default();
        v.push(1, &[0.5; 6]);
        let a = v.take(4);
        assert_eq!(a[&1], [0.5; 4]);
        let b = v.take(4);
        assert_eq!(b[&1], [0.5, 0.5, 0.0, 0.0]);
        v.forget(1);
        assert!(v.take(4).is_empty());
    }
}
