//! The compositor thread: one tick per output frame on the session clock. Each tick takes
//! what the sources delivered, applies switch requests, renders the program, draws the
//! overlays, and hands the picture to the frame taps and to the video encoder. A source lost
//! or back and a scene put on air become events.

use super::program::{Note, Program, SwitchRequest};
use crate::events::{EventKind, Events};
use crate::frames::{CanvasFrame, ComposedFrame, FrameBus};
use crate::overlays::OverlayStage;
use crate::stats::VideoCounters;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use marquee_capture::camera::SourceStatus;
use marquee_capture::{SessionClock, SourceState, VideoFrame};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the compositor thread reads and writes.
pub(crate) struct Compositor {
    pub clock: SessionClock,
    pub program: Program,
    pub fps: u32,
    /// Each source's frames and device state, in the program's input order.
    pub sources: Vec<Receiver<VideoFrame>>,
    pub statuses: Vec<Arc<SourceStatus>>,
    pub switches: Receiver<SwitchRequest>,
    /// The scene on air, published for [`super::SceneControl::on_air`].
    pub on_air: Arc<Mutex<String>>,
    pub overlays: OverlayStage,
    pub taps: Arc<FrameBus>,
    /// What the co-stream guests see, when it is not the program.
    pub return_view: Option<Arc<crate::frames::ReturnView>>,
    pub encoder: Sender<CanvasFrame>,
    pub counters: Arc<VideoCounters>,
    pub events: Arc<Events>,
    pub stop: Arc<AtomicBool>,
}

impl Compositor {
    /// Runs until the session stops (or the encoder is gone).
    pub fn spawn(self) -> JoinHandle<()> {
        crate::util::spawn_thread("compositor", move || self.run())
    }

    fn run(self) {
        let Compositor {
            clock,
            mut program,
            fps,
            sources,
            statuses,
            switches,
            on_air,
            mut overlays,
            taps,
            return_view,
            encoder,
            counters,
            events,
            stop,
        } = self;
        let (w, h) = (program.width(), program.height());
        let single = sources.len() == 1;
        let subject = |id: &str| {
            if single {
                "video source".to_string()
            } else {
                format!("video source {id}")
            }
        };
        let mut notes = Vec::new();
        let mut n: u64 = 0;
        let tick_of = |n: u64| Duration::from_nanos(n * 1_000_000_000 / fps as u64);
        while clock.sleep_until(tick_of(n), &stop) {
            let now = clock.now();
            if now > tick_of(n) + Duration::from_millis(500) {
                // Far behind (machine stalled): skip to now rather than grow a delay.
                let to = now.as_nanos() as u64 * fps as u64 / 1_000_000_000;
                counters.render_lag.fetch_add(to - n, Ordering::Relaxed);
                n = to;
                continue;
            }
            let tick = tick_of(n);
            for (i, rx) in sources.iter().enumerate() {
                for f in rx.try_iter() {
                    program.offer(i, f);
                }
                program.device_lost(i, statuses[i].get() == SourceState::Lost);
            }
            for req in switches.try_iter() {
                match program.switch(&req, n) {
                    Ok(note) => notes.push(note),
                    Err(e) => events.emit(None, "scene", EventKind::Info, None, e.to_string()),
                }
            }
            let r = program.render(n, tick, &mut notes);
            for note in notes.drain(..) {
                match note {
                    Note::SourceLost(id) => events.emit(
                        None,
                        &subject(&id),
                        EventKind::SourceLost,
                        None,
                        "camera lost: showing the slate",
                    ),
                    Note::SourceBack(id) => {
                        events.emit(None, &subject(&id), EventKind::SourceBack, None, "")
                    }
                    Note::Switched {
                        scene,
                        transition,
                        requested_at,
                        tick: at,
                        by_director,
                    } => {
                        *on_air.lock().expect("on-air lock") = scene.clone();
                        let late = tick_of(at).as_secs_f64() - requested_at.as_secs_f64();
                        // The subject is the scene: a UI shows what is on air from it.
                        events.emit(
                            None,
                            &scene,
                            EventKind::Scene,
                            None,
                            format!(
                                "{scene} ({transition}{}) on air at frame {at}, {:.1} ms after the request",
                                if by_director { ", director" } else { "" },
                                late * 1000.0
                            ),
                        );
                    }
                }
            }
            let data = if overlays.update(tick) {
                overlays.draw(&r.data, w, h, tick)
            } else {
                r.data
            };
            for p in overlays.problems.drain(..) {
                events.emit(None, "overlay", EventKind::Info, None, p);
            }
            if r.slate {
                counters.slate.fetch_add(1, Ordering::Relaxed);
            } else if !r.new {
                counters.repeated.fetch_add(1, Ordering::Relaxed);
            }
            counters
                .superseded
                .store(program.superseded_frames(), Ordering::Relaxed);
            counters.frames.fetch_add(1, Ordering::Relaxed);
            if let Some(view) = &return_view
                && let Some(scene) = view.scene_due(n)
                && let Some(picture) = program.view(&scene)
            {
                view.put(picture);
            }
            taps.publish(&ComposedFrame {
                data: data.clone(),
                width: w,
                height: h,
                index: n as i64,
                at: tick,
            });
            match encoder.try_send(CanvasFrame {
                data,
                index: n as i64,
                captured: r.captured,
            }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    counters.encoder_lag.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
            n += 1;
        }
    }
}
