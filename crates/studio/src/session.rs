//! A live session: sources → compositor / mixer → encoders → packet bus → outputs.
//! Start it, read stats and events while live, stop it to get a summary.

use crate::StudioError;
use crate::director::{Director, DirectorConfig};
use crate::encode::{self, AudioSettings, OpenedAudio, OpenedVideo, VideoSettings};
use crate::events::{Event, EventKind, Events};
use crate::frames::{ComposedFrame, FrameBus, FrameTap};
use crate::mixer::{self, Resampler, TimelineBuffer};
use crate::output::{self, KeyProvider, OutputHandle, PacketSink, RtmpTarget};
use crate::overlays::{OverlayControl, OverlayStage};
use crate::packet::{Packet, StreamInfo, Track};
use crate::program::{Note, Program, SwitchRequest};
use crate::stats::{
    AudioCounters, AudioSnapshot, InputLevel, OutputSnapshot, StatsSnapshot, VideoCounters,
    VideoDrops, VideoSnapshot,
};
use crate::url::DestinationUrl;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use ffmpeg_next as ff;
use marquee_capture::FrameBuf;
use marquee_capture::camera::SourceStatus;
use marquee_capture::camera::{self, Faults, TestPatternCamera};
use marquee_capture::nokhwa_cam::NokhwaCamera;
use marquee_capture::sink::SinkCounters;
use marquee_capture::{AudioBlock, AudioSpec, SessionClock, SourceHandle, VideoFrame, VideoSpec};
use marquee_scene::{Scene, Transition};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

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
}

/// Switches scenes of a running session; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct SceneControl {
    director: Arc<AtomicBool>,
    scenes: Arc<Vec<Scene>>,
    on_air: Arc<Mutex<String>>,
    switches: Sender<SwitchRequest>,
    clock: SessionClock,
}

impl SceneControl {
    /// Puts a scene (or a source's full-frame scene) on air at the next frame. Fails at
    /// once for a name that is neither, or when requests come faster than frames. The host
    /// overrides director mode: it pauses until turned on again.
    pub fn switch(&self, target: &str, transition: Transition) -> Result<(), StudioError> {
        self.request(target, transition, false)?;
        self.director.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Turns director mode on or off.
    pub fn set_director(&self, on: bool) {
        self.director.store(on, Ordering::Relaxed);
    }

    pub fn director(&self) -> bool {
        self.director.load(Ordering::Relaxed)
    }

    fn request(
        &self,
        target: &str,
        transition: Transition,
        by_director: bool,
    ) -> Result<(), StudioError> {
        if !self.scenes.iter().any(|s| s.name == target) {
            let names: Vec<&str> = self.scenes.iter().map(|s| s.name.as_str()).collect();
            return Err(StudioError::Settings(
                marquee_scene::SceneError::NotFound(target.into(), names.join(", ")).to_string(),
            ));
        }
        self.switches
            .try_send(SwitchRequest {
                target: target.into(),
                transition,
                requested_at: self.clock.now(),
                by_director,
            })
            .map_err(|_| {
                StudioError::Settings("switches are coming faster than frames: slow down".into())
            })
    }

    pub fn scenes(&self) -> &[Scene] {
        &self.scenes
    }

    pub fn on_air(&self) -> String {
        self.on_air.lock().expect("on-air lock").clone()
    }

    /// Session time now (what a switch request is stamped with).
    pub fn now(&self) -> Duration {
        self.clock.now()
    }
}

/// Hands every encoded packet to every output; outputs can come and go while live.
#[derive(Default)]
pub struct PacketBus {
    sinks: RwLock<Vec<Arc<dyn PacketSink>>>,
}

impl PacketBus {
    pub fn add(&self, s: Arc<dyn PacketSink>) {
        self.sinks.write().expect("bus lock").push(s);
    }

