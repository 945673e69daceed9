//! The embedded room server (started with the app) and the host's own connection to it, whose
//! events are forwarded to the UI as `room` events.

use crate::error::{AppError, ErrorCode};
use crate::ipc::{self, RoomEvent, RoomInfo};
use marquee_room::client::{ClientConfig, ClientEvent, RoomClient};
use marquee_room::protocol::{ClientMsg, Control, DanmakuMode, Event, EventBody, Role, UserRef};
use marquee_room::server::{self, ServerConfig, ServerHandle};
use marquee_room::token::{self, Claims};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The room the app hosts.
pub const ROOM: &str = "main";

/// A running embedded room.
pub struct EmbeddedRoom {
    pub info: RoomInfo,
    pub out: mpsc::Sender<ClientMsg>,
    /// What the room panel needs to rebuild itself; see [`RoomFeed`].
    pub feed: Arc<Mutex<RoomFeed>>,
    _server: ServerHandle,
}

/// Room events kept for a page that starts listening late. The host connection joins (and
/// gets its history) before the page has loaded, and a reloaded page has missed everything:
/// the page calls `room_attach`, which hands over the latest `Joined` and every event since
/// and, under the same lock, starts live delivery — so nothing is missed or doubled.
#[derive(Debug, Default)]
pub struct RoomFeed {
    joined: Option<RoomEvent>,
    since: VecDeque<RoomEvent>,
    attached: bool,
    /// Events dropped from `since` because it was full (oldest first).
    pub trimmed: u64,
}

/// Events kept after the latest `Joined` (≈ 1 MB; the oldest go first).
pub const FEED_KEPT: usize = 5_000;

impl RoomFeed {
    /// Records `e`; returns whether to deliver it to the page now.
    pub fn push(&mut self, e: &RoomEvent) -> bool {
        if matches!(e, RoomEvent::Joined { .. }) {
            self.joined = Some(e.clone());
            self.since.clear();
        } else {
            if self.since.len() >= FEED_KEPT {
                self.since.pop_front();
                self.trimmed += 1;
            }
            self.since.push_back(e.clone());
        }
        self.attached
    }

    /// Everything to replay (the `Joined` first), and live delivery from now on.
    pub fn attach(&mut self) -> Vec<RoomEvent> {
        self.attached = true;
        self.joined.iter().chain(&self.since).cloned().collect()
    }
}

/// Starts the server (SQLite in `data_dir`, a secret kept beside it) on `listen` (falling back
/// to any free port when taken) and connects as the host. Must run on the tokio runtime.
/// `on_room` sees every room event as the room sent it (for the show); `on_page(e, to_page)`
/// sees what the room panel shows, `to_page` saying whether the page is attached and should
/// get it now (else it is kept for `room_attach`).
pub async fn start(
    data_dir: &Path,
    listen: SocketAddr,
    on_room: impl Fn(&Event) + Send + 'static,
    on_page: impl Fn(RoomEvent, bool) + Send + 'static,
) -> Result<EmbeddedRoom, AppError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        AppError::new(
            ErrorCode::Room,
            format!("cannot create {}: {e}", data_dir.display()),
        )
    })?;
    let secret = marquee_room::secret::load_or_create_secret(&data_dir.join("room.secret"))?;
    let mut cfg = ServerConfig::new(listen, secret.clone());
    cfg.db = Some(data_dir.join("room.sqlite"));
    let handle = match server::start(cfg.clone()).await {
        Ok(h) => h,
        Err(_) if listen.port() != 0 => {
            cfg.listen = SocketAddr::new(listen.ip(), 0);
            server::start(cfg).await?
        }
        Err(e) => return Err(e.into()),
    };
    let addr = handle.addr();
    let info = RoomInfo {
        room: ROOM.into(),
        viewer_url: format!("http://{addr}/room/{ROOM}"),
        ws_url: handle.ws_url(ROOM),
    };
    let host = token::sign(
        &secret,
        &Claims {
            room: ROOM.into(),
            user: "host".into(),
            name: "Host".into(),
            role: Role::Host,
            exp_ms: marquee_room::now_ms() + 30 * 24 * 3600 * 1000,
        },
    );
    let mut client = RoomClient::connect(ClientConfig::new(info.ws_url.clone()).token(host));
    let (out, mut out_rx) = mpsc::channel::<ClientMsg>(256);
    let feed = Arc::new(Mutex::new(RoomFeed::default()));
    let keep = feed.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                ev = client.recv() => match ev {
                    Some(ev) => for e in {
                        match &ev {
                            ClientEvent::Event(e) => on_room(e),
                            ClientEvent::History(h) => h.iter().for_each(&on_room),
                            _ => {}
                        }
                        translate(ev)
                    } {
                        // Delivered under the lock so `attach` sees a clean cut.
                        let mut f = keep.lock().unwrap_or_else(|p| p.into_inner());
                        let to_page = f.push(&e);
                        on_page(e, to_page);
                    },
                    None => break,
                },
                msg = out_rx.recv() => match msg {
                    Some(m) => { let _ = client.send(m).await; }
                    None => break,
                },
            }
        }
    });
    Ok(EmbeddedRoom {
        info,
        out,
        feed,
        _server: handle,
    })
}

