//! Going live and ending: builds a `SessionConfig` from the UI's settings, runs the engine
//! session, and pumps its events (`session_event`) and stats (`stats`, once a second) to the UI.

use crate::error::{AppError, ErrorCode};
use crate::ipc::{self, GoLiveSettings, LiveSummary, SessionEvent, Stats};
use marquee_capture::camera::Faults;
use marquee_profile::Keychain;
use marquee_studio::output::KeyProvider;
use marquee_studio::{
    AudioSettings, DestinationConfig, DestinationUrl, EncoderChoice, Session, SessionConfig,
    StatsSnapshot, VideoSettings,
};
use marquee_studio::{SceneSetup, SourceConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the UI hears about the session. The Tauri app emits events; tests collect them.
pub trait Emit: Send + Sync + 'static {
    fn stats(&self, s: &Stats);
    fn event(&self, e: &SessionEvent);
}

/// The running session, if any.
#[derive(Default)]
pub struct Live {
    inner: Mutex<Option<Running>>,
    /// The running session's room signals, apart from `inner` (held while a session starts,
    /// which takes seconds): room events never wait on going live.
    signals: Mutex<Option<Signals>>,
    /// The burnt-in danmaku layer's control and the wall time (ms) it went live at, when the
    /// stream has one; apart from `inner` for the same reason.
    danmaku: Mutex<Option<(marquee_studio::OverlayControl, u64)>>,
}

struct Running {
    session: Arc<Mutex<Option<Session>>>,
    /// The replay buffer on the packet bus (save the last seconds as a clip, marks).
    highlights: Option<Arc<marquee_highlights::LiveHighlights>>,
    /// The preview worker fed by the session's frame tap.
    preview: Option<marquee_studio::preview::Preview>,
    stop_pump: Arc<AtomicBool>,
    pump: std::thread::JoinHandle<()>,
    last: Arc<Mutex<Option<Stats>>>,
    record: Option<String>,
    /// Some camera has a microphone: director mode can run.
    directable: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The signal log and the session clock it is stamped with.
#[derive(Clone)]
struct Signals {
    /// `None` once the session ended and the file was finished.
    log: Arc<Mutex<Option<marquee_highlights::SignalLog>>>,
    /// The session clock's zero, as an instant (for "now") …
    origin: Instant,
    /// … and as wall-clock ms (room events carry their server time).
    origin_wall_ms: u64,
}

impl Signals {
    fn record(&self, e: &ipc::RoomEvent) {
        let Some((signal, at_ms)) = room_signal(e) else {
            return;
        };
        let at = match at_ms {
            Some(ms) => match session_time(ms, self.origin_wall_ms) {
                Some(t) => t,
                // History from before this session (the room replays it on join).
                None => return,
            },
            None => self.origin.elapsed(),
        };
        if let Some(log) = lock(&self.log).as_mut() {
            log.record(signal, at);
        }
    }

    fn flush(&self) {
        let now = self.origin.elapsed();
        if let Some(log) = lock(&self.log).as_mut()
            && let Err(e) = log.flush(now)
        {
            tracing::warn!("room signals not written: {e}");
        }
    }

