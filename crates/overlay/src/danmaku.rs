//! The danmaku (bullet chat) and gift-banner layer, as a sans-IO state machine.
//!
//! Inputs are comments and gifts with the session time at which they arrived; output is, for any
//! time, the list of sprites and where to blend them. Nothing here sleeps, spawns or reads a
//! clock, so every rule below is tested by stepping time by hand.
//!
//! Rules (the ones viewers of bilibili-style chat expect):
//! - **Scrolling** comments enter at the right edge and leave at the left in the same time
//!   ([`DanmakuConfig::scroll_secs`]) whatever their length, so longer text moves faster.
//! - They run on **lanes** in the danmaku area (the top 75 % of the canvas by default, so faces
//!   at the bottom stay visible). A comment takes the first lane where it neither overlaps the
//!   previous comment now nor catches up with it before that one has left the screen.
//! - If no lane fits, the comment **waits** in a bounded queue for up to
//!   [`DanmakuConfig::max_wait_ms`]; past that, or when the queue is full, it is **dropped and
//!   counted** ([`DanmakuStats`]). A flood never grows memory or delay.
//! - **Top / bottom** comments are centred and fixed for [`DanmakuConfig::fixed_secs`], stacking
//!   down from the top of the area or up from its bottom.
//! - **Gift banners** ("NAME sent GIFT ×N") sit at a fixed place for a few seconds; a combo (same
//!   sender and gift while the banner is up) updates the same banner's count.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::colour::Rgba;
use crate::image::{Anchor, position};
use crate::sprite::Sprite;
use crate::text::{Rasterize, TextStyle, sanitize};

/// Hard caps over the configured `max_queue` / `max_on_screen`, whatever a profile says.
const MAX_QUEUE: usize = 10_000;
const MAX_ON_SCREEN: usize = 2_000;

/// How a comment moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentMode {
    #[default]
    Scroll,
    Top,
    Bottom,
}

/// One chat comment to show. `text` is untrusted; it is sanitised and clamped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub text: String,
    #[serde(default)]
    pub colour: Rgba,
    #[serde(default)]
    pub mode: CommentMode,
    /// The host's own comments get a highlighted box so viewers can tell them apart.
    #[serde(default)]
    pub from_host: bool,
    /// The room's message id, so a moderator's delete can take it off the video
    /// ([`DanmakuLayer::retract`]); `None` for comments that cannot be deleted.
    #[serde(default)]
    pub key: Option<u64>,
}

impl Comment {
    pub fn scroll(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            colour: Rgba::WHITE,
            mode: CommentMode::Scroll,
            from_host: false,
            key: None,
        }
    }
    pub fn top(text: impl Into<String>) -> Self {
        Self {
            mode: CommentMode::Top,
            ..Self::scroll(text)
        }
    }
    pub fn bottom(text: impl Into<String>) -> Self {
        Self {
            mode: CommentMode::Bottom,
            ..Self::scroll(text)
        }
    }
    pub fn colour(mut self, c: Rgba) -> Self {
        self.colour = c;
        self
    }
    pub fn host(mut self) -> Self {
        self.from_host = true;
        self
    }
    pub fn key(mut self, key: u64) -> Self {
        self.key = Some(key);
        self
    }
}

/// A gift event from the room. `count` is how many arrived in this event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gift {
    pub from: String,
    pub gift: String,
    pub count: u32,
}

