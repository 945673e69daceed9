//! Who gets in: a connection opens, says hello (a signed token, or a nickname that earns a viewer
//! token), is welcomed with the room's view and either its missed events (resume) or recent
//! history, and is closed if it never says hello. New nickname identities are rationed per
//! client network.

use super::base::{Bucket, Conn, Cx, UserState, clean_text, earliest};
use super::config::RoomConfig;
use super::io::{Action, ConnId};
use super::moderation::Rules;
use super::staff::Staff;
use crate::filter::Verdict;
use crate::protocol::{Control, ErrorCode, ResumePoint, Role, RoomView, UserRef};
use crate::token::{self, Claims, TokenError};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

const MAX_NICK_CHARS: usize = 24;

/// `hello`: the first message on a connection.
#[derive(Debug)]
pub(super) struct Hello {
    pub(super) token: Option<String>,
    pub(super) nickname: Option<String>,
    pub(super) resume: Option<ResumePoint>,
    pub(super) batch: bool,
}

/// A connection let in by its hello, still to be welcomed.
#[derive(Debug)]
pub(super) struct Joined {
    conn: ConnId,
    user: UserRef,
    /// The token issued to a nickname viewer.
    issued: Option<String>,
    resume: Option<ResumePoint>,
    batch: bool,
}

/// The unit one person is likely to hold: an IPv4 address, or an IPv6 /64 (one subscriber's
/// prefix; a host picks any address in it at will).
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut b = v6.octets();
                b[8..].fill(0);
                IpAddr::V6(b.into())
            }
        },
    }
}

/// Connections waiting for their hello, and nickname identities issued per client network.
#[derive(Debug, Default)]
pub(super) struct Admission {
    nick_issue: HashMap<IpAddr, Bucket>,
    /// No connection waiting for its hello times out before this.
    hello_due: Option<u64>,
    /// No tracked network has refilled before this.
    networks_due: Option<u64>,
}

impl Admission {
    /// A connection was accepted.
    pub(super) fn open(&mut self, cx: &mut Cx, conn: ConnId, ip: Option<IpAddr>) {
        let now = cx.now;
        let c = Conn::new(ip.map(network), cx.cfg().conn_burst, now);
        cx.base.conns.insert(conn, c);
        self.hello_due = earliest(self.hello_due, Some(now + cx.cfg().hello_timeout_ms));
    }

    /// Check a hello and register its user; `None` if it was refused (and answered).
    pub(super) fn admit(
        &mut self,
        cx: &mut Cx,
        rules: &Rules,
        staff: &Staff,
        conn: ConnId,
        hello: Hello,
    ) -> Option<Joined> {
        let now = cx.now;
        let mut issued = None;
        let user = match (hello.token, hello.nickname) {
            (Some(t), _) => match token::verify(&cx.cfg().secret, &t, &cx.cfg().room, now) {
                Ok(c) => UserRef {
                    id: c.user,
                    name: c.name,
                    role: c.role,
                },
                Err(TokenError::Expired) => {
                    cx.refuse(conn, ErrorCode::TokenExpired, "token expired");
                    return None;
                }
                Err(e) => {
                    cx.refuse(conn, ErrorCode::Unauthorized, format!("token refused: {e}"));
                    return None;
                }
            },
            (None, Some(nick)) => {
                let (user, token) = self.nickname_viewer(cx, rules, conn, &nick)?;
                issued = Some(token);
                user
            }
            (None, None) => {
                cx.refuse(
                    conn,
                    ErrorCode::Invalid,
                    "hello needs a token or a nickname",
                );
                return None;
            }
        };
        let user = UserRef {
            role: staff.role_of(&user),
            ..user
        };
        if rules.bans.contains(&user.id) {
            cx.error(conn, ErrorCode::Banned, "you are banned from this room");
            cx.close(conn, ErrorCode::Banned, "banned");
            return None;
        }
        if cx.base.closed {
            if user.role != Role::Host {
                cx.error(conn, ErrorCode::RoomClosed, "the room is closed");
                cx.close(conn, ErrorCode::RoomClosed, "room closed");
                return None;
            }
            cx.base.closed = false;
            cx.state_changed();
        }
        let base = &mut *cx.base;
        if let Some(c) = base.conns.get_mut(&conn) {
            c.user = Some(user.clone());
        }
        let (burst, gift_burst) = (base.cfg.user_burst, base.cfg.gift_burst);
        let us = base.users.entry(user.id.clone()).or_insert(UserState {
            last_speak: None,
            recent: VecDeque::new(),
            bucket: Bucket::full(burst, now),
            gift_bucket: Bucket::full(gift_burst, now),
            conns: 0,
            seen: now,
        });
        us.conns += 1;
        us.seen = now;
        if us.conns == 1 {
            base.joined(&user.name);
        }
        Some(Joined {
            conn,
            user,
            issued,
            resume: hello.resume,
            batch: hello.batch,
        })
    }

