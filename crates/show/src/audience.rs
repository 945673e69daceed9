//! What the audience does — chat, gifts, votes closing, lottery draws, deletions — in one
//! shape whatever brought it (our room, or a platform's chat), and the one mapping from it to
//! the burnt-in danmaku layer and to highlight signals.

use marquee_chat::{ChatEvent, EventBody as ChatBody, Money, Platform, User};
use marquee_highlights::Signal;
use marquee_overlay::{Comment, CommentMode, Gift, Rgba};
use marquee_room::filter::{Verdict, WordFilter};
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
    /// A co-stream guest came on air or left (counts when it happens).
    GuestChanged,
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

    /// A platform's chat event as the audience's doing, if it is one, at `at_ms` (wall ms:
    /// platforms' live events carry no time the show can trust, so they count from arrival).
    /// The text is labelled with its platform ("[B站] …", "[Twitch] …", "[YT] …") and the
    /// host's blocked words are masked in it (`*`), as the room masks its own. Chat lines,
    /// cheers, gifts, super chats, memberships and subs are shown; a moderator's deletion takes
    /// the line off the video.
    pub fn from_chat(e: &ChatEvent, blocked: &WordFilter, at_ms: u64) -> Option<Audience> {
        let p = e.platform;
        let mask = |t: &str| match blocked.check(t) {
            Verdict::Clean => t.to_string(),
            Verdict::Matched { masked } => masked,
        };
        let from = |u: &User| {
            let name = if u.name.is_empty() { "?" } else { &u.name };
            format!("[{}] {}", platform_tag(p), mask(name))
        };
        let gift = |u: &User, gift: String, count: u64, value: f64| Audience::Gift {
            at_ms,
            from: from(u),
            gift: mask(&gift),
            count: count.clamp(1, u64::from(u32::MAX)) as u32,
            value,
        };
        Some(match &e.body {
            ChatBody::Message {
                id, text, colour, ..
            } => Audience::Chat {
                id: id.as_deref().map(|id| chat_key(p, id)),
                at_ms,
                text: format!("[{}] {}", platform_tag(p), mask(text)),
                colour: colour
                    .as_deref()
                    .and_then(Rgba::parse)
                    .unwrap_or(Rgba::WHITE),
                mode: CommentMode::Scroll,
                from_host: false,
            },
            // A hundred bits are a dollar.
            ChatBody::Cheer {
                user, bits, text, ..
            } => gift(user, cheer_label(*bits, text), 1, *bits as f64 / 100.0),
            ChatBody::Gift {
                user,
                gift: name,
                count,
                value,
            } => gift(
                user,
                name.clone(),
                *count,
                value.as_ref().map_or(0.0, |m| m.amount),
            ),
            ChatBody::SuperChat {
                user,
                text,
                value,
                sticker,
                ..
            } => {
                let what = match (p, sticker) {
                    (_, Some(s)) => format!("Super Sticker {} {s}", money(value)),
                    (Platform::Bilibili, None) => format!("醒目留言 {}: {text}", money(value)),
                    _ => format!("Super Chat {}: {text}", money(value)),
                };
                gift(user, what, 1, value.amount)
            }
            ChatBody::Membership {
                user,
                level,
                months,
                value,
            } => gift(
                user,
                level.clone(),
                months.unwrap_or(1),
                value.as_ref().map_or(0.0, |m| m.amount),
            ),
            ChatBody::Subscription {
                user,
                kind,
                plan,
                gifted_to,
                count,
                ..
            } => {
                let what = match gifted_to {
                    Some(to) => format!("{kind} ({plan}) → {to}"),
                    None => format!("{kind} ({plan})"),
                };
                gift(user, what, count.unwrap_or(1), 0.0)
            }
            ChatBody::MessageDeleted { id, .. } => Audience::Deleted {
                id: chat_key(p, id),
            },
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
            Audience::GuestChanged => Some(Signal::Guest),
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

/// A platform chat event as the host's chat panel shows it: who, what (masked like the
/// overlay), and whether it is a gift-like event (bits, gifts, paid messages, memberships,
/// subscriptions) to highlight.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine {
    pub platform: Platform,
    pub user: String,
    pub text: String,
    pub gift: bool,
    /// The platform's ids, for moderating it there (Twitch: the message's `id` tag and the
    /// sender's `user-id`).
    pub message_id: Option<String>,
    pub user_id: Option<String>,
}

impl ChatLine {
    /// The line for `e`, or `None` for what the panel does not list (states, notices,
    /// popularity, moderation).
    pub fn from_chat(e: &ChatEvent, blocked: &WordFilter) -> Option<ChatLine> {
        let mask = |t: &str| match blocked.check(t) {
            Verdict::Clean => t.to_string(),
            Verdict::Matched { masked } => masked,
        };
        let (name, user_id) = match &e.body {
            ChatBody::Message { user, .. }
            | ChatBody::Cheer { user, .. }
            | ChatBody::Gift { user, .. }
            | ChatBody::SuperChat { user, .. }
            | ChatBody::Membership { user, .. }
            | ChatBody::Subscription { user, .. } => (mask(&user.name), user.id.clone()),
            _ => return None,
        };
        let message_id = match &e.body {
            ChatBody::Message { id, .. } | ChatBody::Cheer { id, .. } => id.clone(),
            _ => None,
        };
        let (text, gift) = match Audience::from_chat(e, blocked, 0)? {
            Audience::Chat { text, .. } => {
                let tag = format!("[{}] ", platform_tag(e.platform));
                (text.strip_prefix(&tag).unwrap_or(&text).to_string(), false)
            }
            Audience::Gift { gift, count, .. } if count > 1 => (format!("{gift} ×{count}"), true),
            Audience::Gift { gift, .. } => (gift, true),
            _ => return None,
        };
        Some(ChatLine {
            platform: e.platform,
            user: name,
            text,
            gift,
            message_id,
            user_id,
        })
    }
}

/// Lines a moderator took away on the platform itself, for the host's chat panel to strike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRemoval {
    /// One message, by its platform id.
    Message(String),
    /// Every line of a user banned or timed out, by their platform id.
    User(String),
    /// The whole chat was cleared.
    All,
}

impl ChatRemoval {
    pub fn from_chat(e: &ChatEvent) -> Option<ChatRemoval> {
        match &e.body {
            ChatBody::MessageDeleted { id, .. } => Some(Self::Message(id.clone())),
            ChatBody::UserBanned { user, .. } => user.id.clone().map(Self::User),
            ChatBody::ChatCleared => Some(Self::All),
            _ => None,
        }
    }
}

/// The short label a platform's lines carry on the video.
pub fn platform_tag(p: Platform) -> &'static str {
    match p {
        Platform::Bilibili => "B站",
        Platform::Twitch => "Twitch",
        Platform::Youtube => "YT",
    }
}

