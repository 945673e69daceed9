//! Overlays burnt into the outgoing picture (text, PNG, danmaku and gift banners) and the
//! handle that changes them while live. The compositor owns the [`Overlays`] set; other
//! threads (the room client, hotkeys, the control socket) send commands over a bounded
//! channel. The fonts load only when the first overlay is added, so a session without
//! overlays pays nothing for them.

use crate::error::StudioError;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use marquee_capture::FrameBuf;
use marquee_overlay::{Comment, Gift, OverlayItem, Overlays};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// A change to the overlays, applied at the next tick.
#[derive(Debug, Clone)]
pub enum OverlayCmd {
    Add(OverlayItem),
    Remove(String),
    Enable(String, bool),
    SetText(String, String),
    /// A chat comment for the first danmaku layer.
    Comment(Comment),
    /// A gift for the first danmaku layer's banner.
    Gift(Gift),
}

/// Changes overlays of a running session; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct OverlayControl {
    tx: Sender<OverlayCmd>,
    ids: Arc<RwLock<Vec<String>>>,
    /// Commands refused because the compositor had not taken the previous ones.
    pub dropped: Arc<AtomicU64>,
    /// Deleted messages to take off the video. Not in the command queue: a delete must never
    /// be refused because chat filled the queue.
    retracts: Arc<Mutex<VecDeque<u64>>>,
}

/// Deletes remembered (pending, and already applied) at most; the oldest go first. Far more
/// than a moderator deletes in the seconds a comment is on screen.
const RETRACTS_KEPT: usize = 256;

impl OverlayControl {
    /// Queues a change. Chat comments beyond the queue are dropped and counted (a flood is
    /// unreadable on screen anyway); other changes report the full queue.
    pub fn send(&self, cmd: OverlayCmd) -> Result<(), StudioError> {
        if let OverlayCmd::Enable(id, _) | OverlayCmd::SetText(id, _) | OverlayCmd::Remove(id) =
            &cmd
        {
            let ids = self.ids();
            if !ids.contains(id) {
                return Err(StudioError::Settings(format!(
                    "there is no overlay {id:?} (overlays: {})",
                    if ids.is_empty() {
                        "none".into()
                    } else {
                        ids.join(", ")
                    }
                )));
            }
        }
        match self.tx.try_send(cmd) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(OverlayCmd::Comment(_))) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(StudioError::Settings(
                "overlay changes are coming faster than frames: try again".into(),
            )),
            Err(TrySendError::Disconnected(_)) => {
                Err(StudioError::Settings("the session has ended".into()))
            }
        }
    }
}

impl OverlayControl {
    /// Takes the comment with this room message id off the burnt-in danmaku (a moderator
    /// deleted it), whether it is on screen, waiting for a lane, or still on its way here.
    pub fn retract(&self, key: u64) {
        let mut q = self.retracts.lock().expect("retracts lock");
        if q.len() >= RETRACTS_KEPT {
            q.pop_front();
        }
        q.push_back(key);
    }

    /// The overlays there are now (ids).
    pub fn ids(&self) -> Vec<String> {
        self.ids.read().expect("ids lock").clone()
    }
}

/// The compositor's side: the set (made on first use) and the command queue.
pub(crate) struct OverlayStage {
    set: Option<Overlays>,
    ids: Arc<RwLock<Vec<String>>>,
    rx: Receiver<OverlayCmd>,
    danmaku: Option<String>,
    retracts: Arc<Mutex<VecDeque<u64>>>,
    /// Keys deleted lately: a comment still in the queue when its delete came is not shown.
    retracted: VecDeque<u64>,
    /// Problems to report as events (bad image path, unknown id...).
    pub problems: Vec<String>,
}

/// Comments rasterised per tick at most; the rest wait in the queue (≈ 0.5 ms each).
const COMMENTS_PER_TICK: usize = 4;

