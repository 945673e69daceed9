//! The IPC commands. Each is a few lines over the engine; errors are `AppError`.

use crate::AppState;
use crate::error::{AppError, ErrorCode};
use crate::ipc::*;
use marquee_room::protocol::{ClientMsg, DanmakuMode, SettingsPatch};
use std::sync::Arc;
use tauri::ipc::Channel;
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
        live_s: state.live.elapsed().map(|d| d.as_secs_f64()),
        on_air: state.live.on_air(),
    }
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
        })
        .collect()
}

/// Saves the last `seconds` of the stream as a clip (while live).
#[tauri::command]
pub async fn save_highlight(
    state: State<'_, AppState>,
    seconds: f64,
) -> Result<crate::ipc::HighlightSaved, AppError> {
    let live = state.live.clone();
    blocking(move || live.save_highlight(seconds)).await
}

/// Drops a mark now; returns its session time in seconds.
#[tauri::command]
pub async fn mark_highlight(state: State<'_, AppState>, label: String) -> Result<f64, AppError> {
    let live = state.live.clone();
    blocking(move || live.mark(&label)).await
}

/// Turns director mode on or off while live.
#[tauri::command]
pub async fn set_director(state: State<'_, AppState>, on: bool) -> Result<(), AppError> {
    let live = state.live.clone();
    blocking(move || Ok(live.show()?.set_director(on)?)).await
}

/// Switches an overlay on or off while live.
#[tauri::command]
pub async fn set_overlay(state: State<'_, AppState>, id: String, on: bool) -> Result<(), AppError> {
    let live = state.live.clone();
    blocking(move || Ok(live.show()?.set_overlay(&id, on)?)).await
}

