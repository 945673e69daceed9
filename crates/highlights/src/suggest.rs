//! Highlight suggestions from signals a live room really has: the danmaku rate, gift
//! value, vote and lottery moments, and audio loudness (EBU R128 momentary). Each second
//! is scored against a running baseline of the seconds before it; the best moments, far
//! enough apart, are proposed with a score and a reason a host can read. Sans-IO: feed it
//! one [`SecondSignals`] per second of the session, ask for [`Suggestion`]s.
//!
//! While live, [`SignalRecorder`] turns room events stamped with the session clock into
//! those per-second signals (also sans-IO; `signals::SignalLog` writes them as JSON lines
//! next to the recording).

use std::collections::VecDeque;
use std::time::Duration;

/// What happened in one second of the session. One JSON line per second in
/// `<recording>.signals.jsonl` (line N = second N; missing fields are zero).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SecondSignals {
    /// Danmaku (chat) messages received.
    pub danmaku: u32,
    /// Total value of gifts received (in the room's currency unit).
    pub gift_value: f64,
    /// A vote closed (its result shown) in this second.
    pub vote: bool,
    /// A lottery was drawn in this second.
    pub lottery: bool,
    /// A co-stream guest came on air or left in this second.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub guest: bool,
    /// Loudest momentary loudness in this second (LUFS), if there is audio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loudness_lufs: Option<f64>,
}

/// One room happening the recorder counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// A danmaku (chat) message.
    Danmaku,
    /// Gifts worth `value` (the room's currency unit, e.g. coins).
    Gift { value: f64 },
    /// A vote closed.
    Vote,
    /// A lottery was drawn.
    Lottery,
    /// A co-stream guest came on air or left.
    Guest,
}

/// Accumulates room events stamped with the session clock into one [`SecondSignals`] per
/// second. Sans-IO: the caller passes the session time of each event, then takes the
/// seconds that are over ([`SignalRecorder::take_complete`]) to write them out, and the
/// rest at the end ([`SignalRecorder::finish`]).
///
/// Bounded: seconds are handed out in order from 0, with no gaps (a quiet second is a
/// line of zeros); only seconds not taken yet are held, and never more than `max_seconds`
/// of session (events past it are dropped and counted). An event for a second already
/// taken (it arrived more than the grace period late) is counted as late, not recorded.
#[derive(Debug, Clone)]
pub struct SignalRecorder {
    /// The first second not handed out yet.
    taken: u64,
    /// Seconds `taken ..` (grows to the latest second with an event).
    pending: VecDeque<SecondSignals>,
    max_seconds: u64,
    grace: Duration,
    late: u64,
    dropped: u64,
    recorded: u64,
}

impl SignalRecorder {
    /// Seconds stay open this long after they end, for events that arrive a little late.
    pub const GRACE: Duration = Duration::from_secs(2);
    /// Twelve hours of session by default.
    pub const MAX_SECONDS: u64 = 12 * 3600;

    pub fn new(max_seconds: u64) -> Self {
        Self {
            taken: 0,
            pending: VecDeque::new(),
            max_seconds,
            grace: Self::GRACE,
            late: 0,
            dropped: 0,
            recorded: 0,
        }
    }

    /// Counts one event at `at` (session time). Returns false when it was not recorded
    /// (late or beyond `max_seconds`).
    pub fn record(&mut self, signal: Signal, at: Duration) -> bool {
        let second = at.as_secs();
        if second >= self.max_seconds {
            self.dropped += 1;
            return false;
        }
        if second < self.taken {
            self.late += 1;
            return false;
        }
        let i = (second - self.taken) as usize;
        if self.pending.len() <= i {
            self.pending.resize(i + 1, SecondSignals::default());
        }
        let s = &mut self.pending[i];
        match signal {
            Signal::Danmaku => s.danmaku = s.danmaku.saturating_add(1),
            Signal::Gift { value } if value.is_finite() && value > 0.0 => s.gift_value += value,
            Signal::Gift { .. } => {}
            Signal::Vote => s.vote = true,
            Signal::Lottery => s.lottery = true,
            Signal::Guest => s.guest = true,
        }
        self.recorded += 1;
        true
    }

    /// The seconds that ended at least the grace period before `now` and were not taken
    /// yet, in order (second [`taken_before`](Self::taken_before) first).
    pub fn take_complete(&mut self, now: Duration) -> Vec<SecondSignals> {
        let closed = now
            .saturating_sub(self.grace)
            .as_secs()
            .min(self.max_seconds);
        self.take_until(closed)
    }

    /// Every second up to the one `end` falls in (the session's last, partial second
    /// included), in order.
    pub fn finish(&mut self, end: Duration) -> Vec<SecondSignals> {
        let last = end.as_secs() + u64::from(end.subsec_nanos() > 0);
        let last = last.max(self.taken + self.pending.len() as u64);
        self.take_until(last.min(self.max_seconds))
    }

