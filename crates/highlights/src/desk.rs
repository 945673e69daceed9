//! The clip desk: the clip library and the recordings folder as the desktop app's clips
//! drawer uses them — list, thumbnail, open, rename, delete, 9:16 export with progress, and
//! each recording's highlight suggestions kept (cut into the library) or discarded. Over
//! [`library`], [`crate::signals`] and [`crate::cut`].
//!
//! Clips and recordings are named by file name only (never a path), so a page can reach
//! nothing outside the clips folder (`<videos>/Marquee/clips`) and the recordings folder
//! (`<videos>/Marquee`). Errors are in a streamer's words ([`DeskError`]).
//!
//! Everything here blocks on the disk or FFmpeg: run it off an async runtime.

use crate::cut::cut_recording;
use crate::error::HighlightError;
use crate::library::{self, ClipInfo, ExportOptions, Library};
use crate::signals::{Decided, Decisions, decisions_path_for, signals_path_for};
use crate::suggest::Suggestion;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How many suggestions a recording gets at most.
pub const TOP: usize = 8;
const MEDIA: [&str; 4] = ["mkv", "mp4", "flv", "mov"];

/// A desk request that failed: what went wrong and what to do, in a streamer's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeskError(pub String);

impl From<HighlightError> for DeskError {
    fn from(e: HighlightError) -> Self {
        Self(e.to_string())
    }
}

fn clip_err(message: impl Into<String>) -> DeskError {
    DeskError(message.into())
}

/// A clip's 9:16 export under way (its progress callback).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportProgress {
    /// Which clip of the batch (0-based) and how many there are.
    pub index: u32,
    pub total: u32,
    pub name: String,
    /// 0..=1 for this clip.
    pub fraction: f32,
}

/// A clip exported 9:16: its name and the vertical file's (in the library).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedClip {
    pub name: String,
    pub output: String,
}

/// A clip that could not be exported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFailure {
    pub name: String,
    pub reason: String,
}

/// What a batch export did: the batch goes on past a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub exported: Vec<ExportedClip>,
    pub failed: Vec<ExportFailure>,
}

/// A recording in the recordings folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingInfo {
    pub name: String,
    pub duration_s: f64,
    pub bytes: u64,
    pub created_unix_s: u64,
    /// Room signals were recorded with it (`<name>.signals.jsonl`).
    pub has_signals: bool,
}

/// A suggested highlight of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionItem {
    /// Peak, start and end, seconds into the recording.
    pub at_s: u64,
    pub from_s: u64,
    pub to_s: u64,
    pub score: f64,
    /// What made it stand out.
    pub reason: String,
    /// Kept already: the clip it became (file name), if known.
    pub kept: Option<String>,
}

/// The suggestions of one recording, discarded ones left out.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionList {
    pub recording: String,
    /// Whether room signals were found beside it (else only loudness was used).
    pub has_signals: bool,
    pub items: Vec<SuggestionItem>,
    /// How many were discarded before (hidden).
    pub discarded: u32,
}

/// A clip or recording name as a page sends it: one plain file name.
pub fn check_file_name(name: &str) -> Result<(), DeskError> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', ':', '\0'])
        || Path::new(name).file_name().and_then(|n| n.to_str()) != Some(name)
    {
        return Err(clip_err(format!(
            "“{name}” is not a file in the library. Refresh the list and try again."
        )));
    }
    Ok(())
}

/// The new file name for a rename: trimmed, checked, keeping the clip's extension when the
/// new name has none (the library's rule). Errors say what to type instead.
pub fn rename_target(old: &str, new_name: &str) -> Result<String, DeskError> {
    let n = new_name.trim();
    if n.is_empty() {
        return Err(clip_err("Type a name for the clip."));
    }
    if n.starts_with('.') || n.contains(['/', '\\', ':', '\0']) {
        return Err(clip_err(
            "A clip name cannot start with a dot or contain / \\ or : — try letters, numbers, spaces and dashes.",
        ));
    }
    let ext = Path::new(old).extension().and_then(|e| e.to_str());
    let has_media_ext = Path::new(n)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA.contains(&e.to_ascii_lowercase().as_str()));
    let target = match ext {
        Some(ext) if !has_media_ext => format!("{n}.{ext}"),
        _ => n.to_string(),
    };
    if target.len() > 200 {
        return Err(clip_err(
            "That name is too long: keep it under 200 characters.",
        ));
    }
    Ok(target)
}

