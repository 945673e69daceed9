//! Behaviour tests of the sans-IO room, with a tiny in-memory IO layer. No sockets, no sleeping.

use super::*;
use crate::store::{MemoryStore, Storage};
use serde_json::json;

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
        let writes: Vec<Write> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Persist(w) => Some(w.clone()),
                _ => None,
            })
            .collect();
        self.store.commit("r1", &writes).unwrap();
        for a in actions {
            match a {
                Action::Persist(_) => {}
                Action::RecordGift { conn, gift } => {
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
                        let outcome = self.store.record_gift("r1", &gift).unwrap();
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

#[test]
fn epoch_is_exact_in_javascript_numbers() {
    for seed in 0..100 {
        let mut cfg = RoomConfig::new("r", SECRET);
        cfg.rng_seed = seed;
        let (room, _) = Room::restore(cfg, Snapshot::default(), T0);
        assert!(room.epoch() > 0 && room.epoch() < (1 << 53));
    }
}

#[test]
fn danmaku_is_broadcast_with_seq_epoch_and_server_assigned_id() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    h.text(
        a,
        json!({"type":"danmaku","text":"  hello  ","color":"#FF0000","mode":"top"}),
    );
    let ev = h.events(b);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].seq, h.room.last_seq());
    assert_eq!(ev[0].epoch, h.room.epoch());
    assert_eq!(ev[0].at, T0);
    match &ev[0].body {
        EventBody::Danmaku {
            id,
            text,
            color,
            mode,
            user,
            ..
        } => {
            assert_eq!(*id, ev[0].seq);
            assert_eq!(text, "hello");
            assert_eq!(color, "#ff0000");
            assert_eq!(*mode, DanmakuMode::Top);
            assert_eq!(user.id, "alice");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reconnect_with_last_seq_gets_exactly_missed_events() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    h.say(a, "one");
    let seen = h.events(b);
    let last = seen.last().unwrap().seq;
    h.input(Input::Closed { conn: b });
    h.subscribed.remove(&b);
    for t in ["two", "three", "four"] {
        h.advance(2_000);
        h.say(a, t);
    }
    let b2 = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(
        b2,
        json!({"type":"hello","token":t,"resume":{"epoch":h.room.epoch(),"seq":last}}),
    );
    let msgs = h.take(b2);
    let replay = msgs
        .iter()
        .find_map(|m| match m {
            ServerMsg::Control(Control::Replay { events, .. }) => Some(events.clone()),
            _ => None,
        })
        .expect("a replay");
    assert_eq!(danmaku_texts(&replay), ["two", "three", "four"]);
    let seqs: Vec<u64> = replay.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (last + 1..=h.room.last_seq()).collect::<Vec<_>>());
    assert!(
        !msgs
            .iter()
            .any(|m| matches!(m, ServerMsg::Control(Control::History { .. })))
    );
}

#[test]
fn resume_from_other_epoch_or_outside_window_is_not_recoverable() {
    let mut h = Harness::new();
    h.room.cfg.resume_window = 3;
    let a = h.join("alice", Role::Viewer);
    for i in 0..6 {
        h.advance(2_000);
        h.say(a, &format!("m{i}"));
    }
    let epoch = h.room.epoch();
    for resume in [
        json!({"epoch": epoch + 1, "seq": 5}),
        json!({"epoch": epoch, "seq": 1}),
        json!({"epoch": epoch, "seq": 99}),
    ] {
        let c = h.open();
        let t = h.token("bob", Role::Viewer);
        h.text(c, json!({"type":"hello","token":t,"resume":resume}));
        let msgs = h.take(c);
        assert!(
            msgs.iter()
                .any(|m| matches!(m, ServerMsg::Control(Control::NotRecoverable { .. }))),
            "{resume}: {msgs:?}"
        );
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, ServerMsg::Control(Control::Replay { .. })))
        );
        let history = msgs.iter().find_map(|m| match m {
            ServerMsg::Control(Control::History { events, .. }) => Some(events.clone()),
            _ => None,
        });
        assert_eq!(danmaku_texts(&history.unwrap()), ["m3", "m4", "m5"]);
    }
}

