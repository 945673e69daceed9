//! Scenes as data. A scene names the sources on screen and how they are laid out; it is
//! plain serde so profiles save it and the app edits it. Geometry ([`Layout::slots`]) is
//! pure: the compositor asks where each source goes on a canvas of a given size.
//!
//! ```toml
//! [[profiles.show.scenes]]
//! name = "stage"
//! layout = "full"
//! source = "cam1"
//!
//! [[profiles.show.scenes]]
//! name = "duo"
//! layout = "side_by_side"
//! left = "cam1"
//! right = "guest"
//! ```

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which corner a picture-in-picture inset sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    #[default]
    BottomRight,
}

fn default_inset() -> f32 {
    0.3
}

/// How sources fill the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layout", rename_all = "snake_case")]
pub enum Layout {
    /// One source, full frame (letterboxed to keep its aspect).
    Full { source: String },
    /// `main` full frame with `inset` in a corner, `size` × the canvas width (0.1–0.5).
    Pip {
        main: String,
        inset: String,
        #[serde(default)]
        corner: Corner,
        #[serde(default = "default_inset")]
        size: f32,
    },
    /// `main` full frame with up to four `insets` in a row along the bottom, right-aligned
    /// (co-stream guests as pictures-in-picture over the host).
    PipRow { main: String, insets: Vec<String> },
    /// Two sources in halves (a co-stream guest beside the host).
    SideBySide { left: String, right: String },
    /// Up to 9 sources in a near-square grid, row by row.
    Grid { sources: Vec<String> },
}

/// One named scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub name: String,
    #[serde(flatten)]
    pub layout: Layout,
}

/// A rectangle on the canvas in pixels; x, y, width and height are even (I420 chroma).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Where one source goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot<'a> {
    pub source: &'a str,
    pub rect: Rect,
}

/// What is wrong with a scene, said so the user can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SceneError {
    #[error("scene {scene:?} uses source {missing:?}, which is not open (open sources: {known})")]
    UnknownSource {
        scene: String,
        missing: String,
        known: String,
    },
    #[error("scene {scene:?}: {reason}")]
    Invalid { scene: String, reason: String },
    #[error("two scenes are named {0:?}: scene names must be unique")]
    Duplicate(String),
    #[error("{0:?} is neither a scene nor a source (scenes: {1})")]
    NotFound(String, String),
    #[error("bad transition {0:?}: use cut, fade[:MS] or slide[:MS] (MS 1..5000)")]
    BadTransition(String),
    #[error("bad scene {0:?}: {1}")]
    BadSpec(String, String),
}

fn even(v: u32) -> u32 {
    v & !1
}

impl Layout {
    /// The sources this layout shows, in drawing order.
    pub fn sources(&self) -> Vec<&str> {
        match self {
            Layout::Full { source } => vec![source],
            Layout::Pip { main, inset, .. } => vec![main, inset],
            Layout::PipRow { main, insets } => std::iter::once(main)
                .chain(insets)
                .map(String::as_str)
                .collect(),
            Layout::SideBySide { left, right } => vec![left, right],
            Layout::Grid { sources } => sources.iter().map(|s| s.as_str()).collect(),
        }
    }

