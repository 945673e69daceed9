//! A running show: the engine session plus what lives beside it while live — the replay
//! buffer and marks, the room signals written next to the recording, the audience on the
//! burnt-in danmaku layer, the preview tap, and a monitor thread that hands events and
//! once-a-second stats to whoever shows them (the CLI's status line, the app's UI).

use crate::audience::{Audience, OnVideo};
use crate::chat::ChatRunner;
use crate::error::ShowError;
use crate::settings::ShowSettings;
use crate::stats::{ShowStats, StatsClock};
use crossbeam_channel::{Receiver, Sender};
use marquee_highlights::{LiveHighlights, Mark, ReplayConfig, SavedClip, SignalLog};
use marquee_profile::Keychain;
use marquee_room::filter::WordFilter;
use marquee_studio::preview::{Now, Preview};
use marquee_studio::{
    Event, OverlayCmd, OverlayControl, SceneControl, Session, Summary, Transition,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Whoever shows the show: called from the show's monitor thread (keep it short).
pub trait Observer: Send + Sync + 'static {
    /// An engine event (a destination connecting, live, retrying; a camera lost…).
    fn event(&self, e: &Event);
    /// Once a second.
    fn stats(&self, s: &ShowStats);
    /// A platform chat source (`twitch:NAME`…) changed state: connecting, live,
    /// reconnecting n, failed and why. The show goes on whatever a source does.
    fn chat_state(&self, _source: &str, _state: &marquee_chat::SourceState) {}
    /// A source had to settle for less and says how it reads its platform now (`code` names
    /// the case: `bilibili_anonymous`, `youtube_polling`; `text` says it with the reason).
    fn chat_note(&self, _source: &str, _code: &str, _text: &str) {}
    /// A platform chat message or gift, masked, for the host's chat panel.
    fn chat_line(&self, _source: &str, _line: &crate::audience::ChatLine) {}
    /// `n` more of a source's chat lines were dropped before reaching the show (it read
    /// slower than the platform sent): counted so the panel can say so.
    fn chat_dropped(&self, _source: &str, _n: u64) {}
    /// A moderator took lines away on the platform (a deletion, a ban, a cleared chat).
    fn chat_removed(&self, _source: &str, _removal: &crate::audience::ChatRemoval) {}
}

/// How long the monitor waits at most between stats ticks.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// What a show leaves when it ends.
#[derive(Debug)]
pub struct ShowSummary {
    pub summary: Summary,
    pub recording: Option<PathBuf>,
    /// The room signals written beside the recording, for highlight suggestions.
    pub signals: Option<PathBuf>,
}

/// The session clock's zero as an instant and as wall-clock ms (room events carry server
/// time), read together once.
#[derive(Debug, Clone, Copy)]
struct Origin {
    at: Instant,
    wall_ms: u64,
}