fn user(u: &UserRef) -> ipc::RoomUser {
    ipc::RoomUser {
        id: u.id.clone(),
        name: u.name.clone(),
        role: u.role.as_str().to_string(),
    }
}

fn question(q: marquee_room::protocol::QuestionInfo) -> ipc::Question {
    ipc::Question {
        question: q.question,
        user: user(&q.user),
        text: q.text,
    }
}

fn event(e: Event) -> Option<RoomEvent> {
    Some(match e.body {
        EventBody::Danmaku {
            id,
            user: u,
            text,
            color,
            mode,
            masked,
            deleted,
        } => RoomEvent::Chat {
            id,
            at: e.at,
            user: user(&u),
            text,
            color,
            mode: match mode {
                DanmakuMode::Scroll => "scroll",
                DanmakuMode::Top => "top",
                DanmakuMode::Bottom => "bottom",
            }
            .into(),
            masked,
            deleted,
        },
        EventBody::Question { question: q } => RoomEvent::Question {
            question: question(q),
        },
        EventBody::QuestionPinned { question: q } => RoomEvent::QuestionPinned {
            question: q.map(question),
        },
        EventBody::LotteryStarted { lottery } | EventBody::LotteryDrawn { lottery, .. } => {
            RoomEvent::Lottery {
                lottery: lottery.into(),
            }
        }
        EventBody::UserTimedOut { user, until, by } => RoomEvent::Moderated {
            action: ipc::ModAction::Timeout,
            user,
            until: Some(until),
            by,
        },
        EventBody::UserBanned { user, by } => RoomEvent::Moderated {
            action: ipc::ModAction::Ban,
            user,
            until: None,
            by,
        },
        EventBody::UserUnbanned { user, by } => RoomEvent::Moderated {
            action: ipc::ModAction::Unban,
            user,
            until: None,
            by,
        },
        EventBody::SettingsChanged { settings, .. } => RoomEvent::Settings {
            settings: settings.into(),
        },
        EventBody::BlockedWordsChanged { count, .. } => RoomEvent::BlockedWords { count },
        EventBody::MessageDeleted { id, .. } => RoomEvent::ChatDeleted { id },
        EventBody::Gift {
            user: u,
            gift,
            count,
            coins,
            combo,
            ..
        } => RoomEvent::Gift {
            seq: e.seq,
            at: e.at,
            user: user(&u),
            gift,
            count,
            coins,
            combo,
        },
        EventBody::PollStarted { poll } | EventBody::PollEnded { poll } => {
            RoomEvent::Poll { poll: poll.into() }
        }
        _ => return None,
    })
}

