//! Text → sprite: cosmic-text shapes (bidi, CJK, emoji fallback), swash rasterises, and we add an
//! outline and a drop shadow so white text stays legible over any video.
//!
//! Two bounded LRU caches make repeated text free: whole lines (keyed by text and style — a
//! danmaku comment is rendered once and then only moves) and single glyph images (so a new
//! comment made of common characters rasterises quickly). Both count hits and evictions.
//!
//! Chat text is untrusted: [`sanitize`] strips control and bidi-override characters and clamps the
//! length before anything is shaped, and the sprite width is clamped to [`MAX_TEXT_WIDTH`].

use std::sync::Arc;

use cosmic_text::fontdb;
use cosmic_text::{
    Attrs, Buffer, CacheKey, Family, FontSystem, Metrics, Shaping, SwashCache, SwashContent,
    SwashImage, Wrap,
};
use serde::{Deserialize, Serialize};

use crate::colour::Rgba;
use crate::lru::Lru;
use crate::sprite::Sprite;

/// Noto Sans CJK SC, subset (see assets/fonts/README.md): Latin, GB2312 hanzi, kana, punctuation.
pub static CJK_FONT: &[u8] = include_bytes!("../../../assets/fonts/NotoSansCJKsc-Subset.otf");
/// Noto Color Emoji, subset: CBDT colour bitmaps, which swash scales to any size.
pub static EMOJI_FONT: &[u8] = include_bytes!("../../../assets/fonts/NotoColorEmoji-Subset.ttf");

const PRIMARY_FAMILY: &str = "Noto Sans CJK SC";
const EMOJI_FAMILY: &str = "Noto Color Emoji";

/// Widest text sprite we make, in pixels; longer text is cut (a 4K canvas is 3840 wide).
pub const MAX_TEXT_WIDTH: u32 = 4096;
/// Characters kept from one string before shaping (after [`sanitize`]).
pub const DEFAULT_MAX_CHARS: usize = 200;

/// How a line of text looks. Sizes are in canvas pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextStyle {
    /// Font size (em height) in pixels, clamped to 4..=256.
    pub size: f32,
    pub colour: Rgba,
    /// Outline colour; alpha 0 turns the outline off.
    pub outline: Rgba,
    /// Outline thickness in pixels (0..=8); `None` = size / 16, at least 1.
    pub outline_px: Option<u8>,
    /// Drop shadow offset in pixels (0..=8, 0 = none); `None` = size / 24, at least 1.
    pub shadow_px: Option<u8>,
    /// A box behind the text (gift banners, pinned host messages); `None` = transparent.
    pub background: Option<Rgba>,
}

impl Default for TextStyle {
    fn default() -> Self {
        Self {
            size: 32.0,
            colour: Rgba::WHITE,
            outline: Rgba::new(0, 0, 0, 220),
            outline_px: None,
            shadow_px: None,
            background: None,
        }
    }
}

impl TextStyle {
    pub fn sized(size: f32) -> Self {
        Self {
            size,
            ..Self::default()
        }
    }

    /// Height in pixels of a one-line sprite in this style (what a danmaku lane must hold).
    pub fn line_sprite_height(&self) -> u32 {
        let size = self.clamped_size();
        let box_pad = if self.background.is_some() {
            (size / 4.0).ceil() as u32
        } else {
            0
        };
        (size * 1.25).ceil() as u32 + 2 * (self.outline_px() + box_pad) + self.shadow_px()
    }

    fn clamped_size(&self) -> f32 {
        if self.size.is_finite() {
            self.size.clamp(4.0, 256.0)
        } else {
            32.0
        }
    }

    fn outline_px(&self) -> u32 {
        if self.outline.a == 0 {
            return 0;
        }
        let auto = (self.clamped_size() / 16.0).round().max(1.0) as u8;
        u32::from(self.outline_px.unwrap_or(auto).min(8))
    }

    fn shadow_px(&self) -> u32 {
        let auto = (self.clamped_size() / 24.0).round().max(1.0) as u8;
        u32::from(self.shadow_px.unwrap_or(auto).min(8))
    }

