//! Premultiplied RGBA sprites and their alpha blend onto an I420 canvas.
//!
//! A sprite is converted to YUV once, when it is made, because overlays are drawn every frame but
//! change rarely (a danmaku comment moves; its pixels do not). The per-frame blend is then integer
//! math over row slices: no allocation, no float, no per-pixel colour conversion.
//!
//! The YUV planes are stored with a one-pixel transparent border. A chroma sample covers a 2×2
//! block of luma pixels; when a sprite sits at an odd x or y that block straddles the sprite's
//! edge, and the border lets the inner loop read "the pixel left of column 0" without a branch.

use crate::OverlayError;

/// The largest sprite side we accept. Anything larger is a bug or hostile input; it is clamped
/// (text) or refused (images) before pixels are allocated.
pub const MAX_SPRITE_SIDE: u32 = 8192;

/// An RGBA bitmap with premultiplied alpha, plus its precomputed BT.601 limited-range YUV form.
#[derive(Clone)]
pub struct Sprite {
    width: u32,
    height: u32,
    /// Premultiplied RGBA, `width * height * 4` bytes.
    rgba: Vec<u8>,
    /// Padded planes, `(width + 2) * (height + 2)` bytes each: alpha, and luma/chroma already
    /// multiplied by alpha (so blending is `dst = src + dst * (1 - a)`).
    a: Vec<u8>,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    /// Per padded row, the half-open range of padded columns whose alpha is non-zero
    /// (`(0, 0)` for an empty row). Text is mostly transparent; this skips it.
    spans: Vec<(u32, u32)>,
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
    let q = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    (q(y), q(u), q(v))
}

impl Sprite {
    /// An empty (0×0) sprite; blending it is a no-op.
    pub fn empty() -> Self {
        Self::from_premultiplied_rgba(0, 0, Vec::new()).unwrap_or_else(|_| unreachable_empty())
    }

