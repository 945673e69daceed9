//! Clips on a real full disk (a small tmpfs the test mounts): every way of writing one —
//! a save from the replay buffer, a cut from a recording, keep and 9:16 export from the clip
//! desk — fails with the disk named and leaves nothing behind, whatever point the disk fills
//! at. (The order of syncs and the rename is watched in `durable_syscalls.rs`.)
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../tests/support/small_disk.rs"]
mod small_disk;

use marquee_highlights::save::write_packets;
use marquee_highlights::synth::{SynthConfig, SynthSession, encode_session};
use marquee_highlights::{ClipDesk, HighlightSaver, ReplayConfig, SharedReplay, cut_recording};
use marquee_studio::output::PacketSink;
use small_disk::SmallDisk;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn session(secs: f64) -> SynthSession {
    encode_session(&SynthConfig {
        seconds: secs,
        ..Default::default()
    })
    .unwrap()
}

fn filled(s: &SynthSession) -> Arc<SharedReplay> {
    let replay = Arc::new(SharedReplay::new(
        ReplayConfig::default(),
        s.video_tb(),
        s.audio_tb(),
    ));
    for p in &s.packets {
        replay.offer(p);
    }
    replay
}

fn assert_says_full(e: &str, dir: &Path) {
    let want = format!("the disk holding {} is full", dir.display());
    assert!(e.contains(&want), "{e}\n(wanted: {want})");
    assert!(e.contains("cannot write "), "{e}");
    assert!(e.ends_with(": free space or choose another folder"), "{e}");
}

/// What the message says was needed, in bytes.
fn needed(e: &str) -> f64 {
    let mb = e
        .split("(about ")
        .nth(1)
        .and_then(|r| r.split(" MB needed)").next())
        .unwrap_or_else(|| panic!("no amount needed in: {e}"));
    mb.parse::<f64>().unwrap() * 1e6
}

/// Free-space levels from nothing to nearly what `bytes` needs: the disk fills at the
/// header, mid-way through the packets, and at the index (faststart rewrites the file).
fn levels(bytes: u64) -> [u64; 5] {
    [
        0,
        16 * 1024,
        bytes / 3,
        bytes * 2 / 3,
        bytes.saturating_sub(8 * 1024),
    ]
}

#[test]
fn a_save_to_a_full_disk_says_so_leaves_nothing_and_the_next_save_works() {
    let s = session(12.0);
    let replay = filled(&s);
    // How big the clip is with room to spare.
    let roomy = tempfile::tempdir().unwrap();
    let saver =
        HighlightSaver::new(replay.clone(), s.streams.clone(), roomy.path().into()).unwrap();
    let size = saver
        .save_last(Duration::from_secs(5))
        .unwrap()
        .wait()
        .unwrap()
        .bytes;
    drop(saver);

    let disk = SmallDisk::mount(4 << 20);
    let clips = disk.path().join("clips");
    let saver = HighlightSaver::new(replay.clone(), s.streams.clone(), clips.clone()).unwrap();
    for left in levels(size) {
        disk.fill_leaving(left);
        let e = saver
            .save_last(Duration::from_secs(5))
            .unwrap()
            .wait()
            .expect_err(&format!("{left} bytes free of {size} needed"))
            .to_string();
        assert_says_full(&e, &clips);
        // About what the clip takes (its container is a little smaller than the packets).
        let n = needed(&e);
        assert!(
            n >= size as f64 * 0.9 && n <= size as f64 * 1.3,
            "{n} for {size}: {e}"
        );
        assert_eq!(disk.entries(), ["clips"], "{left} bytes free: {e}");
    }
    // Room again: the same saver saves.
    disk.make_room();
    let clip = saver
        .save_last(Duration::from_secs(5))
        .unwrap()
        .wait()
        .unwrap();
    common::assert_good_clip(&clip.path, 5.0, 7.0);
    let name = clip.path.file_name().unwrap().to_string_lossy();
    assert_eq!(
        disk.entries(),
        ["clips".to_string(), format!("clips/{name}")]
    );
}

#[test]
fn a_cut_keep_or_export_onto_a_full_disk_says_so_and_leaves_nothing() {
    let s = session(6.0);
    let home = tempfile::tempdir().unwrap();
    let recordings = home.path().join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let rec = recordings.join("show.mkv");
    write_packets(&s.packets, Duration::ZERO, &s.streams, &rec).unwrap();

    let disk = SmallDisk::mount(4 << 20);
    let library = disk.path().join("clips");
    std::fs::create_dir_all(&library).unwrap();
    // A clip already in the library, to export.
    std::fs::copy(&rec, library.join("moment.mkv")).unwrap();
    let desk = ClipDesk::new(library.clone(), recordings.clone());
    let before = disk.entries();
    // What each one writes with room to spare.
    let out = library.join("cut.mp4");
    let cut_size = cut_recording(&rec, Duration::from_secs(1), Duration::from_secs(5), &out)
        .unwrap()
        .bytes;
    let report = desk.export(&["moment.mkv".to_string()], |_| {}).unwrap();
    let export_size = std::fs::metadata(library.join(&report.exported[0].output))
        .unwrap()
        .len();
    for e in disk.entries() {
        if !before.contains(&e) {
            std::fs::remove_file(disk.path().join(e)).unwrap();
        }
    }
    assert_eq!(disk.entries(), before);
    for left in levels(cut_size) {
        disk.fill_leaving(left);
        let e = cut_recording(&rec, Duration::from_secs(1), Duration::from_secs(5), &out)
            .unwrap_err()
            .to_string();
        assert_says_full(&e, &library);
        let n = needed(&e);
        assert!(
            n >= cut_size as f64 * 0.5 && n <= cut_size as f64 * 2.0,
            "{n} for {cut_size}"
        );
        let e = desk.keep("show.mkv", 1, 5).unwrap_err().0;
        assert_says_full(&e, &library);
        assert_eq!(disk.entries(), before, "{left} bytes free of {cut_size}");
    }
    for left in levels(export_size) {
        disk.fill_leaving(left);
        let report = desk.export(&["moment.mkv".to_string()], |_| {}).unwrap();
        assert!(report.exported.is_empty(), "{left}: {report:?}");
        assert_says_full(&report.failed[0].reason, &library);
        assert_eq!(disk.entries(), before, "{left} bytes free of {export_size}");
    }
}
