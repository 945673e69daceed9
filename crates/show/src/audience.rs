//! What the audience does — chat, gifts, votes closing, lottery draws, deletions — in one
//! shape whatever brought it (our room today; platform chat and guests later), and the one
//! mapping from it to the burnt-in danmaku layer and to highlight signals.

use marquee_highlights::Signal;
use marquee_overlay::{Comment, CommentMode, Gift, Rgba};
use marquee_room::protocol::{DanmakuMode, Event, EventBody, Role};
use marquee_studio::OverlayCmd;

/// One thing the audience did. Times are wall-clock ms (rooms stamp events with server time).
#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    Chat {
        /// The message's id where it can be deleted later.
        id: Option<u64>,
        at_ms: u64,
        text: String,
        colour: Rgba,
        mode: CommentMode,
        from_host: bool,
    },
    /// A moderator deleted message `id`: it leaves the video.
    Deleted { id: u64 },
    Gift {
        at_ms: u64,
        from: String,
        gift: String,
        /// How many were sent at once (the alert's "×N").
        count: u32,
        /// What they are worth (coins), for highlight scores.
        value: f64,
    },
    /// A vote closed (counts when it reaches the show).
    VoteClosed,
    /// A lottery was drawn with winners.
    LotteryDrawn,
}

impl Audience {
    /// The room event as the audience's doing, if it is one. A deleted message (a tombstone in
    /// a replay) is not a message.
    pub fn from_room(e: &Event) -> Option<Audience> {
        Some(match &e.body {
            EventBody::Danmaku {
                id,
                user,
                text,
                color,
                mode,
                deleted: false,
                ..
            } => Audience::Chat {
                id: Some(*id),
                at_ms: e.at,
                text: text.clone(),
                colour: Rgba::parse(color).unwrap_or(Rgba::WHITE),
                mode: match mode {
                    DanmakuMode::Scroll => CommentMode::Scroll,
                    DanmakuMode::Top => CommentMode::Top,
                    DanmakuMode::Bottom => CommentMode::Bottom,
                },
                from_host: user.role == Role::Host,
            },
            EventBody::MessageDeleted { id, .. } => Audience::Deleted { id: *id },
            EventBody::Gift {
                user,
                gift,
                count,
                coins,
                ..
            } => Audience::Gift {
                at_ms: e.at,
                from: user.name.clone(),
                gift: gift.clone(),
                count: *count,
                value: *coins as f64,
            },
            EventBody::PollEnded { .. } => Audience::VoteClosed,
            EventBody::LotteryDrawn { lottery, .. } if !lottery.winners.is_empty() => {
                Audience::LotteryDrawn
            }
            _ => return None,
        })
    }

    /// When it happened (wall ms), for what carries a time of its own.
    pub fn at_ms(&self) -> Option<u64> {
        match self {
            Audience::Chat { at_ms, .. } | Audience::Gift { at_ms, .. } => Some(*at_ms),
            _ => None,
        }
    }

    /// What it counts for in highlight suggestions.
    pub fn signal(&self) -> Option<Signal> {
        match self {
            Audience::Chat { .. } => Some(Signal::Danmaku),
            Audience::Gift { value, .. } => Some(Signal::Gift { value: *value }),
            Audience::VoteClosed => Some(Signal::Vote),
            Audience::LotteryDrawn => Some(Signal::Lottery),
            Audience::Deleted { .. } => None,
        }
    }

    /// What it does to the burnt-in danmaku layer: a comment or a gift alert if it happened at
    /// or after `since_ms` (history from before going live stays off the video), or a
    /// retraction.
    pub fn on_video(&self, since_ms: u64) -> Option<OnVideo> {
        match self {
            Audience::Chat {
                id,
                at_ms,
                text,
                colour,
                mode,
                from_host,
            } if *at_ms >= since_ms => Some(OnVideo::Show(OverlayCmd::Comment(Comment {
                text: text.clone(),
                colour: *colour,
                mode: *mode,
                from_host: *from_host,
                key: *id,
            }))),
            Audience::Gift {
                at_ms,
                from,
                gift,
                count,
                ..
            } if *at_ms >= since_ms => Some(OnVideo::Show(OverlayCmd::Gift(Gift {
                from: from.clone(),
                gift: gift.clone(),
                count: *count,
            }))),
            Audience::Deleted { id } => Some(OnVideo::Retract(*id)),
            _ => None,
        }
    }
}

