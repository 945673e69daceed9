//! Checks on recordings and live URLs with ffprobe/ffmpeg: stream facts, the test pattern's
//! burnt-in frame codes, and the dominant audio tone.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::run::exec;
use marquee_capture::pattern::FrameCode;

/// One demuxed packet (times in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub pts: f64,
    pub dts: Option<f64>,
    pub duration: Option<f64>,
    pub size: u64,
    pub key: bool,
}

/// The first video stream.
#[derive(Debug, Clone)]
pub struct VideoInfo {
    pub codec: String,
    pub profile: Option<String>,
    pub pix_fmt: Option<String>,
    pub width: u32,
    pub height: u32,
    /// ffprobe's `avg_frame_rate` (for FLV often a rough guess like 1000/33).
    pub avg_fps: Option<f64>,
    pub start_time: Option<f64>,
    pub duration: Option<f64>,
    /// Packets in decode order (files only; empty for URLs).
    pub packets: Vec<Packet>,
}

/// The first audio stream.
#[derive(Debug, Clone)]
pub struct AudioInfo {
    pub codec: String,
    pub profile: Option<String>,
    pub sample_rate: u32,
    pub channels: u32,
    pub start_time: Option<f64>,
    pub duration: Option<f64>,
    pub packets: Vec<Packet>,
}

/// What ffprobe says about a file or URL.
#[derive(Debug, Clone)]
pub struct Probe {
    pub format_name: String,
    pub duration: Option<f64>,
    pub size: Option<u64>,
    pub video: Option<VideoInfo>,
    pub audio: Option<AudioInfo>,
    /// ffprobe's `-show_streams -show_format` JSON.
    pub json: Value,
}

