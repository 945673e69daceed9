//! Going live and ending, over the show engine (`marquee-show`): the UI's settings become a
//! `ShowSettings`, the show's events and stats become `session_event` / `stats` for the UI.

use crate::error::{AppError, ErrorCode};
use crate::ipc::{self, GoLiveSettings, LiveSummary, SessionEvent, Stats};
use marquee_profile::Keychain;
use marquee_show::settings::{Recording, SourceSetting, default_recording};
use marquee_show::{Show, ShowSettings, ShowStats};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Where the UI hears about the show. The Tauri app emits events; tests collect them.
pub trait Emit: Send + Sync + 'static {
    fn stats(&self, s: &Stats);
    fn event(&self, e: &SessionEvent);
    fn platform_chat(&self, _c: &ipc::PlatformChatBatch) {}
    fn chat_source(&self, _s: &ipc::ChatSourceState) {}
}

/// The show on air, if any.
#[derive(Default)]
pub struct Live {
    show: Mutex<Option<Arc<Show>>>,
    /// Held while a show starts (seconds): one start at a time, while room events and
    /// commands keep reading `show` without waiting.
    starting: Mutex<()>,
    /// The latest stats as the UI got them.
    last: Arc<Mutex<Option<Stats>>>,
    /// The invite links of the show's guest slots.
    pub invites: crate::invites::Invites,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The UI's settings as a show: every source the scene bar offers is opened (the host cuts
/// between them while live), starting on the chosen one; each one's microphone is mixed in.
pub fn show_settings(s: &GoLiveSettings) -> Result<ShowSettings, AppError> {
    let mut specs: Vec<String> = s.sources.clone();
    if !specs.contains(&s.video) {
        specs.insert(0, s.video.clone());
    }
    let mic_of = |spec: &str| {
        s.source_mics
            .get(spec)
            .map(|m| m.trim())
            .filter(|m| !m.is_empty() && *m != "none")
            .map(str::to_string)
    };
    let any_mic = specs.iter().any(|spec| mic_of(spec).is_some());
    let config = marquee_profile::config::default_path();
    // Network cameras that ask for a passphrase name its keychain entry.
    let locked = crate::settings::network_camera_passphrases(&config);
    let opened = |spec: &str| crate::settings::video_for_show(spec, &locked);
    // One camera and no camera microphone: the plain single-source show.
    let sources = if specs.len() == 1 && !any_mic && !s.director {
        Vec::new()
    } else {
        specs
            .iter()
            .map(|spec| SourceSetting {
                id: spec.clone(),
                video: opened(spec),
                mic: mic_of(spec),
            })
            .collect()
    };
    let recording = match (s.record, s.record_path.as_deref().map(str::trim)) {
        (false, _) => Recording::Off,
        (true, Some(p)) if !p.is_empty() => Recording::Path(PathBuf::from(p)),
        (true, _) => Recording::Path(default_recording()),
    };
    let profile = crate::settings::profile_overlays(&config);
    let chat = (s.chat.iter())
        .map(|c| {
            let mut c = marquee_show::chat::ChatSetting::parse(c)?;
            c.point_at(chat_endpoint);
            Ok(c)
        })
        .collect::<Result<Vec<_>, marquee_show::ShowError>>()?;
    // The host's blocked words mask platform chat as they mask the room's.
    let blocked_words = marquee_profile::Config::load(&config)
        .ok()
        .and_then(|c| c.app)
        .map(|a| a.room.blocked_words)
        .unwrap_or_default();
    Ok(ShowSettings {
        video: opened(&s.video),
        audio: s.audio.clone(),
        start_scene: (!sources.is_empty()).then(|| s.video.clone()),
        sources,
        director: s.director,
        director_hold: Duration::from_secs_f32(s.director_hold_s.unwrap_or(3.0).max(0.0)),
        overlays: marquee_show::overlays::to_items(&ipc::overlay_forms(&s.overlays), &profile)?,
        destinations: s
            .destinations
            .iter()
            .map(|d| marquee_show::destination::from_form(&d.url, d.key_name.as_deref()))
            .collect::<Result<_, _>>()?,
        recording,
        width: s.width,
        height: s.height,
        fps: s.fps,
        bitrate_kbps: s.bitrate_kbps,
        encoder: s.encoder.clone(),
        mic_gain_db: s.mic_gain_db,
        adaptive_bitrate: s.adaptive_bitrate,
        chat,
        blocked_words,
        min_bitrate_kbps: s.min_bitrate_kbps.filter(|&k| k > 0),
        guests: marquee_show::GuestSettings {
            slots: s.guests.slots.min(ipc::APP_GUEST_SLOTS),
            green_room: s.guests.green_room,
            layout: s.guests.layout.engine(),
            view: s.guests.view.engine(),
            ..Default::default()
        },
        ..ShowSettings::default()
    })
}

/// `MARQUEE_CHAT_ENDPOINTS=twitch=ws://…,bilibili=ws://…,bilibili-open=http://…`: a chat
/// source of `kind` goes to a local server instead (tests; `marquee live --chat-endpoint` in
/// the CLI).
fn chat_endpoint(kind: &str) -> Option<String> {
    let all = std::env::var("MARQUEE_CHAT_ENDPOINTS").ok()?;
    all.split(',').find_map(|pair| {
        let (name, url) = pair.split_once('=')?;
        (marquee_show::chat::endpoint_kind(name) == Some(kind)).then(|| url.trim().to_string())
    })
}

/// The UI's stats from the show's: one meter per input when camera microphones are mixed in
/// (the first is the main microphone, shown under its setting's name), else the mix.
pub fn ui_stats(s: &ShowStats, audio_input: &str) -> Stats {
    let cur = &s.now;
    let out = |o: &marquee_studio::stats::OutputSnapshot, kbps: f64| ipc::OutputStats {
        name: o.url.clone(),
        state: o.state.clone().into(),
        bytes: o.bytes,
        bitrate_kbps: kbps,
        dropped_video: o.dropped.total(),
        reconnects: o.reconnects,
        latency_p50_ms: o.latency_p50_ms,
        queued_ms: o.queued_ms,
        rtt_ms: o.rtt_ms,
    };
    let level = |input: &str, peak_db, rms_db| ipc::AudioLevel {
        input: input.to_string(),
        peak_db,
        rms_db,
    };
    Stats {
        session_s: cur.session_s,
        encoder: cur.video.encoder.clone(),
        width: cur.video.width,
        height: cur.video.height,
        fps: s.fps,
        target_fps: cur.video.fps,
        dropped: ipc::VideoDrops {
            capture_queue_full: cur.video.dropped.capture_queue_full,
            render_lag: cur.video.dropped.render_lag,
            encoder_lag: cur.video.dropped.encoder_lag,
        },
        audio: if cur.audio.inputs.len() > 1 {
            cur.audio
                .inputs
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let name = if i == 0 { audio_input } else { &l.input };
                    level(name, l.peak_db, l.rms_db)
                })
                .collect()
        } else {
            vec![level(audio_input, cur.audio.peak_db, cur.audio.rms_db)]
        },
        destinations: cur
            .destinations
            .iter()
            .zip(&s.destinations)
            .map(|(o, r)| out(o, r.kbps))
            .collect(),
        recording: cur
            .recording
            .as_ref()
            .zip(s.recording.as_ref())
            .map(|(o, r)| out(o, r.kbps)),
        cpu_percent: s.cpu_percent,
        rss_bytes: cur.rss_bytes,
        director: s.director,
        abr: cur.abr.as_ref().map(Into::into),
        remote_cameras: (!cur.remote.is_empty()).then(|| {
            (cur.remote.iter().zip(&s.remote))
                .map(|(r, rate)| ipc::RemoteCameraStats {
                    id: marquee_studio::url::redact(&r.id),
                    live: r.state == marquee_capture::SourceState::Live,
                    bitrate_kbps: rate.kbps,
                    latency_ms: r.latency_ms,
                })
                .collect()
        }),
    }
}

