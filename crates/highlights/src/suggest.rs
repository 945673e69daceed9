//! Highlight suggestions from signals a live room really has: the danmaku rate, gift
//! value, vote and lottery moments, and audio loudness (EBU R128 momentary). Each second
//! is scored against a running baseline of the seconds before it; the best moments, far
//! enough apart, are proposed with a score and a reason a host can read. Sans-IO: feed it
//! one [`SecondSignals`] per second of the session, ask for [`Suggestion`]s.

use std::collections::VecDeque;

/// What happened in one second of the session.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SecondSignals {
    /// Danmaku (chat) messages received.
    pub danmaku: u32,
    /// Total value of gifts received (in the room's currency unit).
    pub gift_value: f64,
    /// A vote closed (its result shown) in this second.
    pub vote: bool,
    /// A lottery was drawn in this second.
    pub lottery: bool,
    /// Loudest momentary loudness in this second (LUFS), if there is audio.
    pub loudness_lufs: Option<f64>,
}

/// Tuning of the scorer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorerConfig {
    /// Seconds in the running baseline.
    pub baseline_s: usize,
    /// Seconds of history needed before rates are judged against the baseline.
    pub warmup_s: usize,
    /// A second must score at least this to be proposed.
    pub threshold: f64,
    /// Proposed moments are at least this far apart.
    pub min_gap_s: u64,
    /// A proposed clip spans `[peak − lead_s, peak + tail_s]`.
    pub lead_s: u64,
    pub tail_s: u64,
    /// Gifts below this value in one second never make a moment by themselves.
    pub min_gift: f64,
}

impl Default for ScorerConfig {
    fn default() -> Self {
        Self {
            baseline_s: 60,
            warmup_s: 10,
            threshold: 3.0,
            min_gap_s: 30,
            lead_s: 20,
            tail_s: 10,
            min_gift: 50.0,
        }
    }
}

/// One second's score and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoredSecond {
    pub second: u64,
    pub score: f64,
    pub parts: Vec<(String, f64)>,
}

/// A proposed highlight.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    /// The peak second (session time).
    pub at_s: u64,
    /// The clip to cut: from (session s) …
    pub from_s: u64,
    /// … to (session s).
    pub to_s: u64,
    pub score: f64,
    /// Human-readable: what made this second stand out.
    pub reason: String,
}

/// Mean and standard deviation over a sliding window.
#[derive(Debug, Clone, Default)]
struct Window {
    values: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
}

impl Window {
    fn push(&mut self, x: f64, cap: usize) {
        self.values.push_back(x);
        self.sum += x;
        self.sum_sq += x * x;
        while self.values.len() > cap {
            let y = self.values.pop_front().expect("non-empty");
            self.sum -= y;
            self.sum_sq -= y * y;
        }
    }
    fn len(&self) -> usize {
        self.values.len()
    }
    fn mean(&self) -> f64 {
        if self.values.is_empty() {
            0.0
        } else {
            self.sum / self.values.len() as f64
        }
    }
    fn std(&self) -> f64 {
        let n = self.values.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let m = self.mean();
        (self.sum_sq / n - m * m).max(0.0).sqrt()
    }
}

/// The sans-IO scorer.
#[derive(Debug, Clone)]
pub struct Scorer {
    cfg: ScorerConfig,
    danmaku: Window,
    gifts: Window,
    loud: Window,
    scored: Vec<ScoredSecond>,
    next_second: u64,
}

impl Scorer {
    pub fn new(cfg: ScorerConfig) -> Self {
        Self {
            cfg,
            danmaku: Window::default(),
            gifts: Window::default(),
            loud: Window::default(),
            scored: Vec::new(),
            next_second: 0,
        }
    }

    /// Scores the next second (seconds are numbered from 0 in the order given) against
    /// the baseline of the ones before it, then adds it to the baseline.
    pub fn push(&mut self, s: &SecondSignals) -> &ScoredSecond {
        let cfg = self.cfg;
        let mut parts: Vec<(String, f64)> = Vec::new();
        let warm = self.danmaku.len() >= cfg.warmup_s;
        // Danmaku: how many standard deviations above the usual rate, once it is known.
        if warm {
            let (m, sd) = (self.danmaku.mean(), self.danmaku.std());
            let x = s.danmaku as f64;
            let z = (x - m) / sd.max(1.0).max(m.sqrt());
            if z > 2.0 && x >= 2.0 * m.max(1.0) {
                parts.push((
                    format!(
                        "chat burst: {} messages/s, {:.1}× the usual {:.1}/s",
                        s.danmaku,
                        x / m.max(0.1),
                        m
                    ),
                    (z / 2.0).min(6.0),
                ));
            }
        }
        // Gifts: value against the usual value per second (a big gift in a quiet room
        // stands out more than in a busy one).
        if s.gift_value > 0.0 {
            let usual = if warm { self.gifts.mean() } else { 0.0 };
            let ratio = s.gift_value / (usual * 10.0).max(cfg.min_gift);
            if ratio >= 1.0 {
                parts.push((
                    format!("gifts worth {:.0} (usual {:.1}/s)", s.gift_value, usual),
                    (1.0 + ratio.log2()).min(6.0),
                ));
            }
        }
        if s.vote {
            parts.push(("a vote closed".into(), 3.0));
        }
        if s.lottery {
            parts.push(("a lottery was drawn".into(), 3.0));
        }
        // Loudness: dB above the usual level (only sounds above −50 LUFS count).
        if let Some(l) = s.loudness_lufs {
            if warm && self.loud.len() >= cfg.warmup_s / 2 && l > -50.0 {
                let base = self.loud.mean();
                let over = l - base;
                if over >= 6.0 {
                    parts.push((
                        format!(
                            "audio spike: {:.0} LUFS, {:.0} dB over the usual {:.0} LUFS",
                            l, over, base
                        ),
                        (over / 3.0).min(6.0),
                    ));
                }
            }
            self.loud.push(l.max(-70.0), cfg.baseline_s);
        }
        self.danmaku.push(s.danmaku as f64, cfg.baseline_s);
        self.gifts.push(s.gift_value, cfg.baseline_s);
        let score = parts.iter().map(|p| p.1).sum();
        self.scored.push(ScoredSecond {
            second: self.next_second,
            score,
            parts,
        });
        self.next_second += 1;
        self.scored.last().expect("just pushed")
    }

