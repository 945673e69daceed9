//! The clip library: a folder of clips (default: the user's videos folder +
//! `Marquee/clips`). List with duration, size and creation time; a thumbnail from the first
//! keyframe (JPEG, cached under `.thumbs/`); rename; delete; open in the system player;
//! export a vertical 9:16 crop (video re-encoded with libx264, audio copied) with a
//! progress callback; batch export that goes on when one clip fails.

use crate::cut::open_source;
use crate::error::{HighlightError, Result};
use crate::save::ClipWriter;
use ffmpeg_next as ff;
use marquee_studio::packet::{Packet, StreamInfo, Track};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// When a file was made (or last changed, where the filesystem keeps no creation time), Unix
/// seconds.
pub fn created_unix_s(meta: &std::fs::Metadata) -> u64 {
    meta.created()
        .or_else(|_| meta.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// One clip's entry (duration 0 for a file FFmpeg cannot read).
pub fn clip_info(path: &Path) -> Result<ClipInfo> {
    let meta = std::fs::metadata(path).map_err(|e| HighlightError::io(path, e))?;
    let (duration_s, width, height) = media_info(path).unwrap_or((0.0, 0, 0));
    Ok(ClipInfo {
        path: path.to_path_buf(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        duration_s,
        bytes: meta.len(),
        created_unix_s: created_unix_s(&meta),
        width,
        height,
    })
}

/// The default library folder: `<videos>/Marquee/clips` (e.g. `~/Videos/Marquee/clips`).
pub fn default_dir() -> PathBuf {
    marquee_profile::paths::videos_dir().join("clips")
}

/// One clip in the library.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClipInfo {
    pub path: PathBuf,
    pub name: String,
    pub duration_s: f64,
    pub bytes: u64,
    /// Creation time (or last modification where the filesystem has none), Unix seconds.
    pub created_unix_s: u64,
    pub width: u32,
    pub height: u32,
}

const CLIP_EXTENSIONS: [&str; 3] = ["mp4", "mkv", "mov"];

/// A folder of clips.
#[derive(Debug, Clone)]
pub struct Library {
    dir: PathBuf,
}

/// Options of the vertical export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Output size (9:16). Default 720x1280.
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    /// x264 preset.
    pub preset: String,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            width: 720,
            height: 1280,
            bitrate_kbps: 3000,
            preset: "veryfast".into(),
        }
    }
}

/// What a batch export did: every clip either exported or failed with its reason.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BatchReport {
    pub exported: Vec<(PathBuf, PathBuf)>,
    pub failed: Vec<(PathBuf, String)>,
}

