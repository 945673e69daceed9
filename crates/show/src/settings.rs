//! What a show is made of, as the user chose it: one plain type both shells fill in (the CLI
//! from flags over a profile, the app from its settings form), checked and resolved here into
//! the engine's session config — once, with one set of rules.

use crate::error::ShowError;
use marquee_capture::camera::Faults;
use marquee_capture::{AudioSpec, VideoSpec};
use marquee_overlay::{OverlayItem, OverlaySpec};
use marquee_profile::{Keychain, Profile};
use marquee_scene::{Scene, Transition};
use marquee_studio::director::DirectorConfig;
use marquee_studio::output::KeyProvider;
use marquee_studio::{
    AudioSettings, DestinationConfig, DestinationUrl, EncoderChoice, SceneSetup, SessionConfig,
    SourceConfig, VideoSettings,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the recording goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Recording {
    #[default]
    Off,
    /// `<videos>/Marquee/marquee-<UTC time>.mkv`.
    DefaultFolder,
    Path(PathBuf),
}

/// One camera (or file, or test card) with the microphone standing at it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSetting {
    /// The name scenes use for it.
    pub id: String,
    pub video: String,
    /// Mixed into the program audio, and what director mode listens to.
    pub mic: Option<String>,
}

impl SourceSetting {
    /// `ID=SPEC[+MIC]`, e.g. `stage=camera:0+mic:usb` (the CLI's `--source` and the profile's
    /// `sources`).
    pub fn parse(s: &str) -> Result<Self, ShowError> {
        let (id, spec) = s.split_once('=').ok_or_else(|| {
            ShowError::Settings(format!(
                "source {s:?}: write ID=SPEC[+MIC], e.g. stage=camera:0+mic:usb or guest=test:2"
            ))
        })?;
        let (video, mic) = match spec.split_once('+') {
            Some((v, m)) => (v, Some(m.to_string())),
            None => (spec, None),
        };
        Ok(Self {
            id: id.trim().to_string(),
            video: video.to_string(),
            mic,
        })
    }
}

/// The replay buffer behind "save highlight" and marks.
#[derive(Debug, Clone, PartialEq)]
pub struct HighlightSettings {
    /// Seconds kept (0 turns highlights off).
    pub replay_seconds: u32,
    /// The buffer's cap, MiB (its bytes wait on disk; this bounds that file).
    pub replay_mib: u32,
    /// Where saved clips go (default: the clip library).
    pub clips_dir: Option<PathBuf>,
}

impl Default for HighlightSettings {
    fn default() -> Self {
        Self {
            replay_seconds: 60,
            replay_mib: 256,
            clips_dir: None,
        }
    }
}

/// Everything a show is started from. `Default` is the built-in defaults.
#[derive(Debug, Clone)]
pub struct ShowSettings {
    /// The main video source (`test`, `camera:0`, `file:PATH`), used when `sources` is empty.
    pub video: String,
    /// The main audio input (`tone[:HZ]`, `mic:ID|default`, `file:PATH`, `none`).
    pub audio: String,
    /// Several sources and their microphones; the scene bar cuts between them.
    pub sources: Vec<SourceSetting>,
    pub scenes: Vec<Scene>,
    /// The scene on air first (default: the first).
    pub start_scene: Option<String>,
    /// The camera whose microphone is loudest goes on air by itself.
    pub director: bool,
    /// The least time a camera stays on air under director mode.
    pub director_hold: Duration,
    pub overlays: Vec<OverlayItem>,
    pub destinations: Vec<DestinationUrl>,
    pub recording: Recording,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub audio_bitrate_kbps: u32,
    pub encoder: String,
    /// x264 preset.
    pub preset: String,
    /// Gain on the main microphone, dB (±30).
    pub mic_gain_db: f32,
    pub highlights: HighlightSettings,
    /// Platform chats whose messages and gifts go on the danmaku layer and into the signals.
    pub chat: Vec<crate::chat::ChatSetting>,
    /// The host's blocked words, masked locally in platform chat.
    pub blocked_words: Vec<String>,
    /// Co-stream guest slots (none by default).
    pub guests: crate::guests::GuestSettings,
    /// Adaptive bitrate: when the primary destination cannot keep up, the encoder's bitrate
    /// steps down (to `min_bitrate_kbps` at least) and climbs back when the link recovers.
    /// One encoder feeds the destinations and the recording, so the recording follows the
    /// stream's rate (a second encoder would double the CPU on a laptop).
    pub adaptive_bitrate: bool,
    /// The floor of adaptive bitrate; `None`: a quarter of `bitrate_kbps`, at least 300.
    pub min_bitrate_kbps: Option<u32>,
    /// Fault injection for the synthetic camera (tests of camera loss).
    pub test_faults: Faults,
}

