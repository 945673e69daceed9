//! Marks dropped while live, and cuts from the local recording between two of them
//! (or any two session times) by stream copy from the keyframe at or before the start.
//!
//! The recording's timestamps are session time (video PTS come from the compositor tick,
//! audio PTS from the sample count, both from zero), so a mark's session time is also its
//! position in the recording.

use crate::avc::{annexb_nals, length_prefixed, parse_avcc};
use crate::error::{HighlightError, Result};
use crate::save::ClipWriter;
use ffmpeg_next as ff;
use marquee_studio::encode::drain;
use marquee_studio::packet::{Packet, StreamInfo, Track};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A moment the host marked while live.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    pub id: u32,
    /// Session time in milliseconds.
    pub at_ms: u64,
    #[serde(default)]
    pub label: String,
}

impl Mark {
    pub fn at(&self) -> Duration {
        Duration::from_millis(self.at_ms)
    }
}

/// Marks kept next to a recording as JSON lines (`<recording>.marks.jsonl`), appended and
/// flushed one at a time so a crash loses none.
#[derive(Debug)]
pub struct MarkLog {
    path: PathBuf,
    marks: Vec<Mark>,
}

/// Where the marks of a recording live.
pub fn marks_path_for(recording: &Path) -> PathBuf {
    let mut s = recording.as_os_str().to_owned();
    s.push(".marks.jsonl");
    PathBuf::from(s)
}

impl MarkLog {
    /// Opens (or starts) a mark log; lines that do not parse are skipped.
    pub fn open(path: &Path) -> Result<Self> {
        let marks = match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<Mark>(l).ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(HighlightError::io(path, e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            marks,
        })
    }