/// Duration, size of the first video stream of a media file.
pub fn media_info(path: &Path) -> Result<(f64, u32, u32)> {
    marquee_studio::init();
    let ictx = ff::format::input(path)
        .map_err(|e| HighlightError::media(format!("cannot open {}", path.display()), e))?;
    let dur = ictx.duration();
    let duration_s = if dur > 0 {
        dur as f64 / f64::from(ff::ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    let (w, h) = ictx
        .streams()
        .best(ff::media::Type::Video)
        .map(|s| {
            // SAFETY: codecpar is always set on a demuxed stream.
            unsafe {
                let p = (*s.as_ptr()).codecpar;
                ((*p).width as u32, (*p).height as u32)
            }
        })
        .unwrap_or((0, 0));
    Ok((duration_s, w, h))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', ':', '\0'])
        || name.len() > 200
    {
        return Err(HighlightError::Invalid(format!(
            "'{name}' is not a usable clip name (no slashes, colons or leading dot, at most 200 bytes)"
        )));
    }
    Ok(())
}

impl Library {
    /// A library in `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| HighlightError::io(&dir, e))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Resolves a clip by file name (or a path inside the library).
    pub fn resolve(&self, name: &str) -> Result<PathBuf> {
        let p = Path::new(name);
        let p = if p.is_absolute() || p.exists() {
            p.to_path_buf()
        } else {
            self.dir.join(name)
        };
        if p.is_file() {
            Ok(p)
        } else {
            Err(HighlightError::Invalid(format!(
                "no clip '{name}' in {} (see `marquee clip list`)",
                self.dir.display()
            )))
        }
    }

    /// Every clip, oldest first. Files FFmpeg cannot read are listed with duration 0.
    pub fn list(&self) -> Result<Vec<ClipInfo>> {
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(|e| HighlightError::io(&self.dir, e))?;
        for entry in rd.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ext_ok = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| CLIP_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if name.starts_with('.') || !ext_ok || !path.is_file() {
                continue;
            }
            out.push(clip_info(&path)?);
        }
        out.sort_by(|a, b| {
            a.created_unix_s
                .cmp(&b.created_unix_s)
                .then(a.name.cmp(&b.name))
        });
        Ok(out)
    }

    fn thumb_path(&self, clip: &Path) -> PathBuf {
        let name = clip
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.dir.join(".thumbs").join(format!("{name}.jpg"))
    }

    /// The clip's thumbnail (its first keyframe, 320 px wide, JPEG), made once and cached.
    pub fn thumbnail(&self, clip: &Path) -> Result<PathBuf> {
        let out = self.thumb_path(clip);
        let fresh = match (std::fs::metadata(&out), std::fs::metadata(clip)) {
            (Ok(t), Ok(c)) => t.modified().ok() >= c.modified().ok(),
            _ => false,
        };
        if !fresh {
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent).map_err(|e| HighlightError::io(parent, e))?;
            }
            thumbnail_jpeg(clip, &out, 320)?;
        }
        Ok(out)
    }

    /// Renames a clip (the extension is kept when `new_name` has none). Never overwrites.
    pub fn rename(&self, clip: &Path, new_name: &str) -> Result<PathBuf> {
        check_name(new_name)?;
        let mut target = self.dir.join(new_name);
        if target.extension().is_none()
            && let Some(ext) = clip.extension()
        {
            target.set_extension(ext);
        }
        if target.exists() {
            return Err(HighlightError::Invalid(format!(
                "{} already exists; pick another name",
                target.display()
            )));
        }
        std::fs::rename(clip, &target).map_err(|e| HighlightError::io(clip, e))?;
        let _ = std::fs::rename(self.thumb_path(clip), self.thumb_path(&target));
        // The rename is done; syncing the folder only makes it survive a power cut.
        let _ = marquee_studio::disk::sync_dir(&self.dir);
        Ok(target)
    }

    /// Deletes a clip and its cached thumbnail.
    pub fn delete(&self, clip: &Path) -> Result<()> {
        std::fs::remove_file(clip).map_err(|e| HighlightError::io(clip, e))?;
        let _ = std::fs::remove_file(self.thumb_path(clip));
        Ok(())
    }

    /// Exports every clip as a vertical crop into `out_dir` (`<name>-vertical.mp4`). A
    /// failing clip is reported and the batch goes on. `progress(index, fraction)`.
    pub fn export_batch(
        &self,
        clips: &[PathBuf],
        out_dir: &Path,
        opts: &ExportOptions,
        mut progress: impl FnMut(usize, f32),
    ) -> BatchReport {
        let mut report = BatchReport::default();
        for (i, clip) in clips.iter().enumerate() {
            let stem = clip
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("clip{i}"));
            let out = crate::save::unique_path(out_dir, &format!("{stem}-vertical"), "mp4");
            match export_vertical(clip, &out, opts, |f| progress(i, f)) {
                Ok(()) => report.exported.push((clip.clone(), out)),
                Err(e) => report.failed.push((clip.clone(), e.to_string())),
            }
        }
        report
    }
}

/// Opens the clip in the system's default player (xdg-open, open, or start).
pub fn open_in_player(clip: &Path) -> Result<()> {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(clip)
        .spawn()
        .map(|_| ())
        .map_err(|e| HighlightError::media("cannot start the system player", e))
}

