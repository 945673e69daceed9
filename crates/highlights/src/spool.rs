//! The replay buffer's payloads on disk, so that its memory does not grow with bitrate ×
//! window (60 s at 2.5 Mbit/s is ~20 MiB in RAM; at 6 Mbit/s ~45 MiB).
//!
//! Bytes are appended to chunk files (anonymous temp files: nothing is left behind, even
//! after a crash), addressed by an absolute offset. Chunks wholly older than what the buffer
//! still holds are dropped. A reader takes `Arc`s of the chunks it needs while the buffer is
//! locked, so a chunk dropped after that stays readable until the reader is done: a snapshot
//! never races the writer. Only page-cache pages hold the recent chunks, which the kernel
//! reclaims under pressure (they are not the process's memory).
//!
//! One writer (the spool thread) appends; readers (saves) read at offsets.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The chunk files and the write position.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    chunk: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Chunk `first + i` covers absolute bytes `[(first + i) * chunk, (first + i + 1) * chunk)`.
    first: u64,
    files: VecDeque<Arc<File>>,
    /// Absolute offset of the next byte to append.
    head: u64,
}

/// The chunk files a reader needs, held so they outlive a concurrent release.
#[derive(Debug, Default)]
pub struct Pinned {
    chunk: u64,
    first: u64,
    files: Vec<Arc<File>>,
}

impl Spool {
    /// A spool writing chunks of `chunk` bytes into `dir` (created if missing). Creates the
    /// first chunk at once, so a folder that cannot be written fails here, not live.
    pub fn new(dir: &Path, chunk: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let s = Self {
            dir: dir.to_path_buf(),
            chunk: chunk.max(64 * 1024),
            state: Mutex::default(),
        };
        let f = s.new_file()?;
        s.lock().files.push_back(f);
        Ok(s)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_file(&self) -> io::Result<Arc<File>> {
        tempfile::tempfile_in(&self.dir).map(Arc::new)
    }

    /// Appends `data`; returns its absolute offset. One writer only.
    pub fn append(&self, data: &[u8]) -> io::Result<u64> {
        let at = self.lock().head;
        let mut pos = at;
        let mut rest = data;
        while !rest.is_empty() {
            let index = pos / self.chunk;
            let within = pos % self.chunk;
            let n = rest.len().min((self.chunk - within) as usize);
            let file = self.file_for_write(index)?;
            write_at(&file, &rest[..n], within)?;
            pos += n as u64;
            rest = &rest[n..];
        }
        self.lock().head = pos;
        Ok(at)
    }

    /// The chunk `index`, created when the writer reaches it.
    fn file_for_write(&self, index: u64) -> io::Result<Arc<File>> {
        {
            let s = self.lock();
            if let Some(f) = index
                .checked_sub(s.first)
                .and_then(|i| s.files.get(i as usize))
            {
                return Ok(f.clone());
            }
        }
        let f = self.new_file()?;
        let mut s = self.lock();
        if s.files.is_empty() {
            s.first = index;
        }
        s.files.push_back(f.clone());
        Ok(f)
    }

    /// Drops the chunks that end at or before `offset` (nothing held is older).
    pub fn release_before(&self, offset: u64) {
        let mut s = self.lock();
        // Keep the chunk being written even when everything is released.
        while s.files.len() > 1 && (s.first + 1) * self.chunk <= offset {
            s.files.pop_front();
            s.first += 1;
        }
    }

    /// Pins the chunks covering `[from, to)` for [`Pinned::read`].
    pub fn pin(&self, from: u64, to: u64) -> Pinned {
        let s = self.lock();
        let lo = (from / self.chunk).max(s.first);
        let hi = to.div_ceil(self.chunk);
        let files = (lo..hi)
            .filter_map(|i| s.files.get((i - s.first) as usize).cloned())
            .collect();
        Pinned {
            chunk: self.chunk,
            first: lo,
            files,
        }
    }

    /// Bytes of chunk files on disk (whole chunks).
    pub fn disk_bytes(&self) -> u64 {
        self.lock().files.len() as u64 * self.chunk
    }

    /// Absolute offset of the next byte.
    pub fn head(&self) -> u64 {
        self.lock().head
    }
}

impl Pinned {
    /// The `len` bytes at absolute offset `at`.
    pub fn read(&self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = vec![0u8; len];
        let mut pos = at;
        let mut done = 0;
        while done < len {
            let index = pos / self.chunk;
            let within = pos % self.chunk;
            let file = index
                .checked_sub(self.first)
                .and_then(|i| self.files.get(i as usize))
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "that part of the replay buffer is no longer held",
                    )
                })?;
            let n = (len - done).min((self.chunk - within) as usize);
            read_at(file, &mut out[done..done + n], within)?;
            pos += n as u64;
            done += n;
        }
        Ok(out)
    }
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn write_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_write(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    #[test]
    fn what_is_appended_reads_back_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::new(dir.path(), 64 * 1024).unwrap();
        let a = bytes(50_000, 1);
        let b = bytes(100_000, 2); // spans chunks 0, 1 and 2
        let at_a = s.append(&a).unwrap();
        let at_b = s.append(&b).unwrap();
        assert_eq!((at_a, at_b), (0, 50_000));
        let p = s.pin(0, s.head());
        assert_eq!(p.read(at_a, a.len()).unwrap(), a);
        assert_eq!(p.read(at_b, b.len()).unwrap(), b);
        // Anonymous files: nothing is visible in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn released_chunks_leave_disk_but_pinned_ones_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::new(dir.path(), 64 * 1024).unwrap();
        let mut at = Vec::new();
        for i in 0..10u8 {
            at.push(s.append(&bytes(40_000, i)).unwrap());
        }
        assert_eq!(s.disk_bytes(), 7 * 64 * 1024);
        let pinned = s.pin(at[2], at[3] + 40_000);
        s.release_before(at[8]);
        // Chunk 4 holds at[8]'s first byte: chunks 0-3 are gone from the spool…
        assert_eq!(s.disk_bytes(), 3 * 64 * 1024);
        assert!(s.pin(at[2], at[3]).read(at[2], 10).is_err());
        // …but the reader that pinned them before still reads them.
        assert_eq!(pinned.read(at[3], 40_000).unwrap(), bytes(40_000, 3));
        assert_eq!(
            s.pin(at[9], s.head()).read(at[9], 40_000).unwrap(),
            bytes(40_000, 9)
        );
    }

    #[test]
    fn the_chunk_being_written_is_never_released() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::new(dir.path(), 64 * 1024).unwrap();
        s.append(&bytes(1000, 0)).unwrap();
        s.release_before(u64::MAX);
        let at = s.append(&bytes(1000, 1)).unwrap();
        assert_eq!(s.pin(at, at + 1000).read(at, 1000).unwrap(), bytes(1000, 1));
    }

    #[test]
    fn a_folder_that_cannot_be_written_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        assert!(Spool::new(&file.join("spool"), 64 * 1024).is_err());
    }
}
