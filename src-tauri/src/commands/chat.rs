//! Moderating platform chat from the app: the Twitch and YouTube logins and the actions sent
//! to them, over the engine's `marquee_show::moderate` (the CLI's `marquee chat login|mod`
//! share it, and the same keychain: a login made with `marquee chat login` moderates from the
//! app too, and the other way round).

use super::blocking;
use crate::ipc::{LoginPlatform, LoginState, PlatformLogin, PlatformModeration};
use crate::state::AppState;
use marquee_appcore::error::{AppError, ErrorCode};
use marquee_chat::moderation::ModAction;
use marquee_show::moderate;
use tauri::{AppHandle, Manager};

fn platform_error(e: String) -> AppError {
    AppError::new(ErrorCode::Platform, e)
}

/// `MARQUEE_YOUTUBE_API=http://…`: a local server answering as Google's OAuth and the Data
/// API (tests).
fn youtube_endpoints() -> marquee_chat::youtube::moderate::YoutubeModEndpoints {
    moderate::youtube_endpoints(std::env::var("MARQUEE_YOUTUBE_API").ok().as_deref())
}

/// `MARQUEE_TWITCH_API=http://…`: a local server answering as Twitch (tests).
fn endpoints() -> marquee_chat::twitch::helix::HelixEndpoints {
    moderate::twitch_endpoints(std::env::var("MARQUEE_TWITCH_API").ok().as_deref())
}

pub async fn platform_login(
    app: AppHandle,
    platform: LoginPlatform,
    client_id: String,
    client_secret: String,
) -> Result<(), AppError> {
    let kc = app.state::<AppState>().keychain.clone();
    // The login waits for the streamer (minutes): it reports through events, not the reply.
    tauri::async_runtime::spawn_blocking(move || {
        let tell = |state: LoginState| {
            crate::events::platform_login(&app, &PlatformLogin { platform, state })
        };
        let waiting = |code: &str, uri: &str| {
            tell(LoginState::Waiting {
                code: code.to_string(),
                uri: uri.to_string(),
            })
        };
        let done = match platform {
            LoginPlatform::Twitch => moderate::twitch_login(&kc, &client_id, &endpoints(), waiting),
            LoginPlatform::Youtube => moderate::youtube_login(
                &kc,
                &client_id,
                &client_secret,
                &youtube_endpoints(),
                waiting,
            ),
        };
        tell(match done {
            Ok(()) => LoginState::Done,
            Err(reason) => LoginState::Failed { reason },
        });
    });
    Ok(())
}

pub async fn platform_logout(app: AppHandle, platform: LoginPlatform) -> Result<(), AppError> {
    let kc = app.state::<AppState>().keychain.clone();
    blocking(move || {
        match platform {
            LoginPlatform::Twitch => moderate::twitch_logout(&kc),
            LoginPlatform::Youtube => moderate::youtube_logout(&kc),
        }
        .map_err(platform_error)
    })
    .await
}

pub async fn platform_logged_in(app: AppHandle, platform: LoginPlatform) -> Result<bool, AppError> {
    let kc = app.state::<AppState>().keychain.clone();
    blocking(move || {
        Ok(match platform {
            LoginPlatform::Twitch => moderate::twitch_logged_in(&kc),
            LoginPlatform::Youtube => moderate::youtube_logged_in(&kc),
        })
    })
    .await
}

pub async fn platform_moderate(app: AppHandle, action: PlatformModeration) -> Result<(), AppError> {
    let (source, action) = match action {
        PlatformModeration::Delete { source, message_id } => {
            (source, ModAction::Delete { message_id })
        }
        PlatformModeration::Timeout {
            source,
            user_id,
            seconds,
        } => (
            source,
            ModAction::Timeout {
                user_id,
                seconds,
                reason: String::new(),
            },
        ),
        PlatformModeration::Ban { source, user_id } => (
            source,
            ModAction::Ban {
                user_id,
                reason: String::new(),
            },
        ),
    };
    let setting = marquee_show::chat::ChatSetting::parse(&source)
        .map_err(|e| AppError::new(ErrorCode::Settings, e.to_string()))?;
    let kc = app.state::<AppState>().keychain.clone();
    blocking(move || {
        match setting.platform {
            marquee_chat::Platform::Twitch => {
                moderate::twitch_moderate(&kc, &endpoints(), &setting.target, &action)
            }
            marquee_chat::Platform::Youtube => {
                moderate::youtube_moderate(&kc, &youtube_endpoints(), &setting.target, &action)
            }
            _ => Err(
                "bilibili: Marquee cannot moderate there (no API it can call): hidden here only"
                    .into(),
            ),
        }
        .map_err(platform_error)
    })
    .await
}
