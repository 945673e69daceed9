//! Named profiles in `config.toml`; command-line flags override them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The settings a `marquee live` run takes, all optional so a profile can set a few.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub video: Option<String>,
    pub audio: Option<String>,
    /// Destinations; each must end in `key:NAME` (keys live in the keychain, not here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    pub record: Option<PathBuf>,
    pub size: Option<String>,
    pub fps: Option<u32>,
    pub bitrate: Option<u32>,
    /// Adaptive bitrate (absent: on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_bitrate: Option<bool>,
    /// The lowest rate adaptive bitrate may go to, kbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_bitrate: Option<u32>,
    pub audio_bitrate: Option<u32>,
    pub encoder: Option<String>,
    pub preset: Option<String>,
    /// Video sources as `ID=SPEC` (e.g. `stage=camera:0`), in input order; when set they
    /// replace `video`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Scenes over those sources (every source also gets a full-frame scene of its name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenes: Vec<marquee_scene::Scene>,
    /// The scene on air first.
    pub start_scene: Option<String>,
    /// Overlays burnt into the picture (text, image, danmaku), each switchable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlays: Vec<marquee_overlay::OverlayItem>,
    /// Platform chats read during the show: `bilibili:ROOM`, `twitch:CHANNEL`, `youtube:VIDEO`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chat: Vec<String>,
    /// The Client ID of the streamer's Twitch application, for logging in to moderate (public,
    /// not a secret; the login itself lives in the keychain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twitch_client_id: Option<String>,
    /// The streamer's Google OAuth client ID for logging in to moderate YouTube chat (not a
    /// secret; its client secret and the login live in the keychain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub youtube_client_id: Option<String>,
}

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Profile used when none is named (else "default").
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// What the desktop app remembers besides its profile (the CLI ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppPrefs>,
}

/// Config file problems, with the path and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    Parse { path: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "profile '{profile}': destination {url} carries its stream key inline; store the key with `marquee key set NAME` and end the URL in key:NAME"
    )]
    InlineKey { profile: String, url: String },
    #[error("no profile named '{0}' in the config file (see `marquee config show`)")]
    NoProfile(String),
}

/// The desktop app's own preferences (`[app]` in the config file). The video, audio and
/// destination settings live in the `default` profile, shared with the CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppPrefs {
    /// `en` or `zh-CN`; absent: follow the OS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `dark`, `light` or `system` (follow the OS); absent: dark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// Microphone gain in dB.
    pub mic_gain_db: f32,
    /// Record locally while live.
    pub record: bool,
    /// Danmaku drawn over the preview.
    pub danmaku_overlay: bool,
    /// The first-run wizard was finished (or skipped).
    pub first_run_done: bool,
    pub room: RoomPrefs,
    /// Where the app's room lives (this computer, the local network, a hosted server).
    pub room_home: RoomHomePrefs,
    /// The microphone at each camera (source → audio source, e.g. `camera:0` → `mic:usb`):
    /// mixed in, and what director mode listens to.
    pub source_mics: std::collections::BTreeMap<String, String>,
    /// Go live with director mode on (cut to the camera whose microphone is loudest).
    pub director: bool,
    /// Director mode's minimum time on one camera, seconds.
    pub director_hold_s: f32,
    /// Co-stream guests: the slots a show opens, the green room, the layout.
    pub guests: GuestPrefs,
    /// Network cameras: the UDP ports of SRT listeners a phone or PC pushes to
    /// (`srt://0.0.0.0:PORT?mode=listener`), shown with the cameras.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_cameras: Vec<u16>,
    /// The network cameras that ask their phone for a passphrase (the passphrase itself is in
    /// the OS keychain as `srt-listener-PORT`, never here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_camera_passphrases: Vec<u16>,
}

/// How the app's shows take co-stream guests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuestPrefs {
    /// Guest slots a show opens (0: no co-stream; the app offers up to 4).
    pub slots: u32,
    /// Guests wait in the green room until the host admits them.
    pub green_room: bool,
    /// `auto`, `grid` or `pip`.
    pub layout: String,
    /// What guests see: `program` or `camera` (the host's camera).
    pub view: String,
}

impl Default for GuestPrefs {
    fn default() -> Self {
        Self {
            slots: 0,
            green_room: true,
            layout: "auto".into(),
            view: "program".into(),
        }
    }
}