/// A change to the danmaku layer.
#[derive(Debug, Clone)]
pub enum OnVideo {
    Show(OverlayCmd),
    /// Takes message `id` off the video.
    Retract(u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use marquee_room::protocol::{LotteryInfo, PollInfo, UserRef};

    fn event(at: u64, body: EventBody) -> Event {
        Event {
            seq: 1,
            epoch: 1,
            at,
            body,
        }
    }

    fn user(role: Role) -> UserRef {
        UserRef {
            id: "v1".into(),
            name: "小明".into(),
            role,
        }
    }

    fn chat(at: u64, deleted: bool) -> Event {
        event(
            at,
            EventBody::Danmaku {
                id: 7,
                user: user(Role::Viewer),
                text: "前方高能".into(),
                color: "#ff4f8b".into(),
                mode: DanmakuMode::Top,
                masked: false,
                deleted,
            },
        )
    }

    #[test]
    fn chat_becomes_a_comment_with_its_id_colour_and_mode_and_a_danmaku_signal() {
        let a = Audience::from_room(&chat(2_000, false)).unwrap();
        assert_eq!(a.signal(), Some(Signal::Danmaku));
        assert_eq!(a.at_ms(), Some(2_000));
        match a.on_video(1_000) {
            Some(OnVideo::Show(OverlayCmd::Comment(c))) => {
                assert_eq!(
                    (c.key, c.mode, c.from_host),
                    (Some(7), CommentMode::Top, false)
                );
                assert_eq!(c.colour, Rgba::parse("#ff4f8b").unwrap());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn history_from_before_going_live_stays_off_the_video() {
        let a = Audience::from_room(&chat(500, false)).unwrap();
        assert!(a.on_video(1_000).is_none());
    }

    #[test]
    fn a_tombstone_is_no_message_and_a_deletion_takes_it_off_the_video() {
        assert_eq!(Audience::from_room(&chat(2_000, true)), None);
        let del = event(
            3_000,
            EventBody::MessageDeleted {
                id: 7,
                by: "host".into(),
            },
        );
        let a = Audience::from_room(&del).unwrap();
        assert!(matches!(a.on_video(0), Some(OnVideo::Retract(7))));
        assert_eq!(a.signal(), None);
    }

    #[test]
    fn a_gift_alert_shows_how_many_were_sent_and_scores_their_value() {
        let gift = event(
            2_000,
            EventBody::Gift {
                user: user(Role::Viewer),
                gift: "rocket".into(),
                count: 2,
                coins: 200,
                key: "k".into(),
                combo: 5,
            },
        );
        let a = Audience::from_room(&gift).unwrap();
        assert_eq!(a.signal(), Some(Signal::Gift { value: 200.0 }));
        match a.on_video(0) {
            Some(OnVideo::Show(OverlayCmd::Gift(g))) => {
                assert_eq!(
                    (g.from.as_str(), g.gift.as_str(), g.count),
                    ("小明", "rocket", 2)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_vote_closing_and_a_lottery_with_winners_are_moments_their_openings_are_not() {
        let poll = PollInfo {
            poll: 1,
            question: "?".into(),
            options: vec![],
            ends_at: 0,
            allow_change: false,
            tallies: vec![],
            open: false,
        };
        let opened = event(1, EventBody::PollStarted { poll: poll.clone() });
        assert_eq!(Audience::from_room(&opened), None);
        let closed = Audience::from_room(&event(1, EventBody::PollEnded { poll })).unwrap();
        assert_eq!(closed.signal(), Some(Signal::Vote));
        assert!(closed.on_video(0).is_none());
        let lottery = |winners: Vec<String>| {
            event(
                1,
                EventBody::LotteryDrawn {
                    lottery: LotteryInfo {
                        lottery: 1,
                        keyword: "666".into(),
                        prize: "poster".into(),
                        commitment: "11".into(),
                        seed: Some("00".into()),
                        entrants: 1,
                        open: false,
                        winner_names: winners.clone(),
                        winners,
                    },
                    entrants: vec![],
                },
            )
        };
        assert_eq!(
            Audience::from_room(&lottery(vec![])),
            None,
            "no winner, no moment"
        );
        assert_eq!(
            Audience::from_room(&lottery(vec!["小明".into()])).and_then(|a| a.signal()),
            Some(Signal::Lottery)
        );
    }
}