    /// Where each source goes on a `cw`×`ch` canvas, in drawing order (later on top).
    pub fn slots(&self, cw: u32, ch: u32) -> Vec<Slot<'_>> {
        let full = Rect {
            x: 0,
            y: 0,
            w: even(cw),
            h: even(ch),
        };
        match self {
            Layout::Full { source } => vec![Slot { source, rect: full }],
            Layout::Pip {
                main,
                inset,
                corner,
                size,
            } => {
                let s = size.clamp(0.1, 0.5);
                let w = even((cw as f32 * s) as u32).max(2);
                let h = even((w as u64 * ch as u64 / cw.max(1) as u64) as u32).max(2);
                let m = even(cw / 40);
                let x = match corner {
                    Corner::TopLeft | Corner::BottomLeft => m,
                    _ => even(cw.saturating_sub(w + m)),
                };
                let y = match corner {
                    Corner::TopLeft | Corner::TopRight => m,
                    _ => even(ch.saturating_sub(h + m)),
                };
                vec![
                    Slot {
                        source: main,
                        rect: full,
                    },
                    Slot {
                        source: inset,
                        rect: Rect { x, y, w, h },
                    },
                ]
            }
            Layout::PipRow { main, insets } => {
                let n = insets.len().max(1) as u32;
                let m = even(cw / 40);
                // Each inset a fifth of the width, smaller when four would not fit.
                let w = even((cw / 5).min(cw.saturating_sub(m * (n + 1)) / n)).max(2);
                let h = even((w as u64 * ch as u64 / cw.max(1) as u64) as u32).max(2);
                let row = n * w + (n - 1) * m;
                let x0 = even(cw.saturating_sub(row + m));
                let y = even(ch.saturating_sub(h + m));
                std::iter::once(Slot {
                    source: main,
                    rect: full,
                })
                .chain(insets.iter().enumerate().map(|(i, s)| Slot {
                    source: s,
                    rect: Rect {
                        x: x0 + i as u32 * (w + m),
                        y,
                        w,
                        h,
                    },
                }))
                .collect()
            }
            Layout::SideBySide { left, right } => {
                let w = even(cw / 2);
                vec![
                    Slot {
                        source: left,
                        rect: Rect {
                            x: 0,
                            y: 0,
                            w,
                            h: full.h,
                        },
                    },
                    Slot {
                        source: right,
                        rect: Rect {
                            x: w,
                            y: 0,
                            w: even(cw - w),
                            h: full.h,
                        },
                    },
                ]
            }
            Layout::Grid { sources } => {
                let n = sources.len().max(1) as u32;
                let cols = (1..=n).find(|c| c * c >= n).unwrap_or(1);
                let rows = n.div_ceil(cols);
                let (w, h) = (even(cw / cols), even(ch / rows));
                sources
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let (c, r) = (i as u32 % cols, i as u32 / cols);
                        // A short last row is centred.
                        let in_row = if r == rows - 1 { n - r * cols } else { cols };
                        let x0 = even((cw - in_row * w) / 2);
                        Slot {
                            source: s,
                            rect: Rect {
                                x: x0 + c * w,
                                y: r * h,
                                w,
                                h,
                            },
                        }
                    })
                    .collect()
            }
        }
    }
}

impl Scene {
    /// A full-frame scene named after its source (every open source gets one).
    pub fn full(source: &str) -> Self {
        Scene {
            name: source.to_string(),
            layout: Layout::Full {
                source: source.to_string(),
            },
        }
    }

    /// Checks the scene against the open sources.
    pub fn validate(&self, known: &[&str]) -> Result<(), SceneError> {
        let invalid = |reason: &str| SceneError::Invalid {
            scene: self.name.clone(),
            reason: reason.into(),
        };
        if self.name.trim().is_empty() {
            return Err(invalid("a scene needs a name"));
        }
        if let Layout::Grid { sources } = &self.layout
            && !(1..=9).contains(&sources.len())
        {
            return Err(invalid("a grid holds 1 to 9 sources"));
        }
        if let Layout::PipRow { insets, .. } = &self.layout
            && !(1..=4).contains(&insets.len())
        {
            return Err(invalid("a row of pictures-in-picture holds 1 to 4 insets"));
        }
        if let Layout::Pip { size, .. } = &self.layout
            && !(0.1..=0.5).contains(size)
        {
            return Err(invalid(
                "a picture-in-picture size is 0.1 to 0.5 of the width",
            ));
        }
        for s in self.layout.sources() {
            if !known.contains(&s) {
                return Err(SceneError::UnknownSource {
                    scene: self.name.clone(),
                    missing: s.to_string(),
                    known: known.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Parses the command-line form `NAME=full:SRC`, `NAME=pip:MAIN,INSET[,CORNER[,SIZE]]`,
    /// `NAME=pips:MAIN,A[,B,C,D]`, `NAME=side:LEFT,RIGHT`, `NAME=grid:A,B,...`.
    pub fn parse(spec: &str) -> Result<Scene, SceneError> {
        let bad = |why: &str| SceneError::BadSpec(spec.to_string(), why.to_string());
        let (name, rest) = spec
            .split_once('=')
            .ok_or_else(|| bad("write NAME=LAYOUT:SOURCES, e.g. duo=side:cam1,guest"))?;
        let (kind, args) = rest.split_once(':').unwrap_or((rest, ""));
        let list: Vec<String> = args
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let layout = match (kind, list.as_slice()) {
            ("full", [s]) => Layout::Full { source: s.clone() },
            ("pip", [main, inset, more @ ..]) if more.len() <= 2 => Layout::Pip {
                main: main.clone(),
                inset: inset.clone(),
                corner: match more.first().map(String::as_str) {
                    None | Some("br") => Corner::BottomRight,
                    Some("bl") => Corner::BottomLeft,
                    Some("tr") => Corner::TopRight,
                    Some("tl") => Corner::TopLeft,
                    Some(_) => return Err(bad("the corner is tl, tr, bl or br")),
                },
                size: match more.get(1) {
                    None => default_inset(),
                    Some(v) => v
                        .parse()
                        .map_err(|_| bad("the size is a fraction of the width, e.g. 0.3"))?,
                },
            },
            ("pips", [main, insets @ ..]) if (1..=4).contains(&insets.len()) => Layout::PipRow {
                main: main.clone(),
                insets: insets.to_vec(),
            },
            ("side", [l, r]) => Layout::SideBySide {
                left: l.clone(),
                right: r.clone(),
            },
            ("grid", s) if !s.is_empty() => Layout::Grid {
                sources: s.to_vec(),
            },
            _ => {
                return Err(bad(
                    "layouts are full:SRC, pip:MAIN,INSET[,CORNER[,SIZE]], pips:MAIN,A[,B,C,D], side:LEFT,RIGHT, grid:A,B,...",
                ));
            }
        };
        let s = Scene {
            name: name.trim().to_string(),
            layout,
        };
        if s.name.is_empty() {
            return Err(bad("the scene needs a name before '='"));
        }
        Ok(s)
    }
}

/// How the picture changes from one scene to the next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transition {
    /// On the next frame.
    #[default]
    Cut,
    /// Cross-fade over `ms`.
    Fade { ms: u32 },
    /// The new scene pushes the old one out to the left over `ms`.
    Slide { ms: u32 },
}

impl Transition {
    pub fn duration(&self) -> Duration {
        match self {
            Transition::Cut => Duration::ZERO,
            Transition::Fade { ms } | Transition::Slide { ms } => Duration::from_millis(*ms as u64),
        }
    }

    /// How many output frames it spans at `fps` (at least 1: a cut is one frame).
    pub fn frames(&self, fps: u32) -> u64 {
        let ms = self.duration().as_millis() as u64;
        (ms * fps as u64).div_ceil(1000).max(1)
    }
}

impl std::str::FromStr for Transition {
    type Err = SceneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, ms) = s.split_once(':').unwrap_or((s, ""));
        let ms = if ms.is_empty() {
            300
        } else {
            match ms.trim_end_matches("ms").parse::<u32>() {
                Ok(v) if (1..=5000).contains(&v) => v,
                _ => return Err(SceneError::BadTransition(s.to_string())),
            }
        };
        match kind {
            "cut" => Ok(Transition::Cut),
            "fade" => Ok(Transition::Fade { ms }),
            "slide" => Ok(Transition::Slide { ms }),
            _ => Err(SceneError::BadTransition(s.to_string())),
        }
    }
}

impl std::fmt::Display for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transition::Cut => write!(f, "cut"),
            Transition::Fade { ms } => write!(f, "fade:{ms}"),
            Transition::Slide { ms } => write!(f, "slide:{ms}"),
        }
    }
}

