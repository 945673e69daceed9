//! Follows a room as a client and feeds its audience to a show (`marquee live
//! --danmaku-from URL`): the same path the app's own host connection takes. With a host
//! token it can also set the room's playback URLs (`--playback`), what the viewer page plays.

use crate::show::Show;
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{
    ClientMsg, Control, ErrorCode, EventBody, PlaybackSource, SettingsPatch,
};
use std::sync::Weak;

/// What became of the connection, for the shell to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Following {
    Joined,
    /// The room refused for good (a bad token, a ban, a closed room).
    Refused(String),
    /// The client could not run at all.
    Failed(String),
    /// The room took the playback URLs (this many).
    PlaybackSet(usize),
    /// The room refused them (not a host token, a URL it does not take).
    PlaybackRefused(String),
}

/// The connection feeding a show; dropping it leaves the room.
pub struct Follower {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Joins the room at `url` (`http://host:port/room/NAME` or its `ws://…/ws`) with `token`, or
/// as a viewer named `marquee-overlay`, and feeds every event to the show until the follower
/// is dropped or the show ends. Reconnects (with resume) by itself. A non-empty `playback` is
/// set as the room's playback URLs once joined (the room keeps them; it needs a host token).
pub fn follow_room(
    url: String,
    token: Option<String>,
    playback: Vec<PlaybackSource>,
    show: Weak<Show>,
    on_state: impl Fn(Following) + Send + 'static,
) -> std::io::Result<Follower> {
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("show-room".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return on_state(Following::Failed(e.to_string())),
            };
            rt.block_on(async move {
                let mut cfg = ClientConfig::new(marquee_room::client::ws_url(&url));
                cfg.token = token;
                if cfg.token.is_none() {
                    cfg.nickname = Some("marquee-overlay".into());
                }
                let mut client = RoomClient::connect(cfg);
                let mut joined = false;
                // Set once, on the first join; `Some` until the room answers.
                let mut playback = (!playback.is_empty()).then_some(playback);
                let mut me = String::new();
                loop {
                    let ev = tokio::select! {
                        _ = &mut stop => return,
                        ev = client.recv() => match ev {
                            Some(ev) => ev,
                            None => return,
                        },
                    };
                    let Some(show) = show.upgrade() else { return };
                    match ev {
                        ClientEvent::Joined { user, .. } if !joined => {
                            joined = true;
                            on_state(Following::Joined);
                            me = user.id;
                            if let Some(p) = &playback {
                                let patch = SettingsPatch {
                                    playback: Some(p.clone()),
                                    ..SettingsPatch::default()
                                };
                                let _ = client.send(ClientMsg::Settings(patch)).await;
                            }
                        }
                        ClientEvent::Event(e) => {
                            if let EventBody::SettingsChanged { settings, by } = &e.body
                                && *by == me
                                && playback.take().is_some()
                            {
                                on_state(Following::PlaybackSet(settings.playback.len()));
                            }
                            show.room_event(&e)
                        }
                        ClientEvent::Control(Control::Error { code, message, .. })
                            if matches!(code, ErrorCode::Forbidden | ErrorCode::Invalid)
                                && playback.take().is_some() =>
                        {
                            on_state(Following::PlaybackRefused(format!("{code}: {message}")));
                        }
                        ClientEvent::History(events) => {
                            events.iter().for_each(|e| show.room_event(e))
                        }
                        ClientEvent::Stopped { reason, .. } => {
                            return on_state(Following::Refused(reason));
                        }
                        _ => {}
                    }
                }
            });
        })?;
    Ok(Follower {
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}
