//! What the overlays cost per frame, against the ffmpeg CLI doing comparable work in the same run.
//!
//! ```text
//! cargo run --release -p marquee-overlay --bin bench_overlay -- [--frames 300] [--dump DIR] [--no-peer]
//! ```
//!
//! For 1280×720 and 1920×1080 it times `Overlays::draw` (layout + blend, single thread, median
//! per frame; comments arriving meanwhile are rasterised outside the timed call) for: one
//! text line, one 300×300 PNG with alpha, and a danmaku layer holding ~30 and ~100 comments.
//! The peer is ffmpeg (one thread) drawing the same things with `drawtext` / `overlay` over a
//! `color` source; its per-frame cost is (CPU time with the filter − CPU time without) / frames,
//! from ffmpeg's own `-benchmark` line, best of three runs each.
//! Numbers are printed, never asserted: this machine is shared and noisy, ratios are what count.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use marquee_overlay::{
    Anchor, Comment, CommentMode, DanmakuConfig, OverlaySpec, Overlays, Rgba, TextRenderer,
    TextStyle,
};

const COMMENTS: &[&str] = &[
    "前方高能",
    "666666",
    "主播好厉害",
    "哈哈哈哈哈",
    "打卡 第一次来",
    "awsl",
    "这波操作可以",
    "来了来了",
    "Hello from Berlin",
    "弹幕护体",
    "泪目",
    "kksk",
    "ありがとう",
    "名场面",
    "好听",
    "GG",
];

const TITLE: &str = "Marquee 直播中 Hello";

struct Args {
    frames: u32,
    dump: Option<PathBuf>,
    peer: bool,
}

fn args() -> Args {
    let mut a = Args {
        frames: 300,
        dump: None,
        peer: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        match s.as_str() {
            "--frames" => {
                a.frames = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(300)
                    .max(10)
            }
            "--dump" => a.dump = it.next().map(PathBuf::from),
            "--no-peer" => a.peer = false,
            other => {
                eprintln!("unknown argument {other:?}; use --frames N, --dump DIR, --no-peer");
                std::process::exit(2);
            }
        }
    }
    a
}

fn grey_canvas(w: u32, h: u32) -> Vec<u8> {
    let mut c = vec![128u8; (w * h + 2 * (w / 2) * (h / 2)) as usize];
    // A horizontal luma ramp, so blending does real work on varied input.
    for y in 0..h as usize {
        for x in 0..w as usize {
            c[y * w as usize + x] = (16 + (x * 219) / w as usize) as u8;
        }
    }
    c
}

/// A 300×300 PNG: a soft-edged orange disc with a transparent outside and a half-transparent ring.
fn write_logo(path: &Path) {
    let (w, h) = (300u32, 300u32);
    let mut px = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 - 150.0, y as f32 - 150.0);
            let d = (dx * dx + dy * dy).sqrt();
            let a = if d < 110.0 {
                255.0
            } else if d < 140.0 {
                128.0
            } else {
                (255.0 * (150.0 - d) / 10.0).clamp(0.0, 255.0)
            };
            px.extend_from_slice(&[255, (x * 255 / w) as u8, 40, a as u8]);
        }
    }
    let f = std::fs::File::create(path).expect("create logo png");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&px))
        .expect("write logo png");
}

fn i420_to_png(canvas: &[u8], w: u32, h: u32, path: &Path) {
    let (wu, hu) = (w as usize, h as usize);
    let q = (wu / 2) * (hu / 2);
    let mut rgb = Vec::with_capacity(wu * hu * 3);
    for y in 0..hu {
        for x in 0..wu {
            let yy = f32::from(canvas[y * wu + x]) - 16.0;
            let ci = (y / 2) * (wu / 2) + x / 2;
            let u = f32::from(canvas[wu * hu + ci]) - 128.0;
            let v = f32::from(canvas[wu * hu + q + ci]) - 128.0;
            let c = |f: f32| f.round().clamp(0.0, 255.0) as u8;
            rgb.push(c(1.164 * yy + 1.596 * v));
            rgb.push(c(1.164 * yy - 0.392 * u - 0.813 * v));
            rgb.push(c(1.164 * yy + 2.017 * u));
        }
    }
    let f = std::fs::File::create(path).expect("create dump png");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&rgb))
        .expect("write dump png");
}

