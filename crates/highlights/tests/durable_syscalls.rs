//! A saved clip is synced, renamed into place, then its folder synced: the system calls
//! watched with strace. Alone in its test binary: strace follows every thread of the process,
//! and another test forking meanwhile would be caught in it.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_highlights::synth::{SynthConfig, encode_session};
use marquee_highlights::{HighlightSaver, ReplayConfig, SharedReplay};
use marquee_studio::output::PacketSink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The system calls of this process (all threads) while `f` runs, as strace writes them.
fn traced(f: impl FnOnce()) -> String {
    use std::io::BufRead;
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut strace = std::process::Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
        ])
        .arg("-o")
        .arg(out.path())
        .arg("-p")
        .arg(std::process::id().to_string())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("strace is missing: apt-get install strace");
    // Attached once it traces this thread: a marker open it must log.
    let marker = format!("/nonexistent-marker-{}", std::process::id());
    let attached = (0..500).any(|_| {
        let _ = std::fs::File::open(&marker);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::read_to_string(out.path()).is_ok_and(|t| t.contains(&marker))
    });
    if !attached {
        let _ = strace.kill();
        let err = std::io::BufReader::new(strace.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n");
        panic!("strace did not attach to this test within 10 s: {err}");
    }
    f();
    // SAFETY: a signal to the strace child we started: it detaches and flushes on SIGINT.
    unsafe {
        libc::kill(strace.id() as i32, libc::SIGINT);
    }
    strace.wait().unwrap();
    std::fs::read_to_string(out.path()).unwrap()
}

/// The fd a line `openat(..., "PATH", ...) = FD` opened, if it opened `path`.
fn opened_fd(line: &str, path: &Path) -> Option<String> {
    let quoted = format!("\"{}\"", path.display());
    if !line.contains("openat(") || !line.contains(&quoted) {
        return None;
    }
    line.rsplit("= ").next().map(|fd| fd.trim().to_string())
}

#[test]
fn a_saved_clip_is_synced_renamed_into_place_then_its_folder_synced() {
    let s = encode_session(&SynthConfig {
        seconds: 8.0,
        ..Default::default()
    })
    .unwrap();
    let replay = Arc::new(SharedReplay::new(
        ReplayConfig::default(),
        s.video_tb(),
        s.audio_tb(),
    ));
    for p in &s.packets {
        replay.offer(p);
    }
    let dir = tempfile::tempdir().unwrap();
    let clips: PathBuf = dir.path().join("clips");
    let saver = HighlightSaver::new(replay, s.streams.clone(), clips.clone()).unwrap();
    let mut clip = None;
    let log = traced(|| {
        clip = Some(
            saver
                .save_last(Duration::from_secs(3))
                .unwrap()
                .wait()
                .unwrap(),
        );
    });
    let clip = clip.unwrap().path;
    let partial = marquee_highlights::durable::partial_path(&clip);
    let lines: Vec<&str> = log.lines().collect();
    let syncs = |fd: &str, from: usize| {
        lines[from..]
            .iter()
            .position(|l| {
                l.contains(&format!("fsync({fd})")) || l.contains(&format!("fdatasync({fd})"))
            })
            .map(|i| i + from)
    };
    // The complete partial file is opened and synced before the rename.
    let rename = lines
        .iter()
        .position(|l| {
            l.contains("rename")
                && l.contains(&format!("\"{}\"", partial.display()))
                && l.contains(&format!("\"{}\"", clip.display()))
        })
        .unwrap_or_else(|| panic!("no rename of the partial file:\n{log}"));
    let file_synced = lines[..rename].iter().enumerate().any(|(i, l)| {
        opened_fd(l, &partial).is_some_and(|fd| syncs(&fd, i).is_some_and(|at| at < rename))
    });
    assert!(
        file_synced,
        "the clip was not synced before its rename:\n{log}"
    );
    // Then its folder is opened and synced.
    let dir_synced = lines[rename..]
        .iter()
        .enumerate()
        .any(|(i, l)| opened_fd(l, &clips).is_some_and(|fd| syncs(&fd, rename + i).is_some()));
    assert!(
        dir_synced,
        "the clips folder was not synced after the rename:\n{log}"
    );
}
