//! A start that fails part-way leaves nothing running: what the earlier steps opened (the
//! encoders, the cameras, the test tone, a camera still retrying) is stopped before the
//! error comes back. Threads are counted from /proc, so this file holds one test (a test
//! binary of its own, nothing else running beside it).

#![cfg(target_os = "linux")]

use marquee_capture::camera::Faults;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_studio::session::SourceConfig;
use marquee_studio::{
    AudioSettings, EncoderChoice, SceneSetup, Session, SessionConfig, StudioError, VideoSettings,
};
use std::time::{Duration, Instant};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Waits for the process to be back to `n` threads; the count it settled on otherwise.
fn settles_at(n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = threads();
        if now == n || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn config(audio: AudioSpec, record: Option<&str>) -> SessionConfig {
    SessionConfig {
        video: VideoSpec::Test,
        audio,
        video_settings: VideoSettings {
            width: 320,
            height: 180,
            fps: 30,
            bitrate_kbps: 300,
            encoder: EncoderChoice::X264,
            preset: "ultrafast".into(),
        },
        audio_settings: AudioSettings::default(),
        destinations: vec![],
        record: record.map(Into::into),
        test_faults: Faults::default(),
        abr_min_kbps: None,
    }
}

/// Two synthetic cameras and, off air, a camera that does not exist (it keeps retrying).
fn setup() -> SceneSetup {
    let source = |id: &str, spec: VideoSpec| SourceConfig {
        id: id.into(),
        spec,
        mic: None,
        faults: Faults::default(),
    };
    SceneSetup {
        sources: vec![
            source("a", VideoSpec::Test),
            source("b", VideoSpec::TestCard(1)),
            source("missing", VideoSpec::Camera("no-such-camera".into())),
        ],
        ..SceneSetup::default()
    }
}

#[test]
fn a_start_that_fails_stops_everything_the_earlier_steps_started() {
    let dir = std::env::temp_dir().join(format!("marquee-failed-start-{}", std::process::id()));
    let bad_recording = dir.join("no-such-folder").join("show.mkv");
    let bad_recording = bad_recording.to_str().expect("utf-8 temp path");
    let fail_at_outputs =
        || Session::start_with(config(AudioSpec::Tone(440.0), Some(bad_recording)), setup());
    // Once first, so whatever a first use starts for good (FFmpeg, the camera backend) is
    // running before counting.
    assert!(fail_at_outputs().is_err());
    let before = threads();

    // The outputs step fails: encoders, cameras and the tone were open.
    match fail_at_outputs() {
        Err(StudioError::Output(e)) => assert!(e.contains("cannot record"), "{e}"),
        Err(e) => panic!("expected the recording to fail, got {e}"),
        Ok(_) => panic!("a recording in a missing folder must fail the start"),
    }
    assert_eq!(
        settles_at(before),
        before,
        "threads left after a failed output"
    );

    // The sources step fails at the audio input, after the cameras opened.
    let no_audio = AudioSpec::File(dir.join("no-such-file.wav").display().to_string());
    match Session::start_with(config(no_audio, None), setup()) {
        Err(StudioError::Capture(_)) => {}
        Err(e) => panic!("expected the audio file to fail, got {e}"),
        Ok(_) => panic!("a missing audio file must fail the start"),
    }
    assert_eq!(
        settles_at(before),
        before,
        "threads left after a failed source"
    );
}
