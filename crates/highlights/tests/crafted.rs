//! Files made to break the readers: a recording whose H.264 header (avcC) is cut short, and
//! recordings and clips with random bytes changed or cut off. Cutting, exporting, measuring
//! and thumbnailing them fails with an error (or works) — never a panic.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ffmpeg_next as ff;
use marquee_highlights::library::{loudness_per_second, media_info, thumbnail_jpeg};
use marquee_highlights::save::write_packets;
use marquee_highlights::synth::{SynthConfig, encode_session};
use marquee_highlights::{cut_recording, cut_recording_accurate};
use std::path::Path;
use std::time::Duration;

/// Replaces a stream's codec header (extradata) with `bytes`.
fn set_extradata(params: &mut ff::codec::Parameters, bytes: &[u8]) {
    // SAFETY: the parameters own their extradata; it is freed and replaced by a padded copy
    // allocated with FFmpeg's allocator, as FFmpeg requires.
    unsafe {
        let p = params.as_mut_ptr();
        ff::ffi::av_freep(std::ptr::addr_of_mut!((*p).extradata).cast());
        let pad = ff::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
        let buf = ff::ffi::av_mallocz(bytes.len() + pad) as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len());
        (*p).extradata = buf;
        (*p).extradata_size = bytes.len() as i32;
    }
}

#[test]
fn an_accurate_cut_of_a_recording_whose_avcc_is_truncated_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = encode_session(&SynthConfig {
        seconds: 4.0,
        ..Default::default()
    })
    .unwrap();
    // One SPS, then the record ends where the PPS count belongs.
    set_extradata(
        &mut s.streams[0].params,
        &[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 1, 0x67],
    );
    let rec = dir.path().join("crafted.mkv");
    write_packets(&s.packets, Duration::ZERO, &s.streams, &rec).unwrap();
    let out = dir.path().join("cut.mp4");
    let e = cut_recording_accurate(
        &rec,
        Duration::from_millis(1100),
        Duration::from_secs(3),
        &out,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("the video's H.264 header (avcC) is truncated: the PPS count at byte 9"),
        "{e}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing left behind"
    );
}

/// A small xorshift: the same mutations on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `original` with a few random bytes changed, a run overwritten, or the tail cut off.
fn mutate(original: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = original.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..1 + rng.below(16) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
        }
        1 => {
            // The headers live in the first few KiB: hit them harder.
            let i = rng.below(b.len().min(4096));
            let n = (1 + rng.below(64)).min(b.len() - i);
            for x in &mut b[i..i + n] {
                *x = rng.next() as u8;
            }
        }
        2 => b.truncate(rng.below(b.len())),
        _ => {
            let i = rng.below(b.len().min(4096));
            b[i] ^= 1 << rng.below(8);
            b.truncate(b.len() - rng.below(b.len() / 2));
        }
    }
    b
}

/// Every reader of recordings and clips on `path`: errors are fine, panics are not.
fn read_all_ways(path: &Path, out: &Path) {
    let _ = media_info(path);
    let _ = loudness_per_second(path);
    let _ = thumbnail_jpeg(path, &out.with_extension("jpg"), 160);
    let _ = cut_recording(
        path,
        Duration::from_millis(500),
        Duration::from_secs(2),
        out,
    );
    let _ = cut_recording_accurate(
        path,
        Duration::from_millis(700),
        Duration::from_secs(2),
        out,
    );
}

#[test]
fn randomly_damaged_recordings_and_clips_give_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let s = encode_session(&SynthConfig {
        seconds: 3.0,
        ..Default::default()
    })
    .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for ext in ["mkv", "mp4"] {
        let good = dir.path().join(format!("good.{ext}"));
        write_packets(&s.packets, Duration::ZERO, &s.streams, &good).unwrap();
        let original = std::fs::read(&good).unwrap();
        for i in 0..60 {
            let bad = dir.path().join(format!("bad-{i}.{ext}"));
            std::fs::write(&bad, mutate(&original, &mut rng)).unwrap();
            read_all_ways(&bad, &dir.path().join(format!("out-{i}.mp4")));
        }
    }
}
