//! A live session: sources → compositor / mixer → encoders → packet bus → outputs.
//! Start it, read stats and events while live, stop it to get a summary.
//!
//! Starting takes named steps: check the settings (and list the sources and audio inputs),
//! open the encoders, open the sources, open the outputs, then start the clock and the
//! threads. Everything opens on a clock that has not started, so session time zero is when
//! all is ready and the stream does not begin with the time a camera took to open. Each step's result owns what it started, and a
//! source or output handle stops its thread when dropped: a step that fails returns its
//! error and what the earlier steps started stops on the way out.

use crate::compose::program::{Program, SwitchRequest};
use crate::compose::thread::Compositor;
use crate::director::{Director, DirectorConfig};
use crate::encode::audio::AudioEncoder;
use crate::encode::video::VideoEncoder;
use crate::encode::{self, AudioSettings, OpenedAudio, OpenedVideo, VideoSettings};
use crate::error::StudioError;
use crate::events::{Event, EventKind, Events};
use crate::frames::{CanvasFrame, FrameBus, FrameTap};
use crate::mixer::AudioChunk;
use crate::mixer::thread::{DirectorLink, MixInput, Mixer};
use crate::output::{self, KeyProvider, OutputHandle, PacketSink, RtmpTarget};
use crate::overlays::{OverlayControl, OverlayStage};
use crate::packet::StreamInfo;
use crate::sources::{spawn_audio, spawn_video, spawn_video_retrying};
use crate::stats::{
    AudioCounters, AudioSnapshot, InputLevel, OutputSnapshot, StatsSnapshot, VideoCounters,
    VideoDrops, VideoSnapshot,
};
use crate::url::DestinationUrl;
use crossbeam_channel::Receiver;
use marquee_capture::camera::{Faults, SourceStatus};
use marquee_capture::sink::SinkCounters;
use marquee_capture::{AudioBlock, AudioSpec, SessionClock, SourceHandle, VideoFrame, VideoSpec};
use marquee_scene::{Scene, Transition};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use crate::compose::SceneControl;
pub use crate::packet::PacketBus;

/// One place to push to.
#[derive(Clone)]
pub struct DestinationConfig {
    pub url: DestinationUrl,
    /// Fills in `key:NAME` at connect time.
    pub key: Option<KeyProvider>,
}

/// Everything a session needs to start.
#[derive(Clone)]
pub struct SessionConfig {
    pub video: VideoSpec,
    pub audio: AudioSpec,
    pub video_settings: VideoSettings,
    pub audio_settings: AudioSettings,
    pub destinations: Vec<DestinationConfig>,
    pub record: Option<PathBuf>,
    /// Fault injection for the synthetic camera (tests of camera loss).
    pub test_faults: Faults,
    /// Adaptive bitrate: the lowest rate the primary destination may push the encoder down
    /// to (the video bitrate is the highest and the start); `None`: a constant bitrate.
    pub abr_min_kbps: Option<u32>,
}

/// One video source, with the id scenes use for it.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub id: String,
    pub spec: VideoSpec,
    /// The microphone at this camera: mixed into the program audio, and what director mode
    /// listens to.
    pub mic: Option<AudioSpec>,
    /// Fault injection for synthetic cameras.
    pub faults: Faults,
}

/// Several sources and the scenes over them. Empty `sources` means the one source in
/// [`SessionConfig::video`], with the id `main`. Every source also gets a full-frame
/// scene named after it.
#[derive(Debug, Clone, Default)]
pub struct SceneSetup {
    pub sources: Vec<SourceConfig>,
    pub scenes: Vec<Scene>,
    /// The scene on air first (default: the first scene).
    pub start: Option<String>,
    /// Overlays burnt into the picture (more can be added while live).
    pub overlays: Vec<marquee_overlay::OverlayItem>,
    /// Start with director mode on (the camera whose microphone is loudest goes on air).
    pub director: bool,
    pub director_config: DirectorConfig,
    /// The transition director mode cuts with.
    pub director_transition: Transition,
    /// Where `guest:N` sources get their media (the co-stream host pushes into it).
    pub feeds: Option<Arc<marquee_capture::feed::Feeds>>,
}

