//! Saving highlights: a snapshot of the replay buffer written as MP4 (faststart) by
//! stream copy, on a worker thread of its own so the live encode never waits on a disk.

use crate::buffer::{SharedReplay, Snapshot};
use crate::durable::{Partial, partial_path};
use crate::error::{HighlightError, Result};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use marquee_studio::output::mux::Muxer;
use marquee_studio::packet::{Packet, StreamInfo, Track};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// A clip written to disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SavedClip {
    pub path: PathBuf,
    /// Session time of the clip's first frame.
    pub start_s: f64,
    pub duration_s: f64,
    pub bytes: u64,
    /// From the request to the file being complete, synced and in place.
    pub latency_ms: f64,
    /// Of which: taking the snapshot (under the buffer lock).
    pub snapshot_ms: f64,
}

fn rescale(ts: i64, from: (i32, i32), to: (i32, i32)) -> i64 {
    let num = ts as i128 * from.0 as i128 * to.1 as i128;
    let den = from.1 as i128 * to.0 as i128;
    (num / den.max(1)) as i64
}

/// A clip being written: packets in (decode-time order, starting on a video keyframe),
/// rebased so the first frame is at time zero. The file is written under a temporary name
/// ([`Partial`]), then synced and renamed into place by [`ClipWriter::finish`], so a crash
/// never leaves a half clip where the library would list it, and a failure (a full disk)
/// leaves nothing. `.mp4` gets `+faststart`.
pub struct ClipWriter {
    // Dropped before `partial`: the file is closed before it is removed.
    mux: Muxer,
    offset: [i64; 2],
    partial: Partial,
}

impl std::fmt::Debug for ClipWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipWriter")
            .field("path", &self.partial.path())
            .finish()
    }
}

impl ClipWriter {
    /// Opens `path` (`.mkv` → Matroska, `.mov`, anything else MP4) for these streams;
    /// `start` is the session time that becomes zero.
    pub fn create(path: &Path, streams: &[StreamInfo], start: Duration) -> Result<Self> {
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("mkv") => "matroska",
            Some("mov") => "mov",
            _ => "mp4",
        };
        let partial = Partial::new(path);
        let target = partial
            .tmp()
            .to_str()
            .ok_or_else(|| HighlightError::Invalid(format!("{}: not UTF-8", path.display())))?;
        let tb = |t: Track| {
            streams
                .iter()
                .find(|s| s.track == t)
                .map(|s| s.time_base)
                .unwrap_or((1, 1000))
        };
        let ns = start.as_nanos() as i64;
        let offset = [
            rescale(ns, (1, 1_000_000_000), tb(Track::Video)),
            rescale(ns, (1, 1_000_000_000), tb(Track::Audio)),
        ];
        let mux_opts: &[(&str, &str)] = if format == "matroska" {
            &[]
        } else {
            &[("movflags", "+faststart")]
        };
        let mux = Muxer::open(
            target,
            format,
            streams,
            &[],
            mux_opts,
            Arc::new(AtomicBool::new(false)),
        )
        .map_err(|e| HighlightError::mux(format!("cannot create {}", path.display()), path, e))?;
        Ok(Self {
            mux,
            offset,
            partial,
        })
    }

    /// Writes one packet (audio before the start is skipped).
    pub fn write(&mut self, p: &Packet) -> Result<()> {
        let off = self.offset[p.track as usize];
        if p.track == Track::Audio && p.dts < off {
            return Ok(());
        }
        let mut q = p.clone();
        q.pts -= off;
        q.dts -= off;
        self.mux
            .write(&q)
            .map_err(|e| HighlightError::mux("writing the clip", self.partial.path(), e))?;
        Ok(())
    }

    /// Finalises (index, faststart), syncs, and moves the file into place (syncing its
    /// folder). Returns its size. On an error nothing is left behind.
    pub fn finish(self) -> Result<u64> {
        let Self { mux, partial, .. } = self;
        mux.finish()
            .map_err(|e| HighlightError::mux("finishing the clip", partial.path(), e))?;
        partial.commit()
    }

    /// Gives up: removes the temporary file.
    pub fn abandon(self) {
        drop(self);
    }
}

/// Writes packets (decode-time order, starting on a video keyframe) to `path` with
/// [`ClipWriter`]. Returns the file's size.
pub fn write_packets(
    packets: &[Packet],
    start: Duration,
    streams: &[StreamInfo],
    path: &Path,
) -> Result<u64> {
    // A full disk is told what the clip needs: its packets and the container around them.
    let needed = || {
        Some(
            packets
                .iter()
                .map(|p| p.data.len() as u64 + 32)
                .sum::<u64>()
                + 64_000,
        )
    };
    let mut w = ClipWriter::create(path, streams, start).map_err(|e| e.needing(needed))?;
    for p in packets {
        if let Err(e) = w.write(p) {
            w.abandon();
            return Err(e.needing(needed));
        }
    }
    w.finish().map_err(|e| e.needing(needed))
}

/// Writes a replay-buffer snapshot as an MP4 (faststart) at `path`.
pub fn write_snapshot(snapshot: &Snapshot, streams: &[StreamInfo], path: &Path) -> Result<u64> {
    write_packets(&snapshot.packets, snapshot.start, streams, path)
}