    fn take_until(&mut self, second: u64) -> Vec<SecondSignals> {
        let n = second.saturating_sub(self.taken) as usize;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.pending.pop_front().unwrap_or_default());
        }
        self.taken += n as u64;
        out
    }

    /// Seconds handed out so far (the next one out is this second).
    pub fn taken_before(&self) -> u64 {
        self.taken
    }

    /// Events counted.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Events that came after their second was taken.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Events past `max_seconds`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
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
        if s.guest {
            parts.push(("a guest came on air or left".into(), 3.0));
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
                guest: false,
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

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn recorder_counts_events_into_their_second_of_the_session_clock() {
        let mut r = SignalRecorder::new(SignalRecorder::MAX_SECONDS);
        assert!(r.record(Signal::Danmaku, ms(100)));
        assert!(r.record(Signal::Danmaku, ms(999)));
        assert!(r.record(Signal::Danmaku, ms(1000)));
        assert!(r.record(Signal::Gift { value: 100.0 }, ms(1500)));
        assert!(r.record(Signal::Gift { value: 20.0 }, ms(1999)));
        assert!(r.record(Signal::Vote, ms(3200)));
        assert!(r.record(Signal::Lottery, ms(3900)));
        let all = r.finish(ms(4500));
        assert_eq!(all.len(), 5, "seconds 0..=4, the last partial one included");
        assert_eq!(all[0].danmaku, 2);
        assert_eq!(all[1].danmaku, 1);
        assert_eq!(all[1].gift_value, 120.0);
        assert_eq!(
            all[2],
            SecondSignals::default(),
            "a quiet second is a line of zeros"
        );
        assert!(all[3].vote && all[3].lottery);
        assert_eq!(all[4], SecondSignals::default());
        assert_eq!(r.recorded(), 7);
    }

    #[test]
    fn recorder_hands_out_closed_seconds_in_order_and_counts_late_events() {
        let mut r = SignalRecorder::new(SignalRecorder::MAX_SECONDS);
        r.record(Signal::Danmaku, ms(500));
        r.record(Signal::Danmaku, ms(5_200));
        // At 2.5 s only second 0 is closed (2 s of grace).
        let a = r.take_complete(ms(2_500));
        assert_eq!(a.len(), 0, "second 0 ends at 1 s, closes at 3 s");
        let a = r.take_complete(ms(3_000));
        assert_eq!(a.iter().map(|s| s.danmaku).collect::<Vec<_>>(), [1]);
        // A little late (inside the grace period): still counted.
        assert!(r.record(Signal::Danmaku, ms(1_900)));
        let b = r.take_complete(ms(7_000));
        assert_eq!(
            b.iter().map(|s| s.danmaku).collect::<Vec<_>>(),
            [1, 0, 0, 0],
            "seconds 1..=4 (second 5 closes at 8 s)"
        );
        assert_eq!(r.taken_before(), 5);
        // Too late: second 2 was handed out already.
        assert!(!r.record(Signal::Gift { value: 500.0 }, ms(2_100)));
        assert_eq!(r.late(), 1);
        // Nothing taken twice, nothing lost: the lines add up to the session.
        let c = r.finish(ms(8_000));
        assert_eq!(c.iter().map(|s| s.danmaku).collect::<Vec<_>>(), [1, 0, 0]);
        assert_eq!(r.taken_before(), 8);
    }

    #[test]
    fn recorder_memory_is_bounded_by_max_seconds() {
        let mut r = SignalRecorder::new(60);
        assert!(r.record(Signal::Danmaku, ms(59_999)));
        assert!(!r.record(Signal::Danmaku, ms(60_000)));
        assert!(!r.record(Signal::Danmaku, Duration::from_secs(u64::MAX / 2)));
        assert_eq!(r.dropped(), 2);
        let all = r.finish(Duration::from_secs(10_000));
        assert_eq!(all.len(), 60, "never more than max_seconds lines");
        assert_eq!(all[59].danmaku, 1);
        // Bad gift values are ignored, not summed into NaN.
        let mut r = SignalRecorder::new(10);
        r.record(Signal::Gift { value: f64::NAN }, ms(0));
        r.record(Signal::Gift { value: -5.0 }, ms(0));
        assert_eq!(r.finish(ms(1_000))[0].gift_value, 0.0);
    }

    #[test]
    fn recorded_lines_round_trip_as_json_and_omit_missing_loudness() {
        let s = SecondSignals {
            danmaku: 3,
            gift_value: 50.0,
            vote: false,
            lottery: true,
            guest: false,
            loudness_lufs: None,
        };
        let line = serde_json::to_string(&s).unwrap();
        assert_eq!(
            line,
            r#"{"danmaku":3,"gift_value":50.0,"vote":false,"lottery":true}"#
        );
        assert_eq!(serde_json::from_str::<SecondSignals>(&line).unwrap(), s);
        let joined = SecondSignals { guest: true, ..s };
        let line = serde_json::to_string(&joined).unwrap();
        assert!(line.ends_with(r#""lottery":true,"guest":true}"#), "{line}");
        assert_eq!(
            serde_json::from_str::<SecondSignals>(&line).unwrap(),
            joined
        );
        // The CLI's documented short form: missing fields are zero.
        let short: SecondSignals = serde_json::from_str(r#"{"danmaku":12}"#).unwrap();
        assert_eq!(short.danmaku, 12);
        assert!(!short.vote && short.loudness_lufs.is_none());
    }
}
