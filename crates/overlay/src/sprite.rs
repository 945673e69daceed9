//! Premultiplied RGBA sprites and their alpha blend onto an I420 canvas.
//!
//! A sprite is converted to YUV once, when it is made, because overlays are drawn every frame but
//! change rarely (a danmaku comment moves; its pixels do not). The per-frame blend is then integer
//! math over row slices: no allocation, no float, no per-pixel colour conversion, no branches in
//! the inner loops, and 16-bit lanes so the compiler vectorises them.
//!
//! Chroma is subsampled 2×2, so which sprite pixels share a chroma sample depends on whether the
//! sprite sits at an even or odd x and y. The four possible groupings ("phases") are averaged
//! once, at construction, so blending chroma at any position is a straight row loop too.
//!
//! Alpha is kept as "keep" = 256 − α (α scaled to 0..=256): `dst = src + (dst · keep + 128) >> 8`
//! is exact for opaque (keep 0) and transparent (keep 256) pixels and fits in 16 bits.

use crate::colour::Rgba;
use crate::error::OverlayError;

/// The largest sprite side we accept. Anything larger is a bug or hostile input; it is clamped
/// (text) or refused (images) before pixels are allocated.
pub const MAX_SPRITE_SIDE: u32 = 8192;

/// One 2×2 grouping of sprite pixels into chroma samples, for sprites at x parity `px` and y
/// parity `py`: block (i, j) covers sprite columns 2i−px, 2i−px+1 and rows 2j−py, 2j−py+1
/// (pixels outside the sprite count as transparent).
#[derive(Clone, Default)]
struct ChromaPhase {
    cols: usize,
    rows: usize,
    keep: Vec<u16>,
    u: Vec<u16>,
    v: Vec<u16>,
    /// Per block row, the half-open range of blocks with any alpha.
    spans: Vec<(u32, u32)>,
}

/// An RGBA bitmap with premultiplied alpha, plus its precomputed BT.601 limited-range YUV form.
#[derive(Clone)]
pub struct Sprite {
    width: u32,
    height: u32,
    /// Premultiplied RGBA, `width * height * 4` bytes.
    rgba: Vec<u8>,
    /// Luma multiplied by alpha, and 256 − alpha, `width * height` each.
    y: Vec<u16>,
    keep: Vec<u16>,
    /// Per row, the half-open range of columns with any alpha (`(0, 0)` if none): text is
    /// mostly transparent and this skips it.
    spans: Vec<(u32, u32)>,
    /// Indexed by `px + 2 * py`.
    phases: [ChromaPhase; 4],
}

impl std::fmt::Debug for Sprite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sprite")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// BT.601 limited range ("TV", what x264 assumes by default), from premultiplied RGB.
/// Returns (Y, U, V) already multiplied by alpha, each in 0..=255.
fn premul_yuv(r: u8, g: u8, b: u8, a: u8) -> (u8, u8, u8) {
    let (r, g, b, af) = (
        f32::from(r),
        f32::from(g),
        f32::from(b),
        f32::from(a) / 255.0,
    );
    let y = 16.0 * af + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
    let u = 128.0 * af + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
    let v = 128.0 * af + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
    // `as u8` saturates; +0.5 rounds (values are never negative by more than rounding noise).
    let q = |x: f32| (x + 0.5) as u8;
    (q(y), q(u), q(v))
}

/// Alpha 0..=255 to 0..=256 (255 → 256 so opaque replaces exactly).
#[inline]
fn a256(a: u32) -> u32 {
    a + (a >> 7)
}

fn span_of(row: impl Iterator<Item = bool>) -> (u32, u32) {
    let mut first = u32::MAX;
    let mut last = 0;
    for (i, any) in row.enumerate() {
        if any {
            first = first.min(i as u32);
            last = i as u32 + 1;
        }
    }
    if first == u32::MAX {
        (0, 0)
    } else {
        (first, last)
    }
}

fn too_large(width: u32, height: u32) -> OverlayError {
    OverlayError::TooLarge {
        what: "sprite".into(),
        width,
        height,
        max: MAX_SPRITE_SIDE,
    }
}

impl Sprite {
    /// An empty (0×0) sprite; blending it is a no-op.
    pub fn empty() -> Self {
        Self {
            width: 0,
            height: 0,
            rgba: Vec::new(),
            y: Vec::new(),
            keep: Vec::new(),
            spans: Vec::new(),
            phases: Default::default(),
        }
    }