    /// Drops a mark at session time `at`; returns it (ids count from 1).
    pub fn add(&mut self, at: Duration, label: &str) -> Result<Mark> {
        let mark = Mark {
            id: self.marks.iter().map(|m| m.id).max().unwrap_or(0) + 1,
            at_ms: at.as_millis() as u64,
            label: label.to_string(),
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| HighlightError::io(&self.path, e))?;
        let line = serde_json::to_string(&mark).expect("a mark serialises");
        writeln!(f, "{line}")
            .and_then(|_| f.sync_data())
            .map_err(|e| HighlightError::io(&self.path, e))?;
        self.marks.push(mark.clone());
        Ok(mark)
    }

    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    pub fn get(&self, id: u32) -> Result<&Mark> {
        self.marks.iter().find(|m| m.id == id).ok_or_else(|| {
            HighlightError::Invalid(format!(
                "no mark {id} in {} (marks: {})",
                self.path.display(),
                self.marks
                    .iter()
                    .map(|m| m.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// What a cut produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CutReport {
    pub path: PathBuf,
    /// Where the clip really starts (the keyframe at or before the asked start).
    pub start_s: f64,
    pub end_s: f64,
    pub bytes: u64,
    pub elapsed_ms: f64,
}

fn tb_of(r: ff::Rational) -> (i32, i32) {
    (r.numerator(), r.denominator())
}

/// A timestamp as a time (zero for negative ones, or a time base a crafted file made
/// meaningless).
fn to_time(ts: i64, tb: (i32, i32)) -> Duration {
    if ts <= 0 || tb.0 <= 0 || tb.1 <= 0 {
        return Duration::ZERO;
    }
    let ns = ts as i128 * tb.0 as i128 * 1_000_000_000 / tb.1 as i128;
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// An opened recording: its H.264 and AAC streams described for our muxer.
pub(crate) struct Source {
    pub ictx: ff::format::context::Input,
    pub video: usize,
    pub audio: Option<usize>,
    pub streams: Vec<StreamInfo>,
}

pub(crate) fn open_source(input: &Path) -> Result<Source> {
    marquee_studio::init();
    let ictx = ff::format::input(input)
        .map_err(|e| HighlightError::media(format!("cannot open {}", input.display()), e))?;
    let video = ictx
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| HighlightError::Invalid(format!("{} has no video", input.display())))?;
    let audio = ictx.streams().best(ff::media::Type::Audio);
    let mut streams = vec![StreamInfo {
        track: Track::Video,
        params: video.parameters(),
        time_base: tb_of(video.time_base()),
    }];
    if let Some(a) = &audio {
        streams.push(StreamInfo {
            track: Track::Audio,
            params: a.parameters(),
            time_base: tb_of(a.time_base()),
        });
    }
    let (video, audio) = (video.index(), audio.map(|a| a.index()));
    Ok(Source {
        ictx,
        video,
        audio,
        streams,
    })
}

/// The error for a range of a recording that holds no video.
fn no_video(input: &Path, from: Duration, to: Duration) -> HighlightError {
    HighlightError::Invalid(format!(
        "{} has no video between {:.3} s and {:.3} s",
        input.display(),
        from.as_secs_f64(),
        to.as_secs_f64()
    ))
}

/// A cut needs its end after its start.
fn check_range(from: Duration, to: Duration) -> Result<()> {
    if to <= from {
        return Err(HighlightError::Invalid(format!(
            "the end ({:.3} s) must be after the start ({:.3} s)",
            to.as_secs_f64(),
            from.as_secs_f64()
        )));
    }
    Ok(())
}

/// Cuts `[from, to)` of a recording into `out` (`.mp4` faststart, or `.mkv`) by stream
/// copy, starting at the keyframe at or before `from` so the clip starts on a keyframe.
pub fn cut_recording(input: &Path, from: Duration, to: Duration, out: &Path) -> Result<CutReport> {
    cut_copy(input, from, to, out).map_err(|e| e.needing(|| cut_size(input, from, to)))
}

/// About how many bytes a cut of `[from, to)` from `input` takes: its share of the file.
fn cut_size(input: &Path, from: Duration, to: Duration) -> Option<u64> {
    let bytes = std::fs::metadata(input).ok()?.len();
    let length = ff::format::input(input).ok()?.duration();
    if length <= 0 {
        return None;
    }
    let share = to.saturating_sub(from).as_secs_f64() * 1e6 / length as f64;
    Some((bytes as f64 * share.min(1.0)) as u64)
}

fn cut_copy(input: &Path, from: Duration, to: Duration, out: &Path) -> Result<CutReport> {
    check_range(from, to)?;
    let began = Instant::now();
    let mut src = open_source(input)?;
    let tbs: Vec<(usize, Track, (i32, i32))> =
        std::iter::once((src.video, Track::Video, src.streams[0].time_base))
            .chain(
                src.audio
                    .map(|a| (a, Track::Audio, src.streams[1].time_base)),
            )
            .collect();
    // Seek to a keyframe at or before the start (cues); if the file has no index (a
    // recording cut short), reading from the beginning is still correct, just slower.
    let target = (from.as_micros() as i64).saturating_sub(1);
    if src.ictx.seek(target, ..target).is_err() {
        let _ = src.ictx.seek(0, ..0);
    }
    // Packets from the latest keyframe at or before `from`, until we pass `from`.
    let mut pending: Vec<Packet> = Vec::new();
    let mut start: Option<Duration> = None;
    let mut writer: Option<ClipWriter> = None;
    let mut end = Duration::ZERO;
    let mut done_v = false;
    let mut done_a = src.audio.is_none();
    let streams = src.streams.clone();
    for (stream, pkt) in src.ictx.packets() {
        let Some(&(_, track, tb)) = tbs.iter().find(|(i, _, _)| *i == stream.index()) else {
            continue;
        };
        let Some(p) = Packet::from_ff(&pkt, track) else {
            continue;
        };
        let t = to_time(p.dts, tb);
        if writer.is_none() {
            let time = |q: &Packet| {
                let tb = tbs
                    .iter()
                    .find(|x| x.1 == q.track)
                    .map(|x| x.2)
                    .unwrap_or(tb);
                to_time(q.dts, tb)
            };
            if track == Track::Video && p.key && (t <= from || start.is_none()) {
                // A later keyframe still at or before `from`: start there instead. Audio
                // that arrived just before it but plays after it is kept.
                pending.retain(|q| q.track == Track::Audio && time(q) >= t);
                start = Some(t);
            }
            match start {
                None => {
                    if track == Track::Audio {
                        pending.push(p);
                        if pending.len() > 256 {
                            pending.remove(0);
                        }
                    }
                    continue;
                }
                Some(s) if track == Track::Audio && t < s => continue,
                Some(_) => pending.push(p),
            }
            if track == Track::Video && t >= from {
                let s = start.expect("set above");
                let mut w = ClipWriter::create(out, &streams, s)?;
                pending.sort_by_key(&time);
                for q in pending.drain(..) {
                    end = end.max(time(&q) + Duration::from_millis(1));
                    w.write(&q)?;
                }
                writer = Some(w);
            }
            continue;
        }
        let w = writer.as_mut().expect("checked");
        if t >= to {
            match track {
                Track::Video => done_v = true,
                Track::Audio => done_a = true,
            }
            if done_v && done_a {
                break;
            }
            continue;
        }
        end = end.max(t + to_time(p.duration.max(0), tb));
        w.write(&p)?;
    }
    let Some(w) = writer else {
        return Err(no_video(input, from, to));
    };
    let bytes = w.finish()?;
    let start = start.unwrap_or_default();
    Ok(CutReport {
        path: out.to_path_buf(),
        start_s: start.as_secs_f64(),
        end_s: end.as_secs_f64(),
        bytes,
        elapsed_ms: began.elapsed().as_secs_f64() * 1000.0,
    })
}

/// A frame-accurate cut: the frames from the exact start up to the next keyframe are
/// decoded (from the keyframe before the start) and re-encoded with libx264; everything
/// from that keyframe on is stream-copied. The re-encoded frames carry their own SPS/PPS
/// in-band and the first copied keyframe gets the recording's SPS/PPS back in-band, so a
/// decoder switches cleanly (the container's avcC holds the recording's). Audio is copied
/// from the first AAC frame at or after the start.
pub fn cut_recording_accurate(
    input: &Path,
    from: Duration,
    to: Duration,
    out: &Path,
) -> Result<CutReport> {
    accurate_cut(input, from, to, out).map_err(|e| e.needing(|| cut_size(input, from, to)))
}

fn accurate_cut(input: &Path, from: Duration, to: Duration, out: &Path) -> Result<CutReport> {
    check_range(from, to)?;
    let began = Instant::now();
    let mut src = open_source(input)?;
    let streams = src.streams.clone();
    let vtb = streams[0].time_base;
    let atb = streams.get(1).map(|s| s.time_base).unwrap_or((1, 48_000));
    let vstream = src.ictx.stream(src.video).expect("exists");
    let fps = vstream.avg_frame_rate();
    let fps = if fps.numerator() > 0 && fps.denominator() > 0 {
        fps
    } else {
        ff::Rational(30, 1)
    };
    let half_frame =
        Duration::from_secs_f64(0.5 * f64::from(fps.denominator()) / f64::from(fps.numerator()));
    // SAFETY: reading plain fields of the stream's codec parameters.
    let (extra, bit_rate) = unsafe {
        let p = (*vstream.as_ptr()).codecpar;
        let ex = if (*p).extradata.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
        };
        (ex, (*p).bit_rate)
    };
    let avcc = match parse_avcc(&extra)
        .map_err(|e| HighlightError::media(format!("cannot cut {}", input.display()), e))?
    {
        Some(c) => Some((
            length_prefixed(&c.parameter_sets, c.nal_length_size)
                .map_err(|e| HighlightError::media(format!("cannot cut {}", input.display()), e))?,
            c.nal_length_size,
        )),
        None => None,
    };
    let mut dec = ff::codec::context::Context::from_parameters(vstream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|e| HighlightError::media("cannot open the video decoder", e))?;
    let target = (from.as_micros() as i64).saturating_sub(1);
    if src.ictx.seek(target, ..target).is_err() {
        let _ = src.ictx.seek(0, ..0);
    }
    let (video, audio) = (src.video, src.audio);

    #[derive(PartialEq)]
    enum Phase {
        Reencode,
        Copy,
    }
    let mut phase = Phase::Reencode;
    let mut enc: Option<ff::encoder::Video> = None;
    let mut writer: Option<ClipWriter> = None;
    let mut start: Option<Duration> = None;
    let mut encoded: Vec<Packet> = Vec::new();
    let mut pending_audio: Vec<Packet> = Vec::new();
    let mut end = Duration::ZERO;
    let (mut done_v, mut done_a) = (false, audio.is_none());
    let mut frame = ff::frame::Video::empty();
    let mut first_copy = true;

    // Encodes one decoded frame if it is inside the cut (opening the encoder on the first).
    let encode = |f: &ff::frame::Video,
                  enc: &mut Option<ff::encoder::Video>,
                  start: &mut Option<Duration>,
                  encoded: &mut Vec<Packet>|
     -> Result<()> {
        let Some(ts) = f.timestamp().or(f.pts()) else {
            return Ok(());
        };
        let t = to_time(ts, vtb);
        if t + half_frame <= from || t >= to {
            return Ok(());
        }
        if enc.is_none() {
            let codec = ff::encoder::find_by_name("libx264")
                .ok_or_else(|| HighlightError::media("accurate cut", "libx264 is missing"))?;
            let mut e = ff::codec::context::Context::new_with_codec(codec)
                .encoder()
                .video()
                .map_err(|e| HighlightError::media("accurate cut encoder", e))?;
            e.set_width(f.width());
            e.set_height(f.height());
            e.set_format(ff::format::Pixel::YUV420P);
            e.set_time_base(vtb);
            e.set_frame_rate(Some(fps));
            e.set_bit_rate(if bit_rate > 0 {
                bit_rate as usize
            } else {
                4_000_000
            });
            e.set_max_b_frames(0);
            e.set_gop(10_000);
            let mut d = ff::Dictionary::new();
            d.set("preset", "veryfast");
            d.set("tune", "zerolatency");
            // Quality over bitrate for a few frames: they must not look worse than the rest.
            d.set("crf", "18");
            *enc = Some(
                e.open_with(d)
                    .map_err(|e| HighlightError::media("accurate cut encoder", e))?,
            );
            *start = Some(t);
        }
        let e = enc.as_mut().expect("opened");
        let mut f2 = f.clone();
        f2.set_pts(Some(ts));
        f2.set_kind(ff::picture::Type::None);
        e.send_frame(&f2)
            .map_err(|e| HighlightError::media("accurate cut encode", e))?;
        encoded.extend(drain(e, Track::Video));
        Ok(())
    };
    // Ends the re-encoded part: flush, write it (in-band headers as the container wants).
    let finish_reencode = |enc: &mut Option<ff::encoder::Video>,
                           encoded: &mut Vec<Packet>,
                           pending_audio: &mut Vec<Packet>,
                           writer: &mut Option<ClipWriter>,
                           start: Option<Duration>,
                           end: &mut Duration|
     -> Result<()> {
        if let Some(e) = enc.as_mut() {
            let _ = e.send_eof();
            encoded.extend(drain(e, Track::Video));
        }
        let s = match start {
            Some(s) => s,
            None => return Ok(()),
        };
        if writer.is_none() {
            *writer = Some(ClipWriter::create(out, &streams, s)?);
        }
        let w = writer.as_mut().expect("created");
        let mut all: Vec<(Duration, Packet)> = Vec::new();
        for p in encoded.drain(..) {
            let data: Arc<[u8]> = match &avcc {
                Some((_, size)) => Arc::from(
                    length_prefixed(&annexb_nals(&p.data), *size)
                        .map_err(|e| HighlightError::media("accurate cut", e))?,
                ),
                None => p.data.clone(),
            };
            all.push((to_time(p.dts, vtb), Packet { data, ..p }));
        }
        for p in pending_audio.drain(..) {
            let t = to_time(p.dts, atb);
            if t >= s {
                all.push((t, p));
            }
        }
        all.sort_by_key(|x| x.0);
        for (t, p) in all {
            *end = (*end).max(t);
            w.write(&p)?;
        }
        Ok(())
    };

    for (stream, pkt) in src.ictx.packets() {
        let i = stream.index();
        if Some(i) == audio {
            let Some(p) = Packet::from_ff(&pkt, Track::Audio) else {
                continue;
            };
            let t = to_time(p.dts, atb);
            if t >= to {
                done_a = true;
            } else if t + half_frame >= from {
                if phase == Phase::Copy {
                    end = end.max(t);
                    writer.as_mut().expect("open in copy phase").write(&p)?;
                } else {
                    pending_audio.push(p);
                }
            }
        } else if i == video {
            let Some(p) = Packet::from_ff(&pkt, Track::Video) else {
                continue;
            };
            let t = to_time(p.dts, vtb);
            if phase == Phase::Reencode {
                let next_key = p.key && t + half_frame > from;
                if next_key || t >= to {
                    // Everything before this packet is decoded (no B-frames in our streams;
                    // the decoder's delay is flushed).
                    let _ = dec.send_eof();
                    while dec.receive_frame(&mut frame).is_ok() {
                        encode(&frame, &mut enc, &mut start, &mut encoded)?;
                    }
                    if start.is_none() && next_key {
                        // The start is this keyframe: a plain copy from here.
                        start = Some(t);
                    }
                    finish_reencode(
                        &mut enc,
                        &mut encoded,
                        &mut pending_audio,
                        &mut writer,
                        start,
                        &mut end,
                    )?;
                    phase = Phase::Copy;
                } else {
                    if dec.send_packet(&pkt).is_ok() {
                        while dec.receive_frame(&mut frame).is_ok() {
                            encode(&frame, &mut enc, &mut start, &mut encoded)?;
                        }
                    }
                    continue;
                }
            }
            if t >= to {
                done_v = true;
            } else if let Some(w) = writer.as_mut() {
                let mut q = p;
                if first_copy && enc.is_some() {
                    // Back to the recording's parameter sets.
                    if let Some((ps, _)) = &avcc {
                        let mut d = ps.clone();
                        d.extend_from_slice(&q.data);
                        q.data = Arc::from(d);
                    }
                }
                first_copy = false;
                end = end.max(t + to_time(q.duration.max(0), vtb));
                w.write(&q)?;
            }
        }
        if done_v && done_a {
            break;
        }
    }
    if phase == Phase::Reencode {
        let _ = dec.send_eof();
        while dec.receive_frame(&mut frame).is_ok() {
            encode(&frame, &mut enc, &mut start, &mut encoded)?;
        }
        finish_reencode(
            &mut enc,
            &mut encoded,
            &mut pending_audio,
            &mut writer,
            start,
            &mut end,
        )?;
    }
    let Some(w) = writer else {
        return Err(no_video(input, from, to));
    };
    let bytes = w.finish()?;
    Ok(CutReport {
        path: out.to_path_buf(),
        start_s: start.unwrap_or_default().as_secs_f64(),
        end_s: end.as_secs_f64(),
        bytes,
        elapsed_ms: began.elapsed().as_secs_f64() * 1000.0,
    })
}