    pub fn publish(&self, p: &Packet) {
        for s in self.sinks.read().expect("bus lock").iter() {
            s.offer(p);
        }
    }
}

/// A composited picture on its way to the encoder.
struct CanvasFrame {
    data: Arc<FrameBuf>,
    index: i64,
    captured: Duration,
}

/// Mixed audio on its way to the encoder.
struct AudioChunk {
    samples: Vec<f32>,
    pts: i64,
}

/// A running session.
pub struct Session {
    clock: SessionClock,
    stop: Arc<AtomicBool>,
    events: Arc<Events>,
    event_rx: Receiver<Event>,
    video_sources: Vec<SourceHandle>,
    source_ids: Vec<String>,
    control: SceneControl,
    overlay_control: OverlayControl,
    audio_sources: Vec<SourceHandle>,
    threads: Vec<JoinHandle<()>>,
    destinations: Vec<OutputHandle>,
    recording: Option<OutputHandle>,
    video: Arc<VideoCounters>,
    audio: Arc<AudioCounters>,
    video_capture: Vec<Arc<SinkCounters>>,
    audio_capture: Vec<Arc<SinkCounters>>,
    encoder: String,
    settings: VideoSettings,
    has_audio: bool,
    bus: Arc<PacketBus>,
    frames: Arc<FrameBus>,
    streams: Vec<StreamInfo>,
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
        crate::init();
        let s = &cfg.video_settings;
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
        // Encoders open before the clock starts: session time zero is when capture begins.
        let venc = encode::open_video(&cfg.video_settings)?;
        let has_audio = cfg.audio != AudioSpec::None
            || setup
                .sources
                .iter()
                .any(|s| s.mic.as_ref().is_some_and(|m| *m != AudioSpec::None));
        let aenc = if has_audio {
            Some(encode::open_audio(&cfg.audio_settings)?)
        } else {
            None
        };
        // Zero is set once every device is open (see SessionClock).
        let clock = SessionClock::unstarted();
        let (event_sink, event_rx) = marquee_capture::bounded(512);
        let events = Arc::new(Events::new(clock.clone(), event_sink));
        let stop = Arc::new(AtomicBool::new(false));
        let skipped: Vec<String> = venc
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
                venc.name.clone()
            } else {
                format!("{} (not used: {})", venc.name, skipped.join("; "))
            },
        );
        let mut streams = vec![venc.info.clone()];
        if let Some(a) = &aenc {
            streams.push(a.info.clone());
        }

        // Sources.
        let sources = if setup.sources.is_empty() {
            vec![SourceConfig {
                id: "main".into(),
                spec: cfg.video.clone(),
                mic: None,
                faults: cfg.test_faults,
            }]
        } else {
            setup.sources.clone()
        };
        let source_ids: Vec<String> = sources.iter().map(|s| s.id.clone()).collect();
        for (i, id) in source_ids.iter().enumerate() {
            if id.trim().is_empty() || source_ids[..i].contains(id) {
                return Err(StudioError::Settings(format!(
                    "source ids must be unique and not empty ({id:?})"
                )));
            }
        }
        let (w, h, fps) = (s.width, s.height, s.fps);
        let program = Program::new(
            w,
            h,
            fps,
            &source_ids,
            setup.scenes.clone(),
            setup.start.as_deref(),
            Duration::from_secs(1),
        )?;
        let scenes = program.scenes().to_vec();
        let on_air = Arc::new(Mutex::new(program.current().name.clone()));
        let mut video_sources = Vec::new();
        let mut vrxs = Vec::new();
        let mut video_capture = Vec::new();
        // A camera of the first scene that cannot open fails the start (the host picked it and
        // must hear why); any other camera starts lost and is retried, showing the slate if
        // cut to, so one missing camera does not keep the show off the air.
        let first_scene: Vec<String> = program
            .current()
            .layout
            .sources()
            .into_iter()
            .map(String::from)
            .collect();
        for src in &sources {
            let (vsink, vrx) = marquee_capture::bounded::<VideoFrame>(4);
            video_capture.push(vsink.counters().clone());
            let lenient = !first_scene.contains(&src.id);
            let handle = match (&src.spec, lenient) {
                (VideoSpec::Camera(id), true) => {
                    let id = id.clone();
                    // The compositor reports it lost (an event) once it has tried.
                    camera::spawn_camera_retrying(
                        move || Ok(Box::new(NokhwaCamera::new(&id, w, h, fps)) as _),
                        clock.clone(),
                        vsink,
                    )?
                }
                _ => spawn_video(&src.spec, src.faults, &clock, vsink, w, h, fps)?,
            };
            video_sources.push(handle);
            vrxs.push(vrx);
        }
        let statuses: Vec<Arc<SourceStatus>> =
            video_sources.iter().map(|v| v.status.clone()).collect();
        let (switch_tx, switch_rx) = crossbeam_channel::bounded::<SwitchRequest>(32);
        let (overlay_stage, overlay_control) = OverlayStage::new(&setup.overlays);
        // Audio: the main input and each source's microphone, mixed; director mode listens
        // to the source microphones.
        let mut audio_specs: Vec<(String, AudioSpec, Option<String>)> = Vec::new();
        if cfg.audio != AudioSpec::None {
            audio_specs.push((cfg.audio.to_string(), cfg.audio.clone(), None));
        }
        for src in &sources {
            if let Some(m) = src.mic.clone().filter(|m| *m != AudioSpec::None) {
                audio_specs.push((src.id.clone(), m, Some(src.id.clone())));
            }
        }
        let mut audio_sources = Vec::new();
        let mut audio_capture = Vec::new();
        let mut mix_inputs = Vec::new();
        let main_gain = 10f32.powf(cfg.audio_settings.gain_db.clamp(-60.0, 40.0) / 20.0);
        for (_, spec, scene) in &audio_specs {
            let (asink, arx) = marquee_capture::bounded::<AudioBlock>(64);
            audio_capture.push(asink.counters().clone());
            audio_sources.push(spawn_audio(spec, &clock, asink)?);
            mix_inputs.push(MixInput {
                rx: arx,
                // The gain is the main input's (the microphone's); camera microphones as is.
                gain: if scene.is_none() { main_gain } else { 1.0 },
                scene: scene.clone(),
            });
        }
        let audio_names: Vec<String> = audio_specs.iter().map(|a| a.0.clone()).collect();
        // Outputs: the recording opens now so a bad path fails before going live.
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

        let video = Arc::new(VideoCounters::default());
        let audio = Arc::new(AudioCounters::default());
        let mut threads = Vec::new();
        let (ctx, crx) = crossbeam_channel::bounded::<CanvasFrame>(3);
        let encoder = venc.name.clone();
        let frames = Arc::new(FrameBus::default());
        // Everything is open: session time starts now.
        clock.start_now();
        {
            let (stop, video, events) = (stop.clone(), video.clone(), events.clone());
            let (clock, frames, on_air) = (clock.clone(), frames.clone(), on_air.clone());
            let inputs = CompositorInputs {
                frames: vrxs,
                statuses,
                switches: switch_rx,
                on_air,
                overlays: overlay_stage,
            };
            threads.push(spawn("compositor", move || {
                compositor(
                    clock, inputs, program, ctx, fps, &stop, &video, &events, &frames,
                )
            }));
        }
        {
            let (bus, video) = (bus.clone(), video.clone());
            let clock = clock.clone();
            threads.push(spawn("video-encoder", move || {
                video_encoder(venc, crx, &bus, &video, clock)
            }));
        }
        *audio.inputs.lock().expect("levels lock") = audio_names
            .iter()
            .map(|n| InputLevel {
                input: n.clone(),
                peak_db: -120.0,
                rms_db: -120.0,
            })
            .collect();
        let control = SceneControl {
            director: Arc::new(AtomicBool::new(setup.director)),
            scenes: Arc::new(scenes),
            on_air,
            switches: switch_tx,
            clock: clock.clone(),
        };
        if let Some(aenc) = aenc {
            let (atx, atr) = crossbeam_channel::bounded::<AudioChunk>(8);
            let frame_size = aenc.frame_size;
            let (stop, audio2) = (stop.clone(), audio.clone());
            let clock = clock.clone();
            let director = DirectorLink {
                control: control.clone(),
                director: Director::new(setup.director_config),
                transition: setup.director_transition,
            };
            threads.push(spawn("mixer", move || {
                mixer_loop(clock, mix_inputs, atx, frame_size, &stop, &audio2, director)
            }));
            let (bus, audio2) = (bus.clone(), audio.clone());
            threads.push(spawn("audio-encoder", move || {
                audio_encoder(aenc, atr, &bus, &audio2)
            }));
        }
        Ok(Session {
            stop,
            events,
            event_rx,
            video_sources,
            source_ids,
            control,
            clock,
            overlay_control,
            audio_sources,
            threads,
            destinations,
            recording,
            video,
            audio,
            video_capture,
            audio_capture,
            encoder,
            settings: cfg.video_settings.clone(),
            has_audio,
            bus,
            frames,
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
        self.bus.add(sink);
    }

    /// Attaches a watcher of every composed output picture (the app's preview).
    pub fn add_frame_tap(&self, tap: Arc<dyn FrameTap>) {
        self.frames.add(tap);
    }

    /// Detaches a watcher added with [`Session::add_frame_tap`].
    pub fn remove_frame_tap(&self, tap: &Arc<dyn FrameTap>) {
        self.frames.remove(tap);
    }

    /// Puts a scene (or a source's full-frame scene) on air at the next frame, with a
    /// transition. Fails at once for a name that is neither.
    pub fn switch(&self, target: &str, transition: Transition) -> Result<(), StudioError> {
        self.control.switch(target, transition)
    }

    /// A handle to change overlays (and feed danmaku to them) from other threads.
    pub fn overlay_control(&self) -> OverlayControl {
        self.overlay_control.clone()
    }

    /// Turns director mode on or off (a host's switch also turns it off).
    pub fn set_director(&self, on: bool) {
        self.control.set_director(on);
    }

    /// A handle to switch scenes from other threads (hotkeys, the control socket, the app).
    pub fn scene_control(&self) -> SceneControl {
        self.control.clone()
    }

    /// The scenes there are (including one full-frame scene per source).
    pub fn scenes(&self) -> &[Scene] {
        &self.control.scenes
    }

    /// The scene on air now (the target of a transition in progress).
    pub fn on_air(&self) -> String {
        self.control.on_air()
    }

    /// Each video source's id and state.
    pub fn sources(&self) -> Vec<(String, marquee_capture::SourceState)> {
        self.source_ids
            .iter()
            .zip(&self.video_sources)
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
        let v = &self.video;
        let a = &self.audio;
        let ld = |x: &std::sync::atomic::AtomicU64| x.load(Ordering::Relaxed);
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
                    capture_queue_full: self.video_capture.iter().map(|c| ld(&c.dropped)).sum(),
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
                capture_queue_full: self.audio_capture.iter().map(|c| ld(&c.dropped)).sum(),
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
            destinations: self
                .destinations
                .iter()
                .map(|d| d.shared.counters.snapshot())
                .collect(),
            recording: self
                .recording
                .as_ref()
                .map(|r| r.shared.counters.snapshot()),
            cpu_s: crate::stats::process_cpu_seconds(),
            rss_bytes: crate::stats::process_rss_bytes(),
        }
    }

    /// True when every destination has failed for good (nothing left to stream to).
    pub fn all_destinations_failed(&self) -> bool {
        !self.destinations.is_empty()
            && self.recording.is_none()
            && self.destinations.iter().all(|d| {
                matches!(
                    d.shared.counters.state(),
                    crate::stats::OutputState::Failed { .. }
                )
            })
    }

    /// Stops capture, flushes the encoders, lets every output drain and finalise (the
    /// recording gets its index), and returns what happened.
    pub fn stop(mut self) -> Summary {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for mut s in self.video_sources.drain(..) {
            s.stop();
        }
        for mut s in self.audio_sources.drain(..) {
            s.stop();
        }
        // Finish all outputs at once so a dead destination costs its grace only once.
        let grace = Duration::from_secs(3);
        let mut all: Vec<&mut OutputHandle> = self.destinations.iter_mut().collect();
        all.extend(self.recording.as_mut());
        std::thread::scope(|sc| {
            for o in all {
                sc.spawn(move || o.finish(grace));
            }
        });
        let stats = self.stats();
        Summary {
            duration_s: stats.session_s,
            stats,
            events: self.events.log(),
        }
    }

    /// Destination snapshots only (cheap), for a status line.
    pub fn destinations(&self) -> Vec<OutputSnapshot> {
        self.destinations
            .iter()
            .map(|d| d.shared.counters.snapshot())
            .collect()
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawning a thread only fails when the OS is out of resources")
}