fn danmaku_config(target: usize) -> DanmakuConfig {
    // Enough lanes for ~100 comments even at 720p: smaller text over 90 % of the height.
    DanmakuConfig {
        font_size: if target > 50 { 26.0 } else { 32.0 },
        area_bottom: 0.9,
        gap_px: 16,
        ..DanmakuConfig::default()
    }
}

struct Measured {
    us_per_frame: f64,
    on_screen: f64,
}

/// Median time of `frames` calls of `draw` at 30 fps session time, after 10 s of warm-up for danmaku (so
/// the layer is in its steady state and every string has been rasterised once).
fn time_draw(
    overlays: &mut Overlays,
    w: u32,
    h: u32,
    frames: u32,
    feed: Option<usize>,
    dump: Option<&Path>,
) -> Measured {
    let mut canvas = grey_canvas(w, h);
    let mut n = 0usize;
    let mut t = Duration::ZERO;
    let step = Duration::from_micros(33_333);
    // Comments arrive at a steady rate that keeps about `target` on screen (each scrolls for
    // 8 s), like a busy room, not in bursts.
    let mut due = 0.0f64;
    let mut feed_fn = |o: &mut Overlays, t: Duration| {
        let Some(target) = feed else {
            return;
        };
        due += target as f64 / 8.0 / 30.0;
        while due >= 1.0 {
            due -= 1.0;
            let text = COMMENTS[n % COMMENTS.len()];
            let mode = match n % 17 {
                0 => CommentMode::Top,
                1 => CommentMode::Bottom,
                _ => CommentMode::Scroll,
            };
            let colour = if n.is_multiple_of(5) {
                Rgba::new(255, 220, 80, 255)
            } else {
                Rgba::WHITE
            };
            let c = Comment {
                text: if n.is_multiple_of(3) {
                    format!("{text} 🎉")
                } else {
                    text.to_string()
                },
                colour,
                mode,
                from_host: n.is_multiple_of(29),
                key: Some(n as u64),
            };
            o.push_comment("chat", &c, t).expect("push");
            n += 1;
        }
    };
    let warmup = if feed.is_some() { 300 } else { 10 };
    for _ in 0..warmup {
        feed_fn(overlays, t);
        overlays.draw(&mut canvas, w, h, t).expect("draw");
        t += step;
    }
    let mut times = Vec::with_capacity(frames as usize);
    let mut on_screen = 0usize;
    for _ in 0..frames {
        feed_fn(overlays, t);
        let start = Instant::now();
        overlays.draw(&mut canvas, w, h, t).expect("draw");
        times.push(start.elapsed());
        if feed.is_some() {
            on_screen += overlays.danmaku_stats("chat").map_or(0, |s| s.on_screen);
        }
        t += step;
    }
    if let Some(path) = dump {
        let mut fresh = grey_canvas(w, h);
        overlays.draw(&mut fresh, w, h, t).expect("draw");
        i420_to_png(&fresh, w, h, path);
    }
    times.sort();
    Measured {
        us_per_frame: times[times.len() / 2].as_secs_f64() * 1e6,
        on_screen: on_screen as f64 / f64::from(frames),
    }
}

