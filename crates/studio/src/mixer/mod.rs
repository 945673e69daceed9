//! The audio mixer: every input is converted to 48 kHz stereo, placed on the session
//! timeline by its capture stamps, and mixed in AAC-sized chunks whose PTS is the sample
//! count. A stalled input becomes silence; a drifting device clock is corrected by
//! padding or dropping, so audio never drifts from video. The mixer thread (which also
//! drives director mode from the camera microphones' levels) is in `thread.rs`.

pub(crate) mod thread;

use marquee_capture::AudioBlock;
use std::collections::VecDeque;
use std::time::Duration;

/// The mixer's (and the encoder's) sample rate.
pub const RATE: u32 = 48_000;

/// Mixed audio on its way to the encoder.
pub(crate) struct AudioChunk {
    /// Interleaved stereo at [`RATE`], one encoder frame long.
    pub samples: Vec<f32>,
    /// Timeline index of the first sample (the audio PTS).
    pub pts: i64,
}

/// Converts interleaved samples of any rate/layout to 48 kHz stereo. Cubic (Catmull-Rom)
/// interpolation: cheap, and clean enough for speech at the common 44.1→48 kHz step;
/// devices are opened at 48 kHz when they offer it, so this rarely runs.
#[derive(Debug, Default)]
pub struct Resampler {
    rate: u32,
    /// Fractional read position into `hist` for the next output sample.
    pos: f64,
    /// Recent stereo input frames (kept for interpolation across block edges).
    hist: Vec<[f32; 2]>,
}

impl Resampler {
    /// Stereo frames of `block`, as [L, R], at the block's own rate.
    fn to_stereo(block: &AudioBlock) -> impl Iterator<Item = [f32; 2]> + '_ {
        let ch = block.channels.max(1) as usize;
        block.samples.chunks_exact(ch).map(move |f| match ch {
            1 => [f[0], f[0]],
            _ => [f[0], f[1]],
        })
    }

    /// Appends the block's audio as 48 kHz stereo interleaved samples to `out`.
    pub fn process(&mut self, block: &AudioBlock, out: &mut Vec<f32>) {
        if block.rate == RATE {
            self.hist.clear();
            self.pos = 0.0;
            for [l, r] in Self::to_stereo(block) {
                out.push(l);
                out.push(r);
            }
            return;
        }
        if block.rate != self.rate {
            self.rate = block.rate;
            self.hist.clear();
            self.pos = 1.0;
        }
        if self.hist.is_empty() {
            // Prime with one frame of history so the first output has a left neighbour.
            if let Some(first) = Self::to_stereo(block).next() {
                self.hist.push(first);
            }
        }
        self.hist.extend(Self::to_stereo(block));
        let step = block.rate as f64 / RATE as f64;
        // Need hist[i-1], hist[i], hist[i+1], hist[i+2].
        while self.pos + 2.0 < self.hist.len() as f64 {
            let i = self.pos.floor() as usize;
            let t = (self.pos - i as f64) as f32;
            let p0 = self.hist[i.saturating_sub(1)];
            let (p1, p2, p3) = (self.hist[i], self.hist[i + 1], self.hist[i + 2]);
            for c in 0..2 {
                let (a, b, cc, d) = (p0[c], p1[c], p2[c], p3[c]);
                let v = b + 0.5
                    * t
                    * (cc - a
                        + t * (2.0 * a - 5.0 * b + 4.0 * cc - d + t * (3.0 * (b - cc) + d - a)));
                out.push(v);
            }
            self.pos += step;
        }
        // Keep what the next block's interpolation still needs.
        let keep_from = (self.pos.floor() as usize).saturating_sub(1);
        self.hist.drain(..keep_from);
        self.pos -= keep_from as f64;
    }
}

