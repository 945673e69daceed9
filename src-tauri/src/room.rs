//! The host's room as the room panel sees it: the room's protocol (`marquee_room::client`)
//! translated into `room` events ([`RoomEvent`]), and starting (again, when where it lives
//! changed) the room where the settings say ([`start`]). The room itself, the host's
//! connection, where it lives and the feed kept for a page that attaches late are the show's
//! (`marquee_show::room`, `marquee_show::room_home`).

use crate::events;
use crate::ipc::{self, FirewallHint, RoomEvent, RoomHomeMode, RoomInfo};
use crate::state::AppState;
use marquee_room::client::ClientEvent;
use marquee_room::protocol::{Control, DanmakuMode, Event, EventBody, UserRef};
use marquee_room::room::verify_draw;
use marquee_show::room_home::{self, HomeChoice, RoomPlan, problem};
use std::sync::Arc;
use tauri::{AppHandle, Manager};

/// The room server's port when none is fixed in the settings: `MARQUEE_ROOM_PORT` (tests: 0),
/// else 7717 (any free port when taken).
fn env_port() -> Option<u16> {
    std::env::var("MARQUEE_ROOM_PORT").ok()?.parse().ok()
}

/// (Re)starts the room where the settings say: the room running is left first (its port
/// freed), then the new one starts and `room_ready` tells the page where viewers watch. A
/// room that cannot start says why as a `disconnected` room event.
pub async fn start(app: AppHandle) {
    let state = app.state::<AppState>();
    let slot = state.room.clone();
    let _one_at_a_time = slot.starting.lock().await;
    if let Some(old) = slot.take() {
        old.stop().await;
    }
    let failed = |reason: String, problem: Option<&str>| {
        tracing::error!("room: {reason}");
        events::room(
            &app,
            &RoomEvent::Disconnected {
                reason,
                retrying: false,
                problem: problem.map(str::to_string),
                retry_in_ms: None,
            },
        );
    };
    let path = marquee_profile::config::default_path();
    let planned = tauri::async_runtime::spawn_blocking(move || {
        // An unreadable config file: the room as on a first run, its own rules kept.
        let app_prefs = marquee_profile::Config::load(&path)
            .ok()
            .map(|c| c.app.unwrap_or_default());
        let rules = app_prefs.as_ref().map(|p| p.room.clone());
        let prefs = app_prefs.unwrap_or_default();
        let choice = HomeChoice::from_prefs(&prefs.room_home).map_err(|e| (e, None))?;
        let keys = room_home::host_keychain();
        let plan = room_home::plan(&choice, env_port(), &keys).map_err(|e| {
            // A hosted room without a host key: the same fix as a refused one.
            let hosted = matches!(choice.home, room_home::RoomHome::Hosted(_));
            let key = (hosted && !room_home::host_key_stored(&keys)).then_some("host_key");
            (e, key)
        })?;
        Ok::<_, (marquee_show::ShowError, Option<&str>)>((plan, rules))
    })
    .await;
    let (plan, rules) = match planned {
        Ok(Ok(p)) => p,
        Ok(Err((e, problem))) => return failed(e.to_string(), problem),
        Err(e) => return failed(e.to_string(), None),
    };
    let home = match &plan {
        RoomPlan::Hosted { .. } => RoomHomeMode::Hosted,
        RoomPlan::Embedded { listen, .. } if listen.ip().is_loopback() => {
            RoomHomeMode::ThisComputer
        }
        RoomPlan::Embedded { .. } => RoomHomeMode::LocalNetwork,
    };
    let data_dir = app
        .path()
        .app_data_dir()
        .unwrap_or_else(|_| std::env::temp_dir().join("marquee"));
    let live = state.live.clone();
    let emitter = app.clone();
    // While live, chat, gifts, votes and lotteries go to the show (the danmaku layer, the
    // signals suggestions are scored from), whether or not the page listens.
    let on_room = move |e: &Event| live.room_event(e);
    let on_page = move |e: RoomEvent, to_page: bool| {
        if to_page {
            events::room(&emitter, &e);
        }
    };
    let room = match marquee_show::room::start(&data_dir, plan, on_room, translate, on_page).await {
        Ok(r) => r,
        Err(e) => return failed(e.to_string(), None),
    };
    let firewall = match (home, room.address.listen) {
        (RoomHomeMode::LocalNetwork, Some(at)) => tauri::async_runtime::spawn_blocking(move || {
            marquee_show::firewall::assess(&marquee_show::firewall::probe(), at.port())
        })
        .await
        .ok()
        .and_then(FirewallHint::from_show),
        _ => None,
    };
    tracing::info!(url = %room.address.viewer_url, home = home.as_str(), "room started");
    let info = RoomInfo::new(room.address.clone(), home, firewall);
    // The config file is the host's source of truth for the room's rules.
    if let Some(rules) = &rules {
        room.apply_rules(rules).await;
    }
    slot.set(Arc::new(room), info.clone());
    // A show with guests on air while the room moved: they come in through the new room.
    crate::guests::open_in_room(app.state::<crate::state::AppState>().inner()).await;
    events::room_ready(&app, &info);
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
        EventBody::LotteryStarted { lottery } => RoomEvent::Lottery {
            lottery: lottery.into(),
        },
        EventBody::LotteryDrawn { lottery, entrants } => {
            let seed = lottery.seed.clone().unwrap_or_default();
            let check = verify_draw(&lottery.commitment, &seed, &entrants, &lottery.winners);
            let mut lottery: ipc::Lottery = lottery.into();
            lottery.verified = Some(check.is_ok());
            RoomEvent::Lottery { lottery }
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
        EventBody::ModeratorAppointed { user, by } => RoomEvent::Moderator {
            user: user.id,
            name: Some(user.name),
            appointed: true,
            by,
        },
        EventBody::ModeratorRemoved { user, by } => RoomEvent::Moderator {
            user,
            name: None,
            appointed: false,
            by,
        },
        _ => return None,
    })
}

/// A room event → what the room panel shows (often nothing).
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
            Control::Error { code, message, .. } => vec![RoomEvent::Refused {
                code: code.to_string(),
                message,
            }],
            Control::Staff {
                moderators,
                invites,
            } => vec![RoomEvent::Staff {
                moderators: moderators
                    .into_iter()
                    .map(|m| ipc::StaffMember {
                        id: m.id,
                        name: m.name,
                    })
                    .collect(),
                invites,
            }],
            Control::ModInvite { code } => vec![RoomEvent::ModInvite { code }],
            Control::Modlog { entries } => vec![RoomEvent::ModLog {
                entries: entries.into_iter().map(Into::into).collect(),
            }],
            _ => vec![],
        },
        ClientEvent::Disconnected { reason, retry_in } => vec![RoomEvent::Disconnected {
            problem: Some(problem(None, &reason).as_str().into()),
            reason,
            retrying: true,
            retry_in_ms: Some(retry_in.as_millis() as u64),
        }],
        ClientEvent::Stopped { code, reason } => vec![RoomEvent::Disconnected {
            problem: Some(problem(Some(code), &reason).as_str().into()),
            reason,
            retrying: false,
            retry_in_ms: None,
        }],
    }
}
