//! PNG images (logos, stickers, gift art) as sprites, and where on the canvas a sprite goes.
//!
//! Decoding and scaling happen once, at load; the per-frame cost is only the blend. Files are
//! untrusted input (a user picks them): size is checked from the header before pixels are
//! allocated, and every failure says what was wrong and what to do.

use std::io::Cursor;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::OverlayError;
use crate::sprite::{MAX_SPRITE_SIDE, Sprite};

/// Largest PNG file we read (bytes). A 8192×8192 RGBA PNG compresses far below this.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// Where a sprite sits: a corner/edge/centre of the canvas (with the item's margin), or an
/// exact top-left position in canvas pixels (which may be off-canvas; the blend clips).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    #[default]
    TopLeft,
    TopCenter,
    TopRight,
    CenterLeft,
    Center,
    CenterRight,
    BottomLeft,
    BottomCenter,
    BottomRight,
    At {
        x: i32,
        y: i32,
    },
}

impl Anchor {
    /// The short names people type (`tl`, `tc`, `tr`, `cl`, `c`, `cr`, `bl`, `bc`, `br`; the long
    /// forms `top_left`, `top`, `left`, `center`… too).
    pub fn parse(s: &str) -> Result<Anchor, String> {
        Ok(match s.trim() {
            "tl" | "top_left" => Anchor::TopLeft,
            "tc" | "top" | "top_center" => Anchor::TopCenter,
            "tr" | "top_right" => Anchor::TopRight,
            "cl" | "left" => Anchor::CenterLeft,
            "c" | "center" => Anchor::Center,
            "cr" | "right" => Anchor::CenterRight,
            "bl" | "bottom_left" => Anchor::BottomLeft,
            "bc" | "bottom" | "bottom_center" => Anchor::BottomCenter,
            "br" | "bottom_right" => Anchor::BottomRight,
            _ => {
                return Err(format!(
                    "unknown place {s:?}: use tl, tc, tr, cl, c, cr, bl, bc or br"
                ));
            }
        })
    }

    /// The short name ([`Anchor::parse`] reads it back); `None` for an exact position.
    pub fn short(self) -> Option<&'static str> {
        Some(match self {
            Anchor::TopLeft => "tl",
            Anchor::TopCenter => "tc",
            Anchor::TopRight => "tr",
            Anchor::CenterLeft => "cl",
            Anchor::Center => "c",
            Anchor::CenterRight => "cr",
            Anchor::BottomLeft => "bl",
            Anchor::BottomCenter => "bc",
            Anchor::BottomRight => "br",
            Anchor::At { .. } => return None,
        })
    }
}

/// Top-left canvas position of a `sw`×`sh` sprite placed at `anchor` with `margin` pixels from
/// the edges it is anchored to.
pub fn position(anchor: Anchor, margin: u32, cw: u32, ch: u32, sw: u32, sh: u32) -> (i32, i32) {
    let m = i64::from(margin);
    let (cw, ch, sw, sh) = (i64::from(cw), i64::from(ch), i64::from(sw), i64::from(sh));
    let left = m;
    let hcenter = (cw - sw) / 2;
    let right = cw - sw - m;
    let top = m;
    let vcenter = (ch - sh) / 2;
    let bottom = ch - sh - m;
    let (x, y) = match anchor {
        Anchor::TopLeft => (left, top),
        Anchor::TopCenter => (hcenter, top),
        Anchor::TopRight => (right, top),
        Anchor::CenterLeft => (left, vcenter),
        Anchor::Center => (hcenter, vcenter),
        Anchor::CenterRight => (right, vcenter),
        Anchor::BottomLeft => (left, bottom),
        Anchor::BottomCenter => (hcenter, bottom),
        Anchor::BottomRight => (right, bottom),
        Anchor::At { x, y } => (i64::from(x), i64::from(y)),
    };
    let c = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    (c(x), c(y))
}