#[test]
fn resume_survives_a_restart_with_the_same_epoch() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    h.say(a, "before");
    let (epoch, seq) = (h.room.epoch(), h.room.last_seq());
    h.advance(2_000);
    h.say(a, "missed");
    let mut h = h.restart();
    assert_eq!(h.room.epoch(), epoch);
    let c = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(
        c,
        json!({"type":"hello","token":t,"resume":{"epoch":epoch,"seq":seq}}),
    );
    let replay = h.take(c).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::Replay { events, .. }) => Some(events),
        _ => None,
    });
    assert_eq!(danmaku_texts(&replay.unwrap()), ["missed"]);
    h.say(c, "after");
    assert_eq!(h.room.last_seq(), seq + 2);
}

#[test]
fn duplicate_gift_key_counts_once() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let watcher = h.join("host", Role::Host);
    for _ in 0..3 {
        h.text(
            a,
            json!({"type":"gift","gift":"rocket","count":2,"key":"k-1"}),
        );
    }
    let acks: Vec<bool> = h
        .take(a)
        .into_iter()
        .filter_map(|m| match m {
            ServerMsg::Control(Control::GiftAck { duplicate, .. }) => Some(duplicate),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [false, true, true]);
    let gifts: Vec<Event> = h
        .events(watcher)
        .into_iter()
        .filter(|e| matches!(e.body, EventBody::Gift { .. }))
        .collect();
    assert_eq!(gifts.len(), 1);
    let ledger = h.store.ledger("r1").unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].coins, 1040);
    // The duplicate is still a duplicate after a restart.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(
        a,
        json!({"type":"gift","gift":"rocket","count":2,"key":"k-1"}),
    );
    assert!(h.take(a).iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::GiftAck {
            duplicate: true,
            ..
        })
    )));
    assert_eq!(h.store.ledger("r1").unwrap().len(), 1);
    assert_eq!(h.room.view().leaderboard[0].coins, 1040);
}

#[test]
fn gift_is_acknowledged_only_after_the_ledger_write() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let t = json!({"type":"gift","gift":"rose","key":"k-9"}).to_string();
    let actions = h.room.handle(Input::Text { conn: a, text: &t }, h.now);
    // The first step only asks for the ledger write: no ack, no broadcast yet.
    assert!(matches!(actions.as_slice(), [Action::RecordGift { .. }]));
    h.fail_gift = true;
    h.apply(actions);
    assert_eq!(h.errors(a), [ErrorCode::Storage]);
    assert!(h.store.ledger("r1").unwrap().is_empty());
    // The client retries with the same key: now it counts, once.
    h.text(a, json!({"type":"gift","gift":"rose","key":"k-9"}));
    assert!(h.take(a).iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::GiftAck {
            duplicate: false,
            ..
        })
    )));
    assert_eq!(h.store.ledger("r1").unwrap().len(), 1);
}

#[test]
fn repeated_gifts_in_the_window_form_a_combo_but_count_separately() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for (i, dt) in [0, 1_000, 1_000, 5_000].into_iter().enumerate() {
        h.now += dt;
        h.text(
            a,
            json!({"type":"gift","gift":"heart","key":format!("c{i}")}),
        );
    }
    let combos: Vec<u32> = h
        .events(a)
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Gift { combo, .. } => Some(combo),
            _ => None,
        })
        .collect();
    assert_eq!(combos, [1, 2, 3, 1]);
    assert_eq!(h.store.ledger("r1").unwrap().len(), 4);
}

#[test]
fn viewer_cannot_delete_messages() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    h.say(a, "mine");
    let id = h.room.last_seq();
    h.take(b);
    for role_conn in [b, h.join("guest", Role::Guest)] {
        h.text(role_conn, json!({"type":"delete","id":id}));
        assert_eq!(h.errors(role_conn), [ErrorCode::Forbidden]);
    }
    assert_eq!(h.room.last_seq(), id);
}