/// The full set a session starts with: scene list (every source also gets a full-frame
/// scene named after it) and which one is on air first.
pub fn complete(sources: &[&str], mut scenes: Vec<Scene>) -> Result<Vec<Scene>, SceneError> {
    for s in sources {
        if !scenes.iter().any(|x| x.name == *s) {
            scenes.push(Scene::full(s));
        }
    }
    for (i, s) in scenes.iter().enumerate() {
        s.validate(sources)?;
        if scenes[..i].iter().any(|x| x.name == s.name) {
            return Err(SceneError::Duplicate(s.name.clone()));
        }
    }
    Ok(scenes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(r: Rect, cw: u32, ch: u32) -> bool {
        r.x + r.w <= cw
            && r.y + r.h <= ch
            && [r.x, r.y, r.w, r.h].iter().all(|v| v.is_multiple_of(2))
    }

    #[test]
    fn every_layout_places_even_rectangles_inside_the_canvas() {
        let names: Vec<String> = (0..9).map(|i| format!("s{i}")).collect();
        for (cw, ch) in [(1280, 720), (1920, 1080), (320, 180), (854, 480)] {
            let mut layouts = vec![
                Layout::Full { source: "a".into() },
                Layout::SideBySide {
                    left: "a".into(),
                    right: "b".into(),
                },
            ];
            for corner in [
                Corner::TopLeft,
                Corner::TopRight,
                Corner::BottomLeft,
                Corner::BottomRight,
            ] {
                layouts.push(Layout::Pip {
                    main: "a".into(),
                    inset: "b".into(),
                    corner,
                    size: 0.3,
                });
            }
            for n in 1..=9 {
                layouts.push(Layout::Grid {
                    sources: names[..n].to_vec(),
                });
            }
            for n in 1..=4 {
                layouts.push(Layout::PipRow {
                    main: "a".into(),
                    insets: names[..n].to_vec(),
                });
            }
            for l in &layouts {
                let slots = l.slots(cw, ch);
                assert_eq!(slots.len(), l.sources().len());
                for s in slots {
                    assert!(inside(s.rect, cw, ch), "{l:?} {cw}x{ch}: {:?}", s.rect);
                }
            }
        }
    }

    #[test]
    fn a_row_of_insets_sits_bottom_right_without_overlapping() {
        let s = Scene::parse("talk=pips:host,guest1,guest2,guest3,guest4").unwrap();
        let slots = s.layout.slots(1280, 720);
        assert_eq!(
            slots[0].rect,
            Rect {
                x: 0,
                y: 0,
                w: 1280,
                h: 720
            }
        );
        let insets = &slots[1..];
        assert_eq!(insets.len(), 4);
        for pair in insets.windows(2) {
            assert!(pair[0].rect.x + pair[0].rect.w < pair[1].rect.x, "{pair:?}");
        }
        let last = insets[3].rect;
        assert_eq!(last.x + last.w + 32, 1280, "right-aligned with the margin");
        assert_eq!(last.y + last.h + 32, 720, "along the bottom");
        assert_eq!(last.w * 720 / 1280, last.h, "the canvas aspect");
        assert!(Scene::parse("x=pips:host").is_err());
        assert!(Scene::parse("x=pips:h,a,b,c,d,e").is_err());
    }

    #[test]
    fn grid_cells_never_overlap_and_a_short_last_row_is_centred() {
        let l = Layout::Grid {
            sources: ["a", "b", "c"].map(String::from).to_vec(),
        };
        let s = l.slots(1280, 720);
        assert_eq!(
            s[0].rect,
            Rect {
                x: 0,
                y: 0,
                w: 640,
                h: 360
            }
        );
        assert_eq!(s[1].rect.x, 640);
        assert_eq!(
            s[2].rect,
            Rect {
                x: 320,
                y: 360,
                w: 640,
                h: 360
            }
        );
    }

    #[test]
    fn pip_inset_sits_in_its_corner_with_the_canvas_aspect() {
        let l = Layout::Pip {
            main: "a".into(),
            inset: "b".into(),
            corner: Corner::BottomRight,
            size: 0.25,
        };
        let r = l.slots(1280, 720)[1].rect;
        assert_eq!((r.w, r.h), (320, 180));
        assert_eq!((r.x + r.w + 32, r.y + r.h + 32), (1280, 720));
    }

    #[test]
    fn scenes_round_trip_through_toml_and_json() {
        let scenes = vec![
            Scene::parse("stage=full:cam1").unwrap(),
            Scene::parse("duo=side:cam1,guest").unwrap(),
            Scene::parse("pip=pip:cam1,cam2,tl,0.25").unwrap(),
            Scene::parse("all=grid:cam1,cam2,guest").unwrap(),
        ];
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct P {
            scenes: Vec<Scene>,
        }
        let p = P { scenes };
        let t = toml::to_string(&p).unwrap();
        assert!(t.contains("layout = \"side_by_side\""), "{t}");
        assert_eq!(toml::from_str::<P>(&t).unwrap(), p);
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<P>(&j).unwrap(), p);
    }

    #[test]
    fn bad_scenes_say_what_to_write() {
        let e = Scene::parse("x=pip:a").unwrap_err().to_string();
        assert!(e.contains("pip:MAIN,INSET"), "{e}");
        let e = Scene::parse("full:a").unwrap_err().to_string();
        assert!(e.contains("NAME=LAYOUT"), "{e}");
        let e = complete(&["a"], vec![Scene::parse("x=side:a,b").unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"b\"") && e.contains("open sources: a"), "{e}");
        let e = complete(
            &["a"],
            vec![
                Scene::parse("x=full:a").unwrap(),
                Scene::parse("x=full:a").unwrap(),
            ],
        )
        .unwrap_err();
        assert_eq!(e, SceneError::Duplicate("x".into()));
    }

    #[test]
    fn every_source_gets_a_full_scene_named_after_it() {
        let s = complete(&["a", "b"], vec![Scene::parse("duo=side:a,b").unwrap()]).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["duo", "a", "b"]);
    }

    #[test]
    fn transitions_parse_and_span_whole_frames() {
        assert_eq!("cut".parse::<Transition>().unwrap(), Transition::Cut);
        assert_eq!(
            "fade".parse::<Transition>().unwrap(),
            Transition::Fade { ms: 300 }
        );
        let t: Transition = "slide:500ms".parse().unwrap();
        assert_eq!(t, Transition::Slide { ms: 500 });
        assert_eq!(t.frames(30), 15);
        assert_eq!(Transition::Cut.frames(30), 1);
        assert_eq!(Transition::Fade { ms: 10 }.frames(30), 1);
        assert!("wipe".parse::<Transition>().is_err());
        assert!("fade:0".parse::<Transition>().is_err());
    }
}