impl OverlayStage {
    pub fn new(items: &[OverlayItem]) -> (Self, OverlayControl) {
        let (tx, rx) = crossbeam_channel::bounded(256);
        let ids = Arc::new(RwLock::new(Vec::new()));
        let retracts = Arc::new(Mutex::new(VecDeque::new()));
        let mut stage = OverlayStage {
            set: None,
            ids: ids.clone(),
            rx,
            danmaku: None,
            retracts: retracts.clone(),
            retracted: VecDeque::new(),
            problems: Vec::new(),
        };
        for item in items {
            stage.apply(OverlayCmd::Add(item.clone()), Duration::ZERO);
        }
        let control = OverlayControl {
            tx,
            ids,
            dropped: Arc::new(AtomicU64::new(0)),
            retracts,
        };
        (stage, control)
    }

    fn apply(&mut self, cmd: OverlayCmd, now: Duration) {
        let changes_ids = matches!(cmd, OverlayCmd::Add(_) | OverlayCmd::Remove(_));
        self.apply_one(cmd, now);
        if changes_ids {
            self.publish_ids();
        }
    }

    fn apply_one(&mut self, cmd: OverlayCmd, now: Duration) {
        let r = match cmd {
            OverlayCmd::Add(item) => {
                let danmaku = matches!(item.spec, marquee_overlay::OverlaySpec::Danmaku { .. });
                let id = item.id.clone();
                let set = self.set.get_or_insert_with(Overlays::new);
                let r = set.add_item(item);
                if r.is_ok() && danmaku && self.danmaku.is_none() {
                    self.danmaku = Some(id);
                }
                r
            }
            OverlayCmd::Remove(id) => match self.set.as_mut() {
                Some(s) => s.remove(&id).map(|_| ()),
                None => Ok(()),
            },
            OverlayCmd::Enable(id, on) => match self.set.as_mut() {
                Some(s) => s.set_enabled(&id, on),
                None => Err(marquee_overlay::OverlayError::UnknownId { id }),
            },
            OverlayCmd::SetText(id, text) => match self.set.as_mut() {
                Some(s) => s.set_text(&id, &text),
                None => Err(marquee_overlay::OverlayError::UnknownId { id }),
            },
            OverlayCmd::Comment(c) => match (self.set.as_mut(), &self.danmaku) {
                (_, _) if c.key.is_some_and(|k| self.retracted.contains(&k)) => Ok(()),
                (Some(s), Some(id)) => s.push_comment(id, &c, now),
                _ => Ok(()),
            },
            OverlayCmd::Gift(g) => match (self.set.as_mut(), &self.danmaku) {
                (Some(s), Some(id)) => s.gift(id, &g, now),
                _ => Ok(()),
            },
        };
        if let Err(e) = r {
            self.problems.push(e.to_string());
        }
    }

    /// Publishes the ids for [`OverlayControl`]'s check (after an add or a remove only).
    fn publish_ids(&self) {
        if let Some(set) = &self.set {
            *self.ids.write().expect("ids lock") = set.ids().map(String::from).collect();
        }
    }

    /// Applies queued changes (a few comments per tick) and says whether anything is to
    /// be drawn.
    pub fn update(&mut self, now: Duration) -> bool {
        let keys: Vec<u64> = self
            .retracts
            .lock()
            .expect("retracts lock")
            .drain(..)
            .collect();
        for key in keys {
            if let (Some(s), Some(id)) = (self.set.as_mut(), &self.danmaku) {
                let _ = s.retract_comment(id, key);
            }
            if self.retracted.len() >= RETRACTS_KEPT {
                self.retracted.pop_front();
            }
            self.retracted.push_back(key);
        }
        let mut comments = 0;
        while comments < COMMENTS_PER_TICK {
            let Ok(cmd) = self.rx.try_recv() else { break };
            comments += matches!(cmd, OverlayCmd::Comment(_)) as usize;
            self.apply(cmd, now);
        }
        self.set.as_ref().is_some_and(Overlays::any_enabled)
    }

