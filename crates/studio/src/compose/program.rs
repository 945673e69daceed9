//! The program picture: which sources are on air, laid out by the current scene, and the
//! transition between scenes. Sans-IO: the compositor thread feeds frames, device states
//! and switch requests in, and asks for the picture of each tick; tests drive it with
//! made-up times and check every output frame.
//!
//! Switching never breaks cadence: every source is read every tick whether on air or
//! not, so a switch shows the new source's frame due for that very tick (no warm-up, no
//! repeated or skipped frame), and a switch requested before tick N is on air at tick N.

use super::canvas::{Canvas, Letterbox};
use super::selector::{FrameSelector, Pick};
use crate::error::StudioError;
use marquee_capture::{FrameBuf, FramePool};
use marquee_capture::{PixelFormat, VideoFrame};
use marquee_scene::{Layout, Rect, Scene, SceneError, Transition};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The latest picture of a source.
#[derive(Debug, Clone)]
struct Picture {
    format: PixelFormat,
    width: u32,
    height: u32,
    data: Arc<FrameBuf>,
    captured: Duration,
}

impl Picture {
    fn of(f: VideoFrame) -> Self {
        Picture {
            format: f.format,
            width: f.width,
            height: f.height,
            data: Arc::new(f.data),
            captured: f.captured,
        }
    }
}

struct Input {
    id: String,
    selector: FrameSelector,
    picture: Option<Picture>,
    /// Showing the slate (no frames for the lost-after time, or the device said so).
    lost: bool,
    /// The device reported itself unplugged: slate as soon as its frames run out.
    device_lost: bool,
    fresh: bool,
    changed: bool,
}

/// A switch on its way to air.
#[derive(Debug, Clone)]
pub struct SwitchRequest {
    /// A scene name, or a source id (its full-frame scene).
    pub target: String,
    pub transition: Transition,
    /// Session time the host asked, for the "on air within a frame" check.
    pub requested_at: Duration,
    /// Director mode asked, not the host.
    pub by_director: bool,
}

/// Something the session reports while rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    SourceLost(String),
    SourceBack(String),
    Switched {
        scene: String,
        transition: Transition,
        requested_at: Duration,
        tick: u64,
        by_director: bool,
    },
}

/// One tick's picture.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub data: Arc<FrameBuf>,
    /// Capture time of the newest source frame in it (the tick if none is new).
    pub captured: Duration,
    /// Something on screen changed (else the previous picture is repeated).
    pub new: bool,
    /// Some slot shows the "camera lost" slate.
    pub slate: bool,
}

struct Active {
    from: usize,
    kind: Transition,
    start: u64,
    frames: u64,
}

/// The program: sources, scenes, the scene on air and a transition in progress.
pub struct Program {
    width: u32,
    height: u32,
    fps: u32,
    inputs: Vec<Input>,
    scenes: Vec<Scene>,
    /// Per scene: (input, rectangle) in drawing order.
    plans: Vec<Vec<(usize, Rect)>>,
    current: usize,
    transition: Option<Active>,
    a: Canvas,
    b: Canvas,
    drawn: [Option<usize>; 2],
    boxes: HashMap<(usize, Rect, u8), Letterbox>,
    slate: Option<Picture>,
    out: Arc<FrameBuf>,
    /// The program's own pictures (layouts, transitions) are reused, not allocated per tick.
    pool: FramePool,
    first: bool,
    /// Switch requests replaced by a later one before they reached air.
    pub superseded_switches: u64,
}

