//! The IPC commands, declared once: this list makes the `#[tauri::command]` wrappers, the
//! invoke handler and the TypeScript the page calls them through (`ui/src/bindings/
//! commands.ts`, rendered by `bindings.rs`). A command's handler is the function of the same
//! name in the module of its feature, `(app: AppHandle, args…) -> Result<RET, AppError>`, a
//! few lines over the engine. Names and argument names are the wire's: keep them.

mod app;
mod chat;
mod clips;
mod guests;
mod live;
mod preview;
mod room;
mod settings;

use crate::ipc::*;
use crate::state::AppState;
use marquee_appcore::error::{AppError, ErrorCode};
use tauri::{AppHandle, Manager};

crate::ipc::declare::ipc_commands! {
    app {
        /// The app's version, the OS language and the room; while live, the time on air and
        /// the scene on air (a page that reloads picks the live studio up again).
        fn app_info() -> AppInfo;
        /// Cameras and microphones (plus `MARQUEE_EXTRA_SOURCES`). Empty lists are normal.
        fn list_devices() -> Devices;
    }
    live {
        /// Goes live: opens the sources, the outputs and the recording (`stats` and
        /// `session_event` events follow).
        fn go_live(settings: GoLiveSettings);
        fn end_live() -> LiveSummary;
        /// The latest numbers while live (the `stats` event brings them once a second).
        fn stats() -> Stats;
        /// While live: put a scene (a source id) on air with `cut`, `fade[:MS]` or `slide[:MS]`.
        fn switch_scene(scene: String, transition: String);
        /// Director mode on/off while live (it picks the camera whose microphone is loudest).
        fn set_director(on: bool);
        /// Shows or hides a burnt-in overlay while live.
        fn set_overlay(id: String, on: bool);
        /// While live: the last `seconds` as an MP4 clip.
        fn save_highlight(seconds: f64) -> HighlightSaved;
        /// While live: a mark now; its session time in seconds.
        fn mark_highlight(label: String) -> f64;
    }
    guests {
        /// While live: the co-stream panel — slots, layout, each slot's invite link, the
        /// guests waiting in the green room or on air (poll it about once a second).
        fn guests() -> GuestsView;
        /// A new invite link for a slot; the old one stops working (a guest on it is dropped).
        fn guest_new_link(slot: u32) -> GuestLink;
        /// Lets a guest waiting in the green room on air.
        fn guest_admit(session: u64);
        /// Turns a waiting guest away.
        fn guest_decline(session: u64);
        /// Takes a guest off the show (their link still works for a new join).
        fn guest_remove(session: u64);
        /// Their voice off (or back on) in the program.
        fn guest_mute(session: u64, muted: bool);
        /// Their picture out of (or back into) the layout; their voice stays.
        fn guest_hide(session: u64, hidden: bool);
        /// Their voice's level in the program, dB (−60…12).
        fn guest_volume(session: u64, db: f32);
        /// How the guests on air are laid out; the program cuts to it at once.
        fn guest_layout(layout: GuestLayout);
        /// What the guests see from now on: the program or the host's camera.
        fn guest_view(view: GuestView);
        /// A guest's latest picture, JPEG bytes 240 pixels wide (empty before their first):
        /// the green room's thumbnail.
        fn guest_thumbnail(session: u64) -> Bytes;
    }
    preview {
        /// The preview stream's address: an MJPEG `<img>` source on localhost (see
        /// src-tauri/README.md, "The preview").
        fn preview_url() -> String;
        /// The preview's rate and times as the engine measures them.
        fn preview_info() -> PreviewInfo;
        /// Shows a source in the preview without going live (null: none). Refused while live:
        /// the preview then shows what goes out.
        fn preview_source(video: Option<String>);
        /// Measures an audio input (`audio_level` events, 10 a second) without going live
        /// (null: stop).
        fn preview_audio(audio: Option<String>);
    }
    room {
        /// The room so far (the latest `joined` and every event since, chat history included),
        /// then live `room` events; null while the room is still starting (call again on
        /// `room_ready`).
        fn room_attach() -> Option<Vec<RoomEvent>>;
        fn room_chat(text: String);
        fn room_delete(id: u64);
        fn room_poll_start(poll: PollStart);
        fn room_poll_end(poll: u64);
        fn room_moderate(action: Moderation);
        fn room_settings(patch: RoomSettingsPatch);
        fn room_block_words(add: Vec<String>, remove: Vec<String>);
        /// Shows a question on screen; null takes it down.
        fn room_pin_question(question: Option<u64>);
        fn room_lottery_start(keyword: String, prize: String);
        fn room_lottery_draw(lottery: u64, winners: u32);
        /// Non-loopback IPv4/IPv6 addresses with their interface names, the default route's
        /// first (for "Local network").
        fn room_interfaces() -> Vec<NetInterface>;
        /// Keeps a hosted room's host key in the OS keychain; it never comes back over IPC.
        fn set_room_host_key(key: String);
        /// Whether a host key is stored.
        fn room_host_key_stored() -> bool;
        /// Makes a user (by id, e.g. a chat message's author) a moderator of the room; the
        /// room answers with `moderator` and `staff` events. Kept across restarts.
        fn room_appoint(user: String);
        /// An appointed moderator is a viewer again.
        fn room_unappoint(user: String);
        /// Mints a single-use moderator invite (a `mod_invite` event brings its code; the link
        /// is the viewer link with `#mod=<code>`).
        fn room_mod_invite();
        /// Withdraws an invite not used yet.
        fn room_mod_invite_revoke(code: String);
        /// Asks for the appointed moderators and open invites (a `staff` event).
        fn room_staff();
        /// Asks for the latest `limit` moderation log entries (a `mod_log` event): who did
        /// what to whom, when; kept in the room's database.
        fn room_moderation_log(limit: u32);
        /// The playback URLs the viewer page plays, as remembered.
        fn room_playback() -> Vec<PlaybackUrl>;
        /// Checks, remembers and gives the room the playback URLs (`[]` clears them); they
        /// come back as saved (trimmed). A bad one is refused with the reason.
        fn room_set_playback(urls: Vec<PlaybackUrl>) -> Vec<PlaybackUrl>;
    }
    chat {
        /// Logs in to Twitch or YouTube with a device code to moderate its chat:
        /// `platform_login` events bring the code and where to enter it, then done or failed.
        /// `client_secret`: YouTube's OAuth client secret (empty for Twitch). The login goes
        /// to the OS keychain; it never comes back over IPC.
        fn platform_login(platform: LoginPlatform, client_id: String, client_secret: String);
        fn platform_logout(platform: LoginPlatform);
        /// Whether a login to that platform is kept.
        fn platform_logged_in(platform: LoginPlatform) -> bool;
        /// Deletes a platform message, or times out or bans its sender, on the platform.
        /// Refused (code `platform`, with the reason) where the platform has no API Marquee
        /// can call or no login is kept: the page then hides the message here and says so.
        fn platform_moderate(action: PlatformModeration);
    }
    settings {
        fn load_settings() -> AppSettings;
        fn save_settings(settings: AppSettings) -> AppSettings;
        /// Stores a stream key in the OS keychain. Keys never come back over IPC.
        fn set_stream_key(name: String, key: String);
        /// Names of the stored stream keys (never the keys).
        fn stream_key_names() -> Vec<String>;
        /// Keeps in the OS keychain (or with null forgets) the SRT passphrase the network
        /// camera on `port` asks its phone for; it never comes back over IPC.
        fn set_network_camera_passphrase(port: u16, passphrase: Option<String>);
        /// DNS + TCP + RTMP handshake to a destination, without publishing.
        fn test_connection(destination: DestinationSetting) -> Preflight;
    }
    clips {
        /// Clips in the library, newest first.
        fn clip_list() -> Vec<ClipInfo>;
        /// A clip's thumbnail, JPEG bytes (the page shows them through a Blob URL).
        fn clip_thumbnail(name: String) -> Bytes;
        /// Opens the clip in the system's video player.
        fn clip_open(name: String);
        fn clip_rename(name: String, new_name: String) -> ClipInfo;
        fn clip_delete(name: String);
        /// 9:16 export of each clip, one after the other; progress as frames are encoded. A
        /// failing clip does not stop the batch: the report says which failed and why.
        fn clip_export(names: Vec<String>, progress: Callback<ExportProgress>) -> ExportReport;
        /// Recordings in the recordings folder, newest first.
        fn recordings_list() -> Vec<RecordingInfo>;
        /// Highlight suggestions of a recording (by file name; decoding its audio takes
        /// seconds for an hour); discarded ones left out.
        fn suggestions(recording: String) -> SuggestionList;
        /// Cuts a suggested range from the recording into the library.
        fn suggestion_keep(recording: String, from_s: u64, to_s: u64) -> ClipInfo;
        /// Hides a suggestion for good (remembered beside the recording).
        fn suggestion_discard(recording: String, from_s: u64, to_s: u64);
    }
}

/// The shared state, as every handler reaches it.
fn state(app: &AppHandle) -> &AppState {
    app.state::<AppState>().inner()
}

/// Runs `f` off the async runtime (device, file and network work blocks).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("task failed: {e}")))?
}