    /// Draws onto a private copy of `data` (it may be a camera's own buffer).
    pub fn draw(&mut self, data: &Arc<FrameBuf>, w: u32, h: u32, now: Duration) -> Arc<FrameBuf> {
        let Some(set) = self.set.as_mut() else {
            return data.clone();
        };
        let mut out = (**data).clone();
        if let Err(e) = set.draw(&mut out, w, h, now) {
            self.problems.push(e.to_string());
            return data.clone();
        }
        Arc::new(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marquee_overlay::{Anchor, OverlaySpec};

    fn black(w: usize, h: usize) -> Arc<FrameBuf> {
        let mut d = vec![16u8; w * h * 3 / 2];
        d[w * h..].fill(128);
        Arc::new(d.into())
    }

    #[test]
    fn a_text_overlay_is_burnt_in_and_can_be_switched_off_without_touching_the_source() {
        let item = OverlayItem {
            id: "title".into(),
            enabled: true,
            spec: OverlaySpec::text("直播中 LIVE", 32.0, Anchor::TopLeft),
        };
        let (mut stage, control) = OverlayStage::new(&[item]);
        let src = black(320, 180);
        assert!(stage.update(Duration::ZERO));
        let out = stage.draw(&src, 320, 180, Duration::ZERO);
        assert!(
            out[..320 * 180].iter().any(|&y| y > 200),
            "white text drawn"
        );
        assert!(
            src.iter().take(320 * 180).all(|&y| y == 16),
            "source untouched"
        );
        control
            .send(OverlayCmd::Enable("title".into(), false))
            .unwrap();
        assert!(!stage.update(Duration::from_millis(33)));
        let e = control
            .send(OverlayCmd::Enable("nope".into(), true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nope\"") && e.contains("title"), "{e}");
    }

    #[test]
    fn no_overlays_means_no_fonts_loaded_and_the_picture_passes_through() {
        let (mut stage, _c) = OverlayStage::new(&[]);
        assert!(!stage.update(Duration::ZERO));
        assert!(stage.set.is_none());
    }

    #[test]
    fn comments_reach_the_danmaku_layer_a_few_per_tick_and_a_flood_is_counted() {
        let item = OverlayItem {
            id: "chat".into(),
            enabled: true,
            spec: OverlaySpec::danmaku(),
        };
        let (mut stage, control) = OverlayStage::new(&[item]);
        for i in 0..300 {
            control
                .send(OverlayCmd::Comment(Comment::scroll(format!("弹幕 {i}"))))
                .unwrap();
        }
        assert_eq!(control.dropped.load(Ordering::Relaxed), 300 - 256);
        stage.update(Duration::ZERO);
        assert_eq!(stage.rx.len(), 256 - COMMENTS_PER_TICK);
        let out = stage.draw(&black(1280, 720), 1280, 720, Duration::from_millis(500));
        assert!(
            out[..1280 * 720].iter().any(|&y| y > 200),
            "comments on screen"
        );
    }

    #[test]
    fn a_deleted_comment_leaves_the_video_and_one_still_queued_never_shows() {
        let item = OverlayItem {
            id: "chat".into(),
            enabled: true,
            spec: OverlaySpec::danmaku(),
        };
        let (mut stage, control) = OverlayStage::new(&[item]);
        let white = |out: &[u8]| out[..1280 * 720].iter().filter(|&&y| y > 200).count();
        control
            .send(OverlayCmd::Comment(Comment::scroll("剧透剧透").key(1)))
            .unwrap();
        stage.update(Duration::ZERO);
        let t = Duration::from_millis(1500);
        assert!(white(&stage.draw(&black(1280, 720), 1280, 720, t)) > 0);
        control.retract(1);
        stage.update(t);
        assert_eq!(white(&stage.draw(&black(1280, 720), 1280, 720, t)), 0);
        // Deleted before the compositor took it off the queue: it never appears.
        control
            .send(OverlayCmd::Comment(Comment::scroll("骂人的话").key(2)))
            .unwrap();
        control.retract(2);
        let t = Duration::from_millis(1600);
        stage.update(t);
        assert_eq!(white(&stage.draw(&black(1280, 720), 1280, 720, t)), 0);
        let stats = stage.set.as_ref().unwrap().danmaku("chat").unwrap().stats();
        assert_eq!((stats.shown, stats.retracted_on_screen), (1, 1));
    }

    #[test]
    fn a_bad_image_is_reported_not_fatal() {
        let item = OverlayItem {
            id: "logo".into(),
            enabled: true,
            spec: OverlaySpec::image("/nonexistent/logo.png", Anchor::BottomRight, 1.0),
        };
        let (stage, _c) = OverlayStage::new(&[item]);
        assert_eq!(stage.problems.len(), 1);
        assert!(
            stage.problems[0].contains("logo.png"),
            "{}",
            stage.problems[0]
        );
    }
}
