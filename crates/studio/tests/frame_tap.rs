//! A frame tap sees every composed picture of a real session, in order, with the test
//! card's code readable — what the app's preview is built on.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use marquee_capture::camera::Faults;
use marquee_capture::pattern::read_code;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_studio::{
    AudioSettings, ComposedFrame, EncoderChoice, FrameTap, Session, SessionConfig, VideoSettings,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Collect(Mutex<Vec<(i64, u64, u64)>>);

impl FrameTap for Collect {
    fn offer(&self, f: &ComposedFrame) {
        let code = read_code(&f.data, f.width as usize, f.width, f.height)
            .map(|c| (c.index, c.session_ms))
            .unwrap_or((u64::MAX, u64::MAX));
        self.0.lock().unwrap().push((f.index, code.0, code.1));
    }
}

#[test]
fn a_frame_tap_sees_every_output_picture_in_order_and_can_be_removed() {
    let session = Session::start(SessionConfig {
        video: VideoSpec::Test,
        audio: AudioSpec::None,
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
        record: None,
        test_faults: Faults::default(),
        abr_min_kbps: None,
    })
    .unwrap();
    let tap = Arc::new(Collect::default());
    let dyn_tap: Arc<dyn FrameTap> = tap.clone();
    session.add_frame_tap(dyn_tap.clone());
    std::thread::sleep(Duration::from_millis(1500));
    session.remove_frame_tap(&dyn_tap);
    let seen = tap.0.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    session.stop();
    let got = tap.0.lock().unwrap().clone();
    assert_eq!(got.len(), seen, "no frames after removal");
    assert!(
        got.len() >= 30,
        "about 45 frames in 1.5 s, got {}",
        got.len()
    );
    for w in got.windows(2) {
        assert_eq!(w[1].0, w[0].0 + 1, "consecutive output indexes");
    }
    // The test card's frame N is on output frame N, stamped at N/30 s. A loaded machine
    // may make the camera late (output repeats the previous picture, or black before the
    // first frame), never early.
    let mut exact = 0;
    for (index, code, ms) in &got {
        if *code == u64::MAX {
            continue;
        }
        assert!(
            *code <= *index as u64,
            "output {index} shows future frame {code}"
        );
        assert_eq!(*ms, *code * 1000 / 30);
        exact += (*code == *index as u64) as usize;
    }
    assert!(
        exact * 10 >= got.len() * 8,
        "{exact} of {} exact",
        got.len()
    );
}
