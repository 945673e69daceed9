//! The files beside a recording that highlight suggestions use:
//!
//! - `<recording>.signals.jsonl`: the room's signals, one [`SecondSignals`] JSON line per
//!   second of the session (line N = second N), written while live by [`SignalLog`] (a
//!   [`SignalRecorder`] plus the file) and read by [`read_signals`] and
//!   `marquee clip suggest --signals`.
//! - `<recording>.suggestions.json`: what the host decided about each suggestion
//!   ([`Decisions`]: kept, with the clip it became, or discarded), so a discarded moment
//!   does not come back.
//!
//! [`suggest_recording`] computes the suggestions of a recording: its loudness per second
//! plus the recorded signals, through the [`Scorer`].

use crate::error::{HighlightError, Result};
use crate::suggest::{Scorer, ScorerConfig, SecondSignals, Signal, SignalRecorder, Suggestion};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn beside(recording: &Path, suffix: &str) -> PathBuf {
    let mut name = recording.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// `<recording>.signals.jsonl`.
pub fn signals_path_for(recording: &Path) -> PathBuf {
    beside(recording, ".signals.jsonl")
}

/// `<recording>.suggestions.json`.
pub fn decisions_path_for(recording: &Path) -> PathBuf {
    beside(recording, ".suggestions.json")
}

/// A [`SignalRecorder`] writing its closed seconds to a JSON-lines file as the session goes
/// (a crash loses at most the last few seconds).
pub struct SignalLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    recorder: SignalRecorder,
}

impl SignalLog {
    /// Creates (or empties) the file.
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| HighlightError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            recorder: SignalRecorder::new(SignalRecorder::MAX_SECONDS),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counts one room event at `at` (session time).
    pub fn record(&mut self, signal: Signal, at: Duration) -> bool {
        self.recorder.record(signal, at)
    }

    /// Writes the seconds that are over by `now` (session time).
    pub fn flush(&mut self, now: Duration) -> Result<()> {
        let lines = self.recorder.take_complete(now);
        self.write(&lines)
    }

    /// Writes every remaining second up to `end` (the session's length) and closes the file.
    pub fn finish(mut self, end: Duration) -> Result<PathBuf> {
        let lines = self.recorder.finish(end);
        self.write(&lines)?;
        self.file
            .get_ref()
            .sync_all()
            .map_err(|e| HighlightError::io(&self.path, e))?;
        Ok(self.path)
    }

    /// The recorder's counters: (recorded, late, dropped).
    pub fn counters(&self) -> (u64, u64, u64) {
        (
            self.recorder.recorded(),
            self.recorder.late(),
            self.recorder.dropped(),
        )
    }

    fn write(&mut self, lines: &[SecondSignals]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        for s in lines {
            serde_json::to_writer(&mut self.file, s).expect("plain data serialises");
            self.file
                .write_all(b"\n")
                .map_err(|e| HighlightError::io(&self.path, e))?;
        }
        self.file
            .flush()
            .map_err(|e| HighlightError::io(&self.path, e))
    }
}

/// Reads a signals file (blank lines are skipped; a bad line is an error naming it).
pub fn read_signals(path: &Path) -> Result<Vec<SecondSignals>> {
    std::fs::read_to_string(path)
        .map_err(|e| HighlightError::io(path, e))?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                HighlightError::Invalid(format!("{} line {}: {e}", path.display(), i + 1))
            })
        })
        .collect()
}

/// Scores signals (loudness filled in from `loudness` where a second has none) and
/// returns the best `top` moments.
pub fn suggest(mut signals: Vec<SecondSignals>, loudness: &[f64], top: usize) -> Vec<Suggestion> {
    if signals.len() < loudness.len() {
        signals.resize(loudness.len(), SecondSignals::default());
    }
    let mut scorer = Scorer::new(ScorerConfig::default());
    for (i, s) in signals.iter_mut().enumerate() {
        if s.loudness_lufs.is_none() {
            s.loudness_lufs = loudness.get(i).copied();
        }
        scorer.push(s);
    }
    scorer.suggestions(top)
}

/// The suggestions of a recording: its audio loudness (decoded with FFmpeg) plus the room
/// signals from `signals` (if given and present). Blocking: decodes the whole audio track.
pub fn suggest_recording(
    recording: &Path,
    signals: Option<&Path>,
    top: usize,
) -> Result<Vec<Suggestion>> {
    let loud = crate::library::loudness_per_second(recording)?;
    let signals = match signals {
        Some(p) => read_signals(p)?,
        None => Vec::new(),
    };
    Ok(suggest(signals, &loud, top))
}

/// What the host did with a suggestion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    pub from_s: u64,
    pub to_s: u64,
    /// The clip it became (file name in the library), when kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<String>,
}

/// The decisions about one recording's suggestions, by time range.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Decisions {
    pub kept: Vec<Decision>,
    pub discarded: Vec<Decision>,
}

