//! The Marquee desktop app: wiring only. Commands and events over `marquee-appcore` (the app
//! without Tauri: IPC types, the error, settings, going live, invites) and the engine crates.
//!
//! - [`commands`]: the IPC commands and [`events`]: the events, each declared once (the
//!   TypeScript the page uses is generated from them); [`ipc`]: the types that cross IPC, by
//!   feature; [`bindings`]: renders `ui/src/bindings/` and checks it is fresh;
//!   [`error::AppError`]: the one error type.
//! - [`live`]: the running show and its `stats` / `session_event` events (in appcore).
//! - [`room`]: the room's protocol as `room` events, and starting the room where the settings
//!   say (with the app, and again when that changes); the room itself is
//!   `marquee_show::room`, where it lives `marquee_show::room_home`.
//! - The preview (`marquee_show::preview`) and the clip desk (`marquee_highlights::desk`)
//!   are the engine's; their commands map them to IPC types.

pub mod bindings;
mod commands;
mod events;
pub mod guests;
pub mod ipc;
#[cfg(target_os = "linux")]
pub mod linux_env;
pub mod room;
mod state;

pub use state::AppState;

use std::sync::Arc;
use tauri::Manager;

pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MARQUEE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    marquee_studio::init();
    let state = AppState {
        live: Arc::default(),
        keychain: marquee_profile::Keychain::default(),
        room: Arc::default(),
        preview: Arc::default(),
        clips: Arc::default(),
    };
    tauri::Builder::default()
        .manage(state)
        .setup(move |app| {
            // One local page, no browsing: WebKit's smallest caches (document viewer) save
            // memory in the web process at no cost to the studio.
            #[cfg(target_os = "linux")]
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.with_webview(|wv| {
                    use webkit2gtk::{WebContextExt, WebViewExt};
                    if let Some(ctx) = wv.inner().context() {
                        ctx.set_cache_model(webkit2gtk::CacheModel::DocumentViewer);
                    }
                });
            }
            tauri::async_runtime::spawn(room::start(app.handle().clone()));
            Ok(())
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!())
        .expect("the app failed to start (is a display available? try `xvfb-run -a`)")
        .run(|app, event| {
            // Quitting while live still ends the session cleanly: outputs drain and the
            // recording gets its index.
            if let tauri::RunEvent::Exit = event {
                let live = app.state::<AppState>().live.clone();
                if live.is_live() {
                    let _ = live.end();
                }
            }
        });
}
