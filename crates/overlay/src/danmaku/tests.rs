use super::*;

/// Sprites of known size: 20 px per character plus 10, and one lane high.
struct Fake {
    h: u32,
    made: std::collections::HashMap<u32, Arc<Sprite>>,
}

impl Rasterize for Fake {
    fn rasterize(&mut self, text: &str, _style: &TextStyle) -> Arc<Sprite> {
        let w = text.chars().count() as u32 * 20 + 10;
        let h = self.h;
        self.made
            .entry(w)
            .or_insert_with(|| Arc::new(Sprite::solid(w, h, Rgba::WHITE).unwrap()))
            .clone()
    }
}

impl Default for Fake {
    fn default() -> Self {
        Fake {
            h: 40,
            made: Default::default(),
        }
    }
}

fn layer(cfg: DanmakuConfig) -> (DanmakuLayer, Fake) {
    let l = DanmakuLayer::new(cfg, 1280, 720);
    let h = l.lane_height();
    (
        l,
        Fake {
            h,
            made: Default::default(),
        },
    )
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn snapshot(l: &mut DanmakuLayer, t: Duration) -> Vec<(PlacedKind, Option<usize>, i32, i32, u32)> {
    l.layout(t)
        .map(|p| (p.kind, p.lane, p.x, p.y, p.sprite.width()))
        .collect()
}

#[test]
fn scrolling_comments_in_a_lane_never_overlap_over_a_long_random_run() {
    let (mut l, mut f) = layer(DanmakuConfig::default());
    let mut rng = fastrand::Rng::with_seed(42);
    let mut t = 0u64;
    let mut max_on_screen = 0;
    for step in 0..(30 * 600) {
        // ~0 to 6 comments per frame at 30 fps: bursts far above what fits.
        let n = if step % 300 < 150 {
            rng.usize(0..3)
        } else {
            rng.usize(0..7)
        };
        for _ in 0..n {
            let len = rng.usize(1..40);
            l.push(&Comment::scroll("x".repeat(len)), ms(t), &mut f);
        }
        let placed = snapshot(&mut l, ms(t));
        max_on_screen = max_on_screen.max(placed.len());
        let mut by_lane: Vec<Vec<(i32, i32)>> = vec![Vec::new(); l.lane_count()];
        for (kind, lane, x, _, w) in placed {
            assert_eq!(kind, PlacedKind::Scroll);
            assert!(x <= 1280, "enters from the right edge, x = {x}");
            by_lane[lane.unwrap()].push((x, x + w as i32));
        }
        for spans in &mut by_lane {
            spans.sort();
            for pair in spans.windows(2) {
                assert!(
                    pair[0].1 <= pair[1].0,
                    "overlap at t={t} ms: {:?} and {:?}",
                    pair[0],
                    pair[1]
                );
            }
        }
        t += 33;
    }
    let s = l.stats();
    assert!(s.dropped() > 0, "the flood must have dropped some: {s:?}");
    assert_eq!(s.pushed, s.shown + s.dropped() + s.queued as u64, "{s:?}");
    assert!(s.queued <= l.config().max_queue);
    assert!(max_on_screen > 50, "lanes were used: {max_on_screen}");
}

#[test]
fn a_deleted_comment_leaves_the_screen_at_once_and_its_lane_frees() {
    let (mut l, mut f) = layer(DanmakuConfig {
        area_bottom: 0.12, // 1 lane: the freed lane is the only place for the next one
        ..DanmakuConfig::default()
    });
    assert_eq!(l.lane_count(), 1);
    l.push(&Comment::scroll("spoiler!!").key(7), ms(0), &mut f);
    l.push(&Comment::top("pinned rude").key(8), ms(0), &mut f);
    l.push(&Comment::scroll("kind words").key(9), ms(0), &mut f);
    assert_eq!(
        snapshot(&mut l, ms(10)).len(),
        2,
        "the third waits for the lane"
    );
    assert!(l.retract(7));
    let on = snapshot(&mut l, ms(20));
    assert_eq!(on.len(), 2, "the waiting one took the freed lane: {on:?}");
    assert!(
        on.iter().all(|p| p.4 != 9 * 20 + 10),
        "the deleted one is gone"
    );
    assert!(l.retract(8));
    assert!(!l.retract(8), "a second delete finds nothing");
    assert!(!l.retract(12345));
    let on = snapshot(&mut l, ms(30));
    assert_eq!(on.len(), 1);
    assert_eq!(on[0].0, PlacedKind::Scroll);
    let s = l.stats();
    assert_eq!((s.retracted_on_screen, s.retracted_waiting), (2, 0));
    assert_eq!(
        s.pushed,
        s.shown + s.dropped() + s.retracted_waiting + s.queued as u64
    );
}

#[test]
fn a_comment_deleted_while_waiting_is_never_shown() {
    let (mut l, mut f) = layer(DanmakuConfig {
        area_bottom: 0.12,
        ..DanmakuConfig::default()
    });
    l.push(&Comment::scroll("first").key(1), ms(0), &mut f);
    l.push(&Comment::scroll("queued").key(2), ms(0), &mut f);
    assert_eq!(l.stats().queued, 1);
    assert!(l.retract(2));
    let s = l.stats();
    assert_eq!((s.queued, s.retracted_waiting, s.shown), (0, 1, 1));
    for t in (0..10_000).step_by(100) {
        assert!(snapshot(&mut l, ms(t)).len() <= 1);
    }
    assert_eq!(l.stats().shown, 1);
}

#[test]
fn long_text_moves_faster_and_all_cross_in_the_same_time() {
    let (mut l, mut f) = layer(DanmakuConfig::default());
    l.push(&Comment::scroll("short"), ms(0), &mut f);
    l.push(
        &Comment::scroll("a much much longer comment here"),
        ms(0),
        &mut f,
    );
    let at = |l: &mut DanmakuLayer, t| snapshot(l, ms(t));
    let p0 = at(&mut l, 1000);
    let p1 = at(&mut l, 2000);
    let moved: Vec<i32> = p0.iter().zip(&p1).map(|(a, b)| a.2 - b.2).collect();
    let (ws, wl) = (p0[0].4, p0[1].4);
    assert!(wl > ws);
    assert!(
        moved[1] > moved[0],
        "long moved {} short {}",
        moved[1],
        moved[0]
    );
    // Both are gone right after scroll_secs.
    assert_eq!(at(&mut l, 7_900).len(), 2);
    assert_eq!(at(&mut l, 8_001).len(), 0);
}

#[test]
fn comments_take_the_first_free_lane_and_lanes_stay_in_the_top_three_quarters() {
    let (mut l, mut f) = layer(DanmakuConfig::default());
    for i in 0..5 {
        l.push(&Comment::scroll(format!("comment {i}")), ms(0), &mut f);
    }
    let placed = snapshot(&mut l, ms(0));
    let lanes: Vec<_> = placed.iter().map(|p| p.1.unwrap()).collect();
    assert_eq!(lanes, vec![0, 1, 2, 3, 4]);
    let n = l.lane_count();
    assert!(n >= 5);
    assert!(
        l.lane_y(n - 1) + l.lane_height() as i32 <= 540,
        "bottom quarter is free"
    );
    // After the first comment has moved on far enough, lane 0 is reused.
    l.push(&Comment::scroll("next"), ms(3000), &mut f);
    let placed = snapshot(&mut l, ms(3000));
    assert_eq!(placed.last().unwrap().1, Some(0));
}

#[test]
fn a_full_screen_queues_then_drops_and_counts() {
    let cfg = DanmakuConfig {
        max_queue: 4,
        max_wait_ms: 1_000,
        ..DanmakuConfig::default()
    };
    let (mut l, mut f) = layer(cfg);
    let lanes = l.lane_count();
    for i in 0..lanes + 10 {
        l.push(&Comment::scroll(format!("c{i}")), ms(0), &mut f);
    }
    let s = l.stats();
    assert_eq!(s.shown as usize, lanes);
    assert_eq!(s.queued, 4);
    assert_eq!(s.dropped_queue_full, 6);
    // Short comments clear the entry quickly: some waiting ones get in before the deadline.
    let _ = snapshot(&mut l, ms(600));
    let s = l.stats();
    assert_eq!(s.queued, 0, "{s:?}");
    assert_eq!(s.shown as usize, lanes + 4);
    // A long one that cannot enter waits max_wait_ms, then is dropped and counted.
    let (mut l, mut f) = layer(DanmakuConfig {
        max_wait_ms: 500,
        ..DanmakuConfig::default()
    });
    for _ in 0..l.lane_count() {
        l.push(&Comment::scroll("y".repeat(60)), ms(0), &mut f);
    }
    l.push(&Comment::scroll("late"), ms(0), &mut f);
    assert_eq!(l.stats().queued, 1);
    let _ = snapshot(&mut l, ms(501));
    assert_eq!(l.stats().dropped_waited_too_long, 1);
}

#[test]
fn top_and_bottom_comments_are_centred_stack_and_expire() {
    let (mut l, mut f) = layer(DanmakuConfig::default());
    l.push(&Comment::top("first"), ms(0), &mut f);
    l.push(&Comment::top("second"), ms(100), &mut f);
    l.push(&Comment::bottom("low"), ms(100), &mut f);
    let p = snapshot(&mut l, ms(200));
    let n = l.lane_count();
    assert_eq!(p.len(), 3);
    assert_eq!((p[0].0, p[0].1), (PlacedKind::Top, Some(0)));
    assert_eq!((p[1].0, p[1].1), (PlacedKind::Top, Some(1)));
    assert_eq!((p[2].0, p[2].1), (PlacedKind::Bottom, Some(n - 1)));
    for (_, _, x, _, w) in &p {
        assert_eq!(*x, (1280 - *w as i32) / 2, "centred");
    }
    assert_eq!(snapshot(&mut l, ms(3_999)).len(), 3);
    assert_eq!(snapshot(&mut l, ms(4_050)).len(), 2, "first expired");
    assert_eq!(snapshot(&mut l, ms(4_200)).len(), 0);
    // The freed top row is taken again.
    l.push(&Comment::top("again"), ms(5_000), &mut f);
    assert_eq!(snapshot(&mut l, ms(5_000))[0].1, Some(0));
}

#[test]
fn gift_combos_update_one_banner_which_expires() {
    #[derive(Default)]
    struct Record(Vec<String>, Fake);
    impl Rasterize for Record {
        fn rasterize(&mut self, text: &str, style: &TextStyle) -> Arc<Sprite> {
            self.0.push(text.to_string());
            self.1.rasterize(text, style)
        }
    }
    let (mut l, _) = layer(DanmakuConfig::default());
    let mut r = Record::default();
    let g = Gift {
        from: "小明".into(),
        gift: "Rocket".into(),
        count: 1,
    };
    l.gift(&g, ms(0), &mut r);
    l.gift(
        &Gift {
            count: 2,
            ..g.clone()
        },
        ms(1000),
        &mut r,
    );
    let p = snapshot(&mut l, ms(1000));
    assert_eq!(p.len(), 1, "one banner for the combo");
    assert_eq!(p[0].0, PlacedKind::Gift);
    assert_eq!(r.0.last().unwrap(), "小明 sent Rocket ×3");
    assert_eq!(l.stats().gift_combos, 1);
    // Another sender gets its own banner below.
    l.gift(
        &Gift {
            from: "Amy".into(),
            ..g.clone()
        },
        ms(1500),
        &mut r,
    );
    let p = snapshot(&mut l, ms(1500));
    assert_eq!(p.len(), 2);
    assert!(p[1].3 > p[0].3);
    // Up 5 s after the last combo.
    assert_eq!(snapshot(&mut l, ms(5_900)).len(), 2);
    assert_eq!(snapshot(&mut l, ms(6_001)).len(), 1);
    assert_eq!(snapshot(&mut l, ms(6_600)).len(), 0);
}

#[test]
fn cjk_and_emoji_comments_lay_out_with_real_fonts() {
    let mut r = crate::text::TextRenderer::new();
    let mut l = DanmakuLayer::new(DanmakuConfig::default(), 1280, 720);
    l.push(&Comment::scroll("前方高能 🎉"), ms(0), &mut r);
    l.push(&Comment::top("欢迎来到直播间").host(), ms(0), &mut r);
    l.push(&Comment::bottom("ありがとう"), ms(0), &mut r);
    let p = snapshot(&mut l, ms(500));
    assert_eq!(p.len(), 3);
    for (_, _, _, _, w) in &p {
        assert!(*w > 100, "CJK text has width {w}");
    }
    // Real sprites fit the lane height.
    let lane_h = l.lane_height();
    assert!(l.layout(ms(500)).all(|p| p.sprite.height() <= lane_h));
    assert_eq!(
        r.missing_glyphs("前方高能 🎉 欢迎来到直播间 ありがとう"),
        Vec::<char>::new()
    );
}

#[test]
fn empty_and_hostile_comments_never_panic() {
    let (mut l, mut f) = layer(DanmakuConfig::default());
    l.push(&Comment::scroll(""), ms(0), &mut f);
    l.push(&Comment::scroll("\u{0}\u{202E}\n"), ms(0), &mut f);
    l.push(&Comment::scroll("🎉".repeat(10_000)), ms(0), &mut f);
    assert_eq!(l.stats().dropped_empty, 2);
    // Time going backwards or huge is tolerated.
    let _ = snapshot(&mut l, ms(10));
    let _ = snapshot(&mut l, ms(5));
    let _ = snapshot(&mut l, Duration::MAX);
    // A canvas too small for any lane drops after the wait, counted.
    let mut tiny = DanmakuLayer::new(DanmakuConfig::default(), 16, 16);
    tiny.push(&Comment::scroll("hi"), ms(0), &mut f);
    let _ = snapshot(&mut tiny, ms(10_000));
    assert_eq!(tiny.stats().dropped(), 1);
    tiny.set_canvas(0, 0);
    let _ = snapshot(&mut tiny, ms(20_000));
}

#[test]
fn resizing_the_canvas_clears_the_screen_and_lanes_follow_the_new_size() {
    let (mut l, mut f) = layer(DanmakuConfig::default());
    l.push(&Comment::scroll("before"), ms(0), &mut f);
    l.push(&Comment::top("fixed"), ms(0), &mut f);
    let lanes_720 = l.lane_count();
    l.set_canvas(1920, 1080);
    assert!(l.lane_count() > lanes_720);
    assert_eq!(snapshot(&mut l, ms(100)).len(), 0);
    l.push(&Comment::scroll("after"), ms(200), &mut f);
    let p = snapshot(&mut l, ms(200));
    assert_eq!((p.len(), p[0].2), (1, 1920), "enters at the new right edge");
}

#[test]
fn host_comments_are_marked() {
    let mut r = crate::text::TextRenderer::new();
    let mut l = DanmakuLayer::new(DanmakuConfig::default(), 1280, 720);
    l.push(&Comment::top("主播说"), ms(0), &mut r);
    l.push(&Comment::top("主播说").host(), ms(0), &mut r);
    let p: Vec<_> = l.layout(ms(0)).map(|p| p.sprite.rgba().to_vec()).collect();
    let gold = |px: &[u8]| {
        px.chunks_exact(4)
            .any(|p| p[3] > 200 && p[0] > 200 && p[2] < 60)
    };
    assert!(!gold(&p[0]) && gold(&p[1]));
}

#[test]
fn comments_rasterised_on_another_thread_look_the_same() {
    let layer = DanmakuLayer::new(DanmakuConfig::default(), 1280, 720);
    let comment = Comment::scroll("弹幕 from the chat thread").host();
    let style = layer.comment_style(&comment);
    let text = comment.text.clone();
    let sprite = std::thread::spawn(move || crate::text::TextRenderer::new().render(&text, &style))
        .join()
        .unwrap();
    let mut here = crate::text::TextRenderer::new();
    let mut a = DanmakuLayer::new(DanmakuConfig::default(), 1280, 720);
    a.push(&comment, ms(0), &mut here);
    let mut b = DanmakuLayer::new(DanmakuConfig::default(), 1280, 720);
    b.push_sprite(comment.mode, None, sprite, ms(0));
    let pa: Vec<_> = a
        .layout(ms(100))
        .map(|p| (p.x, p.y, p.sprite.rgba().to_vec()))
        .collect();
    let pb: Vec<_> = b
        .layout(ms(100))
        .map(|p| (p.x, p.y, p.sprite.rgba().to_vec()))
        .collect();
    assert_eq!(pa, pb);
}

#[test]
fn config_serialises_for_scenes() {
    let cfg = DanmakuConfig::default();
    let json = serde_json::to_string(&cfg).unwrap();
    let back: DanmakuConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cfg);
    let partial: DanmakuConfig = serde_json::from_str(r#"{"area_bottom":0.5}"#).unwrap();
    assert_eq!(partial.area_bottom, 0.5);
    assert_eq!(partial.scroll_secs, 8.0);
}