impl Program {
    /// `sources` are the ids of the open sources in input order; `scenes` is completed
    /// with a full-frame scene per source. `start` names the first scene on air (default:
    /// the first scene).
    pub fn new(
        width: u32,
        height: u32,
        fps: u32,
        sources: &[String],
        scenes: Vec<Scene>,
        start: Option<&str>,
        lost_after: Duration,
    ) -> Result<Self, StudioError> {
        let ids: Vec<&str> = sources.iter().map(String::as_str).collect();
        let scenes = marquee_scene::complete(&ids, scenes).map_err(scene_err)?;
        let plans = scenes
            .iter()
            .map(|s| {
                s.layout
                    .slots(width, height)
                    .into_iter()
                    .map(|slot| {
                        let i = ids.iter().position(|x| *x == slot.source).unwrap_or(0);
                        (i, slot.rect)
                    })
                    .collect()
            })
            .collect();
        let current = match start {
            None => 0,
            Some(name) => find(&scenes, name)?,
        };
        let a = Canvas::black(width, height);
        let out = Arc::new(FrameBuf::from(a.data.clone()));
        Ok(Program {
            width,
            height,
            fps: fps.max(1),
            inputs: sources
                .iter()
                .map(|id| Input {
                    id: id.clone(),
                    selector: FrameSelector::new(lost_after),
                    picture: None,
                    lost: false,
                    device_lost: false,
                    fresh: false,
                    changed: false,
                })
                .collect(),
            scenes,
            plans,
            current,
            transition: None,
            b: a.clone(),
            a,
            drawn: [None, None],
            boxes: HashMap::new(),
            slate: None,
            out,
            pool: FramePool::new(marquee_capture::pool::SOURCE_KEEP),
            first: true,
            superseded_switches: 0,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The scenes (with the per-source full scenes added).
    pub fn scenes(&self) -> &[Scene] {
        &self.scenes
    }

    /// The scene on air (the target of a transition in progress).
    pub fn current(&self) -> &Scene {
        &self.scenes[self.current]
    }

    /// Source ids in input order.
    pub fn sources(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.id.clone()).collect()
    }

    /// A frame arrived from input `i`.
    pub fn offer(&mut self, i: usize, f: VideoFrame) {
        if let Some(inp) = self.inputs.get_mut(i) {
            inp.selector.offer(f);
        }
    }

    /// The device of input `i` says it is unplugged (or back).
    pub fn device_lost(&mut self, i: usize, lost: bool) {
        if let Some(inp) = self.inputs.get_mut(i) {
            inp.device_lost = lost;
        }
    }

    /// Frames never shown because a newer one was due, over all inputs.
    pub fn superseded_frames(&self) -> u64 {
        self.inputs.iter().map(|i| i.selector.superseded).sum()
    }

    /// Puts a scene on air from tick `tick` on. A transition in progress is finished at
    /// once (its target becomes the starting point of the new one).
    pub fn switch(&mut self, req: &SwitchRequest, tick: u64) -> Result<Note, StudioError> {
        let to = find(&self.scenes, &req.target)?;
        let from = self.current;
        self.current = to;
        self.transition = match req.transition {
            Transition::Cut => None,
            _ if from == to => None,
            kind => Some(Active {
                from,
                kind,
                start: tick,
                frames: kind.frames(self.fps),
            }),
        };
        self.first = true;
        Ok(Note::Switched {
            scene: self.scenes[to].name.clone(),
            transition: req.transition,
            requested_at: req.requested_at,
            tick,
            by_director: req.by_director,
        })
    }

    /// The picture for tick `n` at session time `tick`; `notes` gets lost/back changes.
    pub fn render(&mut self, n: u64, tick: Duration, notes: &mut Vec<Note>) -> Rendered {
        let mut newest: Option<Duration> = None;
        for inp in &mut self.inputs {
            inp.fresh = false;
            inp.changed = false;
            match inp.selector.pick(tick) {
                Pick::New(f) => {
                    inp.picture = Some(Picture::of(f));
                    inp.fresh = true;
                    if inp.lost {
                        inp.lost = false;
                        inp.changed = true;
                        notes.push(Note::SourceBack(inp.id.clone()));
                    }
                }
                Pick::Repeat if !inp.device_lost => {}
                Pick::Repeat | Pick::Slate => {
                    if !inp.lost {
                        inp.lost = true;
                        inp.changed = true;
                        notes.push(Note::SourceLost(inp.id.clone()));
                    }
                }
            }
        }
        let active = self.transition.as_ref().map(|t| t.from);
        let visible = |p: &Vec<(usize, Rect)>| p.iter().map(|(i, _)| *i).collect::<Vec<_>>();
        let mut on_screen = visible(&self.plans[self.current]);
        if let Some(from) = active {
            on_screen.extend(visible(&self.plans[from]));
        }
        let slate = on_screen.iter().any(|&i| self.inputs[i].lost);
        for &i in &on_screen {
            let inp = &self.inputs[i];
            if inp.fresh {
                newest = newest.max(inp.picture.as_ref().map(|p| p.captured));
            }
        }
        let changed = self.first
            || active.is_some()
            || on_screen
                .iter()
                .any(|&i| self.inputs[i].fresh || self.inputs[i].changed);
        if !changed {
            return Rendered {
                data: self.out.clone(),
                captured: tick,
                new: false,
                slate,
            };
        }
        self.first = false;
        match self.transition.take() {
            None => {
                self.out = self.draw_alone(self.current);
            }
            Some(t) => {
                let k = n.saturating_sub(t.start) + 1;
                let p = (k as f32 / t.frames as f32).min(1.0);
                self.draw(t.from, 0);
                self.draw(self.current, 1);
                // Every byte is written below (a reused buffer holds an older picture).
                let mut mix = self.pool.take(self.a.data.len());
                match t.kind {
                    Transition::Slide { .. } => slide(&self.a, &self.b, p, &mut mix),
                    _ => fade(&self.a.data, &self.b.data, p, &mut mix),
                }
                self.out = Arc::new(mix);
                if k < t.frames {
                    self.transition = Some(t);
                }
            }
        }
        Rendered {
            data: self.out.clone(),
            captured: newest.unwrap_or(tick),
            new: true,
            slate,
        }
    }

    /// A scene on its own; a full-frame source of the canvas size is passed on uncopied.
    fn draw_alone(&mut self, scene: usize) -> Arc<FrameBuf> {
        if let Some(p) = self.passed_on(scene) {
            return p;
        }
        self.draw(scene, 0);
        Arc::new(self.pool.copy_of(&self.a.data))
    }

    /// A full-frame scene whose source already has the canvas's size and format.
    fn passed_on(&self, scene: usize) -> Option<Arc<FrameBuf>> {
        let Layout::Full { .. } = self.scenes[scene].layout else {
            return None;
        };
        let inp = &self.inputs[self.plans[scene].first()?.0];
        match &inp.picture {
            Some(p)
                if !inp.lost
                    && p.format == PixelFormat::I420
                    && (p.width, p.height) == (self.width, self.height)
                    && p.data.len() == self.a.data.len() =>
            {
                Some(p.data.clone())
            }
            _ => None,
        }
    }

    /// Scene `name` alone as it stands now, whatever is on air (the co-stream guests' view of
    /// the host's camera). Drawn on the transition canvas, so the program's stays as it is.
    pub fn view(&mut self, name: &str) -> Option<Arc<FrameBuf>> {
        let scene = self.scenes.iter().position(|s| s.name == name)?;
        if let Some(p) = self.passed_on(scene) {
            return Some(p);
        }
        self.draw(scene, 1);
        Some(Arc::new(self.pool.copy_of(&self.b.data)))
    }

    /// Draws `scene` into canvas a (`which` = 0) or b (1).
    fn draw(&mut self, scene: usize, which: u8) {
        let canvas = if which == 0 { &mut self.a } else { &mut self.b };
        if self.drawn[which as usize] != Some(scene) {
            *canvas = Canvas::black(self.width, self.height);
            self.drawn[which as usize] = Some(scene);
        }
        if self.boxes.len() > 64 {
            self.boxes.clear();
        }
        for &(i, rect) in &self.plans[scene] {
            let inp = &self.inputs[i];
            let pic = match (&inp.picture, inp.lost) {
                (Some(p), false) => p,
                // Not delivered yet (a camera still opening): the slot stays black; "camera
                // lost" only once the source is lost (it said so, or a second without frames).
                (None, false) => continue,
                _ => self.slate.get_or_insert_with(|| {
                    let c = super::canvas::slate(self.width, self.height);
                    Picture {
                        format: PixelFormat::I420,
                        width: c.width,
                        height: c.height,
                        data: Arc::new(c.data.into()),
                        captured: Duration::ZERO,
                    }
                }),
            };
            let lb = self.boxes.entry((i, rect, which)).or_default();
            if lb
                .draw_in(pic.format, pic.width, pic.height, &pic.data, canvas, rect)
                .is_err()
            {
                // An unusable frame (corrupt JPEG): the slot keeps its last picture.
                tracing::debug!("source {} sent an unusable frame", inp.id);
            }
        }
    }
}

fn scene_err(e: SceneError) -> StudioError {
    StudioError::Settings(e.to_string())
}

fn find(scenes: &[Scene], name: &str) -> Result<usize, StudioError> {
    scenes.iter().position(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = scenes.iter().map(|s| s.name.as_str()).collect();
        scene_err(SceneError::NotFound(name.to_string(), names.join(", ")))
    })
}

/// Cross-fade: `p` of the way from `a` to `b`.
fn fade(a: &[u8], b: &[u8], p: f32, out: &mut [u8]) {
    let t = (p * 256.0).round() as u32;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = ((x as u32 * (256 - t) + y as u32 * t + 128) >> 8) as u8;
    }
}