/// A running session.
pub struct Session {
    clock: SessionClock,
    events: Arc<Events>,
    event_rx: Receiver<Event>,
    sources: Sources,
    outputs: Outputs,
    running: Running,
    /// The video encoder's name.
    encoder: String,
    settings: VideoSettings,
    has_audio: bool,
    streams: Vec<StreamInfo>,
    /// Adaptive bitrate, when on and there is a destination to steer it.
    abr: Option<Arc<output::abr_run::AbrStatus>>,
}

/// What a session did, printed and saved at the end.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub duration_s: f64,
    pub stats: StatsSnapshot,
    pub events: Vec<Event>,
}

impl Session {
    /// Opens encoders, sources and the recording (failing fast with a clear error), then
    /// starts every thread. Destinations connect in the background and report events.
    pub fn start(cfg: SessionConfig) -> Result<Session, StudioError> {
        Self::start_with(cfg, SceneSetup::default())
    }

    /// Like [`Session::start`], with several sources and scenes to switch between.
    pub fn start_with(cfg: SessionConfig, setup: SceneSetup) -> Result<Session, StudioError> {
        crate::util::init();
        check_settings(&cfg.video_settings)?;
        let video_sources = source_configs(&cfg, &setup)?;
        let audio_inputs = audio_inputs(&cfg, &video_sources);
        // Zero is set once every device and output is open (see SessionClock).
        let clock = SessionClock::unstarted();
        let (event_sink, event_rx) = marquee_capture::bounded(512);
        let events = Arc::new(Events::new(clock.clone(), event_sink));
        let encoders = Encoders::open(&cfg, !audio_inputs.is_empty(), &events)?;
        let (sources, feeds) = open_sources(&cfg, &setup, video_sources, audio_inputs, &clock)?;
        let outputs = Outputs::open(&cfg, encoders.streams(), &events, &clock)?;
        // What the session reports of its encoders, before their threads take them.
        let (encoder, streams) = (encoders.video.name.clone(), encoders.streams());
        let has_audio = encoders.audio.is_some();
        let fps = cfg.video_settings.fps;
        let mut running =
            start_threads(&clock, &events, &setup, fps, encoders, feeds, &outputs.bus);
        let abr = match (cfg.abr_min_kbps, outputs.destinations.first()) {
            (Some(min), Some(primary)) => {
                let status = output::abr_run::AbrStatus::new(output::abr::AbrConfig::new(
                    min,
                    cfg.video_settings.bitrate_kbps,
                ));
                running.threads.push(output::abr_run::spawn(
                    status.clone(),
                    primary.shared.counters.clone(),
                    running.video.target_kbps.clone(),
                    clock.clone(),
                    running.stop.clone(),
                ));
                Some(status)
            }
            _ => None,
        };
        Ok(Session {
            abr,
            clock,
            events,
            event_rx,
            sources,
            outputs,
            running,
            encoder,
            settings: cfg.video_settings,
            has_audio,
            streams,
        })
    }

    /// The encoded streams (codec parameters and time bases), for anything that muxes them.
    pub fn streams(&self) -> Vec<StreamInfo> {
        self.streams.clone()
    }

    /// Attaches another consumer of every encoded packet (a replay buffer, a preview…).
    /// It must not block: see [`PacketSink`].
    pub fn add_sink(&self, sink: Arc<dyn PacketSink>) {
        self.outputs.bus.add(sink);
    }

    /// Attaches a watcher of every composed output picture (the app's preview).
    pub fn add_frame_tap(&self, tap: Arc<dyn FrameTap>) {
        self.running.frames.add(tap);
    }