/// Switches the scene while live.
#[tauri::command]
pub async fn switch_scene(
    state: State<'_, AppState>,
    scene: String,
    transition: String,
) -> Result<(), AppError> {
    let live = state.live.clone();
    blocking(move || Ok(live.show()?.switch(&scene, &transition)?)).await
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
                .chain(extra_sources())
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
    let hub = state.preview.clone();
    let emit = Arc::new(TauriEmit(app));
    blocking(move || {
        // No device preview may open while the session starts (see `PreviewHub::gate`).
        let _gate = hub.gate();
        // The device preview holds the camera and the mic: close them, the session opens
        // them again.
        hub.show_source(None)?;
        hub.measure_audio(None, |_, _, _| {})?;
        live.start(&settings, &keychain, emit, Some(&hub))
    })
    .await
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

/// The room so far — the host connection's latest `joined` (rules, poll, lottery, catalog)
/// and every event since (chat history included) — and live `room` events from now on.
/// The page calls it once it listens (again after a reload); `null` while the room is still
/// starting (call again on `room_ready`).
#[tauri::command]
pub fn room_attach(state: State<'_, AppState>) -> Option<Vec<RoomEvent>> {
    state
        .room
        .get()
        .map(|r| r.feed.lock().unwrap_or_else(|e| e.into_inner()).attach())
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

#[tauri::command]
pub async fn room_moderate(state: State<'_, AppState>, action: Moderation) -> Result<(), AppError> {
    let msg = match action {
        Moderation::Delete { id } => ClientMsg::Delete { id },
        Moderation::Timeout { user, seconds } => ClientMsg::Timeout { user, seconds },
        Moderation::Ban { user } => ClientMsg::Ban { user },
        Moderation::Unban { user } => ClientMsg::Unban { user },
    };
    room_send(&state, msg).await
}

#[tauri::command]
pub async fn room_settings(
    state: State<'_, AppState>,
    patch: RoomSettingsPatch,
) -> Result<(), AppError> {
    room_send(
        &state,
        ClientMsg::Settings(SettingsPatch {
            slow_mode_s: patch.slow_mode_s,
            mods_only: patch.mods_only,
            blocked_mode: patch.blocked_mode.map(Into::into),
            user_rate_per_min: patch.user_rate_per_min,
        }),
    )
    .await
}

#[tauri::command]
pub async fn room_block_words(
    state: State<'_, AppState>,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<(), AppError> {
    room_send(&state, ClientMsg::BlockWords { add, remove }).await
}

/// Shows a question on screen (`null`: take it down).
#[tauri::command]
pub async fn room_pin_question(
    state: State<'_, AppState>,
    question: Option<u64>,
) -> Result<(), AppError> {
    room_send(&state, ClientMsg::PinQuestion { question }).await
}

#[tauri::command]
pub async fn room_lottery_start(
    state: State<'_, AppState>,
    keyword: String,
    prize: String,
) -> Result<(), AppError> {
    room_send(&state, ClientMsg::LotteryStart { keyword, prize }).await
}

#[tauri::command]
pub async fn room_lottery_draw(
    state: State<'_, AppState>,
    lottery: u64,
    winners: u32,
) -> Result<(), AppError> {
    room_send(&state, ClientMsg::LotteryDraw { lottery, winners }).await
}

/// The preview stream's address (an MJPEG `<img>` source on localhost; see `preview.rs`).
#[tauri::command]
pub fn preview_url(state: State<'_, AppState>) -> Result<String, AppError> {
    state.preview.url()
}

/// The preview's rate and times, measured by the engine.
#[tauri::command]
pub fn preview_info(state: State<'_, AppState>) -> PreviewInfo {
    state.preview.info()
}

/// Shows a source in the preview without going live (first run, picking a camera);
/// `null` closes it. While live the preview shows what goes out and this is refused.
#[tauri::command]
pub async fn preview_source(
    state: State<'_, AppState>,
    video: Option<String>,
) -> Result<(), AppError> {
    let (hub, live) = (state.preview.clone(), state.live.clone());
    blocking(move || {
        unless_live(
            &hub,
            &live,
            "the preview shows the stream while live",
            || hub.show_source(video.as_deref()),
        )
    })
    .await
}

/// Runs `open` (a device preview) unless the app is live, under the preview's gate so that a
/// session starting meanwhile cannot have its devices taken (see `PreviewHub::gate`).
fn unless_live<T>(
    hub: &crate::preview::PreviewHub,
    live: &crate::live::Live,
    refusal: &str,
    open: impl FnOnce() -> Result<T, AppError>,
) -> Result<T, AppError> {
    let _gate = hub.gate();
    if live.is_live() {
        return Err(AppError::new(ErrorCode::AlreadyLive, refusal));
    }
    open()
}

/// Measures an audio input for the level meter without going live (`audio_level` events,
/// 10 a second); `null` stops.
#[tauri::command]
pub async fn preview_audio(
    app: AppHandle,
    state: State<'_, AppState>,
    audio: Option<String>,
) -> Result<(), AppError> {
    let (hub, live) = (state.preview.clone(), state.live.clone());
    blocking(move || {
        unless_live(
            &hub,
            &live,
            "the meters show the stream's audio while live",
            || {
                hub.measure_audio(audio.as_deref(), move |input, peak_db, rms_db| {
                    let _ = app.emit(
                        "audio_level",
                        &AudioLevel {
                            input: input.to_string(),
                            peak_db,
                            rms_db,
                        },
                    );
                })
            },
        )
    })
    .await
}

/// "Test connection": DNS, TCP and the RTMP handshake, without publishing.
#[tauri::command]
pub async fn test_connection(destination: DestinationSetting) -> Result<Preflight, AppError> {
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
            tcp_ms: Some(ms(r.tcp)),
            handshake_ms: r.handshake.map(ms),
        })
    })
    .await
}

#[tauri::command]
pub async fn load_settings() -> Result<AppSettings, AppError> {
    blocking(|| crate::settings::load(&marquee_profile::config::default_path())).await
}

