//! The room panel's commands, sent to the room as the host, and where the room lives.

use super::{blocking, state};
use crate::ipc::{
    Moderation, NetInterface, PlaybackUrl, PollStart, RoomEvent, RoomHomeMode, RoomSettingsPatch,
};
use marquee_appcore::error::{AppError, ErrorCode};
use marquee_appcore::settings;
use marquee_room::protocol::{ClientMsg, DanmakuMode, SettingsPatch};
use marquee_show::room_home;
use tauri::AppHandle;

async fn room_send(app: &AppHandle, msg: ClientMsg) -> Result<(), AppError> {
    let room = state(app)
        .room
        .get()
        .ok_or_else(|| AppError::new(ErrorCode::Room, "the room is not running"))?;
    Ok(room.send(msg).await?)
}

/// The host connection's latest `joined` (rules, poll, lottery, catalog) and every event
/// since, under the feed's lock that also starts live delivery (see
/// `marquee_show::room::RoomFeed`).
pub async fn room_attach(app: AppHandle) -> Result<Option<Vec<RoomEvent>>, AppError> {
    Ok(state(&app).room.get().map(|r| r.attach()))
}

pub async fn room_chat(app: AppHandle, text: String) -> Result<(), AppError> {
    let msg = ClientMsg::Danmaku {
        text,
        color: None,
        mode: DanmakuMode::default(),
    };
    room_send(&app, msg).await
}

pub async fn room_delete(app: AppHandle, id: u64) -> Result<(), AppError> {
    room_send(&app, ClientMsg::Delete { id }).await
}

pub async fn room_poll_start(app: AppHandle, poll: PollStart) -> Result<(), AppError> {
    let msg = ClientMsg::PollStart {
        question: poll.question,
        options: poll.options,
        duration_s: poll.duration_s,
        allow_change: false,
    };
    room_send(&app, msg).await
}

pub async fn room_poll_end(app: AppHandle, poll: u64) -> Result<(), AppError> {
    room_send(&app, ClientMsg::PollEnd { poll }).await
}

pub async fn room_moderate(app: AppHandle, action: Moderation) -> Result<(), AppError> {
    let msg = match action {
        Moderation::Delete { id } => ClientMsg::Delete { id },
        Moderation::Timeout { user, seconds } => ClientMsg::Timeout { user, seconds },
        Moderation::Ban { user } => ClientMsg::Ban { user },
        Moderation::Unban { user } => ClientMsg::Unban { user },
    };
    room_send(&app, msg).await
}

pub async fn room_settings(app: AppHandle, patch: RoomSettingsPatch) -> Result<(), AppError> {
    let msg = ClientMsg::Settings(SettingsPatch {
        slow_mode_s: patch.slow_mode_s,
        mods_only: patch.mods_only,
        blocked_mode: patch.blocked_mode.map(Into::into),
        user_rate_per_min: patch.user_rate_per_min,
        playback: None,
    });
    room_send(&app, msg).await
}

pub async fn room_block_words(
    app: AppHandle,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<(), AppError> {
    room_send(&app, ClientMsg::BlockWords { add, remove }).await
}

pub async fn room_pin_question(app: AppHandle, question: Option<u64>) -> Result<(), AppError> {
    room_send(&app, ClientMsg::PinQuestion { question }).await
}

pub async fn room_lottery_start(
    app: AppHandle,
    keyword: String,
    prize: String,
) -> Result<(), AppError> {
    room_send(&app, ClientMsg::LotteryStart { keyword, prize }).await
}

pub async fn room_lottery_draw(app: AppHandle, lottery: u64, winners: u32) -> Result<(), AppError> {
    room_send(&app, ClientMsg::LotteryDraw { lottery, winners }).await
}

/// Non-loopback addresses of this machine's interfaces, the default route's first.
pub async fn room_interfaces(_app: AppHandle) -> Result<Vec<NetInterface>, AppError> {
    super::blocking(|| {
        let route = marquee_show::netif::default_route_address();
        Ok(marquee_show::netif::interfaces()
            .into_iter()
            .map(|i| NetInterface {
                name: i.name,
                address: i.address.to_string(),
                default_route: Some(i.address) == route,
            })
            .collect())
    })
    .await
}

/// Keeps the hosted room's host key in the OS keychain (and nowhere else); a hosted room
/// joins again with it.
pub async fn set_room_host_key(app: AppHandle, key: String) -> Result<(), AppError> {
    super::blocking(move || {
        Ok(room_home::store_host_key(
            &room_home::host_keychain(),
            &key,
        )?)
    })
    .await?;
    let hosted = state(&app)
        .room
        .info()
        .is_none_or(|i| i.home == RoomHomeMode::Hosted);
    if hosted {
        tauri::async_runtime::spawn(crate::room::start(app));
    }
    Ok(())
}

/// Whether a host key is in the keychain (never the key).
pub async fn room_host_key_stored(_app: AppHandle) -> Result<bool, AppError> {
    super::blocking(|| Ok(room_home::host_key_stored(&room_home::host_keychain()))).await
}

pub async fn room_appoint(app: AppHandle, user: String) -> Result<(), AppError> {
    room_send(&app, ClientMsg::Appoint { user }).await
}

pub async fn room_unappoint(app: AppHandle, user: String) -> Result<(), AppError> {
    room_send(&app, ClientMsg::Unappoint { user }).await
}

pub async fn room_mod_invite(app: AppHandle) -> Result<(), AppError> {
    room_send(&app, ClientMsg::ModInvite).await
}

pub async fn room_mod_invite_revoke(app: AppHandle, code: String) -> Result<(), AppError> {
    room_send(&app, ClientMsg::ModInviteRevoke { code }).await
}

pub async fn room_staff(app: AppHandle) -> Result<(), AppError> {
    room_send(&app, ClientMsg::Staff).await
}

pub async fn room_moderation_log(app: AppHandle, limit: u32) -> Result<(), AppError> {
    room_send(&app, ClientMsg::Modlog { limit }).await
}

pub async fn room_playback(_app: AppHandle) -> Result<Vec<PlaybackUrl>, AppError> {
    blocking(|| settings::playback(&marquee_profile::config::default_path())).await
}

/// Remembered first (the config file is the host's source of truth, applied when the room
/// starts), then sent to the room if it runs.
pub async fn room_set_playback(
    app: AppHandle,
    urls: Vec<PlaybackUrl>,
) -> Result<Vec<PlaybackUrl>, AppError> {
    let saved =
        blocking(move || settings::set_playback(&marquee_profile::config::default_path(), &urls))
            .await?;
    if state(&app).room.get().is_some() {
        let sources = settings::playback_sources(&saved);
        let patch = SettingsPatch {
            playback: Some(sources),
            ..SettingsPatch::default()
        };
        room_send(&app, ClientMsg::Settings(patch)).await?;
    }
    Ok(saved)
}
