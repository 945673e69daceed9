//! Cuts from a recording, the clip library, vertical export, and suggestions, all on
//! really encoded media checked with ffprobe.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use marquee_highlights::library::{ExportOptions, Library, export_vertical, loudness_per_second};
use marquee_highlights::save::write_packets;
use marquee_highlights::suggest::{Scorer, ScorerConfig, SecondSignals};
use marquee_highlights::synth::{SynthConfig, encode_session};
use marquee_highlights::{MarkLog, cut_recording, marks_path_for};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A "recording": a synthetic session muxed to Matroska like the live recorder does.
fn recording(dir: &Path, cfg: &SynthConfig) -> PathBuf {
    let s = encode_session(cfg).unwrap();
    let path = dir.join("recording.mkv");
    write_packets(&s.packets, Duration::ZERO, &s.streams, &path).unwrap();
    path
}

#[test]
fn cut_between_marks_starts_on_the_keyframe_before_the_first_mark() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(
        dir.path(),
        &SynthConfig {
            seconds: 12.0,
            ..Default::default()
        },
    );
    let mut marks = MarkLog::open(&marks_path_for(&rec)).unwrap();
    marks.add(Duration::from_millis(3300), "goal").unwrap();
    marks.add(Duration::from_millis(8000), "").unwrap();
    // Re-read from disk, as `marquee clip cut --from-mark 1 --to-mark 2` does.
    let marks = MarkLog::open(&marks_path_for(&rec)).unwrap();
    let out = dir.path().join("cut.mp4");
    let r = cut_recording(
        &rec,
        marks.get(1).unwrap().at(),
        marks.get(2).unwrap().at(),
        &out,
    )
    .unwrap();
    assert_eq!(r.start_s, 2.0, "{r:?}");
    let p = common::assert_good_clip(&out, 5.9, 6.1);
    assert!(p.video_start.abs() < 0.001);
    assert!(marks.get(3).is_err());
}

#[test]
fn cut_from_the_very_start_and_to_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(
        dir.path(),
        &SynthConfig {
            seconds: 6.0,
            ..Default::default()
        },
    );
    let out = dir.path().join("all.mkv");
    cut_recording(&rec, Duration::ZERO, Duration::from_secs(100), &out).unwrap();
    common::assert_good_clip(&out, 5.9, 6.1);
    assert!(cut_recording(&rec, Duration::from_secs(5), Duration::from_secs(4), &out).is_err());
}

#[test]
fn library_lists_thumbnails_renames_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::open(dir.path().join("clips")).unwrap();
    let s = encode_session(&SynthConfig {
        seconds: 4.0,
        ..Default::default()
    })
    .unwrap();
    write_packets(
        &s.packets,
        Duration::ZERO,
        &s.streams,
        &lib.dir().join("a.mp4"),
    )
    .unwrap();
    std::fs::write(lib.dir().join("notes.txt"), "not a clip").unwrap();
    let list = lib.list().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].name, "a.mp4");
    assert!((list[0].duration_s - 4.0).abs() < 0.1, "{list:?}");
    assert_eq!((list[0].width, list[0].height), (320, 240));
    assert!(list[0].bytes > 10_000 && list[0].created_unix_s > 1_600_000_000);

    let thumb = lib.thumbnail(&list[0].path).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&thumb)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mjpeg,320,240");

    let renamed = lib.rename(&list[0].path, "best goal").unwrap();
    assert_eq!(renamed.file_name().unwrap(), "best goal.mp4");
    assert!(lib.rename(&renamed, "../escape").is_err());
    assert!(lib.thumbnail(&renamed).unwrap().exists());
    lib.delete(&renamed).unwrap();
    assert!(lib.list().unwrap().is_empty());
}

#[test]
fn vertical_export_is_9_16_with_audio_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let s = encode_session(&SynthConfig {
        seconds: 3.0,
        ..Default::default()
    })
    .unwrap();
    let src = dir.path().join("wide.mp4");
    write_packets(&s.packets, Duration::ZERO, &s.streams, &src).unwrap();
    let out = dir.path().join("tall.mp4");
    let mut seen = Vec::new();
    let opts = ExportOptions {
        width: 180,
        height: 320,
        bitrate_kbps: 400,
        preset: "ultrafast".into(),
    };
    export_vertical(&src, &out, &opts, |f| seen.push(f)).unwrap();
    let p = common::assert_good_clip(&out, 2.9, 3.1);
    assert_eq!((p.width, p.height), (180, 320));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(*seen.last().unwrap(), 1.0);
    assert!(seen.len() > 5);
}

#[test]
fn batch_export_goes_on_when_one_clip_fails_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::open(dir.path().join("clips")).unwrap();
    let s = encode_session(&SynthConfig {
        seconds: 2.0,
        ..Default::default()
    })
    .unwrap();
    let good1 = lib.dir().join("one.mp4");
    let good2 = lib.dir().join("two.mp4");
    let bad = lib.dir().join("broken.mp4");
    write_packets(&s.packets, Duration::ZERO, &s.streams, &good1).unwrap();
    write_packets(&s.packets, Duration::ZERO, &s.streams, &good2).unwrap();
    std::fs::write(&bad, b"this is not an mp4 at all").unwrap();
    let out_dir = dir.path().join("vertical");
    std::fs::create_dir_all(&out_dir).unwrap();
    let opts = ExportOptions {
        width: 180,
        height: 320,
        bitrate_kbps: 400,
        preset: "ultrafast".into(),
    };
    let report = lib.export_batch(
        &[good1.clone(), bad.clone(), good2.clone()],
        &out_dir,
        &opts,
        |_, _| {},
    );
    assert_eq!(report.exported.len(), 2, "{report:?}");
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, bad);
    for (_, out) in &report.exported {
        common::assert_good_clip(out, 1.9, 2.1);
    }
    // No half-written file from the failure.
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 2);
}