impl VideoInfo {
    /// Presentation times of the packets, sorted.
    pub fn pts_sorted(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.packets.iter().map(|p| p.pts).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Presentation times of keyframes, sorted.
    pub fn keyframes(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .packets
            .iter()
            .filter(|p| p.key)
            .map(|p| p.pts)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Frame rate from the packets: (n − 1) / (last pts − first pts). Robust to FLV's
    /// millisecond rounding, unlike `avg_frame_rate`.
    pub fn measured_fps(&self) -> Option<f64> {
        let pts = self.pts_sorted();
        if pts.len() < 2 {
            return None;
        }
        let span = pts[pts.len() - 1] - pts[0];
        (span > 0.0).then(|| (pts.len() - 1) as f64 / span)
    }

    /// Time covered by the packets: last pts − first pts + one frame.
    pub fn span_s(&self) -> Option<f64> {
        let pts = self.pts_sorted();
        let fps = self.measured_fps()?;
        Some(pts[pts.len() - 1] - pts[0] + 1.0 / fps)
    }

    /// First presentation time.
    pub fn first_pts(&self) -> Option<f64> {
        self.pts_sorted().first().copied()
    }
}

impl AudioInfo {
    /// First presentation time.
    pub fn first_pts(&self) -> Option<f64> {
        self.packets.iter().map(|p| p.pts).min_by(f64::total_cmp)
    }

    /// Time covered by the packets: last pts + its duration − first pts.
    pub fn span_s(&self) -> Option<f64> {
        let first = self.first_pts()?;
        let last = self.packets.iter().max_by(|a, b| a.pts.total_cmp(&b.pts))?;
        Some(last.pts + last.duration.unwrap_or(0.0) - first)
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn rate(v: &Value) -> Option<f64> {
    let s = v.as_str()?;
    let (a, b) = s.split_once('/')?;
    let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
    (b != 0.0 && a != 0.0).then(|| a / b)
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// [`try_probe`], panicking with ffprobe's message on failure.
pub fn probe(path_or_url: impl AsRef<Path>) -> Probe {
    let p = path_or_url.as_ref();
    try_probe(p).unwrap_or_else(|e| panic!("ffprobe {}: {e}", p.display()))
}

/// Runs `ffprobe -show_streams -show_format` (and, for files, `-show_packets` for both streams).
/// A URL is probed for its streams only (ffprobe waits for a keyframe, ~2 s).
pub fn try_probe(path_or_url: impl AsRef<Path>) -> Result<Probe, String> {
    let target = path_or_url.as_ref();
    let target_s = target.to_string_lossy().into_owned();
    let mut c = Command::new(crate::programs::program("ffprobe"));
    c.args([
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_streams",
        "-show_format",
    ]);
    if is_url(&target_s) {
        c.args(["-rw_timeout", "15000000"]);
    }
    c.arg(target);
    let d = exec(c, Duration::from_secs(60));
    if !d.success() {
        return Err(format!(
            "ffprobe failed ({}): {}",
            d.status,
            d.stderr.trim()
        ));
    }
    let json: Value =
        serde_json::from_slice(&d.stdout).map_err(|e| format!("ffprobe printed bad JSON: {e}"))?;
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let (mut vpk, mut apk) = (Vec::new(), Vec::new());
    let vidx = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .and_then(|s| s["index"].as_u64());
    let aidx = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .and_then(|s| s["index"].as_u64());
    if !is_url(&target_s) {
        let mut c = Command::new(crate::programs::program("ffprobe"));
        c.args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_entries",
            "packet=stream_index,pts_time,dts_time,duration_time,size,flags",
        ])
        .arg(target);
        let d = exec(c, Duration::from_secs(120));
        if !d.success() {
            return Err(format!(
                "ffprobe -show_packets failed ({}): {}",
                d.status,
                d.stderr.trim()
            ));
        }
        let pj: Value = serde_json::from_slice(&d.stdout)
            .map_err(|e| format!("ffprobe printed bad JSON: {e}"))?;
        for p in pj["packets"].as_array().into_iter().flatten() {
            let Some(pts) = num(&p["pts_time"]).or_else(|| num(&p["dts_time"])) else {
                continue;
            };
            let pk = Packet {
                pts,
                dts: num(&p["dts_time"]),
                duration: num(&p["duration_time"]),
                size: num(&p["size"]).unwrap_or(0.0) as u64,
                key: p["flags"].as_str().is_some_and(|f| f.starts_with('K')),
            };
            let idx = p["stream_index"].as_u64();
            if idx.is_some() && idx == vidx {
                vpk.push(pk);
            } else if idx.is_some() && idx == aidx {
                apk.push(pk);
            }
        }
    }
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .map(|s| VideoInfo {
            codec: string(&s["codec_name"]).unwrap_or_default(),
            profile: string(&s["profile"]),
            pix_fmt: string(&s["pix_fmt"]),
            width: s["width"].as_u64().unwrap_or(0) as u32,
            height: s["height"].as_u64().unwrap_or(0) as u32,
            avg_fps: rate(&s["avg_frame_rate"]),
            start_time: num(&s["start_time"]),
            duration: num(&s["duration"]),
            packets: vpk,
        });
    let audio = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .map(|s| AudioInfo {
            codec: string(&s["codec_name"]).unwrap_or_default(),
            profile: string(&s["profile"]),
            sample_rate: num(&s["sample_rate"]).unwrap_or(0.0) as u32,
            channels: s["channels"].as_u64().unwrap_or(0) as u32,
            start_time: num(&s["start_time"]),
            duration: num(&s["duration"]),
            packets: apk,
        });
    Ok(Probe {
        format_name: string(&json["format"]["format_name"]).unwrap_or_default(),
        duration: num(&json["format"]["duration"]),
        size: num(&json["format"]["size"]).map(|s| s as u64),
        video,
        audio,
        json,
    })
}

/// Decodes every video frame of `path` to gray (`-pix_fmt gray`, no frame-rate conversion) and
/// reads the test pattern's code from each. `width`×`height` must be the stream's size.
pub fn frame_codes(path: impl AsRef<Path>, width: u32, height: u32) -> Vec<Option<FrameCode>> {
    let mut codes = Vec::new();
    each_gray_frame(path.as_ref(), width, height, |luma| {
        codes.push(marquee_capture::pattern::read_code(
            luma,
            width as usize,
            width,
            height,
        ))
    });
    codes
}

/// Like [`frame_codes`], but reads a code in each of `regions` (`x, y, w, h`: a source placed
/// by a layout) of every frame: one row of codes per frame.
pub fn frame_codes_in(
    path: impl AsRef<Path>,
    width: u32,
    height: u32,
    regions: &[(u32, u32, u32, u32)],
) -> Vec<Vec<Option<FrameCode>>> {
    let mut rows = Vec::new();
    each_gray_frame(path.as_ref(), width, height, |luma| {
        rows.push(
            regions
                .iter()
                .map(|&(x, y, w, h)| {
                    let start = (y * width + x) as usize;
                    luma.get(start..)
                        .and_then(|l| marquee_capture::pattern::read_code(l, width as usize, w, h))
                })
                .collect(),
        )
    });
    rows
}

/// Decodes every video frame of `path` to its luma plane (tightly packed `width`×`height`).
pub fn gray_frames(path: impl AsRef<Path>, width: u32, height: u32) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    each_gray_frame(path.as_ref(), width, height, |luma| {
        frames.push(luma.to_vec())
    });
    frames
}

fn each_gray_frame(path: &Path, width: u32, height: u32, mut each: impl FnMut(&[u8])) {
    let mut c = Command::new(crate::programs::program("ffmpeg"));
    c.args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("start ffmpeg");
    let mut err = child.stderr.take().expect("stderr");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = child.stdout.take().expect("stdout");
    let frame_len = width as usize * height as usize;
    assert!(frame_len > 0, "decoding frames: empty frame size");
    let mut buf = vec![0u8; frame_len];
    let mut n = 0;
    loop {
        match read_full(&mut out, &mut buf) {
            Ok(true) => {
                each(&buf);
                n += 1;
            }
            Ok(false) => break,
            Err(e) => panic!("reading decoded frames of {}: {e}", path.display()),
        }
    }
    let status = child.wait().expect("wait ffmpeg");
    let stderr = err_thread.join().unwrap_or_default();
    // A recording cut by kill -9 ends mid-packet: ffmpeg may complain but still exits 0 or
    // prints errors; decoded frames are what count.
    if !status.success() && n == 0 {
        panic!(
            "ffmpeg could not decode {} ({status}): {}",
            path.display(),
            stderr.trim()
        );
    }
}

/// Reads exactly `buf.len()` bytes; Ok(false) on clean EOF before the first byte (a partial
/// frame at the end counts as EOF too).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Checks that every frame carries a code and the indices go up by exactly one.
/// On failure, says where the first undecodable frame, gap or repeat is.
pub fn check_continuity(codes: &[Option<FrameCode>]) -> Result<(), String> {
    let mut prev: Option<FrameCode> = None;
    for (i, c) in codes.iter().enumerate() {
        let Some(c) = c else {
            return Err(format!(
                "frame {i} of {} has no readable code (after {prev:?})",
                codes.len()
            ));
        };
        if let Some(p) = prev {
            if c.index == p.index {
                return Err(format!(
                    "frame {i}: index {} repeated (session_ms {} then {})",
                    c.index, p.session_ms, c.session_ms
                ));
            }
            if c.index != p.index + 1 {
                return Err(format!(
                    "frame {i}: index jumps {} -> {} (session_ms {} -> {}): {} frames missing",
                    p.index,
                    c.index,
                    p.session_ms,
                    c.session_ms,
                    c.index as i64 - p.index as i64 - 1
                ));
            }
        }
        prev = Some(*c);
    }
    Ok(())
}

/// Decodes the first audio stream of `path` to mono f32 at 48 kHz.
pub fn decode_audio_mono(path: impl AsRef<Path>) -> Vec<f32> {
    let path = path.as_ref();
    let mut c = Command::new(crate::programs::program("ffmpeg"));
    c.args(["-nostdin", "-v", "error", "-i"]).arg(path).args([
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", "48000", "-f", "f32le", "-",
    ]);
    let d = exec(c, Duration::from_secs(120));
    assert!(
        d.success() || !d.stdout.is_empty(),
        "ffmpeg could not decode the audio of {} ({}): {}",
        path.display(),
        d.status,
        d.stderr.trim()
    );
    d.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Root mean square of `x`.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64).sqrt()
}

/// The power of the `hz` component of `x` (Goertzel over a Hann window): tells the tones of a
/// mix apart, where the dominant frequency names only the loudest.
pub fn tone_level(x: &[f32], rate: f64, hz: f64) -> f64 {
    goertzel(&hann(x), rate, hz)
}

/// The dominant frequency (50–5000 Hz) of the audio in `path`.
pub fn dominant_frequency(path: impl AsRef<Path>) -> f64 {
    let path = path.as_ref();
    let x = decode_audio_mono(path);
    assert!(
        x.len() >= 24_000,
        "{} has only {} audio samples (< 0.5 s)",
        path.display(),
        x.len()
    );
    assert!(
        rms(&x) > 1e-4,
        "the audio of {} is silent (rms {:.2e})",
        path.display(),
        rms(&x)
    );
    dominant_frequency_of(&x, 48_000.0)
}

/// The longest stretch of `x` whose 50 ms blocks are all at least a quarter of the loudest
/// block's RMS: where the tone is (a recording may start with silence).
fn loud_part(x: &[f32], rate: f64) -> &[f32] {
    let block = ((rate * 0.05) as usize).max(1);
    let levels: Vec<f64> = x.chunks(block).map(rms).collect();
    let max = levels.iter().copied().fold(0.0, f64::max);
    let (mut best, mut cur) = ((0, 0), (0, 0));
    for (i, &l) in levels.iter().enumerate() {
        if l >= max * 0.25 {
            if cur.1 == 0 {
                cur.0 = i;
            }
            cur.1 += 1;
            if cur.1 > best.1 {
                best = cur;
            }
        } else {
            cur.1 = 0;
        }
    }
    if best.1 == 0 {
        return x;
    }
    let start = best.0 * block;
    let end = ((best.0 + best.1) * block).min(x.len());
    &x[start..end]
}

/// Silent stretches of `x` (|sample| < `threshold` for at least `min_s` seconds), as
/// (start s, length s). A continuous tone has none; a capture gap or dropped block shows up here.
pub fn silent_spans(x: &[f32], rate: f64, threshold: f32, min_s: f64) -> Vec<(f64, f64)> {
    let min = (min_s * rate).max(1.0) as usize;
    let mut spans = Vec::new();
    let mut run_start = None;
    for (i, &v) in x.iter().chain(std::iter::once(&1.0f32)).enumerate() {
        if v.abs() < threshold {
            run_start.get_or_insert(i);
        } else if let Some(s) = run_start.take()
            && i - s >= min
        {
            spans.push((s as f64 / rate, (i - s) as f64 / rate));
        }
    }
    spans
}

/// The dominant frequency (50–5000 Hz) of `x` sampled at `rate`: a Goertzel scan over a
/// Hann-windowed 0.25 s slice at 2 Hz steps, refined at 0.05 Hz over up to 2 s, both taken from
/// the middle of the loud part.
pub fn dominant_frequency_of(x: &[f32], rate: f64) -> f64 {
    let x = loud_part(x, rate);
    let middle = |len: usize| -> &[f32] {
        let len = len.min(x.len());
        let start = (x.len() - len) / 2;
        &x[start..start + len]
    };
    let coarse = hann(middle((rate * 0.25) as usize));
    let mut best = (0.0, f64::MIN);
    let mut f = 50.0;
    while f <= 5000.0 {
        let p = goertzel(&coarse, rate, f);
        if p > best.1 {
            best = (f, p);
        }
        f += 2.0;
    }
    let fine = hann(middle((rate * 2.0) as usize));
    let mut refined = (best.0, f64::MIN);
    let mut f = best.0 - 4.0;
    while f <= best.0 + 4.0 {
        let p = goertzel(&fine, rate, f);
        if p > refined.1 {
            refined = (f, p);
        }
        f += 0.05;
    }
    refined.0
}

fn hann(x: &[f32]) -> Vec<f64> {
    let n = x.len();
    if n < 2 {
        return x.iter().map(|&v| v as f64).collect();
    }
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos();
            v as f64 * w
        })
        .collect()
}

