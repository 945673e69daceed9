//! Settings remembered between runs: the config file's `default` profile (video, audio,
//! destinations as `key:NAME` references) and its `[app]` table (language, theme, room rules…),
//! through `marquee_profile`. Stream keys stay in the OS keychain.

use crate::error::{AppError, ErrorCode};
use crate::ipc::{
    APP_GUEST_SLOTS, AppSettings, BlockedMode, DestinationSetting, GuestLayout, GuestView,
    GuestsSetting, PlaybackUrl, RoomHomeMode, RoomHomeSetting, RoomPrefs, overlay_forms,
};
use marquee_profile::{AppPrefs, Config, Keychain, Profile};
use std::path::Path;

const PROFILE: &str = "default";

fn config_error(e: marquee_profile::config::ConfigError) -> AppError {
    AppError::new(ErrorCode::Settings, e.to_string())
}

/// The settings in `path` (defaults for anything missing; a missing file is a first run).
pub fn load(path: &Path) -> Result<AppSettings, AppError> {
    let cfg = Config::load(path).map_err(config_error)?;
    let p = cfg.profile(None).map_err(config_error)?;
    let app = cfg.app.unwrap_or_default();
    let (width, height) = p
        .size
        .as_deref()
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((1280, 720));
    let destinations =
        p.to.iter()
            .filter_map(|u| {
                let d = marquee_studio::DestinationUrl::parse(u).ok()?;
                match d.keychain_name() {
                    Some(name) => Some(DestinationSetting {
                        url: d.server().to_string(),
                        key_name: Some(name.to_string()),
                    }),
                    // SRT with no secret, or with each secret its own `key:NAME`: the
                    // address as it is (it holds no secret).
                    None => Some(DestinationSetting {
                        url: d.reference()?,
                        key_name: None,
                    }),
                }
            })
            .collect();
    Ok(AppSettings {
        video: p.video.unwrap_or_else(|| "test".into()),
        audio: p.audio.unwrap_or_else(|| "tone".into()),
        width,
        height,
        fps: p.fps.unwrap_or(30),
        bitrate_kbps: p.bitrate.unwrap_or(2500),
        encoder: p.encoder.unwrap_or_else(|| "x264".into()),
        destinations,
        record: app.record,
        mic_gain_db: app.mic_gain_db,
        language: app.language,
        theme: app.theme,
        danmaku_overlay: app.danmaku_overlay,
        first_run_done: app.first_run_done,
        room: RoomPrefs {
            slow_mode_s: app.room.slow_mode_s,
            mods_only: app.room.mods_only,
            blocked_mode: if app.room.blocked_mode == "reject" {
                BlockedMode::Reject
            } else {
                BlockedMode::Mask
            },
            blocked_words: app.room.blocked_words,
            user_rate_per_min: app.room.user_rate_per_min,
        },
        room_home: RoomHomeSetting {
            mode: RoomHomeMode::parse(&app.room_home.mode),
            lan_address: app.room_home.lan_address,
            port: app.room_home.port,
            hosted_url: app.room_home.hosted_url,
            hosted_room: app.room_home.hosted_room,
            ca_file: app.room_home.ca_file,
        },
        overlays: (p.overlays.iter())
            .map(|i| marquee_show::overlays::from_item(i).into())
            .collect(),
        network_cameras: (!app.network_cameras.is_empty()).then(|| app.network_cameras.clone()),
        source_mics: app.source_mics,
        director: app.director,
        director_hold_s: app.director_hold_s,
        adaptive_bitrate: p.adaptive_bitrate.unwrap_or(true),
        chat_sources: p.chat.clone(),
        twitch_client_id: p.twitch_client_id.clone(),
        youtube_client_id: p.youtube_client_id.clone(),
        min_bitrate_kbps: p.min_bitrate,
        guests: GuestsSetting {
            slots: app.guests.slots.min(APP_GUEST_SLOTS),
            green_room: app.guests.green_room,
            layout: GuestLayout::parse(&app.guests.layout),
            view: GuestView::parse(&app.guests.view),
        },
    })
}

