//! ffprobe checks shared by the integration tests (the real ffprobe, never a stand-in).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

/// What ffprobe says about a clip.
#[derive(Debug)]
pub struct Probe {
    pub format: String,
    pub duration: f64,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub video_start: f64,
    pub audio_start: f64,
    pub video_duration: f64,
    pub audio_duration: f64,
    pub width: u32,
    pub height: u32,
    pub first_frame_key: bool,
    pub first_frame_pict: String,
}

fn ffprobe(args: &[&str], path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe is missing: apt-get install ffmpeg");
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

pub fn probe(path: &Path) -> Probe {
    let j = ffprobe(&["-show_format", "-show_streams"], path);
    let streams = j["streams"].as_array().cloned().unwrap_or_default();
    let of = |kind: &str| streams.iter().find(|s| s["codec_type"] == kind).cloned();
    let v = of("video");
    let a = of("audio");
    let frames = ffprobe(
        &[
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_frames",
            "-show_entries",
            "frame=key_frame,pict_type",
        ],
        path,
    );
    let first = &frames["frames"][0];
    // Stream lengths from the packets themselves (Matroska has no per-stream duration).
    let pk = ffprobe(
        &[
            "-show_entries",
            "packet=stream_index,pts_time,duration_time",
        ],
        path,
    );
    let span = |kind: &str| -> f64 {
        let Some(idx) = streams
            .iter()
            .find(|s| s["codec_type"] == kind)
            .and_then(|s| s["index"].as_i64())
        else {
            return f64::NAN;
        };
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in pk["packets"].as_array().into_iter().flatten() {
            if p["stream_index"].as_i64() == Some(idx) {
                let t = f(&p["pts_time"]);
                let d = f(&p["duration_time"]);
                lo = lo.min(t);
                hi = hi.max(t + if d.is_nan() { 0.0 } else { d });
            }
        }
        hi - lo
    };
    Probe {
        format: j["format"]["format_name"].as_str().unwrap_or("").into(),
        duration: f(&j["format"]["duration"]),
        video_codec: v
            .as_ref()
            .map(|s| s["codec_name"].as_str().unwrap_or("").into()),
        audio_codec: a
            .as_ref()
            .map(|s| s["codec_name"].as_str().unwrap_or("").into()),
        video_start: v.as_ref().map(|s| f(&s["start_time"])).unwrap_or(f64::NAN),
        audio_start: a.as_ref().map(|s| f(&s["start_time"])).unwrap_or(f64::NAN),
        video_duration: span("video"),
        audio_duration: span("audio"),
        width: v.as_ref().and_then(|s| s["width"].as_u64()).unwrap_or(0) as u32,
        height: v.as_ref().and_then(|s| s["height"].as_u64()).unwrap_or(0) as u32,
        first_frame_key: first["key_frame"].as_i64() == Some(1),
        first_frame_pict: first["pict_type"].as_str().unwrap_or("").into(),
    }
}

/// The checks every clip must pass: H.264 + AAC present, starts on a keyframe, audio and
/// video start together (within one AAC frame) and last about as long, duration as asked.
pub fn assert_good_clip(path: &Path, min_s: f64, max_s: f64) -> Probe {
    let p = probe(path);
    assert_eq!(p.video_codec.as_deref(), Some("h264"), "{p:?}");
    assert_eq!(p.audio_codec.as_deref(), Some("aac"), "{p:?}");
    assert!(p.first_frame_key && p.first_frame_pict == "I", "{p:?}");
    assert!(
        (p.video_start - p.audio_start).abs() < 0.025,
        "audio/video start apart: {p:?}"
    );
    assert!(
        (p.video_duration - p.audio_duration).abs() < 0.1,
        "audio/video lengths differ: {p:?}"
    );
    assert!(
        p.duration >= min_s - 0.05 && p.duration <= max_s + 0.05,
        "duration {} not in {min_s}..{max_s}: {p:?}",
        p.duration
    );
    p
}

/// Top-level MP4 boxes in order (to check faststart: moov before mdat).
pub fn mp4_boxes(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 8 <= data.len() {
        let mut size = u32::from_be_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&data[i + 4..i + 8]).into_owned();
        if size == 1 {
            size = u64::from_be_bytes(data[i + 8..i + 16].try_into().unwrap()) as usize;
        }
        out.push(kind);
        if size < 8 {
            break;
        }
        i += size;
    }
    out
}
