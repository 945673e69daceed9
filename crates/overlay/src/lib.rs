//! Overlays burnt into Marquee's outgoing video: text, PNG images, danmaku (bullet chat) and gift
//! banners, drawn onto the compositor's I420 canvas once per output tick.
//!
//! The compositor owns one [`Overlays`] set and calls [`Overlays::draw`] on each canvas it
//! produces. Everything expensive happens once, off the per-frame path:
//!
//! - text is shaped (cosmic-text) and rasterised (swash) into a [`Sprite`] the first time it is
//!   seen, then reused from a bounded LRU cache — a danmaku comment moves, its pixels do not;
//! - sprites are converted to BT.601 limited-range YUV when they are made, so the per-frame
//!   [`blend`] is integer math over row slices;
//! - images are decoded and scaled once, at load.
//!
//! The danmaku layer is sans-IO: time is passed in ([`std::time::Duration`] on the session clock),
//! nothing sleeps or spawns, so lane assignment and expiry are tested step by step.
//!
//! Threads: an [`Overlays`] set is `Send` and is owned by the compositor thread; chat and gift
//! events reach it over a channel and are applied with [`Overlays::push_comment`] /
//! [`Overlays::gift`] before [`Overlays::draw`]. A new comment costs ≈ 0.5 ms to rasterise; a
//! busy room can do that on its own thread ([`Overlays::comment_style`], [`TextRenderer`],
//! [`Overlays::push_comment_sprite`]) so the tick only blends.
//!
//! Fonts are embedded (`assets/fonts/`, see its README): Noto Sans CJK SC (Latin, GB2312 hanzi,
//! kana) and Noto Color Emoji, so the output looks the same on every OS without system fonts.
//!
//! ```no_run
//! use std::time::Duration;
//! use marquee_overlay::{Anchor, Comment, Overlays, OverlaySpec};
//!
//! let mut overlays = Overlays::new();
//! overlays.add("title", OverlaySpec::text("Marquee live 直播中 🎉", 36.0, Anchor::TopLeft))?;
//! overlays.add("chat", OverlaySpec::danmaku())?;
//! let now = Duration::from_millis(1_000);
//! overlays.push_comment("chat", &Comment::scroll("666 主播好 👍"), now)?;
//! let (w, h) = (1280, 720);
//! let mut canvas = vec![16u8; w * h * 3 / 2];
//! overlays.draw(&mut canvas, w as u32, h as u32, now)?;
//! overlays.set_enabled("title", false)?;
//! # Ok::<(), marquee_overlay::OverlayError>(())
//! ```

mod colour;
pub mod danmaku;
mod error;
pub mod image;
mod lru;
mod overlays;
mod sprite;
pub mod text;

pub use colour::Rgba;
pub use danmaku::{
    Comment, CommentMode, DanmakuConfig, DanmakuLayer, DanmakuStats, Gift, Placed, PlacedKind,
};
pub use error::OverlayError;
pub use image::{Anchor, load_png, load_png_bytes, position};
pub use overlays::{OverlayItem, OverlaySpec, Overlays};
pub use sprite::{MAX_SPRITE_SIDE, Sprite, blend, check_canvas};
pub use text::{CacheStats, TextRenderer, TextStyle, sanitize};
