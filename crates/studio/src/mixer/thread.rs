//! The mixer thread: one AAC-sized chunk at a time on the session clock, a little behind
//! real time so every input has arrived. Each input is resampled, placed on its timeline
//! and mixed at its gain; the levels feed the meters and, for camera microphones, director
//! mode, which asks the compositor for a switch like the host would.

use super::{AudioChunk, RATE, Resampler, TimelineBuffer, levels};
use crate::compose::SceneControl;
use crate::director::Director;
use crate::stats::AudioCounters;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use marquee_capture::{AudioBlock, SessionClock};
use marquee_scene::Transition;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// One input of the mixer.
pub(crate) struct MixInput {
    pub rx: Receiver<AudioBlock>,
    /// Linear gain applied before mixing (and before the level meters).
    pub gain: f32,
    /// The scene (source id) this microphone belongs to, for director mode.
    pub scene: Option<String>,
    /// A co-stream guest's voice: left out of the host's mix (each guest's mix-minus).
    pub guest: bool,
}

/// What the mixer needs to direct.
pub(crate) struct DirectorLink {
    pub control: SceneControl,
    pub director: Director,
    pub transition: Transition,
}

/// What the mixer thread reads and writes.
pub(crate) struct Mixer {
    pub clock: SessionClock,
    pub inputs: Vec<MixInput>,
    pub encoder: Sender<AudioChunk>,
    /// Samples per channel in each chunk (the encoder's frame size).
    pub frame_size: usize,
    pub counters: Arc<AudioCounters>,
    pub link: DirectorLink,
    pub stop: Arc<AtomicBool>,
    /// Where the host's mix (the program without the guests' voices) goes, if guests are on.
    pub host_mix: Option<marquee_capture::Sink<AudioBlock>>,
}

/// One input as the mixer holds it.
struct Lane {
    guest: bool,
    rx: Receiver<AudioBlock>,
    gain: f32,
    resampler: Resampler,
    timeline: TimelineBuffer,
    scene: Option<String>,
}

impl Mixer {
    /// Runs until the session stops (or the encoder is gone).
    pub fn spawn(self) -> JoinHandle<()> {
        crate::util::spawn_thread("mixer", move || self.run())
    }