fn ffmpeg_secs(
    w: u32,
    h: u32,
    frames: u32,
    filter: Option<&str>,
    extra_inputs: &[&str],
) -> Option<f64> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "info",
        "-benchmark",
        "-nostdin",
        "-threads",
        "1",
    ])
    .args(["-filter_threads", "1", "-filter_complex_threads", "1"])
    .args(["-f", "lavfi", "-i"])
    .arg(format!("color=c=0x808080:s={w}x{h}:r=30"));
    for i in extra_inputs {
        cmd.arg(i);
    }
    let graph = match filter {
        Some(f) if f.starts_with('[') => format!("[0:v]format=yuv420p{f}[out]"),
        Some(f) => format!("[0:v]format=yuv420p,{f}[out]"),
        None => "[0:v]format=yuv420p[out]".to_string(),
    };
    cmd.args(["-filter_complex", &graph, "-map", "[out]"])
        .args(["-frames:v", &frames.to_string(), "-f", "null", "-"]);
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "ffmpeg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    // CPU seconds ffmpeg reports for itself (-benchmark): robust to other load on the machine.
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.contains("bench: utime="))?;
    let field = |name: &str| -> Option<f64> {
        let rest = line.split(name).nth(1)?;
        rest.split('s').next()?.parse().ok()
    };
    Some(field("utime=")? + field("stime=")?)
}

/// Best of three, to damp the noise of a shared machine.
fn ffmpeg_us_per_frame(w: u32, h: u32, frames: u32, filter: &str, extra: &[&str]) -> Option<f64> {
    let best = |f: Option<&str>, ex: &[&str]| -> Option<f64> {
        (0..3)
            .filter_map(|_| ffmpeg_secs(w, h, frames, f, ex))
            .min_by(f64::total_cmp)
    };
    let base = best(None, &[])?;
    let with = best(Some(filter), extra)?;
    Some(((with - base).max(0.0)) * 1e6 / f64::from(frames))
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\\\\\")
        .replace('\'', "")
        .replace(':', "\\\\:")
        .replace(',', "\\,")
}

