//! The sans-IO room: a pure state machine.
//!
//! [`Room::handle`] takes one [`Input`] and the current time (ms since the Unix epoch) and returns
//! the [`Action`]s the IO layer must carry out, in order, with one rule:
//!
//! **all [`Action::Persist`] writes returned by one call are made durable (one transaction)
//! before any `Send`, `Broadcast`, `Subscribe` or `Close` of that call is carried out.**
//!
//! Gifts take a round trip: [`Action::RecordGift`] asks the IO layer to insert the gift in the
//! ledger (unique on its idempotency key); the IO layer reports the outcome with
//! [`Input::GiftRecorded`] (or [`Input::GiftFailed`]), and only then does the room acknowledge
//! and broadcast. Resolve a `RecordGift` before feeding the next input: events are numbered when
//! they are created, and must go out in that order. Nothing here sleeps, reads a clock or
//! touches a socket. An IO layer may run several inputs in one transaction (the server does:
//! group commit, ledger inserts included), as long as every write — and every ledger insert —
//! is durable before any send that followed it: an acknowledgement waits for its group's
//! commit, and a flood of gifts costs one fsync per group, not one per gift.
//!
//! Time: the room says when it next needs to hear that time has passed ([`Room::poll_timeout`]:
//! a poll's deadline, a hello that never came, the once-a-second presence and tallies, state to
//! forget); the IO layer feeds [`Input::Tick`] then, and sleeps otherwise — as str0m does with
//! `handle_input` / `poll_output` / `poll_timeout`.
//!
//! The room is split by feature, each with its own state and its own message structs:
//! `connections` (open, hello, resume, the hello timeout, nickname identities), `speech`
//! (danmaku and the gate every viewer message passes), `moderation` (the rules of speech and
//! what moderators do), `settings` (room settings, closing the room), `gifts`, `polls`,
//! `questions`, `lottery` and `staff` (moderators the host appoints); `base` is what they all stand on. This file holds them
//! together: it routes each message to its feature and asks each feature for its deadlines.

mod base;
mod config;
mod connections;
mod gifts;
mod io;
mod lottery;
mod moderation;
mod polls;
mod questions;
mod settings;
mod speech;
mod staff;
mod state;
mod wallets;

pub use base::RoomStats;
pub use config::RoomConfig;
pub use connections::network;
pub use io::{Action, ConnId, GiftOutcome, GiftRecord, Input, Write};
pub use lottery::{DrawMismatch, commitment, draw_winners, verify_draw};
pub use state::{DurableState, LotteryRec, PollRec, Snapshot, WalletRec};

use crate::protocol::{ClientMsg, Control, ErrorCode, Event, Role, RoomView, decode_client};
use base::{Base, Cx, Sender, earliest};
use connections::{Admission, Hello};
use gifts::{Gift, Gifts, Grant};
use lottery::{Lotteries, LotteryDraw, LotteryStart};
use moderation::{Ban, BlockWords, Delete, ModlogRequest, Rules, Timeout, Unban};
use polls::{PollEnd, PollStart, Polls, Vote};
use questions::{Ask, Pin, Questions};
use settings::CloseRoom;
use speech::Danmaku;
use staff::Staff;

/// Presence, tallies, the leaderboard and the lottery count go out at most this often, and
/// forgotten state is swept at most this often.
const STATE_TICK_MS: u64 = 1_000;

/// The room state machine.
#[derive(Debug)]
pub struct Room {
    base: Base,
    admission: Admission,
    rules: Rules,
    gifts: Gifts,
    polls: Polls,
    questions: Questions,
    lotteries: Lotteries,
    staff: Staff,
    /// When the once-a-second work last ran.
    last_state_tick: u64,
}

/// Messages only moderators (and the host) may send.
fn needs_moderator(msg: &ClientMsg) -> bool {
    matches!(
        msg,
        ClientMsg::Delete { .. }
            | ClientMsg::Timeout { .. }
            | ClientMsg::Ban { .. }
            | ClientMsg::Unban { .. }
            | ClientMsg::BlockWords { .. }
            | ClientMsg::Settings(_)
            | ClientMsg::PollStart { .. }
            | ClientMsg::PollEnd { .. }
            | ClientMsg::PinQuestion { .. }
            | ClientMsg::LotteryStart { .. }
            | ClientMsg::LotteryDraw { .. }
            | ClientMsg::Modlog { .. }
            | ClientMsg::StreamStart
    )
}

/// Messages only the host may send.
fn needs_host(msg: &ClientMsg) -> bool {
    matches!(
        msg,
        ClientMsg::Grant { .. }
            | ClientMsg::GiftRules(_)
            | ClientMsg::Appoint { .. }
            | ClientMsg::Unappoint { .. }
            | ClientMsg::ModInvite
            | ClientMsg::ModInviteRevoke { .. }
            | ClientMsg::Staff
            | ClientMsg::GuestDoor { .. }
            | ClientMsg::GuestAnswer { .. }
    )
}