/// One input's samples placed on the session timeline (sample index = session time × 48 kHz).
/// Sans-IO: blocks and their stamps in, samples for a timeline range out.
///
/// Blocks are appended back to back; stamps only steer. Each block's drift (stamp minus
/// where it lands) feeds a moving average, and when that average leaves ±`tolerance` the
/// buffer pads silence (device clock slow, samples lost) or drops samples (clock fast) by
/// that much. A jump beyond `resync` (a stalled or restarted device) is corrected at once.
/// So callback jitter and late bursts never cut the audio, and drift stays bounded.
#[derive(Debug)]
pub struct TimelineBuffer {
    /// Timeline index of `buf[0]` (stereo frames).
    start: i64,
    buf: VecDeque<[f32; 2]>,
    tolerance: f64,
    resync: i64,
    /// Moving average of drift, in frames.
    drift: f64,
    /// Most frames held (bounds memory if the mixer stops pulling).
    cap: usize,
    started: bool,
    /// Timeline index the mixer has consumed up to.
    consumed: i64,
    /// Drift is not corrected before this index (device settling after start).
    warmup_until: i64,
    pub padded: u64,
    pub dropped: u64,
    /// Frames the mixer wanted after the input started but the input had not delivered (not
    /// counting an input that stopped: see [`IDLE_AFTER`]).
    pub underrun: u64,
    /// Underrun since the buffer last had samples to mix: taken back if the input turns out
    /// to have stopped.
    short_run: u64,
    /// Frames that arrived after the mixer had played their time (as silence): the input is
    /// late, and the mixer waits longer from then on.
    pub late: u64,
    /// Timeline index just past the last sample pushed.
    last_end: i64,
}

/// An input silent this long has stopped (a guest who left or was muted, a file that ended),
/// it is not late: no underrun is counted (which would make the mixer run further behind real
/// time for every input, up to half a second, for the rest of the show), and its next sound
/// starts where stamped.
const IDLE_AFTER: i64 = RATE as i64 / 4;

impl TimelineBuffer {
    pub fn new(tolerance: Duration) -> Self {
        Self {
            start: 0,
            buf: VecDeque::new(),
            tolerance: tolerance.as_secs_f64() * RATE as f64,
            resync: RATE as i64 / 2,
            drift: 0.0,
            cap: RATE as usize * 2,
            started: false,
            consumed: 0,
            warmup_until: 0,
            padded: 0,
            dropped: 0,
            underrun: 0,
            short_run: 0,
            late: 0,
            last_end: 0,
        }
    }

    fn end(&self) -> i64 {
        self.start + self.buf.len() as i64
    }

    /// Adds 48 kHz stereo samples whose first sample was captured at `captured`.
    pub fn push(&mut self, captured: Duration, samples: &[f32]) {
        let at = (captured.as_secs_f64() * RATE as f64).round() as i64;
        let mut skip = 0usize;
        if !self.started {
            // Start where stamped, or now if the stamp is already past: devices often
            // deliver a backlog first, and old audio is better played than dropped.
            self.started = true;
            let from = at.max(self.consumed);
            if from > self.end() {
                self.buf
                    .extend(std::iter::repeat_n([0.0; 2], (from - self.end()) as usize));
            }
            self.warmup_until = from + RATE as i64 * 2;
        } else if self.end() < self.warmup_until {
            // While a device settles its stamps wander; keep the audio contiguous.
        } else if at < self.consumed && self.end() <= self.consumed {
            // Arrived after the mixer already played its time as silence (an underrun):
            // drop what is past, so sync is kept. (The mixer waits longer from now on.)
            skip = (self.consumed - at) as usize;
            self.late += skip as u64;
            self.drift = 0.0;
        } else {
            let d = at - self.end();
            let correction = if d.abs() > self.resync {
                self.drift = 0.0;
                d
            } else {
                self.drift = 0.9 * self.drift + 0.1 * d as f64;
                if self.drift.abs() > self.tolerance {
                    let c = self.drift.round() as i64;
                    self.drift = 0.0;
                    c
                } else {
                    0
                }
            };
            if correction > 0 {
                self.padded += correction as u64;
                self.buf
                    .extend(std::iter::repeat_n([0.0; 2], correction as usize));
            } else if correction < 0 {
                // Only what the mixer has not consumed yet can be dropped.
                let lead = (self.end() - self.consumed).max(0) as usize;
                skip = ((-correction) as usize).min(lead);
            }
        }
        let frames = samples.len() / 2;
        self.dropped += skip.min(frames) as u64;
        self.buf
            .extend(samples.chunks_exact(2).skip(skip).map(|f| [f[0], f[1]]));
        while self.buf.len() > self.cap {
            self.buf.pop_front();
            self.start += 1;
            self.dropped += 1;
        }
        self.last_end = self.end();
    }