    /// Makes a sprite from premultiplied RGBA rows (`width * height * 4` bytes).
    /// Colour channels larger than alpha are clamped to alpha (they would not be premultiplied).
    pub fn from_premultiplied_rgba(
        width: u32,
        height: u32,
        mut rgba: Vec<u8>,
    ) -> Result<Self, OverlayError> {
        if width > MAX_SPRITE_SIDE || height > MAX_SPRITE_SIDE {
            return Err(too_large(width, height));
        }
        let need = width as usize * height as usize * 4;
        if rgba.len() != need {
            return Err(OverlayError::BadSprite {
                expected: need,
                got: rgba.len(),
            });
        }
        if width == 0 || height == 0 {
            return Ok(Self::empty());
        }
        let (w, h) = (width as usize, height as usize);
        let n = w * h;
        // Alpha and premultiplied chroma with a one-pixel transparent border, so every 2x2
        // block of every phase can be summed without bounds checks.
        let pw = w + 2;
        let mut alpha = vec![0u8; pw * (h + 2)];
        let mut u = vec![0u8; pw * (h + 2)];
        let mut v = vec![0u8; pw * (h + 2)];
        let mut y = vec![0u16; n];
        let mut keep = vec![256u16; n];
        for i in 0..n {
            let px = &mut rgba[i * 4..i * 4 + 4];
            let al = px[3];
            if al == 0 {
                px[..3].fill(0);
                continue;
            }
            px[0] = px[0].min(al);
            px[1] = px[1].min(al);
            px[2] = px[2].min(al);
            let (py, pu, pv) = premul_yuv(px[0], px[1], px[2], al);
            let pi = (i / w + 1) * pw + i % w + 1;
            alpha[pi] = al;
            u[pi] = pu;
            v[pi] = pv;
            y[i] = u16::from(py);
            keep[i] = (256 - a256(u32::from(al))) as u16;
        }
        let spans = (0..h)
            .map(|r| span_of(keep[r * w..(r + 1) * w].iter().map(|&k| k != 256)))
            .collect();
        let phase = |px: usize, py: usize| -> ChromaPhase {
            let cols = (w + 1 + px) / 2;
            let rows = (h + 1 + py) / 2;
            let mut ph = ChromaPhase {
                cols,
                rows,
                keep: vec![256; cols * rows],
                u: vec![0; cols * rows],
                v: vec![0; cols * rows],
                spans: Vec::with_capacity(rows),
            };
            for j in 0..rows {
                // Padded rows 2j − py + 1 and the next; padded column 2i − px + 1 and the next.
                let r0 = (2 * j + 1 - py) * pw;
                let r1 = r0 + pw;
                for i in 0..cols {
                    let c = 2 * i + 1 - px;
                    let sum = |p: &[u8]| {
                        u32::from(p[r0 + c])
                            + u32::from(p[r0 + c + 1])
                            + u32::from(p[r1 + c])
                            + u32::from(p[r1 + c + 1])
                    };
                    let k = j * cols + i;
                    // Mean alpha over the 4 pixels, scaled to 0..=256.
                    ph.keep[k] = (256 - (sum(&alpha) * 256 + 510) / 1020) as u16;
                    ph.u[k] = ((sum(&u) + 2) / 4) as u16;
                    ph.v[k] = ((sum(&v) + 2) / 4) as u16;
                }
                let row = &ph.keep[j * cols..(j + 1) * cols];
                ph.spans.push(span_of(row.iter().map(|&k| k != 256)));
            }
            ph
        };
        let phases = [phase(0, 0), phase(1, 0), phase(0, 1), phase(1, 1)];
        Ok(Self {
            width,
            height,
            rgba,
            y,
            keep,
            spans,
            phases,
        })
    }

    /// Makes a sprite from straight (non-premultiplied) RGBA, as PNG files store it.
    pub fn from_straight_rgba(
        width: u32,
        height: u32,
        mut rgba: Vec<u8>,
    ) -> Result<Self, OverlayError> {
        for px in rgba.chunks_exact_mut(4) {
            let a = u16::from(px[3]);
            for c in &mut px[..3] {
                *c = ((u16::from(*c) * a + 127) / 255) as u8;
            }
        }
        Self::from_premultiplied_rgba(width, height, rgba)
    }

