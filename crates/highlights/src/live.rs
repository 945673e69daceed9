//! Highlights attached to a running session: the replay buffer on the packet bus, the
//! saver thread, the marks next to the recording, and the control-channel handler.
//! This is what `marquee live` (and the desktop app) hold while live.

use crate::buffer::{ReplayConfig, SharedReplay};
use crate::cut::{Mark, MarkLog, marks_path_for};
use crate::error::{HighlightError, Result};
use crate::save::{HighlightSaver, SavedClip};
use marquee_studio::Session;
use marquee_studio::packet::{StreamInfo, Track};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default length of a saved highlight.
pub const DEFAULT_SAVE: Duration = Duration::from_secs(30);

/// The highlight side of a live session.
#[derive(Debug)]
pub struct LiveHighlights {
    replay: Arc<SharedReplay>,
    saver: HighlightSaver,
    marks: Mutex<MarkLog>,
}

impl LiveHighlights {
    /// Builds a replay buffer for these streams, and a saver writing into `clips_dir`.
    /// Marks go next to `recording` (`<recording>.marks.jsonl`), else into the clips dir.
    /// Attach [`LiveHighlights::sink`] to the packet bus (see [`LiveHighlights::attach`]).
    pub fn new(
        streams: Vec<StreamInfo>,
        cfg: ReplayConfig,
        clips_dir: PathBuf,
        recording: Option<&Path>,
    ) -> Result<Self> {
        let tb = |t: Track| {
            streams
                .iter()
                .find(|s| s.track == t)
                .map(|s| s.time_base)
                .unwrap_or((1, 48_000))
        };
        let (vtb, atb) = (tb(Track::Video), tb(Track::Audio));
        // Packet bytes wait on disk (memory stays flat whatever the bitrate); a cache folder
        // that cannot be written falls back to memory rather than to no highlights.
        let spool_dir = marquee_profile::paths::cache_dir().join("replay");
        let replay = Arc::new(
            SharedReplay::spooled(cfg, vtb, atb, &spool_dir).unwrap_or_else(|e| {
                tracing::warn!("replay buffer in memory: {e}");
                SharedReplay::new(cfg, vtb, atb)
            }),
        );
        let saver = HighlightSaver::new(replay.clone(), streams, clips_dir.clone())?;
        let marks_path = match recording {
            Some(r) => marks_path_for(r),
            None => clips_dir.join(format!(
                "marks-{}.jsonl",
                crate::save::utc_stamp(std::time::SystemTime::now())
            )),
        };
        Ok(Self {
            replay,
            saver,
            marks: Mutex::new(MarkLog::open(&marks_path)?),
        })
    }

    /// [`LiveHighlights::new`] for a running session, with the buffer put on its bus.
    pub fn attach(
        session: &Session,
        cfg: ReplayConfig,
        clips_dir: PathBuf,
        recording: Option<&Path>,
    ) -> Result<Arc<Self>> {
        let h = Arc::new(Self::new(session.streams(), cfg, clips_dir, recording)?);
        session.add_sink(h.sink());
        Ok(h)
    }

    /// The packet-bus side (never blocks: one short lock per packet).
    pub fn sink(&self) -> Arc<SharedReplay> {
        self.replay.clone()
    }

    pub fn replay(&self) -> &SharedReplay {
        &self.replay
    }

    /// Saves the last `k` seconds and waits for the file (the live encode does not).
    pub fn save_last(&self, k: Duration) -> Result<SavedClip> {
        self.saver.save_last(k)?.wait()
    }

    /// Drops a mark at the newest media time in the buffer (session time, lagging capture
    /// by the encoder's latency only).
    pub fn mark(&self, label: &str) -> Result<Mark> {
        let at = self.replay.with(|b| b.newest());
        self.marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(at, label)
    }

    /// Answers one control-channel request (see [`crate::control`]).
    pub fn handle(&self, line: &str) -> std::result::Result<String, String> {
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        let json = |v: serde_json::Value| v.to_string();
        match cmd {
            "ping" => Ok(json(serde_json::json!({"pong": true}))),
            "save" => {
                let k = if arg.trim().is_empty() {
                    DEFAULT_SAVE
                } else {
                    let s: f64 = arg
                        .trim()
                        .parse()
                        .map_err(|_| format!("'{arg}' is not a number of seconds"))?;
                    if !(0.5..=3600.0).contains(&s) {
                        return Err(format!("{s} s is out of range (0.5..3600)"));
                    }
                    Duration::from_secs_f64(s)
                };
                let clip = self.save_last(k).map_err(|e| e.to_string())?;
                serde_json::to_string(&clip).map_err(|e| e.to_string())
            }
            "mark" => {
                let m = self.mark(arg.trim()).map_err(|e| e.to_string())?;
                serde_json::to_string(&m).map_err(|e| e.to_string())
            }
            "status" => {
                let c = self.replay.counters();
                let span = self.replay.with(|b| b.span());
                Ok(json(serde_json::json!({
                    "buffer_s": span.as_secs_f64(),
                    "counters": c,
                    "clips_dir": self.saver.dir(),
                })))
            }
            other => Err(HighlightError::Invalid(format!(
                "unknown request '{other}' (save [SECONDS] | mark [LABEL] | status | ping)"
            ))
            .to_string()),
        }
    }
}
