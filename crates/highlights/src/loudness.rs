//! EBU R128 momentary loudness (ITU-R BS.1770): K-weighting (a high-shelf pre-filter and
//! the RLB high-pass, as two biquads per channel), mean square over a 400 ms window
//! updated every 100 ms, `−0.691 + 10·log10(Σ channel mean squares)` LUFS. Sans-IO: PCM in,
//! loudness values out.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 3],
    z1: f64,
    z2: f64,
}

impl Biquad {
    fn new(b: [f64; 3], a: [f64; 3]) -> Self {
        Self {
            b,
            a,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// Transposed direct form II.
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z1;
        self.z1 = self.b[1] * x - self.a[1] * y + self.z2;
        self.z2 = self.b[2] * x - self.a[2] * y;
        y
    }
}

/// The two K-weighting stages for a sample rate (the BS.1770 analogue prototypes mapped
/// with the bilinear transform; at 48 kHz they equal the coefficients printed in the
/// standard).
fn k_weighting(fs: f64) -> (Biquad, Biquad) {
    use std::f64::consts::PI;
    // Stage 1: high shelf, +4 dB above ~1.7 kHz (the head's acoustic effect).
    let (f0, g, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (PI * f0 / fs).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad::new(
        [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    );
    // Stage 2: the RLB high-pass at ~38 Hz.
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (PI * f0 / fs).tan();
    let a0 = 1.0 + k / q + k * k;
    let hp = Biquad::new(
        [1.0, -2.0, 1.0],
        [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    );
    (shelf, hp)
}

/// Momentary loudness meter for interleaved PCM.
#[derive(Debug, Clone)]
pub struct Momentary {
    channels: usize,
    filters: Vec<(Biquad, Biquad)>,
    /// Samples per 100 ms step.
    step: usize,
    /// Sum of squares per channel in the current step.
    acc: Vec<f64>,
    in_step: usize,
    /// The last four steps' summed mean squares (over channels).
    steps: VecDeque<f64>,
}

/// Loudness of silence (the meter's floor).
pub const FLOOR_LUFS: f64 = -120.0;

impl Momentary {
    /// A meter for `channels` interleaved channels at `sample_rate` Hz. Channels are
    /// weighted 1.0 (left, right, centre; surround weights are not needed here).
    pub fn new(sample_rate: u32, channels: usize) -> Self {
        let channels = channels.max(1);
        let f = k_weighting(sample_rate as f64);
        Self {
            channels,
            filters: vec![f; channels],
            step: (sample_rate as usize / 10).max(1),
            acc: vec![0.0; channels],
            in_step: 0,
            steps: VecDeque::with_capacity(4),
        }
    }

    /// Feeds interleaved samples; returns the momentary loudness (LUFS) at every 100 ms
    /// step completed, once 400 ms have been seen.
    pub fn push_interleaved(&mut self, samples: &[f32]) -> Vec<f64> {
        let mut out = Vec::new();
        for frame in samples.chunks_exact(self.channels) {
            for (c, &x) in frame.iter().enumerate() {
                let (s1, s2) = &mut self.filters[c];
                let y = s2.run(s1.run(x as f64));
                self.acc[c] += y * y;
            }
            self.in_step += 1;
            if self.in_step == self.step {
                let ms: f64 = self.acc.iter().map(|a| a / self.step as f64).sum();
                self.acc.iter_mut().for_each(|a| *a = 0.0);
                self.in_step = 0;
                if self.steps.len() == 4 {
                    self.steps.pop_front();
                }
                self.steps.push_back(ms);
                if self.steps.len() == 4 {
                    out.push(lufs(self.steps.iter().sum::<f64>() / 4.0));
                }
            }
        }
        out
    }
}

fn lufs(mean_square: f64) -> f64 {
    if mean_square <= 1e-12 {
        FLOOR_LUFS
    } else {
        (-0.691 + 10.0 * mean_square.log10()).max(FLOOR_LUFS)
    }
}

/// The loudest momentary value in each whole second of interleaved PCM (what the
/// highlight scorer takes).
pub fn loudest_per_second(sample_rate: u32, channels: usize, samples: &[f32]) -> Vec<f64> {
    let mut m = Momentary::new(sample_rate, channels);
    let values = m.push_interleaved(samples);
    // values[i] is the window ending at step i + 4 (100 ms steps).
    let mut out: Vec<f64> = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        let second = (i + 3) / 10;
        if out.len() <= second {
            out.resize(second + 1, FLOOR_LUFS);
        }
        out[second] = out[second].max(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, dbfs: f64, secs: f64, channels: usize) -> Vec<f32> {
        let a = 10f64.powf(dbfs / 20.0);
        let n = (48_000.0 * secs) as usize;
        (0..n)
            .flat_map(|i| {
                let x = (a * (2.0 * std::f64::consts::PI * hz * i as f64 / 48_000.0).sin()) as f32;
                std::iter::repeat_n(x, channels)
            })
            .collect()
    }

    #[test]
    fn k_weighting_at_48k_matches_the_standard_coefficients() {
        let (s, h) = k_weighting(48_000.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-8;
        assert!(close(s.b[0], 1.53512485958697));
        assert!(close(s.b[1], -2.69169618940638));
        assert!(close(s.b[2], 1.19839281085285));
        assert!(close(s.a[1], -1.69065929318241));
        assert!(close(s.a[2], 0.73248077421585));
        assert!(close(h.a[1], -1.99004745483398));
        assert!(close(h.a[2], 0.99007225036621));
    }

    #[test]
    fn stereo_1khz_at_minus_23_dbfs_reads_minus_23_lufs() {
        // EBU Tech 3341 test case 1 style: stereo 1 kHz sine at −23 dBFS → −23 LUFS.
        let mut m = Momentary::new(48_000, 2);
        let v = m.push_interleaved(&sine(1000.0, -23.0, 2.0, 2));
        let last = *v.last().unwrap();
        assert!((last - -23.0).abs() < 0.1, "{last}");
        assert_eq!(v.len(), 20 - 3);
    }

    #[test]
    fn first_value_needs_400_ms_then_one_every_100_ms() {
        let mut m = Momentary::new(48_000, 1);
        assert!(m.push_interleaved(&sine(1000.0, -20.0, 0.39, 1)).is_empty());
        assert_eq!(m.push_interleaved(&sine(1000.0, -20.0, 0.31, 1)).len(), 4);
    }

    #[test]
    fn low_rumble_counts_less_than_presence() {
        let mut low = Momentary::new(48_000, 1);
        let mut mid = Momentary::new(48_000, 1);
        let l = *low
            .push_interleaved(&sine(30.0, -20.0, 1.0, 1))
            .last()
            .unwrap();
        let m = *mid
            .push_interleaved(&sine(3000.0, -20.0, 1.0, 1))
            .last()
            .unwrap();
        assert!(m - l > 3.0, "30 Hz {l} vs 3 kHz {m}");
    }

    #[test]
    fn silence_sits_at_the_floor() {
        let v = loudest_per_second(48_000, 2, &vec![0.0; 96_000 * 2]);
        assert!(v.iter().all(|&x| x == FLOOR_LUFS));
    }

    #[test]
    fn loudest_per_second_finds_the_loud_second() {
        let mut pcm = sine(440.0, -40.0, 3.0, 2);
        pcm.extend(sine(440.0, -10.0, 1.0, 2));
        pcm.extend(sine(440.0, -40.0, 2.0, 2));
        let v = loudest_per_second(48_000, 2, &pcm);
        assert_eq!(v.len(), 6);
        let loudest = v
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(loudest, 3);
        assert!(v[3] > v[1] + 25.0);
    }
}
