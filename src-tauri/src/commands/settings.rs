//! Settings remembered between runs, stream keys, and testing a destination.

use super::{blocking, state};
use crate::ipc::{AppSettings, DestinationSetting, Preflight};
use marquee_appcore::error::{AppError, ErrorCode};
use marquee_appcore::settings as remembered;
use tauri::AppHandle;

pub async fn load_settings(_app: AppHandle) -> Result<AppSettings, AppError> {
    blocking(|| remembered::load(&marquee_profile::config::default_path())).await
}

/// Saves the settings and returns them as saved: a stream key pasted into a server field
/// has moved into the keychain (the destination now names it). When where the room lives
/// changed, the room starts again there (`room_ready` follows).
pub async fn save_settings(app: AppHandle, settings: AppSettings) -> Result<AppSettings, AppError> {
    let kc = state(&app).keychain.clone();
    let (saved, moved) = blocking(move || {
        let path = marquee_profile::config::default_path();
        let before = remembered::load(&path).map(|s| s.room_home).ok();
        let saved = remembered::save(&path, &settings, &kc)?;
        // Only what changes where the room is (not, say, a hosted room's name while the
        // room lives on this computer).
        let choice = |h: &crate::ipc::RoomHomeSetting| {
            marquee_show::room_home::HomeChoice::from_prefs(&remembered::room_home_prefs(h)).ok()
        };
        let moved = before.as_ref().map(choice) != Some(choice(&saved.room_home));
        Ok((saved, moved))
    })
    .await?;
    if moved {
        tauri::async_runtime::spawn(crate::room::start(app));
    }
    Ok(saved)
}

pub async fn set_stream_key(app: AppHandle, name: String, key: String) -> Result<(), AppError> {
    let kc = state(&app).keychain.clone();
    blocking(move || Ok(kc.set(&name, &key)?)).await
}

pub async fn set_network_camera_passphrase(
    app: AppHandle,
    port: u16,
    passphrase: Option<String>,
) -> Result<(), AppError> {
    let kc = state(&app).keychain.clone();
    blocking(move || {
        remembered::set_network_camera_passphrase(
            &marquee_profile::config::default_path(),
            &kc,
            port,
            passphrase.as_deref(),
        )
    })
    .await
}

pub async fn stream_key_names(app: AppHandle) -> Result<Vec<String>, AppError> {
    let kc = state(&app).keychain.clone();
    blocking(move || Ok(kc.list()?)).await
}

pub async fn test_connection(
    _app: AppHandle,
    destination: DestinationSetting,
) -> Result<Preflight, AppError> {
    blocking(move || {
        // The key is not needed to test the way there: only the server is used.
        let (server, _) = marquee_studio::url::Server::parse(&destination.url)
            .map_err(|e| AppError::new(ErrorCode::Settings, e.to_string()))?;
        let url = marquee_studio::DestinationUrl::new(
            server,
            marquee_studio::url::StreamKey::Keychain("test".into()),
        );
        let r = marquee_studio::output::preflight(&url, std::time::Duration::from_secs(5))
            .map_err(|e| AppError::new(ErrorCode::Network, e))?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        Ok(Preflight {
            target: r.target,
            address: r.address,
            dns_ms: ms(r.dns),
            tcp_ms: r.tcp.map(ms),
            handshake_ms: r.handshake.map(ms),
        })
    })
    .await
}