/// Decodes video frames of `input` (from the start), calling `on_frame` with each frame
/// and its time in seconds; stops when `on_frame` returns false.
fn decode_video(
    input: &Path,
    mut on_packet_other: impl FnMut(&ff::Packet, usize) -> Result<()>,
    mut on_frame: impl FnMut(&ff::frame::Video, f64) -> Result<bool>,
) -> Result<()> {
    let mut src = open_source(input)?;
    let vstream = src.ictx.stream(src.video).expect("exists");
    let tb = vstream.time_base();
    let ctx = ff::codec::context::Context::from_parameters(vstream.parameters())
        .map_err(|e| HighlightError::media("cannot set up the video decoder", e))?;
    let mut dec = ctx
        .decoder()
        .video()
        .map_err(|e| HighlightError::media("cannot open the video decoder", e))?;
    let mut frame = ff::frame::Video::empty();
    let secs = |ts: Option<i64>| {
        ts.map(|t| t as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator()))
            .unwrap_or(0.0)
    };
    let video = src.video;
    for (stream, pkt) in src.ictx.packets() {
        if stream.index() != video {
            on_packet_other(&pkt, stream.index())?;
            continue;
        }
        if dec.send_packet(&pkt).is_err() {
            continue;
        }
        while dec.receive_frame(&mut frame).is_ok() {
            if !on_frame(&frame, secs(frame.timestamp().or(frame.pts())))? {
                return Ok(());
            }
        }
    }
    let _ = dec.send_eof();
    while dec.receive_frame(&mut frame).is_ok() {
        if !on_frame(&frame, secs(frame.timestamp().or(frame.pts())))? {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes the first keyframe of `clip` as a JPEG `width` pixels wide.
pub fn thumbnail_jpeg(clip: &Path, out: &Path, width: u32) -> Result<()> {
    let mut done = false;
    let mut result = Ok(());
    decode_video(
        clip,
        |_, _| Ok(()),
        |frame, _| {
            if !frame.is_key() && !done {
                // A clip of ours starts on a keyframe; others: take the first keyframe.
                return Ok(true);
            }
            result = encode_jpeg(frame, out, width);
            done = true;
            Ok(false)
        },
    )?;
    if !done {
        return Err(HighlightError::Invalid(format!(
            "{} has no decodable keyframe",
            clip.display()
        )));
    }
    result
}

fn encode_jpeg(frame: &ff::frame::Video, out: &Path, width: u32) -> Result<()> {
    let (w, h) = (frame.width(), frame.height());
    let tw = width.min(w).max(2) & !1;
    let th = ((h as u64 * tw as u64 / w.max(1) as u64) as u32).max(2) & !1;
    let fmt = ff::format::Pixel::YUVJ420P;
    let mut scaler = ff::software::scaling::Context::get(
        frame.format(),
        w,
        h,
        fmt,
        tw,
        th,
        ff::software::scaling::Flags::BICUBIC,
    )
    .map_err(|e| HighlightError::media("thumbnail scaler", e))?;
    let mut small = ff::frame::Video::new(fmt, tw, th);
    scaler
        .run(frame, &mut small)
        .map_err(|e| HighlightError::media("thumbnail scale", e))?;
    let codec = ff::encoder::find(ff::codec::Id::MJPEG)
        .ok_or_else(|| HighlightError::media("thumbnail", "no MJPEG encoder in this FFmpeg"))?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| HighlightError::media("thumbnail encoder", e))?;
    enc.set_width(tw);
    enc.set_height(th);
    enc.set_format(fmt);
    enc.set_time_base((1, 25));
    let mut opts = ff::Dictionary::new();
    opts.set("qscale", "3");
    let mut enc = enc
        .open_with(opts)
        .map_err(|e| HighlightError::media("thumbnail encoder", e))?;
    small.set_pts(Some(0));
    enc.send_frame(&small)
        .map_err(|e| HighlightError::media("thumbnail encode", e))?;
    let _ = enc.send_eof();
    let mut pkt = ff::Packet::empty();
    enc.receive_packet(&mut pkt)
        .map_err(|e| HighlightError::media("thumbnail encode", e))?;
    let thumb = crate::durable::Partial::new(out);
    std::fs::write(thumb.tmp(), pkt.data().unwrap_or(&[]))
        .map_err(|e| HighlightError::io(out, e))?;
    thumb.commit_cache().map(|_| ())
}

/// Exports a vertical 9:16 version of `input`: the centre of the picture, cropped to 9:16
/// and scaled to `opts.width`×`opts.height`, re-encoded with libx264; audio is copied.
/// `progress` gets the fraction done (0..=1) as frames are encoded.
pub fn export_vertical(
    input: &Path,
    out: &Path,
    opts: &ExportOptions,
    mut progress: impl FnMut(f32),
) -> Result<()> {
    let (duration, w, h) = media_info(input)?;
    if w == 0 || h == 0 {
        return Err(HighlightError::Invalid(format!(
            "{} has no video picture",
            input.display()
        )));
    }
    let src = open_source(input)?;
    let vtb = src.streams[0].time_base;
    let audio_info = src.streams.get(1).cloned();
    let audio_index = src.audio;
    let fps = {
        let r = src.ictx.stream(src.video).expect("exists").avg_frame_rate();
        if r.numerator() > 0 && r.denominator() > 0 {
            r
        } else {
            ff::Rational(30, 1)
        }
    };
    drop(src);
    // The crop: the full height, 9/16 of it wide, centred (or the full width if narrower).
    let cw = (((h as u64 * 9 / 16) as u32).min(w)) & !1;
    let ch = h & !1;
    let cx = ((w - cw) / 2) & !1;
    let codec = ff::encoder::find_by_name("libx264")
        .ok_or_else(|| HighlightError::media("export", "libx264 is not in this FFmpeg build"))?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| HighlightError::media("export encoder", e))?;
    enc.set_width(opts.width);
    enc.set_height(opts.height);
    enc.set_format(ff::format::Pixel::YUV420P);
    enc.set_time_base(vtb);
    enc.set_frame_rate(Some(fps));
    enc.set_bit_rate(opts.bitrate_kbps as usize * 1000);
    enc.set_max_b_frames(0);
    enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let mut d = ff::Dictionary::new();
    d.set("preset", &opts.preset);
    d.set("tune", "zerolatency");
    let mut enc = enc
        .open_with(d)
        .map_err(|e| HighlightError::media("export encoder", e))?;
    let mut streams = vec![StreamInfo {
        track: Track::Video,
        params: ff::codec::Parameters::from(&enc),
        time_base: vtb,
    }];
    if let Some(a) = &audio_info {
        streams.push(a.clone());
    }
    let writer = std::cell::RefCell::new(ClipWriter::create(out, &streams, Duration::ZERO)?);
    let mut crop = ff::frame::Video::new(ff::format::Pixel::YUV420P, cw, ch);
    let mut outf = ff::frame::Video::new(ff::format::Pixel::YUV420P, opts.width, opts.height);
    let mut to_yuv: Option<ff::software::scaling::Context> = None;
    let mut yuv = ff::frame::Video::empty();
    let mut scaler = ff::software::scaling::Context::get(
        ff::format::Pixel::YUV420P,
        cw,
        ch,
        ff::format::Pixel::YUV420P,
        opts.width,
        opts.height,
        ff::software::scaling::Flags::BICUBIC,
    )
    .map_err(|e| HighlightError::media("export scaler", e))?;
    let drain =
        |enc: &mut ff::encoder::Video, writer: &std::cell::RefCell<ClipWriter>| -> Result<()> {
            for p in marquee_studio::encode::drain(enc, Track::Video) {
                writer.borrow_mut().write(&p)?;
            }
            Ok(())
        };
    let mut last_reported = -1.0f32;
    let result = decode_video(
        input,
        |pkt, index| {
            if Some(index) != audio_index {
                return Ok(());
            }
            match Packet::from_ff(pkt, Track::Audio) {
                Some(p) => writer.borrow_mut().write(&p),
                None => Ok(()),
            }
        },
        |frame, t| {
            let src = if frame.format() == ff::format::Pixel::YUV420P {
                frame
            } else {
                let sc = match &mut to_yuv {
                    Some(s) => s,
                    None => to_yuv.insert(
                        ff::software::scaling::Context::get(
                            frame.format(),
                            w,
                            h,
                            ff::format::Pixel::YUV420P,
                            w,
                            h,
                            ff::software::scaling::Flags::POINT,
                        )
                        .map_err(|e| HighlightError::media("export converter", e))?,
                    ),
                };
                sc.run(frame, &mut yuv)
                    .map_err(|e| HighlightError::media("export convert", e))?;
                &yuv
            };
            // Copy the centre crop (rows of each plane), then scale it.
            for (plane, div) in [(0usize, 1u32), (1, 2), (2, 2)] {
                let (ss, ds) = (src.stride(plane), crop.stride(plane));
                let (x0, cwp, chp) = (
                    (cx / div) as usize,
                    (cw / div) as usize,
                    (ch / div) as usize,
                );
                let s = src.data(plane);
                let dst = crop.data_mut(plane);
                for row in 0..chp {
                    dst[row * ds..row * ds + cwp]
                        .copy_from_slice(&s[row * ss + x0..row * ss + x0 + cwp]);
                }
            }
            // SAFETY: the encoder may still hold the previous buffer.
            unsafe {
                ff::ffi::av_frame_make_writable(outf.as_mut_ptr());
            }
            scaler
                .run(&crop, &mut outf)
                .map_err(|e| HighlightError::media("export scale", e))?;
            outf.set_pts(frame.timestamp().or(frame.pts()));
            enc.send_frame(&outf)
                .map_err(|e| HighlightError::media("export encode", e))?;
            drain(&mut enc, &writer)?;
            if duration > 0.0 {
                let f = ((t / duration) as f32).clamp(0.0, 0.99);
                if f - last_reported >= 0.01 {
                    last_reported = f;
                    progress(f);
                }
            }
            Ok(true)
        },
    )
    .and_then(|()| {
        let _ = enc.send_eof();
        drain(&mut enc, &writer)
    });
    match result {
        Ok(()) => {
            writer.into_inner().finish()?;
            progress(1.0);
            Ok(())
        }
        Err(e) => {
            writer.into_inner().abandon();
            Err(e)
        }
    }
}