#[test]
fn moderator_delete_drops_the_message_everywhere() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let m = h.join("mod", Role::Moderator);
    h.say(a, "rude words");
    let id = h.room.last_seq();
    h.text(m, json!({"type":"delete","id":id}));
    let ev = h.events(a);
    assert!(
        ev.iter()
            .any(|e| matches!(e.body, EventBody::MessageDeleted { id: d, .. } if d == id))
    );
    // New viewers never see it; a replay shows a tombstone without the text.
    let c = h.open();
    h.text(c, json!({"type":"hello","nickname":"late"}));
    let msgs = h.take(c);
    let hist = msgs.iter().find_map(|m| match m {
        ServerMsg::Control(Control::History { events, .. }) => Some(events.clone()),
        _ => None,
    });
    assert!(danmaku_texts(&hist.unwrap()).is_empty());
    assert!(
        h.room
            .recent_events()
            .all(|e| !matches!(&e.body, EventBody::Danmaku { text, .. } if !text.is_empty()))
    );
    // The moderation log has it, and so does storage.
    h.text(m, json!({"type":"modlog"}));
    let log = h.take(m).into_iter().find_map(|x| match x {
        ServerMsg::Control(Control::Modlog { entries }) => Some(entries),
        _ => None,
    });
    assert_eq!(log.unwrap()[0].action, "delete");
    let snap = h.store.load("r1", 100).unwrap();
    assert!(danmaku_texts(&snap.events).iter().all(String::is_empty));
}

#[test]
fn blocked_word_with_fullwidth_and_zero_width_is_caught() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(host, json!({"type":"block_words","add":["spam"]}));
    h.take(a);
    h.say(a, "buy ｓ\u{200b}ｐ．Ａ m now");
    let ev = h.events(a);
    match &ev[0].body {
        EventBody::Danmaku { text, masked, .. } => {
            assert!(*masked);
            assert_eq!(text, "buy ******* now");
        }
        other => panic!("{other:?}"),
    }
    h.text(host, json!({"type":"settings","blocked_mode":"reject"}));
    h.take(a);
    h.advance(5_000);
    h.say(a, "SPAM");
    assert_eq!(h.errors(a), [ErrorCode::BlockedWord]);
}

#[test]
fn slow_mode_allows_one_message_per_interval_for_viewers_only() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(host, json!({"type":"settings","slow_mode_s":10}));
    h.take(a);
    h.say(a, "1");
    h.say(a, "2");
    let msgs = h.take(a);
    assert_eq!(
        msgs.iter()
            .filter(|m| matches!(m, ServerMsg::Event(_)))
            .count(),
        1
    );
    assert!(msgs.iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::Error {
            code: ErrorCode::SlowMode,
            ..
        })
    )));
    h.say(host, "hosts are not slowed");
    h.say(host, "see");
    assert_eq!(h.errors(host), Vec::<ErrorCode>::new());
    h.advance(10_000);
    h.say(a, "3");
    assert_eq!(h.errors(a), Vec::<ErrorCode>::new());
}

#[test]
fn per_minute_rule_allows_n_messages_in_any_rolling_minute_for_viewers_only() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(host, json!({"type":"settings","user_rate_per_min":3}));
    h.take(a);
    for i in 0..3 {
        h.say(a, &format!("m{i}"));
        h.advance(10_000);
    }
    assert_eq!(danmaku_texts(&h.events(a)), ["m0", "m1", "m2"]);
    h.say(a, "fourth within the minute");
    assert_eq!(h.errors(a), [ErrorCode::SlowMode]);
    for i in 0..5 {
        h.say(host, &format!("host {i}"));
    }
    assert_eq!(h.errors(host), Vec::<ErrorCode>::new());
    h.take(a);
    // 60 s after the first message one slot frees: the window rolls, it does not reset.
    h.advance(30_000);
    h.say(a, "m3");
    h.say(a, "m4");
    let msgs = h.take(a);
    let texts: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Event(e) => match &e.body {
                EventBody::Danmaku { text, .. } => Some(text.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["m3"]);
    assert!(msgs.iter().any(|m| matches!(
        m,
        ServerMsg::Control(Control::Error { code: ErrorCode::SlowMode, message }) if message.contains("3 messages a minute")
    )));
    h.text(host, json!({"type":"settings","user_rate_per_min":0}));
    h.take(a);
    for i in 0..3 {
        h.say(a, &format!("free {i}"));
        h.advance(2_000);
    }
    assert_eq!(h.errors(a), Vec::<ErrorCode>::new());
}