    /// Writes the last seconds (up to the session's length) and closes the file.
    fn finish(&self, end: Duration) -> Option<String> {
        let log = lock(&self.log).take()?;
        match log.finish(end) {
            Ok(p) => Some(p.display().to_string()),
            Err(e) => {
                tracing::warn!("room signals not finished: {e}");
                None
            }
        }
    }
}

/// What a room event counts for in highlight suggestions, and its server time (ms) when it
/// carries one. Chat and gifts are stamped by the room; a vote closing and a lottery draw
/// count when they reach the app.
pub fn room_signal(e: &ipc::RoomEvent) -> Option<(marquee_highlights::Signal, Option<u64>)> {
    use marquee_highlights::Signal;
    match e {
        ipc::RoomEvent::Chat { at, deleted, .. } if !deleted => Some((Signal::Danmaku, Some(*at))),
        ipc::RoomEvent::Gift { at, coins, .. } => Some((
            Signal::Gift {
                value: *coins as f64,
            },
            Some(*at),
        )),
        ipc::RoomEvent::Poll { poll } if !poll.open => Some((Signal::Vote, None)),
        ipc::RoomEvent::Lottery { lottery } if !lottery.open && !lottery.winners.is_empty() => {
            Some((Signal::Lottery, None))
        }
        _ => None,
    }
}

/// A room time (wall ms) on the session clock whose zero was at `origin_wall_ms`; `None`
/// before the session started.
pub fn session_time(at_ms: u64, origin_wall_ms: u64) -> Option<Duration> {
    at_ms.checked_sub(origin_wall_ms).map(Duration::from_millis)
}

fn wall_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn settings(m: String) -> AppError {
    AppError::new(ErrorCode::Settings, m)
}

/// Turns the UI's settings into the engine's, resolving `key_name`s against the keychain now
/// (so a missing key fails before going live). Keys are only read at connect time.
pub fn session_config(s: &GoLiveSettings, keychain: &Keychain) -> Result<SessionConfig, AppError> {
    let video = s
        .video
        .parse()
        .map_err(|e: marquee_capture::CaptureError| settings(e.to_string()))?;
    let audio = s
        .audio
        .parse()
        .map_err(|e: marquee_capture::CaptureError| settings(e.to_string()))?;
    if !(1..=120).contains(&s.fps) {
        return Err(settings(format!(
            "frame rate {} must be between 1 and 120",
            s.fps
        )));
    }
    if !(100..=50_000).contains(&s.bitrate_kbps) {
        return Err(settings(format!(
            "bitrate {} kbps must be between 100 and 50000",
            s.bitrate_kbps
        )));
    }
    let encoder: EncoderChoice = s.encoder.parse().unwrap_or(EncoderChoice::X264);
    let mut destinations = Vec::new();
    for d in &s.destinations {
        let raw = match &d.key_name {
            Some(name) => format!("{}/key:{name}", d.url.trim_end_matches('/')),
            None => d.url.clone(),
        };
        let url = DestinationUrl::parse(&raw).map_err(|e| settings(e.to_string()))?;
        let key: Option<KeyProvider> = url.keychain_name().map(|name| {
            let (kc, name) = (keychain.clone(), name.to_string());
            Arc::new(move || kc.get(&name).map_err(|e| e.to_string())) as KeyProvider
        });
        if let Some(name) = url.keychain_name() {
            keychain.get(name)?;
        }
        destinations.push(DestinationConfig { url, key });
    }
    let record = s.record.then(|| {
        s.record_path
            .as_ref()
            .filter(|r| !r.trim().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(default_recording)
    });
    if let Some(dir) = record
        .as_ref()
        .and_then(|r| r.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            AppError::new(
                ErrorCode::Settings,
                format!("cannot create the recordings folder {}: {e}", dir.display()),
            )
        })?;
    }
    if destinations.is_empty() && record.is_none() {
        return Err(settings(
            "add a destination or turn on recording before going live".to_string(),
        ));
    }
    Ok(SessionConfig {
        video,
        audio,
        video_settings: VideoSettings {
            width: s.width,
            height: s.height,
            fps: s.fps,
            bitrate_kbps: s.bitrate_kbps,
            encoder,
            preset: "veryfast".into(),
        },
        audio_settings: AudioSettings {
            bitrate_kbps: 128,
            gain_db: s.mic_gain_db.clamp(-30.0, 30.0),
        },
        destinations,
        record,
        test_faults: Faults::default(),
    })
}

/// `~/Videos/Marquee/marquee-<UTC time>.mkv` (the CLI's default too).
pub fn default_recording() -> PathBuf {
    use marquee_profile::paths::{timestamp, videos_dir};
    videos_dir().join(format!("marquee-{}.mkv", timestamp()))
}