    /// Makes a sprite from premultiplied RGBA rows (`width * height * 4` bytes).
    /// Colour channels larger than alpha are clamped to alpha (they would not be premultiplied).
    pub fn from_premultiplied_rgba(
        width: u32,
        height: u32,
        mut rgba: Vec<u8>,
    ) -> Result<Self, OverlayError> {
        if width > MAX_SPRITE_SIDE || height > MAX_SPRITE_SIDE {
            return Err(OverlayError::TooLarge {
                what: "sprite".into(),
                width,
                height,
                max: MAX_SPRITE_SIDE,
            });
        }
        let need = width as usize * height as usize * 4;
        if rgba.len() != need {
            return Err(OverlayError::BadSprite {
                expected: need,
                got: rgba.len(),
            });
        }
        let (w, h) = (width as usize, height as usize);
        let pw = if w == 0 || h == 0 { 0 } else { w + 2 };
        let ph = if w == 0 || h == 0 { 0 } else { h + 2 };
        let mut a = vec![0u8; pw * ph];
        let mut y = vec![0u8; pw * ph];
        let mut u = vec![0u8; pw * ph];
        let mut v = vec![0u8; pw * ph];
        let mut spans = vec![(0u32, 0u32); ph];
        for row in 0..h {
            let mut first = u32::MAX;
            let mut last = 0u32;
            for col in 0..w {
                let px = &mut rgba[(row * w + col) * 4..(row * w + col) * 4 + 4];
                let al = px[3];
                px[0] = px[0].min(al);
                px[1] = px[1].min(al);
                px[2] = px[2].min(al);
                let i = (row + 1) * pw + col + 1;
                if al != 0 {
                    let (py, pu, pv) = premul_yuv(px[0], px[1], px[2], al);
                    a[i] = al;
                    y[i] = py;
                    u[i] = pu;
                    v[i] = pv;
                    first = first.min(col as u32 + 1);
                    last = col as u32 + 2;
                }
            }
            if first != u32::MAX {
                spans[row + 1] = (first, last);
            }
        }
        Ok(Self {
            width,
            height,
            rgba,
            a,
            y,
            u,
            v,
            spans,
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
    pub fn solid(width: u32, height: u32, colour: crate::Rgba) -> Result<Self, OverlayError> {
        let p = colour.premultiplied();
        let n = width as usize * height as usize;
        if width > MAX_SPRITE_SIDE || height > MAX_SPRITE_SIDE {
            return Err(OverlayError::TooLarge {
                what: "sprite".into(),
                width,
                height,
                max: MAX_SPRITE_SIDE,
            });
        }
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
        self.rgba.len() + self.a.len() * 4 + self.spans.len() * 8 + std::mem::size_of::<Self>()
    }
}

#[cold]
fn unreachable_empty() -> Sprite {
    Sprite {
        width: 0,
        height: 0,
        rgba: Vec::new(),
        a: Vec::new(),
        y: Vec::new(),
        u: Vec::new(),
        v: Vec::new(),
        spans: Vec::new(),
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

/// `x * 255`-scaled value divided by 255, rounded, for x in 0..=255*255.
#[inline(always)]
fn div255(x: u32) -> u32 {
    (x + 128 + ((x + 128) >> 8)) >> 8
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
    let (sw, sh) = (i64::from(sprite.width), i64::from(sprite.height));
    let (x, y) = (i64::from(x), i64::from(y));
    // Visible luma rectangle in canvas coordinates.
    let x0 = x.max(0);
    let x1 = (x + sw).min(cw);
    let y0 = y.max(0);
    let y1 = (y + sh).min(ch);
    if x0 >= x1 || y0 >= y1 {
        return Ok(());
    }
    let pw = sw as usize + 2;
    let (luma, chroma) = canvas.split_at_mut(width as usize * height as usize);

    // Luma.
    for cy in y0..y1 {
        let srow = (cy - y + 1) as usize;
        let (s0, s1) = sprite.spans[srow];
        if s0 >= s1 {
            continue;
        }
        // Sprite padded columns visible: canvas cx -> padded col cx - x + 1.
        let c0 = x0.max(x + i64::from(s0) - 1);
        let c1 = x1.min(x + i64::from(s1) - 1);
        if c0 >= c1 {
            continue;
        }
        let n = (c1 - c0) as usize;
        let so = srow * pw + (c0 - x + 1) as usize;
        let sa = &sprite.a[so..so + n];
        let sy = &sprite.y[so..so + n];
        let d0 = cy as usize * width as usize + c0 as usize;
        let dst = &mut luma[d0..d0 + n];
        if op >= 256 {
            for ((d, &a), &s) in dst.iter_mut().zip(sa).zip(sy) {
                let keep = 255 - u32::from(a);
                *d = (u32::from(s) + div255(u32::from(*d) * keep)) as u8;
            }
        } else {
            for ((d, &a), &s) in dst.iter_mut().zip(sa).zip(sy) {
                let a = (u32::from(a) * op) >> 8;
                let s = (u32::from(s) * op) >> 8;
                *d = (s + div255(u32::from(*d) * (255 - a))).min(255) as u8;
            }
        }
    }

    // Chroma: canvas chroma (qx, qy) covers luma (2qx..2qx+2, 2qy..2qy+2).
    let (qw, qh) = ((width / 2) as i64, (height / 2) as i64);
    if qw == 0 || qh == 0 {
        return Ok(());
    }
    let (uplane, rest) = chroma.split_at_mut((qw * qh) as usize);
    let vplane = &mut rest[..(qw * qh) as usize];
    let qx0 = x0.div_euclid(2);
    let qx1 = ((x1 + 1).div_euclid(2)).min(qw);
    let qy0 = y0.div_euclid(2);
    let qy1 = ((y1 + 1).div_euclid(2)).min(qh);
    for qy in qy0..qy1 {
        // Padded sprite rows for luma rows 2qy and 2qy+1: always within 0..sh+2.
        let r0 = (2 * qy - y + 1) as usize;
        let r1 = r0 + 1;
        if r0 >= sh as usize + 2 || r1 >= sh as usize + 2 {
            continue;
        }
        let (a0, b0) = sprite.spans[r0];
        let (a1, b1) = sprite.spans[r1];
        let (lo, hi) = match (a0 < b0, a1 < b1) {
            (false, false) => continue,
            (true, false) => (a0, b0),
            (false, true) => (a1, b1),
            (true, true) => (a0.min(a1), b0.max(b1)),
        };
        // Chroma columns whose 2x2 block meets padded cols lo..hi: luma cx in x+lo-1..x+hi-1.
        let lq0 = qx0.max((x + i64::from(lo) - 1).div_euclid(2));
        let lq1 = qx1.min((x + i64::from(hi) - 1 + 1).div_euclid(2));
        for qx in lq0..lq1 {
            let c = (2 * qx - x + 1) as usize; // padded col of the left pixel, in 0..=sw
            if c + 1 >= pw {
                continue;
            }
            let i0 = r0 * pw + c;
            let i1 = r1 * pw + c;
            let asum = u32::from(sprite.a[i0])
                + u32::from(sprite.a[i0 + 1])
                + u32::from(sprite.a[i1])
                + u32::from(sprite.a[i1 + 1]);
            if asum == 0 {
                continue;
            }
            let usum = u32::from(sprite.u[i0])
                + u32::from(sprite.u[i0 + 1])
                + u32::from(sprite.u[i1])
                + u32::from(sprite.u[i1 + 1]);
            let vsum = u32::from(sprite.v[i0])
                + u32::from(sprite.v[i0 + 1])
                + u32::from(sprite.v[i1])
                + u32::from(sprite.v[i1 + 1]);
            let (asum, usum, vsum) = if op >= 256 {
                (asum, usum, vsum)
            } else {
                ((asum * op) >> 8, (usum * op) >> 8, (vsum * op) >> 8)
            };
            let keep = 1020 - asum;
            let di = (qy * qw + qx) as usize;
            let du = &mut uplane[di];
            *du = ((usum * 255 + u32::from(*du) * keep + 510) / 1020).min(255) as u8;
            let dv = &mut vplane[di];
            *dv = ((vsum * 255 + u32::from(*dv) * keep + 510) / 1020).min(255) as u8;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rgba;

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