/// Engine room events → what the room panel shows.
pub fn translate(ev: ClientEvent) -> Vec<RoomEvent> {
    match ev {
        ClientEvent::Joined { view, .. } => vec![RoomEvent::Joined {
            viewers: view.viewers,
            poll: view.poll.map(|p| Box::new(p.into())),
            settings: view.settings.into(),
            pinned: view.pinned.map(question),
            lottery: view.lottery.map(Into::into),
            catalog: view.catalog.into_iter().map(Into::into).collect(),
        }],
        ClientEvent::Event(e) => event(e).into_iter().collect(),
        ClientEvent::History(events) => events.into_iter().filter_map(event).collect(),
        ClientEvent::NotRecoverable { .. } => vec![],
        ClientEvent::Control(c) => match c {
            Control::Presence { viewers, .. } => vec![RoomEvent::Viewers { count: viewers }],
            Control::PollTally { poll, tallies, .. } => {
                vec![RoomEvent::PollTally { poll, tallies }]
            }
            Control::LotteryCount { lottery, entrants } => {
                vec![RoomEvent::LotteryCount { lottery, entrants }]
            }
            Control::Error { code, message } => vec![RoomEvent::Refused {
                code: code.to_string(),
                message,
            }],
            _ => vec![],
        },
        ClientEvent::Disconnected { reason, .. } => vec![RoomEvent::Disconnected {
            reason,
            retrying: true,
        }],
        ClientEvent::Stopped { reason, .. } => vec![RoomEvent::Disconnected {
            reason,
            retrying: false,
        }],
    }
}

/// Applies the remembered room rules and blocked words (the room keeps them too; this makes
/// the config file the host's source of truth).
pub async fn apply_prefs(room: &EmbeddedRoom) {
    let Ok(s) = crate::settings::load(&marquee_profile::config::default_path()) else {
        return;
    };
    let r = s.room;
    let _ = room
        .out
        .send(ClientMsg::Settings(marquee_room::protocol::SettingsPatch {
            slow_mode_s: Some(r.slow_mode_s),
            mods_only: Some(r.mods_only),
            blocked_mode: Some(r.blocked_mode.into()),
            user_rate_per_min: Some(r.user_rate_per_min),
        }))
        .await;
    if !r.blocked_words.is_empty() {
        let _ = room
            .out
            .send(ClientMsg::BlockWords {
                add: r.blocked_words,
                remove: vec![],
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewers(n: u64) -> RoomEvent {
        RoomEvent::Viewers { count: n }
    }

    fn joined() -> RoomEvent {
        RoomEvent::Joined {
            viewers: 1,
            poll: None,
            settings: ipc::RoomSettings {
                slow_mode_s: 0,
                mods_only: false,
                blocked_mode: ipc::BlockedMode::Mask,
                user_rate_per_min: 0,
            },
            pinned: None,
            lottery: None,
            catalog: vec![],
        }
    }

    fn counts(v: &[RoomEvent]) -> Vec<u64> {
        v.iter()
            .filter_map(|e| match e {
                RoomEvent::Viewers { count } => Some(*count),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_late_page_gets_the_join_and_everything_since_then_live_events_without_doubles() {
        let mut f = RoomFeed::default();
        assert!(!f.push(&viewers(1)), "before any join: kept, not delivered");
        assert!(!f.push(&joined()));
        assert!(!f.push(&viewers(2)));
        assert!(!f.push(&viewers(3)));
        let replay = f.attach();
        assert!(matches!(replay[0], RoomEvent::Joined { .. }));
        assert_eq!(
            counts(&replay),
            [2, 3],
            "history since the latest join only"
        );
        assert!(f.push(&viewers(4)), "live from now on");
        // A reloaded page attaches again and gets the whole picture once more.
        assert_eq!(counts(&f.attach()), [2, 3, 4]);
    }

    #[test]
    fn the_feed_is_bounded_and_counts_what_it_trimmed() {
        let mut f = RoomFeed::default();
        f.push(&joined());
        for i in 0..(FEED_KEPT as u64 + 10) {
            f.push(&viewers(i));
        }
        let replay = f.attach();
        assert_eq!(replay.len(), FEED_KEPT + 1);
        assert_eq!(counts(&replay)[0], 10);
        assert_eq!(f.trimmed, 10);
    }
}