/// The sources a session opens and the scene on air first: every source the scene bar
/// offers (so the host can cut between them while live), starting on the chosen one.
/// Each source's microphone (`source_mics`) is mixed in and, with `director`, picks the camera.
pub fn scene_setup(s: &GoLiveSettings) -> Result<SceneSetup, AppError> {
    let mut specs: Vec<String> = s.sources.clone();
    if !specs.contains(&s.video) {
        specs.insert(0, s.video.clone());
    }
    let mic_of = |spec: &str| {
        s.source_mics
            .get(spec)
            .map(|m| m.trim())
            .filter(|m| !m.is_empty() && *m != "none")
    };
    let any_mic = specs.iter().any(|spec| mic_of(spec).is_some());
    if s.director && !any_mic {
        return Err(settings(
            "director mode listens to the cameras' microphones: pick one for at least one camera in Settings → Audio, or turn director mode off".into(),
        ));
    }
    if specs.len() == 1 && !any_mic {
        return Ok(SceneSetup::default());
    }
    let sources = specs
        .iter()
        .map(|spec| {
            Ok(SourceConfig {
                id: spec.clone(),
                spec: spec
                    .parse()
                    .map_err(|e: marquee_capture::CaptureError| settings(e.to_string()))?,
                mic: mic_of(spec)
                    .map(|m| {
                        m.parse().map_err(|e: marquee_capture::CaptureError| {
                            settings(format!("the microphone for {spec}: {e}"))
                        })
                    })
                    .transpose()?,
                faults: Faults::default(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let hold = s.director_hold_s.unwrap_or(3.0);
    if !(1.0..=30.0).contains(&hold) {
        return Err(settings(format!(
            "director hold {hold} s must be between 1 and 30 s"
        )));
    }
    Ok(SceneSetup {
        sources,
        start: Some(s.video.clone()),
        director: s.director,
        director_config: marquee_studio::director::DirectorConfig {
            hold: Duration::from_secs_f32(hold),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// Derives the UI's stats from two engine snapshots `dt` apart.
pub fn derive_stats(
    prev: Option<&StatsSnapshot>,
    cur: &StatsSnapshot,
    dt: Duration,
    audio_input: &str,
) -> Stats {
    let secs = dt.as_secs_f64().max(1e-3);
    let kbps = |now: u64, before: Option<u64>| {
        before.map_or(0.0, |b| now.saturating_sub(b) as f64 * 8.0 / 1000.0 / secs)
    };
    let out = |i: Option<usize>, o: &marquee_studio::stats::OutputSnapshot| {
        let before = prev.and_then(|p| match i {
            Some(i) => p.destinations.get(i).map(|d| d.bytes),
            None => p.recording.as_ref().map(|r| r.bytes),
        });
        ipc::OutputStats {
            name: o.url.clone(),
            state: o.state.clone().into(),
            bytes: o.bytes,
            bitrate_kbps: kbps(o.bytes, before),
            dropped_video: o.dropped.congestion + o.dropped.disconnected + o.dropped.overflow,
            reconnects: o.reconnects,
            latency_p50_ms: o.latency_p50_ms,
        }
    };
    let fps = prev.map_or(0.0, |p| {
        cur.video.frames.saturating_sub(p.video.frames) as f64 / secs
    });
    let cpu = prev.map_or(0.0, |p| (cur.cpu_s - p.cpu_s).max(0.0) / secs * 100.0);
    Stats {
        session_s: cur.session_s,
        encoder: cur.video.encoder.clone(),
        width: cur.video.width,
        height: cur.video.height,
        fps,
        target_fps: cur.video.fps,
        dropped: ipc::VideoDrops {
            capture_queue_full: cur.video.dropped.capture_queue_full,
            render_lag: cur.video.dropped.render_lag,
            encoder_lag: cur.video.dropped.encoder_lag,
        },
        // One meter per input when camera microphones are mixed in (the first is the main
        // microphone, shown under its setting's name); else the mix.
        audio: if cur.audio.inputs.len() > 1 {
            cur.audio
                .inputs
                .iter()
                .enumerate()
                .map(|(i, l)| ipc::AudioLevel {
                    input: if i == 0 {
                        audio_input.to_string()
                    } else {
                        l.input.clone()
                    },
                    peak_db: l.peak_db,
                    rms_db: l.rms_db,
                })
                .collect()
        } else {
            vec![ipc::AudioLevel {
                input: audio_input.to_string(),
                peak_db: cur.audio.peak_db,
                rms_db: cur.audio.rms_db,
            }]
        },
        destinations: cur
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| out(Some(i), d))
            .collect(),
        recording: cur.recording.as_ref().map(|r| out(None, r)),
        cpu_percent: cpu,
        rss_bytes: cur.rss_bytes,
        director: None,
    }
}

impl Live {
    pub fn is_live(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Starts the engine (blocking: encoders and the recording open here) and the pump thread.
    pub fn start(
        &self,
        settings: &GoLiveSettings,
        keychain: &Keychain,
        emit: Arc<dyn Emit>,
        preview: Option<&Arc<crate::preview::PreviewHub>>,
    ) -> Result<(), AppError> {
        let mut slot = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Err(AppError::new(
                ErrorCode::AlreadyLive,
                "already live: end the stream first",
            ));
        }
        let cfg = session_config(settings, keychain)?;
        let mut setup = scene_setup(settings)?;
        setup.overlays = crate::overlays::to_items(
            &settings.overlays,
            &crate::settings::profile_overlays(&marquee_profile::config::default_path()),
        )?;
        let has_danmaku = setup
            .overlays
            .iter()
            .any(|o| matches!(o.spec, marquee_studio::OverlaySpec::Danmaku { .. }));
        let directable = setup.sources.iter().any(|s| s.mic.is_some());
        let record_name = cfg.record.as_ref().map(|p| p.display().to_string());
        let session = Session::start_with(cfg, setup)?;
        let director = directable.then(|| session.scene_control());
        // The last 60 s of packets, for "save highlight"; a replay buffer that cannot start
        // (a full disk for the clips folder, say) must not keep anyone off the air.
        let recording_path = settings
            .record
            .then(|| record_name.as_ref().map(PathBuf::from))
            .flatten();
        let highlights = match marquee_highlights::LiveHighlights::attach(
            &session,
            marquee_highlights::ReplayConfig {
                max_duration: Duration::from_secs(60),
                max_bytes: 64 << 20,
            },
            marquee_highlights::library::default_dir(),
            recording_path.as_deref(),
        ) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!("live without highlights: {e}");
                None
            }
        };
        // The session clock as an instant, read together with `elapsed` (exact to a µs).
        let elapsed = session.elapsed();
        let origin = Instant::now() - elapsed;
        let origin_wall_ms = wall_ms(std::time::SystemTime::now() - elapsed);
        let overlay_ctl = has_danmaku.then(|| session.overlay_control());
        // Room signals beside the recording, for highlight suggestions after the stream; a
        // file that cannot be written must not keep anyone off the air either.
        let signals = recording_path.as_deref().and_then(|rec| {
            let path = marquee_highlights::signals_path_for(rec);
            match marquee_highlights::SignalLog::create(&path) {
                Ok(log) => Some(Signals {
                    log: Arc::new(Mutex::new(Some(log))),
                    origin,
                    origin_wall_ms,
                }),
                Err(e) => {
                    tracing::warn!("live without room signals: {e}");
                    None
                }
            }
        });
        let preview = match preview {
            // A preview that cannot start must not keep anyone off the air.
            Some(hub) => {
                match hub.worker(Arc::new(move || origin.elapsed()), crate::preview::LIVE_FPS) {
                    Ok(p) => {
                        session.add_frame_tap(p.tap());
                        Some(p)
                    }
                    Err(e) => {
                        tracing::warn!("live without a preview: {e}");
                        None
                    }
                }
            }
            None => None,
        };
        let session = Arc::new(Mutex::new(Some(session)));
        let stop_pump = Arc::new(AtomicBool::new(false));
        let last = Arc::new(Mutex::new(None));
        let pump = {
            let (session2, stop, last) = (session.clone(), stop_pump.clone(), last.clone());
            let audio = settings.audio.clone();
            let signals = signals.clone();
            let spawned = std::thread::Builder::new()
                .name("app-stats".into())
                .spawn(move || pump(session2, stop, last, emit, audio, director, signals));
            match spawned {
                Ok(t) => t,
                Err(e) => {
                    // Do not leave a session running that nobody can end.
                    let s = session_for_cleanup(&session);
                    if let Some(s) = s {
                        s.stop();
                    }
                    return Err(AppError::new(
                        ErrorCode::Internal,
                        format!("cannot start stats thread: {e}"),
                    ));
                }
            }
        };
        *slot = Some(Running {
            session,
            highlights,
            preview,
            stop_pump,
            pump,
            last,
            record: record_name,
            directable,
        });
        *lock(&self.signals) = signals;
        if let Some(ctl) = overlay_ctl {
            *lock(&self.danmaku) = Some((ctl, origin_wall_ms));
        }
        Ok(())
    }

    /// Runs `f` on the running session (and its bookkeeping), or says "not live".
    fn with_session<T>(
        &self,
        f: impl FnOnce(&Running, &Session) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let not_live = || AppError::new(ErrorCode::NotLive, "not live");
        let slot = lock(&self.inner);
        let r = slot.as_ref().ok_or_else(not_live)?;
        let session = lock(&r.session);
        f(r, session.as_ref().ok_or_else(not_live)?)
    }

    /// A room event while live: counted for suggestions (when recording), and shown on the
    /// burnt-in danmaku layer (a deletion takes it off).
    pub fn room_event(&self, e: &ipc::RoomEvent) {
        let signals = lock(&self.signals).clone();
        if let Some(s) = signals {
            s.record(e);
        }
        let danmaku = lock(&self.danmaku).clone();
        if let Some((ctl, since_ms)) = danmaku {
            crate::overlays::forward(&ctl, e, since_ms);
        }
    }

    /// Switches an overlay on or off while live.
    pub fn set_overlay(&self, id: &str, on: bool) -> Result<(), AppError> {
        self.with_session(|_, s| {
            s.overlay_control()
                .send(marquee_studio::OverlayCmd::Enable(id.to_string(), on))
                .map_err(|e| settings(e.to_string()))
        })
    }

    /// How long the stream has been live, if it is.
    pub fn elapsed(&self) -> Option<Duration> {
        self.with_session(|_, s| Ok(s.elapsed())).ok()
    }

    /// The scene on air, if live.
    pub fn on_air(&self) -> Option<String> {
        self.with_session(|_, s| Ok(s.on_air())).ok()
    }

    /// Puts a source's scene on air at the next frame (`transition`: cut, fade[:MS], slide[:MS]).
    pub fn switch(&self, scene: &str, transition: &str) -> Result<(), AppError> {
        let t: marquee_studio::Transition = transition
            .parse()
            .map_err(|e: marquee_scene::SceneError| settings(e.to_string()))?;
        self.with_session(|_, s| s.switch(scene, t).map_err(|e| settings(e.to_string())))
    }

    /// Turns director mode on (it picks the camera whose microphone is loudest) or off.
    pub fn set_director(&self, on: bool) -> Result<(), AppError> {
        self.with_session(|r, s| {
            if on && !r.directable {
                return Err(settings(
                    "director mode needs a microphone at a camera: pick one in Settings → Audio (it applies from the next stream)".into(),
                ));
            }
            s.set_director(on);
            Ok(())
        })
    }

    /// Saves the last `seconds` as an MP4 clip (stream copy, the encode is not disturbed).
    pub fn save_highlight(&self, seconds: f64) -> Result<ipc::HighlightSaved, AppError> {
        let h = self.highlights()?;
        if !(1.0..=60.0).contains(&seconds) {
            return Err(settings(format!(
                "{seconds} s: a highlight is 1 to 60 seconds"
            )));
        }
        let clip = h.save_last(Duration::from_secs_f64(seconds)).map_err(|e| {
            AppError::new(ErrorCode::Engine, format!("the clip was not saved: {e}"))
        })?;
        Ok(ipc::HighlightSaved {
            path: clip.path.display().to_string(),
            duration_s: clip.duration_s,
            latency_ms: clip.latency_ms,
        })
    }

    /// Drops a mark now (cut between two marks later from the recording).
    pub fn mark(&self, label: &str) -> Result<f64, AppError> {
        let m = self.highlights()?.mark(label).map_err(|e| {
            AppError::new(ErrorCode::Engine, format!("the mark was not saved: {e}"))
        })?;
        Ok(m.at_ms as f64 / 1000.0)
    }

    fn highlights(&self) -> Result<Arc<marquee_highlights::LiveHighlights>, AppError> {
        let slot = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let r = slot
            .as_ref()
            .ok_or_else(|| AppError::new(ErrorCode::NotLive, "highlights are saved while live"))?;
        r.highlights.clone().ok_or_else(|| {
            AppError::new(
                ErrorCode::Engine,
                "highlights are off for this stream (the clips folder could not be used)",
            )
        })
    }

    /// The latest stats tick.
    pub fn stats(&self) -> Result<Stats, AppError> {
        let slot = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let r = slot
            .as_ref()
            .ok_or_else(|| AppError::new(ErrorCode::NotLive, "not live"))?;
        let last = r.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        last.ok_or_else(|| AppError::new(ErrorCode::NotLive, "starting: no stats yet"))
    }

    /// Stops the session (blocking up to a few seconds while outputs drain).
    pub fn end(&self) -> Result<LiveSummary, AppError> {
        let running = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| AppError::new(ErrorCode::NotLive, "not live"))?;
        running.stop_pump.store(true, Ordering::Relaxed);
        let _ = running.pump.join();
        let session = running
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| AppError::new(ErrorCode::Internal, "session already stopped"))?;
        if let Some(mut p) = running.preview {
            session.remove_frame_tap(&p.tap());
            p.stop();
        }
        let summary = session.stop();
        lock(&self.danmaku).take();
        let signals = lock(&self.signals)
            .take()
            .and_then(|s| s.finish(Duration::from_secs_f64(summary.duration_s.max(0.0))));
        Ok(LiveSummary {
            duration_s: summary.duration_s,
            frames: summary.stats.video.frames,
            recording: running.record,
            signals,
        })
    }
}

fn session_for_cleanup(session: &Arc<Mutex<Option<Session>>>) -> Option<Session> {
    session.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn pump(
    session: Arc<Mutex<Option<Session>>>,
    stop: Arc<AtomicBool>,
    last: Arc<Mutex<Option<Stats>>>,
    emit: Arc<dyn Emit>,
    audio: String,
    director: Option<marquee_studio::SceneControl>,
    signals: Option<Signals>,
) {
    let mut prev: Option<(Instant, StatsSnapshot)> = None;
    let mut next_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut events = Vec::new();
        let mut snap = None;
        if let Some(s) = session.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            while let Ok(e) = s.events().try_recv() {
                events.push(SessionEvent::from(e));
            }
            if Instant::now() >= next_stats {
                snap = Some(s.stats());
            }
        }
        for e in &events {
            emit.event(e);
        }
        if let Some(cur) = snap {
            let now = Instant::now();
            let dt = prev
                .as_ref()
                .map_or(Duration::from_secs(1), |(t, _)| now - *t);
            let mut stats = derive_stats(prev.as_ref().map(|(_, s)| s), &cur, dt, &audio);
            stats.director = director.as_ref().map(|c| c.director());
            emit.stats(&stats);
            *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
            prev = Some((now, cur));
            next_stats += Duration::from_secs(1);
            if let Some(s) = &signals {
                s.flush();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::DestinationSetting;

    fn settings() -> GoLiveSettings {
        GoLiveSettings {
            video: "test".into(),
            audio: "tone".into(),
            destinations: vec![],
            record: false,
            record_path: None,
            width: 1280,
            height: 720,
            fps: 30,
            bitrate_kbps: 2500,
            encoder: "x264".into(),
            sources: vec![],
            mic_gain_db: 0.0,
            source_mics: Default::default(),
            director: false,
            director_hold_s: None,
            overlays: vec![],
        }
    }

    #[test]
    fn every_offered_source_is_opened_and_the_chosen_one_goes_on_air_first() {
        let s = GoLiveSettings {
            video: "test:2".into(),
            sources: vec!["test".into(), "test:2".into()],
            ..settings()
        };
        let setup = scene_setup(&s).unwrap();
        let ids: Vec<&str> = setup.sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["test", "test:2"]);
        assert_eq!(setup.start.as_deref(), Some("test:2"));
        // One source: the plain single-source session.
        assert!(scene_setup(&settings()).unwrap().sources.is_empty());
        let bad = GoLiveSettings {
            sources: vec!["webcam".into()],
            ..settings()
        };
        assert!(scene_setup(&bad).is_err());
    }

    #[test]
    fn camera_microphones_are_mixed_and_drive_director_mode_with_its_hold() {
        let s = GoLiveSettings {
            video: "test".into(),
            sources: vec!["test".into(), "test:2".into()],
            source_mics: [("test:2".to_string(), "tone:880".to_string())].into(),
            director: true,
            director_hold_s: Some(5.0),
            ..settings()
        };
        let setup = scene_setup(&s).unwrap();
        assert_eq!(setup.sources[0].mic, None);
        assert_eq!(setup.sources[1].mic, Some("tone:880".parse().unwrap()));
        assert!(setup.director);
        assert_eq!(setup.director_config.hold, Duration::from_secs(5));
        // One camera with a microphone is still a scene setup (its mic must be opened).
        let one = GoLiveSettings {
            source_mics: [("test".to_string(), "tone".to_string())].into(),
            ..settings()
        };
        assert_eq!(scene_setup(&one).unwrap().sources.len(), 1);
    }

    #[test]
    fn director_mode_without_a_camera_microphone_says_where_to_pick_one() {
        let s = GoLiveSettings {
            sources: vec!["test".into(), "test:2".into()],
            source_mics: [("test:2".to_string(), "none".to_string())].into(),
            director: true,
            ..settings()
        };
        let e = scene_setup(&s).unwrap_err();
        assert_eq!(e.code, ErrorCode::Settings);
        assert!(e.message.contains("Settings → Audio"), "{}", e.message);
        let bad_hold = GoLiveSettings {
            source_mics: [("test".to_string(), "tone".to_string())].into(),
            director: true,
            director_hold_s: Some(0.2),
            ..settings()
        };
        assert!(
            scene_setup(&bad_hold)
                .unwrap_err()
                .message
                .contains("between 1 and 30")
        );
    }

    #[test]
    fn nowhere_to_go_is_a_settings_error() {
        let e = session_config(&settings(), &Keychain::new("marquee-test"))
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::Settings);
    }

    #[test]
    fn bad_source_and_url_are_settings_errors() {
        let mut s = settings();
        s.video = "webcam".into();
        assert_eq!(
            session_config(&s, &Keychain::new("marquee-test"))
                .err()
                .unwrap()
                .code,
            ErrorCode::Settings
        );
        let mut s = settings();
        s.destinations.push(DestinationSetting {
            url: "http://x/app/k".into(),
            key_name: None,
        });
        assert_eq!(
            session_config(&s, &Keychain::new("marquee-test"))
                .err()
                .unwrap()
                .code,
            ErrorCode::Settings
        );
    }

    #[test]
    fn inline_url_and_recording_make_a_config() {
        let mut s = settings();
        s.destinations.push(DestinationSetting {
            url: "rtmp://127.0.0.1:1935/live/demo".into(),
            key_name: None,
        });
        s.record = true;
        s.record_path = Some("/tmp/x.mkv".into());
        let c = session_config(&s, &Keychain::new("marquee-test")).unwrap();
        assert_eq!(c.destinations.len(), 1);
        assert_eq!(c.video_settings.fps, 30);
    }

    fn user() -> ipc::RoomUser {
        ipc::RoomUser {
            id: "v1".into(),
            name: "小明".into(),
            role: "viewer".into(),
        }
    }

    #[test]
    fn room_events_become_signals_with_their_room_time() {
        use marquee_highlights::Signal;
        let chat = |deleted| ipc::RoomEvent::Chat {
            id: 1,
            at: 1_000_500,
            user: user(),
            text: "hi".into(),
            color: "#ffffff".into(),
            mode: "scroll".into(),
            masked: false,
            deleted,
        };
        assert_eq!(
            room_signal(&chat(false)),
            Some((Signal::Danmaku, Some(1_000_500)))
        );
        assert_eq!(room_signal(&chat(true)), None, "a tombstone is no message");
        let gift = ipc::RoomEvent::Gift {
            seq: 2,
            at: 1_002_000,
            user: user(),
            gift: "rocket".into(),
            count: 2,
            coins: 200,
            combo: 1,
        };
        assert_eq!(
            room_signal(&gift),
            Some((Signal::Gift { value: 200.0 }, Some(1_002_000)))
        );
        let poll = |open| ipc::RoomEvent::Poll {
            poll: ipc::Poll {
                poll: 1,
                question: "?".into(),
                options: vec!["a".into(), "b".into()],
                tallies: vec![0, 1],
                ends_at: 0,
                open,
            },
        };
        assert_eq!(
            room_signal(&poll(true)),
            None,
            "a vote opening is not a moment"
        );
        assert_eq!(room_signal(&poll(false)), Some((Signal::Vote, None)));
        let lottery = |open, winners: Vec<String>| ipc::RoomEvent::Lottery {
            lottery: ipc::Lottery {
                lottery: 1,
                keyword: "666".into(),
                prize: "poster".into(),
                seed: "00".into(),
                entrants: 1,
                open,
                winners,
            },
        };
        assert_eq!(room_signal(&lottery(true, vec![])), None);
        assert_eq!(
            room_signal(&lottery(false, vec![])),
            None,
            "closed without a draw"
        );
        assert_eq!(
            room_signal(&lottery(false, vec!["小明".into()])),
            Some((Signal::Lottery, None))
        );
        assert_eq!(room_signal(&ipc::RoomEvent::Viewers { count: 3 }), None);
    }

    #[test]
    fn room_time_maps_onto_the_session_clock() {
        assert_eq!(
            session_time(1_005_250, 1_000_000),
            Some(Duration::from_millis(5_250))
        );
        assert_eq!(session_time(999_999, 1_000_000), None, "before the session");
    }

    #[test]
    fn default_recording_is_a_dated_mkv() {
        let p = default_recording();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("marquee-20") && name.ends_with(".mkv"),
            "{name}"
        );
        assert_eq!(p.parent().unwrap().file_name().unwrap(), "Marquee");
    }
}
