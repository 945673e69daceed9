//! The disk under recordings and clips: telling a full disk from other write errors (and
//! saying so in a streamer's words), syncing a folder after a rename, and [`Headroom`]: room
//! kept allocated past the end of a file being written, so that when the disk fills the file
//! can still be closed with its index.

use std::fs::File;
use std::io;
use std::path::Path;

/// What a full disk is called in every message (a recording, a clip, an export): where, how
/// much was needed when that is known, and what to do.
pub fn full_message(dir: &Path, needed: Option<u64>) -> String {
    let needed = needed.map_or_else(String::new, |n| format!(" (about {} needed)", mb(n)));
    format!(
        "the disk holding {} is full{needed}: free space or choose another folder",
        dir.display()
    )
}

/// Bytes as megabytes, one decimal: what a file manager shows.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Whether an OS error number means "no space left" (or "quota exceeded").
pub fn is_full_errno(errno: i32) -> bool {
    #[cfg(unix)]
    if errno == libc::EDQUOT {
        return true;
    }
    errno == libc::ENOSPC
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || e.raw_os_error().is_some_and(is_full_errno)
}

/// Makes a rename or a new file in `dir` durable (the folder's entry, not only the file's
/// bytes). A no-op where folders cannot be opened as files (Windows).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Room kept allocated past the end of a file that only grows (a recording), so the file can
/// always be closed — index, trailer — even when the disk fills.
///
/// Before each write the writer asks [`Headroom::make_room`]: blocks are reserved (Linux:
/// `fallocate` with `KEEP_SIZE`, which allocates without growing the file) up to the write's
/// end plus [`Headroom::keep`], a step at a time. When the disk cannot give that, the answer
/// is "full" while `keep` bytes are still reserved: the writer stops there and closes the
/// file into them. Where reserving is not supported, the free space the file system reports
/// is checked instead (which another program filling the disk at the same moment can beat).
#[derive(Debug)]
pub struct Headroom {
    file: File,
    keep: u64,
    step: u64,
    /// Bytes from the start of the file that are allocated.
    reserved: u64,
    reserving: bool,
}

impl Headroom {
    /// Reserves `keep` bytes (and up to `step` more) on `path`, an open file being written.
    /// An error if the disk cannot give `keep` now (a full disk: [`is_full`]).
    pub fn open(path: &Path, keep: u64, step: u64) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut h = Self {
            file,
            keep,
            step,
            reserved: 0,
            reserving: true,
        };
        if !h.make_room(0, 0)? {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        Ok(h)
    }

    /// Bytes kept free past the end for closing the file.
    pub fn keep(&self) -> u64 {
        self.keep
    }

    /// Whether `len` more bytes can be written at `end` (the file's size) with `keep` bytes
    /// still free after them. `false`: the disk is full; close the file now.
    pub fn make_room(&mut self, end: u64, len: u64) -> io::Result<bool> {
        let need = end + len + self.keep;
        if need <= self.reserved {
            return Ok(true);
        }
        if self.reserving {
            // A step ahead, so that this is one system call per `step` bytes written; when
            // that much is not free, exactly what is needed.
            for to in [need + self.step, need] {
                match reserve(&self.file, self.reserved, to) {
                    Ok(()) => {
                        self.reserved = to;
                        return Ok(true);
                    }
                    Err(e) if is_full(&e) => {}
                    Err(e) if unsupported(&e) => {
                        self.reserving = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if self.reserving {
                return Ok(false);
            }
        }
        Ok(free_bytes(&self.file).is_none_or(|free| free >= need - end))
    }

    /// After the file is closed at `size` bytes: gives back what was reserved past it.
    pub fn release(&self, size: u64) {
        if self.reserved > size && release(&self.file, size, self.reserved).is_err() {
            // Truncating to its own size drops the blocks past the end (ext4, tmpfs).
            let _ = self.file.set_len(size);
        }
    }

    /// Syncs the file's bytes to the disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

fn unsupported(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::Unsupported)
        || e.raw_os_error().is_some_and(|n| {
            #[cfg(unix)]
            if n == libc::EOPNOTSUPP || n == libc::ENOSYS || n == libc::EINVAL {
                return true;
            }
            let _ = n;
            false
        })
}

/// Allocates `[from, to)` of `file` without changing its size.
#[cfg(target_os = "linux")]
fn reserve(file: &File, from: u64, to: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if to <= from {
        return Ok(());
    }
    // SAFETY: a plain system call on a file descriptor we own.
    let r = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_KEEP_SIZE,
            from as libc::off_t,
            (to - from) as libc::off_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn reserve(_: &File, _: u64, _: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Frees `[from, to)` of `file` (past its end) without changing its size.
#[cfg(target_os = "linux")]
fn release(file: &File, from: u64, to: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a file descriptor we own.
    let r = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            from as libc::off_t,
            (to - from) as libc::off_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn release(_: &File, _: u64, _: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Bytes an unprivileged writer may still use on `file`'s file system (None: unknown).
#[cfg(unix)]
fn free_bytes(file: &File) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fstatvfs fills the struct on success; it is read only then.
    let r = unsafe { libc::fstatvfs(file.as_raw_fd(), s.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: r == 0, so the struct is initialised.
    let s = unsafe { s.assume_init() };
    // The fields' widths differ between platforms (u32 on macOS).
    #[allow(clippy::unnecessary_cast)]
    let (avail, frsize) = (s.f_bavail as u64, s.f_frsize as u64);
    Some(avail.saturating_mul(frsize))
}

#[cfg(not(unix))]
fn free_bytes(_: &File) -> Option<u64> {
    None
}