impl Default for ShowSettings {
    fn default() -> Self {
        Self {
            video: "test".into(),
            audio: "tone".into(),
            sources: Vec::new(),
            scenes: Vec::new(),
            start_scene: None,
            director: false,
            director_hold: Duration::from_secs(3),
            overlays: Vec::new(),
            destinations: Vec::new(),
            recording: Recording::Off,
            width: 1280,
            height: 720,
            fps: 30,
            bitrate_kbps: 2500,
            audio_bitrate_kbps: 128,
            encoder: "x264".into(),
            preset: "veryfast".into(),
            mic_gain_db: 0.0,
            highlights: HighlightSettings::default(),
            chat: Vec::new(),
            blocked_words: Vec::new(),
            guests: Default::default(),
            adaptive_bitrate: true,
            min_bitrate_kbps: None,
            test_faults: Faults::default(),
        }
    }
}

/// The floor adaptive bitrate uses when none is set: a quarter of the chosen rate, at least
/// 300 kbit/s (below that a 720p picture is mush), never above the chosen rate.
pub fn default_min_bitrate(bitrate_kbps: u32) -> u32 {
    (bitrate_kbps / 4).max(300).min(bitrate_kbps)
}

/// `1280x720` → (1280, 720).
pub fn parse_size(s: &str) -> Result<(u32, u32), ShowError> {
    let bad = || ShowError::Settings(format!("'{s}' is not a size like 1280x720"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((
        w.trim().parse().map_err(|_| bad())?,
        h.trim().parse().map_err(|_| bad())?,
    ))
}

/// The session config, the scenes, and the recording path a show starts with.
pub struct Resolved {
    pub session: SessionConfig,
    pub scenes: SceneSetup,
    pub recording: Option<PathBuf>,
    /// The show lays its co-stream guests out by itself (see [`crate::guests`]).
    pub auto_guest_layout: bool,
}

impl ShowSettings {
    /// Takes what a config-file profile says over the current values.
    pub fn apply_profile(&mut self, p: &Profile) -> Result<(), ShowError> {
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                dst.clone_from(v);
            }
        };
        set(&mut self.video, &p.video);
        set(&mut self.audio, &p.audio);
        set(&mut self.encoder, &p.encoder);
        set(&mut self.preset, &p.preset);
        if let Some(s) = &p.size {
            (self.width, self.height) = parse_size(s)?;
        }
        self.fps = p.fps.unwrap_or(self.fps);
        self.bitrate_kbps = p.bitrate.unwrap_or(self.bitrate_kbps);
        self.adaptive_bitrate = p.adaptive_bitrate.unwrap_or(self.adaptive_bitrate);
        if !p.chat.is_empty() {
            self.chat = (p.chat.iter())
                .map(|c| crate::chat::ChatSetting::parse(c))
                .collect::<Result<_, _>>()?;
        }
        self.min_bitrate_kbps = p.min_bitrate.or(self.min_bitrate_kbps);
        self.audio_bitrate_kbps = p.audio_bitrate.unwrap_or(self.audio_bitrate_kbps);
        if let Some(r) = &p.record {
            self.recording = Recording::Path(r.clone());
        }
        if !p.to.is_empty() {
            self.destinations =
                p.to.iter()
                    .map(|u| DestinationUrl::parse(u))
                    .collect::<Result<_, _>>()?;
        }
        if !p.sources.is_empty() {
            self.sources = p
                .sources
                .iter()
                .map(|s| SourceSetting::parse(s))
                .collect::<Result<_, _>>()?;
        }
        if !p.scenes.is_empty() {
            self.scenes.clone_from(&p.scenes);
        }
        if p.start_scene.is_some() {
            self.start_scene.clone_from(&p.start_scene);
        }
        if !p.overlays.is_empty() {
            self.overlays.clone_from(&p.overlays);
        }
        Ok(())
    }

    /// Whether the burnt-in picture has a danmaku layer (room chat goes on the video).
    pub fn has_danmaku(&self) -> bool {
        self.overlays
            .iter()
            .any(|o| matches!(o.spec, OverlaySpec::Danmaku { .. }))
    }

    /// Checks everything that can be checked before opening a device, and resolves stream
    /// keys against the keychain (a missing key fails now, not at the first connect; the key
    /// itself is read again at each connect).
    pub fn resolve(&self, keychain: &Keychain) -> Result<Resolved, ShowError> {
        let bad = |m: String| ShowError::Settings(m);
        let capture = |e: marquee_capture::CaptureError| bad(e.to_string());
        let video = video_spec(&self.video, keychain)?;
        let audio: AudioSpec = self.audio.parse().map_err(capture)?;
        let mut destinations = Vec::with_capacity(self.destinations.len());
        for url in &self.destinations {
            let names = url.keychain_names();
            for name in &names {
                keychain.get(name)?;
            }
            let key = (!names.is_empty()).then(|| {
                let kc = keychain.clone();
                Arc::new(move |name: &str| kc.get(name).map_err(|e| e.to_string())) as KeyProvider
            });
            destinations.push(DestinationConfig {
                url: url.clone(),
                key,
            });
        }
        let recording = match &self.recording {
            Recording::Off => None,
            Recording::DefaultFolder => Some(default_recording()),
            Recording::Path(p) => Some(p.clone()),
        };
        if destinations.is_empty() && recording.is_none() {
            return Err(bad(
                "add a destination or turn on recording before going live".into(),
            ));
        }
        if let Some(dir) = recording
            .as_ref()
            .and_then(|r| r.parent())
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                bad(format!(
                    "cannot create the recordings folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let session = SessionConfig {
            video,
            audio,
            video_settings: VideoSettings {
                width: self.width,
                height: self.height,
                fps: self.fps,
                bitrate_kbps: self.bitrate_kbps,
                encoder: self.encoder.parse().unwrap_or(EncoderChoice::X264),
                preset: self.preset.clone(),
            },
            audio_settings: AudioSettings {
                bitrate_kbps: self.audio_bitrate_kbps,
                gain_db: self.mic_gain_db.clamp(-30.0, 30.0),
            },
            destinations,
            record: recording.clone(),
            test_faults: self.test_faults,
            abr_min_kbps: self.adaptive_bitrate.then(|| {
                self.min_bitrate_kbps
                    .unwrap_or_else(|| default_min_bitrate(self.bitrate_kbps))
                    .min(self.bitrate_kbps)
            }),
        };
        let mut scenes = self.scene_setup(keychain)?;
        let auto_guest_layout = crate::guests::add_sources(
            &self.guests,
            &session.video,
            &mut scenes.sources,
            &mut scenes.scenes,
            &mut scenes.start,
            self.test_faults,
        )?;
        if self.guests.slots > 0 {
            scenes.feeds = Some(marquee_capture::feed::Feeds::new());
        }
        Ok(Resolved {
            session,
            scenes,
            recording,
            auto_guest_layout,
        })
    }

    fn scene_setup(&self, keychain: &Keychain) -> Result<SceneSetup, ShowError> {
        let bad = |m: String| ShowError::Settings(m);
        let sources = self
            .sources
            .iter()
            .map(|s| {
                let mic = s
                    .mic
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty() && *m != "none");
                Ok(SourceConfig {
                    id: s.id.clone(),
                    spec: video_spec(&s.video, keychain)?,
                    mic: mic
                        .map(|m| {
                            m.parse().map_err(|e: marquee_capture::CaptureError| {
                                bad(format!("the microphone for {}: {e}", s.id))
                            })
                        })
                        .transpose()?,
                    faults: self.test_faults,
                })
            })
            .collect::<Result<Vec<_>, ShowError>>()?;
        if self.director && !sources.iter().any(|s| s.mic.is_some()) {
            return Err(bad(
                "director mode listens to the cameras' microphones: give at least one camera a microphone (the app: Settings → Audio; the CLI: --source stage=camera:0+mic:usb), or turn director mode off".into(),
            ));
        }
        let hold = self.director_hold.as_secs_f64();
        if self.director && !(1.0..=30.0).contains(&hold) {
            return Err(bad(format!(
                "director hold {hold} s must be between 1 and 30 s"
            )));
        }
        for (i, o) in self.overlays.iter().enumerate() {
            if self.overlays[..i].iter().any(|p| p.id == o.id) {
                return Err(bad(format!(
                    "two overlays are named {:?}: rename one",
                    o.id
                )));
            }
        }
        Ok(SceneSetup {
            sources,
            scenes: self.scenes.clone(),
            start: self.start_scene.clone(),
            overlays: self.overlays.clone(),
            director: self.director,
            director_config: DirectorConfig {
                hold: self.director_hold,
                ..Default::default()
            },
            director_transition: Transition::Cut,
            feeds: None,
        })
    }
}

