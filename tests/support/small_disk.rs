//! A real full disk for tests: a small tmpfs mounted on a fresh temp dir (as root with
//! `mount`, otherwise with passwordless `sudo -n mount`), filled on demand, unmounted on drop.
//! Writes past its size fail with the kernel's own ENOSPC.
//!
//! Self-contained (std and tempfile only): the crates' own tests include this file with
//! `#[path]` as well as the end-to-end harness.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs of a few MiB.
#[derive(Debug)]
pub struct SmallDisk {
    dir: tempfile::TempDir,
    bytes: u64,
}

/// The filler [`SmallDisk::fill_leaving`] writes (left out of [`SmallDisk::entries`]).
const FILLER: &str = "filler.bin";

fn as_root(args: &[&str]) -> std::io::Result<std::process::Output> {
    let uid = Command::new("id").arg("-u").output()?;
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        Command::new(args[0]).args(&args[1..]).output()
    } else {
        Command::new("sudo").arg("-n").args(args).output()
    }
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` (rounded up to pages). Panics, saying what to do, when this
    /// process may not mount.
    pub fn mount(bytes: u64) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("marquee-small-disk-")
            .tempdir()
            .expect("a temp dir for the small disk");
        let path = dir.path().to_str().expect("UTF-8 temp dir").to_string();
        let opts = format!("size={bytes},mode=0777");
        let out = as_root(&["mount", "-t", "tmpfs", "-o", &opts, "tmpfs", &path]);
        match out {
            Ok(o) if o.status.success() => {}
            other => panic!(
                "a full disk needs a small tmpfs, and mounting one failed ({other:?}): run the \
                 tests as root or with passwordless sudo (`mount -t tmpfs -o size=4m tmpfs DIR`)"
            ),
        }
        Self { dir, bytes }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its size as mounted.
    pub fn size(&self) -> u64 {
        self.bytes
    }

    /// Bytes still free, as the file system says.
    pub fn free(&self) -> u64 {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(self.path())
            .output()
            .expect("stat (coreutils)");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text
            .split_whitespace()
            .map(|n| n.parse::<u64>().unwrap_or(0));
        it.next().unwrap_or(0) * it.next().unwrap_or(0)
    }

    /// Fills it (with a file of its own) until at most `left` bytes are free, or empties
    /// that file when more than `left` are free already.
    pub fn fill_leaving(&self, left: u64) {
        use std::io::Write;
        let filler = self.path().join(FILLER);
        let _ = std::fs::remove_file(&filler);
        let mut f = std::fs::File::create(&filler).expect("create the filler");
        let chunk = vec![0x5Au8; 64 * 1024];
        loop {
            let free = self.free();
            if free <= left {
                break;
            }
            let n = ((free - left) as usize).min(chunk.len());
            match f.write(&chunk[..n]) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        f.sync_all().expect("sync the filler");
    }

    /// Removes the filler: the disk has room again.
    pub fn make_room(&self) {
        let _ = std::fs::remove_file(self.path().join(FILLER));
    }

    /// Names of everything in it (hidden files included) but the filler, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = walk(self.path())
            .into_iter()
            .filter_map(|p| {
                p.strip_prefix(self.path())
                    .ok()
                    .map(|r| r.display().to_string())
            })
            .filter(|n| n != FILLER)
            .collect();
        v.sort();
        v
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let path = self.path().display().to_string();
        // Lazy: a file some thread still holds open must not keep the mount (and the test).
        let _ = as_root(&["umount", "-l", &path]);
    }
}