#[test]
fn per_minute_rule_above_600_is_refused_with_the_limit() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.text(host, json!({"type":"settings","user_rate_per_min":601}));
    assert_eq!(h.errors(host), [ErrorCode::Invalid]);
}

#[test]
fn mods_only_mode_silences_viewers() {
    let mut h = Harness::new();
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    h.text(m, json!({"type":"settings","mods_only":true}));
    h.take(a);
    h.say(a, "hi");
    assert_eq!(h.errors(a), [ErrorCode::ModsOnly]);
    h.say(m, "only us");
    assert_eq!(danmaku_texts(&h.events(a)), ["only us"]);
}

#[test]
fn timeout_mutes_until_it_expires_and_ban_closes_and_refuses() {
    let mut h = Harness::new();
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    h.text(m, json!({"type":"timeout","user":"alice","seconds":60}));
    h.say(a, "hello?");
    assert!(h.errors(a).contains(&ErrorCode::Muted));
    h.advance(61_000);
    h.say(a, "back");
    assert!(h.errors(a).is_empty());
    h.text(m, json!({"type":"ban","user":"alice"}));
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::Banned));
    let again = h.open();
    let t = h.token("alice", Role::Viewer);
    h.text(again, json!({"type":"hello","token":t}));
    assert_eq!(h.errors(again), [ErrorCode::Banned]);
    assert!(h.closed.contains_key(&again));
    // The ban survives a restart.
    let mut h = h.restart();
    let c = h.open();
    let t = h.token("alice", Role::Viewer);
    h.text(c, json!({"type":"hello","token":t}));
    assert_eq!(h.errors(c), [ErrorCode::Banned]);
}

#[test]
fn per_user_rate_limit_then_flood_closes_the_connection() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for i in 0..5 {
        h.say(a, &format!("m{i}"));
    }
    h.say(a, "one too many");
    assert_eq!(h.errors(a), [ErrorCode::RateLimited]);
    // The connection bucket (burst 30) runs dry; 20 refusals in 10 s close it.
    for _ in 0..60 {
        h.text(a, json!({"type":"ping"}));
    }
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::Flood));
    assert!(h.room.stats().closed_for_abuse >= 1);
}

#[test]
fn bad_input_gets_an_error_and_the_connection_stays() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    for bad in [
        "not json",
        "{\"type\":\"nope\"}",
        "{\"type\":\"vote\"}",
        "[]",
        "{\"type\":\"danmaku\",\"text\":\"\"}",
    ] {
        h.input(Input::Text { conn: a, text: bad });
    }
    assert_eq!(
        h.errors(a),
        [
            ErrorCode::BadJson,
            ErrorCode::UnknownType,
            ErrorCode::Invalid,
            ErrorCode::BadJson,
            ErrorCode::Invalid
        ]
    );
    assert!(!h.closed.contains_key(&a));
    h.say(a, "still here");
    assert_eq!(danmaku_texts(&h.events(a)), ["still here"]);
}

#[test]
fn oversized_frame_gets_an_error_then_a_close() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let big = format!(
        "{{\"type\":\"danmaku\",\"text\":\"{}\"}}",
        "x".repeat(10_000)
    );
    h.input(Input::Text {
        conn: a,
        text: &big,
    });
    assert_eq!(h.errors(a), [ErrorCode::TooLarge]);
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::TooLarge));
}

