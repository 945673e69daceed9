//! The events the app emits, declared once: each is a function here (`events::stats(&app,
//! &stats)`) and an entry of the page's `EventMap` (`ui/src/bindings/events.ts`, rendered by
//! `bindings.rs`). The names are the wire's: keep them.

use crate::ipc::{
    AudioLevel, ChatSourceState, PlatformChatBatch, PlatformLogin, RoomEvent, RoomInfo,
    SessionEvent, Stats,
};

crate::ipc::declare::ipc_events! {
    /// Once a second while live.
    stats: Stats;
    /// What happened to the session, its outputs and sources, as it happens.
    session_event: SessionEvent;
    /// The room panel's events, once the page has attached (`room_attach`).
    room: RoomEvent;
    /// The embedded room server is up (it starts with the app).
    room_ready: RoomInfo;
    /// Levels of the input measured with `preview_audio` (before going live).
    audio_level: AudioLevel;
    /// While live: a message or gift from a platform chat the show reads.
    platform_chat: PlatformChatBatch;
    /// While live: a platform chat source connecting, live, reconnecting or failed.
    chat_source: ChatSourceState;
    /// Logging in to a platform (`platform_login`): the code to enter, then done or failed.
    platform_login: PlatformLogin;
}