/// The loudest EBU R128 momentary loudness (LUFS) of each second of a recording's audio
/// (decoded with FFmpeg; planar or interleaved float, s16 or s32), for the suggestion
/// scorer. Empty when the file has no audio.
pub fn loudness_per_second(input: &Path) -> Result<Vec<f64>> {
    let mut src = open_source(input)?;
    let Some(ai) = src.audio else {
        return Ok(Vec::new());
    };
    let stream = src.ictx.stream(ai).expect("exists");
    let ctx = ff::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| HighlightError::media("cannot set up the audio decoder", e))?;
    let mut dec = ctx
        .decoder()
        .audio()
        .map_err(|e| HighlightError::media("cannot open the audio decoder", e))?;
    let mut meter: Option<(u32, usize, crate::loudness::Momentary)> = None;
    let mut values = Vec::new();
    let mut frame = ff::frame::Audio::empty();
    let mut pcm: Vec<f32> = Vec::new();
    let mut take = |frame: &ff::frame::Audio, values: &mut Vec<f64>| {
        let channels = (frame.channels() as usize).max(1);
        let n = frame.samples();
        let rate = frame.rate();
        let m = &mut meter
            .get_or_insert_with(|| {
                (
                    rate,
                    channels,
                    crate::loudness::Momentary::new(rate, channels),
                )
            })
            .2;
        pcm.clear();
        use ff::format::Sample as S;
        use ff::format::sample::Type as T;
        // Little helpers over the raw bytes: planar = one plane per channel.
        let get = |plane: usize, idx: usize, size: usize| -> [u8; 4] {
            let d = frame.data(plane);
            let mut b = [0u8; 4];
            b[..size].copy_from_slice(&d[idx * size..idx * size + size]);
            b
        };
        let (planar, size) = match frame.format() {
            S::F32(T::Planar) | S::I32(T::Planar) => (true, 4),
            S::F32(T::Packed) | S::I32(T::Packed) => (false, 4),
            S::I16(T::Planar) => (true, 2),
            S::I16(T::Packed) => (false, 2),
            _ => return,
        };
        let conv = |b: [u8; 4]| -> f32 {
            match frame.format() {
                S::F32(_) => f32::from_ne_bytes(b),
                S::I32(_) => i32::from_ne_bytes(b) as f32 / 2_147_483_648.0,
                _ => i16::from_ne_bytes([b[0], b[1]]) as f32 / 32_768.0,
            }
        };
        for i in 0..n {
            for c in 0..channels {
                let b = if planar {
                    get(c, i, size)
                } else {
                    get(0, i * channels + c, size)
                };
                pcm.push(conv(b));
            }
        }
        values.extend(m.push_interleaved(&pcm));
    };
    for (stream, pkt) in src.ictx.packets() {
        if stream.index() != ai || dec.send_packet(&pkt).is_err() {
            continue;
        }
        while dec.receive_frame(&mut frame).is_ok() {
            take(&frame, &mut values);
        }
    }
    let _ = dec.send_eof();
    while dec.receive_frame(&mut frame).is_ok() {
        take(&frame, &mut values);
    }
    let mut out: Vec<f64> = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        let second = (i + 3) / 10;
        if out.len() <= second {
            out.resize(second + 1, crate::loudness::FLOOR_LUFS);
        }
        out[second] = out[second].max(v);
    }
    Ok(out)
}