/// Newest first (the library lists oldest first); same second: by name, newest name first.
pub fn newest_first<T>(mut v: Vec<T>, key: impl Fn(&T) -> (u64, String)) -> Vec<T> {
    v.sort_by_key(|c| std::cmp::Reverse(key(c)));
    v
}

/// The suggestions a page shows: discarded ones left out, kept ones marked with their clip.
pub fn suggestion_items(
    sugs: Vec<Suggestion>,
    decisions: &Decisions,
) -> (Vec<SuggestionItem>, u32) {
    let mut hidden = 0;
    let items = sugs
        .into_iter()
        .filter_map(|s| {
            let kept = match decisions.get(s.from_s, s.to_s) {
                Some(Decided::Discarded) => {
                    hidden += 1;
                    return None;
                }
                Some(Decided::Kept(clip)) => Some(clip.unwrap_or_default().to_string()),
                None => None,
            };
            Some(SuggestionItem {
                at_s: s.at_s,
                from_s: s.from_s,
                to_s: s.to_s,
                score: s.score,
                reason: s.reason,
                kept,
            })
        })
        .collect();
    (items, hidden)
}

/// `<stem>-MMmSSs-MMmSSs` for a clip cut from a recording.
pub fn cut_stem(recording: &str, from_s: u64, to_s: u64) -> String {
    let stem = Path::new(recording)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    let t = |s: u64| format!("{:02}m{:02}s", s / 60, s % 60);
    format!("{stem}-{}-{}", t(from_s), t(to_s))
}

/// The clip library and the recordings folder.
#[derive(Debug, Clone)]
pub struct ClipDesk {
    library: PathBuf,
    recordings: PathBuf,
}

impl Default for ClipDesk {
    fn default() -> Self {
        Self {
            library: library::default_dir(),
            recordings: marquee_profile::paths::videos_dir(),
        }
    }
}

impl ClipDesk {
    pub fn new(library: PathBuf, recordings: PathBuf) -> Self {
        Self {
            library,
            recordings,
        }
    }

    fn lib(&self) -> Result<Library, DeskError> {
        Library::open(&self.library).map_err(|e| {
            clip_err(format!(
                "Cannot open the clips folder {}: {e}. Check that the disk is there and writable.",
                self.library.display()
            ))
        })
    }