#[test]
fn suggestions_find_the_known_spikes_of_a_recorded_session() {
    let dir = tempfile::tempdir().unwrap();
    // 60 s at speech-like level with a shout at 41–43 s, recorded and read back.
    let rec = recording(
        dir.path(),
        &SynthConfig {
            seconds: 60.0,
            width: 160,
            height: 120,
            quiet_dbfs: -30.0,
            loud: vec![(41.0, 43.0)],
            loud_dbfs: -8.0,
            ..Default::default()
        },
    );
    let loud = loudness_per_second(&rec).unwrap();
    assert!((59..=61).contains(&loud.len()), "{}", loud.len());
    // The tone is a 440 Hz sine: −30 dBFS stereo reads about −30 LUFS.
    assert!((loud[20] - -30.0).abs() < 1.0, "{}", loud[20]);
    // Chat and gifts of the same session (as the room would log them): a chat burst at 15 s.
    let mut sc = Scorer::new(ScorerConfig {
        min_gap_s: 10,
        ..Default::default()
    });
    for (i, l) in loud.iter().enumerate() {
        sc.push(&SecondSignals {
            danmaku: if (15..18).contains(&i) {
                60
            } else {
                5 + (i % 3) as u32
            },
            gift_value: 0.0,
            vote: false,
            lottery: false,
            guest: false,
            loudness_lufs: Some(*l),
        });
    }
    let sug = sc.suggestions(5);
    let mut at: Vec<u64> = sug.iter().map(|s| s.at_s).collect();
    at.sort();
    assert_eq!(at.len(), 2, "{sug:#?}");
    assert!((15..18).contains(&at[0]), "{sug:#?}");
    assert!((41..=43).contains(&at[1]), "{sug:#?}");
    let shout = sug.iter().find(|s| s.at_s == at[1]).unwrap();
    assert!(shout.reason.contains("audio spike"), "{shout:?}");
}

/// Frame `n` of a file, decoded by the ffmpeg CLI, as 8-bit gray.
fn gray_frame(path: &Path, n: usize) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-vf",
            &format!("select=eq(n\\,{n})"),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ])
        .output()
        .expect("ffmpeg CLI: apt-get install ffmpeg");
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn accurate_cut_starts_on_the_exact_frame_and_copies_from_the_next_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(
        dir.path(),
        &SynthConfig {
            seconds: 12.0,
            bitrate_kbps: 1500,
            ..Default::default()
        },
    );
    let out = dir.path().join("accurate.mp4");
    // 3.3 s is frame 99, in the GOP that starts at 2.0 s; the next keyframe is at 4.0 s.
    let r = marquee_highlights::cut_recording_accurate(
        &rec,
        Duration::from_millis(3300),
        Duration::from_millis(8000),
        &out,
    )
    .unwrap();
    assert!((r.start_s - 3.3).abs() < 0.002, "{r:?}");
    common::assert_good_clip(&out, 4.65, 4.75);
    // Decodes cleanly end to end, with exactly the frames asked for.
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let c = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&c.stdout).trim(), "141");
    // The first frame is the recording's frame 99 (not 98, not 60), and the copied part
    // (from the keyframe at 4.0 s = frame 120 = cut frame 21) is intact.
    let first = gray_frame(&out, 0);
    let d99 = mean_abs_diff(&first, &gray_frame(&rec, 99));
    let d98 = mean_abs_diff(&first, &gray_frame(&rec, 98));
    assert!(d99 < 2.0 && d98 > 2.0 * d99 + 1.0, "d99 {d99} d98 {d98}");
    // Re-encoded frames: the closest recording frame is the right one.
    let f20 = gray_frame(&out, 20);
    let d = |n: usize| mean_abs_diff(&f20, &gray_frame(&rec, n));
    let (d118, d119, d120) = (d(118), d(119), d(120));
    assert!(
        d119 < d118 && d119 < d120 && d119 < 4.0,
        "{d118} {d119} {d120}"
    );
    // Copied frames decode exactly as in the recording (the SPS/PPS switch back worked).
    for (cut_n, rec_n) in [(21, 120), (22, 121), (140, 239)] {
        let d = mean_abs_diff(&gray_frame(&out, cut_n), &gray_frame(&rec, rec_n));
        assert!(
            d < 0.01,
            "cut frame {cut_n} vs recording frame {rec_n}: {d}"
        );
    }
}

#[test]
fn cut_works_on_a_recording_cut_short_without_its_index() {
    // As after `kill -9`: the Matroska cues (written at the end) are missing.
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(
        dir.path(),
        &SynthConfig {
            seconds: 10.0,
            ..Default::default()
        },
    );
    let data = std::fs::read(&rec).unwrap();
    let short = dir.path().join("killed.mkv");
    std::fs::write(&short, &data[..data.len() * 7 / 10]).unwrap();
    let out = dir.path().join("from-killed.mp4");
    let r = cut_recording(
        &short,
        Duration::from_millis(2500),
        Duration::from_millis(5000),
        &out,
    )
    .unwrap();
    assert_eq!(r.start_s, 2.0, "{r:?}");
    common::assert_good_clip(&out, 2.95, 3.05);
}
