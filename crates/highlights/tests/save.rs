//! Saving highlights from a replay buffer fed with really encoded H.264/AAC packets.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use marquee_highlights::synth::{SynthConfig, encode_session};
use marquee_highlights::{HighlightSaver, ReplayConfig, SharedReplay};
use marquee_studio::output::PacketSink;
use std::sync::Arc;
use std::time::Duration;

fn filled(secs: f64) -> (Arc<SharedReplay>, marquee_highlights::synth::SynthSession) {
    let s = encode_session(&SynthConfig {
        seconds: secs,
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
    (replay, s)
}

#[test]
fn saved_highlight_is_a_faststart_mp4_starting_on_a_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let (replay, s) = filled(12.0);
    let saver = HighlightSaver::new(replay.clone(), s.streams.clone(), dir.path().into()).unwrap();
    let clip = saver
        .save_last(Duration::from_secs(5))
        .unwrap()
        .wait()
        .unwrap();
    assert!(clip.path.exists());
    // GOP is 2 s: the last 5 s start at the keyframe at 6 s, so the clip is ~6 s.
    assert!((clip.start_s - 6.0).abs() < 1e-6, "{clip:?}");
    let p = common::assert_good_clip(&clip.path, 5.0, 7.0);
    assert!(p.format.contains("mp4"));
    assert!(p.video_start.abs() < 0.001, "{p:?}");
    let boxes = common::mp4_boxes(&clip.path);
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "not faststart: {boxes:?}");
    assert!(clip.latency_ms > 0.0 && clip.bytes > 0);
    // No partial file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn buffer_keeps_taking_packets_while_a_clip_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (replay, s) = filled(8.0);
    let saver = HighlightSaver::new(replay.clone(), s.streams.clone(), dir.path().into()).unwrap();
    let before = replay.counters().packets_in;
    let ticket = saver.save_last(Duration::from_secs(30)).unwrap();
    // Live packets keep arriving (re-offered with later timestamps) while the file is written.
    let n = s.packets.len() as i64;
    for p in &s.packets {
        let mut q = p.clone();
        let shift = if q.track == marquee_studio::packet::Track::Video {
            240
        } else {
            8 * 48000
        };
        q.pts += shift;
        q.dts += shift;
        replay.offer(&q);
    }
    assert_eq!(replay.counters().packets_in, before + n as u64);
    let clip = ticket.wait().unwrap();
    // The snapshot was taken at request time: the whole 8 s, not the later packets.
    common::assert_good_clip(&clip.path, 7.9, 8.1);
}

#[test]
fn saving_from_an_empty_buffer_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let s = encode_session(&SynthConfig {
        seconds: 0.5,
        ..Default::default()
    })
    .unwrap();
    let replay = Arc::new(SharedReplay::new(
        ReplayConfig::default(),
        s.video_tb(),
        s.audio_tb(),
    ));
    let saver = HighlightSaver::new(replay, s.streams.clone(), dir.path().into()).unwrap();
    let e = saver.save_last(Duration::from_secs(5)).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn a_highlight_saved_from_the_disk_spool_is_the_same_good_clip() {
    let dir = tempfile::tempdir().unwrap();
    let s = encode_session(&SynthConfig {
        seconds: 12.0,
        ..Default::default()
    })
    .unwrap();
    let spooled = Arc::new(
        SharedReplay::spooled(
            ReplayConfig::default(),
            s.video_tb(),
            s.audio_tb(),
            &dir.path().join("spool"),
        )
        .unwrap(),
    );
    assert!(spooled.is_spooled());
    let memory = SharedReplay::new(ReplayConfig::default(), s.video_tb(), s.audio_tb());
    for p in &s.packets {
        spooled.offer(p);
        memory.offer(p);
    }
    let from_disk = spooled.snapshot_last(Duration::from_secs(5)).unwrap();
    let from_memory = memory.snapshot_last(Duration::from_secs(5)).unwrap();
    assert_eq!(from_disk.packets.len(), from_memory.packets.len());
    assert!(
        from_disk
            .packets
            .iter()
            .zip(&from_memory.packets)
            .all(|(a, b)| a.data == b.data && a.dts == b.dts)
    );
    let saver = HighlightSaver::new(spooled, s.streams.clone(), dir.path().join("clips")).unwrap();
    let clip = saver
        .save_last(Duration::from_secs(5))
        .unwrap()
        .wait()
        .unwrap();
    assert!((clip.start_s - 6.0).abs() < 1e-6, "{clip:?}");
    common::assert_good_clip(&clip.path, 5.0, 7.0);
}