    fn clip(&self, lib: &Library, name: &str) -> Result<PathBuf, DeskError> {
        check_file_name(name)?;
        let p = lib.dir().join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(clip_err(format!(
                "“{name}” is no longer in the clips folder (moved or deleted?). Refresh the list."
            )))
        }
    }

    /// The clips, newest first.
    pub fn list(&self) -> Result<Vec<ClipInfo>, DeskError> {
        let list = self.lib()?.list()?;
        Ok(newest_first(list, |c: &ClipInfo| {
            (c.created_unix_s, c.name.clone())
        }))
    }

    /// The clip's cached thumbnail (JPEG bytes, made from the first keyframe on first use).
    pub fn thumbnail(&self, name: &str) -> Result<Vec<u8>, DeskError> {
        let lib = self.lib()?;
        let clip = self.clip(&lib, name)?;
        let path = lib.thumbnail(&clip).map_err(|e| {
            clip_err(format!(
                "No picture could be read from “{name}” for its thumbnail: {e}"
            ))
        })?;
        std::fs::read(&path).map_err(|e| clip_err(format!("{}: {e}", path.display())))
    }

    /// Opens the clip in the system's video player.
    pub fn open(&self, name: &str) -> Result<(), DeskError> {
        let lib = self.lib()?;
        let clip = self.clip(&lib, name)?;
        library::open_in_player(&clip).map_err(|e| {
            clip_err(format!(
                "Could not open a video player ({e}). The clip is at {}.",
                clip.display()
            ))
        })
    }

    /// Renames a clip (see [`rename_target`]); never over another clip.
    pub fn rename(&self, name: &str, new_name: &str) -> Result<ClipInfo, DeskError> {
        let lib = self.lib()?;
        let clip = self.clip(&lib, name)?;
        let target = rename_target(name, new_name)?;
        if target == name {
            return Self::info(&clip);
        }
        if lib.dir().join(&target).exists() {
            return Err(clip_err(format!(
                "A clip named “{target}” is already in the library. Pick another name."
            )));
        }
        let to = lib.rename(&clip, &target)?;
        Self::info(&to)
    }

    fn info(path: &Path) -> Result<ClipInfo, DeskError> {
        Ok(library::clip_info(path)?)
    }

    /// Deletes a clip (and its thumbnail).
    pub fn delete(&self, name: &str) -> Result<(), DeskError> {
        let lib = self.lib()?;
        let clip = self.clip(&lib, name)?;
        Ok(lib.delete(&clip)?)
    }

    /// Exports each clip 9:16 (720x1280) into the library; `progress` as frames are encoded.
    /// A clip that fails is reported and the batch goes on.
    pub fn export(
        &self,
        names: &[String],
        mut progress: impl FnMut(ExportProgress),
    ) -> Result<ExportReport, DeskError> {
        let lib = self.lib()?;
        let mut report = ExportReport::default();
        let mut paths = Vec::new();
        let mut order = Vec::new();
        for n in names {
            match self.clip(&lib, n) {
                Ok(p) => {
                    paths.push(p);
                    order.push(n.clone());
                }
                Err(e) => report.failed.push(ExportFailure {
                    name: n.clone(),
                    reason: e.0,
                }),
            }
        }
        let total = paths.len() as u32;
        let mut gate = ProgressGate::default();
        let batch = lib.export_batch(&paths, lib.dir(), &ExportOptions::default(), |i, f| {
            if gate.pass(i, f) {
                progress(ExportProgress {
                    index: i as u32,
                    total,
                    name: order.get(i).cloned().unwrap_or_default(),
                    fraction: f.clamp(0.0, 1.0),
                });
            }
        });
        let file_name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        for (src, out) in batch.exported {
            report.exported.push(ExportedClip {
                name: file_name(&src),
                output: file_name(&out),
            });
        }
        for (src, why) in batch.failed {
            report.failed.push(ExportFailure {
                name: file_name(&src),
                reason: format!("The vertical version could not be made: {why}"),
            });
        }
        Ok(report)
    }

    fn recording(&self, name: &str) -> Result<PathBuf, DeskError> {
        check_file_name(name)?;
        let p = self.recordings.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(clip_err(format!(
                "The recording “{name}” is not in {} any more. Pick another one.",
                self.recordings.display()
            )))
        }
    }

    /// Recordings in the recordings folder, newest first.
    pub fn recordings(&self) -> Result<Vec<RecordingInfo>, DeskError> {
        let rd = match std::fs::read_dir(&self.recordings) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(clip_err(format!("{}: {e}", self.recordings.display()))),
        };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let media = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| MEDIA.contains(&e.to_ascii_lowercase().as_str()));
            let Ok(meta) = entry.metadata() else { continue };
            if name.starts_with('.') || !media || !meta.is_file() {
                continue;
            }
            out.push(RecordingInfo {
                has_signals: signals_path_for(&path).is_file(),
                duration_s: library::media_info(&path).map(|m| m.0).unwrap_or(0.0),
                bytes: meta.len(),
                created_unix_s: library::created_unix_s(&meta),
                name,
            });
        }
        Ok(newest_first(out, |r: &RecordingInfo| {
            (r.created_unix_s, r.name.clone())
        }))
    }

    /// The recording's suggestions (loudness + recorded signals), discarded ones left out.
    pub fn suggestions(&self, name: &str) -> Result<SuggestionList, DeskError> {
        let rec = self.recording(name)?;
        let signals = signals_path_for(&rec);
        let has_signals = signals.is_file();
        let sugs =
            crate::signals::suggest_recording(&rec, has_signals.then_some(signals.as_path()), TOP)
                .map_err(|e| {
                    clip_err(format!(
                        "The recording “{name}” could not be read for highlights: {e}"
                    ))
                })?;
        let decisions = Decisions::load(&decisions_path_for(&rec))?;
        let (items, discarded) = suggestion_items(sugs, &decisions);
        Ok(SuggestionList {
            recording: name.to_string(),
            has_signals,
            items,
            discarded,
        })
    }

    /// Keep: cuts `[from_s, to_s]` from the recording into the library (stream copy, from the
    /// keyframe at or before the start) and remembers it.
    pub fn keep(&self, name: &str, from_s: u64, to_s: u64) -> Result<ClipInfo, DeskError> {
        let rec = self.recording(name)?;
        let lib = self.lib()?;
        let out = crate::save::unique_path(lib.dir(), &cut_stem(name, from_s, to_s), "mp4");
        let r = cut_recording(
            &rec,
            Duration::from_secs(from_s),
            Duration::from_secs(to_s),
            &out,
        )
        .map_err(|e| {
            clip_err(format!(
                "The moment could not be cut from the recording: {e}"
            ))
        })?;
        let path = decisions_path_for(&rec);
        let mut d = Decisions::load(&path)?;
        let clip = r.path.file_name().map(|n| n.to_string_lossy().into_owned());
        d.keep(from_s, to_s, clip);
        d.save(&path)?;
        Self::info(&r.path)
    }

    /// Discard: remembered, so the suggestion does not come back.
    pub fn discard(&self, name: &str, from_s: u64, to_s: u64) -> Result<(), DeskError> {
        let rec = self.recording(name)?;
        let path = decisions_path_for(&rec);
        let mut d = Decisions::load(&path)?;
        d.discard(from_s, to_s);
        Ok(d.save(&path)?)
    }
}

