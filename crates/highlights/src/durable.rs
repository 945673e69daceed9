//! Files that appear whole or not at all (clips, cuts, exports, the keep/discard list):
//! written under a hidden temporary name in the target's folder (a rename is atomic only
//! within one file system), synced, renamed into place, and the folder synced so the rename
//! itself survives a power cut. On any failure the temporary file is removed, so a full disk
//! leaves nothing behind; the error names the folder whose disk is full.

use crate::error::{HighlightError, Result};
use marquee_studio::disk::sync_dir;
use std::path::{Path, PathBuf};

/// Where `path` is written before it is complete: `.NAME.partial` beside it.
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// A file being written under [`partial_path`] for `path`; removed if dropped before
/// [`Partial::commit`]. Whatever writes it must have closed it before the commit.
#[derive(Debug)]
pub struct Partial {
    tmp: PathBuf,
    path: PathBuf,
    done: bool,
}

impl Partial {
    pub fn new(path: &Path) -> Self {
        Self {
            tmp: partial_path(path),
            path: path.to_path_buf(),
            done: false,
        }
    }

    /// The temporary file to write.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Where it goes when complete.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the complete file, renames it into place and syncs the folder. Returns its size.
    pub fn commit(self) -> Result<u64> {
        self.finish(true)
    }

    /// Renames the complete file into place, unsynced: for caches (thumbnails) that can be
    /// made again.
    pub fn commit_cache(self) -> Result<u64> {
        self.finish(false)
    }

    fn finish(mut self, durable: bool) -> Result<u64> {
        let err = |e| HighlightError::io(&self.path, e);
        let bytes = {
            // Writable: Windows syncs only a handle that may write.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.tmp)
                .map_err(err)?;
            if durable {
                f.sync_all().map_err(err)?;
            }
            f.metadata().map_err(err)?.len()
        };
        std::fs::rename(&self.tmp, &self.path).map_err(err)?;
        self.done = true;
        if durable && let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir).map_err(|e| HighlightError::io(dir, e))?;
        }
        Ok(bytes)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` as `path` through a [`Partial`], durably.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<u64> {
    let p = Partial::new(path);
    std::fs::write(p.tmp(), bytes).map_err(|e| HighlightError::io(path, e))?;
    p.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_file_is_in_place_and_nothing_else_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        assert_eq!(write_file(&path, b"{}").unwrap(), 2);
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_partial_dropped_before_its_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        let p = Partial::new(&path);
        std::fs::write(p.tmp(), b"half a clip").unwrap();
        assert!(p.tmp().exists());
        drop(p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