#[test]
fn expired_or_forged_tokens_are_refused() {
    let mut h = Harness::new();
    let c = h.open();
    let expired = token::sign(
        SECRET,
        &Claims {
            room: "r1".into(),
            user: "x".into(),
            name: "x".into(),
            role: Role::Host,
            exp_ms: h.now - 1,
        },
    );
    h.text(c, json!({"type":"hello","token":expired}));
    let forged = token::sign(
        b"not-the-room-secret!!",
        &Claims {
            room: "r1".into(),
            user: "x".into(),
            name: "x".into(),
            role: Role::Host,
            exp_ms: h.now + 1000,
        },
    );
    h.text(c, json!({"type":"hello","token":forged}));
    h.text(c, json!({"type":"danmaku","text":"sneaky"}));
    assert_eq!(
        h.errors(c),
        [
            ErrorCode::TokenExpired,
            ErrorCode::Unauthorized,
            ErrorCode::NotJoined
        ]
    );
    assert!(!h.subscribed.contains(&c));
}

#[test]
fn nickname_viewer_gets_a_viewer_token_that_works_next_time() {
    let mut h = Harness::new();
    let c = h.open();
    h.text(c, json!({"type":"hello","nickname":"小明"}));
    let (user, tok) = h
        .take(c)
        .into_iter()
        .find_map(|m| match m {
            ServerMsg::Control(Control::Welcome { user, token, .. }) => Some((user, token)),
            _ => None,
        })
        .unwrap();
    assert_eq!(user.role, Role::Viewer);
    assert_eq!(user.name, "小明");
    let claims = token::verify(SECRET, &tok.unwrap(), "r1", h.now).unwrap();
    assert_eq!(claims.user, user.id);
    assert_eq!(claims.role, Role::Viewer);
    h.text(
        c,
        json!({"type":"poll_start","question":"q","options":["a","b"],"duration_s":30}),
    );
    assert_eq!(h.errors(c), [ErrorCode::Forbidden]);
}

#[test]
fn connection_without_hello_is_closed_after_the_timeout() {
    let mut h = Harness::new();
    let c = h.open();
    h.advance(11_000);
    assert_eq!(h.closed.get(&c).map(|c| c.0), Some(ErrorCode::NotJoined));
}

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

#[test]
fn one_vote_per_user_per_poll() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    let a2 = h.join("alice", Role::Viewer); // a second tab of the same user
    let poll = start_poll(&mut h, host, false);
    h.text(a, json!({"type":"vote","poll":poll,"option":1}));
    h.text(a2, json!({"type":"vote","poll":poll,"option":2}));
    assert_eq!(h.errors(a2), [ErrorCode::AlreadyVoted]);
    h.text(a, json!({"type":"vote","poll":poll,"option":7}));
    assert_eq!(h.errors(a), [ErrorCode::Invalid]);
    h.advance(1_000);
    let tally = h.take(host).into_iter().find_map(|m| match m {
        ServerMsg::Control(Control::PollTally { tallies, .. }) => Some(tallies),
        _ => None,
    });
    assert_eq!(tally.unwrap(), [0, 1, 0]);
    // Votes survive a restart and still block a second vote.
    let mut h = h.restart();
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"vote","poll":poll,"option":0}));
    assert_eq!(h.errors(a), [ErrorCode::AlreadyVoted]);
}

