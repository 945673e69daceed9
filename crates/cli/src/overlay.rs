//! `marquee live --overlay ...` and `--danmaku-from`: overlays from the command line, and
//! a room's danmaku and gifts burnt into the stream.

use crate::Failure;
use marquee_overlay::{Anchor, Comment, CommentMode, Gift, OverlayItem, OverlaySpec, Rgba};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{DanmakuMode, EventBody, Role};
use marquee_studio::{OverlayCmd, OverlayControl};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Parses `ID=text:TEXT[@PLACE]`, `ID=image:PATH[@PLACE][*SCALE]` or `ID=danmaku`.
pub fn parse(spec: &str) -> Result<OverlayItem, Failure> {
    let bad = |why: String| {
        Failure::usage(format!(
            "overlay {spec:?}: {why} (write ID=text:TEXT[@PLACE], ID=image:PATH[@PLACE][*SCALE] or ID=danmaku)"
        ))
    };
    let (id, rest) = spec.split_once('=').ok_or_else(|| bad("no ID=".into()))?;
    let (kind, arg) = rest.split_once(':').unwrap_or((rest, ""));
    let (arg, scale) = match (kind, arg.rsplit_once('*')) {
        ("image", Some((a, s))) => (
            a,
            s.parse::<f32>()
                .ok()
                .filter(|v| *v > 0.0 && *v <= 8.0)
                .ok_or_else(|| bad(format!("scale {s:?} must be a number 0..8")))?,
        ),
        _ => (arg, 1.0),
    };
    let (body, place) = match arg.rsplit_once('@') {
        Some((b, p)) => (b, Anchor::parse(p).map_err(bad)?),
        None => (
            arg,
            if kind == "image" {
                Anchor::TopRight
            } else {
                Anchor::BottomLeft
            },
        ),
    };
    let spec = match kind {
        "text" if !body.is_empty() => OverlaySpec::text(body, 36.0, place),
        "image" if !body.is_empty() => OverlaySpec::image(body, place, scale),
        "danmaku" => OverlaySpec::danmaku(),
        _ => return Err(bad("unknown kind or nothing to show".into())),
    };
    Ok(OverlayItem {
        id: id.trim().to_string(),
        enabled: true,
        spec,
    })
}

/// Follows a room and sends its danmaku and gifts to the overlays, until `stop`.
pub fn follow_room(
    url: String,
    token: Option<String>,
    overlays: OverlayControl,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("marquee: danmaku overlay is off: {e}");
                return;
            }
        };
        rt.block_on(async move {
            let mut cfg = ClientConfig::new(marquee_room::client::ws_url(&url));
            cfg.token = token;
            if cfg.token.is_none() {
                cfg.nickname = Some("marquee-overlay".into());
            }
            let mut client = RoomClient::connect(cfg);
            let mut joined = false;
            while !stop.load(Ordering::Relaxed) {
                let ev = match tokio::time::timeout(Duration::from_millis(200), client.recv()).await
                {
                    Ok(Some(ev)) => ev,
                    Ok(None) => return,
                    Err(_) => continue,
                };
                match ev {
                    ClientEvent::Joined { .. } if !joined => {
                        joined = true;
                        eprintln!("  danmaku overlay: following {url}");
                    }
                    ClientEvent::Event(e) => forward(&overlays, e.body),
                    ClientEvent::Stopped { reason, .. } => {
                        eprintln!("marquee: the room refused the danmaku overlay: {reason}");
                        return;
                    }
                    _ => {}
                }
            }
        });
    })
}

fn forward(overlays: &OverlayControl, body: EventBody) {
    let cmd = match body {
        EventBody::Danmaku {
            id,
            user,
            text,
            color,
            mode,
            deleted: false,
            ..
        } => OverlayCmd::Comment(Comment {
            key: Some(id),
            text,
            colour: Rgba::parse(&color).unwrap_or(Rgba::WHITE),
            mode: match mode {
                DanmakuMode::Scroll => CommentMode::Scroll,
                DanmakuMode::Top => CommentMode::Top,
                DanmakuMode::Bottom => CommentMode::Bottom,
            },
            from_host: user.role == Role::Host,
        }),
        EventBody::MessageDeleted { id, .. } => {
            overlays.retract(id);
            return;
        }
        EventBody::Gift {
            user, gift, combo, ..
        } => OverlayCmd::Gift(Gift {
            from: user.name,
            gift,
            count: combo.max(1),
        }),
        _ => return,
    };
    let _ = overlays.send(cmd);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_flags_parse_with_places_and_scales() {
        let t = parse("title=text:直播中@tr").unwrap();
        assert_eq!(t.id, "title");
        assert!(matches!(
            t.spec,
            OverlaySpec::Text {
                anchor: Anchor::TopRight,
                ..
            }
        ));
        let i = parse("logo=image:/a/b.png@br*0.5").unwrap();
        assert!(
            matches!(i.spec, OverlaySpec::Image { anchor: Anchor::BottomRight, scale, .. } if scale == 0.5)
        );
        assert!(matches!(
            parse("chat=danmaku").unwrap().spec,
            OverlaySpec::Danmaku { .. }
        ));
        let e = parse("x=text:hi@middle").err().unwrap().message;
        assert!(e.contains("tl, tc"), "{e}");
        assert!(parse("nothing").is_err());
    }
}
