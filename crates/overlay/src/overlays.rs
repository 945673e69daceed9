//! The set of overlays one output draws: what the compositor owns and calls once per tick.
//!
//! Each overlay has a string id (so a scene in a profile can name it) and an `enabled` switch
//! (so the host can hide the logo or the chat without losing its state). The descriptions
//! ([`OverlaySpec`]) are plain serde data; the set turns them into sprites once, at `add`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::colour::Rgba;
use crate::danmaku::{Comment, CommentMode, DanmakuConfig, DanmakuLayer, DanmakuStats, Gift};
use crate::error::OverlayError;
use crate::image::{Anchor, load_png, position};
use crate::sprite::{Sprite, blend, check_canvas};
use crate::text::{CacheStats, TextRenderer, TextStyle};

fn default_size() -> f32 {
    36.0
}
fn default_margin() -> u32 {
    24
}
fn one() -> f32 {
    1.0
}
fn yes() -> bool {
    true
}

/// What an overlay is, as saved in a scene. `kind` tags the JSON/TOML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OverlaySpec {
    /// A line of text (title, "BRB", a pinned message).
    Text {
        text: String,
        #[serde(default = "default_size")]
        size: f32,
        #[serde(default)]
        colour: Rgba,
        #[serde(default)]
        background: Option<Rgba>,
        #[serde(default)]
        anchor: Anchor,
        #[serde(default = "default_margin")]
        margin: u32,
        #[serde(default = "one")]
        opacity: f32,
    },
    /// A PNG (alpha kept), scaled once at load.
    Image {
        path: PathBuf,
        #[serde(default)]
        anchor: Anchor,
        #[serde(default = "default_margin")]
        margin: u32,
        #[serde(default = "one")]
        scale: f32,
        #[serde(default = "one")]
        opacity: f32,
    },
    /// The danmaku and gift layer.
    Danmaku {
        #[serde(default)]
        config: DanmakuConfig,
    },
}

impl OverlaySpec {
    /// White outlined text of `size` px at `anchor` (24 px margin).
    pub fn text(text: impl Into<String>, size: f32, anchor: Anchor) -> Self {
        Self::Text {
            text: text.into(),
            size,
            colour: Rgba::WHITE,
            background: None,
            anchor,
            margin: default_margin(),
            opacity: 1.0,
        }
    }

    /// A PNG at `anchor` (24 px margin), scaled by `scale`.
    pub fn image(path: impl Into<PathBuf>, anchor: Anchor, scale: f32) -> Self {
        Self::Image {
            path: path.into(),
            anchor,
            margin: default_margin(),
            scale,
            opacity: 1.0,
        }
    }

    /// A danmaku layer with the default configuration.
    pub fn danmaku() -> Self {
        Self::Danmaku {
            config: DanmakuConfig::default(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Danmaku { .. } => "danmaku",
        }
    }
}

/// One overlay in a scene: id, on/off, and what it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverlayItem {
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(flatten)]
    pub spec: OverlaySpec,
}

enum State {
    Sprite(Arc<Sprite>),
    Danmaku(Box<DanmakuLayer>),
}

struct Entry {
    item: OverlayItem,
    state: State,
}

/// Text, image and danmaku overlays, drawn in insertion order (later on top).
pub struct Overlays {
    text: TextRenderer,
    entries: Vec<Entry>,
    width: u32,
    height: u32,
}

impl std::fmt::Debug for Overlays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlays")
            .field("items", &self.items())
            .finish_non_exhaustive()
    }
}

impl Default for Overlays {
    fn default() -> Self {
        Self::new()
    }
}

impl Overlays {
    /// An empty set. Loads the embedded fonts once; keep the set for the session.
    pub fn new() -> Self {
        Self::with_renderer(TextRenderer::new())
    }

    pub fn with_renderer(text: TextRenderer) -> Self {
        Self {
            text,
            entries: Vec::new(),
            width: 1280,
            height: 720,
        }
    }

    /// A set made from a scene's list. Items that fail (a missing image) are skipped and returned
    /// with their error, so one bad file does not take the title and the chat down with it.
    pub fn from_items(items: &[OverlayItem]) -> (Self, Vec<(String, OverlayError)>) {
        let mut set = Self::new();
        let mut errors = Vec::new();
        for item in items {
            if let Err(e) = set.add_item(item.clone()) {
                errors.push((item.id.clone(), e));
            }
        }
        (set, errors)
    }

    /// Whether anything would be drawn (per frame, so no allocation).
    pub fn any_enabled(&self) -> bool {
        self.entries.iter().any(|e| e.item.enabled)
    }