#[test]
fn poll_with_allow_change_moves_the_vote_and_ends_with_a_stored_result() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    let b = h.join("bob", Role::Viewer);
    let poll = start_poll(&mut h, host, true);
    h.text(a, json!({"type":"vote","poll":poll,"option":0}));
    h.text(b, json!({"type":"vote","poll":poll,"option":0}));
    h.text(a, json!({"type":"vote","poll":poll,"option":2}));
    assert!(h.errors(a).is_empty());
    h.take(host);
    h.advance(31_000);
    let ended = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::PollEnded { poll } => Some(poll),
        _ => None,
    });
    let ended = ended.expect("the poll ends by itself");
    assert_eq!(ended.tallies, [1, 0, 1]);
    assert!(!ended.open);
    h.text(b, json!({"type":"vote","poll":poll,"option":1}));
    assert_eq!(h.errors(b), [ErrorCode::PollClosed]);
    let h = h.restart();
    assert_eq!(h.room.durable_state().polls[0].result, [1, 0, 1]);
}

#[test]
fn tallies_are_broadcast_every_second_while_the_poll_is_open() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    start_poll(&mut h, host, false);
    let mut n = 0;
    for _ in 0..5 {
        h.advance(1_000);
        n += h
            .take(host)
            .iter()
            .filter(|m| matches!(m, ServerMsg::Control(Control::PollTally { .. })))
            .count();
    }
    assert_eq!(n, 5);
}

#[test]
fn lottery_entries_once_per_user_and_draw_is_reproducible_from_the_seed() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.text(
        host,
        json!({"type":"lottery_start","keyword":"我要抽奖","prize":"T-shirt"}),
    );
    let lot = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::LotteryStarted { lottery } => Some(lottery),
        _ => None,
    });
    let lot = lot.unwrap();
    assert_eq!(lot.seed.len(), 64);
    let mut conns = Vec::new();
    for i in 0..8 {
        let c = h.join(&format!("u{i}"), Role::Viewer);
        h.say(c, "我要 抽奖!");
        h.advance(1_100);
        h.say(c, "我要抽奖 again");
        conns.push(c);
    }
    h.say(host, "我要抽奖"); // the host does not enter
    h.text(
        host,
        json!({"type":"lottery_draw","lottery":lot.lottery,"winners":3}),
    );
    let drawn = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::LotteryDrawn { lottery, entrants } => Some((lottery, entrants)),
        _ => None,
    });
    let (info, entrants) = drawn.unwrap();
    assert_eq!(entrants.len(), 8);
    assert_eq!(info.winners.len(), 3);
    assert_eq!(info.winners, draw_winners(&lot.seed, &entrants, 3));
    // Anyone can check: the same seed and entrants give the same winners in any order.
    let mut shuffled = entrants.clone();
    shuffled.reverse();
    assert_eq!(draw_winners(&lot.seed, &shuffled, 3), info.winners);
    h.text(
        host,
        json!({"type":"lottery_draw","lottery":lot.lottery,"winners":3}),
    );
    assert_eq!(h.errors(host), [ErrorCode::NotFound]);
}

#[test]
fn lottery_entrants_survive_a_restart() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.text(
        host,
        json!({"type":"lottery_start","keyword":"go","prize":"cap"}),
    );
    let a = h.join("alice", Role::Viewer);
    h.say(a, "GO");
    let mut h = h.restart();
    let host = h.join("host", Role::Host);
    let lottery = h.room.durable_state().lotteries[0].lottery;
    h.text(
        host,
        json!({"type":"lottery_draw","lottery":lottery,"winners":1}),
    );
    let w = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::LotteryDrawn { lottery, .. } => Some(lottery),
        _ => None,
    });
    let w = w.unwrap();
    assert_eq!(w.winners, ["alice"]);
    assert_eq!(w.winner_names, ["ALICE"]);
}

#[test]
fn questions_queue_and_the_host_pins_one() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(
        a,
        json!({"type":"ask","text":"What is your favourite film?"}),
    );
    let q = h.events(host).into_iter().find_map(|e| match e.body {
        EventBody::Question { question } => Some(question),
        _ => None,
    });
    let q = q.unwrap();
    h.text(a, json!({"type":"pin_question","question":q.question}));
    assert_eq!(h.errors(a), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"pin_question","question":q.question}));
    let pinned = h.events(a).into_iter().find_map(|e| match e.body {
        EventBody::QuestionPinned { question } => Some(question),
        _ => None,
    });
    assert_eq!(
        pinned.unwrap().unwrap().text,
        "What is your favourite film?"
    );
    let h = h.restart();
    assert_eq!(h.room.view().pinned.unwrap().question, q.question);
}