/// Slide: `b` enters from the right edge pushing `a` out to the left; `p` of the way.
fn slide(a: &Canvas, b: &Canvas, p: f32, out: &mut [u8]) {
    let (w, h) = (a.width as usize, a.height as usize);
    let shift = ((p * w as f32) as usize & !1).min(w);
    let mut base = 0;
    for (pw, ph, s) in [
        (w, h, shift),
        (w / 2, h / 2, shift / 2),
        (w / 2, h / 2, shift / 2),
    ] {
        for y in 0..ph {
            let row = base + y * pw;
            out[row..row + pw - s].copy_from_slice(&a.data[row + s..row + pw]);
            out[row + pw - s..row + pw].copy_from_slice(&b.data[row..row + s]);
        }
        base += pw * ph;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marquee_capture::pattern::{read_code, render_i420};

    const W: u32 = 320;
    const H: u32 = 180;
    const FPS: u64 = 30;

    fn tick(n: u64) -> Duration {
        Duration::from_nanos(n * 1_000_000_000 / FPS)
    }

    /// Frame `n` of test card `card` (codes count from card × 1,000,000).
    fn card_frame(card: u64, n: u64, w: u32, h: u32) -> VideoFrame {
        let mut data = Vec::new();
        render_i420(
            &mut data,
            w,
            h,
            card * 1_000_000 + n,
            tick(n).as_millis() as u64,
        );
        VideoFrame {
            width: w,
            height: h,
            format: PixelFormat::I420,
            data: data.into(),
            captured: tick(n),
            seq: n,
        }
    }

    fn code(r: &Rendered) -> Option<(u64, u64)> {
        read_code(&r.data, W as usize, W, H).map(|c| (c.index / 1_000_000, c.index % 1_000_000))
    }

    fn program(scenes: Vec<Scene>) -> Program {
        sized(scenes, W, H)
    }

    fn sized(scenes: Vec<Scene>, w: u32, h: u32) -> Program {
        let ids = ["a", "b", "c"].map(String::from);
        Program::new(w, h, FPS as u32, &ids, scenes, None, Duration::from_secs(1)).unwrap()
    }

    /// The code in the `r` rectangle of a `cw`-wide I420 picture.
    fn code_in(data: &[u8], cw: u32, r: Rect) -> Option<u64> {
        let mut luma = Vec::new();
        for y in 0..r.h as usize {
            let row = (r.y as usize + y) * cw as usize + r.x as usize;
            luma.extend_from_slice(&data[row..row + r.w as usize]);
        }
        read_code(&luma, r.w as usize, r.w, r.h).map(|c| c.index)
    }

    fn distance(a: &[u8], b: &[u8]) -> u64 {
        a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum()
    }

    #[test]
    fn a_thousand_cuts_never_drop_or_repeat_a_frame_and_each_is_on_air_at_the_next_tick() {
        let mut p = program(vec![]);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut notes = Vec::new();
        let mut switches = 0;
        let mut want_card = 1; // scene "a" = card 1
        let mut n = 0;
        while switches < 1000 {
            for (i, card) in [(0, 1), (1, 2), (2, 3)] {
                p.offer(i, card_frame(card, n, W, H));
            }
            // Between ticks, sometimes switch (to any source, possibly the same one).
            if n > 0 && rng.u8(..3) == 0 {
                let target = ["a", "b", "c"][rng.usize(..3)];
                p.switch(
                    &SwitchRequest {
                        target: target.into(),
                        transition: Transition::Cut,
                        requested_at: tick(n) - Duration::from_millis(1),
                        by_director: false,
                    },
                    n,
                )
                .unwrap();
                want_card = 1 + ["a", "b", "c"].iter().position(|x| *x == target).unwrap() as u64;
                switches += 1;
            }
            let r = p.render(n, tick(n), &mut notes);
            assert!(r.new, "tick {n} repeated a picture");
            assert_eq!(code(&r), Some((want_card, n)), "tick {n}");
            n += 1;
        }
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_fade_starts_on_the_next_tick_and_ends_on_the_new_scene_after_its_frames() {
        let mut p = program(vec![]);
        let mut notes = Vec::new();
        let mut last = u64::MAX;
        for n in 0..30 {
            for (i, card) in [(0, 1), (1, 2)] {
                p.offer(i, card_frame(card, n, W, H));
            }
            if n == 10 {
                p.switch(
                    &SwitchRequest {
                        target: "b".into(),
                        transition: Transition::Fade { ms: 200 },
                        requested_at: tick(10),
                        by_director: false,
                    },
                    10,
                )
                .unwrap();
            }
            let r = p.render(n, tick(n), &mut notes);
            let (a, b) = (card_frame(1, n, W, H).data, card_frame(2, n, W, H).data);
            match n {
                0..10 => assert_eq!(code(&r), Some((1, n))),
                // 200 ms at 30 fps = 6 frames: 10..=14 mix, moving towards b every frame.
                10..15 => {
                    let (da, db) = (distance(&r.data, &a), distance(&r.data, &b));
                    assert!(da > 0 && db > 0, "tick {n} is a mix");
                    assert!(db < last, "tick {n} is closer to b than the tick before");
                    last = db;
                }
                _ => assert_eq!(code(&r), Some((2, n)), "tick {n}"),
            }
        }
    }

    #[test]
    fn a_slide_pushes_the_old_scene_out_to_the_left() {
        let mut a = Canvas::black(64, 4);
        let mut b = Canvas::black(64, 4);
        a.data[..64 * 4].fill(50);
        b.data[..64 * 4].fill(200);
        let mut out = vec![0; a.data.len()];
        slide(&a, &b, 0.25, &mut out);
        assert_eq!(&out[..48], &[50; 48][..]);
        assert_eq!(&out[48..64], &[200; 16][..]);
        slide(&a, &b, 1.0, &mut out);
        assert_eq!(&out[..64], &[200; 64][..]);
    }

    #[test]
    fn side_by_side_shows_both_sources_with_their_codes() {
        let (w, h) = (1280, 720);
        let mut p = sized(vec![Scene::parse("duo=side:a,b").unwrap()], w, h);
        let mut notes = Vec::new();
        for (i, card) in [(0, 1), (1, 2)] {
            p.offer(i, card_frame(card, 0, w, h));
        }
        let r = p.render(0, tick(0), &mut notes);
        // Each half holds a letterboxed 640x360 copy, centred vertically.
        let left = Rect {
            x: 0,
            y: 180,
            w: 640,
            h: 360,
        };
        let right = Rect { x: 640, ..left };
        assert_eq!(code_in(&r.data, w, left), Some(1_000_000));
        assert_eq!(code_in(&r.data, w, right), Some(2_000_000));
    }

    #[test]
    fn an_unplugged_device_shows_the_slate_on_the_first_tick_without_a_frame() {
        let mut p = program(vec![]);
        let mut notes = Vec::new();
        for n in 0..5 {
            p.offer(0, card_frame(1, n, W, H));
        }
        for n in 0..5 {
            assert!(!p.render(n, tick(n), &mut notes).slate);
        }
        p.device_lost(0, true);
        let r = p.render(5, tick(5), &mut notes);
        assert!(r.slate && r.new);
        assert_eq!(notes, vec![Note::SourceLost("a".into())]);
        // Back by itself: the device returns and its next frame goes on air.
        p.device_lost(0, false);
        assert!(p.render(6, tick(6), &mut notes).slate);
        p.offer(0, card_frame(1, 7, W, H));
        let r = p.render(7, tick(7), &mut notes);
        assert!(!r.slate);
        assert_eq!(code(&r), Some((1, 7)));
        assert_eq!(notes.last(), Some(&Note::SourceBack("a".into())));
    }

    #[test]
    fn an_off_air_source_going_silent_does_not_touch_the_picture_on_air() {
        let mut p = program(vec![]);
        let mut notes = Vec::new();
        for n in 0..60 {
            p.offer(0, card_frame(1, n, W, H));
            if n < 5 {
                p.offer(1, card_frame(2, n, W, H));
            }
            let r = p.render(n, tick(n), &mut notes);
            assert!(!r.slate);
            assert_eq!(code(&r), Some((1, n)));
        }
        // "c" never delivered (slate after 1 s), "b" stopped after frame 4.
        assert_eq!(
            notes,
            vec![Note::SourceLost("c".into()), Note::SourceLost("b".into())]
        );
    }

    #[test]
    fn a_source_still_opening_is_black_not_the_camera_lost_slate_until_a_second_passes() {
        let mut p = program(vec![]);
        let mut notes = Vec::new();
        p.switch(
            &SwitchRequest {
                target: "c".into(),
                transition: Transition::Cut,
                requested_at: Duration::ZERO,
                by_director: false,
            },
            0,
        )
        .unwrap();
        let r = p.render(0, tick(0), &mut notes);
        assert!(!r.slate);
        assert!(
            r.data[..(W * H) as usize].iter().all(|&y| y == 16),
            "black while opening"
        );
        let mut slate_at = None;
        for n in 1..60 {
            if p.render(n, tick(n), &mut notes).slate {
                slate_at.get_or_insert(n);
            }
        }
        let at = slate_at.expect("the slate once it counts as lost");
        assert!(
            (25..=35).contains(&at),
            "lost after about a second, at tick {at}"
        );
    }

    #[test]
    fn switching_to_an_unknown_scene_names_the_ones_there_are() {
        let mut p = program(vec![]);
        let e = p
            .switch(
                &SwitchRequest {
                    target: "stage".into(),
                    transition: Transition::Cut,
                    requested_at: Duration::ZERO,
                    by_director: false,
                },
                0,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"stage\"") && e.contains("a, b, c"), "{e}");
    }

    #[test]
    fn pip_draws_the_inset_over_the_main_source() {
        let (w, h) = (1280, 720);
        let scene = Scene::parse("pip=pip:a,b,br,0.5").unwrap();
        let rect = scene.layout.slots(w, h)[1].rect;
        let mut p = sized(vec![scene], w, h);
        let mut notes = Vec::new();
        p.offer(0, card_frame(1, 0, w, h));
        p.offer(1, card_frame(2, 0, w, h));
        let r = p.render(0, tick(0), &mut notes);
        // The main picture's code (top left) is intact; the inset is bottom right.
        let full = Rect { x: 0, y: 0, w, h };
        assert_eq!(code_in(&r.data, w, full), Some(1_000_000));
        assert_eq!(code_in(&r.data, w, rect), Some(2_000_000));
    }
}
