//! The preview and the input meter before going live.

use super::{blocking, state};
use crate::events;
use crate::ipc::{AudioLevel, PreviewInfo};
use marquee_appcore::error::{AppError, ErrorCode};
use tauri::AppHandle;

pub async fn preview_url(app: AppHandle) -> Result<String, AppError> {
    Ok(state(&app).preview.url()?)
}

pub async fn preview_info(app: AppHandle) -> Result<PreviewInfo, AppError> {
    Ok(state(&app).preview.info().into())
}

pub async fn preview_source(app: AppHandle, video: Option<String>) -> Result<(), AppError> {
    let state = state(&app);
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

pub async fn preview_audio(app: AppHandle, audio: Option<String>) -> Result<(), AppError> {
    let state = state(&app);
    let (hub, live) = (state.preview.clone(), state.live.clone());
    blocking(move || {
        unless_live(
            &hub,
            &live,
            "the meters show the stream's audio while live",
            || {
                hub.measure_audio(audio.as_deref(), move |input, peak_db, rms_db| {
                    events::audio_level(
                        &app,
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

/// Runs `open` (a device preview) unless the app is live, under the preview's gate so that a
/// session starting meanwhile cannot have its devices taken (see `PreviewHub::gate`).
fn unless_live<T>(
    hub: &marquee_show::PreviewHub,
    live: &marquee_appcore::live::Live,
    refusal: &str,
    open: impl FnOnce() -> Result<T, marquee_show::ShowError>,
) -> Result<T, AppError> {
    let _gate = hub.gate();
    if live.is_live() {
        return Err(AppError::new(ErrorCode::AlreadyLive, refusal));
    }
    Ok(open()?)
}