    fn key(&self) -> StyleKey {
        let c = |c: Rgba| u32::from_be_bytes([c.r, c.g, c.b, c.a]);
        StyleKey {
            size_bits: self.clamped_size().to_bits(),
            colour: c(self.colour),
            outline: c(self.outline),
            outline_px: self.outline_px(),
            shadow_px: self.shadow_px(),
            background: self.background.map(c),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StyleKey {
    size_bits: u32,
    colour: u32,
    outline: u32,
    outline_px: u32,
    shadow_px: u32,
    background: Option<u32>,
}

/// Makes text safe to shape: drops control characters (newlines and tabs become spaces),
/// bidi embedding/override/isolate controls (they would flip the rest of an overlay) and
/// byte-order marks, and keeps at most `max_chars` characters (adding "…" when cut).
/// Zero-width joiners and variation selectors stay: emoji sequences need them.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4 + 3));
    let mut n = 0;
    for ch in text.chars() {
        let ch = match ch {
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => ' ',
            c if c.is_control() => continue,
            '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}' => {
                continue;
            }
            c => c,
        };
        if n == max_chars {
            out.push('…');
            break;
        }
        out.push(ch);
        n += 1;
    }
    out
}

/// Drops what the embedded emoji subset cannot draw but the base character can stand for:
/// skin-tone modifiers (👍🏻 becomes 👍 instead of a missing-glyph box).
fn fit_to_fonts(text: String) -> String {
    if text
        .chars()
        .any(|c| ('\u{1F3FB}'..='\u{1F3FF}').contains(&c))
    {
        text.chars()
            .filter(|c| !('\u{1F3FB}'..='\u{1F3FF}').contains(c))
            .collect()
    } else {
        text
    }
}

/// Counters for the two caches, for the stats panel and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub line_hits: u64,
    pub line_misses: u64,
    pub line_entries: usize,
    pub line_bytes: usize,
    pub line_evictions: u64,
    pub glyph_entries: usize,
    pub glyph_evictions: u64,
}

/// Anything that turns a line of text into a sprite. The danmaku layer takes one of these so its
/// lane logic can be tested with a fake of known widths.
pub trait Rasterize {
    fn rasterize(&mut self, text: &str, style: &TextStyle) -> Arc<Sprite>;
}

/// Shapes and rasterises text with the embedded fonts, caching lines and glyphs.
pub struct TextRenderer {
    fonts: FontSystem,
    swash: SwashCache,
    lines: Lru<(String, StyleKey), Arc<Sprite>>,
    glyphs: Lru<CacheKey, Option<Arc<SwashImage>>>,
    max_chars: usize,
    hits: u64,
    misses: u64,
}

impl std::fmt::Debug for TextRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextRenderer")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Fallback by name to our two embedded families only, whatever the OS, so output is identical
/// on Windows, macOS and Linux.
struct EmbeddedFallback;

impl cosmic_text::Fallback for EmbeddedFallback {
    fn common_fallback(&self) -> &[&'static str] {
        &[PRIMARY_FAMILY, EMOJI_FAMILY]
    }
    fn forbidden_fallback(&self) -> &[&'static str] {
        &[]
    }
    fn script_fallback(&self, _script: unicode_script::Script, _locale: &str) -> &[&'static str] {
        &[]
    }
}

impl Default for TextRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl TextRenderer {
    /// A renderer over the embedded fonts, with caches of 512 lines / 64 MiB and 4096 glyphs /
    /// 32 MiB. Loading parses font tables once (a few ms); make one and keep it.
    pub fn new() -> Self {
        Self::with_limits(512, 64 << 20, 4096, 32 << 20)
    }

    /// Like [`TextRenderer::new`] with explicit cache bounds (entries and bytes).
    pub fn with_limits(
        line_entries: usize,
        line_bytes: usize,
        glyph_entries: usize,
        glyph_bytes: usize,
    ) -> Self {
        let mut db = fontdb::Database::new();
        db.load_font_source(fontdb::Source::Binary(Arc::new(CJK_FONT)));
        db.load_font_source(fontdb::Source::Binary(Arc::new(EMOJI_FONT)));
        db.set_sans_serif_family(PRIMARY_FAMILY);
        let fonts = FontSystem::new_with_locale_and_db_and_fallback(
            "zh-CN".to_string(),
            db,
            EmbeddedFallback,
        );
        Self {
            fonts,
            swash: SwashCache::new(),
            lines: Lru::new(line_entries, line_bytes),
            glyphs: Lru::new(glyph_entries, glyph_bytes),
            max_chars: DEFAULT_MAX_CHARS,
            hits: 0,
            misses: 0,
        }
    }