/// Lets a progress report through when it moved by at least 1 % or a new clip started, and
/// always at the end (an encode reports every frame; a page needs ~100 updates per clip).
#[derive(Debug, Default)]
pub struct ProgressGate {
    last: Option<(usize, f32)>,
}

impl ProgressGate {
    pub fn pass(&mut self, index: usize, fraction: f32) -> bool {
        let ok = match self.last {
            Some((i, f)) => i != index || fraction >= 1.0 || fraction - f >= 0.01,
            None => true,
        };
        if ok {
            self.last = Some((index, fraction));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_reach_the_disk() {
        assert!(check_file_name("highlight-20261121-101500.mp4").is_ok());
        assert!(check_file_name("精彩 时刻.mp4").is_ok());
        for bad in [
            "",
            "../x.mp4",
            "a/b.mp4",
            "/etc/passwd",
            ".thumbs",
            "c:\\x",
            "a\\b",
        ] {
            let e = check_file_name(bad).unwrap_err();
            assert!(e.0.contains("not a file in the library"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_rename_keeps_the_extension_and_says_what_is_wrong() {
        assert_eq!(
            rename_target("a.mp4", "  Best moment ").unwrap(),
            "Best moment.mp4"
        );
        assert_eq!(rename_target("a.mp4", "goal.mkv").unwrap(), "goal.mkv");
        // A dot in the name is not an extension.
        assert_eq!(
            rename_target("a.mp4", "v1.2 final").unwrap(),
            "v1.2 final.mp4"
        );
        assert!(
            rename_target("a.mp4", " ")
                .unwrap_err()
                .0
                .contains("Type a name")
        );
        assert!(
            rename_target("a.mp4", "a/b")
                .unwrap_err()
                .0
                .contains("cannot")
        );
        assert!(
            rename_target("a.mp4", ".hidden")
                .unwrap_err()
                .0
                .contains("dot")
        );
        assert!(
            rename_target("a.mp4", &"x".repeat(300))
                .unwrap_err()
                .0
                .contains("too long")
        );
    }

    #[test]
    fn progress_is_throttled_to_one_percent_steps() {
        let mut g = ProgressGate::default();
        let passed: Vec<(usize, f32)> = (0..=1000)
            .map(|i| (0usize, i as f32 / 1000.0))
            .chain((0..=10).map(|i| (1usize, i as f32 / 10.0)))
            .filter(|&(i, f)| g.pass(i, f))
            .collect();
        let first: Vec<_> = passed.iter().filter(|p| p.0 == 0).collect();
        assert!((95..=101).contains(&first.len()), "{}", first.len());
        assert_eq!(first.last().unwrap().1, 1.0, "the end always passes");
        assert_eq!(passed.iter().filter(|p| p.0 == 1).count(), 11);
    }

    fn sug(at: u64) -> Suggestion {
        Suggestion {
            at_s: at,
            from_s: at - 20,
            to_s: at + 10,
            score: 4.0,
            reason: "a lottery was drawn".into(),
        }
    }

    #[test]
    fn discarded_suggestions_stay_hidden_and_kept_ones_name_their_clip() {
        let mut d = Decisions::default();
        d.discard(80, 110);
        d.keep(180, 210, Some("rec-03m00s-03m30s.mp4".into()));
        let (items, hidden) = suggestion_items(vec![sug(100), sug(200), sug(300)], &d);
        assert_eq!(hidden, 1);
        assert_eq!(items.iter().map(|i| i.at_s).collect::<Vec<_>>(), [200, 300]);
        assert_eq!(items[0].kept.as_deref(), Some("rec-03m00s-03m30s.mp4"));
        assert_eq!(items[1].kept, None);
    }

    #[test]
    fn cut_clips_are_named_after_the_recording_and_range() {
        assert_eq!(
            cut_stem("marquee-20261121-101500.mkv", 65, 95),
            "marquee-20261121-101500-01m05s-01m35s"
        );
    }

    #[test]
    fn newest_first_by_time_then_name() {
        let v = newest_first(vec![(1, "a"), (3, "b"), (3, "c"), (2, "d")], |x| {
            (x.0, x.1.to_string())
        });
        assert_eq!(v, [(3, "c"), (3, "b"), (2, "d"), (1, "a")]);
    }

    #[test]
    fn library_operations_on_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (lib, rec) = (dir.path().join("clips"), dir.path().to_path_buf());
        let clips = ClipDesk::new(lib.clone(), rec);
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("a.mp4"), b"not really a video").unwrap();
        std::fs::write(lib.join("b.mp4"), b"not really a video").unwrap();
        assert_eq!(clips.list().unwrap().len(), 2);
        let e = clips.rename("a.mp4", "b").unwrap_err();
        assert!(e.0.contains("already in the library"), "{e}");
        let r = clips.rename("a.mp4", "goal").unwrap();
        assert_eq!(r.name, "goal.mp4");
        assert!(lib.join("goal.mp4").is_file() && !lib.join("a.mp4").exists());
        clips.delete("goal.mp4").unwrap();
        let e = clips.delete("goal.mp4").unwrap_err();
        assert!(e.0.contains("no longer"), "{e}");
        // A batch goes on past a clip that is not there and one that is not a video.
        let report = clips
            .export(&["gone.mp4".into(), "b.mp4".into()], |_| {})
            .unwrap();
        assert!(report.exported.is_empty());
        let names: Vec<_> = report.failed.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["gone.mp4", "b.mp4"]);
        assert!(report.failed[1].reason.contains("could not be made"));
        // Decisions on a recording that is not there: a clear error, nothing written.
        let e = clips.discard("nope.mkv", 0, 30).unwrap_err();
        assert!(e.0.contains("not in"), "{e}");
        assert!(clips.recordings().unwrap().is_empty());
    }
}