/// Opens one video source on its own thread.
pub(crate) fn spawn_video(
    spec: &VideoSpec,
    faults: Faults,
    clock: &SessionClock,
    sink: marquee_capture::Sink<VideoFrame>,
    w: u32,
    h: u32,
    fps: u32,
) -> Result<SourceHandle, StudioError> {
    Ok(match spec {
        VideoSpec::Test | VideoSpec::TestCard(_) => {
            let card = match spec {
                VideoSpec::TestCard(n) => *n,
                _ => 0,
            };
            camera::spawn_camera(
                move || Ok(Box::new(TestPatternCamera::new(w, h, fps, faults).card(card)) as _),
                clock.clone(),
                sink,
            )?
            .0
        }
        VideoSpec::Camera(id) => {
            let id = id.clone();
            camera::spawn_camera(
                move || Ok(Box::new(NokhwaCamera::new(&id, w, h, fps)) as _),
                clock.clone(),
                sink,
            )?
            .0
        }
        VideoSpec::File(p) => marquee_capture::file::spawn_file_video(p, clock.clone(), sink)?,
    })
}

/// Opens one audio input on its own thread (or callback).
pub(crate) fn spawn_audio(
    spec: &AudioSpec,
    clock: &SessionClock,
    sink: marquee_capture::Sink<AudioBlock>,
) -> Result<SourceHandle, StudioError> {
    Ok(match spec {
        AudioSpec::Tone(hz) => marquee_capture::audio::spawn_tone(*hz, clock.clone(), sink),
        AudioSpec::Mic(id) => marquee_capture::audio::spawn_mic(id, clock.clone(), sink)?,
        AudioSpec::File(p) => marquee_capture::file::spawn_file_audio(p, clock.clone(), sink)?,
        AudioSpec::None => {
            return Err(StudioError::Settings("no audio input to open".into()));
        }
    })
}