    /// Characters kept per string (default [`DEFAULT_MAX_CHARS`]); a title may want more.
    pub fn set_max_chars(&mut self, n: usize) {
        self.max_chars = n.clamp(1, 10_000);
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            line_hits: self.hits,
            line_misses: self.misses,
            line_entries: self.lines.len(),
            line_bytes: self.lines.bytes(),
            line_evictions: self.lines.evictions,
            glyph_entries: self.glyphs.len(),
            glyph_evictions: self.glyphs.evictions,
        }
    }

    fn shape(&mut self, text: &str, size: f32) -> Buffer {
        let metrics = Metrics::new(size, (size * 1.25).ceil());
        let mut buffer = Buffer::new(&mut self.fonts, metrics);
        buffer.set_wrap(&mut self.fonts, Wrap::None);
        buffer.set_size(&mut self.fonts, None, None);
        let attrs = Attrs::new().family(Family::Name(PRIMARY_FAMILY));
        buffer.set_text(&mut self.fonts, text, &attrs, Shaping::Advanced, None);
        buffer.shape_until_scroll(&mut self.fonts, false);
        buffer
    }

    /// The characters of `text` (after [`sanitize`]) that no embedded font has: they would render
    /// as the empty .notdef box. Whitespace is never reported.
    pub fn missing_glyphs(&mut self, text: &str) -> Vec<char> {
        let text = fit_to_fonts(sanitize(text, self.max_chars));
        let buffer = self.shape(&text, 32.0);
        let mut missing = Vec::new();
        for run in buffer.layout_runs() {
            for g in run.glyphs {
                if g.glyph_id == 0 {
                    let s = run.text.get(g.start..g.end).unwrap_or("");
                    for c in s.chars().filter(|c| !c.is_whitespace()) {
                        if !missing.contains(&c) {
                            missing.push(c);
                        }
                    }
                }
            }
        }
        missing
    }

    /// The sprite for `text` in `style`, from the cache or freshly rendered.
    pub fn render(&mut self, text: &str, style: &TextStyle) -> Arc<Sprite> {
        let text = fit_to_fonts(sanitize(text, self.max_chars));
        let key = (text, style.key());
        if let Some(s) = self.lines.get(&key) {
            self.hits += 1;
            return s;
        }
        self.misses += 1;
        let sprite = Arc::new(self.render_uncached(&key.0, style));
        let size = sprite.memory_bytes() + key.0.len();
        self.lines.insert(key, sprite.clone(), size);
        sprite
    }

    fn glyph_image(&mut self, key: CacheKey) -> Option<Arc<SwashImage>> {
        if let Some(img) = self.glyphs.get(&key) {
            return img;
        }
        let img = self
            .swash
            .get_image_uncached(&mut self.fonts, key)
            .map(Arc::new);
        let size = img.as_ref().map_or(0, |i| i.data.len()) + 64;
        self.glyphs.insert(key, img.clone(), size);
        img
    }

