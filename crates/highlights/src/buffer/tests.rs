use super::*;
use std::sync::Arc;

const FPS: i64 = 30;
const VTB: (i32, i32) = (1, 30);
const ATB: (i32, i32) = (1, 48000);

fn video(i: i64, size: usize, gop: i64) -> Packet {
    Packet {
        track: Track::Video,
        data: Arc::from(vec![0u8; size]),
        pts: i,
        dts: i,
        duration: 1,
        key: i % gop == 0,
        captured: Duration::ZERO,
    }
}

fn audio(i: i64) -> Packet {
    Packet {
        track: Track::Audio,
        data: Arc::from(vec![0u8; 300]),
        pts: i * 1024,
        dts: i * 1024,
        duration: 1024,
        key: true,
        captured: Duration::ZERO,
    }
}

/// Feeds `secs` of 30 fps video (GOP 2 s, `vsize` bytes a frame) and 48 kHz AAC,
/// interleaved roughly as the encoders deliver them.
fn feed(b: &mut ReplayBuffer, from_frame: i64, secs: i64, vsize: usize) {
    let mut a = (from_frame * 48000 / FPS) / 1024;
    for i in from_frame..from_frame + secs * FPS {
        b.push(&video(i, vsize, 2 * FPS));
        while (a * 1024) * FPS < (i + 1) * 48000 {
            b.push(&audio(a));
            a += 1;
        }
    }
}

#[test]
fn buffer_always_starts_on_a_keyframe() {
    let mut b = ReplayBuffer::new(
        ReplayConfig {
            max_duration: Duration::from_secs(5),
            max_bytes: usize::MAX,
        },
        VTB,
        ATB,
    );
    // Audio and non-key video before the first keyframe are dropped and counted.
    b.push(&audio(0));
    b.push(&video(1, 100, 1000));
    assert_eq!(b.counters().dropped_before_keyframe, 2);
    for step in 0..40 {
        feed(&mut b, step * FPS, 1, 1000);
        assert!(b.starts_on_keyframe());
        let s = b.snapshot_last(Duration::from_secs(3)).unwrap();
        assert!(s.packets[0].key && s.packets[0].track == Track::Video);
    }
}

#[test]
fn holds_the_last_n_seconds_in_whole_gops() {
    let mut b = ReplayBuffer::new(
        ReplayConfig {
            max_duration: Duration::from_secs(10),
            max_bytes: usize::MAX,
        },
        VTB,
        ATB,
    );
    feed(&mut b, 0, 60, 1000);
    let span = b.span();
    assert!(span >= Duration::from_secs(10), "{span:?}");
    assert!(span < Duration::from_secs(12), "{span:?}");
    assert_eq!(b.oldest().unwrap().as_secs() % 2, 0);
    assert!(b.counters().gops_trimmed_time >= 24);
}

#[test]
fn memory_stays_bounded_at_high_bitrate() {
    // 50 Mbps for 5 minutes against a 32 MiB cap.
    let cap = 32 * 1024 * 1024;
    let mut b = ReplayBuffer::new(
        ReplayConfig {
            max_duration: Duration::from_secs(60),
            max_bytes: cap,
        },
        VTB,
        ATB,
    );
    let frame = 50_000_000 / 8 / 30;
    feed(&mut b, 0, 300, frame);
    let c = b.counters();
    assert!(c.peak_bytes as usize <= cap, "{c:?}");
    assert!(c.gops_trimmed_bytes > 0);
    assert!(b.starts_on_keyframe());
    // What is held is whole GOPs, as much as fits.
    assert!(b.span() >= Duration::from_secs(2));
}

#[test]
fn a_gop_larger_than_the_cap_is_dropped_not_kept() {
    let mut b = ReplayBuffer::new(
        ReplayConfig {
            max_duration: Duration::from_secs(60),
            max_bytes: 10_000,
        },
        VTB,
        ATB,
    );
    feed(&mut b, 0, 4, 1000);
    assert!(b.counters().peak_bytes <= 10_000);
    assert!(b.starts_on_keyframe());
}