impl Default for AppPrefs {
    fn default() -> Self {
        Self {
            language: None,
            theme: None,
            mic_gain_db: 0.0,
            record: false,
            danmaku_overlay: true,
            first_run_done: false,
            room: RoomPrefs::default(),
            room_home: RoomHomePrefs::default(),
            source_mics: Default::default(),
            director: false,
            director_hold_s: 3.0,
            guests: GuestPrefs::default(),
            network_cameras: Vec::new(),
            network_camera_passphrases: Vec::new(),
        }
    }
}

/// The room rules the host set last time (applied when the app's room starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomPrefs {
    pub slow_mode_s: u32,
    pub mods_only: bool,
    /// `mask` or `reject`.
    pub blocked_mode: String,
    pub blocked_words: Vec<String>,
    /// Messages per viewer in any rolling minute (0: no limit).
    pub user_rate_per_min: u32,
    /// Where viewers watch the show (the viewer page plays it); several are camera angles.
    pub playback: Vec<PlaybackPref>,
}

/// A playback URL the host set: an HLS (`.m3u8`) or HTTP-FLV (`.flv`) URL the ingest serves,
/// and what the viewer page calls it (empty: numbered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlaybackPref {
    pub name: String,
    pub url: String,
}

impl Default for RoomPrefs {
    fn default() -> Self {
        Self {
            slow_mode_s: 0,
            mods_only: false,
            blocked_mode: "mask".into(),
            blocked_words: Vec::new(),
            user_rate_per_min: 0,
            playback: Vec::new(),
        }
    }
}

/// Where the app's room lives, as remembered. The host key of a hosted room is not here: it
/// is in the OS keychain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomHomePrefs {
    /// `this_computer` (also when empty), `local_network` or `hosted`.
    pub mode: String,
    /// The local network address to serve on; absent: the one the default route uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lan_address: Option<String>,
    /// A fixed port (the viewer link stays the same across restarts); absent: 7717, or any
    /// free port when that is taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The hosted room server's public URL (`https://live.example.com`).
    pub hosted_url: String,
    /// The room's name on the hosted server.
    pub hosted_room: String,
    /// A PEM file of the CA that signed a self-hosted server's certificate, trusted besides
    /// the OS's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

/// Where the config lives: `$MARQUEE_CONFIG`, else the platform config dir
/// (`~/.config/marquee/config.toml` on Linux).
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MARQUEE_CONFIG") {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("app", "Marquee", "marquee")
        .map(|d| d.config_dir().join("config.toml"))
        .unwrap_or_else(|| PathBuf::from("marquee.toml"))
}

/// An `srt://` destination's query (SRT has no stream key path: its secrets are parameters).
fn srt_query(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("srt://")?;
    Some(rest.split_once('?').map_or("", |(_, q)| q))
}

/// The values of an SRT query's secret parameters (`streamid`, `passphrase`).
fn srt_secret_values(query: &str) -> impl Iterator<Item = &str> {
    query
        .split('&')
        .filter_map(|item| match item.split_once('=') {
            Some(("streamid" | "passphrase", v)) => Some(v),
            _ => None,
        })
}

/// The last path segment of a destination (an SRT secret parameter's value), masked unless
/// it is a `key:NAME` reference.
fn masked(url: &str) -> String {
    if let Some(q) = srt_query(url) {
        let head = &url[..url.len() - q.len()];
        let items: Vec<String> = (q.split('&'))
            .map(|item| match item.split_once('=') {
                Some((k @ ("streamid" | "passphrase"), v)) if !v.starts_with("key:") => {
                    format!("{k}=****")
                }
                _ => item.to_string(),
            })
            .collect();
        return format!("{head}{}", items.join("&"));
    }
    match url.rsplit_once('/') {
        Some((head, tail)) if !tail.starts_with("key:") => format!("{head}/****"),
        _ => url.to_string(),
    }
}