    fn render_uncached(&mut self, text: &str, style: &TextStyle) -> Sprite {
        let size = style.clamped_size();
        let buffer = self.shape(text, size);
        let line_h = (size * 1.25).ceil();
        let mut text_w = 0f32;
        let mut lines = 0usize;
        for run in buffer.layout_runs() {
            text_w = text_w.max(run.line_w);
            lines += 1;
        }
        if lines == 0 || text_w <= 0.0 {
            return Sprite::empty();
        }
        let outline = style.outline_px();
        let shadow = style.shadow_px();
        let box_pad = if style.background.is_some() {
            (size / 4.0).ceil() as u32
        } else {
            0
        };
        let pad = outline + box_pad;
        let tw = (text_w.ceil() as u32).min(MAX_TEXT_WIDTH);
        let th = (line_h * lines as f32).ceil() as u32;
        let w = (tw + 2 * pad + shadow).min(MAX_TEXT_WIDTH);
        let h = th + 2 * pad + shadow;
        let (wu, hu) = (w as usize, h as usize);

        // Glyph coverage (alpha masks) and colour glyphs (premultiplied RGBA), separately.
        let mut mask = vec![0u8; wu * hu];
        let mut colour = vec![0u8; wu * hu * 4];
        let mut has_colour = false;
        let mut glyphs = Vec::new();
        for run in buffer.layout_runs() {
            for g in run.glyphs {
                glyphs.push(g.physical((pad as f32, pad as f32 + run.line_y), 1.0));
            }
        }
        for pg in glyphs {
            let Some(img) = self.glyph_image(pg.cache_key) else {
                continue;
            };
            let p = img.placement;
            let gx = pg.x + p.left;
            let gy = pg.y - p.top;
            let (gw, gh) = (p.width as i32, p.height as i32);
            for row in 0..gh {
                let y = gy + row;
                if y < 0 || y >= h as i32 {
                    continue;
                }
                for col in 0..gw {
                    let x = gx + col;
                    if x < 0 || x >= w as i32 {
                        continue;
                    }
                    let di = y as usize * wu + x as usize;
                    let si = (row * gw + col) as usize;
                    match img.content {
                        SwashContent::Mask => {
                            let a = img.data.get(si).copied().unwrap_or(0);
                            mask[di] = mask[di].saturating_add(a);
                        }
                        SwashContent::Color => {
                            let Some(px) = img.data.get(si * 4..si * 4 + 4) else {
                                continue;
                            };
                            // swash gives straight alpha; premultiply, then "over".
                            let a = u32::from(px[3]);
                            if a == 0 {
                                continue;
                            }
                            has_colour = true;
                            let d = &mut colour[di * 4..di * 4 + 4];
                            let keep = 255 - a;
                            for c in 0..3 {
                                let s = (u32::from(px[c]) * a + 127) / 255;
                                d[c] = (s + (u32::from(d[c]) * keep + 127) / 255).min(255) as u8;
                            }
                            d[3] = (a + (u32::from(d[3]) * keep + 127) / 255).min(255) as u8;
                        }
                        SwashContent::SubpixelMask => {
                            let a = img.data.get(si * 4..si * 4 + 3).map_or(0, |p| {
                                ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8
                            });
                            mask[di] = mask[di].saturating_add(a);
                        }
                    }
                }
            }
        }

        // Everything that casts an outline: text coverage plus colour-glyph alpha.
        let ink: Vec<u8> = if has_colour {
            mask.iter()
                .zip(colour.chunks_exact(4))
                .map(|(&m, c)| m.max(c[3]))
                .collect()
        } else {
            mask.clone()
        };
        let halo = if outline > 0 {
            dilate(&ink, wu, hu, outline as usize)
        } else {
            ink.clone()
        };

        let mut out = vec![0u8; wu * hu * 4];
        if let Some(bg) = style.background {
            let p = bg.premultiplied();
            for px in out.chunks_exact_mut(4) {
                px.copy_from_slice(&p);
            }
        }
        let shadow_rgba = Rgba::new(0, 0, 0, 160);
        let outline_rgba = style.outline;
        let fill = style.colour;
        for y in 0..hu {
            for x in 0..wu {
                let i = y * wu + x;
                let px = &mut out[i * 4..i * 4 + 4];
                if shadow > 0 && x >= shadow as usize && y >= shadow as usize {
                    let s = halo[(y - shadow as usize) * wu + x - shadow as usize];
                    over_solid(px, shadow_rgba, s);
                }
                if outline > 0 {
                    over_solid(px, outline_rgba, halo[i]);
                }
                over_solid(px, fill, mask[i]);
                if has_colour {
                    let c = &colour[i * 4..i * 4 + 4];
                    if c[3] != 0 {
                        let keep = 255 - u32::from(c[3]);
                        for k in 0..4 {
                            px[k] = (u32::from(c[k]) + (u32::from(px[k]) * keep + 127) / 255)
                                .min(255) as u8;
                        }
                    }
                }
            }
        }
        Sprite::from_premultiplied_rgba(w, h, out).unwrap_or_else(|_| Sprite::empty())
    }
}

impl Rasterize for TextRenderer {
    fn rasterize(&mut self, text: &str, style: &TextStyle) -> Arc<Sprite> {
        self.render(text, style)
    }
}

/// Premultiplied "over" of a solid straight colour with coverage `cov` onto `dst`.
#[inline]
fn over_solid(dst: &mut [u8], c: Rgba, cov: u8) {
    if cov == 0 || c.a == 0 {
        return;
    }
    let a = (u32::from(c.a) * u32::from(cov) + 127) / 255;
    let keep = 255 - a;
    let src = [c.r, c.g, c.b];
    for k in 0..3 {
        let s = (u32::from(src[k]) * a + 127) / 255;
        dst[k] = (s + (u32::from(dst[k]) * keep + 127) / 255).min(255) as u8;
    }
    dst[3] = (a + (u32::from(dst[3]) * keep + 127) / 255).min(255) as u8;
}