#[test]
fn presence_is_aggregated_not_one_event_per_join() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    h.advance(1_000);
    h.take(host);
    for i in 0..50 {
        h.join(&format!("v{i}"), Role::Viewer);
    }
    assert!(
        h.take(host).is_empty(),
        "joins are not broadcast one by one"
    );
    h.advance(1_000);
    let p: Vec<ServerMsg> = h.take(host);
    assert_eq!(p.len(), 1);
    match &p[0] {
        ServerMsg::Control(Control::Presence {
            viewers,
            joins,
            joined,
            ..
        }) => {
            assert_eq!(*viewers, 51);
            assert_eq!(*joins, 50);
            assert!(joined.len() <= 10);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn moderator_cannot_close_the_room_but_host_can() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let m = h.join("mod", Role::Moderator);
    let a = h.join("alice", Role::Viewer);
    h.text(m, json!({"type":"close_room"}));
    assert_eq!(h.errors(m), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"close_room","reason":"good night"}));
    assert!(
        h.events(a)
            .iter()
            .any(|e| matches!(&e.body, EventBody::RoomClosed { reason } if reason == "good night"))
    );
    assert_eq!(h.closed.get(&a).map(|c| c.0), Some(ErrorCode::RoomClosed));
    let c = h.open();
    let t = h.token("bob", Role::Viewer);
    h.text(c, json!({"type":"hello","token":t}));
    assert_eq!(h.errors(c), [ErrorCode::RoomClosed]);
    // The host reopens it by joining.
    h.join("host", Role::Host);
    h.join("bob", Role::Viewer);
}

#[test]
fn untrusted_frames_never_panic() {
    let mut h = Harness::new();
    let a = h.join("alice", Role::Viewer);
    let m = h.join("mod", Role::Moderator);
    let mut rng = fastrand::Rng::with_seed(7);
    let samples = [
        r#"{"type":"gift","gift":"rose","count":4294967295,"key":"k"}"#,
        r#"{"type":"vote","poll":18446744073709551615,"option":4294967295}"#,
        r#"{"type":"delete","id":18446744073709551615}"#,
        r#"{"type":"timeout","user":"alice","seconds":4294967295}"#,
        r#"{"type":"lottery_draw","lottery":0,"winners":4294967295}"#,
        r#"{"type":"poll_start","question":"q","options":[],"duration_s":0}"#,
        r##"{"type":"danmaku","text":"\u0000\u0001","color":"#zzzzzz"}"##,
        r#"{"type":"hello","token":"mq1.....","nickname":""}"#,
        r#"{"type":"block_words","add":["","\u200b"]}"#,
        r#"{"type":"settings","slow_mode_s":99999999}"#,
    ];
    for i in 0..2_000u64 {
        h.now += 700;
        let base = samples[rng.usize(..samples.len())];
        let mut bytes = base.as_bytes().to_vec();
        if i % 2 == 0 && !bytes.is_empty() {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
        let text = String::from_utf8_lossy(&bytes).to_string();
        let conn = if i % 3 == 0 { m } else { a };
        h.input(Input::Text { conn, text: &text });
        if i % 50 == 0 {
            h.input(Input::Tick);
        }
    }
}

#[test]
fn leaderboard_is_per_stream_and_survives_a_restart() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let a = h.join("alice", Role::Viewer);
    h.text(a, json!({"type":"gift","gift":"cake","key":"s0-1"}));
    assert_eq!(h.room.view().leaderboard[0].coins, 52);
    h.text(a, json!({"type":"stream_start"}));
    assert_eq!(h.errors(a), [ErrorCode::Forbidden]);
    h.text(host, json!({"type":"stream_start"}));
    assert!(h.room.view().leaderboard.is_empty());
    h.text(a, json!({"type":"gift","gift":"rose","key":"s1-1"}));
    assert_eq!(h.room.view().leaderboard[0].coins, 1);
    let h = h.restart();
    assert_eq!(h.room.view().leaderboard[0].coins, 1);
    assert_eq!(h.store.clone().ledger("r1").unwrap().len(), 2);
}