    /// Detaches a watcher added with [`Session::add_frame_tap`].
    pub fn remove_frame_tap(&self, tap: &Arc<dyn FrameTap>) {
        self.running.frames.remove(tap);
    }

    /// Puts a scene (or a source's full-frame scene) on air at the next frame, with a
    /// transition. Fails at once for a name that is neither.
    pub fn switch(&self, target: &str, transition: Transition) -> Result<(), StudioError> {
        self.running.control.switch(target, transition)
    }

    /// What co-stream guests see: the program (None) or one scene on its own, e.g. the host's
    /// camera (a source's full-frame scene). Fails for a scene that does not exist, or a
    /// session that takes no guests.
    pub fn set_return_view(&self, scene: Option<&str>) -> Result<(), StudioError> {
        let view = (self.running.return_view.as_ref())
            .ok_or_else(|| StudioError::Settings("this session takes no guests".into()))?;
        if let Some(name) = scene
            && !self.scenes().iter().any(|s| s.name == name)
        {
            let names: Vec<&str> = self.scenes().iter().map(|s| s.name.as_str()).collect();
            return Err(StudioError::Settings(format!(
                "no scene or source '{name}' to show the guests (there are: {})",
                names.join(", ")
            )));
        }
        view.set_scene(scene.map(str::to_string));
        Ok(())
    }

    /// A handle to change overlays (and feed danmaku to them) from other threads.
    pub fn overlay_control(&self) -> OverlayControl {
        self.running.overlay_control.clone()
    }

    /// Turns director mode on or off (a host's switch also turns it off).
    pub fn set_director(&self, on: bool) {
        self.running.control.set_director(on);
    }

    /// A handle to switch scenes from other threads (hotkeys, the control socket, the app).
    pub fn scene_control(&self) -> SceneControl {
        self.running.control.clone()
    }

    /// The scenes there are (including one full-frame scene per source).
    pub fn scenes(&self) -> &[Scene] {
        self.running.control.scenes()
    }

    /// The scene on air now (the target of a transition in progress).
    pub fn on_air(&self) -> String {
        self.running.control.on_air()
    }

    /// Each video source's id and state.
    pub fn sources(&self) -> Vec<(String, marquee_capture::SourceState)> {
        self.sources
            .ids
            .iter()
            .zip(&self.sources.video)
            .map(|(id, h)| (id.clone(), h.status.get()))
            .collect()
    }

    /// The live event feed (bounded; events are also kept for the summary).
    pub fn events(&self) -> &Receiver<Event> {
        &self.event_rx
    }