    /// Mixes timeline range [from, from + n) into `out` (interleaved stereo), with gain.
    /// Samples before `from` are discarded; missing samples are silence.
    pub fn mix_into(&mut self, from: i64, out: &mut [f32], gain: f32) {
        self.consumed = self.consumed.max(from + (out.len() / 2) as i64);
        let skip = (from - self.start).clamp(0, self.buf.len() as i64) as usize;
        self.buf.drain(..skip);
        self.start += skip as i64;
        if self.buf.is_empty() && self.start < from {
            self.start = from;
        }
        let n = out.len() / 2;
        let offset = (self.start - from).max(0) as usize;
        let avail = self.buf.len().min(n.saturating_sub(offset));
        for (i, s) in self.buf.iter().take(avail).enumerate() {
            let o = &mut out[2 * (offset + i)..2 * (offset + i) + 2];
            o[0] += s[0] * gain;
            o[1] += s[1] * gain;
        }
        if self.started && self.buf.is_empty() && from - self.last_end >= IDLE_AFTER {
            self.started = false;
            self.underrun -= self.short_run;
            self.short_run = 0;
        }
        if self.started && offset + avail < n {
            let missing = (n - offset - avail) as u64;
            self.underrun += missing;
            self.short_run = if avail > 0 {
                missing
            } else {
                self.short_run + missing
            };
        } else if avail > 0 {
            self.short_run = 0;
        }
        self.buf.drain(..avail);
        self.start += avail as i64;
        if self.buf.is_empty() {
            // What was not delivered in time has been played as silence.
            self.start = self.start.max(from + n as i64);
        }
    }
}

/// dBFS of a linear amplitude (−120 for silence).
pub fn dbfs(v: f32) -> f32 {
    if v > 1e-6 { 20.0 * v.log10() } else { -120.0 }
}

