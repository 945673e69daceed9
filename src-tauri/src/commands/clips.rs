//! The clip library and highlight suggestions (`marquee_highlights::desk`), by file name only.

use super::{blocking, state};
use crate::ipc::{
    Bytes, Callback, ClipInfo, ExportProgress, ExportReport, RecordingInfo, SuggestionList,
};
use marquee_appcore::error::AppError;
use tauri::AppHandle;

pub async fn clip_list(app: AppHandle) -> Result<Vec<ClipInfo>, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.list()?.into_iter().map(Into::into).collect())).await
}

/// Raw bytes over IPC, not the asset protocol: that needs the `protocol-asset` feature and a
/// filesystem scope that would let the webview read any file in it by path; a command hands
/// out exactly one cached thumbnail (~15 KB) by clip name, and the CSP already allows `blob:`
/// images.
pub async fn clip_thumbnail(app: AppHandle, name: String) -> Result<Bytes, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(Bytes(c.thumbnail(&name)?))).await
}

pub async fn clip_open(app: AppHandle, name: String) -> Result<(), AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.open(&name)?)).await
}

pub async fn clip_rename(
    app: AppHandle,
    name: String,
    new_name: String,
) -> Result<ClipInfo, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.rename(&name, &new_name)?.into())).await
}

pub async fn clip_delete(app: AppHandle, name: String) -> Result<(), AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.delete(&name)?)).await
}

pub async fn clip_export(
    app: AppHandle,
    names: Vec<String>,
    progress: Callback<ExportProgress>,
) -> Result<ExportReport, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.export(&names, |p| progress.send(p.into()))?.into())).await
}

pub async fn recordings_list(app: AppHandle) -> Result<Vec<RecordingInfo>, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.recordings()?.into_iter().map(Into::into).collect())).await
}

pub async fn suggestions(app: AppHandle, recording: String) -> Result<SuggestionList, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.suggestions(&recording)?.into())).await
}

pub async fn suggestion_keep(
    app: AppHandle,
    recording: String,
    from_s: u64,
    to_s: u64,
) -> Result<ClipInfo, AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.keep(&recording, from_s, to_s)?.into())).await
}

pub async fn suggestion_discard(
    app: AppHandle,
    recording: String,
    from_s: u64,
    to_s: u64,
) -> Result<(), AppError> {
    let c = state(&app).clips.clone();
    blocking(move || Ok(c.discard(&recording, from_s, to_s)?)).await
}
