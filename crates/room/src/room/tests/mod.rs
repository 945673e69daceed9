//! Behaviour tests of the sans-IO room, one file per feature, with a tiny in-memory IO layer
//! ([`Harness`]). No sockets, no sleeping: time is a number the test moves.

mod connections;
mod frames;
mod gifts;
mod lottery;
mod moderation;
mod polls;
mod questions;
mod settings;
mod speech;
mod staff;
mod timers;

use super::{Action, ConnId, Input, Room, RoomConfig, Snapshot};
use crate::protocol::{Control, DanmakuMode, ErrorCode, Event, EventBody, Role, ServerMsg};
use crate::store::{MemoryStore, Storage};
use crate::token::{self, Claims};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

const SECRET: &[u8] = b"test-secret-0123456789";
const T0: u64 = 1_700_000_000_000;

/// A minimal IO layer: applies persists to a [`MemoryStore`], does the gift round trip, and
/// keeps an inbox per connection.
struct Harness {
    room: Room,
    store: MemoryStore,
    now: u64,
    next_conn: ConnId,
    subscribed: BTreeSet<ConnId>,
    inbox: HashMap<ConnId, Vec<ServerMsg>>,
    closed: HashMap<ConnId, (ErrorCode, String)>,
    /// Fail the next ledger write.
    fail_gift: bool,
}

impl Harness {
    fn new() -> Self {
        Self::with_store(MemoryStore::new(), T0)
    }

    fn with_store(mut store: MemoryStore, now: u64) -> Self {
        let cfg = RoomConfig::new("r1", SECRET);
        let snap = store.load("r1", cfg.resume_window).unwrap();
        let (room, actions) = Room::restore(cfg, snap, now);
        let mut h = Harness {
            room,
            store,
            now,
            next_conn: 1,
            subscribed: BTreeSet::new(),
            inbox: HashMap::new(),
            closed: HashMap::new(),
            fail_gift: false,
        };
        h.apply(actions);
        h
    }

    fn restart(self) -> Self {
        Self::with_store(self.store, self.now + 1_000)
    }

    fn token(&self, user: &str, role: Role) -> String {
        token::sign(
            SECRET,
            &Claims {
                room: "r1".into(),
                user: user.into(),
                name: user.to_uppercase(),
                role,
                exp_ms: self.now + 3_600_000,
            },
        )
    }

    fn apply(&mut self, actions: Vec<Action>) {
        let writes = Action::writes(&actions);
        self.store.commit("r1", &writes).unwrap();
        for a in actions {
            match a {
                Action::Persist(_) => {}
                Action::RecordGift { conn, gift, wallet } => {
                    let next = if self.fail_gift {
                        self.fail_gift = false;
                        self.room.handle(
                            Input::GiftFailed {
                                conn,
                                key: gift.key,
                                error: "disk full".into(),
                            },
                            self.now,
                        )
                    } else {
                        let outcome = self
                            .store
                            .record_gift("r1", &gift, wallet.as_ref())
                            .unwrap();
                        self.room.handle(
                            Input::GiftRecorded {
                                conn,
                                gift,
                                outcome,
                            },
                            self.now,
                        )
                    };
                    self.apply(next);
                }
                Action::Send { conn, msg } => self.inbox.entry(conn).or_default().push(msg),
                Action::Broadcast(msg) => {
                    for c in &self.subscribed {
                        self.inbox.entry(*c).or_default().push((*msg).clone());
                    }
                }
                Action::Subscribe { conn, .. } => {
                    self.subscribed.insert(conn);
                }
                Action::Close { conn, code, reason } => {
                    self.subscribed.remove(&conn);
                    self.closed.insert(conn, (code, reason));
                }
                // The server's guest relay (crates/room/tests/guests.rs).
                Action::GuestDoor { .. } | Action::GuestAnswer { .. } => {}
            }
        }
    }

    fn input(&mut self, input: Input<'_>) {
        let a = self.room.handle(input, self.now);
        self.apply(a);
    }

    fn open(&mut self) -> ConnId {
        self.open_from(None)
    }

    fn open_from(&mut self, ip: Option<&str>) -> ConnId {
        let c = self.next_conn;
        self.next_conn += 1;
        let ip = ip.map(|s| s.parse().unwrap());
        self.input(Input::Open { conn: c, ip });
        c
    }

    /// A nickname hello from `ip`: the issued token, or the error code.
    fn nickname_join(&mut self, ip: &str, nick: &str) -> Result<(ConnId, String), ErrorCode> {
        let c = self.open_from(Some(ip));
        self.text(c, json!({"type":"hello","nickname":nick}));
        let msgs = self.take(c);
        for m in msgs {
            match m {
                ServerMsg::Control(Control::Welcome { token: Some(t), .. }) => return Ok((c, t)),
                ServerMsg::Control(Control::Error { code, .. }) => return Err(code),
                _ => {}
            }
        }
        panic!("no welcome and no error");
    }

    fn text(&mut self, conn: ConnId, v: serde_json::Value) {
        let s = v.to_string();
        self.input(Input::Text { conn, text: &s });
    }

    fn join(&mut self, user: &str, role: Role) -> ConnId {
        let c = self.open();
        let t = self.token(user, role);
        self.text(c, json!({"type":"hello","token":t}));
        assert!(
            self.subscribed.contains(&c),
            "{user} did not join: {:?}",
            self.take(c)
        );
        self.take(c);
        c
    }

    fn take(&mut self, conn: ConnId) -> Vec<ServerMsg> {
        self.inbox.remove(&conn).unwrap_or_default()
    }

    fn events(&mut self, conn: ConnId) -> Vec<Event> {
        self.take(conn)
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn errors(&mut self, conn: ConnId) -> Vec<ErrorCode> {
        self.take(conn)
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::Control(Control::Error { code, .. }) => Some(code),
                _ => None,
            })
            .collect()
    }

    fn say(&mut self, conn: ConnId, text: &str) {
        self.text(conn, json!({"type":"danmaku","text":text}));
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.input(Input::Tick);
    }
}

fn danmaku_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Danmaku { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// The host starts a three-option poll of 30 s; its id.
fn start_poll(h: &mut Harness, host: ConnId, allow_change: bool) -> u64 {
    h.text(
        host,
        json!({"type":"poll_start","question":"Which song?","options":["A","B","C"],"duration_s":30,"allow_change":allow_change}),
    );
    h.events(host)
        .into_iter()
        .find_map(|e| match e.body {
            EventBody::PollStarted { poll } => Some(poll.poll),
            _ => None,
        })
        .unwrap()
}