/// The show's events and stats, to the UI.
struct ToUi {
    emit: Arc<dyn Emit>,
    audio_input: String,
    last: Arc<Mutex<Option<Stats>>>,
    chat: Mutex<ChatBatcher>,
    /// Each source's last state as sent, so a note joins it and outlives state changes.
    sources: Mutex<std::collections::HashMap<String, ipc::ChatSourceState>>,
}

/// Platform lines gathered into one event at most every [`ChatBatcher::EVERY`].
struct ChatBatcher {
    lines: Vec<ipc::PlatformChat>,
    removed: Vec<ipc::PlatformRemoval>,
    dropped: u64,
    sent: std::time::Instant,
}

impl ChatBatcher {
    const EVERY: Duration = Duration::from_millis(100);

    fn new() -> Self {
        Self {
            lines: Vec::new(),
            removed: Vec::new(),
            dropped: 0,
            sent: std::time::Instant::now() - Self::EVERY,
        }
    }

    /// Adds a line; the batch to send now, if one is due.
    fn push(&mut self, l: ipc::PlatformChat) -> Option<ipc::PlatformChatBatch> {
        if self.lines.len() < ipc::PlatformChatBatch::MAX {
            self.lines.push(l);
        } else {
            self.dropped += 1;
        }
        self.due().then(|| self.take())
    }

