//! A live session: sources → compositor / mixer → encoders → packet bus → outputs.
//! Start it, read stats and events while live, stop it to get a summary.

use crate::StudioError;
use crate::compose::program::{Program, SwitchRequest};
use crate::compose::thread::Compositor;
use crate::director::{Director, DirectorConfig};
use crate::encode::audio::AudioEncoder;
use crate::encode::video::VideoEncoder;
use crate::encode::{self, AudioSettings, VideoSettings};
use crate::events::{Event, EventKind, Events};
use crate::frames::{CanvasFrame, FrameBus, FrameTap};
use crate::mixer::AudioChunk;
use crate::mixer::thread::{DirectorLink, MixInput, Mixer};
use crate::output::{self, KeyProvider, OutputHandle, PacketSink, RtmpTarget};
use crate::overlays::{OverlayControl, OverlayStage};
use crate::packet::StreamInfo;
use crate::sources;
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
use std::sync::atomic::{AtomicBool, Ordering};
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
            let handle = if lenient {
                sources::spawn_video_retrying(&src.spec, src.faults, &clock, vsink, w, h, fps)?
            } else {
                sources::spawn_video(&src.spec, src.faults, &clock, vsink, w, h, fps)?
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
            audio_sources.push(sources::spawn_audio(spec, &clock, asink)?);
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
        threads.push(
            Compositor {
                clock: clock.clone(),
                program,
                fps,
                sources: vrxs,
                statuses,
                switches: switch_rx,
                on_air: on_air.clone(),
                overlays: overlay_stage,
                taps: frames.clone(),
                encoder: ctx,
                counters: video.clone(),
                events: events.clone(),
                stop: stop.clone(),
            }
            .spawn(),
        );
        threads.push(
            VideoEncoder {
                opened: venc,
                pictures: crx,
                bus: bus.clone(),
                counters: video.clone(),
                clock: clock.clone(),
            }
            .spawn(),
        );
        *audio.inputs.lock().expect("levels lock") = audio_names
            .iter()
            .map(|n| InputLevel {
                input: n.clone(),
                peak_db: -120.0,
                rms_db: -120.0,
            })
            .collect();
        let control = SceneControl::new(scenes, on_air, switch_tx, clock.clone(), setup.director);
        if let Some(aenc) = aenc {
            let (atx, atr) = crossbeam_channel::bounded::<AudioChunk>(8);
            threads.push(
                Mixer {
                    clock: clock.clone(),
                    inputs: mix_inputs,
                    encoder: atx,
                    frame_size: aenc.frame_size,
                    counters: audio.clone(),
                    link: DirectorLink {
                        control: control.clone(),
                        director: Director::new(setup.director_config),
                        transition: setup.director_transition,
                    },
                    stop: stop.clone(),
                }
                .spawn(),
            );
            threads.push(
                AudioEncoder {
                    opened: aenc,
                    chunks: atr,
                    bus: bus.clone(),
                    counters: audio.clone(),
                }
                .spawn(),
            );
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
        self.control.scenes()
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
