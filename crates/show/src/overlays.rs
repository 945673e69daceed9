//! Overlays as a settings form edits them (the app's overlay list): a form's
//! [`OverlaySetting`]s ↔ the engine's overlay items, which the profile keeps in full (shared
//! with `marquee live`): a form touches the text, the image, the place and whether it shows,
//! and an edit keeps the rest of the profile's item (size, colours, margins, scale). The
//! room's danmaku reach the danmaku layer through [`crate::audience`].

use crate::error::ShowError;
use marquee_overlay::{Anchor, OverlayItem, OverlaySpec};

/// An overlay as a form shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlaySetting {
    /// Unique, e.g. `title`, `logo`, `danmaku`.
    pub id: String,
    pub kind: OverlayKind,
    /// The text of a text overlay.
    pub text: String,
    /// The PNG of an image overlay.
    pub image: String,
    /// Where: `tl`, `tc`, `tr`, `cl`, `c`, `cr`, `bl`, `bc`, `br` (text and image).
    pub place: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayKind {
    Text,
    Image,
    /// The room's danmaku and gift banners.
    Danmaku,
}

fn bad(m: String) -> ShowError {
    ShowError::Settings(m)
}

/// The engine item for a setting; `base` (the profile's item of that id, if any) keeps what
/// the app does not edit (size, colours, margins, scale).
pub fn to_item(s: &OverlaySetting, base: Option<&OverlayItem>) -> Result<OverlayItem, ShowError> {
    let id = s.id.trim();
    if id.is_empty() {
        return Err(bad("an overlay needs a name".into()));
    }
    let place = || Anchor::parse(&s.place).map_err(|e| bad(format!("overlay {id}: {e}")));
    let base = base.map(|b| &b.spec);
    let spec = match s.kind {
        OverlayKind::Text => {
            let text = s.text.trim();
            if text.is_empty() {
                return Err(bad(format!("overlay {id}: write the text to show")));
            }
            match base {
                Some(OverlaySpec::Text {
                    size,
                    colour,
                    background,
                    margin,
                    opacity,
                    ..
                }) => OverlaySpec::Text {
                    text: text.into(),
                    size: *size,
                    colour: *colour,
                    background: *background,
                    anchor: place()?,
                    margin: *margin,
                    opacity: *opacity,
                },
                _ => OverlaySpec::text(text, 36.0, place()?),
            }
        }
        OverlayKind::Image => {
            let path = s.image.trim();
            if path.is_empty() {
                return Err(bad(format!("overlay {id}: pick a PNG image")));
            }
            if !std::path::Path::new(path).is_file() {
                return Err(bad(format!(
                    "overlay {id}: {path} is not there: pick the PNG again or remove the overlay"
                )));
            }
            match base {
                Some(OverlaySpec::Image {
                    margin,
                    scale,
                    opacity,
                    ..
                }) => OverlaySpec::Image {
                    path: path.into(),
                    anchor: place()?,
                    margin: *margin,
                    scale: *scale,
                    opacity: *opacity,
                },
                _ => OverlaySpec::image(path, place()?, 1.0),
            }
        }
        OverlayKind::Danmaku => match base {
            Some(d @ OverlaySpec::Danmaku { .. }) => d.clone(),
            _ => OverlaySpec::danmaku(),
        },
    };
    Ok(OverlayItem {
        id: id.into(),
        enabled: s.enabled,
        spec,
    })
}

/// The setting a form shows for an engine item.
pub fn from_item(i: &OverlayItem) -> OverlaySetting {
    let place = |a: &Anchor| a.short().unwrap_or("tl").to_string();
    let (kind, text, image, place) = match &i.spec {
        OverlaySpec::Text { text, anchor, .. } => (
            OverlayKind::Text,
            text.clone(),
            String::new(),
            place(anchor),
        ),
        OverlaySpec::Image { path, anchor, .. } => (
            OverlayKind::Image,
            String::new(),
            path.display().to_string(),
            place(anchor),
        ),
        OverlaySpec::Danmaku { .. } => (
            OverlayKind::Danmaku,
            String::new(),
            String::new(),
            "tl".into(),
        ),
    };
    OverlaySetting {
        id: i.id.clone(),
        kind,
        text,
        image,
        place,
        enabled: i.enabled,
    }
}

/// The items for `settings`, each keeping the rest of the profile's item of its id.
pub fn to_items(
    settings: &[OverlaySetting],
    profile: &[OverlayItem],
) -> Result<Vec<OverlayItem>, ShowError> {
    let mut out: Vec<OverlayItem> = Vec::with_capacity(settings.len());
    for s in settings {
        if out.iter().any(|i| i.id == s.id.trim()) {
            return Err(bad(format!(
                "two overlays are named {:?}: rename one",
                s.id
            )));
        }
        let base = profile
            .iter()
            .find(|i| i.id == s.id.trim() && kind_of(i) == s.kind);
        out.push(to_item(s, base)?);
    }
    Ok(out)
}

fn kind_of(i: &OverlayItem) -> OverlayKind {
    match i.spec {
        OverlaySpec::Text { .. } => OverlayKind::Text,
        OverlaySpec::Image { .. } => OverlayKind::Image,
        OverlaySpec::Danmaku { .. } => OverlayKind::Danmaku,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marquee_overlay::Rgba;

    fn setting(id: &str, kind: OverlayKind) -> OverlaySetting {
        OverlaySetting {
            id: id.into(),
            kind,
            text: "直播中".into(),
            image: String::new(),
            place: "tr".into(),
            enabled: true,
        }
    }

    #[test]
    fn settings_round_trip_and_keep_the_profiles_styling() {
        let mut styled = OverlayItem {
            id: "title".into(),
            enabled: true,
            spec: OverlaySpec::text("old", 60.0, Anchor::BottomLeft),
        };
        if let OverlaySpec::Text { colour, .. } = &mut styled.spec {
            *colour = Rgba::GOLD;
        }
        let items = to_items(
            &[
                setting("title", OverlayKind::Text),
                setting("chat", OverlayKind::Danmaku),
            ],
            &[styled],
        )
        .unwrap();
        match &items[0].spec {
            OverlaySpec::Text {
                text,
                size,
                colour,
                anchor,
                ..
            } => {
                assert_eq!(text, "直播中");
                assert_eq!(
                    (*size, *colour, *anchor),
                    (60.0, Rgba::GOLD, Anchor::TopRight)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(from_item(&items[0]), setting("title", OverlayKind::Text));
        assert_eq!(from_item(&items[1]).kind, OverlayKind::Danmaku);
    }

    #[test]
    fn bad_overlays_say_what_to_fix() {
        let mut empty = setting("title", OverlayKind::Text);
        empty.text = " ".into();
        assert!(
            to_items(&[empty], &[])
                .unwrap_err()
                .to_string()
                .contains("write the text")
        );
        let mut img = setting("logo", OverlayKind::Image);
        img.image = "/nope/logo.png".into();
        let e = to_items(&[img], &[]).unwrap_err();
        assert!(
            e.to_string().contains("/nope/logo.png") && e.to_string().contains("pick the PNG"),
            "{e}"
        );
        let mut place = setting("title", OverlayKind::Text);
        place.place = "middle".into();
        assert!(
            to_items(&[place], &[])
                .unwrap_err()
                .to_string()
                .contains("tl, tc")
        );
        let twice = [
            setting("a", OverlayKind::Text),
            setting("a", OverlayKind::Danmaku),
        ];
        assert!(
            to_items(&twice, &[])
                .unwrap_err()
                .to_string()
                .contains("rename one")
        );
    }
}