    fn due(&self) -> bool {
        self.sent.elapsed() >= Self::EVERY
    }

    /// Adds lines taken away on a platform; the batch to send now, if one is due. A batch
    /// holds at most MAX removals: a full one goes at once (none is ever left out).
    fn remove(&mut self, r: ipc::PlatformRemoval) -> Option<ipc::PlatformChatBatch> {
        self.removed.push(r);
        let full = self.removed.len() >= ipc::PlatformChatBatch::MAX;
        (full || self.due()).then(|| self.take())
    }

    /// What is waiting (a quiet chat's last lines go out with the next stats tick).
    fn take(&mut self) -> ipc::PlatformChatBatch {
        self.sent = std::time::Instant::now();
        ipc::PlatformChatBatch {
            lines: std::mem::take(&mut self.lines),
            removed: std::mem::take(&mut self.removed),
            dropped: std::mem::take(&mut self.dropped),
        }
    }
}

impl marquee_show::Observer for ToUi {
    fn event(&self, e: &marquee_studio::Event) {
        self.emit.event(&SessionEvent::from(e.clone()));
    }
    fn stats(&self, s: &ShowStats) {
        let stats = ui_stats(s, &self.audio_input);
        self.emit.stats(&stats);
        *lock(&self.last) = Some(stats);
        let waiting = {
            let mut c = lock(&self.chat);
            (!c.lines.is_empty() || c.dropped > 0).then(|| c.take())
        };
        if let Some(b) = waiting {
            self.emit.platform_chat(&b);
        }
    }
    fn chat_state(&self, source: &str, s: &marquee_chat::SourceState) {
        let mut sources = lock(&self.sources);
        let mut now = ipc::ChatSourceState::new(source, s);
        if let Some(was) = sources.get(source) {
            now.note_code.clone_from(&was.note_code);
            now.note.clone_from(&was.note);
        }
        self.emit.chat_source(&now);
        sources.insert(source.to_string(), now);
    }
    fn chat_note(&self, source: &str, code: &str, text: &str) {
        let mut sources = lock(&self.sources);
        let connecting = marquee_chat::SourceState::Connecting;
        let s = (sources.entry(source.to_string()))
            .or_insert_with(|| ipc::ChatSourceState::new(source, &connecting));
        s.note_code = Some(code.to_string());
        s.note = Some(text.to_string());
        self.emit.chat_source(s);
    }
    fn chat_line(&self, source: &str, l: &marquee_show::audience::ChatLine) {
        let due = lock(&self.chat).push(ipc::PlatformChat::new(source, l));
        if let Some(b) = due {
            self.emit.platform_chat(&b);
        }
    }
    fn chat_removed(&self, source: &str, r: &marquee_show::audience::ChatRemoval) {
        let due = lock(&self.chat).remove(ipc::PlatformRemoval::new(source, r));
        if let Some(b) = due {
            self.emit.platform_chat(&b);
        }
    }
    fn chat_dropped(&self, _source: &str, n: u64) {
        // Shown with the next batch, with the lines the batcher itself had to drop.
        lock(&self.chat).dropped += n;
    }
}