/// The default profile's overlay items (their full styling), or none if it cannot be read.
pub fn profile_overlays(path: &Path) -> Vec<marquee_overlay::OverlayItem> {
    Config::load(path)
        .ok()
        .and_then(|c| c.profile(None).ok().map(|p| p.overlays.clone()))
        .unwrap_or_default()
}

/// Writes `s` into `path`, keeping other profiles and the profile's other fields. A stream key
/// pasted into a server field goes into the keychain first (see
/// `marquee_show::destination::key_into_keychain`): the settings as saved come back.
pub fn save(path: &Path, s: &AppSettings, keychain: &Keychain) -> Result<AppSettings, AppError> {
    let mut s = s.clone();
    for d in &mut s.destinations {
        let dest = marquee_show::destination::from_form(&d.url, d.key_name.as_deref())?;
        let dest = marquee_show::destination::key_into_keychain(dest, keychain)?;
        d.url = dest.server().to_string();
        d.key_name = dest.keychain_name().map(str::to_string);
    }
    let s = &s;
    let room_home = room_home_prefs(&s.room_home);
    // A choice that cannot work is refused here, in the form, not when the room starts.
    marquee_show::room_home::HomeChoice::from_prefs(&room_home)?;
    let mut cfg = Config::load(path).map_err(config_error)?;
    // A network camera's passphrase has its own command: kept for the ports still there, and
    // a removed port's passphrase leaves the keychain.
    let ports = network_camera_ports(s)?;
    let mut locked =
        (cfg.app.as_ref()).map_or_else(Vec::new, |a| a.network_camera_passphrases.clone());
    for gone in locked.iter().filter(|p| !ports.contains(p)) {
        let _ = keychain.delete(&network_camera_key(*gone));
    }
    locked.retain(|p| ports.contains(p));
    // The playback URLs have their own command (`set_playback`): kept as they are.
    let playback = (cfg.app.as_ref()).map_or_else(Vec::new, |a| a.room.playback.clone());
    let name = cfg
        .default_profile
        .clone()
        .unwrap_or_else(|| PROFILE.to_string());
    let p: &mut Profile = cfg.profiles.entry(name).or_default();
    p.video = Some(s.video.clone());
    p.audio = Some(s.audio.clone());
    p.size = Some(format!("{}x{}", s.width, s.height));
    p.fps = Some(s.fps);
    p.bitrate = Some(s.bitrate_kbps);
    p.encoder = Some(s.encoder.clone());
    p.adaptive_bitrate = (!s.adaptive_bitrate).then_some(false);
    p.chat = (s.chat_sources.iter())
        .map(|c| marquee_show::chat::ChatSetting::parse(c).map(|c| c.to_string()))
        .collect::<Result<_, _>>()?;
    p.min_bitrate = s.min_bitrate_kbps.filter(|&k| k > 0);
    let client_id = |id: &Option<String>| {
        (id.as_deref())
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
    };
    p.twitch_client_id = client_id(&s.twitch_client_id);
    p.youtube_client_id = client_id(&s.youtube_client_id);
    p.overlays = marquee_show::overlays::to_items(&overlay_forms(&s.overlays), &p.overlays)?;
    // Only keychain references: a URL with the key in it never reaches the file.
    p.to = s
        .destinations
        .iter()
        .filter_map(|d| {
            marquee_show::destination::from_form(&d.url, d.key_name.as_deref())
                .ok()?
                .reference()
        })
        .collect();
    cfg.app = Some(AppPrefs {
        language: s.language.clone(),
        theme: s.theme.clone(),
        mic_gain_db: s.mic_gain_db,
        record: s.record,
        danmaku_overlay: s.danmaku_overlay,
        first_run_done: s.first_run_done,
        room: marquee_profile::RoomPrefs {
            playback,
            ..room_prefs(&s.room)
        },
        room_home,
        source_mics: s.source_mics.clone(),
        network_cameras: ports,
        network_camera_passphrases: locked,
        director: s.director,
        director_hold_s: s.director_hold_s,
        guests: marquee_profile::GuestPrefs {
            slots: s.guests.slots.min(APP_GUEST_SLOTS),
            green_room: s.guests.green_room,
            layout: s.guests.layout.as_str().into(),
            view: s.guests.view.as_str().into(),
        },
    });
    cfg.save(path).map_err(config_error)?;
    Ok(s.clone())
}

