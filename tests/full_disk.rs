//! `marquee live` recording onto a disk that fills (a small tmpfs the test mounts) while it
//! streams to a real nginx-rtmp: the recording is closed with its index at the last packet
//! that fit (ffprobe reads it, its frames are continuous), the summary says it failed and
//! why, and the stream to nginx goes on, uninterrupted, after it.

use std::time::{Duration, Instant};

use marquee_e2e::{
    Nginx, Run, SmallDisk, Summary, check_continuity, contains_bytes, frame_codes, heavy,
    marquee_in, probe, tempdir, wait_until,
};

const W: u32 = 640;
const H: u32 = 360;

/// Matroska's Cues element: the index, written when the file is closed.
const MKV_CUES: [u8; 4] = [0x1C, 0x53, 0xBB, 0x6B];

#[test]
fn a_recording_that_fills_the_disk_is_closed_playable_and_the_stream_goes_on() {
    let _g = heavy();
    let mut nginx = Nginx::start();
    let home = tempdir("marquee-home-");
    let summary = home.path().join("summary.json");
    // 4 MiB stay reserved for closing the file; leave ~1.5 MiB for the recording itself.
    let disk = SmallDisk::mount(16 << 20);
    disk.fill_leaving((4 << 20) + (3 << 19));
    let rec = disk.path().join("show.mkv");
    let mut c = marquee_in(home.path());
    c.args(["live", "--video", "test", "--audio", "tone"])
        .args([
            "--size",
            &format!("{W}x{H}"),
            "--fps",
            "30",
            "--bitrate",
            "4000",
        ])
        .args(["--duration", "90s", "--to", &nginx.url("full")])
        // Strict CBR with filler: the recording grows at the full rate whatever the picture.
        .arg("--no-abr")
        .arg("--record")
        .arg(&rec)
        .arg("--summary-json")
        .arg(&summary);
    let mut run = Run::spawn(c);

    let full = "is full: free space or choose another folder";
    assert!(
        run.wait_for_stderr(full, Duration::from_secs(60)),
        "the recording never said the disk was full\n{}",
        run.report()
    );
    let failed_at = Instant::now();
    // The stream goes on: nginx's own recording keeps growing for a few more seconds.
    let nginx_size = || {
        nginx
            .recordings_of("full")
            .iter()
            .filter_map(|p| p.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    let at_failure = nginx_size();
    assert!(
        wait_until(Duration::from_secs(30), || failed_at.elapsed()
            >= Duration::from_secs(4)
            && nginx_size() > at_failure + 100_000),
        "nginx stopped receiving after the recording failed\n{}",
        run.report()
    );
    let streamed_after = failed_at.elapsed().as_secs_f64();
    run.interrupt(Duration::from_secs(20));
    assert!(
        run.stderr().contains(&format!(
            "the disk holding {} {full}",
            disk.path().display()
        )),
        "{}",
        run.report()
    );
    nginx.wait_recordings_settled(Duration::from_millis(500), Duration::from_secs(10));
    nginx.stop();

    // The summary: the recording failed, with the reason; the destination did not.
    let s = Summary::read(&summary);
    let state = s.str("/recording/state").unwrap_or_default();
    assert!(
        state.starts_with("failed: the disk holding"),
        "{}",
        s.pretty()
    );
    assert!(state.contains("closed with what it holds"), "{state}");
    let dest = &s.destinations()[0];
    assert_eq!(dest["reconnects"], 0, "{}", s.pretty());

    // The local recording: closed (duration and index written), every frame in order.
    assert!(disk.free() > 0, "closing used all the room kept for it");
    let local = probe(&rec);
    let d = local
        .duration
        .expect("a closed recording states its duration");
    let bytes = std::fs::read(&rec).unwrap();
    assert!(
        contains_bytes(&bytes, &MKV_CUES),
        "no index (Cues) in the recording"
    );
    let codes = frame_codes(&rec, W, H);
    check_continuity(&codes).unwrap_or_else(|e| panic!("recording cut by a full disk: {e}"));
    let decoded = codes.len() as f64 / 30.0;
    assert!(decoded > 1.0, "{decoded:.2} s recorded");
    assert!(
        (d - decoded).abs() < 0.5,
        "duration {d:.2} s, frames {decoded:.2} s"
    );

    // The stream: one publish, on well past the failure.
    let recs = nginx.recordings_of("full");
    assert_eq!(recs.len(), 1, "{:?}", nginx.recordings());
    let remote = probe(&recs[0]);
    let span = remote.video.as_ref().and_then(|v| v.span_s()).unwrap();
    assert!(
        span >= decoded + streamed_after - 1.5,
        "nginx got {span:.2} s; the recording stopped at {decoded:.2} s and the stream went on \
         {streamed_after:.2} s more"
    );
    eprintln!(
        "full disk: recorded {decoded:.2} s ({} bytes), streamed {span:.2} s",
        bytes.len()
    );
}