#[test]
fn nickname_identities_per_network_are_rate_limited_and_a_kept_token_still_votes_once() {
    let mut h = Harness::new();
    let host = h.join("host", Role::Host);
    let poll = start_poll(&mut h, host, false);
    let burst = h.room.config().nick_issue_burst as usize;
    // A script opening fresh nickname identities from one address: `burst` of them, then no more.
    let mut first = None;
    for i in 0..burst {
        let (c, t) = h.nickname_join("203.0.113.7", &format!("bot{i}")).unwrap();
        h.text(c, json!({"type":"vote","poll":poll,"option":0}));
        assert!(h.errors(c).is_empty());
        first.get_or_insert(t);
    }
    assert_eq!(
        h.nickname_join("203.0.113.7", "one-more"),
        Err(ErrorCode::RateLimited)
    );
    // The same /64 is the same network; another address is not.
    for (ip, limited) in [
        ("2001:db8:1:2::1", false),
        ("2001:db8:1:2::ffff", false),
        ("198.51.100.9", false),
    ] {
        assert_eq!(h.nickname_join(ip, "x").is_err(), limited, "{ip}");
    }
    for _ in 2..burst {
        h.nickname_join("2001:db8:1:2:aaaa::1", "v6").unwrap();
    }
    assert_eq!(
        h.nickname_join("2001:db8:1:2:bbbb::2", "v6"),
        Err(ErrorCode::RateLimited)
    );
    // The first bot rejoins with its kept token (as the viewer page does): never limited, and
    // still the same voter.
    let c = h.open_from(Some("203.0.113.7"));
    let t = first.unwrap();
    h.text(c, json!({"type":"hello","token":t}));
    assert!(h.subscribed.contains(&c));
    h.take(c);
    h.text(c, json!({"type":"vote","poll":poll,"option":1}));
    assert_eq!(h.errors(c), [ErrorCode::AlreadyVoted]);
    // The bucket refills with time: one more identity after 1 / rate seconds.
    let wait = (1000.0 / h.room.config().nick_issue_rate_per_s) as u64;
    h.advance(wait);
    h.nickname_join("203.0.113.7", "later").unwrap();
    assert_eq!(
        h.nickname_join("203.0.113.7", "later2"),
        Err(ErrorCode::RateLimited)
    );
}

#[test]
fn tracked_networks_are_bounded_and_forgotten_once_refilled() {
    let mut cfg = RoomConfig::new("r1", SECRET);
    cfg.max_tracked_networks = 3;
    let (mut room, _) = Room::restore(cfg, Snapshot::default(), T0);
    let mut conn = 0;
    let mut hello = |room: &mut Room, ip: &str, now: u64| -> bool {
        conn += 1;
        room.handle(
            Input::Open {
                conn,
                ip: Some(ip.parse().unwrap()),
            },
            now,
        );
        let out = room.handle(
            Input::Text {
                conn,
                text: r#"{"type":"hello","nickname":"n"}"#,
            },
            now,
        );
        out.iter().any(|a| matches!(a, Action::Subscribe { .. }))
    };
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert!(hello(&mut room, ip, T0));
    }
    // Full, and nobody has refilled yet: a new network is refused, known ones still work.
    assert!(!hello(&mut room, "10.0.0.4", T0));
    assert!(hello(&mut room, "10.0.0.1", T0));
    // Once their buckets have refilled they are forgotten and make room.
    let refill = (1000.0 * 2.0 / room.config().nick_issue_rate_per_s) as u64;
    room.handle(Input::Tick, T0 + refill);
    assert!(hello(&mut room, "10.0.0.4", T0 + refill));
}
