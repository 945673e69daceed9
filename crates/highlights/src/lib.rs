//! Highlights for a live session: a replay buffer of the last seconds of encoded packets,
//! highlight clips saved from it (MP4, faststart, stream copy), marks and cuts from the
//! local recording, a clip library with vertical export, and highlight suggestions scored
//! from the signals a live room really has (danmaku, gifts, votes, loudness).
//!
//! Sans-IO cores ([`buffer::ReplayBuffer`], [`suggest::Scorer`], [`suggest::SignalRecorder`],
//! [`loudness::Momentary`])
//! take data and time in and are tested without sleeping; FFmpeg work (save, cut, export,
//! thumbnails) runs on threads of its own, never on the encoder's.
//!
//! [`desk::ClipDesk`] is the library and the recordings folder as a page uses them (the
//! desktop app's clips drawer): by file name only, errors in a streamer's words.

pub mod avc;
pub mod buffer;
pub mod control;
pub mod cut;
pub mod desk;
pub mod durable;
pub mod error;
pub mod library;
pub mod live;
pub mod loudness;
pub mod save;
pub mod signals;
pub mod spool;
pub mod suggest;
pub mod synth;

pub use buffer::{Held, ReplayBuffer, ReplayConfig, ReplayCounters, SharedReplay, Snapshot, Timed};
pub use cut::{CutReport, Mark, MarkLog, cut_recording, cut_recording_accurate, marks_path_for};
pub use desk::{ClipDesk, DeskError};
pub use error::HighlightError;
pub use library::{BatchReport, ClipInfo, ExportOptions, Library};
pub use live::LiveHighlights;
pub use save::{ClipWriter, HighlightSaver, SaveTicket, SavedClip};
pub use signals::{Decisions, SignalLog, signals_path_for, suggest_recording};
pub use suggest::{Scorer, ScorerConfig, SecondSignals, Signal, SignalRecorder, Suggestion};