impl Config {
    /// Loads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            reason: e.message().to_string(),
        })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Refuses stream keys written into the file.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, p) in &self.profiles {
            for url in &p.to {
                let last = url.rsplit('/').next().unwrap_or("");
                let inline = match srt_query(url) {
                    Some(q) => srt_secret_values(q).any(|v| !v.starts_with("key:")),
                    None => !last.starts_with("key:"),
                };
                if inline {
                    return Err(ConfigError::InlineKey {
                        profile: name.clone(),
                        url: masked(url),
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes atomically (temp file + rename) so a crash never leaves half a config.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        self.check()?;
        let err = |source| ConfigError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// The named profile, or the default one; a missing default is an empty profile.
    pub fn profile(&self, name: Option<&str>) -> Result<Profile, ConfigError> {
        match name {
            Some(n) => self
                .profiles
                .get(n)
                .cloned()
                .ok_or_else(|| ConfigError::NoProfile(n.to_string())),
            None => {
                let n = self.default_profile.as_deref().unwrap_or("default");
                Ok(self.profiles.get(n).cloned().unwrap_or_default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_through_the_file() {
        let dir = std::env::temp_dir().join(format!("marquee-cfg-{}", std::process::id()));
        let path = dir.join("config.toml");
        let mut cfg = Config::default();
        cfg.profiles.insert(
            "main".into(),
            Profile {
                video: Some("camera:0".into()),
                to: vec!["rtmp://h/live/key:main".into()],
                fps: Some(60),
                ..Default::default()
            },
        );
        cfg.profiles.insert(
            "show".into(),
            Profile {
                sources: vec!["stage=camera:0".into(), "guest=test:2".into()],
                scenes: vec![marquee_scene::Scene::parse("duo=side:stage,guest").unwrap()],
                start_scene: Some("duo".into()),
                ..Default::default()
            },
        );
        cfg.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), cfg);
        assert_eq!(
            Config::load(&path)
                .unwrap()
                .profile(Some("main"))
                .unwrap()
                .fps,
            Some(60)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_an_empty_config_and_a_missing_profile_is_an_error() {
        let cfg = Config::load(Path::new("/nonexistent/marquee/config.toml")).unwrap();
        assert_eq!(cfg.profile(None).unwrap(), Profile::default());
        assert!(
            cfg.profile(Some("nope"))
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    }

    #[test]
    fn inline_stream_keys_are_refused_and_not_echoed() {
        let cfg: Config =
            toml::from_str("[profiles.x]\nto = [\"rtmp://h/live/sk_secret_123\"]\n").unwrap();
        let e = cfg.check().unwrap_err().to_string();
        assert!(
            e.contains("key:NAME") && !e.contains("sk_secret_123"),
            "{e}"
        );
    }

    #[test]
    fn srt_secrets_in_the_file_are_refused_and_keychain_references_kept() {
        let cfg: Config = toml::from_str(
            "[profiles.x]\nto = [\"srt://h:9000?latency=200&streamid=live&passphrase=pw_secret_123\"]\n",
        )
        .unwrap();
        let e = cfg.check().unwrap_err().to_string();
        assert!(
            e.contains("passphrase=****") && !e.contains("pw_secret_123"),
            "{e}"
        );
        for ok in [
            "srt://h:9000?latency=200&key:ingest",
            "srt://h:9000?streamid=key:sid&passphrase=key:pw",
            "srt://h:9000",
        ] {
            let cfg: Config = toml::from_str(&format!("[profiles.x]\nto = [\"{ok}\"]\n")).unwrap();
            assert!(cfg.check().is_ok(), "{ok}");
        }
    }

    #[test]
    fn unknown_fields_are_reported_with_the_path() {
        let dir = std::env::temp_dir().join(format!("marquee-cfg-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "[profiles.x]\nfsp = 30\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("config.toml") && e.contains("fsp"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn app_prefs_round_trip_and_a_file_without_them_still_loads() {
        let dir = std::env::temp_dir().join(format!("marquee-cfg-app-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "[profiles.default]\nfps = 30\n").unwrap();
        let mut cfg = Config::load(&path).unwrap();
        assert_eq!(cfg.app, None);
        cfg.app = Some(AppPrefs {
            language: Some("zh-CN".into()),
            theme: Some("light".into()),
            mic_gain_db: -3.5,
            record: true,
            first_run_done: true,
            room: RoomPrefs {
                slow_mode_s: 10,
                mods_only: true,
                blocked_mode: "reject".into(),
                blocked_words: vec!["spoiler".into()],
                user_rate_per_min: 12,
                playback: vec![PlaybackPref {
                    name: "舞台".into(),
                    url: "https://cdn.example.com/live/stage.m3u8".into(),
                }],
            },
            room_home: RoomHomePrefs {
                mode: "hosted".into(),
                lan_address: None,
                port: Some(8800),
                hosted_url: "https://live.example.com".into(),
                hosted_room: "premiere".into(),
                ca_file: Some("/etc/marquee/ca.pem".into()),
            },
            ..AppPrefs::default()
        });
        cfg.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), cfg);
        // Older files: an [app] table with only some fields takes defaults for the rest.
        std::fs::write(&path, "[app]\nrecord = true\n").unwrap();
        let app = Config::load(&path).unwrap().app.unwrap();
        assert!(app.record && app.danmaku_overlay && !app.first_run_done);
        assert_eq!(app.room.blocked_mode, "mask");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