    /// A solid rectangle of one straight RGBA colour.
    pub fn solid(width: u32, height: u32, colour: Rgba) -> Result<Self, OverlayError> {
        if width > MAX_SPRITE_SIDE || height > MAX_SPRITE_SIDE {
            return Err(too_large(width, height));
        }
        let p = colour.premultiplied();
        let n = width as usize * height as usize;
        let mut rgba = Vec::with_capacity(n * 4);
        for _ in 0..n {
            rgba.extend_from_slice(&p);
        }
        Self::from_premultiplied_rgba(width, height, rgba)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Premultiplied RGBA pixels, row-major.
    pub fn rgba(&self) -> &[u8] {
        &self.rgba
    }

    /// The premultiplied RGBA of one pixel, or `None` outside the sprite.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        Some([
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ])
    }

    /// Bytes this sprite holds (for cache accounting).
    pub fn memory_bytes(&self) -> usize {
        let phases: usize = self
            .phases
            .iter()
            .map(|p| p.keep.len() * 6 + p.spans.len() * 8)
            .sum();
        self.rgba.len()
            + self.y.len() * 4
            + self.spans.len() * 8
            + phases
            + std::mem::size_of::<Self>()
    }
}

/// Checks that `canvas` is a tightly packed I420 frame of `width`×`height`
/// (Y `w*h`, then U and V `(w/2)*(h/2)` each).
pub fn check_canvas(canvas: &[u8], width: u32, height: u32) -> Result<(), OverlayError> {
    let (w, h) = (width as usize, height as usize);
    let need = w * h + 2 * (w / 2) * (h / 2);
    if canvas.len() < need {
        return Err(OverlayError::CanvasSize {
            width,
            height,
            expected: need,
            got: canvas.len(),
        });
    }
    Ok(())
}

/// `dst = src + dst * keep / 256` over equal-length rows; keep in 0..=256, src + dst*keep/256
/// never exceeds 255 for premultiplied input. 16-bit lanes: vectorises.
#[inline]
fn blend_row(dst: &mut [u8], src: &[u16], keep: &[u16]) {
    for ((d, &s), &k) in dst.iter_mut().zip(src).zip(keep) {
        let v = s + ((u16::from(*d) * k + 128) >> 8);
        *d = v.min(255) as u8;
    }
}

/// The same with an opacity `op` in 0..=255 (256 takes the fast path above).
#[inline]
fn blend_row_opacity(dst: &mut [u8], src: &[u16], keep: &[u16], op: u32) {
    for ((d, &s), &k) in dst.iter_mut().zip(src).zip(keep) {
        let a = ((256 - u32::from(k)) * op) >> 8;
        let s = (u32::from(s) * op) >> 8;
        let v = s + ((u32::from(*d) * (256 - a) + 128) >> 8);
        *d = v.min(255) as u8;
    }
}

