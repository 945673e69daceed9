//! Co-stream guests while live: the panel, invite links, admit/decline/remove, mute, hide,
//! volume, layout, thumbnails (`crate::guests` over the show's co-stream host).

use super::state;
use crate::guests::{Action, act};
use crate::ipc::{Bytes, GuestLayout, GuestLink, GuestView, GuestsView};
use marquee_appcore::error::AppError;
use tauri::AppHandle;

pub async fn guests(app: AppHandle) -> Result<GuestsView, AppError> {
    let live = &state(&app).live;
    let show = live.show()?;
    Ok(live.invites.view(&show))
}

pub async fn guest_new_link(app: AppHandle, slot: u32) -> Result<GuestLink, AppError> {
    let live = &state(&app).live;
    let show = live.show()?;
    live.invites.renew(&show, slot)
}

fn on_guest(app: &AppHandle, session: u64, action: Action) -> Result<(), AppError> {
    let show = state(app).live.show()?;
    act(&show, session, action)
}

pub async fn guest_admit(app: AppHandle, session: u64) -> Result<(), AppError> {
    on_guest(&app, session, Action::Admit)
}

pub async fn guest_decline(app: AppHandle, session: u64) -> Result<(), AppError> {
    on_guest(&app, session, Action::Decline)
}

pub async fn guest_remove(app: AppHandle, session: u64) -> Result<(), AppError> {
    on_guest(&app, session, Action::Remove)
}

pub async fn guest_mute(app: AppHandle, session: u64, muted: bool) -> Result<(), AppError> {
    on_guest(&app, session, Action::Mute(muted))
}

pub async fn guest_hide(app: AppHandle, session: u64, hidden: bool) -> Result<(), AppError> {
    on_guest(&app, session, Action::Hide(hidden))
}

pub async fn guest_volume(app: AppHandle, session: u64, db: f32) -> Result<(), AppError> {
    on_guest(&app, session, Action::Volume(db))
}

pub async fn guest_view(app: AppHandle, view: GuestView) -> Result<(), AppError> {
    Ok(state(&app).live.show()?.set_guest_view(view.engine())?)
}

pub async fn guest_layout(app: AppHandle, layout: GuestLayout) -> Result<(), AppError> {
    Ok(state(&app).live.show()?.set_guest_layout(layout.engine())?)
}

pub async fn guest_thumbnail(app: AppHandle, session: u64) -> Result<Bytes, AppError> {
    let show = state(&app).live.show()?;
    super::blocking(move || Ok(Bytes(crate::guests::thumbnail(&show, session)?))).await
}
