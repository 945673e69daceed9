//! Follows a room as a client and feeds its audience to a show (`marquee live
//! --danmaku-from URL`): the same path the app's own host connection takes. With a host
//! token it can also set the room's playback URLs (`--playback`), what the viewer page plays,
//! and, when the show has guest slots, take its co-stream guests through the room: it opens
//! the host's guest door there and answers the guests' requests the room relays to it.

use crate::show::Show;
use marquee_guestdoor::{DoorReply, GuestDoor};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{
    ClientMsg, Control, ErrorCode, EventBody, PlaybackSource, Role, SettingsPatch,
};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// What became of the connection, for the shell to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Following {
    Joined,
    /// Joined as the host of a show with guest slots: its guests signal through the room
    /// (the guest door is open there), at links under this base (the room's viewer URL).
    GuestsThroughRoom(String),
    /// The room refused for good (a bad token, a ban, a closed room).
    Refused(String),
    /// The client could not run at all.
    Failed(String),
    /// The room took the playback URLs (this many).
    PlaybackSet(usize),
    /// The room refused them (not a host token, a URL it does not take).
    PlaybackRefused(String),
}

/// How long a stopping show waits for its last answers to reach the room.
const FLUSH_WITHIN: Duration = Duration::from_secs(1);

/// The connection feeding a show; dropping it leaves the room (its last answers sent).
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
                // The show's co-stream host, once joined as the room's host.
                let mut door: Option<Arc<dyn GuestDoor>> = None;
                let (answers, mut answered) = tokio::sync::mpsc::channel::<ClientMsg>(64);
                // Set once, on the first join; `Some` until the room answers.
                let mut playback = (!playback.is_empty()).then_some(playback);
                let mut me = String::new();
                loop {
                    let ev = tokio::select! {
                        _ = &mut stop => {
                            // Answers still being made or queued (a guest reading that the
                            // show ended, which the show waited for) go out before the
                            // connection closes: cut, the guest never heard it.
                            drop(answers);
                            let _ = tokio::time::timeout(FLUSH_WITHIN, async {
                                while let Some(answer) = answered.recv().await {
                                    let _ = client.send(answer).await;
                                }
                            })
                            .await;
                            client.close(FLUSH_WITHIN).await;
                            return;
                        }
                        ev = client.recv() => match ev {
                            Some(ev) => ev,
                            None => return,
                        },
                        Some(answer) = answered.recv() => {
                            let _ = client.send(answer).await;
                            continue;
                        }
                    };
                    let Some(show) = show.upgrade() else { return };
                    match ev {
                        ClientEvent::Control(Control::GuestRequest { id, request }) => {
                            let (door, answers) = (door.clone(), answers.clone());
                            tokio::spawn(async move {
                                let reply = match door {
                                    Some(d) => marquee_guestdoor::blocking(d, request).await,
                                    None => DoorReply::host_not_live(),
                                };
                                let _ = answers.send(ClientMsg::GuestAnswer { id, reply }).await;
                            });
                        }
                        ClientEvent::Joined { user, .. } if !joined => {
                            joined = true;
                            if let Some(host) = show.cohost().filter(|_| user.role == Role::Host) {
                                let base = guest_base(&url);
                                host.set_base(&base);
                                door = Some(host.clone() as Arc<dyn GuestDoor>);
                                let _ = client.send(ClientMsg::GuestDoor { open: true }).await;
                                on_state(Following::GuestsThroughRoom(base));
                            }
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
                        // Joined again after a reconnect: the room forgot the door.
                        ClientEvent::Joined { .. } if door.is_some() => {
                            let _ = client.send(ClientMsg::GuestDoor { open: true }).await;
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

/// The base of guest links through the room at `url` (its page or WebSocket URL): the room's
/// viewer URL, `{scheme}://host[:port]/room/NAME`.
pub fn guest_base(url: &str) -> String {
    let ws = marquee_room::client::ws_url(url);
    let page = ws.strip_suffix("/ws").unwrap_or(&ws);
    if let Some(rest) = page.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = page.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        page.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_guest_base_is_the_rooms_viewer_url_whatever_url_was_given() {
        for url in [
            "https://live.example.com/room/main",
            "https://live.example.com/room/main/",
            "wss://live.example.com/room/main/ws",
        ] {
            assert_eq!(super::guest_base(url), "https://live.example.com/room/main");
        }
        assert_eq!(
            super::guest_base("ws://10.0.0.5:8787/room/r/ws"),
            "http://10.0.0.5:8787/room/r"
        );
    }
}