impl Room {
    /// Open a room from what storage had (an empty [`Snapshot`] for a new room). The returned
    /// actions persist the initial state of a new room.
    pub fn restore(cfg: RoomConfig, mut snap: Snapshot, now: u64) -> (Room, Vec<Action>) {
        let mut rng = fastrand::Rng::with_seed(cfg.rng_seed ^ now);
        let fresh = snap.state.is_none();
        let st = snap.state.take().unwrap_or_else(|| DurableState {
            // Random per room incarnation, never 0, and below 2^53 so that JavaScript's numbers
            // (the viewer page) hold it exactly.
            epoch: rng.u64(1..(1u64 << 53)),
            next_id: 1,
            ..DurableState::default()
        });
        let base = Base::restore(cfg, rng, &st, &mut snap);
        let room = Room {
            base,
            admission: Admission::default(),
            rules: Rules::restore(st.settings, &st.blocked_words, st.bans, st.timeouts),
            gifts: Gifts::restore(
                st.stream,
                std::mem::take(&mut snap.leaderboard),
                st.gift_rules,
                std::mem::take(&mut snap.wallets),
            ),
            polls: Polls::restore(st.polls, snap.votes),
            questions: Questions::restore(st.questions, st.pinned),
            lotteries: Lotteries::restore(st.lotteries, snap.entrants),
            staff: Staff::restore(st.moderators, st.mod_invites),
            last_state_tick: now,
        };
        let mut out = Vec::new();
        if fresh {
            out.push(room.persist_state());
        }
        (room, out)
    }

    pub fn epoch(&self) -> u64 {
        self.base.epoch
    }
    pub fn last_seq(&self) -> u64 {
        self.base.last_seq
    }
    pub fn room_id(&self) -> &str {
        &self.base.cfg.room
    }
    pub fn config(&self) -> &RoomConfig {
        &self.base.cfg
    }
    /// Distinct users connected.
    pub fn viewers(&self) -> u64 {
        self.base.viewers()
    }
    pub fn stats(&self) -> &RoomStats {
        &self.base.stats
    }
    /// Events kept for resume, ascending.
    pub fn recent_events(&self) -> impl Iterator<Item = &Event> {
        self.base.ring.iter()
    }

    /// The durable part of the state.
    pub fn durable_state(&self) -> DurableState {
        DurableState {
            epoch: self.base.epoch,
            settings: self.rules.settings.clone(),
            blocked_words: self.rules.filter.patterns().to_vec(),
            bans: self.rules.bans.clone(),
            timeouts: self.rules.timeouts.clone(),
            polls: self.polls.records(),
            lotteries: self.lotteries.records(),
            questions: self.questions.records(),
            pinned: self.questions.pinned_id(),
            next_id: self.base.next_id,
            closed: self.base.closed,
            stream: self.gifts.stream(),
            gift_rules: self.gifts.rules(),
            moderators: self.staff.moderators().clone(),
            mod_invites: self.staff.invites().clone(),
        }
    }

    fn persist_state(&self) -> Action {
        Action::Persist(Write::State(Box::new(self.durable_state())))
    }

    /// What a joining client sees besides the events.
    fn view(&self) -> RoomView {
        RoomView {
            settings: self.rules.settings.clone(),
            viewers: self.base.viewers(),
            poll: self.polls.open(),
            lottery: self.lotteries.latest(),
            pinned: self.questions.pinned(),
            leaderboard: self.gifts.top(),
            catalog: self.base.cfg.catalog.clone(),
            gift_rules: self.gifts.rules(),
        }
    }