/// Peak and RMS of a chunk, in dBFS, for meters.
pub fn levels(samples: &[f32]) -> (f32, f32) {
    if samples.is_empty() {
        return (-120.0, -120.0);
    }
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    (dbfs(peak), dbfs(rms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(rate: u32, channels: u16, frames: usize, v: f32, at_ms: u64) -> AudioBlock {
        AudioBlock {
            rate,
            channels,
            samples: vec![v; frames * channels as usize],
            captured: Duration::from_millis(at_ms),
        }
    }

    #[test]
    fn mono_44k1_becomes_48k_stereo_at_the_right_length() {
        let mut r = Resampler::default();
        let mut out = Vec::new();
        for i in 0..100 {
            r.process(&block(44_100, 1, 441, 0.5, i * 10), &mut out);
        }
        let frames = out.len() / 2;
        assert!((frames as i64 - 48_000).abs() < 10, "{frames}");
        assert!(out[1000..].iter().all(|v| (v - 0.5).abs() < 1e-4));
    }

    #[test]
    fn a_tone_keeps_its_frequency_through_resampling() {
        let mut r = Resampler::default();
        let mut out = Vec::new();
        let hz = 1000.0f32;
        let samples: Vec<f32> = (0..44_100)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / 44_100.0).sin())
            .collect();
        let b = AudioBlock {
            rate: 44_100,
            channels: 1,
            samples,
            captured: Duration::ZERO,
        };
        r.process(&b, &mut out);
        let left: Vec<f32> = out.chunks(2).map(|c| c[0]).collect();
        let crossings = left
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        assert!((crossings as i64 - 1000).abs() <= 2, "{crossings}");
    }

    #[test]
    fn samples_land_where_stamped_and_a_late_start_is_silence_before() {
        let mut t = TimelineBuffer::new(Duration::from_millis(20));
        t.push(Duration::from_millis(10), &[1.0; 960]); // 480 frames at 480..960
        let mut out = vec![0.0; 2 * 1024];
        t.mix_into(0, &mut out, 1.0);
        assert_eq!(out[2 * 479], 0.0);
        assert_eq!(out[2 * 480], 1.0);
        assert_eq!(out[2 * 959], 1.0);
        assert_eq!(out[2 * 960], 0.0);
    }

    #[test]
    fn jitter_within_tolerance_is_ignored_and_the_stream_stays_contiguous() {
        let mut t = TimelineBuffer::new(Duration::from_millis(20));
        for i in 0..100u64 {
            let jitter = [0i64, 9, -3, 14, -12][i as usize % 5];
            let at = (i * 10) as i64 + jitter;
            t.push(Duration::from_millis(at.max(0) as u64), &[0.5; 960]);
        }
        assert_eq!((t.padded, t.dropped), (0, 0));
        let mut out = vec![0.0; 2 * 48_000];
        t.mix_into(0, &mut out, 1.0);
        assert!(out[..2 * 48_000].iter().all(|v| *v == 0.5));
    }

    #[test]
    fn a_slow_device_clock_is_padded_and_a_fast_one_trimmed_so_drift_stays_bounded() {
        // A device 1% slow: each 10 ms block holds only 475 frames.
        let mut slow = TimelineBuffer::new(Duration::from_millis(20));
        for i in 0..1000u64 {
            slow.push(Duration::from_millis(i * 10), &[0.1; 950]);
        }
        assert!(slow.padded > 0);
        let drift = slow.end() - (10_000 * 48);
        assert!(drift.abs() <= 48 * 30 + 480, "drift {drift} frames");
        // A device 1% fast.
        let mut fast = TimelineBuffer::new(Duration::from_millis(20));
        for i in 0..1000u64 {
            fast.push(Duration::from_millis(i * 10), &[0.1; 970]);
        }
        assert!(fast.dropped > 0);
        let drift = fast.end() - (10_000 * 48);
        assert!(drift.abs() <= 48 * 30 + 485, "drift {drift} frames");
    }

    /// An input 2.5 s in, past the start-up warm-up, fed and mixed 10 ms at a time.
    fn settled() -> TimelineBuffer {
        let mut t = TimelineBuffer::new(Duration::from_millis(10));
        for i in 0..250u64 {
            t.push(Duration::from_millis(i * 10), &[0.5; 960]);
            let mut out = vec![0.0; 2 * 480];
            t.mix_into(i as i64 * 480, &mut out, 1.0);
        }
        t
    }

    #[test]
    fn after_an_underrun_late_audio_is_dropped_to_keep_sync() {
        let mut t = settled();
        // The mixer wants 2500..2510 ms before the input delivers it.
        let mut gap = vec![0.0; 2 * 480];
        t.mix_into(250 * 480, &mut gap, 1.0);
        assert!(t.underrun > 0 && gap.iter().all(|v| *v == 0.0));
        // It arrives late, then the next block on time: the late one is dropped, the next
        // one plays exactly at its stamp.
        t.push(Duration::from_millis(2500), &[0.25; 960]);
        t.push(Duration::from_millis(2510), &[0.75; 960]);
        let mut next = vec![0.0; 2 * 480];
        t.mix_into(251 * 480, &mut next, 1.0);
        assert!(next.iter().all(|v| *v == 0.75), "audio stays on its stamps");
        assert_eq!(t.dropped, 480);
        assert_eq!(t.late, 480, "the late block counts as late");
    }

    #[test]
    fn an_input_that_stops_is_idle_not_late_and_its_next_sound_starts_where_stamped() {
        let mut t = settled();
        // Nothing for two seconds: short for a quarter second, then idle, and the quarter
        // second is taken back (it stopped; it was not short of audio).
        for i in 250..450 {
            let mut out = vec![0.0; 2 * 480];
            t.mix_into(i * 480, &mut out, 1.0);
            if i == 260 {
                assert!(t.underrun > 0, "short while it may still come");
            }
        }
        assert_eq!(t.underrun, 0, "an input that stopped never ran short");
        let idle = t.underrun;
        // It comes back stamped at 4.6 s: played there.
        t.push(Duration::from_millis(4600), &[0.25; 960]);
        let mut out = vec![0.0; 2 * 480];
        t.mix_into(460 * 480, &mut out, 1.0);
        assert!(out.iter().all(|v| *v == 0.25));
        assert_eq!(t.underrun, idle);
        assert_eq!(t.late, 0, "an input that stopped was never late");
    }

    #[test]
    fn during_warm_up_late_bursts_are_kept_contiguous() {
        let mut t = TimelineBuffer::new(Duration::from_millis(20));
        let mut out = vec![0.0; 2 * 480];
        t.push(Duration::ZERO, &[0.5; 960]);
        t.mix_into(0, &mut out, 1.0);
        let mut out2 = vec![0.0; 2 * 480];
        t.mix_into(480, &mut out2, 1.0);
        assert!(t.underrun > 0);
        t.push(Duration::from_millis(10), &[0.5; 960]);
        let mut out3 = vec![0.0; 2 * 480];
        t.mix_into(960, &mut out3, 1.0);
        assert!(
            out3.iter().all(|v| *v == 0.5),
            "a settling device is not cut"
        );
        assert_eq!(t.dropped, 0);
    }

    #[test]
    fn a_jump_beyond_resync_is_corrected_at_once() {
        let mut t = TimelineBuffer::new(Duration::from_millis(20));
        for i in 0..250u64 {
            t.push(Duration::from_millis(i * 10), &[0.5; 960]);
        }
        assert_eq!(t.end(), 250 * 480);
        // The device stalls for a second.
        t.push(Duration::from_millis(3500), &[0.5; 960]);
        assert_eq!(t.end(), 3500 * 48 + 480);
    }

    #[test]
    fn a_startup_backlog_with_stale_stamps_is_played_not_dropped() {
        let mut t = TimelineBuffer::new(Duration::from_millis(20));
        let mut out = vec![0.0; 2 * 48_000];
        t.mix_into(0, &mut out, 1.0); // the mixer is already at 1 s
        // The first blocks claim to be 400 ms old, then the stamps settle.
        for i in 0..50u64 {
            t.push(Duration::from_millis(600 + i * 10), &[0.5; 960]);
        }
        let mut out = vec![0.0; 2 * 480 * 50];
        t.mix_into(48_000, &mut out, 1.0);
        assert!(out.iter().all(|v| *v == 0.5));
        assert_eq!(t.dropped, 0);
    }

    #[test]
    fn a_stalled_input_is_silence_and_memory_stays_bounded() {
        let mut t = TimelineBuffer::new(Duration::from_millis(20));
        let mut out = vec![0.0; 2048];
        t.mix_into(48_000, &mut out, 1.0);
        assert!(out.iter().all(|v| *v == 0.0));
        for i in 0..1000u64 {
            t.push(Duration::from_millis(i * 10), &[0.1; 960]);
        }
        assert!(t.buf.len() <= RATE as usize * 2);
    }

    #[test]
    fn levels_of_full_scale_sine() {
        let s: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.1).sin()).collect();
        let (peak, rms) = levels(&s);
        assert!(peak > -0.1 && (rms + 3.01).abs() < 0.1, "{peak} {rms}");
    }
}