    /// The ids, in drawing order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.item.id.as_str())
    }

    /// The current descriptions, for saving in a profile.
    pub fn items(&self) -> Vec<OverlayItem> {
        self.entries.iter().map(|e| e.item.clone()).collect()
    }

    /// Adds an enabled overlay. Images are decoded and text rendered here, not per frame.
    pub fn add(&mut self, id: impl Into<String>, spec: OverlaySpec) -> Result<(), OverlayError> {
        self.add_item(OverlayItem {
            id: id.into(),
            enabled: true,
            spec,
        })
    }

    pub fn add_item(&mut self, item: OverlayItem) -> Result<(), OverlayError> {
        if self.entries.iter().any(|e| e.item.id == item.id) {
            return Err(OverlayError::DuplicateId { id: item.id });
        }
        let state = self.build(&item.spec)?;
        self.entries.push(Entry { item, state });
        Ok(())
    }

    fn build(&mut self, spec: &OverlaySpec) -> Result<State, OverlayError> {
        Ok(match spec {
            OverlaySpec::Text {
                text,
                size,
                colour,
                background,
                ..
            } => State::Sprite(self.text.render(
                text,
                &TextStyle {
                    colour: *colour,
                    background: *background,
                    ..TextStyle::sized(*size)
                },
            )),
            OverlaySpec::Image { path, scale, .. } => {
                State::Sprite(Arc::new(load_png(path, *scale)?))
            }
            OverlaySpec::Danmaku { config } => State::Danmaku(Box::new(DanmakuLayer::new(
                config.clone(),
                self.width,
                self.height,
            ))),
        })
    }

    /// Removes an overlay, returning its description.
    pub fn remove(&mut self, id: &str) -> Result<OverlayItem, OverlayError> {
        let i = self.index(id)?;
        Ok(self.entries.remove(i).item)
    }

    /// Shows or hides an overlay. A hidden danmaku layer keeps its state and counters.
    pub fn set_enabled(&mut self, id: &str, enabled: bool) -> Result<(), OverlayError> {
        let i = self.index(id)?;
        self.entries[i].item.enabled = enabled;
        Ok(())
    }

    pub fn is_enabled(&self, id: &str) -> Result<bool, OverlayError> {
        Ok(self.entries[self.index(id)?].item.enabled)
    }

    /// Replaces an overlay's description in place (keeps its position in the stack).
    pub fn update(&mut self, id: &str, spec: OverlaySpec) -> Result<(), OverlayError> {
        let i = self.index(id)?;
        let state = self.build(&spec)?;
        let e = &mut self.entries[i];
        e.item.spec = spec;
        e.state = state;
        Ok(())
    }

    /// Changes the text of a text overlay.
    pub fn set_text(&mut self, id: &str, text: &str) -> Result<(), OverlayError> {
        let i = self.index(id)?;
        let mut spec = self.entries[i].item.spec.clone();
        match &mut spec {
            OverlaySpec::Text { text: t, .. } => *t = text.to_string(),
            other => {
                return Err(OverlayError::WrongKind {
                    id: id.into(),
                    actual: other.kind(),
                    wanted: "text",
                });
            }
        }
        self.update(id, spec)
    }

    fn danmaku_mut(
        &mut self,
        id: &str,
    ) -> Result<(&mut DanmakuLayer, &mut TextRenderer), OverlayError> {
        let i = self.index(id)?;
        let e = &mut self.entries[i];
        match &mut e.state {
            State::Danmaku(l) => Ok((l, &mut self.text)),
            State::Sprite(_) => Err(OverlayError::WrongKind {
                id: id.into(),
                actual: e.item.spec.kind(),
                wanted: "danmaku",
            }),
        }
    }

    /// Sends a chat comment to danmaku layer `id` (arrival time on the session clock).
    pub fn push_comment(
        &mut self,
        id: &str,
        c: &Comment,
        now: Duration,
    ) -> Result<(), OverlayError> {
        let (layer, text) = self.danmaku_mut(id)?;
        layer.push(c, now, text);
        Ok(())
    }

    /// Takes the comment with room message id `key` off danmaku layer `id` (deleted by a
    /// moderator); whether it was there.
    pub fn retract_comment(&mut self, id: &str, key: u64) -> Result<bool, OverlayError> {
        let (layer, _) = self.danmaku_mut(id)?;
        Ok(layer.retract(key))
    }

    /// Sends a comment rasterised elsewhere (see [`DanmakuLayer::push_sprite`]) to layer `id`.
    pub fn push_comment_sprite(
        &mut self,
        id: &str,
        mode: CommentMode,
        key: Option<u64>,
        sprite: Arc<Sprite>,
        now: Duration,
    ) -> Result<(), OverlayError> {
        let (layer, _) = self.danmaku_mut(id)?;
        layer.push_sprite(mode, key, sprite, now);
        Ok(())
    }

    /// The style danmaku layer `id` draws `comment` in, for rasterising on another thread.
    pub fn comment_style(&self, id: &str, comment: &Comment) -> Result<TextStyle, OverlayError> {
        Ok(self.danmaku(id)?.comment_style(comment))
    }

    /// Danmaku layer `id`, to read its stats and configuration.
    pub fn danmaku(&self, id: &str) -> Result<&DanmakuLayer, OverlayError> {
        let e = &self.entries[self.index(id)?];
        match &e.state {
            State::Danmaku(l) => Ok(l),
            State::Sprite(_) => Err(OverlayError::WrongKind {
                id: id.into(),
                actual: e.item.spec.kind(),
                wanted: "danmaku",
            }),
        }
    }

    /// Sends a gift to danmaku layer `id`'s banner.
    pub fn gift(&mut self, id: &str, g: &Gift, now: Duration) -> Result<(), OverlayError> {
        let (layer, text) = self.danmaku_mut(id)?;
        layer.gift(g, now, text);
        Ok(())
    }

    /// Counters of danmaku layer `id` (shown, dropped, queued…).
    pub fn danmaku_stats(&self, id: &str) -> Result<DanmakuStats, OverlayError> {
        Ok(self.danmaku(id)?.stats())
    }

    pub fn text_cache_stats(&self) -> CacheStats {
        self.text.stats()
    }

    /// Tells danmaku layers the output size before the first draw (so comments pushed before
    /// it get the right lanes). `draw` does this too.
    pub fn set_canvas(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        for e in &mut self.entries {
            if let State::Danmaku(l) = &mut e.state {
                l.set_canvas(width, height);
            }
        }
    }

    fn index(&self, id: &str) -> Result<usize, OverlayError> {
        self.entries
            .iter()
            .position(|e| e.item.id == id)
            .ok_or_else(|| OverlayError::UnknownId { id: id.into() })
    }

    /// Blends every enabled overlay onto the I420 `canvas` (`width`×`height`, tightly packed),
    /// at session time `now`. Disabled danmaku layers still advance, so re-enabling them does
    /// not replay stale comments.
    pub fn draw(
        &mut self,
        canvas: &mut [u8],
        width: u32,
        height: u32,
        now: Duration,
    ) -> Result<(), OverlayError> {
        check_canvas(canvas, width, height)?;
        if (width, height) != (self.width, self.height) {
            self.set_canvas(width, height);
        }
        for e in &mut self.entries {
            match (&e.item.spec, &mut e.state) {
                (OverlaySpec::Danmaku { config }, State::Danmaku(layer)) => {
                    let opacity = config.opacity;
                    let placed = layer.layout(now);
                    if !e.item.enabled {
                        continue;
                    }
                    for p in placed {
                        blend(canvas, width, height, p.sprite, p.x, p.y, opacity)?;
                    }
                }
                (
                    OverlaySpec::Text {
                        anchor,
                        margin,
                        opacity,
                        ..
                    }
                    | OverlaySpec::Image {
                        anchor,
                        margin,
                        opacity,
                        ..
                    },
                    State::Sprite(s),
                ) => {
                    if !e.item.enabled {
                        continue;
                    }
                    let (x, y) = position(*anchor, *margin, width, height, s.width(), s.height());
                    blend(canvas, width, height, s, x, y, *opacity)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas(w: u32, h: u32) -> Vec<u8> {
        let mut c = vec![128u8; (w * h * 3 / 2) as usize];
        c[..(w * h) as usize].fill(16);
        c
    }

    fn write_png(path: &std::path::Path, w: u32, h: u32) {
        let f = std::fs::File::create(path).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let px: Vec<u8> = (0..w * h).flat_map(|_| [255u8, 255, 255, 255]).collect();
        enc.write_header().unwrap().write_image_data(&px).unwrap();
    }

    #[test]
    fn specs_round_trip_through_json_for_scenes() {
        let items = vec![
            OverlayItem {
                id: "title".into(),
                enabled: true,
                spec: OverlaySpec::text("直播中", 40.0, Anchor::TopCenter),
            },
            OverlayItem {
                id: "logo".into(),
                enabled: false,
                spec: OverlaySpec::image("assets/logo.png", Anchor::At { x: 10, y: -4 }, 0.5),
            },
            OverlayItem {
                id: "chat".into(),
                enabled: true,
                spec: OverlaySpec::danmaku(),
            },
        ];
        let json = serde_json::to_string(&items).unwrap();
        let back: Vec<OverlayItem> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, items);
        let short: OverlayItem =
            serde_json::from_str(r##"{"id":"t","kind":"text","text":"hi","colour":"#ff0000"}"##)
                .unwrap();
        assert!(short.enabled);
        let bad = serde_json::from_str::<OverlayItem>(
            r#"{"id":"t","kind":"text","text":"hi","colour":"red"}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("#rrggbb"));
    }

    #[test]
    fn draw_blends_enabled_overlays_and_skips_disabled_ones() {
        let dir = std::env::temp_dir().join(format!("marquee-overlays-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("white.png");
        write_png(&png, 40, 30);
        let mut o = Overlays::new();
        o.add(
            "logo",
            OverlaySpec::Image {
                path: png.clone(),
                anchor: Anchor::BottomRight,
                margin: 10,
                scale: 1.0,
                opacity: 1.0,
            },
        )
        .unwrap();
        o.add(
            "title",
            OverlaySpec::text("Marquee 直播", 32.0, Anchor::TopLeft),
        )
        .unwrap();
        let (w, h) = (320, 180);
        let mut c = canvas(w, h);
        o.draw(&mut c, w, h, Duration::ZERO).unwrap();
        // Logo's pixels: x 270..310, y 140..170.
        assert_eq!(c[(150 * w + 290) as usize], 235);
        assert!(
            c[..(60 * w) as usize].iter().any(|&v| v > 200),
            "title drawn"
        );
        o.set_enabled("logo", false).unwrap();
        o.set_enabled("title", false).unwrap();
        let mut c = canvas(w, h);
        let before = c.clone();
        o.draw(&mut c, w, h, Duration::ZERO).unwrap();
        assert_eq!(c, before);
        assert!(!o.is_enabled("logo").unwrap());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn danmaku_overlay_draws_comments_and_keeps_counting_while_hidden() {
        let mut o = Overlays::new();
        o.add("chat", OverlaySpec::danmaku()).unwrap();
        let (w, h) = (640, 360);
        o.set_canvas(w, h);
        o.push_comment("chat", &Comment::scroll("前方高能 🎉"), Duration::ZERO)
            .unwrap();
        let mut c = canvas(w, h);
        o.draw(&mut c, w, h, Duration::from_secs(2)).unwrap();
        assert!(
            c[..(w * h) as usize].iter().any(|&v| v > 200),
            "comment drawn"
        );
        o.set_enabled("chat", false).unwrap();
        o.push_comment("chat", &Comment::top("hidden"), Duration::from_secs(2))
            .unwrap();
        let mut c = canvas(w, h);
        let before = c.clone();
        o.draw(&mut c, w, h, Duration::from_secs(3)).unwrap();
        assert_eq!(c, before);
        assert_eq!(o.danmaku_stats("chat").unwrap().shown, 2);
        o.gift(
            "chat",
            &Gift {
                from: "a".into(),
                gift: "b".into(),
                count: 1,
            },
            Duration::from_secs(3),
        )
        .unwrap();
    }

    #[test]
    fn wrong_ids_kinds_and_missing_files_are_errors() {
        let mut o = Overlays::new();
        o.add("t", OverlaySpec::text("x", 20.0, Anchor::Center))
            .unwrap();
        assert!(matches!(
            o.add("t", OverlaySpec::danmaku()),
            Err(OverlayError::DuplicateId { .. })
        ));
        assert!(matches!(
            o.push_comment("t", &Comment::scroll("x"), Duration::ZERO),
            Err(OverlayError::WrongKind { .. })
        ));
        assert!(matches!(
            o.set_enabled("nope", true),
            Err(OverlayError::UnknownId { .. })
        ));
        let missing = OverlaySpec::image("/no/such/logo.png", Anchor::TopLeft, 1.0);
        assert!(matches!(
            o.add("logo", missing.clone()),
            Err(OverlayError::ImageNotFound { .. })
        ));
        let (set, errors) = Overlays::from_items(&[
            OverlayItem {
                id: "logo".into(),
                enabled: true,
                spec: missing,
            },
            OverlayItem {
                id: "chat".into(),
                enabled: true,
                spec: OverlaySpec::danmaku(),
            },
        ]);
        assert_eq!(errors.len(), 1);
        assert_eq!(set.items().len(), 1);
        o.set_text("t", "new").unwrap();
        assert!(
            matches!(o.remove("t").unwrap().spec, OverlaySpec::Text { ref text, .. } if text == "new")
        );
        let mut short = vec![0u8; 3];
        assert!(o.draw(&mut short, 640, 360, Duration::ZERO).is_err());
    }

    #[test]
    fn overlays_can_move_to_the_compositor_thread() {
        fn is_send<T: Send>() {}
        is_send::<Overlays>();
    }
}