/// Tunables, serialisable so a scene can carry them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DanmakuConfig {
    /// Font size of comments in canvas pixels.
    pub font_size: f32,
    /// Seconds a scrolling comment takes from entering on the right to leaving on the left.
    pub scroll_secs: f32,
    /// Seconds a top/bottom comment stays.
    pub fixed_secs: f32,
    /// The danmaku area as fractions of the canvas height (top, bottom): lanes live inside it.
    pub area_top: f32,
    pub area_bottom: f32,
    /// Minimum horizontal gap between consecutive comments in a lane, pixels.
    pub gap_px: u32,
    /// Comments that found no lane wait at most this long, then are dropped (counted).
    pub max_wait_ms: u32,
    /// Waiting comments beyond this are dropped (oldest first, counted).
    pub max_queue: usize,
    /// Most comments on screen at once (scrolling + fixed); more wait in the queue.
    pub max_on_screen: usize,
    /// Characters kept from one comment.
    pub max_chars: usize,
    /// Gift banner: seconds on screen after the last combo, where, how many at once, and the
    /// text with `{name}`, `{gift}` and `{count}` placeholders.
    pub gift_secs: f32,
    pub gift_anchor: Anchor,
    pub gift_margin: u32,
    pub max_banners: usize,
    pub gift_template: String,
    /// Opacity of the whole layer, 0..=1.
    pub opacity: f32,
}

impl Default for DanmakuConfig {
    fn default() -> Self {
        Self {
            font_size: 32.0,
            scroll_secs: 8.0,
            fixed_secs: 4.0,
            area_top: 0.0,
            area_bottom: 0.75,
            gap_px: 24,
            max_wait_ms: 2_000,
            max_queue: 64,
            max_on_screen: 300,
            max_chars: 60,
            gift_secs: 5.0,
            gift_anchor: Anchor::CenterLeft,
            gift_margin: 24,
            max_banners: 3,
            gift_template: "{name} sent {gift} ×{count}".into(),
            opacity: 1.0,
        }
    }
}

/// Counters since the layer was made. Every comment pushed ends up in exactly one of
/// `shown`, `dropped_*`, `retracted_waiting`, or is still `queued`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DanmakuStats {
    pub pushed: u64,
    pub shown: u64,
    /// Dropped because the wait queue was full (the oldest waiting comment goes).
    pub dropped_queue_full: u64,
    /// Dropped after waiting `max_wait_ms` without a free lane.
    pub dropped_waited_too_long: u64,
    /// Dropped because the text was empty after sanitising.
    pub dropped_empty: u64,
    pub queued: usize,
    pub on_screen: usize,
    pub gifts: u64,
    /// Gift events that updated a banner already on screen (combos).
    pub gift_combos: u64,
    /// Deleted by a moderator while waiting for a lane: never shown.
    pub retracted_waiting: u64,
    /// Deleted by a moderator while on screen: taken off (they also count in `shown`).
    pub retracted_on_screen: u64,
}

impl DanmakuStats {
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_waited_too_long + self.dropped_empty
    }
}

/// What a placed sprite is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacedKind {
    Scroll,
    Top,
    Bottom,
    Gift,
}

/// One sprite to blend at (x, y) this frame.
#[derive(Clone, Copy, Debug)]
pub struct Placed<'a> {
    pub sprite: &'a Sprite,
    pub x: i32,
    pub y: i32,
    pub kind: PlacedKind,
    /// The lane (row) for comments; `None` for gift banners.
    pub lane: Option<usize>,
}

#[derive(Debug)]
struct Waiting {
    key: Option<u64>,
    mode: CommentMode,
    sprite: Arc<Sprite>,
    deadline: f64,
}

#[derive(Debug)]
struct Moving {
    key: Option<u64>,
    sprite: Arc<Sprite>,
    lane: usize,
    /// Session time (s) the left edge was at the canvas's right edge.
    start: f64,
    /// Pixels per second.
    speed: f64,
}

#[derive(Clone, Copy, Debug)]
struct Tail {
    start: f64,
    speed: f64,
    width: f64,
}

#[derive(Debug)]
struct Fixed {
    key: Option<u64>,
    sprite: Arc<Sprite>,
    lane: usize,
    mode: CommentMode,
    until: f64,
}

#[derive(Debug)]
struct Banner {
    from: String,
    gift: String,
    count: u64,
    sprite: Arc<Sprite>,
    until: f64,
}