/// `<videos>/Marquee/marquee-<UTC time>.mkv`.
pub fn default_recording() -> PathBuf {
    use marquee_profile::paths::{timestamp, videos_dir};
    videos_dir().join(format!("marquee-{}.mkv", timestamp()))
}

/// A video source as written, with a network camera's `passphrase=key:NAME` read from the
/// keychain (a listener never opens without the passphrase it names).
fn video_spec(text: &str, keychain: &Keychain) -> Result<VideoSpec, ShowError> {
    let bad = |e: marquee_capture::CaptureError| ShowError::Settings(e.to_string());
    let mut spec: VideoSpec = text.parse().map_err(bad)?;
    if let VideoSpec::Remote(u) = &mut spec
        && let Some(name) = u.passphrase_key().map(str::to_string)
    {
        u.set_passphrase(&keychain.get(&name)?).map_err(bad)?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keychain() -> Keychain {
        Keychain::new("marquee-show-test")
    }

    fn recording() -> ShowSettings {
        ShowSettings {
            recording: Recording::Path(std::env::temp_dir().join("marquee-show-test.mkv")),
            ..Default::default()
        }
    }

    #[test]
    fn nowhere_to_go_is_a_settings_error() {
        let e = ShowSettings::default()
            .resolve(&keychain())
            .err()
            .expect("an error");
        assert!(matches!(e, ShowError::Settings(_)), "{e}");
    }

    #[test]
    fn a_network_camera_whose_passphrase_entry_is_bad_or_missing_does_not_start() {
        // Refused before the keychain is asked: an entry name that cannot exist.
        let s = ShowSettings {
            video: "srt://0.0.0.0:9000?mode=listener&passphrase=key:".into(),
            ..recording()
        };
        let e = s.resolve(&keychain()).err().expect("an error").to_string();
        assert!(e.contains("key:NAME needs"), "{e}");
        let s = ShowSettings {
            video: "srt://0.0.0.0:9000?mode=listener&passphrase=key:no/such entry".into(),
            ..recording()
        };
        let e = s.resolve(&keychain()).err().expect("an error").to_string();
        assert!(e.contains("no/such entry"), "{e}");
    }

    #[test]
    fn bad_sources_are_settings_errors_that_say_what_to_write() {
        let s = ShowSettings {
            video: "webcam".into(),
            ..recording()
        };
        assert!(matches!(
            s.resolve(&keychain()).err(),
            Some(ShowError::Settings(_))
        ));
        let e = SourceSetting::parse("camera:0").unwrap_err().to_string();
        assert!(e.contains("ID=SPEC"), "{e}");
        let s = SourceSetting::parse("stage=camera:0+mic:usb").unwrap();
        assert_eq!(
            (s.id.as_str(), s.video.as_str(), s.mic.as_deref()),
            ("stage", "camera:0", Some("mic:usb"))
        );
    }

    #[test]
    fn camera_microphones_are_mixed_and_drive_director_mode_with_its_hold() {
        let s = ShowSettings {
            sources: vec![
                SourceSetting::parse("test=test").unwrap(),
                SourceSetting::parse("test:2=test:2+tone:880").unwrap(),
            ],
            director: true,
            director_hold: Duration::from_secs(5),
            ..recording()
        };
        let r = s.resolve(&keychain()).unwrap();
        assert_eq!(r.scenes.sources[0].mic, None);
        assert_eq!(r.scenes.sources[1].mic, Some("tone:880".parse().unwrap()));
        assert!(r.scenes.director);
        assert_eq!(r.scenes.director_config.hold, Duration::from_secs(5));
    }

    #[test]
    fn director_mode_without_a_camera_microphone_says_where_to_pick_one() {
        let s = ShowSettings {
            sources: vec![SourceSetting::parse("a=test+none").unwrap()],
            director: true,
            ..recording()
        };
        let e = s.resolve(&keychain()).err().unwrap().to_string();
        assert!(e.contains("Settings → Audio"), "{e}");
        let bad_hold = ShowSettings {
            sources: vec![SourceSetting::parse("a=test+tone").unwrap()],
            director: true,
            director_hold: Duration::from_millis(200),
            ..recording()
        };
        let e = bad_hold.resolve(&keychain()).err().unwrap().to_string();
        assert!(e.contains("between 1 and 30"), "{e}");
    }

    #[test]
    fn an_inline_destination_and_a_recording_make_a_config() {
        let s = ShowSettings {
            destinations: vec![DestinationUrl::parse("rtmp://127.0.0.1:1935/live/demo").unwrap()],
            ..recording()
        };
        let r = s.resolve(&keychain()).unwrap();
        assert_eq!(r.session.destinations.len(), 1);
        assert!(r.session.destinations[0].key.is_none());
        assert_eq!(r.session.video_settings.fps, 30);
        assert!(r.recording.is_some());
    }

    #[test]
    fn a_profile_fills_in_what_it_names_and_keeps_the_rest() {
        let p = Profile {
            size: Some("1920x1080".into()),
            bitrate: Some(6000),
            sources: vec!["stage=camera:0+mic:usb".into()],
            ..Default::default()
        };
        let mut s = ShowSettings::default();
        s.apply_profile(&p).unwrap();
        assert_eq!(
            (s.width, s.height, s.bitrate_kbps, s.fps),
            (1920, 1080, 6000, 30)
        );
        assert_eq!(s.sources[0].mic.as_deref(), Some("mic:usb"));
        let bad = Profile {
            size: Some("1080p".into()),
            ..Default::default()
        };
        assert!(ShowSettings::default().apply_profile(&bad).is_err());
    }

    #[test]
    fn two_overlays_with_one_name_are_refused() {
        let o = |id: &str| OverlayItem {
            id: id.into(),
            enabled: true,
            spec: OverlaySpec::danmaku(),
        };
        let s = ShowSettings {
            overlays: vec![o("a"), o("a")],
            ..recording()
        };
        let e = s.resolve(&keychain()).err().unwrap().to_string();
        assert!(e.contains("rename one"), "{e}");
    }

    #[test]
    fn sizes_parse_and_say_what_they_want() {
        assert_eq!(parse_size("1920x1080").unwrap(), (1920, 1080));
        assert!(
            parse_size("1080p")
                .unwrap_err()
                .to_string()
                .contains("1280x720")
        );
    }

    #[test]
    fn default_recording_is_a_dated_mkv_in_the_videos_folder() {
        let p = default_recording();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("marquee-20") && name.ends_with(".mkv"),
            "{name}"
        );
        assert_eq!(p.parent().unwrap().file_name().unwrap(), "Marquee");
    }
}