    /// A new viewer identity for a nickname, with its signed token.
    fn nickname_viewer(
        &mut self,
        cx: &mut Cx,
        rules: &Rules,
        conn: ConnId,
        nick: &str,
    ) -> Option<(UserRef, String)> {
        let nick = clean_text(nick);
        let n = nick.chars().count();
        if n == 0 || n > MAX_NICK_CHARS {
            cx.refuse(
                conn,
                ErrorCode::Invalid,
                format!("nickname must be 1 to {MAX_NICK_CHARS} characters"),
            );
            return None;
        }
        if let Some(word) = crate::names::claimed_role(&nick) {
            cx.refuse(
                conn,
                ErrorCode::ReservedName,
                format!(
                    "a nickname may not claim a role ({word:?}): the host and moderators get \
                     a badge from the room, never from their name"
                ),
            );
            return None;
        }
        if matches!(rules.filter.check(&nick), Verdict::Matched { .. }) {
            cx.refuse(
                conn,
                ErrorCode::BlockedWord,
                "nickname contains a blocked word",
            );
            return None;
        }
        let net = cx.base.conns.get(&conn).and_then(|c| c.net);
        if let Some(net) = net
            && !self.take_nick_issue(cx, net)
        {
            cx.refuse(
                conn,
                ErrorCode::RateLimited,
                "too many new nickname viewers from your network; try again later, \
                 rejoin with the token you were given, or ask the host for one",
            );
            return None;
        }
        let id = format!("v-{:012x}", cx.base.rng.u64(..) & 0xffff_ffff_ffff);
        let claims = Claims {
            room: cx.cfg().room.clone(),
            user: id.clone(),
            name: nick.clone(),
            role: Role::Viewer,
            exp_ms: cx.now.saturating_add(cx.cfg().viewer_token_ttl_ms),
        };
        let token = token::sign(&cx.cfg().secret, &claims);
        let user = UserRef {
            id,
            name: nick,
            role: Role::Viewer,
        };
        Some((user, token))
    }

    /// One nickname identity for `net`, if its bucket allows.
    fn take_nick_issue(&mut self, cx: &Cx, net: IpAddr) -> bool {
        let cfg = cx.cfg();
        let (rate, burst, now) = (cfg.nick_issue_rate_per_s, cfg.nick_issue_burst, cx.now);
        if !self.nick_issue.contains_key(&net) && self.nick_issue.len() >= cfg.max_tracked_networks
        {
            self.forget_refilled_networks(cx.cfg(), now);
            if self.nick_issue.len() >= cfg.max_tracked_networks {
                return false;
            }
        }
        let bucket = self
            .nick_issue
            .entry(net)
            .or_insert_with(|| Bucket::full(burst, now));
        let ok = bucket.take(now, rate, burst);
        self.networks_due = earliest(self.networks_due, Some(bucket.full_at(rate, burst)));
        ok
    }

    /// A network whose bucket has refilled is the same as one never seen: forget it.
    pub(super) fn forget_refilled_networks(&mut self, cfg: &RoomConfig, now: u64) {
        let (rate, burst) = (cfg.nick_issue_rate_per_s, cfg.nick_issue_burst);
        self.nick_issue.retain(|_, b| !b.is_full(now, rate, burst));
        self.networks_due = self
            .nick_issue
            .values()
            .map(|b| b.full_at(rate, burst))
            .min();
    }

    /// When a tracked network is next due to be forgotten (a lower bound).
    pub(super) fn networks_due(&self) -> Option<u64> {
        self.networks_due
    }

    /// When a connection waiting for its hello next times out (a lower bound).
    pub(super) fn hello_due(&self) -> Option<u64> {
        self.hello_due
    }

    /// Close the connections that have not said hello in time.
    pub(super) fn close_silent(&mut self, cx: &mut Cx) {
        let (now, timeout) = (cx.now, cx.cfg().hello_timeout_ms);
        let stale: Vec<ConnId> = cx
            .base
            .conns
            .iter()
            .filter(|(_, c)| c.user.is_none() && now.saturating_sub(c.opened_at) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for c in stale {
            cx.close(c, ErrorCode::NotJoined, "no hello in time");
        }
        self.hello_due = cx
            .base
            .conns
            .values()
            .filter(|c| c.user.is_none())
            .map(|c| c.opened_at + timeout)
            .min();
    }
}

impl Joined {
    pub(super) fn user(&self) -> &UserRef {
        &self.user
    }
}

/// Welcome a joined connection: who it is, its points, the room's view, then its missed events
/// (resume) or recent history; from then on it gets broadcasts.
pub(super) fn welcome(cx: &mut Cx, joined: Joined, balance: u64, view: RoomView) {
    let Joined {
        conn,
        user,
        issued,
        resume,
        batch,
    } = joined;
    let epoch = cx.base.epoch;
    cx.send(
        conn,
        Control::Welcome {
            room: cx.cfg().room.clone(),
            epoch,
            seq: cx.base.last_seq,
            user,
            token: issued,
            balance,
            view: Box::new(view),
        },
    );
    match resume.map(|rp| cx.base.replay_since(rp)) {
        Some(Ok(events)) => cx.send(conn, Control::Replay { epoch, events }),
        Some(Err(reason)) => {
            cx.send(conn, Control::NotRecoverable { epoch, reason });
            let events = cx.base.history();
            cx.send(conn, Control::History { epoch, events });
        }
        None => {
            let events = cx.base.history();
            cx.send(conn, Control::History { epoch, events });
        }
    }
    cx.out.push(Action::Subscribe { conn, batch });
}