/// The danmaku + gift layer. See the module docs for the rules.
#[derive(Debug)]
pub struct DanmakuLayer {
    cfg: DanmakuConfig,
    width: u32,
    height: u32,
    now: f64,
    moving: Vec<Moving>,
    /// Per lane, the comment that entered it last: the only one a newcomer can run into
    /// (all take the same time to cross, so earlier ones are further ahead and leave first).
    lane_tail: Vec<Option<Tail>>,
    fixed: Vec<Fixed>,
    waiting: VecDeque<Waiting>,
    banners: Vec<Banner>,
    stats: DanmakuStats,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl DanmakuLayer {
    /// A layer for a `width`×`height` canvas (the compositor's output size; changeable later
    /// with [`DanmakuLayer::set_canvas`]).
    pub fn new(cfg: DanmakuConfig, width: u32, height: u32) -> Self {
        Self {
            cfg,
            width,
            height,
            now: 0.0,
            moving: Vec::new(),
            lane_tail: Vec::new(),
            fixed: Vec::new(),
            waiting: VecDeque::new(),
            banners: Vec::new(),
            stats: DanmakuStats::default(),
        }
    }

    pub fn config(&self) -> &DanmakuConfig {
        &self.cfg
    }

    /// Changes the canvas size. Comments on screen are cleared (their speeds and lanes were for
    /// the old size; they are seconds-long anyway); waiting ones and banners stay.
    pub fn set_canvas(&mut self, width: u32, height: u32) {
        if (width, height) == (self.width, self.height) {
            return;
        }
        self.width = width;
        self.height = height;
        self.moving.clear();
        self.fixed.clear();
        self.lane_tail.clear();
    }

    pub fn stats(&self) -> DanmakuStats {
        DanmakuStats {
            queued: self.waiting.len(),
            on_screen: self.moving.len() + self.fixed.len(),
            ..self.stats
        }
    }

    /// Height of one lane in pixels: one line of comment text with its outline and shadow.
    pub fn lane_height(&self) -> u32 {
        TextStyle::sized(self.cfg.font_size)
            .line_sprite_height()
            .max(1)
    }

    fn area(&self) -> (u32, u32) {
        let h = f64::from(self.height);
        let f = |v: f32| {
            if v.is_finite() {
                f64::from(v).clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        let top = (f(self.cfg.area_top) * h).round() as u32;
        let bottom = (f(self.cfg.area_bottom) * h).round() as u32;
        (top, bottom.max(top))
    }

    /// Lanes available in the danmaku area.
    pub fn lane_count(&self) -> usize {
        let (top, bottom) = self.area();
        ((bottom - top) / self.lane_height()) as usize
    }

    /// Top y of `lane` on the canvas.
    pub fn lane_y(&self, lane: usize) -> i32 {
        let (top, _) = self.area();
        (u64::from(top) + lane as u64 * u64::from(self.lane_height())).min(i32::MAX as u64) as i32
    }

    fn scroll_secs(&self) -> f64 {
        let s = f64::from(self.cfg.scroll_secs);
        if s.is_finite() {
            s.clamp(1.0, 60.0)
        } else {
            8.0
        }
    }

    fn fixed_secs(&self) -> f64 {
        let s = f64::from(self.cfg.fixed_secs);
        if s.is_finite() {
            s.clamp(0.5, 60.0)
        } else {
            4.0
        }
    }

    /// Speed of a scrolling sprite `w` pixels wide: it crosses `canvas + w` in `scroll_secs`.
    pub fn speed_for(&self, sprite_width: u32) -> f64 {
        (f64::from(self.width) + f64::from(sprite_width)) / self.scroll_secs()
    }

    /// Adds a comment that arrived at `now` (session clock). It is rasterised here, once
    /// (≈ 0.5 ms for a new string, µs when cached); to keep that off the compositor's tick, a
    /// chat thread can rasterise with its own [`crate::text::TextRenderer`] and
    /// [`DanmakuLayer::comment_style`] and hand the sprite to [`DanmakuLayer::push_sprite`].
    pub fn push(&mut self, comment: &Comment, now: Duration, raster: &mut dyn Rasterize) {
        let text = sanitize(&comment.text, self.cfg.max_chars.clamp(1, 1000));
        if text.trim().is_empty() {
            self.advance(secs(now));
            self.stats.pushed += 1;
            self.stats.dropped_empty += 1;
            return;
        }
        let sprite = raster.rasterize(&text, &self.comment_style(comment));
        self.push_sprite(comment.mode, comment.key, sprite, now);
    }

    /// The text style this layer draws `comment` in (size from the config, the comment's
    /// colour, a gold outline for the host). Same style + same text = same cached sprite.
    pub fn comment_style(&self, comment: &Comment) -> TextStyle {
        let mut style = TextStyle {
            colour: Rgba {
                a: 255,
                ..comment.colour
            },
            ..TextStyle::sized(self.cfg.font_size)
        };
        if comment.from_host {
            // A gold outline marks the host; the lane height stays the same.
            style.outline = Rgba::new(255, 170, 0, 255);
        }
        style
    }

    /// Adds an already rasterised comment (see [`DanmakuLayer::push`]; `key` as in
    /// [`Comment::key`]). A sprite taller than [`DanmakuLayer::lane_height`] overlaps the lane
    /// below; an empty one is dropped (counted).
    pub fn push_sprite(
        &mut self,
        mode: CommentMode,
        key: Option<u64>,
        sprite: Arc<Sprite>,
        now: Duration,
    ) {
        self.advance(secs(now));
        self.stats.pushed += 1;
        if sprite.width() == 0 {
            self.stats.dropped_empty += 1;
            return;
        }
        let w = Waiting {
            key,
            mode,
            sprite,
            deadline: self.now + f64::from(self.cfg.max_wait_ms) / 1000.0,
        };
        // Keep arrival order: only jump the queue when nobody is waiting.
        if self.waiting.is_empty() {
            if let Err(w) = self.place(w) {
                self.enqueue(w);
            }
        } else {
            self.enqueue(w);
            self.drain_waiting();
        }
    }

    /// Takes the comment with this key off the layer: out of the queue, or off the screen at
    /// once (a moderator deleted it; the video must not keep showing it). Returns whether it
    /// was found. A scrolling lane stays as free as if the comment had never entered it.
    pub fn retract(&mut self, key: u64) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.key != Some(key));
        let waiting = (before - self.waiting.len()) as u64;
        let mut lanes = Vec::new();
        self.moving.retain(|m| {
            let hit = m.key == Some(key);
            if hit {
                lanes.push(m.lane);
            }
            !hit
        });
        let before = self.fixed.len();
        self.fixed.retain(|f| f.key != Some(key));
        let on_screen = (lanes.len() + before - self.fixed.len()) as u64;
        for lane in lanes {
            // The lane's tail is now the latest comment still in it (or none).
            let tail = self
                .moving
                .iter()
                .filter(|m| m.lane == lane)
                .max_by(|a, b| a.start.total_cmp(&b.start))
                .map(|m| Tail {
                    start: m.start,
                    speed: m.speed,
                    width: f64::from(m.sprite.width()),
                });
            if let Some(slot) = self.lane_tail.get_mut(lane) {
                *slot = tail;
            }
        }
        self.stats.retracted_waiting += waiting;
        self.stats.retracted_on_screen += on_screen;
        if on_screen > 0 {
            self.drain_waiting();
        }
        waiting + on_screen > 0
    }

    /// Adds a gift event; a combo (same sender and gift while its banner is up) adds to the
    /// banner's count and keeps it up longer.
    pub fn gift(&mut self, gift: &Gift, now: Duration, raster: &mut dyn Rasterize) {
        self.advance(secs(now));
        self.stats.gifts += 1;
        let from = sanitize(&gift.from, 24);
        let name = sanitize(&gift.gift, 24);
        let until = self.now + f64::from(self.cfg.gift_secs).clamp(0.5, 60.0);
        let idx = self
            .banners
            .iter()
            .position(|b| b.from == from && b.gift == name);
        let idx = match idx {
            Some(i) => {
                self.stats.gift_combos += 1;
                self.banners[i].count = self.banners[i].count.saturating_add(u64::from(gift.count));
                self.banners[i].until = until;
                i
            }
            None => {
                if self.banners.len() >= self.cfg.max_banners.max(1) {
                    // Replace the banner that would leave first.
                    if let Some(oldest) = self
                        .banners
                        .iter()
                        .enumerate()
                        .min_by(|a, b| a.1.until.total_cmp(&b.1.until))
                        .map(|(i, _)| i)
                    {
                        self.banners.remove(oldest);
                    }
                }
                self.banners.push(Banner {
                    from,
                    gift: name,
                    count: u64::from(gift.count),
                    sprite: Arc::new(Sprite::empty()),
                    until,
                });
                self.banners.len() - 1
            }
        };
        let b = &self.banners[idx];
        let text = self
            .cfg
            .gift_template
            .replace("{name}", &b.from)
            .replace("{gift}", &b.gift)
            .replace("{count}", &b.count.to_string());
        let style = TextStyle {
            colour: Rgba::GOLD,
            background: Some(Rgba::new(120, 20, 60, 190)),
            ..TextStyle::sized(self.cfg.font_size)
        };
        self.banners[idx].sprite = raster.rasterize(&text, &style);
    }

    /// Advances to `now` and returns every sprite to draw with its position, bottom layer first
    /// (scrolling, then fixed, then gift banners).
    pub fn layout(&mut self, now: Duration) -> impl Iterator<Item = Placed<'_>> + '_ {
        self.advance(secs(now));
        let t = self.now;
        let cw = f64::from(self.width);
        let (width, height) = (self.width, self.height);
        let lane_h = self.lane_height();
        let (top, _) = self.area();
        let scroll = self.moving.iter().map(move |m| {
            let x = (cw - m.speed * (t - m.start)).floor();
            Placed {
                sprite: &m.sprite,
                x: x.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32,
                y: (i64::from(top) + m.lane as i64 * i64::from(lane_h)).min(i64::from(i32::MAX))
                    as i32,
                kind: PlacedKind::Scroll,
                lane: Some(m.lane),
            }
        });
        let fixed = self.fixed.iter().map(move |f| Placed {
            sprite: &f.sprite,
            x: ((i64::from(width) - i64::from(f.sprite.width())) / 2) as i32,
            y: (i64::from(top) + f.lane as i64 * i64::from(lane_h)).min(i64::from(i32::MAX)) as i32,
            kind: if f.mode == CommentMode::Top {
                PlacedKind::Top
            } else {
                PlacedKind::Bottom
            },
            lane: Some(f.lane),
        });
        let anchor = self.cfg.gift_anchor;
        let margin = self.cfg.gift_margin;
        let mut dy = 0i32;
        let gifts = self.banners.iter().map(move |b| {
            let (x, y) = position(
                anchor,
                margin,
                width,
                height,
                b.sprite.width(),
                b.sprite.height(),
            );
            let p = Placed {
                sprite: &b.sprite,
                x,
                y: y.saturating_add(dy),
                kind: PlacedKind::Gift,
                lane: None,
            };
            dy = dy.saturating_add(b.sprite.height() as i32 + 8);
            p
        });
        scroll.chain(fixed).chain(gifts)
    }

    /// Moves time forward (never back), retires what has left, places what waits.
    fn advance(&mut self, now: f64) {
        if now.is_finite() && now > self.now {
            self.now = now;
        }
        let t = self.now;
        let cw = f64::from(self.width);
        self.moving
            .retain(|m| cw - m.speed * (t - m.start) + f64::from(m.sprite.width()) > 0.0);
        self.fixed.retain(|f| f.until > t);
        self.banners.retain(|b| b.until > t);
        self.drain_waiting();
    }

    fn drain_waiting(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        let t = self.now;
        let waiting = std::mem::take(&mut self.waiting);
        for w in waiting {
            if w.deadline < t {
                self.stats.dropped_waited_too_long += 1;
                continue;
            }
            if let Err(w) = self.place(w) {
                self.waiting.push_back(w);
            }
        }
    }

    fn enqueue(&mut self, w: Waiting) {
        if self.waiting.len() >= self.cfg.max_queue.min(MAX_QUEUE) {
            if self.waiting.pop_front().is_some() {
                self.stats.dropped_queue_full += 1;
            }
            if self.cfg.max_queue == 0 {
                self.stats.dropped_queue_full += 1;
                return;
            }
        }
        self.waiting.push_back(w);
    }

    /// Puts a comment on screen now if a lane/row is free for it; gives it back if not.
    fn place(&mut self, w: Waiting) -> Result<(), Waiting> {
        if self.moving.len() + self.fixed.len() >= self.cfg.max_on_screen.min(MAX_ON_SCREEN) {
            return Err(w);
        }
        let lanes = self.lane_count();
        let t = self.now;
        match w.mode {
            CommentMode::Scroll => {
                let speed = self.speed_for(w.sprite.width());
                // Prefer lanes without a top/bottom comment sitting in them; use them if needed.
                let has_fixed = |l: usize| self.fixed.iter().any(|f| f.lane == l);
                let lane = (0..lanes)
                    .find(|&l| !has_fixed(l) && self.scroll_fits(l, speed))
                    .or_else(|| (0..lanes).find(|&l| self.scroll_fits(l, speed)));
                match lane {
                    Some(lane) => {
                        if self.lane_tail.len() < lanes {
                            self.lane_tail.resize(lanes, None);
                        }
                        self.lane_tail[lane] = Some(Tail {
                            start: t,
                            speed,
                            width: f64::from(w.sprite.width()),
                        });
                        self.moving.push(Moving {
                            key: w.key,
                            sprite: w.sprite,
                            lane,
                            start: t,
                            speed,
                        });
                        self.stats.shown += 1;
                        Ok(())
                    }
                    None => Err(w),
                }
            }
            CommentMode::Top | CommentMode::Bottom => {
                let free = |l: &usize| !self.fixed.iter().any(|f| f.lane == *l);
                let lane = if w.mode == CommentMode::Top {
                    (0..lanes).find(free)
                } else {
                    (0..lanes).rev().find(free)
                };
                match lane {
                    Some(lane) => {
                        self.fixed.push(Fixed {
                            key: w.key,
                            sprite: w.sprite,
                            lane,
                            mode: w.mode,
                            until: t + self.fixed_secs(),
                        });
                        self.stats.shown += 1;
                        Ok(())
                    }
                    None => Err(w),
                }
            }
        }
    }

    /// Can a comment moving at `speed` enter `lane` now without touching anyone in it, now or
    /// before they leave? Positions are linear in time, so checking now (with the gap) and the
    /// moment the earlier comment's tail leaves the screen is enough.
    fn scroll_fits(&self, lane: usize, speed: f64) -> bool {
        let t = self.now;
        let cw = f64::from(self.width);
        let gap = f64::from(self.cfg.gap_px);
        let Some(Some(m)) = self.lane_tail.get(lane) else {
            return true;
        };
        let tail_now = cw - m.speed * (t - m.start) + m.width;
        if tail_now + gap > cw {
            return false;
        }
        if speed <= m.speed {
            return true;
        }
        // When does its tail reach x = 0? Our head must not be left of it by then.
        let leave = m.start + (cw + m.width) / m.speed;
        let our_head_then = cw - speed * (leave - t);
        our_head_then >= 0.0
    }
}

#[cfg(test)]
mod tests;