fn main() {
    let a = args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let font = root.join("assets/fonts/NotoSansCJKsc-Subset.otf");
    let tmp = std::env::temp_dir().join(format!("bench-overlay-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let logo = tmp.join("logo.png");
    write_logo(&logo);
    if let Some(d) = &a.dump {
        std::fs::create_dir_all(d).expect("dump dir");
    }
    let have_ffmpeg = a.peer && Command::new("ffmpeg").arg("-version").output().is_ok();
    if a.peer && !have_ffmpeg {
        eprintln!("ffmpeg not found: install it (apt-get install ffmpeg) or pass --no-peer");
    }

    // One-time costs.
    let t0 = Instant::now();
    let mut tr = TextRenderer::new();
    let font_load = t0.elapsed();
    let style = TextStyle::sized(32.0);
    let t1 = Instant::now();
    let uniq = 200;
    for i in 0..uniq {
        tr.render(&format!("{} {i}", COMMENTS[i % COMMENTS.len()]), &style);
    }
    let raster = t1.elapsed() / uniq as u32;
    let t2 = Instant::now();
    for i in 0..uniq {
        tr.render(&format!("{} {i}", COMMENTS[i % COMMENTS.len()]), &style);
    }
    let cached = t2.elapsed() / uniq as u32;
    println!(
        "one-time: font load {:.1} ms; new comment rasterised {:.0} µs; cached {:.1} µs",
        font_load.as_secs_f64() * 1e3,
        raster.as_secs_f64() * 1e6,
        cached.as_secs_f64() * 1e6
    );
    println!();
    println!("| size | overlay | Marquee µs/frame | ffmpeg µs/frame | ffmpeg / Marquee |");
    println!("| --- | --- | --- | --- | --- |");

    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let frames = a.frames;
        let dump = |name: &str| {
            a.dump
                .as_ref()
                .map(|d| d.join(format!("{name}-{w}x{h}.png")))
        };
        let report = |what: &str, ours: &Measured, peer: Option<f64>| {
            let what = if ours.on_screen > 0.0 {
                format!("{what} (avg {:.0} on screen)", ours.on_screen)
            } else {
                what.to_string()
            };
            let (p, r) = match peer {
                Some(p) => (
                    format!("{p:.0}"),
                    format!("{:.1}×", p / ours.us_per_frame.max(0.01)),
                ),
                None => ("—".into(), "—".into()),
            };
            println!(
                "| {w}×{h} | {what} | {:.0} | {p} | {r} |",
                ours.us_per_frame
            );
        };

        // ffmpeg's floor: a filter that draws one pixel still needs a writable frame (a copy of
        // the shared `color` frame) and a filter call; this row shows that part of its cost.
        if have_ffmpeg
            && let Some(floor) =
                ffmpeg_us_per_frame(w, h, frames, "drawbox=x=0:y=0:w=1:h=1:c=white", &[])
        {
            println!("| {w}×{h} | (ffmpeg floor: a 1×1 `drawbox`) | — | {floor:.0} | — |");
        }

        // One text line.
        let mut o = Overlays::new();
        o.add(
            "title",
            OverlaySpec::Text {
                text: TITLE.into(),
                size: 48.0,
                colour: Rgba::WHITE,
                background: None,
                anchor: Anchor::TopLeft,
                margin: 24,
                opacity: 1.0,
            },
        )
        .expect("text");
        let ours = time_draw(&mut o, w, h, frames, None, dump("text").as_deref());
        let peer = have_ffmpeg
            .then(|| {
                let f = format!(
                    "drawtext=fontfile={}:text={}:fontsize=48:fontcolor=white:borderw=3:bordercolor=black@0.86:shadowx=2:shadowy=2:x=24:y=24",
                    font.display(),
                    esc(TITLE)
                );
                ffmpeg_us_per_frame(w, h, frames, &f, &[])
            })
            .flatten();
        report("one text line (48 px, outline + shadow)", &ours, peer);

        // One 300x300 PNG.
        let mut o = Overlays::new();
        o.add("logo", OverlaySpec::image(&logo, Anchor::BottomRight, 1.0))
            .expect("logo");
        let ours = time_draw(&mut o, w, h, frames, None, dump("png").as_deref());
        let peer = have_ffmpeg
            .then(|| {
                let f = format!(
                    "[b];movie={},format=yuva420p,loop=loop=-1:size=1:start=0[l];[b][l]overlay=x=W-w-24:y=H-h-24:format=yuv420",
                    logo.display()
                );
                ffmpeg_us_per_frame(w, h, frames, &f, &[])
            })
            .flatten();
        report("one 300×300 PNG with alpha", &ours, peer);

        // Danmaku.
        for target in [30usize, 100] {
            let cfg = danmaku_config(target);
            let mut o = Overlays::new();
            o.add(
                "chat",
                OverlaySpec::Danmaku {
                    config: cfg.clone(),
                },
            )
            .expect("chat");
            o.set_canvas(w, h);
            let ours = time_draw(
                &mut o,
                w,
                h,
                frames,
                Some(target),
                dump(&format!("danmaku{target}")).as_deref(),
            );
            // The peer: `target` drawtext filters, each a comment scrolling right-to-left on its
            // own lane and phase (no emoji: drawtext has no colour-emoji support).
            let peer = have_ffmpeg
                .then(|| {
                    let lane_h = (cfg.font_size * 1.4) as u32;
                    let lanes = ((h as f32 * cfg.area_bottom) as u32 / lane_h).max(1);
                    let filters: Vec<String> = (0..target)
                        .map(|i| {
                            let text = esc(COMMENTS[i % COMMENTS.len()]);
                            let lane = i as u32 % lanes;
                            let phase = (i as u32 / lanes) as f32 * 2.1 + lane as f32 * 0.37;
                            format!(
                                "drawtext=fontfile={}:text={text}:fontsize={}:fontcolor=white:borderw=2:bordercolor=black@0.86:shadowx=1:shadowy=1:x=w-mod((t+{phase:.2})*(w+tw)/8\\,w+tw):y={}",
                                font.display(),
                                cfg.font_size,
                                lane * lane_h
                            )
                        })
                        .collect();
                    ffmpeg_us_per_frame(w, h, frames, &filters.join(","), &[])
                })
                .flatten();
            report(&format!("danmaku, {target} comments"), &ours, peer);
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}