/// One input of the mixer.
struct MixInput {
    rx: Receiver<AudioBlock>,
    /// Linear gain applied before mixing (and before the level meters).
    gain: f32,
    /// The scene (source id) this microphone belongs to, for director mode.
    scene: Option<String>,
}

/// What the mixer needs to direct.
struct DirectorLink {
    control: SceneControl,
    director: Director,
    transition: Transition,
}

/// What the compositor reads besides the clock.
struct CompositorInputs {
    frames: Vec<Receiver<VideoFrame>>,
    statuses: Vec<Arc<SourceStatus>>,
    switches: Receiver<SwitchRequest>,
    on_air: Arc<Mutex<String>>,
    overlays: OverlayStage,
}

#[allow(clippy::too_many_arguments)]
fn compositor(
    clock: SessionClock,
    mut inputs: CompositorInputs,
    mut program: Program,
    tx: Sender<CanvasFrame>,
    fps: u32,
    stop: &AtomicBool,
    counters: &VideoCounters,
    events: &Events,
    frames: &FrameBus,
) {
    let (w, h) = (program.width(), program.height());
    let single = inputs.frames.len() == 1;
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
    while clock.sleep_until(tick_of(n), stop) {
        let now = clock.now();
        if now > tick_of(n) + Duration::from_millis(500) {
            // Far behind (machine stalled): skip to now rather than grow a delay.
            let to = now.as_nanos() as u64 * fps as u64 / 1_000_000_000;
            counters.render_lag.fetch_add(to - n, Ordering::Relaxed);
            n = to;
            continue;
        }
        let tick = tick_of(n);
        for (i, rx) in inputs.frames.iter().enumerate() {
            for f in rx.try_iter() {
                program.offer(i, f);
            }
            let lost = inputs.statuses[i].get() == marquee_capture::SourceState::Lost;
            program.device_lost(i, lost);
        }
        for req in inputs.switches.try_iter() {
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
                    *inputs.on_air.lock().expect("on-air lock") = scene.clone();
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
        let data = if inputs.overlays.update(tick) {
            inputs.overlays.draw(&r.data, w, h, tick)
        } else {
            r.data
        };
        for p in inputs.overlays.problems.drain(..) {
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
        frames.publish(&ComposedFrame {
            data: data.clone(),
            width: w,
            height: h,
            index: n as i64,
            at: tick,
        });
        match tx.try_send(CanvasFrame {
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

fn video_encoder(
    mut v: OpenedVideo,
    rx: Receiver<CanvasFrame>,
    bus: &PacketBus,
    counters: &VideoCounters,
    clock: SessionClock,
) {
    let (w, h) = (v.encoder.width(), v.encoder.height());
    let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, w, h);
    let mut stamps = std::collections::VecDeque::new();
    let drain = |enc: &mut ff::encoder::Video,
                 stamps: &mut std::collections::VecDeque<(i64, Duration)>| {
        let mut pkt = ff::Packet::empty();
        while enc.receive_packet(&mut pkt).is_ok() {
            let pts = pkt.pts().unwrap_or(0);
            while stamps.front().is_some_and(|(p, _)| *p < pts) {
                stamps.pop_front();
            }
            let captured = stamps
                .front()
                .map(|(_, c)| *c)
                .unwrap_or_else(|| clock.now());
            let data: Arc<[u8]> = Arc::from(pkt.data().unwrap_or(&[]));
            counters.encoded.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            counters.encode_us.store(
                clock.now().saturating_sub(captured).as_micros() as u64,
                Ordering::Relaxed,
            );
            bus.publish(&Packet {
                track: Track::Video,
                data,
                pts,
                dts: pkt.dts().unwrap_or(pts),
                duration: 1,
                key: pkt.is_key(),
                captured,
            });
        }
    };
    for cf in rx.iter() {
        // SAFETY: the encoder may still reference the previous buffer; make ours private.
        unsafe {
            ff::ffi::av_frame_make_writable(frame.as_mut_ptr());
        }
        encode::copy_i420_into(&mut frame, &cf.data);
        frame.set_pts(Some(cf.index));
        stamps.push_back((cf.index, cf.captured));
        if stamps.len() > 64 {
            stamps.pop_front();
        }
        if v.encoder.send_frame(&frame).is_err() {
            continue;
        }
        drain(&mut v.encoder, &mut stamps);
    }
    let _ = v.encoder.send_eof();
    drain(&mut v.encoder, &mut stamps);
}

fn mixer_loop(
    clock: SessionClock,
    inputs: Vec<MixInput>,
    tx: Sender<AudioChunk>,
    frame_size: usize,
    stop: &AtomicBool,
    counters: &AudioCounters,
    mut link: DirectorLink,
) {
    // The mixer runs this far behind real time so inputs have arrived when it mixes; when
    // an input is late anyway (a device delivering in bursts, a starved thread), it waits
    // longer from then on.
    const MAX_LATENCY: Duration = Duration::from_millis(500);
    let mut latency = Duration::from_millis(60);
    struct Lane {
        rx: Receiver<AudioBlock>,
        gain: f32,
        resampler: Resampler,
        timeline: TimelineBuffer,
        scene: Option<String>,
    }
    // Sustained drift beyond 10 ms is corrected, keeping A/V within the 10 ms budget.
    let mut lanes: Vec<Lane> = inputs
        .into_iter()
        .map(|i| Lane {
            rx: i.rx,
            gain: i.gain,
            resampler: Resampler::default(),
            timeline: TimelineBuffer::new(Duration::from_millis(10)),
            scene: i.scene,
        })
        .collect();
    let directed: Vec<usize> = (0..lanes.len())
        .filter(|&i| lanes[i].scene.is_some())
        .collect();
    let mut directing = false;
    let mut tmp = Vec::new();
    let mut lane_out = vec![0f32; 2 * frame_size];
    let mut levels = vec![(-120f32, -120f32); lanes.len()];
    let mut director_levels = vec![-120f32; directed.len()];
    let mut pos: i64 = 0;
    let mut underrun = 0;
    let at =
        |samples: i64| Duration::from_nanos(samples as u64 * 1_000_000_000 / mixer::RATE as u64);
    while clock.sleep_until(at(pos + frame_size as i64) + latency, stop) {
        let mut out = vec![0f32; 2 * frame_size];
        for (k, lane) in lanes.iter_mut().enumerate() {
            for b in lane.rx.try_iter() {
                tmp.clear();
                lane.resampler.process(&b, &mut tmp);
                lane.timeline.push(b.captured, &tmp);
            }
            lane_out.fill(0.0);
            lane.timeline.mix_into(pos, &mut lane_out, lane.gain);
            levels[k] = mixer::levels(&lane_out);
            for (o, x) in out.iter_mut().zip(&lane_out) {
                *o += x;
            }
        }
        let sum = |f: fn(&TimelineBuffer) -> u64| lanes.iter().map(|l| f(&l.timeline)).sum::<u64>();
        let total_underrun = sum(|t| t.underrun);
        if total_underrun > underrun {
            underrun = total_underrun;
            latency = (latency + Duration::from_millis(20)).min(MAX_LATENCY);
            counters
                .buffer_ms
                .store(latency.as_millis() as u64, Ordering::Relaxed);
        }
        counters
            .underrun_samples
            .store(total_underrun, Ordering::Relaxed);
        let (peak, rms) = mixer::levels(&out);
        counters
            .peak_cdb
            .store((peak * 100.0) as i64, Ordering::Relaxed);
        counters
            .rms_cdb
            .store((rms * 100.0) as i64, Ordering::Relaxed);
        if let Ok(mut l) = counters.inputs.lock() {
            for (dst, (p, r)) in l.iter_mut().zip(&levels) {
                dst.peak_db = *p;
                dst.rms_db = *r;
            }
        }
        counters
            .padded_samples
            .store(sum(|t| t.padded), Ordering::Relaxed);
        counters
            .dropped_samples
            .store(sum(|t| t.dropped), Ordering::Relaxed);
        counters.chunks.fetch_add(1, Ordering::Relaxed);
        // Director mode: levels of the camera microphones at this chunk's time.
        if !directed.is_empty() {
            let now = at(pos);
            let on = link.control.director();
            if on && !directing {
                // Just turned on (or back on after a host's cut): the hold counts from now.
                let on_air = link.control.on_air();
                let current = directed
                    .iter()
                    .position(|&k| lanes[k].scene.as_deref() == Some(on_air.as_str()));
                link.director.on_air(current, now);
            }
            directing = on;
            if on {
                for (d, &k) in director_levels.iter_mut().zip(&directed) {
                    *d = levels[k].1;
                }
                if let Some(i) = link.director.update(now, &director_levels)
                    && let Some(scene) = &lanes[directed[i]].scene
                    && *scene != link.control.on_air()
                {
                    let _ = link.control.request(scene, link.transition, true);
                }
            }
        }
        // Audio is never dropped for a momentarily busy encoder: wait for it (the input
        // buffers hold 2 s). Only an encoder stuck for a second loses a chunk.
        let chunk = AudioChunk {
            samples: out,
            pts: pos,
        };
        match tx.send_timeout(chunk, Duration::from_secs(1)) {
            Ok(()) => {}
            Err(crossbeam_channel::SendTimeoutError::Timeout(_)) => {
                counters.encoder_lag.fetch_add(1, Ordering::Relaxed);
            }
            Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => break,
        }
        pos += frame_size as i64;
    }
}

fn audio_encoder(
    mut a: OpenedAudio,
    rx: Receiver<AudioChunk>,
    bus: &PacketBus,
    counters: &AudioCounters,
) {
    let n = a.frame_size;
    let mut frame = ff::frame::Audio::new(
        ff::format::Sample::F32(ff::format::sample::Type::Planar),
        n,
        ff::ChannelLayout::STEREO,
    );
    crate::compat::set_frame_stereo(&mut frame);
    frame.set_rate(mixer::RATE);
    let drain = |enc: &mut ff::encoder::Audio| {
        let mut pkt = ff::Packet::empty();
        while enc.receive_packet(&mut pkt).is_ok() {
            let pts = pkt.pts().unwrap_or(0);
            // AAC's priming packet sits before zero; dropping it keeps A/V starting together.
            if pts < 0 {
                continue;
            }
            counters.encoded.fetch_add(1, Ordering::Relaxed);
            bus.publish(&Packet {
                track: Track::Audio,
                data: Arc::from(pkt.data().unwrap_or(&[])),
                pts,
                dts: pkt.dts().unwrap_or(pts),
                duration: pkt.duration(),
                key: true,
                captured: Duration::ZERO,
            });
        }
    };
    for chunk in rx.iter() {
        // SAFETY: as for video, the encoder may hold the previous buffer.
        unsafe {
            ff::ffi::av_frame_make_writable(frame.as_mut_ptr());
        }
        for c in 0..2 {
            let plane = frame.plane_mut::<f32>(c);
            for (i, s) in plane.iter_mut().enumerate().take(n) {
                *s = chunk.samples[2 * i + c];
            }
        }
        frame.set_pts(Some(chunk.pts));
        if a.encoder.send_frame(&frame).is_ok() {
            drain(&mut a.encoder);
        }
    }
    let _ = a.encoder.send_eof();
    drain(&mut a.encoder);
}