    fn run(self) {
        let Mixer {
            clock,
            inputs,
            encoder: tx,
            frame_size,
            counters,
            mut link,
            stop,
            host_mix,
        } = self;
        // The mixer runs this far behind real time so inputs have arrived when it mixes; when
        // an input is late anyway (a device delivering in bursts, a starved thread), it waits
        // longer from then on.
        const MAX_LATENCY: Duration = Duration::from_millis(500);
        let mut latency = Duration::from_millis(60);
        // Sustained drift beyond 10 ms is corrected, keeping A/V within the 10 ms budget.
        let mut lanes: Vec<Lane> = inputs
            .into_iter()
            .map(|i| Lane {
                guest: i.guest,
                rx: i.rx,
                gain: i.gain,
                resampler: Resampler::default(),
                timeline: TimelineBuffer::new(Duration::from_millis(10)),
                scene: i.scene,
            })
            .collect();
        let directed: Vec<usize> = (0..lanes.len())
            .filter(|&i| lanes[i].scene.is_some())
            .collect();
        let mut directing = false;
        let mut tmp = Vec::new();
        let mut lane_out = vec![0f32; 2 * frame_size];
        let mut lane_levels = vec![(-120f32, -120f32); lanes.len()];
        let mut director_levels = vec![-120f32; directed.len()];
        let mut pos: i64 = 0;
        let mut late = 0;
        let at = |samples: i64| Duration::from_nanos(samples as u64 * 1_000_000_000 / RATE as u64);
        while clock.sleep_until(at(pos + frame_size as i64) + latency, &stop) {
            let mut out = vec![0f32; 2 * frame_size];
            let mut host = host_mix.as_ref().map(|_| vec![0f32; 2 * frame_size]);
            for (k, lane) in lanes.iter_mut().enumerate() {
                for b in lane.rx.try_iter() {
                    tmp.clear();
                    lane.resampler.process(&b, &mut tmp);
                    let t = &lane.timeline;
                    let was = (t.padded, t.dropped, t.late);
                    lane.timeline.push(b.captured, &tmp);
                    let t = &lane.timeline;
                    if (t.padded, t.dropped, t.late) != was {
                        tracing::debug!(
                            lane = k,
                            guest = lane.guest,
                            at_ms = at(pos).as_millis() as u64,
                            stamp_ms = b.captured.as_millis() as u64,
                            padded = t.padded - was.0,
                            dropped = t.dropped - was.1,
                            late = t.late - was.2,
                            "an input's samples moved to follow its stamps"
                        );
                    }
                }
                lane_out.fill(0.0);
                let short = lane.timeline.underrun;
                lane.timeline.mix_into(pos, &mut lane_out, lane.gain);
                // (It can also fall: an input found to have stopped is not counted short.)
                if lane.timeline.underrun > short {
                    tracing::debug!(
                        lane = k,
                        guest = lane.guest,
                        at_ms = at(pos).as_millis() as u64,
                        missing = lane.timeline.underrun - short,
                        "an input had not delivered its samples when they were mixed"
                    );
                }
                lane_levels[k] = levels(&lane_out);
                for (o, x) in out.iter_mut().zip(&lane_out) {
                    *o += x;
                }
                if let Some(h) = host.as_mut().filter(|_| !lane.guest) {
                    for (o, x) in h.iter_mut().zip(&lane_out) {
                        *o += x;
                    }
                }
            }
            if let (Some(sink), Some(samples)) = (&host_mix, host) {
                sink.send(AudioBlock {
                    rate: RATE,
                    channels: 2,
                    samples,
                    captured: at(pos),
                });
            }
            let sum =
                |f: fn(&TimelineBuffer) -> u64| lanes.iter().map(|l| f(&l.timeline)).sum::<u64>();
            let total_underrun = sum(|t| t.underrun);
            // Late audio, not missing audio, makes it wait longer: an input that stopped
            // (a guest who left or was muted) is missing for good.
            let total_late = sum(|t| t.late);
            if total_late > late {
                late = total_late;
                latency = (latency + Duration::from_millis(20)).min(MAX_LATENCY);
                counters
                    .buffer_ms
                    .store(latency.as_millis() as u64, Ordering::Relaxed);
            }
            counters
                .underrun_samples
                .store(total_underrun, Ordering::Relaxed);
            let (peak, rms) = levels(&out);
            counters
                .peak_cdb
                .store((peak * 100.0) as i64, Ordering::Relaxed);
            counters
                .rms_cdb
                .store((rms * 100.0) as i64, Ordering::Relaxed);
            if let Ok(mut l) = counters.inputs.lock() {
                for (dst, (p, r)) in l.iter_mut().zip(&lane_levels) {
                    dst.peak_db = *p;
                    dst.rms_db = *r;
                }
            }
            counters
                .padded_samples
                .store(sum(|t| t.padded), Ordering::Relaxed);
            counters
                .dropped_samples
                .store(sum(|t| t.dropped), Ordering::Relaxed);
            counters.chunks.fetch_add(1, Ordering::Relaxed);
            // Director mode: levels of the camera microphones at this chunk's time.
            if !directed.is_empty() {
                let now = at(pos);
                let on = link.control.director();
                if on && !directing {
                    // Just turned on (or back on after a host's cut): the hold counts from now.
                    let on_air = link.control.on_air();
                    let current = directed
                        .iter()
                        .position(|&k| lanes[k].scene.as_deref() == Some(on_air.as_str()));
                    link.director.on_air(current, now);
                }
                directing = on;
                if on {
                    for (d, &k) in director_levels.iter_mut().zip(&directed) {
                        *d = lane_levels[k].1;
                    }
                    if let Some(i) = link.director.update(now, &director_levels)
                        && let Some(scene) = &lanes[directed[i]].scene
                        && *scene != link.control.on_air()
                    {
                        let _ = link.control.request(scene, link.transition, true);
                    }
                }
            }
            // Audio is never dropped for a momentarily busy encoder: wait for it (the input
            // buffers hold 2 s). Only an encoder stuck for a second loses a chunk.
            let chunk = AudioChunk {
                samples: out,
                pts: pos,
            };
            match tx.send_timeout(chunk, Duration::from_secs(1)) {
                Ok(()) => {}
                Err(SendTimeoutError::Timeout(_)) => {
                    counters.encoder_lag.fetch_add(1, Ordering::Relaxed);
                }
                Err(SendTimeoutError::Disconnected(_)) => break,
            }
            pos += frame_size as i64;
        }
    }
}