/// Loads a PNG file (any colour type and bit depth, alpha kept) and scales it by `scale`
/// (1.0 = original size; bilinear, with 2×2 box halving first when shrinking a lot).
pub fn load_png(path: impl AsRef<Path>, scale: f32) -> Result<Sprite, OverlayError> {
    let path = path.as_ref();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => OverlayError::ImageNotFound {
            path: path.to_path_buf(),
        },
        _ => OverlayError::ImageRead {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    if !meta.is_file() {
        return Err(OverlayError::ImageDecode {
            path: path.to_path_buf(),
            reason: "it is a directory, not a file".into(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(OverlayError::ImageDecode {
            path: path.to_path_buf(),
            reason: format!(
                "the file is {} MiB, over the 256 MiB limit",
                meta.len() >> 20
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| OverlayError::ImageRead {
        path: path.to_path_buf(),
        source: e,
    })?;
    load_png_bytes(&bytes, scale).map_err(|e| match e {
        OverlayError::ImageDecode { reason, .. } => OverlayError::ImageDecode {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })
}

/// Like [`load_png`] from bytes in memory (gift art shipped in the binary, tests).
pub fn load_png_bytes(bytes: &[u8], scale: f32) -> Result<Sprite, OverlayError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(OverlayError::BadScale { scale });
    }
    let bad = |reason: String| OverlayError::ImageDecode {
        path: "<memory>".into(),
        reason,
    };
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let (w, h) = {
        let info = decoder.read_header_info().map_err(|e| bad(e.to_string()))?;
        (info.width, info.height)
    };
    if w > MAX_SPRITE_SIDE || h > MAX_SPRITE_SIDE {
        return Err(OverlayError::TooLarge {
            what: "image".into(),
            width: w,
            height: h,
            max: MAX_SPRITE_SIDE,
        });
    }
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("image too large to decode".into()))?;
    let mut buf = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    let (w, h) = (frame.width, frame.height);
    let stride = frame.line_size;
    let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
    for row in buf.chunks(stride).take(h as usize) {
        match frame.color_type {
            png::ColorType::Rgba => rgba.extend_from_slice(&row[..w as usize * 4]),
            png::ColorType::Rgb => {
                for p in row.chunks_exact(3).take(w as usize) {
                    rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
                }
            }
            png::ColorType::GrayscaleAlpha => {
                for p in row.chunks_exact(2).take(w as usize) {
                    rgba.extend_from_slice(&[p[0], p[0], p[0], p[1]]);
                }
            }
            png::ColorType::Grayscale => {
                for &g in row.iter().take(w as usize) {
                    rgba.extend_from_slice(&[g, g, g, 255]);
                }
            }
            png::ColorType::Indexed => {
                return Err(bad("indexed colour was not expanded".into()));
            }
        }
    }
    let sprite = Sprite::from_straight_rgba(w, h, rgba)?;
    if (scale - 1.0).abs() < 1e-6 {
        return Ok(sprite);
    }
    scale_sprite(&sprite, scale)
}

/// Scales a sprite (premultiplied, so edges do not get dark fringes). Once, at load.
pub fn scale_sprite(sprite: &Sprite, scale: f32) -> Result<Sprite, OverlayError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(OverlayError::BadScale { scale });
    }
    let tw = (f64::from(sprite.width()) * f64::from(scale))
        .round()
        .max(1.0);
    let th = (f64::from(sprite.height()) * f64::from(scale))
        .round()
        .max(1.0);
    if tw > f64::from(MAX_SPRITE_SIDE) || th > f64::from(MAX_SPRITE_SIDE) {
        return Err(OverlayError::TooLarge {
            what: "scaled image".into(),
            width: tw.min(f64::from(u32::MAX)) as u32,
            height: th.min(f64::from(u32::MAX)) as u32,
            max: MAX_SPRITE_SIDE,
        });
    }
    let (tw, th) = (tw as usize, th as usize);
    if sprite.width() == 0 || sprite.height() == 0 {
        return Ok(Sprite::empty());
    }
    let mut src = sprite.rgba().to_vec();
    let (mut sw, mut sh) = (sprite.width() as usize, sprite.height() as usize);
    // Halve with a 2x2 box while more than 2x too big: bilinear alone would alias.
    while sw >= 2 * tw && sh >= 2 * th && sw >= 2 && sh >= 2 {
        let (nw, nh) = (sw / 2, sh / 2);
        let mut half = vec![0u8; nw * nh * 4];
        for y in 0..nh {
            for x in 0..nw {
                for c in 0..4 {
                    let p = |xx: usize, yy: usize| u32::from(src[(yy * sw + xx) * 4 + c]);
                    let s = p(2 * x, 2 * y)
                        + p(2 * x + 1, 2 * y)
                        + p(2 * x, 2 * y + 1)
                        + p(2 * x + 1, 2 * y + 1);
                    half[(y * nw + x) * 4 + c] = ((s + 2) / 4) as u8;
                }
            }
        }
        src = half;
        sw = nw;
        sh = nh;
    }
    let mut out = vec![0u8; tw * th * 4];
    let fx = sw as f32 / tw as f32;
    let fy = sh as f32 / th as f32;
    for y in 0..th {
        let sy = ((y as f32 + 0.5) * fy - 0.5).clamp(0.0, (sh - 1) as f32);
        let y0 = sy.floor() as usize;
        let y1 = (y0 + 1).min(sh - 1);
        let wy = sy - y0 as f32;
        for x in 0..tw {
            let sx = ((x as f32 + 0.5) * fx - 0.5).clamp(0.0, (sw - 1) as f32);
            let x0 = sx.floor() as usize;
            let x1 = (x0 + 1).min(sw - 1);
            let wx = sx - x0 as f32;
            for c in 0..4 {
                let p = |xx: usize, yy: usize| f32::from(src[(yy * sw + xx) * 4 + c]);
                let top = p(x0, y0) * (1.0 - wx) + p(x1, y0) * wx;
                let bot = p(x0, y1) * (1.0 - wx) + p(x1, y1) * wx;
                out[(y * tw + x) * 4 + c] = (top * (1.0 - wy) + bot * wy).round() as u8;
            }
        }
    }
    Sprite::from_premultiplied_rgba(tw as u32, th as u32, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(w: u32, h: u32, colour: png::ColorType, px: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(colour);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().unwrap();
            wr.write_image_data(px).unwrap();
        }
        out
    }

    #[test]
    fn png_with_alpha_loads_premultiplied() {
        let bytes = png_bytes(
            2,
            1,
            png::ColorType::Rgba,
            &[255, 0, 0, 255, 255, 255, 255, 128],
        );
        let s = load_png_bytes(&bytes, 1.0).unwrap();
        assert_eq!((s.width(), s.height()), (2, 1));
        assert_eq!(s.pixel(0, 0), Some([255, 0, 0, 255]));
        assert_eq!(s.pixel(1, 0), Some([128, 128, 128, 128]));
    }

    #[test]
    fn rgb_and_grey_pngs_load_opaque() {
        let rgb = png_bytes(1, 1, png::ColorType::Rgb, &[10, 20, 30]);
        assert_eq!(
            load_png_bytes(&rgb, 1.0).unwrap().pixel(0, 0),
            Some([10, 20, 30, 255])
        );
        let g = png_bytes(1, 1, png::ColorType::Grayscale, &[99]);
        assert_eq!(
            load_png_bytes(&g, 1.0).unwrap().pixel(0, 0),
            Some([99, 99, 99, 255])
        );
    }

    #[test]
    fn scaling_happens_once_at_load() {
        let px: Vec<u8> = (0..300 * 300).flat_map(|_| [0, 0, 255, 255]).collect();
        let bytes = png_bytes(300, 300, png::ColorType::Rgba, &px);
        let s = load_png_bytes(&bytes, 0.5).unwrap();
        assert_eq!((s.width(), s.height()), (150, 150));
        assert_eq!(s.pixel(75, 75), Some([0, 0, 255, 255]));
        let s = load_png_bytes(&bytes, 0.1).unwrap();
        assert_eq!((s.width(), s.height()), (30, 30));
        let s = load_png_bytes(&bytes, 2.0).unwrap();
        assert_eq!((s.width(), s.height()), (600, 600));
    }

    #[test]
    fn missing_file_error_names_the_path_and_what_to_do() {
        let err = load_png("/nonexistent/logo.png", 1.0).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OverlayError::ImageNotFound { .. }));
        assert!(
            msg.contains("/nonexistent/logo.png") && msg.contains("check the path"),
            "{msg}"
        );
    }

    #[test]
    fn corrupt_png_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("marquee-overlay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.png");
        std::fs::write(&p, b"this is not a png").unwrap();
        let msg = load_png(&p, 1.0).unwrap_err().to_string();
        assert!(
            msg.contains("bad.png") && msg.contains("not a usable PNG"),
            "{msg}"
        );
        let mut truncated = png_bytes(4, 4, png::ColorType::Rgba, &[7; 64]);
        truncated.truncate(truncated.len() - 20);
        assert!(load_png_bytes(&truncated, 1.0).is_err());
        assert!(matches!(
            load_png_bytes(&truncated, 0.0),
            Err(OverlayError::BadScale { .. })
        ));
        assert!(load_png(&dir, 1.0).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn anchors_place_sprites_at_corners_with_margin() {
        assert_eq!(position(Anchor::TopLeft, 10, 1280, 720, 100, 50), (10, 10));
        assert_eq!(
            position(Anchor::BottomRight, 10, 1280, 720, 100, 50),
            (1170, 660)
        );
        assert_eq!(position(Anchor::Center, 0, 1280, 720, 100, 50), (590, 335));
        assert_eq!(
            position(Anchor::At { x: -5, y: 7 }, 10, 1280, 720, 100, 50),
            (-5, 7)
        );
        assert_eq!(
            position(Anchor::TopRight, u32::MAX, 10, 10, 1, 1).0,
            i32::MIN
        );
    }
}