/// The network cameras' ports, each once; one a listener cannot have is refused here.
fn network_camera_ports(s: &AppSettings) -> Result<Vec<u16>, AppError> {
    let mut ports: Vec<u16> = Vec::new();
    for &p in s.network_cameras.iter().flatten() {
        if p < 1024 {
            return Err(AppError::new(
                ErrorCode::Settings,
                format!("a network camera's port must be 1024 to 65535, not {p}"),
            ));
        }
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    Ok(ports)
}

/// The video source of the network camera listening on `port`.
pub fn network_camera_source(port: u16) -> String {
    format!("srt://0.0.0.0:{port}?mode=listener")
}

/// The keychain entry holding the passphrase the network camera on `port` asks for.
pub fn network_camera_key(port: u16) -> String {
    format!("srt-listener-{port}")
}

/// The ports whose network camera asks for a passphrase.
pub fn network_camera_passphrases(path: &Path) -> Vec<u16> {
    (Config::load(path).ok())
        .and_then(|c| c.app)
        .map(|a| a.network_camera_passphrases)
        .unwrap_or_default()
}

/// What a show opens for a video source: a network camera with a passphrase names its
/// keychain entry (read when the show starts), so the listener never opens without it.
pub fn video_for_show(spec: &str, locked: &[u16]) -> String {
    match locked.iter().find(|&&p| spec == network_camera_source(p)) {
        Some(&p) => format!("{spec}&passphrase=key:{}", network_camera_key(p)),
        None => spec.to_string(),
    }
}

/// Keeps (or with `None` forgets) the passphrase the network camera on `port` asks its phone
/// for: the secret in the keychain, that there is one in the config file.
pub fn set_network_camera_passphrase(
    path: &Path,
    keychain: &Keychain,
    port: u16,
    passphrase: Option<&str>,
) -> Result<(), AppError> {
    let mut cfg = Config::load(path).map_err(config_error)?;
    let app = cfg.app.get_or_insert_with(AppPrefs::default);
    if !app.network_cameras.contains(&port) {
        return Err(AppError::new(
            ErrorCode::Settings,
            format!("there is no network camera on port {port}: add it and save first"),
        ));
    }
    match passphrase {
        Some(p) => {
            use marquee_capture::remote::{SRT_PASSPHRASE_RULE, srt_passphrase_fits};
            if !srt_passphrase_fits(p) {
                return Err(AppError::new(
                    ErrorCode::Settings,
                    format!("an SRT passphrase is {SRT_PASSPHRASE_RULE}"),
                ));
            }
            keychain.set(&network_camera_key(port), p)?;
            if !app.network_camera_passphrases.contains(&port) {
                app.network_camera_passphrases.push(port);
            }
        }
        None => {
            let _ = keychain.delete(&network_camera_key(port));
            app.network_camera_passphrases.retain(|&p| p != port);
        }
    }
    cfg.save(path).map_err(config_error)
}

/// Where the room lives as the config file keeps it (empty fields left out).
pub fn room_home_prefs(r: &RoomHomeSetting) -> marquee_profile::RoomHomePrefs {
    let some = |o: &Option<String>| {
        o.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    marquee_profile::RoomHomePrefs {
        mode: r.mode.as_str().into(),
        lan_address: some(&r.lan_address),
        port: r.port.filter(|&p| p != 0),
        hosted_url: r.hosted_url.trim().into(),
        hosted_room: r.hosted_room.trim().into(),
        ca_file: some(&r.ca_file),
    }
}

/// The remembered playback URLs.
pub fn playback(path: &Path) -> Result<Vec<PlaybackUrl>, AppError> {
    let cfg = Config::load(path).map_err(config_error)?;
    let room = cfg.app.unwrap_or_default().room;
    Ok((room.playback.into_iter())
        .map(|p| PlaybackUrl {
            name: p.name,
            url: p.url,
        })
        .collect())
}

/// The URLs as the room takes them.
pub fn playback_sources(urls: &[PlaybackUrl]) -> Vec<marquee_room::protocol::PlaybackSource> {
    (urls.iter())
        .map(|u| marquee_room::protocol::PlaybackSource {
            name: u.name.trim().to_string(),
            url: u.url.trim().to_string(),
        })
        .collect()
}

/// Checks the playback URLs (the room's own rules) and remembers them, trimmed; blank rows
/// are dropped.
pub fn set_playback(path: &Path, urls: &[PlaybackUrl]) -> Result<Vec<PlaybackUrl>, AppError> {
    let mut sources = playback_sources(urls);
    sources.retain(|s| !s.url.is_empty());
    marquee_room::playback::validate(&sources)
        .map_err(|e| AppError::new(ErrorCode::Settings, e.to_string()))?;
    let mut cfg = Config::load(path).map_err(config_error)?;
    let app = cfg.app.get_or_insert_with(AppPrefs::default);
    app.room.playback = (sources.iter())
        .map(|s| marquee_profile::PlaybackPref {
            name: s.name.clone(),
            url: s.url.clone(),
        })
        .collect();
    cfg.save(path).map_err(config_error)?;
    playback(path)
}

/// The room rules as the config file keeps them (the playback URLs are set apart).
pub fn room_prefs(r: &RoomPrefs) -> marquee_profile::RoomPrefs {
    marquee_profile::RoomPrefs {
        slow_mode_s: r.slow_mode_s,
        mods_only: r.mods_only,
        blocked_mode: match r.blocked_mode {
            BlockedMode::Mask => "mask".into(),
            BlockedMode::Reject => "reject".into(),
        },
        blocked_words: r.blocked_words.clone(),
        user_rate_per_min: r.user_rate_per_min,
        playback: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_overlays_survive_a_restart_and_keys_never_reach_the_file() {
        let dir = std::env::temp_dir().join(format!("marquee-app-settings-{}", std::process::id()));
        let path = dir.join("config.toml");
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = load(&path).unwrap();
        assert!(!s.first_run_done, "a missing file is a first run");
        s.width = 1920;
        s.height = 1080;
        s.fps = 60;
        s.language = Some("zh-CN".into());
        s.first_run_done = true;
        s.room.blocked_words = vec!["剧透".into()];
        s.room.blocked_mode = BlockedMode::Reject;
        s.room_home = RoomHomeSetting {
            mode: RoomHomeMode::Hosted,
            lan_address: None,
            port: Some(8800),
            hosted_url: "https://live.example.com".into(),
            hosted_room: "premiere".into(),
            ca_file: Some("/etc/marquee/ca.pem".into()),
        };
        s.overlays = vec![crate::ipc::OverlaySetting {
            id: "title".into(),
            kind: crate::ipc::OverlayKind::Text,
            text: "直播中".into(),
            image: String::new(),
            place: "tr".into(),
            enabled: true,
        }];
        s.destinations = vec![
            DestinationSetting {
                url: "rtmp://live.twitch.tv/app".into(),
                key_name: Some("twitch".into()),
            },
            DestinationSetting {
                url: "rtmp://live-push.bilivideo.com/live-bvc/".into(),
                key_name: Some("bili".into()),
            },
            DestinationSetting {
                url: "srt://ingest.example.com:9000?latency=200".into(),
                key_name: Some("ingest".into()),
            },
            DestinationSetting {
                url: "srt://open.example.com:9001".into(),
                key_name: None,
            },
        ];
        s.network_cameras = Some(vec![9000, 9002]);
        // Keys already in the keychain: saving never opens it.
        let saved = save(&path, &s, &Keychain::new("marquee-test-unreachable")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("rtmp://live.twitch.tv/app/key:twitch")
                && text.contains("srt://ingest.example.com:9000?latency=200&key:ingest"),
            "{text}"
        );
        let back = load(&path).unwrap();
        s.destinations[1].url = "rtmp://live-push.bilivideo.com/live-bvc".into();
        assert_eq!(back, s);
        assert_eq!(saved, s);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_network_camera_passphrase_is_checked_kept_for_its_port_and_named_to_the_show() {
        let dir = std::env::temp_dir().join(format!("marquee-app-netcam-{}", std::process::id()));
        let path = dir.join("config.toml");
        let _ = std::fs::remove_dir_all(&dir);
        let kc = Keychain::new("marquee-test-unreachable");
        let mut s = load(&path).unwrap();
        s.network_cameras = Some(vec![9000, 9002]);
        save(&path, &s, &kc).unwrap();
        // Refused before the keychain is asked.
        let e = set_network_camera_passphrase(&path, &kc, 9001, Some("long-enough-secret"))
            .unwrap_err();
        assert!(e.message.contains("no network camera on port 9001"), "{e}");
        for bad in ["short".to_string(), "long".repeat(20)] {
            let e = set_network_camera_passphrase(&path, &kc, 9000, Some(&bad)).unwrap_err();
            assert!(e.message.contains("10 to 79 characters"), "{e}");
            assert!(!e.message.contains(&bad), "{e}");
        }
        // As if both had one: the form keeps them for the ports still there.
        let mut cfg = Config::load(&path).unwrap();
        cfg.app.as_mut().unwrap().network_camera_passphrases = vec![9000, 9002];
        cfg.save(&path).unwrap();
        s.network_cameras = Some(vec![9000]);
        save(&path, &s, &kc).unwrap();
        assert_eq!(network_camera_passphrases(&path), [9000]);
        // The show opens that camera naming its keychain entry; others as they are.
        let locked = network_camera_passphrases(&path);
        assert_eq!(
            video_for_show("srt://0.0.0.0:9000?mode=listener", &locked),
            "srt://0.0.0.0:9000?mode=listener&passphrase=key:srt-listener-9000"
        );
        assert_eq!(video_for_show("camera:0", &locked), "camera:0");
        assert_eq!(
            video_for_show("srt://0.0.0.0:9002?mode=listener", &locked),
            "srt://0.0.0.0:9002?mode=listener"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn playback_urls_are_checked_remembered_and_kept_when_the_form_is_saved() {
        let dir = std::env::temp_dir().join(format!("marquee-app-playback-{}", std::process::id()));
        let path = dir.join("config.toml");
        let _ = std::fs::remove_dir_all(&dir);
        let url = |name: &str, url: &str| PlaybackUrl {
            name: name.into(),
            url: url.into(),
        };
        let e = set_playback(&path, &[url("", "rtmp://ingest/live/key")]).unwrap_err();
        assert_eq!(e.code, ErrorCode::Settings);
        assert!(e.message.contains("cannot be played in a browser"), "{e}");
        let saved = set_playback(
            &path,
            &[
                url(" 舞台 ", " https://cdn.example.com/live/stage.m3u8 "),
                url("", "  "),
            ],
        )
        .unwrap();
        assert_eq!(
            saved,
            [url("舞台", "https://cdn.example.com/live/stage.m3u8")]
        );
        // The settings form knows nothing of them: saving it keeps them.
        let s = load(&path).unwrap();
        save(&path, &s, &Keychain::new("marquee-test-unreachable")).unwrap();
        assert_eq!(playback(&path).unwrap(), saved);
        // What the room is given when it starts (`room::start` reads the config file).
        let app = Config::load(&path).unwrap().app.unwrap();
        assert_eq!(app.room.playback.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