    /// Session time so far.
    pub fn elapsed(&self) -> Duration {
        self.clock.now()
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> StatsSnapshot {
        let v = &self.running.video;
        let a = &self.running.audio;
        let ld = |x: &AtomicU64| x.load(Ordering::Relaxed);
        let dropped = |c: &[Arc<SinkCounters>]| c.iter().map(|c| ld(&c.dropped)).sum();
        StatsSnapshot {
            session_s: self.clock.now().as_secs_f64(),
            video: VideoSnapshot {
                encoder: self.encoder.clone(),
                width: self.settings.width,
                height: self.settings.height,
                fps: self.settings.fps,
                frames: ld(&v.frames),
                encoded: ld(&v.encoded),
                bytes: ld(&v.bytes),
                repeated: ld(&v.repeated),
                slate: ld(&v.slate),
                encode_ms: ld(&v.encode_us) as f64 / 1000.0,
                dropped: VideoDrops {
                    capture_queue_full: dropped(&self.sources.video_capture),
                    render_lag: ld(&v.render_lag),
                    encoder_lag: ld(&v.encoder_lag),
                    superseded: ld(&v.superseded),
                },
            },
            audio: AudioSnapshot {
                chunks: ld(&a.chunks),
                encoded: ld(&a.encoded),
                padded_samples: ld(&a.padded_samples),
                dropped_samples: ld(&a.dropped_samples),
                underrun_samples: ld(&a.underrun_samples),
                buffer_ms: ld(&a.buffer_ms).max(60),
                capture_queue_full: dropped(&self.sources.audio_capture),
                encoder_lag: ld(&a.encoder_lag),
                peak_db: if self.has_audio {
                    a.peak_cdb.load(Ordering::Relaxed) as f32 / 100.0
                } else {
                    -120.0
                },
                rms_db: if self.has_audio {
                    a.rms_cdb.load(Ordering::Relaxed) as f32 / 100.0
                } else {
                    -120.0
                },
                inputs: a.inputs.lock().expect("levels lock").clone(),
            },
            destinations: self.destinations(),
            recording: self
                .outputs
                .recording
                .as_ref()
                .map(|r| r.shared.counters.snapshot()),
            cpu_s: crate::stats::process_cpu_seconds(),
            rss_bytes: crate::stats::process_rss_bytes(),
            abr: self.abr.as_ref().map(|a| a.snapshot()),
            remote: (self.sources.ids.iter().zip(&self.sources.video))
                .filter_map(|(id, h)| {
                    let meter = h.received.as_ref()?;
                    Some(crate::stats::RemoteSnapshot {
                        id: id.clone(),
                        state: h.status.get(),
                        bytes: meter.bytes.load(Ordering::Relaxed),
                        latency_ms: meter.latency_ms(),
                        last_latency_ms: meter.last_latency_ms(),
                    })
                })
                .collect(),
        }
    }

    /// True when every destination has failed for good (nothing left to stream to).
    pub fn all_destinations_failed(&self) -> bool {
        let o = &self.outputs;
        !o.destinations.is_empty()
            && o.recording.is_none()
            && o.destinations.iter().all(|d| {
                matches!(
                    d.shared.counters.state(),
                    crate::stats::OutputState::Failed { .. }
                )
            })
    }

    /// Stops capture, flushes the encoders, lets every output drain and finalise (the
    /// recording gets its index), and returns what happened.
    pub fn stop(mut self) -> Summary {
        self.running.stop.store(true, Ordering::Relaxed);
        for t in self.running.threads.drain(..) {
            let _ = t.join();
        }
        self.sources.stop();
        self.outputs.finish();
        let stats = self.stats();
        Summary {
            duration_s: stats.session_s,
            stats,
            events: self.events.log(),
        }
    }

    /// Destination snapshots only (cheap), for a status line.
    pub fn destinations(&self) -> Vec<OutputSnapshot> {
        self.outputs
            .destinations
            .iter()
            .map(|d| d.shared.counters.snapshot())
            .collect()
    }
}

/// Refuses sizes, rates and bitrates no encoder or ingest should be asked for.
fn check_settings(s: &VideoSettings) -> Result<(), StudioError> {
    if s.width < 16 || s.height < 16 || s.width % 2 == 1 || s.height % 2 == 1 {
        return Err(StudioError::Settings(format!(
            "size {}x{} must be even and at least 16x16",
            s.width, s.height
        )));
    }
    if !(1..=120).contains(&s.fps) {
        return Err(StudioError::Settings(format!(
            "fps {} must be 1..120",
            s.fps
        )));
    }
    if !(100..=100_000).contains(&s.bitrate_kbps) {
        return Err(StudioError::Settings(format!(
            "bitrate {} kbps must be 100..100000",
            s.bitrate_kbps
        )));
    }
    Ok(())
}

/// Step 1: the encoders, opened before any device so a bad encoder setting fails before a
/// camera turns on. AAC only when there is audio to encode.
struct Encoders {
    video: OpenedVideo,
    audio: Option<OpenedAudio>,
}

impl Encoders {
    fn open(cfg: &SessionConfig, has_audio: bool, events: &Events) -> Result<Self, StudioError> {
        // Adaptive bitrate (on, with a destination to steer it) changes the rate while live:
        // no filler (see `RateControl`).
        let rc = if cfg.abr_min_kbps.is_some() && !cfg.destinations.is_empty() {
            encode::RateControl::Adaptive
        } else {
            encode::RateControl::ConstantWithFiller
        };
        let video = encode::open_video_with(&cfg.video_settings, rc)?;
        let audio = if has_audio {
            Some(encode::open_audio(&cfg.audio_settings)?)
        } else {
            None
        };
        let skipped: Vec<String> = video
            .skipped
            .iter()
            .map(|(n, why)| format!("{n}: {why}"))
            .collect();
        events.emit(
            None,
            "video encoder",
            EventKind::Info,
            None,
            if skipped.is_empty() {
                video.name.clone()
            } else {
                format!("{} (not used: {})", video.name, skipped.join("; "))
            },
        );
        Ok(Self { video, audio })
    }