fn not_live() -> AppError {
    AppError::new(ErrorCode::NotLive, "not live")
}

impl From<marquee_show::ShowError> for AppError {
    fn from(e: marquee_show::ShowError) -> Self {
        use marquee_show::ShowError as E;
        match e {
            E::Settings(m) => AppError::new(ErrorCode::Settings, m),
            E::Key(k) => k.into(),
            E::Device(c) => c.into(),
            E::Engine(s) => s.into(),
            E::NotLive => not_live(),
            E::Room(m) => AppError::new(ErrorCode::Room, m),
            E::Internal(m) => AppError::new(ErrorCode::Internal, m),
            e @ (E::Highlights(_) | E::Off(_)) => AppError::new(ErrorCode::Engine, e.to_string()),
        }
    }
}

impl Live {
    pub fn is_live(&self) -> bool {
        lock(&self.show).is_some()
    }

    /// The show on air, or "not live".
    pub fn show(&self) -> Result<Arc<Show>, AppError> {
        lock(&self.show).clone().ok_or_else(not_live)
    }

    /// Starts the show (blocking: devices, encoders and the recording open here), with the
    /// preview fed from the picture that goes out.
    pub fn start(
        &self,
        settings: &GoLiveSettings,
        keychain: &Keychain,
        emit: Arc<dyn Emit>,
        preview: Option<&Arc<marquee_show::PreviewHub>>,
    ) -> Result<(), AppError> {
        let _one = lock(&self.starting);
        if self.is_live() {
            return Err(AppError::new(
                ErrorCode::AlreadyLive,
                "already live: end the stream first",
            ));
        }
        let s = show_settings(settings)?;
        *lock(&self.last) = None;
        let observer = Arc::new(ToUi {
            emit,
            audio_input: settings.audio.clone(),
            last: self.last.clone(),
            chat: Mutex::new(ChatBatcher::new()),
            sources: Mutex::default(),
        });
        let show = Show::start(&s, keychain, observer)?;
        self.invites.clear();
        if let Some(hub) = preview {
            // A preview that cannot start must not keep anyone off the air.
            match hub.worker(show.clock(), marquee_show::preview::LIVE_FPS) {
                Ok(p) => show.attach_preview(p),
                Err(e) => tracing::warn!("live without a preview: {e}"),
            }
        }
        *lock(&self.show) = Some(show);
        Ok(())
    }

    /// A room event while live (counted for suggestions, shown on the danmaku layer).
    pub fn room_event(&self, e: &marquee_room::protocol::Event) {
        let show = lock(&self.show).clone();
        if let Some(show) = show {
            show.room_event(e);
        }
    }

    /// How long the stream has been live, if it is.
    pub fn elapsed(&self) -> Option<Duration> {
        self.show().ok().and_then(|s| s.elapsed())
    }

    /// The scene on air, if live.
    pub fn on_air(&self) -> Option<String> {
        self.show().ok().and_then(|s| s.on_air())
    }

    /// Saves the last `seconds` as an MP4 clip.
    pub fn save_highlight(&self, seconds: f64) -> Result<ipc::HighlightSaved, AppError> {
        let clip = self.show()?.save_highlight(seconds).map_err(|e| match e {
            marquee_show::ShowError::Highlights(h) => {
                let code = if h.is_disk_full() {
                    ErrorCode::DiskFull
                } else {
                    ErrorCode::Engine
                };
                AppError::new(code, format!("the clip was not saved: {h}"))
            }
            e => e.into(),
        })?;
        Ok(ipc::HighlightSaved {
            path: clip.path.display().to_string(),
            duration_s: clip.duration_s,
            latency_ms: clip.latency_ms,
        })
    }