impl Origin {
    fn of(session: &Session) -> Self {
        let elapsed = session.elapsed();
        let wall = SystemTime::now() - elapsed;
        Self {
            at: Instant::now() - elapsed,
            wall_ms: wall
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }

    /// A wall-clock time (ms) on the session clock; `None` before the session started.
    fn session_time(&self, at_ms: u64) -> Option<Duration> {
        at_ms.checked_sub(self.wall_ms).map(Duration::from_millis)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A show on air. Every method is safe from any thread; [`Show::stop`] ends it.
pub struct Show {
    session: Mutex<Option<Session>>,
    scenes: SceneControl,
    overlays: OverlayControl,
    origin: Origin,
    highlights: Result<Arc<LiveHighlights>, String>,
    /// `None` inside once the show ended and the file was finished.
    signals: Option<Mutex<Option<SignalLog>>>,
    /// The picture has a danmaku layer: chat and gifts go on the video.
    danmaku: bool,
    /// Some camera has a microphone: director mode can run.
    directable: bool,
    recording: Option<PathBuf>,
    preview: Mutex<Option<Preview>>,
    last_stats: Mutex<Option<ShowStats>>,
    monitor: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
    /// The platform chats read into the audience, while the show is on.
    chat: Mutex<Option<ChatRunner>>,
    /// Co-stream guests, when the show opened guest slots.
    cohost: Option<Arc<marquee_costream::host::CoHost>>,
    guest_watch: Mutex<Option<crate::guests::GuestWatch>>,
    /// The host's own camera (the first source that is not a guest).
    host_camera: Option<String>,
    /// What the guests see now.
    guest_view: Mutex<crate::guests::GuestView>,
}

impl Show {
    /// Opens everything (blocking: devices, encoders and the recording open here, and fail
    /// with their reason), then attaches the highlights and starts the monitor. Highlights
    /// and signals are conveniences: when they cannot start the show goes on without them.
    pub fn start(
        settings: &ShowSettings,
        keychain: &Keychain,
        observer: Arc<dyn Observer>,
    ) -> Result<Arc<Show>, ShowError> {
        let resolved = settings.resolve(keychain)?;
        let directable = resolved.scenes.sources.iter().any(|s| s.mic.is_some());
        let recording = resolved.recording.clone();
        let auto_guest_layout = resolved.auto_guest_layout;
        let home = resolved.scenes.start.clone();
        // The host's camera, for guests who see it instead of the program: the first source
        // that is not a guest.
        let host_camera = (resolved.scenes.sources.iter())
            .find(|s| !matches!(s.spec, marquee_capture::VideoSpec::Guest(_)))
            .map(|s| s.id.clone());
        let cohost = match &resolved.scenes.feeds {
            Some(feeds) => Some(Arc::new(crate::guests::start_host(
                &settings.guests,
                feeds.clone(),
                keychain,
            )?)),
            None => None,
        };
        let session = Session::start_with(resolved.session, resolved.scenes)?;
        let highlights = attach_highlights(&session, settings, recording.as_deref());
        if let Err(e) = &highlights
            && settings.highlights.replay_seconds > 0
        {
            tracing::warn!("live without highlights: {e}");
        }
        let signals = recording.as_deref().and_then(|rec| {
            let path = marquee_highlights::signals_path_for(rec);
            match SignalLog::create(&path) {
                Ok(log) => Some(Mutex::new(Some(log))),
                Err(e) => {
                    tracing::warn!("live without room signals: {e}");
                    None
                }
            }
        });
        let events = session.events().clone();
        let show = Arc::new(Show {
            scenes: session.scene_control(),
            overlays: session.overlay_control(),
            origin: Origin::of(&session),
            session: Mutex::new(Some(session)),
            highlights,
            signals,
            danmaku: settings.has_danmaku(),
            directable,
            recording,
            preview: Mutex::new(None),
            last_stats: Mutex::new(None),
            monitor: Mutex::new(None),
            chat: Mutex::new(None),
            cohost: cohost.clone(),
            guest_watch: Mutex::new(None),
            host_camera,
            guest_view: Mutex::new(crate::guests::GuestView::Program),
        });
        if cohost.is_some() && settings.guests.view != crate::guests::GuestView::Program {
            show.set_guest_view(settings.guests.view)?;
        }
        if let Some(host) = &cohost {
            let weak = Arc::downgrade(&show);
            *lock(&show.guest_watch) = Some(crate::guests::GuestWatch::start(
                host.clone(),
                show.scenes.clone(),
                home.filter(|_| auto_guest_layout),
                settings.guests.layout,
                // A guest coming on air or leaving is a moment worth a highlight.
                Box::new(move || {
                    if let Some(show) = weak.upgrade() {
                        show.audience(&Audience::GuestChanged);
                    }
                }),
            ));
            host.set_live(true);
        }
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let weak = Arc::downgrade(&show);
        let thread = std::thread::Builder::new()
            .name("show-monitor".into())
            .spawn({
                let observer = observer.clone();
                move || monitor(weak, events, stop_rx, observer)
            });
        match thread {
            Ok(t) => *lock(&show.monitor) = Some((stop_tx, t)),
            Err(e) => {
                // Do not leave a session running that nobody can end.
                show.stop();
                return Err(ShowError::Off(format!(
                    "cannot start the monitor thread: {e}"
                )));
            }
        }
        if !settings.chat.is_empty() {
            let blocked = WordFilter::new(&settings.blocked_words);
            let weak = Arc::downgrade(&show);
            let audience =
                Box::new(move |a: &Audience| weak.upgrade().map(|show| show.audience(a)).is_some());
            let to_panel = observer.clone();
            let to_count = observer.clone();
            let to_strike = observer.clone();
            let to_note = observer.clone();
            let state = Box::new(move |name: &str, s: &marquee_chat::SourceState| {
                observer.chat_state(name, s)
            });
            let note = Box::new(move |name: &str, code: &str, text: &str| {
                to_note.chat_note(name, code, text)
            });
            let line = Box::new(move |name: &str, l: &crate::audience::ChatLine| {
                to_panel.chat_line(name, l)
            });
            let dropped = Box::new(move |name: &str, n: u64| to_count.chat_dropped(name, n));
            let removed = Box::new(move |name: &str, r: &crate::audience::ChatRemoval| {
                to_strike.chat_removed(name, r)
            });
            let to = crate::chat::ChatOut {
                audience,
                state,
                note,
                line,
                dropped,
                removed,
            };
            match ChatRunner::start(&settings.chat, blocked, keychain, to) {
                Ok(r) => *lock(&show.chat) = Some(r),
                // Platform chat is a convenience: the show goes on without it.
                Err(e) => tracing::warn!("live without platform chat: {e}"),
            }
        }
        Ok(show)
    }

    /// Session time now (for a preview worker's picture ages).
    pub fn clock(&self) -> Now {
        let at = self.origin.at;
        Arc::new(move || at.elapsed())
    }

    /// Feeds the picture that goes out to a preview until the show ends.
    pub fn attach_preview(&self, preview: Preview) {
        if let Some(s) = lock(&self.session).as_ref() {
            s.add_frame_tap(preview.tap());
            *lock(&self.preview) = Some(preview);
        }
    }

    /// The audience did something: counted for highlight suggestions (while recording) and
    /// shown on the danmaku layer, if the picture has one.
    pub fn audience(&self, a: &Audience) {
        if let (Some(signals), Some(signal)) = (&self.signals, a.signal()) {
            let at = match a.at_ms() {
                Some(ms) => self.origin.session_time(ms),
                None => Some(self.origin.at.elapsed()),
            };
            // `None`: history from before this show (a room replays it on join).
            if let (Some(at), Some(log)) = (at, lock(signals).as_mut()) {
                log.record(signal, at);
            }
        }
        if self.danmaku {
            match a.on_video(self.origin.wall_ms) {
                Some(OnVideo::Show(cmd)) => {
                    // A full queue drops the comment and counts it (`OverlayControl::dropped`).
                    let _ = self.overlays.send(cmd);
                }
                Some(OnVideo::Retract(id)) => self.overlays.retract(id),
                None => {}
            }
        }
    }

    /// A room event, as [`Show::audience`] sees it.
    pub fn room_event(&self, e: &marquee_room::protocol::Event) {
        if let Some(a) = Audience::from_room(e) {
            self.audience(&a);
        }
    }

    /// Runs `f` on the session while the show is on.
    fn with_session<T>(
        &self,
        f: impl FnOnce(&Session) -> Result<T, ShowError>,
    ) -> Result<T, ShowError> {
        f(lock(&self.session).as_ref().ok_or(ShowError::NotLive)?)
    }

    /// Puts a scene (or a source's full-frame scene) on air at the next frame, with `cut`,
    /// `fade[:MS]` or `slide[:MS]`. The host's cut pauses director mode.
    pub fn switch(&self, scene: &str, transition: &str) -> Result<(), ShowError> {
        let t: Transition = transition
            .parse()
            .map_err(|e: marquee_scene::SceneError| ShowError::Settings(e.to_string()))?;
        self.with_session(|_| Ok(self.scenes.switch(scene, t)?))
    }

    /// Director mode on (the loudest camera microphone gets the shot) or off.
    pub fn set_director(&self, on: bool) -> Result<(), ShowError> {
        if on && !self.directable {
            return Err(ShowError::Settings(
                "director mode needs a microphone at a camera: pick one in Settings → Audio (the CLI: --source ID=SPEC+MIC); it applies from the next show".into(),
            ));
        }
        self.with_session(|_| {
            self.scenes.set_director(on);
            Ok(())
        })
    }

    pub fn director(&self) -> Option<bool> {
        self.directable.then(|| self.scenes.director())
    }

    /// Shows or hides a burnt-in overlay.
    pub fn set_overlay(&self, id: &str, on: bool) -> Result<(), ShowError> {
        self.with_session(|_| Ok(self.overlays.send(OverlayCmd::Enable(id.into(), on))?))
    }

    /// A comment from the host's own keyboard on the danmaku layer.
    pub fn comment(&self, text: &str) -> Result<(), ShowError> {
        self.with_session(|_| {
            Ok(self
                .overlays
                .send(OverlayCmd::Comment(marquee_studio::Comment::scroll(text)))?)
        })
    }

    pub fn on_air(&self) -> Option<String> {
        self.with_session(|_| Ok(self.scenes.on_air())).ok()
    }

    /// The scenes the host can cut to (every source also has a full-frame one).
    pub fn scenes(&self) -> Vec<marquee_scene::Scene> {
        self.scenes.scenes().to_vec()
    }

    /// How long the show has been on air, while it is.
    pub fn elapsed(&self) -> Option<Duration> {
        self.with_session(|s| Ok(s.elapsed())).ok()
    }

    /// Every destination failed (retries included): nothing goes out any more.
    pub fn all_destinations_failed(&self) -> bool {
        self.with_session(|s| Ok(s.all_destinations_failed()))
            .unwrap_or(false)
    }

    /// The latest stats tick (`None` before the first).
    pub fn stats(&self) -> Option<ShowStats> {
        lock(&self.last_stats).clone()
    }

    /// The replay buffer and marks, or why they are off.
    pub fn highlights(&self) -> Result<&Arc<LiveHighlights>, ShowError> {
        self.highlights
            .as_ref()
            .map_err(|why| ShowError::Off(format!("highlights are off for this show ({why})")))
    }

    /// Saves the last `seconds` (1..=60) as an MP4 clip (stream copy: the encode is not
    /// disturbed) and waits for the file.
    pub fn save_highlight(&self, seconds: f64) -> Result<SavedClip, ShowError> {
        if !(1.0..=60.0).contains(&seconds) {
            return Err(ShowError::Settings(format!(
                "{seconds} s: a highlight is 1 to 60 seconds"
            )));
        }
        self.with_session(|_| Ok(()))?;
        Ok(self
            .highlights()?
            .save_last(Duration::from_secs_f64(seconds))?)
    }

    /// Drops a mark now (cut between two marks later from the recording).
    pub fn mark(&self, label: &str) -> Result<Mark, ShowError> {
        self.with_session(|_| Ok(()))?;
        Ok(self.highlights()?.mark(label)?)
    }

    /// Ends the show: the monitor stops, outputs drain (a few seconds at most), the recording
    /// is finalised and the signals file finished. Later calls return `None`.
    /// The co-stream host, when the show opened guest slots: invites, guests, admit, mute.
    pub fn cohost(&self) -> Option<&Arc<marquee_costream::host::CoHost>> {
        self.cohost.as_ref()
    }

    /// How the guests on air are laid out; `None` when the host's scenes place them.
    pub fn guest_layout(&self) -> Option<crate::guests::GuestLayout> {
        lock(&self.guest_watch).as_ref().and_then(|w| w.layout())
    }

    /// Lays the guests on air out another way (the program cuts to it at once).
    /// What the guests see from now on: the program or the host's camera.
    pub fn set_guest_view(&self, view: crate::guests::GuestView) -> Result<(), ShowError> {
        if self.cohost.is_none() {
            return Err(ShowError::Settings("this show has no guest slots".into()));
        }
        let scene = match view {
            crate::guests::GuestView::Program => None,
            crate::guests::GuestView::HostCamera => {
                Some(self.host_camera.clone().ok_or_else(|| {
                    ShowError::Settings("this show has no camera of the host's to show".into())
                })?)
            }
        };
        self.with_session(|s| Ok(s.set_return_view(scene.as_deref())?))?;
        *lock(&self.guest_view) = view;
        Ok(())
    }

    /// What the guests see now.
    pub fn guest_view(&self) -> crate::guests::GuestView {
        *lock(&self.guest_view)
    }

    pub fn set_guest_layout(&self, layout: crate::guests::GuestLayout) -> Result<(), ShowError> {
        if self.cohost.is_none() {
            return Err(ShowError::Settings("this show has no guest slots".into()));
        }
        match lock(&self.guest_watch).as_ref() {
            Some(w) if w.set_layout(layout) => Ok(()),
            _ => Err(ShowError::Settings(
                "the show's scenes place the guests: switch scenes instead".into(),
            )),
        }
    }

    /// A guest's latest picture as a JPEG `width` pixels wide (the green room's thumbnail);
    /// `None` before their first picture.
    pub fn guest_thumbnail(&self, session: u64, width: u32) -> Result<Option<Vec<u8>>, ShowError> {
        let host = self
            .cohost
            .as_ref()
            .ok_or_else(|| ShowError::Settings("this show has no guest slots".into()))?;
        let picture = host
            .picture(session)
            .map_err(|e| ShowError::Settings(e.to_string()))?;
        picture
            .map(|p| {
                marquee_studio::preview::jpeg_thumbnail(&p.i420, p.width, p.height, width)
                    .map_err(ShowError::from)
            })
            .transpose()
    }

    pub fn stop(&self) -> Option<ShowSummary> {
        drop(lock(&self.chat).take());
        drop(lock(&self.guest_watch).take());
        if let Some(h) = &self.cohost {
            h.stop();
        }
        if let Some((stop, thread)) = lock(&self.monitor).take() {
            let _ = stop.send(());
            // The monitor may hold the last reference and be the one dropping the show.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        let session = lock(&self.session).take()?;
        if let Some(mut p) = lock(&self.preview).take() {
            session.remove_frame_tap(&p.tap());
            p.stop();
        }
        let summary = session.stop();
        let end = Duration::from_secs_f64(summary.duration_s.max(0.0));
        let signals = self
            .signals
            .as_ref()
            .and_then(|s| lock(s).take())
            .and_then(|log| match log.finish(end) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!("room signals not finished: {e}");
                    None
                }
            });
        Some(ShowSummary {
            summary,
            recording: self.recording.clone(),
            signals,
        })
    }

    fn flush_signals(&self) {
        if let Some(s) = &self.signals
            && let Some(log) = lock(s).as_mut()
            && let Err(e) = log.flush(self.origin.at.elapsed())
        {
            tracing::warn!("room signals not written: {e}");
        }
    }
}

/// A show dropped without [`Show::stop`] still ends cleanly (the recording gets its index).
impl Drop for Show {
    fn drop(&mut self) {
        self.stop();
    }
}

fn attach_highlights(
    session: &Session,
    settings: &ShowSettings,
    recording: Option<&std::path::Path>,
) -> Result<Arc<LiveHighlights>, String> {
    let h = &settings.highlights;
    if h.replay_seconds == 0 {
        return Err("turned off".into());
    }
    let cfg = ReplayConfig {
        max_duration: Duration::from_secs(u64::from(h.replay_seconds)),
        max_bytes: h.replay_mib as usize * 1024 * 1024,
    };
    let dir = h
        .clips_dir
        .clone()
        .unwrap_or_else(marquee_highlights::library::default_dir);
    LiveHighlights::attach(session, cfg, dir, recording).map_err(|e| e.to_string())
}

/// Hands engine events on as they come and stats once a second, flushing the signals file
/// with each tick; ends when told or when the show is gone.
fn monitor(
    show: std::sync::Weak<Show>,
    events: Receiver<Event>,
    stop: Receiver<()>,
    observer: Arc<dyn Observer>,
) {
    // The first tick is a baseline: the first report, a second later, has real rates.
    let mut clock = StatsClock::default();
    if let Some(show) = show.upgrade()
        && let Ok(snap) = show.with_session(|s| Ok(s.stats()))
    {
        clock.tick(snap);
    }
    let mut next = Instant::now() + STATS_EVERY;
    loop {
        let wait = crossbeam_channel::at(next);
        crossbeam_channel::select! {
            recv(stop) -> _ => return,
            recv(events) -> e => match e {
                Ok(e) => observer.event(&e),
                // The session is gone.
                Err(_) => return,
            },
            recv(wait) -> _ => {
                let Some(show) = show.upgrade() else { return };
                let snap = show.with_session(|s| Ok(s.stats()));
                let Ok(snap) = snap else { return };
                let mut stats = clock.tick(snap);
                stats.director = show.director();
                observer.stats(&stats);
                *lock(&show.last_stats) = Some(stats);
                show.flush_signals();
                next += STATS_EVERY;
                // After a stall (a suspended laptop), tick from now rather than catching up.
                next = next.max(Instant::now());
            }
        }
    }
}
