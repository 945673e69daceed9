//! A real show (synthetic camera + tone through the real encoders, a real MKV recording):
//! `save` and `mark` over the control channel while live, room events written as signals
//! beside the recording, then a cut between the two marks from the recording; and a save
//! onto a full disk (a small tmpfs) while live.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "../../highlights/tests/common/mod.rs"]
mod common;
#[path = "../../../tests/support/small_disk.rs"]
mod small_disk;

use marquee_highlights::control::{ControlServer, request};
use marquee_highlights::{MarkLog, cut_recording, marks_path_for};
use marquee_room::protocol::{DanmakuMode, Event, EventBody, Role, UserRef};
use marquee_show::{HighlightSettings, Observer, Recording, Show, ShowSettings, ShowStats};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

#[derive(Default)]
struct Count {
    stats: AtomicU64,
}

impl Observer for Count {
    fn event(&self, _: &marquee_studio::Event) {}
    fn stats(&self, _: &ShowStats) {
        self.stats.fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits (up to a minute) until `done` holds.
fn until(what: &str, done: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn newest_ms(show: &Show) -> u64 {
    let h = show.highlights().unwrap();
    h.replay().with(|b| b.newest()).as_millis() as u64
}

fn chat(at: u64, id: u64) -> Event {
    Event {
        seq: id,
        epoch: 1,
        at,
        body: EventBody::Danmaku {
            id,
            user: UserRef {
                id: "v1".into(),
                name: "小明".into(),
                role: Role::Viewer,
            },
            text: "前方高能".into(),
            color: "#ffffff".into(),
            mode: DanmakuMode::Scroll,
            masked: false,
            deleted: false,
        },
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn save_and_mark_while_live_then_cut_between_marks_and_signals_beside_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session.mkv");
    let settings = ShowSettings {
        width: 320,
        height: 240,
        bitrate_kbps: 500,
        preset: "ultrafast".into(),
        recording: Recording::Path(rec.clone()),
        highlights: HighlightSettings {
            replay_seconds: 60,
            replay_mib: 64,
            clips_dir: Some(dir.path().join("clips")),
        },
        ..Default::default()
    };
    let observer = Arc::new(Count::default());
    let keychain = marquee_profile::Keychain::new("marquee-show-test");
    let show = Show::start(&settings, &keychain, observer.clone()).unwrap();
    let socket = dir.path().join("run/live.sock");
    let server = ControlServer::start(
        &socket,
        marquee_show::control::handler(Arc::downgrade(&show)),
    )
    .unwrap();
    let t = Duration::from_secs(30);
    let ask = |line: &str| -> serde_json::Value {
        serde_json::from_str(&request(&socket, line, t).unwrap()).unwrap()
    };

    // A chat message from before the show is history: not a signal. One during it is.
    show.room_event(&chat(wall_ms() - 60_000, 1));
    until("the first keyframe", || newest_ms(&show) >= 2_500);
    show.room_event(&chat(wall_ms(), 2));
    let m1 = ask("mark start");
    let a = m1["at_ms"].as_u64().unwrap();
    until("three more seconds", || newest_ms(&show) >= a + 3_000);
    let m2 = ask("mark end");
    let b = m2["at_ms"].as_u64().unwrap();
    assert!(b >= a + 3_000, "{a} {b}");
    let saved = ask("save 3");
    let status = request(&socket, "status", t).unwrap();
    assert!(status.contains("buffer_s"), "{status}");
    // Scenes answer on the same channel.
    assert_eq!(ask("scenes")["scenes"].as_array().map(Vec::len), Some(1));
    // The show is still encoding after the save (the save ran on its own thread).
    let before = newest_ms(&show);
    until("encoding after the save", || newest_ms(&show) > before);
    until("a stats tick", || {
        observer.stats.load(Ordering::Relaxed) > 0
    });
    assert!(show.stats().is_some());
    server.stop();
    let ended = show.stop().unwrap();
    assert!(show.stop().is_none(), "a show ends once");
    assert!(matches!(
        show.mark("late"),
        Err(marquee_show::ShowError::NotLive)
    ));
    assert_eq!(ended.summary.stats.video.dropped.encoder_lag, 0);
    assert_eq!(ended.recording.as_deref(), Some(rec.as_path()));

    let clip = std::path::PathBuf::from(saved["path"].as_str().unwrap());
    common::assert_good_clip(&clip, 3.0, 5.2);

    // The room signals: one second with one message (the history one is not counted).
    let signals = ended.signals.expect("a signals file beside the recording");
    let per_second = marquee_highlights::signals::read_signals(&signals).unwrap();
    let total: u32 = per_second.iter().map(|s| s.danmaku).sum();
    assert_eq!(total, 1, "{per_second:?}");

    // The marks are in the log next to the recording, in session time.
    let log = MarkLog::open(&marks_path_for(&rec)).unwrap();
    assert_eq!(log.marks().len(), 2);
    assert_eq!(log.marks()[0].label, "start");
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

#[test]
fn a_save_onto_a_full_disk_fails_clearly_leaves_nothing_and_the_show_keeps_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let disk = small_disk::SmallDisk::mount(2 << 20);
    let clips = disk.path().join("clips");
    let settings = ShowSettings {
        width: 320,
        height: 240,
        bitrate_kbps: 500,
        preset: "ultrafast".into(),
        recording: Recording::Path(dir.path().join("session.mkv")),
        highlights: HighlightSettings {
            replay_seconds: 30,
            replay_mib: 64,
            clips_dir: Some(clips.clone()),
        },
        ..Default::default()
    };
    let keychain = marquee_profile::Keychain::new("marquee-show-test");
    let show = Show::start(&settings, &keychain, Arc::new(Count::default())).unwrap();
    until("three seconds encoded", || newest_ms(&show) >= 3_000);
    disk.fill_leaving(0);
    let e = show.save_highlight(2.0).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "the disk holding {} is full (about ",
            clips.display()
        )) && e.ends_with("needed): free space or choose another folder"),
        "{e}"
    );
    assert_eq!(disk.entries(), ["clips"], "nothing left behind");
    // The show goes on encoding after the failed save, and saves again once there is room.
    let after = newest_ms(&show);
    until("encoding after the failed save", || {
        newest_ms(&show) > after + 1_000
    });
    disk.make_room();
    let clip = show.save_highlight(2.0).unwrap();
    // Shown only when the clip check fails: what the buffer held when it was cut.
    let held = show
        .highlights()
        .unwrap()
        .replay()
        .with(|b| (b.oldest(), b.common_end(), b.newest(), b.counters()));
    eprintln!("clip {clip:?}; buffer (oldest, common end, newest, counters) {held:?}");
    common::assert_good_clip(&clip.path, 2.0, 4.2);
    let ended = show.stop().unwrap();
    assert_eq!(ended.summary.stats.video.dropped.encoder_lag, 0);
}
