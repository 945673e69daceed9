//! Overlays burnt into the stream from the app: the settings' [`OverlaySetting`]s ↔ the
//! engine's overlay items (kept in the profile, shared with `marquee live`), and the room's
//! danmaku, gifts and deletions forwarded to the danmaku layer while live.

use crate::error::{AppError, ErrorCode};
use crate::ipc::{OverlayKind, OverlaySetting, RoomEvent};
use marquee_overlay::{Anchor, Comment, CommentMode, Gift, OverlayItem, OverlaySpec, Rgba};
use marquee_studio::{OverlayCmd, OverlayControl};

fn bad(m: String) -> AppError {
    AppError::new(ErrorCode::Settings, m)
}

/// The engine item for a setting; `base` (the profile's item of that id, if any) keeps what
/// the app does not edit (size, colours, margins, scale).
pub fn to_item(s: &OverlaySetting, base: Option<&OverlayItem>) -> Result<OverlayItem, AppError> {
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

/// The setting the app shows for an engine item.
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
) -> Result<Vec<OverlayItem>, AppError> {
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

/// The command that shows a room event on the burnt-in danmaku layer, if it is one: a chat
/// message sent after `since_ms` (wall ms; older history replayed on a reconnect stays off the
/// video), a gift, or a deletion (taken off the video).
pub fn room_command(e: &RoomEvent, since_ms: u64) -> Option<Result<OverlayCmd, u64>> {
    match e {
        RoomEvent::Chat {
            id,
            at,
            user,
            text,
            color,
            mode,
            deleted: false,
            ..
        } if *at >= since_ms => Some(Ok(OverlayCmd::Comment(Comment {
            text: text.clone(),
            colour: Rgba::parse(color).unwrap_or(Rgba::WHITE),
            mode: match mode.as_str() {
                "top" => CommentMode::Top,
                "bottom" => CommentMode::Bottom,
                _ => CommentMode::Scroll,
            },
            from_host: user.role == "host",
            key: Some(*id),
        }))),
        RoomEvent::Gift {
            at,
            user,
            gift,
            count,
            ..
        } if *at >= since_ms => Some(Ok(OverlayCmd::Gift(Gift {
            from: user.name.clone(),
            gift: gift.clone(),
            count: *count,
        }))),
        RoomEvent::ChatDeleted { id } => Some(Err(*id)),
        _ => None,
    }
}

/// Sends a room event to the danmaku layer (see [`room_command`]).
pub fn forward(ctl: &OverlayControl, e: &RoomEvent, since_ms: u64) {
    match room_command(e, since_ms) {
        Some(Ok(cmd)) => {
            let _ = ctl.send(cmd);
        }
        Some(Err(deleted)) => ctl.retract(deleted),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::RoomUser;

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
                .message
                .contains("write the text")
        );
        let mut img = setting("logo", OverlayKind::Image);
        img.image = "/nope/logo.png".into();
        let e = to_items(&[img], &[]).unwrap_err();
        assert!(
            e.message.contains("/nope/logo.png") && e.message.contains("pick the PNG"),
            "{}",
            e.message
        );
        let mut place = setting("title", OverlayKind::Text);
        place.place = "middle".into();
        assert!(
            to_items(&[place], &[])
                .unwrap_err()
                .message
                .contains("tl, tc")
        );
        let twice = [
            setting("a", OverlayKind::Text),
            setting("a", OverlayKind::Danmaku),
        ];
        assert!(
            to_items(&twice, &[])
                .unwrap_err()
                .message
                .contains("rename one")
        );
    }

    #[test]
    fn room_events_become_comments_gifts_and_retractions_and_old_history_stays_off() {
        let user = RoomUser {
            id: "v1".into(),
            name: "小明".into(),
            role: "viewer".into(),
        };
        let chat = |at: u64| RoomEvent::Chat {
            id: 7,
            at,
            user: user.clone(),
            text: "前方高能".into(),
            color: "#ff4f8b".into(),
            mode: "top".into(),
            masked: false,
            deleted: false,
        };
        match room_command(&chat(2_000), 1_000) {
            Some(Ok(OverlayCmd::Comment(c))) => {
                assert_eq!(
                    (c.key, c.mode, c.from_host),
                    (Some(7), CommentMode::Top, false)
                );
                assert_eq!(c.colour, Rgba::parse("#ff4f8b").unwrap());
            }
            _ => panic!("a comment"),
        }
        assert!(
            room_command(&chat(500), 1_000).is_none(),
            "history from before going live"
        );
        assert!(matches!(
            room_command(&RoomEvent::ChatDeleted { id: 7 }, 1_000),
            Some(Err(7))
        ));
        assert!(room_command(&RoomEvent::Viewers { count: 3 }, 0).is_none());
    }
}
