//! The IPC commands. Each is a few lines over the engine; errors are `AppError`.

use crate::AppState;
use crate::error::{AppError, ErrorCode};
use crate::ipc::*;
use marquee_room::protocol::{ClientMsg, DanmakuMode};
use std::sync::Arc;
use tauri::{AppHandle, Emitter, State};

struct TauriEmit(AppHandle);

impl crate::live::Emit for TauriEmit {
    fn stats(&self, s: &Stats) {
        let _ = self.0.emit("stats", s);
    }
    fn event(&self, e: &SessionEvent) {
        let _ = self.0.emit("session_event", e);
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("task failed: {e}")))?
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        locale: sys_locale::get_locale().unwrap_or_else(|| "en-US".into()),
        room: state.room.get().map(|r| r.info.clone()),
    }
}

#[tauri::command]
pub async fn list_devices() -> Result<Devices, AppError> {
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
                })
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

#[tauri::command]
pub async fn go_live(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: GoLiveSettings,
) -> Result<(), AppError> {
    let (live, keychain) = (state.live.clone(), state.keychain.clone());
    let emit = Arc::new(TauriEmit(app));
    blocking(move || live.start(&settings, &keychain, emit)).await
}

#[tauri::command]
pub async fn end_live(state: State<'_, AppState>) -> Result<LiveSummary, AppError> {
    let live = state.live.clone();
    blocking(move || live.end()).await
}

#[tauri::command]
pub fn stats(state: State<'_, AppState>) -> Result<Stats, AppError> {
    state.live.stats()
}

/// Stores a stream key in the OS keychain. Keys are never returned over IPC.
#[tauri::command]
pub async fn set_stream_key(
    state: State<'_, AppState>,
    name: String,
    key: String,
) -> Result<(), AppError> {
    let kc = state.keychain.clone();
    blocking(move || Ok(kc.set(&name, &key)?)).await
}

/// Names of the stored stream keys (never the keys).
#[tauri::command]
pub async fn stream_key_names(state: State<'_, AppState>) -> Result<Vec<String>, AppError> {
    let kc = state.keychain.clone();
    blocking(move || Ok(kc.list()?)).await
}

async fn room_send(state: &AppState, msg: ClientMsg) -> Result<(), AppError> {
    let room = state
        .room
        .get()
        .ok_or_else(|| AppError::new(ErrorCode::Room, "the room server is not running"))?;
    room.out
        .send(msg)
        .await
        .map_err(|_| AppError::new(ErrorCode::Room, "the room connection has stopped"))
}

#[tauri::command]
pub async fn room_chat(state: State<'_, AppState>, text: String) -> Result<(), AppError> {
    room_send(
        &state,
        ClientMsg::Danmaku {
            text,
            color: None,
            mode: DanmakuMode::default(),
        },
    )
    .await
}

#[tauri::command]
pub async fn room_delete(state: State<'_, AppState>, id: u64) -> Result<(), AppError> {
    room_send(&state, ClientMsg::Delete { id }).await
}

#[tauri::command]
pub async fn room_poll_start(state: State<'_, AppState>, poll: PollStart) -> Result<(), AppError> {
    room_send(
        &state,
        ClientMsg::PollStart {
            question: poll.question,
            options: poll.options,
            duration_s: poll.duration_s,
            allow_change: false,
        },
    )
    .await
}

#[tauri::command]
pub async fn room_poll_end(state: State<'_, AppState>, poll: u64) -> Result<(), AppError> {
    room_send(&state, ClientMsg::PollEnd { poll }).await
}
