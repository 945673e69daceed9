//! What every feature of the room stands on: the connections and the users behind them, the
//! event log and its numbering, the moderation log, the counters, and [`Cx`] — one call of
//! [`super::Room::handle`], through which a feature answers (send, refuse, close, emit, persist).

use super::config::RoomConfig;
use super::io::{Action, ConnId, Write};
use super::state::{DurableState, Snapshot};
use crate::protocol::{
    Control, ErrorCode, Event, EventBody, ModLogEntry, ResumePoint, Role, ServerMsg, UserRef,
};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// Moderation log entries kept in memory (the `modlog` request reads from them).
pub(super) const MAX_MODLOG_KEPT: usize = 500;
/// Refused messages count as strikes within this window.
const STRIKE_WINDOW_MS: u64 = 10_000;
/// A user with no connection left is forgotten (slow-mode and rate state) after this long.
const USER_IDLE_MS: u64 = 600_000;

/// A token bucket: `rate` tokens a second up to `burst`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bucket {
    tokens: f64,
    last: u64,
}

impl Bucket {
    pub(super) fn full(burst: f64, now: u64) -> Self {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    pub(super) fn take(&mut self, now: u64, rate: f64, burst: f64) -> bool {
        let dt = now.saturating_sub(self.last) as f64 / 1000.0;
        self.last = now.max(self.last);
        self.tokens = (self.tokens + dt * rate).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether it has refilled by `now` (then it is the same as a bucket never used).
    pub(super) fn is_full(&self, now: u64, rate: f64, burst: f64) -> bool {
        let dt = now.saturating_sub(self.last) as f64 / 1000.0;
        self.tokens + dt * rate >= burst
    }

    /// About when it will have refilled (never earlier than that).
    pub(super) fn full_at(&self, rate: f64, burst: f64) -> u64 {
        if rate <= 0.0 {
            return u64::MAX;
        }
        let ms = ((burst - self.tokens).max(0.0) / rate * 1000.0).ceil();
        self.last.saturating_add(ms.min(u64::MAX as f64) as u64)
    }
}

/// One connection.
#[derive(Debug)]
pub(super) struct Conn {
    /// Set by its hello.
    pub(super) user: Option<UserRef>,
    /// The client's network (see [`super::network`]).
    pub(super) net: Option<IpAddr>,
    pub(super) opened_at: u64,
    /// Messages of all kinds.
    pub(super) bucket: Bucket,
    strikes: u32,
    strikes_since: u64,
}

impl Conn {
    pub(super) fn new(net: Option<IpAddr>, burst: f64, now: u64) -> Self {
        Conn {
            user: None,
            net,
            opened_at: now,
            bucket: Bucket::full(burst, now),
            strikes: 0,
            strikes_since: now,
        }
    }
}

/// One user, over all their connections.
#[derive(Debug)]
pub(super) struct UserState {
    pub(super) last_speak: Option<u64>,
    /// When this viewer's recent messages were accepted (ms), oldest first; holds at most
    /// `user_rate_per_min` entries, so it is bounded by the room's rule.
    pub(super) recent: VecDeque<u64>,
    /// Danmaku and questions.
    pub(super) bucket: Bucket,
    /// Gifts, over all the user's connections.
    pub(super) gift_bucket: Bucket,
    pub(super) conns: u32,
    pub(super) seen: u64,
}

/// Joins and leaves since the last `presence` broadcast.
#[derive(Debug, Default)]
pub(super) struct Presence {
    joins: u64,
    leaves: u64,
    /// A sample of the names that joined (up to 10).
    joined: Vec<String>,
    changed: bool,
}

/// Counters of what the room refused or dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoomStats {
    pub errors_sent: u64,
    pub closed_for_abuse: u64,
    pub danmaku: u64,
    pub gifts: u64,
    pub duplicate_gifts: u64,
}

/// Who sent a message: the connection and the user it joined as.
#[derive(Debug)]
pub(super) struct Sender {
    pub(super) conn: ConnId,
    pub(super) user: UserRef,
}

/// The state every feature shares.
#[derive(Debug)]
pub(super) struct Base {
    pub(super) cfg: RoomConfig,
    pub(super) epoch: u64,
    pub(super) last_seq: u64,
    /// The events kept for resume, ascending.
    pub(super) ring: VecDeque<Event>,
    pub(super) conns: HashMap<ConnId, Conn>,
    pub(super) users: HashMap<String, UserState>,
    /// Ids of polls, questions and lotteries.
    pub(super) next_id: u64,
    /// The host closed the room; a host's hello reopens it.
    pub(super) closed: bool,
    pub(super) rng: fastrand::Rng,
    pub(super) modlog: VecDeque<ModLogEntry>,
    pub(super) stats: RoomStats,
    pub(super) presence: Presence,
    /// The durable state changed during this call: the room persists it once at its end.
    state_changed: bool,
    /// No user without a connection is due to be forgotten before this.
    users_due: Option<u64>,
}

/// The earlier of two optional deadlines.
pub(super) fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Control characters dropped, whitespace trimmed.
pub(super) fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

impl Base {
    /// The shared part of a room reopened with `state`; takes the event and moderation logs
    /// out of `snap`.
    pub(super) fn restore(
        cfg: RoomConfig,
        rng: fastrand::Rng,
        state: &DurableState,
        snap: &mut Snapshot,
    ) -> Base {
        let mut ring: VecDeque<Event> = std::mem::take(&mut snap.events).into();
        while ring.len() > cfg.resume_window {
            ring.pop_front();
        }
        let mut modlog: VecDeque<ModLogEntry> = std::mem::take(&mut snap.modlog).into();
        while modlog.len() > MAX_MODLOG_KEPT {
            modlog.pop_front();
        }
        Base {
            epoch: state.epoch,
            last_seq: snap.last_seq.max(ring.back().map_or(0, |e| e.seq)),
            ring,
            conns: HashMap::new(),
            users: HashMap::new(),
            next_id: state.next_id.max(1),
            closed: state.closed,
            rng,
            modlog,
            stats: RoomStats::default(),
            presence: Presence::default(),
            state_changed: false,
            users_due: None,
            cfg,
        }
    }