/// UTC stamp for file names (`YYYYmmdd-HHMMSS`, shared with recordings).
pub fn utc_stamp(t: SystemTime) -> String {
    marquee_profile::paths::timestamp_at(t)
}

enum Job {
    Write {
        snapshot: Snapshot,
        path: PathBuf,
        asked: Instant,
        snapshot_ms: f64,
        reply: Sender<Result<SavedClip>>,
    },
}

/// The answer to a save request, arriving when the file is in place.
#[derive(Debug)]
pub struct SaveTicket {
    pub path: PathBuf,
    rx: Receiver<Result<SavedClip>>,
}

impl SaveTicket {
    /// Waits for the clip to be written.
    pub fn wait(self) -> Result<SavedClip> {
        self.rx
            .recv()
            .unwrap_or_else(|_| Err(HighlightError::Invalid("the save thread stopped".into())))
    }
}

/// Saves highlights from a live replay buffer. Requests take a snapshot (a short lock on
/// the buffer: `Arc` clones, or spool positions read back after the lock) and queue it for a
/// dedicated writer thread.
#[derive(Debug)]
pub struct HighlightSaver {
    replay: Arc<SharedReplay>,
    dir: PathBuf,
    tx: Option<Sender<Box<Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl HighlightSaver {
    /// Starts the writer thread. Clips go to `dir` (created if missing).
    pub fn new(replay: Arc<SharedReplay>, streams: Vec<StreamInfo>, dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| HighlightError::io(&dir, e))?;
        let (tx, rx) = crossbeam_channel::bounded::<Box<Job>>(8);
        let thread = std::thread::Builder::new()
            .name("highlight-save".into())
            .spawn(move || {
                for job in rx.iter() {
                    let Job::Write {
                        snapshot,
                        path,
                        asked,
                        snapshot_ms,
                        reply,
                    } = *job;
                    let r = write_snapshot(&snapshot, &streams, &path).map(|bytes| SavedClip {
                        path: path.clone(),
                        start_s: snapshot.start.as_secs_f64(),
                        duration_s: snapshot.duration().as_secs_f64(),
                        bytes,
                        latency_ms: asked.elapsed().as_secs_f64() * 1000.0,
                        snapshot_ms,
                    });
                    match &r {
                        Ok(c) => tracing::info!(path = %c.path.display(), ms = c.latency_ms, "highlight saved"),
                        Err(e) => tracing::warn!("highlight save failed: {e}"),
                    }
                    let _ = reply.send(r);
                }
            })
            .map_err(|e| HighlightError::Invalid(format!("cannot start the save thread: {e}")))?;
        Ok(Self {
            replay,
            dir,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Saves the last `k` of the buffer (from the keyframe at or before now − k).
    pub fn save_last(&self, k: Duration) -> Result<SaveTicket> {
        let asked = Instant::now();
        let snap = self.replay.snapshot_last(k)?;
        self.queue(snap, asked)
    }

    /// Saves the media between two session times, if the buffer still holds it.
    pub fn save_range(&self, from: Duration, to: Duration) -> Result<SaveTicket> {
        let asked = Instant::now();
        let snap = self.replay.snapshot_range(from, to)?;
        self.queue(snap, asked)
    }

    fn queue(&self, snapshot: Snapshot, asked: Instant) -> Result<SaveTicket> {
        if snapshot.packets.is_empty() {
            return Err(HighlightError::EmptyBuffer);
        }
        let snapshot_ms = asked.elapsed().as_secs_f64() * 1000.0;
        let path = unique_path(
            &self.dir,
            &format!(
                "highlight-{}-at{}s",
                utc_stamp(SystemTime::now()),
                snapshot.start.as_secs()
            ),
            "mp4",
        );
        let (reply, rx) = crossbeam_channel::bounded(1);
        let job = Job::Write {
            snapshot,
            path: path.clone(),
            asked,
            snapshot_ms,
            reply,
        };
        let sent = self.tx.as_ref().map(|tx| tx.try_send(Box::new(job)));
        match sent {
            Some(Ok(())) => Ok(SaveTicket { path, rx }),
            Some(Err(TrySendError::Full(_))) => Err(HighlightError::Invalid(
                "8 highlights are already being saved; try again in a moment".into(),
            )),
            _ => Err(HighlightError::Invalid("the save thread stopped".into())),
        }
    }
}

impl Drop for HighlightSaver {
    /// Finishes queued saves (a saved highlight is never lost) and stops the thread.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `dir/stem.ext`, or `dir/stem-2.ext`, … if taken.
pub fn unique_path(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let mut p = dir.join(format!("{stem}.{ext}"));
    let mut n = 2;
    while p.exists() || partial_path(&p).exists() {
        p = dir.join(format!("{stem}-{n}.{ext}"));
        n += 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamp_formats_a_known_time() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_242_757);
        assert_eq!(utc_stamp(t), "20261121-063237");
    }

    #[test]
    fn rescale_between_time_bases() {
        assert_eq!(rescale(2_000_000_000, (1, 1_000_000_000), (1, 30)), 60);
        assert_eq!(rescale(30, (1, 30), (1, 48000)), 48000);
    }
}
