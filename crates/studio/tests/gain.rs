//! The microphone gain from the settings changes what goes out (and the meters) by that
//! many dB: a real session with the tone as its input, measured from the mixer's levels.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_capture::camera::Faults;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_studio::{AudioSettings, EncoderChoice, Session, SessionConfig, VideoSettings};
use std::time::Duration;

fn rms_with_gain(gain_db: f32) -> f32 {
    let session = Session::start(SessionConfig {
        video: VideoSpec::Test,
        audio: AudioSpec::Tone(440.0),
        video_settings: VideoSettings {
            width: 160,
            height: 90,
            fps: 15,
            bitrate_kbps: 200,
            encoder: EncoderChoice::X264,
            preset: "ultrafast".into(),
        },
        audio_settings: AudioSettings {
            gain_db,
            ..Default::default()
        },
        destinations: vec![],
        record: None,
        test_faults: Faults::default(),
        abr_min_kbps: None,
    })
    .unwrap();
    // Past the mixer's warm-up; a few readings, the loudest (the tone has a silent mark
    // each second, which a reading may fall on).
    std::thread::sleep(Duration::from_millis(1200));
    let mut best = -120f32;
    for _ in 0..6 {
        best = best.max(session.stats().audio.rms_db);
        std::thread::sleep(Duration::from_millis(90));
    }
    session.stop();
    best
}

#[test]
fn the_microphone_gain_changes_the_output_level_by_that_many_db() {
    let unity = rms_with_gain(0.0);
    let quieter = rms_with_gain(-12.0);
    assert!(unity > -30.0, "the tone is audible: {unity} dB");
    assert!(
        (unity - quieter - 12.0).abs() < 1.5,
        "0 dB: {unity:.1} dB, -12 dB: {quieter:.1} dB"
    );
}