    /// Distinct users connected.
    pub(super) fn viewers(&self) -> u64 {
        self.users.values().filter(|u| u.conns > 0).count() as u64
    }

    /// The user a connection joined as (`None` before its hello).
    pub(super) fn user_of(&self, conn: ConnId) -> Option<&UserRef> {
        self.conns.get(&conn).and_then(|c| c.user.as_ref())
    }

    /// The connections of a user.
    pub(super) fn conns_of(&self, user: &str) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.user.as_ref().is_some_and(|u| u.id == user))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A user's display name: from a connection of theirs, else from a recent message.
    pub(super) fn name_of(&self, user: &str) -> Option<String> {
        let connected = self
            .conns
            .values()
            .filter_map(|c| c.user.as_ref())
            .find(|u| u.id == user);
        if let Some(u) = connected {
            return Some(u.name.clone());
        }
        self.ring.iter().rev().find_map(|e| match &e.body {
            EventBody::Danmaku { user: u, .. } if u.id == user => Some(u.name.clone()),
            _ => None,
        })
    }

    /// The connections of users with `role`.
    pub(super) fn conns_with_role(&self, role: Role) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.user.as_ref().is_some_and(|u| u.role == role))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A user's open connections that have role `from` take role `to` (an appointment).
    pub(super) fn set_role(&mut self, user: &str, from: Role, to: Role) {
        for c in self.conns.values_mut() {
            if let Some(u) = c.user.as_mut()
                && u.id == user
                && u.role == from
            {
                u.role = to;
            }
        }
    }

    /// Forget a connection (closed by either side).
    pub(super) fn drop_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(u) = c.user
            && let Some(us) = self.users.get_mut(&u.id)
        {
            us.conns = us.conns.saturating_sub(1);
            if us.conns == 0 {
                self.presence.leaves += 1;
                self.presence.changed = true;
                self.users_due = earliest(self.users_due, Some(us.seen + USER_IDLE_MS));
            }
        }
    }

    /// A user's first connection has joined.
    pub(super) fn joined(&mut self, name: &str) {
        let p = &mut self.presence;
        p.joins += 1;
        p.changed = true;
        if p.joined.len() < 10 && !p.joined.iter().any(|n| n == name) {
            p.joined.push(name.to_string());
        }
    }

    /// Joins and leaves have happened since the last [`Base::take_presence`].
    pub(super) fn presence_changed(&self) -> bool {
        self.presence.changed
    }

    /// The `presence` message for what changed, if anything did.
    pub(super) fn take_presence(&mut self) -> Option<Control> {
        if !std::mem::take(&mut self.presence.changed) {
            return None;
        }
        let p = std::mem::take(&mut self.presence);
        Some(Control::Presence {
            viewers: self.viewers(),
            joined: p.joined,
            joins: p.joins,
            leaves: p.leaves,
        })
    }

    /// When a user without connections is next due to be forgotten (a lower bound).
    pub(super) fn users_due(&self) -> Option<u64> {
        self.users_due
    }

    /// Forget users who have had no connection for a while.
    pub(super) fn forget_idle_users(&mut self, now: u64) {
        self.users
            .retain(|_, u| u.conns > 0 || now.saturating_sub(u.seen) < USER_IDLE_MS);
        self.users_due = self
            .users
            .values()
            .filter(|u| u.conns == 0)
            .map(|u| u.seen + USER_IDLE_MS)
            .min();
    }

    /// The durable state changed; it is persisted once when the call ends.
    pub(super) fn take_state_changed(&mut self) -> bool {
        std::mem::take(&mut self.state_changed)
    }

    /// Recent events for a joiner, without deleted messages.
    pub(super) fn history(&self) -> Vec<Event> {
        let mut v: Vec<Event> = self
            .ring
            .iter()
            .rev()
            .filter(|e| !matches!(e.body, EventBody::Danmaku { deleted: true, .. }))
            .take(self.cfg.history_on_join)
            .cloned()
            .collect();
        v.reverse();
        v
    }

    /// Exactly the events after `rp`, or why that is impossible.
    pub(super) fn replay_since(&self, rp: ResumePoint) -> Result<Vec<Event>, String> {
        if rp.epoch != self.epoch {
            return Err(format!(
                "epoch {} is not the room's epoch {}",
                rp.epoch, self.epoch
            ));
        }
        if rp.seq > self.last_seq {
            return Err(format!(
                "seq {} is ahead of the room ({})",
                rp.seq, self.last_seq
            ));
        }
        if rp.seq == self.last_seq {
            return Ok(Vec::new());
        }
        let oldest = self.ring.front().map_or(self.last_seq + 1, |e| e.seq);
        if rp.seq + 1 < oldest {
            return Err(format!(
                "seq {} is older than the replay window (oldest kept {oldest})",
                rp.seq
            ));
        }
        Ok(self
            .ring
            .iter()
            .filter(|e| e.seq > rp.seq)
            .cloned()
            .collect())
    }
}

