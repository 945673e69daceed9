//! The host's room as the room panel sees it: the room's protocol (`marquee_room::client`)
//! translated into `room` events ([`RoomEvent`]). The room itself, the host's connection and
//! the feed kept for a page that attaches late are the show's (`marquee_show::room`).

use crate::ipc::{self, RoomEvent};
use marquee_room::client::ClientEvent;
use marquee_room::protocol::{Control, DanmakuMode, Event, EventBody, UserRef};
use marquee_room::room::verify_draw;

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