/// Whether a suggestion was decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided<'a> {
    Kept(Option<&'a str>),
    Discarded,
}

impl Decisions {
    /// Reads the sidecar; a missing file is no decision yet.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                HighlightError::Invalid(format!(
                    "{} is damaged ({e}); delete it to see every suggestion again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(HighlightError::io(path, e)),
        }
    }

    /// Writes the sidecar whole or not at all ([`crate::durable`]).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plain data serialises");
        crate::durable::write_file(path, text.as_bytes()).map(|_| ())
    }

    /// What was decided for the range `[from_s, to_s]`, if anything.
    pub fn get(&self, from_s: u64, to_s: u64) -> Option<Decided<'_>> {
        let same = |d: &&Decision| d.from_s == from_s && d.to_s == to_s;
        if let Some(d) = self.kept.iter().find(same) {
            return Some(Decided::Kept(d.clip.as_deref()));
        }
        self.discarded.iter().find(same).map(|_| Decided::Discarded)
    }

    /// Remembers a kept range and its clip (a later decision replaces an earlier one).
    pub fn keep(&mut self, from_s: u64, to_s: u64, clip: Option<String>) {
        self.forget(from_s, to_s);
        self.kept.push(Decision { from_s, to_s, clip });
    }

    /// Remembers a discarded range.
    pub fn discard(&mut self, from_s: u64, to_s: u64) {
        self.forget(from_s, to_s);
        self.discarded.push(Decision {
            from_s,
            to_s,
            clip: None,
        });
    }

    fn forget(&mut self, from_s: u64, to_s: u64) {
        self.kept
            .retain(|d| !(d.from_s == from_s && d.to_s == to_s));
        self.discarded
            .retain(|d| !(d.from_s == from_s && d.to_s == to_s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_sit_beside_the_recording() {
        let r = Path::new("/v/Marquee/marquee-20261121-101500.mkv");
        assert_eq!(
            signals_path_for(r),
            Path::new("/v/Marquee/marquee-20261121-101500.mkv.signals.jsonl")
        );
        assert_eq!(
            decisions_path_for(r),
            Path::new("/v/Marquee/marquee-20261121-101500.mkv.suggestions.json")
        );
    }

    #[test]
    fn the_log_writes_closed_seconds_as_it_goes_and_the_rest_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.mkv.signals.jsonl");
        let mut log = SignalLog::create(&path).unwrap();
        log.record(Signal::Danmaku, Duration::from_millis(200));
        log.record(Signal::Gift { value: 20.0 }, Duration::from_millis(1_200));
        log.flush(Duration::from_millis(3_500)).unwrap();
        // Second 0 is over (a second closes 2 s after it ends): on disk already.
        let partial = std::fs::read_to_string(&path).unwrap();
        assert_eq!(partial.lines().count(), 1, "{partial}");
        log.record(Signal::Lottery, Duration::from_millis(4_100));
        let path = log.finish(Duration::from_millis(5_300)).unwrap();
        let lines = read_signals(&path).unwrap();
        assert_eq!(lines.len(), 6, "seconds 0..=5");
        assert_eq!(lines[0].danmaku, 1);
        assert_eq!(lines[1].gift_value, 20.0);
        assert!(lines[4].lottery);
        // The same scorer the CLI uses sees the lottery (a small gift alone is no moment).
        let sug = suggest(lines, &[], 5);
        assert_eq!(sug.len(), 1, "{sug:?}");
        assert_eq!((sug[0].at_s, sug[0].from_s, sug[0].to_s), (4, 0, 6));
        assert!(sug[0].reason.contains("lottery"));
    }

    #[test]
    fn a_bad_signals_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, "{\"danmaku\":1}\n\nnot json\n").unwrap();
        let e = read_signals(&path).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn decisions_are_remembered_and_a_later_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.mkv.suggestions.json");
        let mut d = Decisions::load(&path).unwrap();
        assert_eq!(d, Decisions::default(), "no file: nothing decided");
        d.discard(10, 40);
        d.keep(100, 130, Some("rec-100s-130s.mp4".into()));
        d.save(&path).unwrap();
        let mut back = Decisions::load(&path).unwrap();
        assert_eq!(back.get(10, 40), Some(Decided::Discarded));
        assert_eq!(
            back.get(100, 130),
            Some(Decided::Kept(Some("rec-100s-130s.mp4")))
        );
        assert_eq!(back.get(10, 41), None);
        back.keep(10, 40, None);
        assert_eq!(back.get(10, 40), Some(Decided::Kept(None)));
        assert!(back.discarded.is_empty());
        std::fs::write(&path, "{oops").unwrap();
        let e = Decisions::load(&path).unwrap_err().to_string();
        assert!(e.contains("delete it"), "{e}");
    }
}