/// One call of [`super::Room::handle`]: the shared state, the time, and where actions go.
pub(super) struct Cx<'a> {
    pub(super) base: &'a mut Base,
    pub(super) now: u64,
    pub(super) out: &'a mut Vec<Action>,
}

impl<'a> Cx<'a> {
    pub(super) fn new(base: &'a mut Base, now: u64, out: &'a mut Vec<Action>) -> Self {
        Cx { base, now, out }
    }

    pub(super) fn cfg(&self) -> &RoomConfig {
        &self.base.cfg
    }

    pub(super) fn send(&mut self, conn: ConnId, msg: Control) {
        self.out.push(Action::Send {
            conn,
            msg: ServerMsg::Control(msg),
        });
    }

    /// To every subscriber, not logged (presence, tallies, counts).
    pub(super) fn broadcast(&mut self, msg: Control) {
        self.out
            .push(Action::Broadcast(Arc::new(ServerMsg::Control(msg))));
    }

    pub(super) fn persist(&mut self, w: Write) {
        self.out.push(Action::Persist(w));
    }

    /// The durable state changed: persist it before this call's sends.
    pub(super) fn state_changed(&mut self) {
        self.base.state_changed = true;
    }

    /// An error frame; the connection stays.
    pub(super) fn error(&mut self, conn: ConnId, code: ErrorCode, message: impl Into<String>) {
        self.base.stats.errors_sent += 1;
        self.out.push(Action::Send {
            conn,
            msg: ServerMsg::error(code, message),
        });
    }

    /// An error that also counts as a strike; too many strikes close the connection.
    pub(super) fn refuse(&mut self, conn: ConnId, code: ErrorCode, message: impl Into<String>) {
        self.error(conn, code, message);
        let (limit, now) = (self.base.cfg.flood_strikes, self.now);
        let Some(c) = self.base.conns.get_mut(&conn) else {
            return;
        };
        if now.saturating_sub(c.strikes_since) > STRIKE_WINDOW_MS {
            c.strikes = 0;
            c.strikes_since = now;
        }
        c.strikes += 1;
        if c.strikes >= limit {
            self.close(
                conn,
                ErrorCode::Flood,
                "too many refused messages; slow down",
            );
        }
    }

    /// Send the reason and close the connection.
    pub(super) fn close(&mut self, conn: ConnId, code: ErrorCode, reason: impl Into<String>) {
        if matches!(code, ErrorCode::Flood | ErrorCode::TooLarge) {
            self.base.stats.closed_for_abuse += 1;
        }
        self.out.push(Action::Close {
            conn,
            code,
            reason: reason.into(),
        });
        self.base.drop_conn(conn);
    }

    /// A room event: numbered, kept for resume, persisted and broadcast. Returns its seq.
    pub(super) fn emit(&mut self, body: EventBody) -> u64 {
        let b = &mut *self.base;
        b.last_seq += 1;
        let ev = Event {
            seq: b.last_seq,
            epoch: b.epoch,
            at: self.now,
            body,
        };
        b.ring.push_back(ev.clone());
        while b.ring.len() > b.cfg.resume_window {
            b.ring.pop_front();
        }
        self.out.push(Action::Persist(Write::Event(ev.clone())));
        self.out
            .push(Action::Broadcast(Arc::new(ServerMsg::Event(ev))));
        b.last_seq
    }

    /// An entry in the moderation log.
    pub(super) fn log(&mut self, actor: &UserRef, action: &str, target: &str, detail: String) {
        let e = ModLogEntry {
            at: self.now,
            actor: actor.id.clone(),
            action: action.to_string(),
            target: target.to_string(),
            detail,
        };
        let log = &mut self.base.modlog;
        log.push_back(e.clone());
        while log.len() > MAX_MODLOG_KEPT {
            log.pop_front();
        }
        self.persist(Write::ModLog(e));
    }

    /// A fresh id for a poll, question or lottery.
    pub(super) fn next_id(&mut self) -> u64 {
        let id = self.base.next_id;
        self.base.next_id += 1;
        id
    }
}