    /// Every second scored so far.
    pub fn scored(&self) -> &[ScoredSecond] {
        &self.scored
    }

    /// The best `top` moments scoring at least the threshold, at least `min_gap_s` apart
    /// (the stronger wins), best first.
    pub fn suggestions(&self, top: usize) -> Vec<Suggestion> {
        let mut order: Vec<&ScoredSecond> = self
            .scored
            .iter()
            .filter(|s| s.score >= self.cfg.threshold)
            .collect();
        order.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.second.cmp(&b.second)));
        let mut chosen: Vec<&ScoredSecond> = Vec::new();
        for s in order {
            if chosen.len() >= top {
                break;
            }
            if chosen
                .iter()
                .all(|c| c.second.abs_diff(s.second) >= self.cfg.min_gap_s)
            {
                chosen.push(s);
            }
        }
        let last = self.next_second;
        chosen
            .into_iter()
            .map(|s| {
                let mut parts = s.parts.clone();
                parts.sort_by(|a, b| b.1.total_cmp(&a.1));
                Suggestion {
                    at_s: s.second,
                    from_s: s.second.saturating_sub(self.cfg.lead_s),
                    to_s: (s.second + self.cfg.tail_s).min(last),
                    score: (s.score * 10.0).round() / 10.0,
                    reason: parts
                        .iter()
                        .map(|p| p.0.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10-minute session: ~12 danmaku/s with noise, gifts now and then, speech-level
    /// audio around −24 LUFS; and four known moments.
    fn session() -> Vec<SecondSignals> {
        let mut rng = 0x2545_f491_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % 1000
        };
        let mut v: Vec<SecondSignals> = (0..600)
            .map(|i| SecondSignals {
                danmaku: 8 + (next() % 9) as u32,
                gift_value: if i % 37 == 0 { 5.0 } else { 0.0 },
                vote: false,
                lottery: false,
                loudness_lufs: Some(-24.0 + (next() % 40) as f64 / 10.0 - 2.0),
            })
            .collect();
        // 1) a chat burst at 120–124 s
        for s in &mut v[120..125] {
            s.danmaku = 90;
        }
        // 2) a big gift at 250 s
        v[250].gift_value = 1000.0;
        // 3) a scream at 400 s (audio spike) with some extra chat
        v[400].loudness_lufs = Some(-8.0);
        v[401].loudness_lufs = Some(-10.0);
        // 4) a lottery draw at 520 s
        v[520].lottery = true;
        v
    }

    #[test]
    fn finds_the_known_spikes_in_a_recorded_session() {
        let mut sc = Scorer::new(ScorerConfig::default());
        for s in session() {
            sc.push(&s);
        }
        let sug = sc.suggestions(10);
        let mut at: Vec<u64> = sug.iter().map(|s| s.at_s).collect();
        at.sort();
        assert_eq!(at.len(), 4, "{sug:#?}");
        assert!((120..125).contains(&at[0]), "{sug:#?}");
        assert_eq!(&at[1..], &[250, 400, 520], "{sug:#?}");
        let by = |t: u64| sug.iter().find(|s| s.at_s == t).unwrap();
        assert!(by(250).reason.contains("gifts worth 1000"));
        assert!(by(400).reason.contains("audio spike"));
        assert!(by(520).reason.contains("lottery"));
        assert!(by(at[0]).reason.contains("chat burst"));
        assert_eq!(by(400).from_s, 380);
        assert_eq!(by(400).to_s, 410);
    }

    #[test]
    fn a_busy_room_is_not_a_highlight_all_the_time() {
        let mut sc = Scorer::new(ScorerConfig::default());
        for i in 0..600u32 {
            sc.push(&SecondSignals {
                danmaku: 200 + (i * 7919) % 40,
                loudness_lufs: Some(-18.0),
                ..Default::default()
            });
        }
        assert!(sc.suggestions(10).is_empty());
    }

    #[test]
    fn nothing_is_judged_before_the_baseline_warms_up() {
        let mut sc = Scorer::new(ScorerConfig::default());
        let s = sc.push(&SecondSignals {
            danmaku: 500,
            loudness_lufs: Some(-5.0),
            ..Default::default()
        });
        assert_eq!(s.score, 0.0);
    }

    #[test]
    fn nearby_peaks_collapse_into_the_strongest() {
        let mut sc = Scorer::new(ScorerConfig::default());
        for i in 0..200u64 {
            sc.push(&SecondSignals {
                danmaku: 10,
                vote: i == 100,
                lottery: i == 110,
                gift_value: if i == 110 { 50.0 } else { 0.0 },
                ..Default::default()
            });
        }
        let sug = sc.suggestions(10);
        assert_eq!(sug.len(), 1, "{sug:#?}");
        assert_eq!(sug[0].at_s, 110);
    }
}