    /// The encoded streams, as every muxer needs them.
    fn streams(&self) -> Vec<StreamInfo> {
        let mut streams = vec![self.video.info.clone()];
        streams.extend(self.audio.as_ref().map(|a| a.info.clone()));
        streams
    }
}

/// The devices a session keeps open until it stops; each handle stops its source (and
/// closes the device) when dropped.
struct Sources {
    /// The video sources' ids, in the program's input order.
    ids: Vec<String>,
    video: Vec<SourceHandle>,
    video_capture: Vec<Arc<SinkCounters>>,
    audio: Vec<SourceHandle>,
    audio_capture: Vec<Arc<SinkCounters>>,
}

impl Sources {
    fn stop(&mut self) {
        for s in self.video.iter_mut().chain(&mut self.audio) {
            s.stop();
        }
    }
}

/// What the threads read from the sources, once started.
struct Feeds {
    program: Program,
    video: Vec<Receiver<VideoFrame>>,
    statuses: Vec<Arc<SourceStatus>>,
    audio: Vec<MixInput>,
    /// The audio inputs' names, for their meters.
    audio_names: Vec<String>,
}

/// Step 2: every video source and audio input, capturing on the unstarted clock.
fn open_sources(
    cfg: &SessionConfig,
    setup: &SceneSetup,
    configs: Vec<SourceConfig>,
    inputs: Vec<AudioInput>,
    clock: &SessionClock,
) -> Result<(Sources, Feeds), StudioError> {
    let ids: Vec<String> = configs.iter().map(|s| s.id.clone()).collect();
    let s = &cfg.video_settings;
    let program = Program::new(
        s.width,
        s.height,
        s.fps,
        &ids,
        setup.scenes.clone(),
        setup.start.as_deref(),
        Duration::from_secs(1),
    )?;
    // A camera of the first scene that cannot open fails the start (the host picked it and
    // must hear why); any other camera starts lost and is retried, showing the slate if
    // cut to, so one missing camera does not keep the show off the air.
    let first_scene: Vec<&str> = program.current().layout.sources();
    let mut video = Vec::new();
    let mut frames = Vec::new();
    let mut video_capture = Vec::new();
    for src in &configs {
        let (sink, rx) = marquee_capture::bounded::<VideoFrame>(4);
        video_capture.push(sink.counters().clone());
        let open = if first_scene.contains(&src.id.as_str()) {
            spawn_video
        } else {
            spawn_video_retrying
        };
        video.push(open(
            &src.spec,
            setup.feeds.as_ref(),
            src.faults,
            clock,
            sink,
            s.width,
            s.height,
            s.fps,
        )?);
        frames.push(rx);
    }
    let statuses = video.iter().map(|v| v.status.clone()).collect();
    let mut audio = Vec::new();
    let mut audio_capture = Vec::new();
    let mut mix = Vec::new();
    for input in &inputs {
        let (sink, rx) = marquee_capture::bounded::<AudioBlock>(64);
        audio_capture.push(sink.counters().clone());
        audio.push(spawn_audio(&input.spec, setup.feeds.as_ref(), clock, sink)?);
        mix.push(MixInput {
            rx,
            gain: input.gain,
            scene: input.scene.clone(),
            guest: matches!(input.spec, AudioSpec::Guest(_)),
        });
    }
    let sources = Sources {
        ids,
        video,
        video_capture,
        audio,
        audio_capture,
    };
    let feeds = Feeds {
        program,
        video: frames,
        statuses,
        audio: mix,
        audio_names: inputs.into_iter().map(|i| i.name).collect(),
    };
    Ok((sources, feeds))
}

/// The video sources: the setup's, or the config's one with the id `main`. Ids must be
/// unique and not empty (scenes name sources by them).
fn source_configs(
    cfg: &SessionConfig,
    setup: &SceneSetup,
) -> Result<Vec<SourceConfig>, StudioError> {
    if setup.sources.is_empty() {
        return Ok(vec![SourceConfig {
            id: "main".into(),
            spec: cfg.video.clone(),
            mic: None,
            faults: cfg.test_faults,
        }]);
    }
    let ids: Vec<&str> = setup.sources.iter().map(|s| s.id.as_str()).collect();
    for (i, id) in ids.iter().enumerate() {
        if id.trim().is_empty() || ids[..i].contains(id) {
            return Err(StudioError::Settings(format!(
                "source ids must be unique and not empty ({id:?})"
            )));
        }
    }
    Ok(setup.sources.clone())
}

/// One audio input to open and mix.
struct AudioInput {
    /// What its meter is called.
    name: String,
    spec: AudioSpec,
    gain: f32,
    /// The source whose microphone it is, for director mode.
    scene: Option<String>,
}

/// The main input and each source's microphone, mixed; director mode listens to the
/// source microphones. The gain setting is the main input's (the microphone's); camera
/// microphones are mixed as they are.
fn audio_inputs(cfg: &SessionConfig, sources: &[SourceConfig]) -> Vec<AudioInput> {
    let mut inputs = Vec::new();
    if cfg.audio != AudioSpec::None {
        inputs.push(AudioInput {
            name: cfg.audio.to_string(),
            spec: cfg.audio.clone(),
            gain: 10f32.powf(cfg.audio_settings.gain_db.clamp(-60.0, 40.0) / 20.0),
            scene: None,
        });
    }
    for src in sources {
        if let Some(m) = src.mic.clone().filter(|m| *m != AudioSpec::None) {
            inputs.push(AudioInput {
                name: src.id.clone(),
                spec: m,
                gain: 1.0,
                scene: Some(src.id.clone()),
            });
        }
    }
    inputs
}

/// The outputs and the bus that feeds them; each output handle finishes its writer when
/// dropped.
struct Outputs {
    bus: Arc<PacketBus>,
    destinations: Vec<OutputHandle>,
    recording: Option<OutputHandle>,
}

impl Outputs {
    /// Step 3: the recording opens now so a bad path fails before going live; destinations
    /// connect in the background and report events.
    fn open(
        cfg: &SessionConfig,
        streams: Vec<StreamInfo>,
        events: &Arc<Events>,
        clock: &SessionClock,
    ) -> Result<Self, StudioError> {
        let bus = Arc::new(PacketBus::default());
        let recording = match &cfg.record {
            Some(path) => {
                let h =
                    output::spawn_recording(path, streams.clone(), events.clone(), clock.clone())
                        .map_err(StudioError::Output)?;
                bus.add(h.shared.clone());
                Some(h)
            }
            None => None,
        };
        let mut destinations = Vec::new();
        for (i, d) in cfg.destinations.iter().enumerate() {
            let target = RtmpTarget {
                url: d.url.clone(),
                key: d.key.clone(),
            };
            let h = output::spawn_rtmp(i, target, streams.clone(), events.clone(), clock.clone());
            bus.add(h.shared.clone());
            destinations.push(h);
        }
        Ok(Self {
            bus,
            destinations,
            recording,
        })
    }

