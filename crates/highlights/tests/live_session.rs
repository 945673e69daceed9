//! End to end with a real live session (synthetic camera + tone through the real encoders,
//! a real MKV recording): the replay buffer on the packet bus, `save` and `mark` over the
//! control socket while live, then a cut between the two marks from the recording.

mod common;

use marquee_capture::camera::Faults;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_highlights::cli::{LiveHighlightArgs, start_for_live};
use marquee_highlights::control::request;
use marquee_highlights::{MarkLog, cut_recording, marks_path_for};
use marquee_studio::{AudioSettings, EncoderChoice, Session, SessionConfig, VideoSettings};
use std::time::Duration;

#[test]
fn save_and_mark_while_live_then_cut_between_marks_from_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session.mkv");
    let session = Session::start(SessionConfig {
        video: VideoSpec::Test,
        audio: AudioSpec::Tone(440.0),
        video_settings: VideoSettings {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 500,
            encoder: EncoderChoice::X264,
            preset: "ultrafast".into(),
        },
        audio_settings: AudioSettings::default(),
        destinations: vec![],
        record: Some(rec.clone()),
        test_faults: Faults::default(),
    })
    .unwrap();
    let socket = dir.path().join("run/live.sock");
    let args = LiveHighlightArgs {
        replay_seconds: 60,
        replay_mib: 64,
        clips_dir: Some(dir.path().join("clips")),
        control: Some(socket.clone()),
    };
    let (hl, server) = start_for_live(&session, &args, Some(&rec))
        .unwrap()
        .unwrap();
    let t = Duration::from_secs(30);
    std::thread::sleep(Duration::from_millis(2500));
    let m1: serde_json::Value =
        serde_json::from_str(&request(&socket, "mark start", t).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    let m2: serde_json::Value =
        serde_json::from_str(&request(&socket, "mark end", t).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let saved: serde_json::Value =
        serde_json::from_str(&request(&socket, "save 3", t).unwrap()).unwrap();
    let status = request(&socket, "status", t).unwrap();
    assert!(status.contains("buffer_s"), "{status}");
    // The session is still encoding after the save (the save ran on its own thread).
    let before = session.stats().video.encoded;
    std::thread::sleep(Duration::from_millis(500));
    assert!(session.stats().video.encoded > before);
    server.stop();
    drop(hl);
    let summary = session.stop();
    assert_eq!(summary.stats.video.dropped.encoder_lag, 0);

    let clip = std::path::PathBuf::from(saved["path"].as_str().unwrap());
    common::assert_good_clip(&clip, 3.0, 5.2);
    assert!(saved["latency_ms"].as_f64().unwrap() < 5000.0);

    // The marks are in the log next to the recording, in session time.
    let log = MarkLog::open(&marks_path_for(&rec)).unwrap();
    assert_eq!(log.marks().len(), 2);
    assert_eq!(log.marks()[0].label, "start");
    let (a, b) = (m1["at_ms"].as_u64().unwrap(), m2["at_ms"].as_u64().unwrap());
    assert!((1800..3300).contains(&a), "{a}");
    assert!(b - a >= 2700 && b - a < 3500, "{a} {b}");
    let out = dir.path().join("between-marks.mp4");
    let r = cut_recording(
        &rec,
        log.get(1).unwrap().at(),
        log.get(2).unwrap().at(),
        &out,
    )
    .unwrap();
    // GOP is 2 s: the cut starts on the keyframe at or before the first mark.
    assert!(
        r.start_s <= a as f64 / 1000.0 && a as f64 / 1000.0 - r.start_s < 2.05,
        "{r:?}"
    );
    let len = b as f64 / 1000.0 - r.start_s;
    common::assert_good_clip(&out, len - 0.1, len + 0.1);
}