#[test]
fn snapshot_covers_at_least_k_seconds_from_a_keyframe_with_aligned_audio() {
    let mut b = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
    feed(&mut b, 0, 45, 1000);
    let s = b.snapshot_last(Duration::from_secs(30)).unwrap();
    assert!(
        s.duration() >= Duration::from_secs(30),
        "{:?}",
        s.duration()
    );
    assert!(s.duration() < Duration::from_secs(32));
    assert_eq!(s.start.as_secs() % 2, 0);
    let first_audio = s.packets.iter().find(|p| p.track == Track::Audio).unwrap();
    let at = b.time_of(first_audio);
    assert!(
        at >= s.start && at - s.start < Duration::from_millis(22),
        "{at:?}"
    );
    // Sorted by decode time.
    let times: Vec<_> = s.packets.iter().map(|p| b.time_of(p)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn snapshot_shares_packet_data_instead_of_copying() {
    let mut b = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
    let p = video(0, 5000, 60);
    b.push(&p);
    let s = b.snapshot_last(Duration::from_secs(1)).unwrap();
    assert!(Arc::ptr_eq(&s.packets[0].data, &p.data));
}

#[test]
fn snapshot_range_starts_at_the_keyframe_before_the_mark() {
    let mut b = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
    feed(&mut b, 0, 40, 1000);
    let s = b
        .snapshot_range(Duration::from_millis(13_500), Duration::from_secs(20))
        .unwrap();
    assert_eq!(s.start, Duration::from_secs(12));
    assert!(s.end <= Duration::from_secs(20) + Duration::from_millis(34));
    assert!(s.end >= Duration::from_millis(19_960));
}

#[test]
fn shared_buffer_takes_packets_from_many_threads() {
    let shared = Arc::new(SharedReplay::new(ReplayConfig::default(), VTB, ATB));
    let v = {
        let s = shared.clone();
        std::thread::spawn(move || {
            for i in 0..600 {
                s.offer(&video(i, 100, 60));
            }
        })
    };
    let a = {
        let s = shared.clone();
        std::thread::spawn(move || {
            for i in 0..900 {
                s.offer(&audio(i));
            }
        })
    };
    v.join().unwrap();
    a.join().unwrap();
    let c = shared.counters();
    assert_eq!(c.packets_in + c.dropped_before_keyframe, 1500);
    assert!(shared.with(|b| b.starts_on_keyframe()));
}

#[test]
fn a_gap_drops_the_open_gop_and_keeps_nothing_until_the_next_keyframe() {
    let mut b: ReplayBuffer = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
    feed(&mut b, 0, 3, 1000); // GOPs at 0 s and 2 s, the second one open
    let before = b.counters().packets_held;
    b.gap();
    // The GOP from 2 s is gone; what is held still ends on a whole GOP.
    assert_eq!(b.oldest(), Some(Duration::ZERO));
    assert!(b.counters().packets_held < before);
    b.push(&video(91, 1000, 2 * FPS)); // not a keyframe
    b.push(&audio(3000));
    assert_eq!(b.counters().dropped_after_gap, 2);
    b.push(&video(120, 1000, 2 * FPS)); // the next keyframe
    b.push(&audio(3001));
    assert_eq!(b.counters().dropped_after_gap, 2);
    let s = b
        .snapshot_range(Duration::from_secs(4), Duration::from_secs(5))
        .unwrap();
    assert_eq!(s.start, Duration::from_secs(4));
    assert!(s.packets[0].key);
}

fn spooled(dir: &Path) -> SharedReplay {
    let cfg = ReplayConfig {
        max_duration: Duration::from_secs(10),
        max_bytes: 32 << 20,
    };
    SharedReplay::spooled(cfg, VTB, ATB, dir).unwrap()
}

/// `secs` of video (distinct bytes per frame) and audio, in the order a session makes them.
fn packets(from: i64, secs: i64, vsize: usize) -> Vec<Packet> {
    let mut b: ReplayBuffer = ReplayBuffer::new(ReplayConfig::default(), VTB, ATB);
    feed(&mut b, from, secs, vsize);
    let snap = b.snapshot_range(Duration::ZERO, Duration::MAX).unwrap();
    snap.packets
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let bytes: Vec<u8> = (0..p.data.len()).map(|j| (i * 7 + j) as u8).collect();
            Packet {
                data: Arc::from(bytes),
                ..p
            }
        })
        .collect()
}