    /// Lets every output drain and finalise, all at once so a dead destination costs its
    /// grace only once.
    fn finish(&mut self) {
        let grace = Duration::from_secs(3);
        let mut all: Vec<&mut OutputHandle> = self.destinations.iter_mut().collect();
        all.extend(self.recording.as_mut());
        std::thread::scope(|sc| {
            for o in all {
                sc.spawn(move || o.finish(grace));
            }
        });
    }
}

/// The session's threads and the handles that steer them while live.
struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    control: SceneControl,
    overlay_control: OverlayControl,
    frames: Arc<FrameBus>,
    return_view: Option<Arc<crate::frames::ReturnView>>,
    video: Arc<VideoCounters>,
    audio: Arc<AudioCounters>,
}

/// Step 4: with everything open, session time starts; then the compositor and the video
/// encoder, and with audio the mixer and the audio encoder.
fn start_threads(
    clock: &SessionClock,
    events: &Arc<Events>,
    setup: &SceneSetup,
    fps: u32,
    encoders: Encoders,
    feeds: Feeds,
    bus: &Arc<PacketBus>,
) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let video = Arc::new(VideoCounters::default());
    let audio = Arc::new(AudioCounters::default());
    *audio.inputs.lock().expect("levels lock") = feeds
        .audio_names
        .iter()
        .map(|n| InputLevel {
            input: n.clone(),
            peak_db: -120.0,
            rms_db: -120.0,
        })
        .collect();
    let frames = Arc::new(FrameBus::default());
    let mut return_view = None;
    if let Some(feeds) = &setup.feeds
        && let Some(sink) = feeds.program()
    {
        let view = crate::frames::ReturnView::new(feeds.clone(), fps);
        frames.add(Arc::new(crate::frames::ProgramTap::new(view.clone(), sink)));
        return_view = Some(view);
    }
    let (overlay_stage, overlay_control) = OverlayStage::new(&setup.overlays);
    let (switch_tx, switch_rx) = crossbeam_channel::bounded::<SwitchRequest>(32);
    let on_air = Arc::new(Mutex::new(feeds.program.current().name.clone()));
    let control = SceneControl::new(
        feeds.program.scenes().to_vec(),
        on_air.clone(),
        switch_tx,
        clock.clone(),
        setup.director,
    );
    let (picture_tx, picture_rx) = crossbeam_channel::bounded::<CanvasFrame>(3);
    clock.start_now();
    let mut threads = vec![
        Compositor {
            clock: clock.clone(),
            program: feeds.program,
            fps,
            sources: feeds.video,
            statuses: feeds.statuses,
            switches: switch_rx,
            on_air,
            overlays: overlay_stage,
            taps: frames.clone(),
            return_view: return_view.clone(),
            encoder: picture_tx,
            counters: video.clone(),
            events: events.clone(),
            stop: stop.clone(),
        }
        .spawn(),
        VideoEncoder {
            opened: encoders.video,
            pictures: picture_rx,
            bus: bus.clone(),
            counters: video.clone(),
            clock: clock.clone(),
        }
        .spawn(),
    ];
    if let Some(aenc) = encoders.audio {
        let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<AudioChunk>(8);
        threads.push(
            Mixer {
                clock: clock.clone(),
                inputs: feeds.audio,
                encoder: chunk_tx,
                frame_size: aenc.frame_size,
                counters: audio.clone(),
                link: DirectorLink {
                    control: control.clone(),
                    director: Director::new(setup.director_config),
                    transition: setup.director_transition,
                },
                stop: stop.clone(),
                host_mix: setup.feeds.as_ref().and_then(|f| f.host_mix()),
            }
            .spawn(),
        );
        threads.push(
            AudioEncoder {
                opened: aenc,
                chunks: chunk_rx,
                bus: bus.clone(),
                counters: audio.clone(),
            }
            .spawn(),
        );
    }
    Running {
        stop,
        threads,
        control,
        overlay_control,
        frames,
        return_view,
        video,
        audio,
    }
}