    /// Drops a mark now; its session time in seconds.
    pub fn mark(&self, label: &str) -> Result<f64, AppError> {
        let m = self.show()?.mark(label)?;
        Ok(m.at_ms as f64 / 1000.0)
    }

    /// The latest stats tick.
    pub fn stats(&self) -> Result<Stats, AppError> {
        self.show()?;
        lock(&self.last)
            .clone()
            .ok_or_else(|| AppError::new(ErrorCode::NotLive, "starting: no stats yet"))
    }

    /// Ends the show (blocking up to a few seconds while outputs drain).
    pub fn end(&self) -> Result<LiveSummary, AppError> {
        let _one = lock(&self.starting);
        let show = lock(&self.show).take().ok_or_else(not_live)?;
        let ended = show
            .stop()
            .ok_or_else(|| AppError::new(ErrorCode::Internal, "the show had already ended"))?;
        Ok(LiveSummary {
            duration_s: ended.summary.duration_s,
            frames: ended.summary.stats.video.frames,
            recording: ended.recording.map(|p| p.display().to_string()),
            signals: ended.signals.map(|p| p.display().to_string()),
        })
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
            guests: Default::default(),
            adaptive_bitrate: true,
            min_bitrate_kbps: None,
            chat: vec![],
        }
    }

    #[derive(Default)]
    struct Sources(Mutex<Vec<ipc::ChatSourceState>>);

    impl Emit for Sources {
        fn stats(&self, _s: &Stats) {}
        fn event(&self, _e: &SessionEvent) {}
        fn chat_source(&self, s: &ipc::ChatSourceState) {
            lock(&self.0).push(s.clone());
        }
    }

    #[test]
    fn a_sources_note_is_sent_with_its_state_and_kept_across_later_states() {
        use marquee_chat::SourceState as S;
        use marquee_show::Observer;
        let emit = Arc::new(Sources::default());
        let ui = ToUi {
            emit: emit.clone(),
            audio_input: String::new(),
            last: Arc::default(),
            chat: Mutex::new(ChatBatcher::new()),
            sources: Mutex::default(),
        };
        ui.chat_state("bilibili:1", &S::Connecting);
        ui.chat_note(
            "bilibili:1",
            "bilibili_anonymous",
            "bilibili: refused (-352)",
        );
        ui.chat_state("bilibili:1", &S::Live);
        ui.chat_state("twitch:x", &S::Live);
        let sent = lock(&emit.0).clone();
        let seen: Vec<_> = (sent.iter())
            .map(|s| (s.source.as_str(), s.state.as_str(), s.note_code.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("bilibili:1", "connecting", None),
                ("bilibili:1", "connecting", Some("bilibili_anonymous")),
                ("bilibili:1", "live", Some("bilibili_anonymous")),
                ("twitch:x", "live", None),
            ]
        );
        assert_eq!(sent[2].note.as_deref(), Some("bilibili: refused (-352)"));
    }

    #[test]
    fn removals_made_on_a_platform_go_out_with_the_lines_and_none_is_left_out() {
        let r = |n: usize| ipc::PlatformRemoval {
            source: "twitch:x".into(),
            message_id: Some(format!("m{n}")),
            user_id: None,
        };
        let mut b = ChatBatcher::new();
        // The first goes at once; within the next tenth of a second they wait, a full batch
        // goes at once, and the rest go with the next.
        let mut sent: Vec<_> = b.remove(r(0)).into_iter().collect();
        assert_eq!(sent[0].removed.len(), 1);
        for n in 1..=ipc::PlatformChatBatch::MAX + 3 {
            sent.extend(b.remove(r(n)));
        }
        sent.push(b.take());
        assert!(
            sent.iter()
                .all(|x| x.removed.len() <= ipc::PlatformChatBatch::MAX)
        );
        let ids: Vec<String> = (sent.iter().flat_map(|x| &x.removed))
            .filter_map(|x| x.message_id.clone())
            .collect();
        assert_eq!(
            ids,
            (0..=ipc::PlatformChatBatch::MAX + 3)
                .map(|n| format!("m{n}"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn platform_lines_go_out_in_batches_and_a_flood_beyond_a_batch_is_counted() {
        let line = |n: usize| ipc::PlatformChat {
            source: "twitch:x".into(),
            platform: "twitch".into(),
            user: format!("u{n}"),
            text: "hi".into(),
            gift: false,
            message_id: None,
            user_id: None,
        };
        let mut b = ChatBatcher::new();
        // The first line after a quiet spell goes at once.
        let first = b.push(line(0)).expect("sent at once");
        assert_eq!((first.lines.len(), first.dropped), (1, 0));
        // Within the next tenth of a second lines wait; past a batch they are counted.
        let mut sent = Vec::new();
        for n in 1..=ipc::PlatformChatBatch::MAX + 20 {
            sent.extend(b.push(line(n)));
        }
        let rest = b.take();
        let total: usize = sent.iter().chain([&rest]).map(|x| x.lines.len()).sum();
        let dropped: u64 = sent.iter().chain([&rest]).map(|x| x.dropped).sum();
        assert_eq!(
            total as u64 + dropped,
            ipc::PlatformChatBatch::MAX as u64 + 20
        );
        assert!(
            sent.iter()
                .chain([&rest])
                .all(|x| x.lines.len() <= ipc::PlatformChatBatch::MAX)
        );
    }

    #[test]
    fn every_offered_source_is_opened_and_the_chosen_one_goes_on_air_first() {
        let s = GoLiveSettings {
            video: "test:2".into(),
            sources: vec!["test".into(), "test:2".into()],
            ..settings()
        };
        let show = show_settings(&s).unwrap();
        let ids: Vec<&str> = show.sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["test", "test:2"]);
        assert_eq!(show.start_scene.as_deref(), Some("test:2"));
        // One source: the plain single-source show.
        assert!(show_settings(&settings()).unwrap().sources.is_empty());
    }

    #[test]
    fn camera_microphones_go_with_their_camera() {
        let s = GoLiveSettings {
            sources: vec!["test".into(), "test:2".into()],
            source_mics: [("test:2".to_string(), "tone:880".to_string())].into(),
            director: true,
            director_hold_s: Some(5.0),
            ..settings()
        };
        let show = show_settings(&s).unwrap();
        assert_eq!(show.sources[0].mic, None);
        assert_eq!(show.sources[1].mic.as_deref(), Some("tone:880"));
        assert_eq!(show.director_hold, Duration::from_secs(5));
        // One camera with a microphone is still a sourced show (its mic must be opened).
        let one = GoLiveSettings {
            source_mics: [("test".to_string(), "tone".to_string())].into(),
            ..settings()
        };
        assert_eq!(show_settings(&one).unwrap().sources.len(), 1);
    }

    #[test]
    fn director_mode_without_a_camera_microphone_says_where_to_pick_one() {
        let s = GoLiveSettings {
            director: true,
            record: true,
            ..settings()
        };
        let e: AppError = show_settings(&s)
            .unwrap()
            .resolve(&Keychain::new("marquee-test"))
            .err()
            .unwrap()
            .into();
        assert_eq!(e.code, ErrorCode::Settings);
        assert!(e.message.contains("Settings → Audio"), "{}", e.message);
    }

    #[test]
    fn a_recording_with_no_path_goes_to_the_videos_folder() {
        let s = GoLiveSettings {
            record: true,
            destinations: vec![DestinationSetting {
                url: "rtmp://127.0.0.1:1935/live/demo".into(),
                key_name: None,
            }],
            ..settings()
        };
        match show_settings(&s).unwrap().recording {
            Recording::Path(p) => assert_eq!(p.parent().unwrap().file_name().unwrap(), "Marquee"),
            other => panic!("{other:?}"),
        }
    }
}