/// Offers `secs` of packets far faster than real time, waiting for the spool thread every
/// half queue: the live path drops when the queue is full (counted), which is not what
/// these tests check.
fn offer_secs(r: &SharedReplay, from: i64, secs: i64, vsize: usize) -> Vec<Packet> {
    let out = packets(from, secs, vsize);
    for (i, p) in out.iter().enumerate() {
        r.offer(p);
        if i % (SPOOL_QUEUE / 2) == SPOOL_QUEUE / 2 - 1 {
            r.with(|_| ());
        }
    }
    out
}

#[test]
fn a_spool_that_falls_behind_drops_and_counts_and_no_clip_spans_the_hole() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ReplayConfig {
        max_duration: Duration::from_secs(60),
        max_bytes: 32 << 20,
    };
    let r = SharedReplay::spooled(cfg, VTB, ATB, dir.path()).unwrap();
    let all = packets(0, 30, 2_000);
    assert!(all.len() > SPOOL_QUEUE + 2, "{} packets", all.len());
    // While the buffer is held the spool thread cannot take a packet in: its queue fills.
    r.with(|_| all.iter().for_each(|p| r.offer(p)));
    let c = r.counters();
    assert!(c.spool_dropped > 0, "{c:?}");
    assert!(c.gaps >= 1, "a lost packet is a gap: {c:?}");
    // The stream goes on; whatever is held skips the hole only onto a keyframe (a clip
    // never plays across missing frames).
    offer_secs(&r, 30 * FPS, 5, 2_000);
    let snap = r.snapshot_last(Duration::from_secs(60)).unwrap();
    let video: Vec<&Packet> = snap
        .packets
        .iter()
        .filter(|p| p.track == Track::Video)
        .collect();
    assert!(
        video.last().is_some_and(|p| p.pts >= 34 * FPS),
        "the stream after the hole is held"
    );
    for w in video.windows(2) {
        if w[1].pts != w[0].pts + 1 {
            assert!(
                w[1].key,
                "a jump {} → {} lands on a non-key frame",
                w[0].pts, w[1].pts
            );
        }
    }
    assert!(video[0].key);
}

#[test]
fn a_spooled_buffer_gives_back_the_bytes_it_was_offered() {
    let dir = tempfile::tempdir().unwrap();
    let r = spooled(dir.path());
    let offered = offer_secs(&r, 0, 6, 20_000);
    let s = r.snapshot_last(Duration::from_secs(3)).unwrap();
    assert!(s.packets[0].key && s.packets[0].track == Track::Video);
    for p in &s.packets {
        let o = offered
            .iter()
            .find(|o| o.track == p.track && o.dts == p.dts)
            .unwrap();
        assert_eq!(o.data, p.data);
    }
    // The buffer kept no reference to the packets' bytes: memory does not grow with them.
    assert!(offered.iter().all(|p| Arc::strong_count(&p.data) == 1));
    assert!(r.counters().bytes_held as usize > 5 * 30 * 20_000);
}

#[test]
fn a_spooled_buffer_keeps_only_a_window_of_disk() {
    let dir = tempfile::tempdir().unwrap();
    let r = spooled(dir.path());
    offer_secs(&r, 0, 60, 20_000);
    let c = r.counters();
    // 10 s window (+ one GOP) of ~600 kB/s held; chunk files cover it plus at most two
    // partly used chunks, not the 60 s that went through.
    assert!(c.bytes_held < 13 * 620_000, "{c:?}");
    assert!(c.spool_disk_bytes <= c.bytes_held + 2 * (2 << 20), "{c:?}");
    assert!(c.bytes_in > 4 * c.spool_disk_bytes, "{c:?}");
    assert_eq!((c.spool_dropped, c.spool_errors, c.gaps), (0, 0, 0));
}

#[test]
fn a_spool_that_cannot_be_written_is_an_error_that_names_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let e =
        SharedReplay::spooled(ReplayConfig::default(), VTB, ATB, &file.join("replay")).unwrap_err();
    assert!(e.to_string().contains("replay"), "{e}");
}