    /// Feed one input; get the actions to carry out.
    pub fn handle(&mut self, input: Input<'_>, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Open { conn, ip } => {
                let cx = &mut Cx::new(&mut self.base, now, &mut out);
                self.admission.open(cx, conn, ip);
            }
            Input::Closed { conn } => self.base.drop_conn(conn),
            Input::Text { conn, text } => self.on_text(conn, text, now, &mut out),
            Input::Binary { conn, .. } => Cx::new(&mut self.base, now, &mut out).refuse(
                conn,
                ErrorCode::Invalid,
                "binary frames are not part of the protocol",
            ),
            Input::Tick => self.on_tick(now, &mut out),
            Input::GiftRecorded {
                conn,
                gift,
                outcome,
            } => {
                let cx = &mut Cx::new(&mut self.base, now, &mut out);
                self.gifts.recorded(cx, conn, gift, outcome);
            }
            Input::GiftFailed { conn, key, error } => {
                let cx = &mut Cx::new(&mut self.base, now, &mut out);
                self.gifts.failed(cx, conn, key, error);
            }
        }
        if self.base.take_state_changed() {
            out.push(self.persist_state());
        }
        out
    }

    /// When the room next needs an [`Input::Tick`] (ms since the Unix epoch; it may be in the
    /// past), or `None` while nothing waits on time. Feeding a tick earlier is harmless.
    pub fn poll_timeout(&self) -> Option<u64> {
        // Work that goes out once a second while there is some.
        let broadcasts = self.polls.any_open()
            || self.base.presence_changed()
            || self.gifts.leaderboard_changed()
            || self.lotteries.count_changed();
        // State to forget (memory only: nothing a client sees depends on when).
        let forget = [
            self.base.users_due(),
            self.admission.networks_due(),
            self.rules.timeouts_due(),
            self.gifts.combos_due(),
        ]
        .into_iter()
        .fold(None, earliest);
        let next_state_tick = self.last_state_tick + STATE_TICK_MS;
        let state_tick = if broadcasts {
            Some(next_state_tick)
        } else {
            forget.map(|t| t.max(next_state_tick))
        };
        [
            self.admission.hello_due(),
            self.polls.next_end(),
            state_tick,
        ]
        .into_iter()
        .fold(None, earliest)
    }

    fn on_text(&mut self, conn: ConnId, text: &str, now: u64, out: &mut Vec<Action>) {
        let cx = &mut Cx::new(&mut self.base, now, out);
        let (rate, burst) = (cx.cfg().conn_rate_per_s, cx.cfg().conn_burst);
        if !cx.base.conns.contains_key(&conn) {
            // Unknown connection (already closed): ignore.
            return;
        }
        let host = cx.base.user_of(conn).is_some_and(|u| u.role == Role::Host);
        let max = if host {
            cx.cfg().max_host_frame_bytes
        } else {
            cx.cfg().max_frame_bytes
        };
        // A host's answers to relayed guests are paced by the server's relay (which bounds
        // what it asks), not by the host's own message rate: guests knocking must never get
        // the host throttled or closed.
        let decoded = host.then(|| decode_client(text, max));
        let relayed = matches!(decoded, Some(Ok(ClientMsg::GuestAnswer { .. })));
        if let Some(c) = cx.base.conns.get_mut(&conn)
            && !relayed
            && !c.bucket.take(now, rate, burst)
        {
            cx.refuse(
                conn,
                ErrorCode::RateLimited,
                format!("more than {rate} messages per second"),
            );
            return;
        }
        let msg = match decoded.unwrap_or_else(|| decode_client(text, max)) {
            Ok(m) => m,
            Err(e) if e.code == ErrorCode::TooLarge => {
                cx.error(conn, e.code, e.message.clone());
                cx.close(conn, ErrorCode::TooLarge, e.message);
                return;
            }
            Err(e) => {
                cx.refuse(conn, e.code, e.message);
                return;
            }
        };
        let user = cx.base.user_of(conn).cloned();
        match (msg, user) {
            (
                ClientMsg::Hello {
                    token,
                    nickname,
                    resume,
                    batch,
                },
                None,
            ) => {
                let hello = Hello {
                    token,
                    nickname,
                    resume,
                    batch,
                };
                self.hello(conn, hello, now, out)
            }
            (ClientMsg::Hello { .. }, Some(_)) => {
                cx.refuse(conn, ErrorCode::AlreadyJoined, "already joined")
            }
            (ClientMsg::Ping { t }, _) => cx.send(
                conn,
                Control::Pong {
                    t,
                    server_time: now,
                },
            ),
            (_, None) => cx.refuse(conn, ErrorCode::NotJoined, "send hello first"),
            (msg, Some(user)) => self.on_msg(&Sender { conn, user }, msg, now, out),
        }
    }

    /// Let a connection in (or refuse it), then welcome it with the room's view as it is with
    /// the newcomer counted.
    fn hello(&mut self, conn: ConnId, hello: Hello, now: u64, out: &mut Vec<Action>) {
        let cx = &mut Cx::new(&mut self.base, now, out);
        let Some(joined) = self
            .admission
            .admit(cx, &self.rules, &self.staff, conn, hello)
        else {
            return;
        };
        let view = self.view();
        let balance = self.gifts.balance(&joined.user().id);
        connections::welcome(
            &mut Cx::new(&mut self.base, now, out),
            joined,
            balance,
            view,
        );
    }

    /// A message from a joined user, to the feature it belongs to.
    fn on_msg(&mut self, from: &Sender, msg: ClientMsg, now: u64, out: &mut Vec<Action>) {
        let cx = &mut Cx::new(&mut self.base, now, out);
        if (needs_moderator(&msg) && !from.user.role.can_moderate())
            || (needs_host(&msg) && from.user.role != Role::Host)
        {
            let why = format!("a {} may not do that", from.user.role);
            cx.refuse(from.conn, ErrorCode::Forbidden, why);
            return;
        }
        if let ClientMsg::Timeout { user, .. } | ClientMsg::Ban { user } = &msg
            && from.user.role != Role::Host
            && self.staff.is_staff(cx.base, user)
        {
            let why = "only the host may mute or ban the host or a moderator";
            cx.refuse(from.conn, ErrorCode::Forbidden, why);
            return;
        }
        match msg {
            ClientMsg::Hello { .. } | ClientMsg::Ping { .. } => {}
            ClientMsg::Danmaku { text, color, mode } => {
                let msg = Danmaku { text, color, mode };
                speech::danmaku(cx, &self.rules, &mut self.lotteries, from, msg)
            }
            ClientMsg::Ask { text } => self.questions.ask(cx, &self.rules, from, Ask { text }),
            ClientMsg::Gift { gift, count, key } => {
                self.gifts.send(cx, from, Gift { gift, count, key })
            }
            ClientMsg::Vote { poll, option } => self.polls.vote(cx, from, Vote { poll, option }),
            ClientMsg::Delete { id } => moderation::delete(cx, from, Delete { id }),
            ClientMsg::Timeout { user, seconds } => {
                self.rules.timeout(cx, from, Timeout { user, seconds })
            }
            ClientMsg::Ban { user } => self.rules.ban(cx, from, Ban { user }),
            ClientMsg::Unban { user } => self.rules.unban(cx, from, Unban { user }),
            ClientMsg::BlockWords { add, remove } => {
                self.rules.block_words(cx, from, BlockWords { add, remove })
            }
            ClientMsg::Settings(patch) => settings::change(cx, &mut self.rules, from, patch),
            ClientMsg::PollStart {
                question,
                options,
                duration_s,
                allow_change,
            } => {
                let msg = PollStart {
                    question,
                    options,
                    duration_s,
                    allow_change,
                };
                self.polls.start(cx, from, msg)
            }
            ClientMsg::PollEnd { poll } => self.polls.end(cx, from, PollEnd { poll }),
            ClientMsg::PinQuestion { question } => self.questions.pin(cx, from, Pin { question }),
            ClientMsg::LotteryStart { keyword, prize } => {
                self.lotteries
                    .start(cx, from, LotteryStart { keyword, prize })
            }
            ClientMsg::LotteryDraw { lottery, winners } => {
                self.lotteries
                    .draw(cx, from, LotteryDraw { lottery, winners })
            }
            ClientMsg::Modlog { limit } => moderation::modlog(cx, from, ModlogRequest { limit }),
            ClientMsg::StreamStart => self.gifts.stream_start(cx, from),
            ClientMsg::Grant { user, points } => self.gifts.grant(cx, from, Grant { user, points }),
            ClientMsg::GiftRules(rules) => self.gifts.set_rules(cx, from, rules),
            ClientMsg::CloseRoom { reason } => settings::close_room(cx, from, CloseRoom { reason }),
            ClientMsg::Appoint { user } => self.staff.appoint(cx, from, &user),
            ClientMsg::Unappoint { user } => self.staff.unappoint(cx, from, &user),
            ClientMsg::ModInvite => self.staff.invite(cx, from),
            ClientMsg::ModInviteRevoke { code } => self.staff.revoke(cx, from, &code),
            ClientMsg::Staff => self.staff.list(cx, from),
            ClientMsg::ModInviteRedeem { code } => self.staff.redeem(cx, from, &code),
            ClientMsg::GuestDoor { open } => cx.out.push(Action::GuestDoor {
                conn: from.conn,
                open,
            }),
            ClientMsg::GuestAnswer { id, reply } => cx.out.push(Action::GuestAnswer {
                conn: from.conn,
                id,
                reply,
            }),
        }
    }

    /// Time has passed: whatever is due.
    fn on_tick(&mut self, now: u64, out: &mut Vec<Action>) {
        let cx = &mut Cx::new(&mut self.base, now, out);
        self.admission.close_silent(cx);
        self.polls.end_due(cx);
        if now.saturating_sub(self.last_state_tick) < STATE_TICK_MS {
            return;
        }
        self.last_state_tick = now;
        self.admission.forget_refilled_networks(&cx.base.cfg, now);
        self.polls.broadcast_tallies(cx);
        if let Some(presence) = cx.base.take_presence() {
            cx.broadcast(presence);
        }
        self.gifts.broadcast_leaderboard(cx);
        self.lotteries.broadcast_count(cx);
        self.rules.forget_expired(now);
        cx.base.forget_idle_users(now);
        let window = cx.cfg().combo_window_ms;
        self.gifts.forget_old_combos(now, window);
    }
}

#[cfg(test)]
mod tests;
