//! Going live and the running stream: `go_live`, `end_live`, `stats`, scenes, director mode,
//! overlays, highlights.

use super::{blocking, state};
use crate::events;
use crate::ipc::{GoLiveSettings, HighlightSaved, LiveSummary, SessionEvent, Stats};
use marquee_appcore::error::AppError;
use std::sync::Arc;
use tauri::AppHandle;

/// The session's stats and events, emitted to the page.
struct TauriEmit(AppHandle);

impl marquee_appcore::live::Emit for TauriEmit {
    fn stats(&self, s: &Stats) {
        events::stats(&self.0, s);
    }
    fn event(&self, e: &SessionEvent) {
        events::session_event(&self.0, e);
    }
    fn platform_chat(&self, c: &crate::ipc::PlatformChatBatch) {
        events::platform_chat(&self.0, c);
    }
    fn chat_source(&self, s: &crate::ipc::ChatSourceState) {
        events::chat_source(&self.0, s);
    }
}

pub async fn go_live(app: AppHandle, settings: GoLiveSettings) -> Result<(), AppError> {
    let state = state(&app);
    let (live, keychain) = (state.live.clone(), state.keychain.clone());
    let hub = state.preview.clone();
    let emit = Arc::new(TauriEmit(app.clone()));
    blocking(move || {
        // No device preview may open while the session starts (see `PreviewHub::gate`).
        let _gate = hub.gate();
        // The device preview holds the camera and the mic: close them, the session opens
        // them again.
        hub.show_source(None)?;
        hub.measure_audio(None, |_, _, _| {})?;
        live.start(&settings, &keychain, emit, Some(&hub))
    })
    .await?;
    crate::guests::open_in_room(state).await;
    Ok(())
}

pub async fn end_live(app: AppHandle) -> Result<LiveSummary, AppError> {
    let state = state(&app);
    let live = state.live.clone();
    let guests = live.show().ok().and_then(|s| s.cohost().cloned());
    let summary = blocking(move || live.end()).await;
    crate::guests::close_in_room(state, guests).await;
    summary
}

pub async fn stats(app: AppHandle) -> Result<Stats, AppError> {
    state(&app).live.stats()
}

pub async fn switch_scene(
    app: AppHandle,
    scene: String,
    transition: String,
) -> Result<(), AppError> {
    let live = state(&app).live.clone();
    blocking(move || Ok(live.show()?.switch(&scene, &transition)?)).await
}

pub async fn set_director(app: AppHandle, on: bool) -> Result<(), AppError> {
    let live = state(&app).live.clone();
    blocking(move || Ok(live.show()?.set_director(on)?)).await
}

pub async fn set_overlay(app: AppHandle, id: String, on: bool) -> Result<(), AppError> {
    let live = state(&app).live.clone();
    blocking(move || Ok(live.show()?.set_overlay(&id, on)?)).await
}

pub async fn save_highlight(app: AppHandle, seconds: f64) -> Result<HighlightSaved, AppError> {
    let live = state(&app).live.clone();
    blocking(move || live.save_highlight(seconds)).await
}

pub async fn mark_highlight(app: AppHandle, label: String) -> Result<f64, AppError> {
    let live = state(&app).live.clone();
    blocking(move || live.mark(&label)).await
}
