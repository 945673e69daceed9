//! The Marquee desktop app: wiring only. Commands and events over the engine crates
//! (`marquee-studio`, `marquee-capture`, `marquee-profile`, `marquee-room`).
//!
//! - [`commands`]: the IPC commands and [`events`]: the events, each declared once (the
//!   TypeScript the page uses is generated from them); [`ipc`]: the types that cross IPC, by
//!   feature; [`bindings`]: renders `ui/src/bindings/` and checks it is fresh;
//!   [`error::AppError`]: the one error type.
//! - [`live`]: the running show and its `stats` / `session_event` events.
//! - [`room`]: the room's protocol as `room` events; the room itself (started with the app)
//!   is `marquee_show::room`.
//! - The preview (`marquee_show::preview`) and the clip desk (`marquee_highlights::desk`)
//!   are the engine's; their commands map them to IPC types.

pub mod bindings;
mod commands;
pub mod error;
mod events;
pub mod ipc;
#[cfg(target_os = "linux")]
pub mod linux_env;
pub mod live;
pub mod room;
pub mod settings;
mod state;

pub use state::AppState;

use marquee_show::HostRoom;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use tauri::Manager;

/// The room server's port: `MARQUEE_ROOM_PORT`, default 7717 (any free port when taken).
fn room_listen() -> SocketAddr {
    let port = std::env::var("MARQUEE_ROOM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(7717);
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MARQUEE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    marquee_studio::init();
    let room_slot: Arc<OnceLock<HostRoom<ipc::RoomEvent>>> = Arc::default();
    let state = AppState {
        live: Arc::default(),
        keychain: marquee_profile::Keychain::default(),
        room: room_slot.clone(),
        preview: Arc::default(),
        clips: Arc::default(),
    };
    let live = state.live.clone();
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
            let data_dir = app
                .path()
                .app_data_dir()
                .unwrap_or_else(|_| std::env::temp_dir().join("marquee"));
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let emitter = handle.clone();
                // While live, chat, gifts, votes and lotteries go to the show (the danmaku
                // layer, the signals suggestions are scored from), whether or not the page
                // listens.
                let on_room = move |e: &marquee_room::protocol::Event| live.room_event(e);
                let on_page = move |e: ipc::RoomEvent, to_page: bool| {
                    if to_page {
                        events::room(&emitter, &e);
                    }
                };
                let started = marquee_show::room::start(
                    &data_dir,
                    room_listen(),
                    on_room,
                    room::translate,
                    on_page,
                )
                .await;
                match started {
                    Ok(r) => {
                        tracing::info!(url = %r.address.viewer_url, "room server started");
                        let info = ipc::RoomInfo::from(r.address.clone());
                        // The config file is the host's source of truth for the room's rules.
                        let path = marquee_profile::config::default_path();
                        if let Some(rules) = settings::room_rules(&path) {
                            r.apply_rules(&rules).await;
                        }
                        let _ = room_slot.set(r);
                        events::room_ready(&handle, &info);
                    }
                    Err(e) => {
                        tracing::error!("room server: {e}");
                        events::room(
                            &handle,
                            &ipc::RoomEvent::Disconnected {
                                reason: e.to_string(),
                                retrying: false,
                            },
                        );
                    }
                }
            });
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