fn goertzel(x: &[f64], rate: f64, f: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * f / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// A/V offsets measured from content in a recording of `--video test --audio tone`: for each
/// whole second k, the onset of the tone's silent mark minus the presentation time of the
/// frame whose code says `session_ms == k·1000` (positive: audio late), in ms.
/// Returns (second, offset ms) for every second that could be matched (k ≥ 1).
///
/// A mark is a silence as long as the tone's (within 5 ms); other silences (an input that
/// delivered late, the start before the tone) are not marks. Of the marks within 0.5 s of the
/// frame, the nearest is its mark.
pub fn av_offsets(path: impl AsRef<Path>, width: u32, height: u32) -> Vec<(u64, f64)> {
    let codes = frame_codes(path.as_ref(), width, height);
    mark_offsets(path, &codes)
}

/// [`av_offsets`] for a source among others: `codes` are the code its picture shows in each
/// frame of `path` (None where it shows none), and its tone must be the only sound. A frame
/// shown again (the source froze) counts where it first appeared.
pub fn mark_offsets(path: impl AsRef<Path>, codes: &[Option<FrameCode>]) -> Vec<(u64, f64)> {
    let path = path.as_ref();
    let p = probe(path);
    let v = p.video.as_ref().expect("no video stream");
    let a = p.audio.as_ref().expect("no audio stream");
    let a0 = a.start_time.unwrap_or(0.0);
    let mut video_at = std::collections::BTreeMap::new();
    for (code, pkt) in codes.iter().zip(&v.packets) {
        if let Some(c) = code
            && c.session_ms % 1000 == 0
            && c.session_ms > 0
        {
            video_at.entry(c.session_ms / 1000).or_insert(pkt.pts);
        }
    }
    let marks = tone_marks(path, a0);
    video_at
        .into_iter()
        .filter_map(|(k, vt)| {
            marks
                .iter()
                .filter(|m| (*m - vt).abs() < 0.5)
                .min_by(|a, b| (*a - vt).abs().total_cmp(&(*b - vt).abs()))
                .map(|m| (k, (m - vt) * 1000.0))
        })
        .collect()
}

/// Where the test tone's marks (its 20 ms silences at each whole second of its session time)
/// start in `path`'s first audio stream, seconds on its timeline (`a0`: the stream's start).
/// A silence of another length (an input that delivered late, the start before the tone) is
/// not a mark.
pub fn tone_marks(path: &Path, a0: f64) -> Vec<f64> {
    let x = decode_audio_mono(path);
    let mark = marquee_capture::audio::TONE_MARK.as_secs_f64();
    silent_spans(&x, 48_000.0, 0.02, 0.012)
        .into_iter()
        .filter(|(_, len)| (len - mark).abs() <= 0.005)
        .map(|(start, _)| a0 + start)
        .collect()
}

/// A 4 s clip of moving noise at 640×360@30 (x264, near-lossless) in `dir`: a picture that
/// needs every bit of a few Mbit/s, unlike the test card (~500 kbit/s, and adaptive bitrate
/// encodes without filler). Shows loop it with `--video file:PATH`.
pub fn noise_clip(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("noise.mp4");
    let mut ff = Command::new(crate::programs::program("ffmpeg"));
    ff.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=s=640x360:r=30,noise=alls=40:allf=t")
        .args([
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "14",
        ])
        .arg(&path);
    let made = exec(ff, Duration::from_secs(60));
    assert!(
        made.success(),
        "ffmpeg could not make the noise clip: {}",
        made.stderr
    );
    path
}