/// A platform message id as an overlay key: hashed with its platform (FNV-1a), with the top
/// bit set so it never meets a room message id (room ids count up from 1).
fn chat_key(p: Platform, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in p.label().bytes().chain([0]).chain(id.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h | 1 << 63
}

fn money(m: &Money) -> String {
    m.display
        .clone()
        .unwrap_or_else(|| format!("{:.2} {}", m.amount, m.currency))
}

fn cheer_label(bits: u64, text: &str) -> String {
    if text.is_empty() {
        format!("{bits} bits")
    } else {
        format!("{bits} bits: {text}")
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
    fn platform(p: Platform, body: ChatBody) -> ChatEvent {
        ChatEvent::new(p, body)
    }

    #[test]
    fn a_deletion_a_ban_and_a_cleared_chat_on_the_platform_are_removals_for_the_panel() {
        let deleted = ChatBody::MessageDeleted {
            id: "m1".into(),
            user: None,
        };
        let banned = |id: Option<&str>| ChatBody::UserBanned {
            user: User {
                id: id.map(str::to_string),
                ..viewer("spam")
            },
            duration_s: Some(600),
            by: None,
        };
        let r = |b| ChatRemoval::from_chat(&platform(Platform::Twitch, b));
        assert_eq!(r(deleted), Some(ChatRemoval::Message("m1".into())));
        assert_eq!(
            r(banned(Some("9876"))),
            Some(ChatRemoval::User("9876".into()))
        );
        assert_eq!(r(banned(None)), None, "no id: nothing to match lines by");
        assert_eq!(r(ChatBody::ChatCleared), Some(ChatRemoval::All));
        assert_eq!(r(ChatBody::ChatEnded), None);
    }

    fn viewer(name: &str) -> User {
        User {
            name: name.into(),
            ..User::default()
        }
    }

    fn words(w: &[&str]) -> WordFilter {
        WordFilter::new(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_platform_message_is_a_labelled_masked_comment_with_a_danmaku_signal() {
        let e = platform(
            Platform::Twitch,
            ChatBody::Message {
                id: Some("abc".into()),
                user: viewer("kappa_fan"),
                text: "no spoiler please".into(),
                colour: None,
                emotes: vec![],
            },
        );
        let a = Audience::from_chat(&e, &words(&["spoiler"]), 5_000).unwrap();
        assert_eq!(a.signal(), Some(Signal::Danmaku));
        match a.on_video(1_000) {
            Some(OnVideo::Show(OverlayCmd::Comment(c))) => {
                assert_eq!(c.text, "[Twitch] no ******* please");
                assert!(c.key.is_some_and(|k| k >= 1 << 63), "{:?}", c.key);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_chat_panel_gets_who_and_what_masked_and_gifts_marked() {
        let msg = platform(
            Platform::Twitch,
            ChatBody::Message {
                id: Some("abc".into()),
                user: viewer("spoiler_king"),
                text: "no spoiler please".into(),
                colour: None,
                emotes: vec![],
            },
        );
        let l = ChatLine::from_chat(&msg, &words(&["spoiler"])).unwrap();
        assert_eq!(
            (l.user.as_str(), l.text.as_str(), l.gift),
            ("*******_king", "no ******* please", false)
        );
        let cheer = platform(
            Platform::Twitch,
            ChatBody::Cheer {
                id: None,
                user: viewer("fan"),
                bits: 100,
                text: "gg".into(),
                emotes: vec![],
            },
        );
        let l = ChatLine::from_chat(&cheer, &WordFilter::default()).unwrap();
        assert!(l.gift && l.text.contains("100 bits"), "{l:?}");
        let quiet = platform(Platform::Bilibili, ChatBody::Popularity { value: 9 });
        assert_eq!(ChatLine::from_chat(&quiet, &WordFilter::default()), None);
    }

    #[test]
    fn a_bilibili_danmaku_keeps_its_colour_and_carries_the_bilibili_label() {
        let e = platform(
            Platform::Bilibili,
            ChatBody::Message {
                id: None,
                user: viewer("张***"),
                text: "前方高能".into(),
                colour: Some("#ff4f8b".into()),
                emotes: vec![],
            },
        );
        let a = Audience::from_chat(&e, &WordFilter::default(), 5_000).unwrap();
        match a.on_video(0) {
            Some(OnVideo::Show(OverlayCmd::Comment(c))) => {
                assert_eq!(c.text, "[B站] 前方高能");
                assert_eq!(c.colour, Rgba::parse("#ff4f8b").unwrap());
                assert_eq!(c.key, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_platform_deletion_takes_the_same_message_off_the_video() {
        let msg = platform(
            Platform::Youtube,
            ChatBody::Message {
                id: Some("m1".into()),
                user: viewer("v"),
                text: "hi".into(),
                colour: None,
                emotes: vec![],
            },
        );
        let del = platform(
            Platform::Youtube,
            ChatBody::MessageDeleted {
                id: "m1".into(),
                user: None,
            },
        );
        let f = WordFilter::default();
        let Some(OnVideo::Show(OverlayCmd::Comment(c))) =
            Audience::from_chat(&msg, &f, 1).unwrap().on_video(0)
        else {
            panic!()
        };
        let d = Audience::from_chat(&del, &f, 2).unwrap();
        assert_eq!(d.signal(), None);
        assert!(matches!(d.on_video(0), Some(OnVideo::Retract(k)) if Some(k) == c.key));
        // The same id on another platform is another message.
        let other = platform(
            Platform::Twitch,
            ChatBody::MessageDeleted {
                id: "m1".into(),
                user: None,
            },
        );
        assert!(matches!(
            Audience::from_chat(&other, &f, 2).unwrap().on_video(0),
            Some(OnVideo::Retract(k)) if Some(k) != c.key
        ));
    }

    #[test]
    fn cheers_gifts_super_chats_memberships_and_subs_are_gift_alerts_scored_by_value() {
        let f = words(&["spoiler"]);
        let cny = |amount: f64| Money {
            amount,
            currency: "CNY".into(),
            display: Some(format!("¥{amount}")),
        };
        let cases = [
            (
                platform(
                    Platform::Twitch,
                    ChatBody::Cheer {
                        id: None,
                        user: viewer("a"),
                        bits: 500,
                        text: "spoiler!".into(),
                        emotes: vec![],
                    },
                ),
                ("[Twitch] a", "500 bits: *******!", 1, 5.0),
            ),
            (
                platform(
                    Platform::Bilibili,
                    ChatBody::Gift {
                        user: viewer("b"),
                        gift: "辣条".into(),
                        count: 3,
                        value: Some(cny(0.3)),
                    },
                ),
                ("[B站] b", "辣条", 3, 0.3),
            ),
            (
                platform(
                    Platform::Bilibili,
                    ChatBody::SuperChat {
                        id: None,
                        user: viewer("c"),
                        text: "加油".into(),
                        value: cny(30.0),
                        duration_s: Some(60),
                        sticker: None,
                    },
                ),
                ("[B站] c", "醒目留言 ¥30: 加油", 1, 30.0),
            ),
            (
                platform(
                    Platform::Bilibili,
                    ChatBody::Membership {
                        user: viewer("d"),
                        level: "舰长".into(),
                        months: Some(1),
                        value: Some(cny(198.0)),
                    },
                ),
                ("[B站] d", "舰长", 1, 198.0),
            ),
            (
                platform(
                    Platform::Twitch,
                    ChatBody::Subscription {
                        user: viewer("e"),
                        kind: "subgift".into(),
                        plan: "Tier 1".into(),
                        months: None,
                        gifted_to: Some("f".into()),
                        count: None,
                        text: String::new(),
                    },
                ),
                ("[Twitch] e", "subgift (Tier 1) → f", 1, 0.0),
            ),
        ];
        for (e, (from, gift, count, value)) in cases {
            let a = Audience::from_chat(&e, &f, 9).unwrap();
            assert_eq!(a.signal(), Some(Signal::Gift { value }), "{e:?}");
            match a.on_video(0) {
                Some(OnVideo::Show(OverlayCmd::Gift(g))) => {
                    assert_eq!(
                        (g.from.as_str(), g.gift.as_str(), g.count),
                        (from, gift, count)
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn platform_states_notices_and_entries_are_not_the_audience() {
        let f = WordFilter::default();
        for body in [
            ChatBody::State(marquee_chat::SourceState::Live),
            ChatBody::Popularity { value: 1 },
            ChatBody::ChatCleared,
            ChatBody::Notice {
                text: "x".into(),
                code: None,
            },
        ] {
            assert_eq!(
                Audience::from_chat(&platform(Platform::Twitch, body), &f, 1),
                None
            );
        }
    }

    #[test]
    fn a_platform_message_from_before_going_live_stays_off_the_video() {
        let e = platform(
            Platform::Twitch,
            ChatBody::Message {
                id: None,
                user: viewer("v"),
                text: "early".into(),
                colour: None,
                emotes: vec![],
            },
        );
        let a = Audience::from_chat(&e, &WordFilter::default(), 500).unwrap();
        assert!(a.on_video(1_000).is_none());
    }
}