/// Saves the settings; a stream key pasted into a server field goes into the keychain first.
#[tauri::command]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: AppSettings,
) -> Result<(), AppError> {
    let kc = state.keychain.clone();
    blocking(move || {
        crate::settings::save(&marquee_profile::config::default_path(), &settings, &kc)?;
        Ok(())
    })
    .await
}

// ---- the clip library and highlight suggestions (clips.rs) ----

/// Clips in the library, newest first.
#[tauri::command]
pub async fn clip_list(state: State<'_, AppState>) -> Result<Vec<ClipInfo>, AppError> {
    let c = state.clips.clone();
    blocking(move || c.list()).await
}

/// A clip's thumbnail as raw JPEG bytes (an `ArrayBuffer` in JS, shown through a Blob URL).
///
/// Why bytes over IPC and not the asset protocol: the asset protocol needs the
/// `protocol-asset` feature and a filesystem scope in the config that would let the webview
/// read any file in it by path; a command hands out exactly one cached thumbnail (~15 KB) by
/// clip name, and the CSP already allows `blob:` images.
#[tauri::command]
pub async fn clip_thumbnail(
    state: State<'_, AppState>,
    name: String,
) -> Result<tauri::ipc::Response, AppError> {
    let c = state.clips.clone();
    blocking(move || c.thumbnail(&name).map(tauri::ipc::Response::new)).await
}

/// Opens a clip in the system's video player.
#[tauri::command]
pub async fn clip_open(state: State<'_, AppState>, name: String) -> Result<(), AppError> {
    let c = state.clips.clone();
    blocking(move || c.open(&name)).await
}

#[tauri::command]
pub async fn clip_rename(
    state: State<'_, AppState>,
    name: String,
    new_name: String,
) -> Result<ClipInfo, AppError> {
    let c = state.clips.clone();
    blocking(move || c.rename(&name, &new_name)).await
}

#[tauri::command]
pub async fn clip_delete(state: State<'_, AppState>, name: String) -> Result<(), AppError> {
    let c = state.clips.clone();
    blocking(move || c.delete(&name)).await
}

/// Exports clips 9:16 (720x1280) into the library, one after the other; progress goes out on
/// `progress` as frames are encoded. A failing clip does not stop the batch: the report says
/// which failed and why.
#[tauri::command]
pub async fn clip_export(
    state: State<'_, AppState>,
    names: Vec<String>,
    progress: Channel<ExportProgress>,
) -> Result<ExportReport, AppError> {
    let c = state.clips.clone();
    blocking(move || {
        c.export(&names, |p| {
            let _ = progress.send(p);
        })
    })
    .await
}

/// Recordings in the recordings folder, newest first.
#[tauri::command]
pub async fn recordings_list(state: State<'_, AppState>) -> Result<Vec<RecordingInfo>, AppError> {
    let c = state.clips.clone();
    blocking(move || c.recordings()).await
}

/// Highlight suggestions of a recording (decodes its audio: seconds for an hour).
#[tauri::command]
pub async fn suggestions(
    state: State<'_, AppState>,
    recording: String,
) -> Result<SuggestionList, AppError> {
    let c = state.clips.clone();
    blocking(move || c.suggestions(&recording)).await
}

/// Keep: the suggested range is cut from the recording into the library.
#[tauri::command]
pub async fn suggestion_keep(
    state: State<'_, AppState>,
    recording: String,
    from_s: u64,
    to_s: u64,
) -> Result<ClipInfo, AppError> {
    let c = state.clips.clone();
    blocking(move || c.keep(&recording, from_s, to_s)).await
}

/// Discard: hidden, and remembered beside the recording.
#[tauri::command]
pub async fn suggestion_discard(
    state: State<'_, AppState>,
    recording: String,
    from_s: u64,
    to_s: u64,
) -> Result<(), AppError> {
    let c = state.clips.clone();
    blocking(move || c.discard(&recording, from_s, to_s)).await
}