/// Grey-level dilation by a disc of radius `r` (the outline): each pixel takes the largest
/// coverage within distance r. Runs once per rendered line, never per frame.
fn dilate(src: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    // A disc is a stack of horizontal segments: first the horizontal max over ±k for every
    // k ≤ r (each pass widens the last by one), then, per output row, the max of the rows above
    // and below at their segment's half-width. Buffers are padded by r, so no bounds checks and
    // rows never bleed into each other; every step is a slice max that vectorises.
    let pw = w + 2 * r;
    let ph = h + 2 * r;
    let mut widened: Vec<Vec<u8>> = Vec::with_capacity(r + 1);
    let mut base = vec![0u8; pw * ph];
    for y in 0..h {
        base[(y + r) * pw + r..(y + r) * pw + r + w].copy_from_slice(&src[y * w..(y + 1) * w]);
    }
    widened.push(base);
    for k in 1..=r {
        let prev = &widened[k - 1];
        let mut next = prev.clone();
        for i in 1..prev.len() - 1 {
            next[i] = prev[i - 1].max(prev[i]).max(prev[i + 1]);
        }
        widened.push(next);
    }
    let ri = r as isize;
    let mut out = vec![0u8; w * h];
    for dy in -ri..=ri {
        let half = ((ri * ri + ri - dy * dy) as f64).sqrt().floor() as usize;
        let layer = &widened[half.min(r)];
        for y in 0..h {
            let row = ((y as isize + ri + dy) as usize) * pw + r;
            let dst = &mut out[y * w..(y + 1) * w];
            for (d, &s) in dst.iter_mut().zip(&layer[row..row + w]) {
                *d = (*d).max(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink_columns(s: &Sprite) -> Vec<bool> {
        (0..s.width())
            .map(|x| (0..s.height()).any(|y| s.pixel(x, y).is_some_and(|p| p[3] > 0)))
            .collect()
    }

    #[test]
    fn hello_nihao_party_popper_has_no_missing_glyphs() {
        let mut r = TextRenderer::new();
        assert_eq!(r.missing_glyphs("Hello 你好 🎉"), Vec::<char>::new());
        assert_eq!(
            r.missing_glyphs("弹幕 礼物 666 ×3 「こんにちは」"),
            Vec::<char>::new()
        );
        // A character outside the subset is reported, not silently drawn as a box.
        assert_eq!(r.missing_glyphs("\u{E000}"), vec!['\u{E000}']);
        // Viewers from Taiwan / Hong Kong and Korea: traditional hanzi and Hangul draw too.
        assert_eq!(
            r.missing_glyphs("歡迎來到直播間 謝謝禮物 臺灣 香港 안녕하세요 감사합니다"),
            Vec::<char>::new()
        );
        // Hearts with VS16, flags as letters, ZWJ families, new emoji: all drawable.
        assert_eq!(r.missing_glyphs("❤️ 🇨🇳 👨‍👩‍👧 🥰🫠 ①★¥€"), Vec::<char>::new());
        // Gift banners: names, gift names and the multiplication sign.
        assert_eq!(
            r.missing_glyphs("小明 sent 火箭 ×99 送出 礼物"),
            Vec::<char>::new()
        );
        // Skin tones fall back to the base emoji rather than a box.
        assert_eq!(r.missing_glyphs("👍🏻👋🏿"), Vec::<char>::new());
    }

    #[test]
    fn every_character_of_mixed_text_gets_ink() {
        let mut r = TextRenderer::new();
        let style = TextStyle {
            outline: Rgba::new(0, 0, 0, 0),
            shadow_px: Some(0),
            ..TextStyle::sized(40.0)
        };
        for t in ["H", "e", "l", "o", "你", "好", "🎉"] {
            let s = r.render(t, &style);
            assert!(
                s.rgba().chunks_exact(4).any(|p| p[3] > 128),
                "{t:?} rendered without ink"
            );
        }
        let s = r.render("Hello 你好 🎉", &style);
        assert!(ink_columns(&s).iter().filter(|&&c| c).count() > 100);
    }

    #[test]
    fn cjk_glyphs_are_wider_than_latin() {
        let mut r = TextRenderer::new();
        let style = TextStyle::sized(40.0);
        let latin = r.render("aaaa", &style).width();
        let cjk = r.render("你你你你", &style).width();
        assert!(cjk > latin + 40, "cjk {cjk} latin {latin}");
    }

    #[test]
    fn colour_emoji_is_coloured() {
        let mut r = TextRenderer::new();
        let s = r.render("🎉", &TextStyle::sized(48.0));
        let saturated = s
            .rgba()
            .chunks_exact(4)
            .filter(|p| p[3] > 200)
            .filter(|p| {
                let mx = p[0].max(p[1]).max(p[2]);
                let mn = p[0].min(p[1]).min(p[2]);
                mx - mn > 80
            })
            .count();
        assert!(saturated > 50, "only {saturated} saturated pixels");
        // Plain text in white stays grey/white.
        let t = r.render("Hi", &TextStyle::sized(48.0));
        assert!(t.rgba().chunks_exact(4).all(|p| {
            let mx = p[0].max(p[1]).max(p[2]);
            let mn = p[0].min(p[1]).min(p[2]);
            mx - mn < 8
        }));
    }

    #[test]
    fn outline_is_a_disc_around_the_ink() {
        // One inked pixel in a 9x9 field, radius 2: the disc x²+y² ≤ r²+r.
        let mut src = vec![0u8; 81];
        src[4 * 9 + 4] = 200;
        let out = dilate(&src, 9, 9, 2);
        for y in 0..9i32 {
            for x in 0..9i32 {
                let (dx, dy) = (x - 4, y - 4);
                let want = if dx * dx + dy * dy <= 6 { 200 } else { 0 };
                assert_eq!(out[(y * 9 + x) as usize], want, "({x},{y})");
            }
        }
        // Ink at the very edge is dilated without wrapping to the other side.
        let mut edge = vec![0u8; 25];
        edge[4] = 255; // (4, 0): top-right corner
        let out = dilate(&edge, 5, 5, 2);
        assert_eq!(out[0], 0);
        assert_eq!(out[2], 255);
        assert_eq!(
            out[5], 0,
            "(0, 1) is far from (4, 0) even though it follows it in memory"
        );
    }

    #[test]
    fn text_is_outlined_for_legibility() {
        let mut r = TextRenderer::new();
        let s = r.render("I", &TextStyle::sized(48.0));
        // Some opaque pixels are dark (the outline), some bright (the fill).
        let px: Vec<_> = s.rgba().chunks_exact(4).filter(|p| p[3] > 200).collect();
        assert!(px.iter().any(|p| p[0] < 40));
        assert!(px.iter().any(|p| p[0] > 220));
    }

    #[test]
    fn rendering_the_same_line_twice_hits_the_cache() {
        let mut r = TextRenderer::new();
        let style = TextStyle::default();
        let a = r.render("主播好", &style);
        let b = r.render("主播好", &style);
        assert!(Arc::ptr_eq(&a, &b));
        let st = r.stats();
        assert_eq!((st.line_hits, st.line_misses), (1, 1));
    }

    #[test]
    fn line_cache_is_bounded_and_counts_evictions() {
        let mut r = TextRenderer::with_limits(8, 64 << 20, 64, 1 << 20);
        for i in 0..40 {
            r.render(&format!("comment {i}"), &TextStyle::default());
        }
        let st = r.stats();
        assert_eq!(st.line_entries, 8);
        assert_eq!(st.line_evictions, 32);
        assert!(st.glyph_entries <= 64);
    }

    #[test]
    fn hostile_text_is_clamped_and_never_panics() {
        let mut r = TextRenderer::new();
        let style = TextStyle::default();
        let emoji_flood = "🎉".repeat(10_000);
        let huge = "测".repeat(1_000_000);
        let cases = [
            emoji_flood.as_str(),
            huge.as_str(),
            "\u{0}\u{1}\u{7f}\u{9b}ctrl\r\n\t",
            "\u{202E}override\u{202C} \u{2067}isolate\u{2069}",
            "\u{200B}\u{200C}\u{200D}\u{FEFF}",
            "مرحبا بالعالم שלום",
            "e\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}",
            "",
            "   ",
        ];
        for t in cases {
            let s = r.render(t, &style);
            assert!(s.width() <= MAX_TEXT_WIDTH);
            assert!(s.height() <= 512);
        }
    }

    #[test]
    fn sanitize_strips_controls_and_overrides_and_clamps() {
        assert_eq!(sanitize("a\u{202E}b\u{0}c\nd", 100), "abc d");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize("👨\u{200D}👩", 100), "👨\u{200D}👩");
    }

    #[test]
    fn text_renderer_can_move_to_the_compositor_thread() {
        fn is_send<T: Send>() {}
        is_send::<TextRenderer>();
    }
}
