//! `marquee live --overlay ...`: overlays from the command line.

use crate::failure::Failure;
use marquee_overlay::{Anchor, OverlayItem, OverlaySpec};

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
