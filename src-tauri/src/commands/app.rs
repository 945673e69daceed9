//! `app_info`, `list_devices`.

use super::{blocking, state};
use crate::ipc::{AppInfo, Camera, Devices, Microphone};
use marquee_appcore::error::AppError;
use tauri::AppHandle;

pub async fn app_info(app: AppHandle) -> Result<AppInfo, AppError> {
    let state = state(&app);
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        locale: sys_locale::get_locale().unwrap_or_else(|| "en-US".into()),
        room: state.room.info(),
        live_s: state.live.elapsed().map(|d| d.as_secs_f64()),
        on_air: state.live.on_air(),
    })
}

pub async fn list_devices(_app: AppHandle) -> Result<Devices, AppError> {
    blocking(|| {
        let cameras = marquee_capture::nokhwa_cam::list_cameras()?;
        let mics = marquee_capture::audio::list_microphones()?;
        Ok(Devices {
            cameras: cameras
                .into_iter()
                .map(|c| Camera {
                    source: format!("camera:{}", c.index),
                    name: c.name,
                    formats: c
                        .formats
                        .iter()
                        .map(|f| format!("{}x{}@{} {}", f.width, f.height, f.fps, f.format))
                        .collect(),
                    push_to: None,
                    passphrase: None,
                })
                .chain(extra_sources())
                .chain(network_cameras())
                .collect(),
            microphones: mics
                .into_iter()
                .map(|m| Microphone {
                    source: format!("mic:{}", m.id),
                    name: m.description,
                    is_default: m.is_default,
                })
                .collect(),
        })
    })
    .await
}

/// The network cameras in the settings, shown like cameras with where the phone pushes to.
fn network_cameras() -> Vec<Camera> {
    let path = marquee_profile::config::default_path();
    let app = (marquee_profile::Config::load(&path).ok())
        .and_then(|c| c.app)
        .unwrap_or_default();
    let (ports, locked) = (app.network_cameras, app.network_camera_passphrases);
    ports
        .into_iter()
        .filter_map(|port| {
            let source = marquee_appcore::settings::network_camera_source(port);
            let marquee_capture::VideoSpec::Remote(url) = source.parse().ok()? else {
                return None;
            };
            Some(Camera {
                name: format!("Network camera :{port}"),
                push_to: Some(marquee_show::remote_camera::push_addresses(&url)),
                source,
                formats: Vec::new(),
                passphrase: Some(locked.contains(&port)),
            })
        })
        .collect()
}

/// More sources by hand, shown like cameras: `MARQUEE_EXTRA_SOURCES=file:/intro.mp4,test:2`
/// (a media file to cut to, a second test card).
fn extra_sources() -> Vec<Camera> {
    std::env::var("MARQUEE_EXTRA_SOURCES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| s.parse::<marquee_capture::VideoSpec>().is_ok())
        .map(|s| Camera {
            source: s.to_string(),
            name: match s.strip_prefix("file:") {
                Some(p) => std::path::Path::new(p)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| s.to_string()),
                None => s.replace("test:", "Test card "),
            },
            formats: Vec::new(),
            push_to: None,
            passphrase: None,
        })
        .collect()
}
