//! The clip library and highlight suggestions: mirrors of `marquee_highlights::desk`'s types.

use marquee_highlights::desk;
use serde::Serialize;
use ts_rs::TS;

/// A clip in the library (`clip_list`, newest first).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ClipInfo {
    /// The file name: how every clip command names it.
    pub name: String,
    pub path: String,
    pub duration_s: f64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Unix seconds.
    #[ts(type = "number")]
    pub created_unix_s: u64,
    pub width: u32,
    pub height: u32,
}

/// Sent on the export's channel as each clip's vertical version is encoded.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportProgress {
    /// Which clip of the batch (0-based) and how many there are.
    pub index: u32,
    pub total: u32,
    pub name: String,
    /// 0..=1 for this clip.
    pub fraction: f32,
}

/// A clip exported 9:16.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportedClip {
    pub name: String,
    /// The vertical file's name (in the library).
    pub output: String,
}

/// A clip that could not be exported, and why (in a streamer's words).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportFailure {
    pub name: String,
    pub reason: String,
}

/// What a batch export did: the batch goes on past a failure.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportReport {
    pub exported: Vec<ExportedClip>,
    pub failed: Vec<ExportFailure>,
}

/// A local recording (`recordings_list`, newest first).
#[derive(Debug, Clone, Serialize, TS)]
pub struct RecordingInfo {
    pub name: String,
    pub duration_s: f64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub created_unix_s: u64,
    /// Room signals were recorded with it (`<name>.signals.jsonl`).
    pub has_signals: bool,
}

/// A proposed highlight of a recording.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SuggestionItem {
    /// Peak, start and end, seconds into the recording.
    #[ts(type = "number")]
    pub at_s: u64,
    #[ts(type = "number")]
    pub from_s: u64,
    #[ts(type = "number")]
    pub to_s: u64,
    pub score: f64,
    /// What made it stand out (English, from the engine).
    pub reason: String,
    /// Kept already: the clip it became (file name), if known.
    pub kept: Option<String>,
}

/// The suggestions of one recording, discarded ones left out.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SuggestionList {
    pub recording: String,
    /// Whether room signals were found beside it (else only loudness was used).
    pub has_signals: bool,
    pub items: Vec<SuggestionItem>,
    /// How many were discarded before (hidden).
    pub discarded: u32,
}

impl From<marquee_highlights::ClipInfo> for ClipInfo {
    fn from(c: marquee_highlights::ClipInfo) -> Self {
        Self {
            name: c.name,
            path: c.path.display().to_string(),
            duration_s: c.duration_s,
            bytes: c.bytes,
            created_unix_s: c.created_unix_s,
            width: c.width,
            height: c.height,
        }
    }
}

impl From<desk::ExportProgress> for ExportProgress {
    fn from(p: desk::ExportProgress) -> Self {
        Self {
            index: p.index,
            total: p.total,
            name: p.name,
            fraction: p.fraction,
        }
    }
}

impl From<desk::ExportReport> for ExportReport {
    fn from(r: desk::ExportReport) -> Self {
        Self {
            exported: (r.exported.into_iter())
                .map(|e| ExportedClip {
                    name: e.name,
                    output: e.output,
                })
                .collect(),
            failed: (r.failed.into_iter())
                .map(|f| ExportFailure {
                    name: f.name,
                    reason: f.reason,
                })
                .collect(),
        }
    }
}

impl From<desk::RecordingInfo> for RecordingInfo {
    fn from(r: desk::RecordingInfo) -> Self {
        Self {
            name: r.name,
            duration_s: r.duration_s,
            bytes: r.bytes,
            created_unix_s: r.created_unix_s,
            has_signals: r.has_signals,
        }
    }
}

impl From<desk::SuggestionList> for SuggestionList {
    fn from(l: desk::SuggestionList) -> Self {
        Self {
            recording: l.recording,
            has_signals: l.has_signals,
            items: (l.items.into_iter())
                .map(|s| SuggestionItem {
                    at_s: s.at_s,
                    from_s: s.from_s,
                    to_s: s.to_s,
                    score: s.score,
                    reason: s.reason,
                    kept: s.kept,
                })
                .collect(),
            discarded: l.discarded,
        }
    }
}