/// Alpha-blends `sprite` onto an I420 `canvas` with its top-left corner at (`x`, `y`), which may
/// be negative or past the edges (the sprite is clipped). `opacity` is 0.0..=1.0 (clamped; NaN is
/// 0). A canvas too short for `width`×`height` is an error, never a panic.
///
/// Luma is blended per pixel; each chroma sample blends the average of the (up to four) sprite
/// pixels over its 2×2 luma block, so sprite edges at odd positions stay correct.
pub fn blend(
    canvas: &mut [u8],
    width: u32,
    height: u32,
    sprite: &Sprite,
    x: i32,
    y: i32,
    opacity: f32,
) -> Result<(), OverlayError> {
    check_canvas(canvas, width, height)?;
    let op = if opacity.is_nan() {
        0
    } else {
        (opacity.clamp(0.0, 1.0) * 256.0).round() as u32
    };
    if op == 0 || sprite.width == 0 || sprite.height == 0 || width == 0 || height == 0 {
        return Ok(());
    }
    let (cw, ch) = (i64::from(width), i64::from(height));
    let sh = i64::from(sprite.height);
    let (x, y) = (i64::from(x), i64::from(y));
    let (luma, chroma) = canvas.split_at_mut(width as usize * height as usize);

    // Luma: canvas rows y0..y1; in each, only the sprite's non-transparent span.
    let y0 = y.max(0);
    let y1 = (y + sh).min(ch);
    for cy in y0..y1 {
        let sr = (cy - y) as usize;
        let (s0, s1) = sprite.spans[sr];
        let c0 = (x + i64::from(s0)).max(0);
        let c1 = (x + i64::from(s1)).min(cw);
        if c0 >= c1 {
            continue;
        }
        let n = (c1 - c0) as usize;
        let so = sr * sprite.width as usize + (c0 - x) as usize;
        let d0 = cy as usize * width as usize + c0 as usize;
        let (dst, src, keep) = (
            &mut luma[d0..d0 + n],
            &sprite.y[so..so + n],
            &sprite.keep[so..so + n],
        );
        if op >= 256 {
            blend_row(dst, src, keep);
        } else {
            blend_row_opacity(dst, src, keep, op);
        }
    }

    // Chroma: canvas chroma (qx, qy) covers luma (2qx..2qx+2, 2qy..2qy+2), which is block
    // (qx − ⌊x/2⌋, qy − ⌊y/2⌋) of the phase for x's and y's parity.
    let (qw, qh) = (cw / 2, ch / 2);
    if qw == 0 || qh == 0 {
        return Ok(());
    }
    let (uplane, rest) = chroma.split_at_mut((qw * qh) as usize);
    let vplane = &mut rest[..(qw * qh) as usize];
    let (xd, yd) = (x.div_euclid(2), y.div_euclid(2));
    let ph = &sprite.phases[(x.rem_euclid(2) + 2 * y.rem_euclid(2)) as usize];
    let (cols, rows) = (ph.cols as i64, ph.rows as i64);
    let j0 = (-yd).max(0);
    let j1 = (qh - yd).min(rows);
    for j in j0..j1 {
        let (s0, s1) = ph.spans[j as usize];
        let i0 = (-xd).max(i64::from(s0));
        let i1 = (qw - xd).min(cols).min(i64::from(s1));
        if i0 >= i1 {
            continue;
        }
        let n = (i1 - i0) as usize;
        let so = j as usize * ph.cols + i0 as usize;
        let d0 = ((j + yd) * qw + i0 + xd) as usize;
        let keep = &ph.keep[so..so + n];
        for (plane, src) in [(&mut *uplane, &ph.u), (&mut *vplane, &ph.v)] {
            let (dst, src) = (&mut plane[d0..d0 + n], &src[so..so + n]);
            if op >= 256 {
                blend_row(dst, src, keep);
            } else {
                blend_row_opacity(dst, src, keep, op);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_canvas(w: u32, h: u32, y: u8) -> Vec<u8> {
        let mut c = vec![128u8; (w * h + 2 * (w / 2) * (h / 2)) as usize];
        c[..(w * h) as usize].fill(y);
        c
    }

    #[test]
    fn opaque_white_sprite_gives_studio_white_luma_and_neutral_chroma() {
        let (w, h) = (64, 48);
        let mut c = grey_canvas(w, h, 16);
        let s = Sprite::solid(10, 10, Rgba::WHITE).unwrap();
        blend(&mut c, w, h, &s, 4, 6, 1.0).unwrap();
        assert_eq!(c[(8 * w + 8) as usize], 235);
        assert_eq!(c[(6 * w + 4) as usize], 235);
        assert_eq!(
            c[(6 * w + 3) as usize],
            16,
            "left of the sprite is untouched"
        );
        let u0 = (w * h) as usize;
        assert_eq!(c[u0 + (4 * (w / 2) + 4) as usize], 128);
    }

    #[test]
    fn opaque_red_sprite_gives_bt601_limited_red() {
        let (w, h) = (16, 16);
        let mut c = grey_canvas(w, h, 16);
        let s = Sprite::solid(16, 16, Rgba::new(255, 0, 0, 255)).unwrap();
        blend(&mut c, w, h, &s, 0, 0, 1.0).unwrap();
        let u0 = (w * h) as usize;
        let q = ((w / 2) * (h / 2)) as usize;
        // BT.601 limited: red = (81, 90, 240).
        assert_eq!(c[0], 81);
        assert_eq!(c[u0], 90);
        assert_eq!(c[u0 + q], 240);
    }

    #[test]
    fn half_transparent_white_gives_the_midpoint() {
        let (w, h) = (32, 32);
        let mut c = grey_canvas(w, h, 16);
        let s = Sprite::solid(8, 8, Rgba::new(255, 255, 255, 128)).unwrap();
        blend(&mut c, w, h, &s, 8, 8, 1.0).unwrap();
        let mid = (16.0 + 235.0) / 2.0;
        let got = f32::from(c[(10 * w + 10) as usize]);
        assert!((got - mid).abs() <= 1.5, "got {got}, want ≈{mid}");
        // Opacity 0.5 on an opaque sprite is the same thing.
        let mut c2 = grey_canvas(w, h, 16);
        let s2 = Sprite::solid(8, 8, Rgba::WHITE).unwrap();
        blend(&mut c2, w, h, &s2, 8, 8, 0.5).unwrap();
        let got2 = f32::from(c2[(10 * w + 10) as usize]);
        assert!((got2 - mid).abs() <= 1.5, "got {got2}, want ≈{mid}");
    }

    #[test]
    fn chroma_averages_alpha_over_the_2x2_block_at_odd_positions() {
        // A 1x1 opaque blue pixel at (3, 5) covers one quarter of chroma sample (1, 2).
        let (w, h) = (8, 8);
        let mut c = grey_canvas(w, h, 16);
        let s = Sprite::solid(1, 1, Rgba::new(0, 0, 255, 255)).unwrap();
        blend(&mut c, w, h, &s, 3, 5, 1.0).unwrap();
        let u0 = (w * h) as usize;
        let u = c[u0 + (2 * (w / 2) + 1) as usize];
        // Blue U = 240; a quarter of the way from 128 to 240 = 156.
        assert!((i32::from(u) - 156).abs() <= 1, "u = {u}");
        // Neighbouring chroma samples are untouched.
        assert_eq!(c[u0 + (2 * (w / 2)) as usize], 128);
        assert_eq!(c[u0 + (2 * (w / 2) + 2) as usize], 128);
    }

    #[test]
    fn transparent_pixels_leave_the_canvas_unchanged() {
        let (w, h) = (32, 32);
        let mut c = grey_canvas(w, h, 77);
        let before = c.clone();
        let s = Sprite::solid(10, 10, Rgba::new(255, 0, 0, 0)).unwrap();
        blend(&mut c, w, h, &s, 3, 3, 1.0).unwrap();
        assert_eq!(c, before);
    }

    #[test]
    fn clipping_never_panics_and_never_writes_outside_the_visible_part() {
        let mut rng = fastrand::Rng::with_seed(7);
        let sizes = [
            (0u32, 0u32),
            (0, 5),
            (5, 0),
            (1, 1),
            (2, 3),
            (17, 9),
            (64, 64),
            (300, 2),
        ];
        let canvases = [
            (2u32, 2u32),
            (16, 10),
            (33, 17),
            (64, 36),
            (1, 1),
            (0, 0),
            (3, 1),
        ];
        for &(cw, ch) in &canvases {
            let base = grey_canvas(cw, ch, 50);
            for &(sw, sh) in &sizes {
                let s = Sprite::solid(sw, sh, Rgba::WHITE).unwrap();
                let mut positions = vec![
                    (i32::MIN, i32::MIN),
                    (i32::MAX, i32::MAX),
                    (i32::MIN, 0),
                    (0, i32::MAX),
                    (-(sw as i32), -(sh as i32)),
                    (cw as i32, ch as i32),
                    (cw as i32 - 1, ch as i32 - 1),
                    (-1, -1),
                ];
                for _ in 0..200 {
                    positions.push((rng.i32(-400..400), rng.i32(-400..400)));
                }
                for (x, y) in positions {
                    let mut c = base.clone();
                    blend(&mut c, cw, ch, &s, x, y, 1.0).unwrap();
                    // Every luma pixel changed must be inside the sprite rectangle.
                    for py in 0..ch as i64 {
                        for px in 0..cw as i64 {
                            let i = (py * cw as i64 + px) as usize;
                            let inside = px >= i64::from(x)
                                && px < i64::from(x) + i64::from(sw)
                                && py >= i64::from(y)
                                && py < i64::from(y) + i64::from(sh);
                            if inside {
                                assert_eq!(c[i], 235, "({px},{py}) sprite {sw}x{sh} at {x},{y}");
                            } else {
                                assert_eq!(c[i], 50, "({px},{py}) sprite {sw}x{sh} at {x},{y}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The obvious float implementation of the same blend, pixel by pixel.
    fn reference_blend(c: &mut [u8], w: u32, h: u32, s: &Sprite, x: i32, y: i32) {
        let at = |cx: i64, cy: i64| -> (f64, f64, f64, f64) {
            let (sx, sy) = (cx - i64::from(x), cy - i64::from(y));
            if sx < 0 || sy < 0 || sx >= i64::from(s.width()) || sy >= i64::from(s.height()) {
                return (0.0, 0.0, 0.0, 0.0);
            }
            let p = s.pixel(sx as u32, sy as u32).unwrap();
            let (py, pu, pv) = premul_yuv(p[0], p[1], p[2], p[3]);
            (
                f64::from(p[3]) / 255.0,
                f64::from(py),
                f64::from(pu),
                f64::from(pv),
            )
        };
        let (wu, hu) = (w as usize, h as usize);
        for cy in 0..hu {
            for cx in 0..wu {
                let (a, py, _, _) = at(cx as i64, cy as i64);
                let d = &mut c[cy * wu + cx];
                *d = (py + f64::from(*d) * (1.0 - a)).round().min(255.0) as u8;
            }
        }
        let (qw, qh) = (wu / 2, hu / 2);
        for qy in 0..qh {
            for qx in 0..qw {
                let mut sum = (0.0, 0.0, 0.0);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (a, _, pu, pv) = at((2 * qx + dx) as i64, (2 * qy + dy) as i64);
                    sum = (sum.0 + a / 4.0, sum.1 + pu / 4.0, sum.2 + pv / 4.0);
                }
                let iu = wu * hu + qy * qw + qx;
                let iv = iu + qw * qh;
                c[iu] = (sum.1 + f64::from(c[iu]) * (1.0 - sum.0))
                    .round()
                    .min(255.0) as u8;
                c[iv] = (sum.2 + f64::from(c[iv]) * (1.0 - sum.0))
                    .round()
                    .min(255.0) as u8;
            }
        }
    }

    #[test]
    fn fast_blend_matches_the_per_pixel_reference_at_any_position() {
        let mut rng = fastrand::Rng::with_seed(11);
        let (w, h) = (40u32, 30u32);
        for _ in 0..300 {
            let (sw, sh) = (rng.u32(1..25), rng.u32(1..25));
            let px: Vec<u8> = (0..sw * sh)
                .flat_map(|_| {
                    let a = match rng.u8(0..4) {
                        0 => 0,
                        1 => 255,
                        _ => rng.u8(..),
                    };
                    Rgba::new(rng.u8(..), rng.u8(..), rng.u8(..), a).premultiplied()
                })
                .collect();
            let s = Sprite::from_premultiplied_rgba(sw, sh, px).unwrap();
            let (x, y) = (rng.i32(-30..45), rng.i32(-30..35));
            let mut base = grey_canvas(w, h, 0);
            for v in base.iter_mut() {
                *v = rng.u8(16..=240);
            }
            let mut fast = base.clone();
            let mut slow = base.clone();
            blend(&mut fast, w, h, &s, x, y, 1.0).unwrap();
            reference_blend(&mut slow, w, h, &s, x, y);
            for (i, (f, r)) in fast.iter().zip(&slow).enumerate() {
                assert!(
                    (i32::from(*f) - i32::from(*r)).abs() <= 2,
                    "byte {i}: fast {f} reference {r}, sprite {sw}x{sh} at {x},{y}"
                );
            }
        }
    }

    #[test]
    fn huge_sprite_over_small_canvas_is_clipped() {
        let s = Sprite::solid(2000, 1500, Rgba::WHITE).unwrap();
        let mut c = grey_canvas(64, 36, 16);
        blend(&mut c, 64, 36, &s, -900, -700, 1.0).unwrap();
        assert!(c[..64 * 36].iter().all(|&v| v == 235));
    }

    #[test]
    fn short_canvas_is_an_error_not_a_panic() {
        let s = Sprite::solid(4, 4, Rgba::WHITE).unwrap();
        let mut c = vec![0u8; 10];
        let err = blend(&mut c, 64, 36, &s, 0, 0, 1.0).unwrap_err();
        assert!(err.to_string().contains("64x36"), "{err}");
    }

    #[test]
    fn zero_size_sprite_and_zero_opacity_are_no_ops() {
        let mut c = grey_canvas(16, 16, 40);
        let before = c.clone();
        blend(&mut c, 16, 16, &Sprite::empty(), 0, 0, 1.0).unwrap();
        let s = Sprite::solid(4, 4, Rgba::WHITE).unwrap();
        blend(&mut c, 16, 16, &s, 0, 0, 0.0).unwrap();
        blend(&mut c, 16, 16, &s, 0, 0, f32::NAN).unwrap();
        assert_eq!(c, before);
    }

    #[test]
    fn oversized_or_mismatched_sprite_data_is_refused() {
        assert!(Sprite::from_premultiplied_rgba(3, 3, vec![0; 5]).is_err());
        assert!(Sprite::from_premultiplied_rgba(MAX_SPRITE_SIDE + 1, 1, Vec::new()).is_err());
    }
}
