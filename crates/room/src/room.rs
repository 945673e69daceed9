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
//! touches a socket. An IO layer may batch several inputs into one commit (the server does: group
//! commit), as long as every write is durable before any send that followed it.

use crate::filter::{Verdict, WordFilter, normalise};
use crate::protocol::{
    BlockedMode, ClientMsg, Control, DanmakuMode, ErrorCode, Event, EventBody, GiftDef,
    LeaderEntry, LotteryInfo, ModLogEntry, PollInfo, QuestionInfo, ResumePoint, Role, RoomView,
    ServerMsg, Settings, SettingsPatch, UserRef, decode_client,
};
use crate::token::{self, Claims, TokenError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// Identifies one connection, chosen by the IO layer.
pub type ConnId = u64;

/// Limits and knobs of a room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub room: String,
    /// HMAC secret for tokens (at least 16 bytes).
    pub secret: Vec<u8>,
    pub catalog: Vec<GiftDef>,
    /// Frames above this get `too_large` and the connection is closed.
    pub max_frame_bytes: usize,
    /// Longest danmaku, in characters.
    pub max_text_chars: usize,
    /// Events sent to a fresh joiner.
    pub history_on_join: usize,
    /// Events kept for resume; an older resume point is `not_recoverable`.
    pub resume_window: usize,
    /// Per-connection message rate (all message types) and burst.
    pub conn_rate_per_s: f64,
    pub conn_burst: f64,
    /// Rate-limit or bad-input strikes within 10 s before the connection is closed (`flood`).
    pub flood_strikes: u32,
    /// Per-user danmaku/question rate and burst (moderators exempt).
    pub user_rate_per_s: f64,
    pub user_burst: f64,
    /// Repeated sends of one gift by one user within this window form a combo (display only).
    pub combo_window_ms: u64,
    /// Lifetime of a token issued to a nickname-only viewer.
    pub viewer_token_ttl_ms: u64,
    /// Nickname identities issued per client network (IPv4 address, IPv6 /64): refill rate and
    /// burst. Each new identity is one more vote in a poll, so a script opening fresh
    /// nickname connections is held to this rate; a viewer who keeps its token is not limited.
    pub nick_issue_rate_per_s: f64,
    pub nick_issue_burst: f64,
    /// Client networks tracked for that limit (bounded memory); beyond it new nicknames are
    /// refused until entries age out.
    pub max_tracked_networks: usize,
    /// A connection that has not said hello by then is closed.
    pub hello_timeout_ms: u64,
    pub max_lottery_entrants: usize,
    /// Seed of the room's random numbers (lottery seeds, viewer ids, epochs).
    pub rng_seed: u64,
}

impl RoomConfig {
    pub fn new(room: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        RoomConfig {
            room: room.into(),
            secret: secret.into(),
            catalog: crate::gifts::default_catalog(),
            max_frame_bytes: 4096,
            max_text_chars: 100,
            history_on_join: 50,
            resume_window: 2048,
            conn_rate_per_s: 10.0,
            conn_burst: 30.0,
            flood_strikes: 20,
            user_rate_per_s: 1.0,
            user_burst: 5.0,
            combo_window_ms: 3_000,
            viewer_token_ttl_ms: 7 * 86_400_000,
            nick_issue_rate_per_s: 1.0 / 30.0,
            nick_issue_burst: 10.0,
            max_tracked_networks: 100_000,
            hello_timeout_ms: 10_000,
            max_lottery_entrants: 10_000,
            rng_seed: 0x5EED,
        }
    }
}

/// What the IO layer feeds in.
#[derive(Debug)]
pub enum Input<'a> {
    /// A connection was accepted (before its hello), from this client address if known.
    Open { conn: ConnId, ip: Option<IpAddr> },
    /// A text frame arrived.
    Text { conn: ConnId, text: &'a str },
    /// A binary frame arrived (not part of the protocol).
    Binary { conn: ConnId, len: usize },
    /// The connection is gone.
    Closed { conn: ConnId },
    /// Time passes; call at least every 250 ms.
    Tick,
    /// The ledger write asked for by [`Action::RecordGift`] is durable.
    GiftRecorded {
        conn: ConnId,
        gift: GiftRecord,
        outcome: GiftOutcome,
    },
    /// The ledger write failed; nothing was recorded.
    GiftFailed {
        conn: ConnId,
        key: String,
        error: String,
    },
}

/// A gift as written to the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftRecord {
    pub key: String,
    pub user: UserRef,
    pub gift: String,
    pub count: u32,
    pub coins: u64,
    pub at: u64,
    /// The stream (live session) it was sent in; the leaderboard is per stream.
    #[serde(default)]
    pub stream: u64,
}

/// Result of a ledger insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiftOutcome {
    Inserted,
    /// The key was already in the ledger: nothing new was recorded.
    Duplicate,
}

/// A durable write.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Event(Event),
    /// A message was deleted: blank its text in the log.
    Redact {
        seq: u64,
    },
    State(Box<DurableState>),
    Vote {
        poll: u64,
        user: String,
        option: u32,
    },
    LotteryEntry {
        lottery: u64,
        user: String,
        name: String,
    },
    ModLog(ModLogEntry),
}

/// What the IO layer must do.
#[derive(Debug, Clone)]
pub enum Action {
    Persist(Write),
    RecordGift {
        conn: ConnId,
        gift: GiftRecord,
    },
    Send {
        conn: ConnId,
        msg: ServerMsg,
    },
    /// To every subscribed connection.
    Broadcast(Arc<ServerMsg>),
    /// The connection has joined: include it in broadcasts from now on.
    Subscribe {
        conn: ConnId,
        /// It accepts `batch` frames (said so in its hello).
        batch: bool,
    },
    /// Send an error frame with this code and reason, then close the connection.
    Close {
        conn: ConnId,
        code: ErrorCode,
        reason: String,
    },
}

/// A poll as kept in the durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRec {
    pub poll: u64,
    pub question: String,
    pub options: Vec<String>,
    pub ends_at: u64,
    pub allow_change: bool,
    pub open: bool,
    /// Final tallies once closed.
    #[serde(default)]
    pub result: Vec<u64>,
}

/// A lottery as kept in the durable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotteryRec {
    pub lottery: u64,
    pub keyword: String,
    pub prize: String,
    pub seed: String,
    pub open: bool,
    #[serde(default)]
    pub winners: Vec<String>,
}

/// The part of the room state saved as one record (votes, lottery entries, gifts, events and
/// the moderation log have their own tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DurableState {
    pub epoch: u64,
    pub settings: Settings,
    pub blocked_words: Vec<String>,
    pub bans: BTreeSet<String>,
    pub timeouts: BTreeMap<String, u64>,
    pub polls: Vec<PollRec>,
    pub lotteries: Vec<LotteryRec>,
    pub questions: Vec<QuestionInfo>,
    pub pinned: Option<u64>,
    pub next_id: u64,
    pub closed: bool,
    /// The current stream (live session); `stream_start` begins a new one.
    #[serde(default)]
    pub stream: u64,
}

/// What storage hands back when a room is (re)opened.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub state: Option<DurableState>,
    /// The most recent events, ascending by seq.
    pub events: Vec<Event>,
    pub last_seq: u64,
    /// `(poll, user, option)`.
    pub votes: Vec<(u64, String, u32)>,
    /// `(lottery, user id, display name)`.
    pub entrants: Vec<(u64, String, String)>,
    /// Coins per user from the ledger.
    pub leaderboard: Vec<LeaderEntry>,
    pub modlog: Vec<ModLogEntry>,
}

/// The highest per-viewer rule a host may set (one message every 100 ms is no rule at all).
const MAX_USER_RATE_PER_MIN: u32 = 600;
const MAX_POLLS_KEPT: usize = 20;
const MAX_LOTTERIES_KEPT: usize = 20;
const MAX_QUESTIONS_KEPT: usize = 200;
const MAX_MODLOG_KEPT: usize = 500;
const STRIKE_WINDOW_MS: u64 = 10_000;
const STATE_TICK_MS: u64 = 1_000;
const MAX_QUESTION_CHARS: usize = 200;
const MAX_NICK_CHARS: usize = 24;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: u64,
}

impl Bucket {
    fn full(burst: f64, now: u64) -> Self {
        Bucket {
            tokens: burst,
            last: now,
        }
    }
    fn take(&mut self, now: u64, rate: f64, burst: f64) -> bool {
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
}

#[derive(Debug)]
struct Conn {
    user: Option<UserRef>,
    /// The client's network (see [`network`]).
    net: Option<IpAddr>,
    opened_at: u64,
    bucket: Bucket,
    strikes: u32,
    strikes_since: u64,
}

#[derive(Debug)]
struct UserState {
    last_speak: Option<u64>,
    /// When this viewer's recent messages were accepted (ms), oldest first; holds at most
    /// `user_rate_per_min` entries, so it is bounded by the room's rule.
    recent: VecDeque<u64>,
    bucket: Bucket,
    conns: u32,
    seen: u64,
}

#[derive(Debug)]
struct Poll {
    rec: PollRec,
    votes: HashMap<String, u32>,
    tallies: Vec<u64>,
}

impl Poll {
    fn info(&self) -> PollInfo {
        PollInfo {
            poll: self.rec.poll,
            question: self.rec.question.clone(),
            options: self.rec.options.clone(),
            ends_at: self.rec.ends_at,
            allow_change: self.rec.allow_change,
            tallies: self.tallies.clone(),
            open: self.rec.open,
        }
    }
}

#[derive(Debug)]
struct Lottery {
    rec: LotteryRec,
    /// User id → display name.
    entrants: HashMap<String, String>,
}

impl Lottery {
    fn info(&self) -> LotteryInfo {
        LotteryInfo {
            lottery: self.rec.lottery,
            keyword: self.rec.keyword.clone(),
            prize: self.rec.prize.clone(),
            seed: self.rec.seed.clone(),
            entrants: self.entrants.len() as u64,
            open: self.rec.open,
            winners: self.rec.winners.clone(),
            winner_names: self
                .rec
                .winners
                .iter()
                .map(|w| self.entrants.get(w).cloned().unwrap_or_else(|| w.clone()))
                .collect(),
        }
    }
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

/// The room state machine.
#[derive(Debug)]
pub struct Room {
    cfg: RoomConfig,
    epoch: u64,
    last_seq: u64,
    ring: VecDeque<Event>,
    conns: HashMap<ConnId, Conn>,
    users: HashMap<String, UserState>,
    settings: Settings,
    filter: WordFilter,
    bans: BTreeSet<String>,
    timeouts: BTreeMap<String, u64>,
    polls: Vec<Poll>,
    lotteries: Vec<Lottery>,
    questions: VecDeque<QuestionInfo>,
    pinned: Option<u64>,
    next_id: u64,
    closed: bool,
    stream: u64,
    leaderboard: HashMap<String, LeaderEntry>,
    combos: HashMap<(String, String), (u32, u64)>,
    modlog: VecDeque<ModLogEntry>,
    rng: fastrand::Rng,
    // aggregated presence and ephemeral state
    joins: u64,
    leaves: u64,
    recent_joined: Vec<String>,
    presence_dirty: bool,
    leaderboard_dirty: bool,
    lottery_dirty: bool,
    last_state_tick: u64,
    stats: RoomStats,
    /// Nickname identities issued per client network.
    nick_issue: HashMap<IpAddr, Bucket>,
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

/// Reproducible lottery draw: shuffle the sorted entrants with the published seed.
///
/// For `i` in `0..min(n, len)`: `h = SHA-256("{seed}:{i}")`, `r` = the first 8 bytes of `h` as a
/// big-endian u64, `j = i + r % (len - i)`, swap entries `i` and `j`. The winners are the first
/// `min(n, len)` entries.
pub fn draw_winners(seed: &str, entrants: &[String], n: usize) -> Vec<String> {
    let mut v: Vec<String> = entrants.to_vec();
    v.sort();
    let k = n.min(v.len());
    for i in 0..k {
        let h = Sha256::digest(format!("{seed}:{i}").as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[..8]);
        let r = u64::from_be_bytes(b);
        let j = i + (r % (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(k);
    v
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

fn valid_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit())
}

impl Room {
    /// Open a room from what storage had (an empty [`Snapshot`] for a new room). The returned
    /// actions persist the initial state of a new room.
    pub fn restore(cfg: RoomConfig, snap: Snapshot, now: u64) -> (Room, Vec<Action>) {
        let mut rng = fastrand::Rng::with_seed(cfg.rng_seed ^ now);
        let fresh = snap.state.is_none();
        let st = snap.state.unwrap_or_else(|| DurableState {
            // Random per room incarnation, never 0, and below 2^53 so that JavaScript's numbers
            // (the viewer page) hold it exactly.
            epoch: rng.u64(1..(1u64 << 53)),
            next_id: 1,
            ..DurableState::default()
        });
        let mut polls: Vec<Poll> = st
            .polls
            .into_iter()
            .map(|rec| {
                let tallies = vec![0; rec.options.len()];
                Poll {
                    rec,
                    votes: HashMap::new(),
                    tallies,
                }
            })
            .collect();
        for (poll, user, option) in snap.votes {
            if let Some(p) = polls.iter_mut().find(|p| p.rec.poll == poll)
                && let Some(t) = p.tallies.get_mut(option as usize)
            {
                *t += 1;
                p.votes.insert(user, option);
            }
        }
        let mut lotteries: Vec<Lottery> = st
            .lotteries
            .into_iter()
            .map(|rec| Lottery {
                rec,
                entrants: HashMap::new(),
            })
            .collect();
        for (lottery, user, name) in snap.entrants {
            if let Some(l) = lotteries.iter_mut().find(|l| l.rec.lottery == lottery) {
                l.entrants.insert(user, name);
            }
        }
        let mut ring: VecDeque<Event> = snap.events.into_iter().collect();
        while ring.len() > cfg.resume_window {
            ring.pop_front();
        }
        let last_seq = snap.last_seq.max(ring.back().map_or(0, |e| e.seq));
        let mut room = Room {
            epoch: st.epoch,
            last_seq,
            ring,
            conns: HashMap::new(),
            users: HashMap::new(),
            settings: st.settings,
            filter: WordFilter::new(&st.blocked_words),
            bans: st.bans,
            timeouts: st.timeouts,
            polls,
            lotteries,
            questions: st.questions.into_iter().collect(),
            pinned: st.pinned,
            next_id: st.next_id.max(1),
            closed: st.closed,
            stream: st.stream,
            leaderboard: snap
                .leaderboard
                .into_iter()
                .map(|e| (e.user.clone(), e))
                .collect(),
            combos: HashMap::new(),
            modlog: snap.modlog.into_iter().collect(),
            rng,
            joins: 0,
            leaves: 0,
            recent_joined: Vec::new(),
            presence_dirty: false,
            leaderboard_dirty: false,
            lottery_dirty: false,
            last_state_tick: now,
            stats: RoomStats::default(),
            nick_issue: HashMap::new(),
            cfg,
        };
        while room.modlog.len() > MAX_MODLOG_KEPT {
            room.modlog.pop_front();
        }
        let mut out = Vec::new();
        if fresh {
            room.persist_state(&mut out);
        }
        (room, out)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
    pub fn room_id(&self) -> &str {
        &self.cfg.room
    }
    pub fn config(&self) -> &RoomConfig {
        &self.cfg
    }
    /// Distinct users connected.
    pub fn viewers(&self) -> u64 {
        self.users.values().filter(|u| u.conns > 0).count() as u64
    }
    pub fn stats(&self) -> &RoomStats {
        &self.stats
    }
    /// Events kept for resume, ascending.
    pub fn recent_events(&self) -> impl Iterator<Item = &Event> {
        self.ring.iter()
    }

    /// The durable part of the state.
    pub fn durable_state(&self) -> DurableState {
        DurableState {
            epoch: self.epoch,
            settings: self.settings.clone(),
            blocked_words: self.filter.patterns().to_vec(),
            bans: self.bans.clone(),
            timeouts: self.timeouts.clone(),
            polls: self.polls.iter().map(|p| p.rec.clone()).collect(),
            lotteries: self.lotteries.iter().map(|l| l.rec.clone()).collect(),
            questions: self.questions.iter().cloned().collect(),
            pinned: self.pinned,
            next_id: self.next_id,
            closed: self.closed,
            stream: self.stream,
        }
    }

    /// Feed one input; get the actions to carry out.
    pub fn handle(&mut self, input: Input<'_>, now: u64) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Open { conn, ip } => {
                self.conns.insert(
                    conn,
                    Conn {
                        user: None,
                        net: ip.map(network),
                        opened_at: now,
                        bucket: Bucket::full(self.cfg.conn_burst, now),
                        strikes: 0,
                        strikes_since: now,
                    },
                );
            }
            Input::Closed { conn } => self.drop_conn(conn),
            Input::Text { conn, text } => self.on_text(conn, text, now, &mut out),
            Input::Binary { conn, .. } => {
                self.refuse(
                    conn,
                    ErrorCode::Invalid,
                    "binary frames are not part of the protocol",
                    now,
                    &mut out,
                );
            }
            Input::Tick => self.on_tick(now, &mut out),
            Input::GiftRecorded {
                conn,
                gift,
                outcome,
            } => self.on_gift_recorded(conn, gift, outcome, now, &mut out),
            Input::GiftFailed { conn, key, error } => {
                tracing::warn!(room = %self.cfg.room, %key, %error, "gift not recorded");
                self.send_error(
                    conn,
                    ErrorCode::Storage,
                    format!("gift {key} was not recorded; retry with the same key"),
                    &mut out,
                );
            }
        }
        out
    }

    // ---------------------------------------------------------------- helpers

    fn send(&self, conn: ConnId, msg: ServerMsg, out: &mut Vec<Action>) {
        out.push(Action::Send { conn, msg });
    }

    fn send_error(
        &mut self,
        conn: ConnId,
        code: ErrorCode,
        message: impl Into<String>,
        out: &mut Vec<Action>,
    ) {
        self.stats.errors_sent += 1;
        out.push(Action::Send {
            conn,
            msg: ServerMsg::error(code, message),
        });
    }

    fn close(
        &mut self,
        conn: ConnId,
        code: ErrorCode,
        reason: impl Into<String>,
        out: &mut Vec<Action>,
    ) {
        if matches!(code, ErrorCode::Flood | ErrorCode::TooLarge) {
            self.stats.closed_for_abuse += 1;
        }
        out.push(Action::Close {
            conn,
            code,
            reason: reason.into(),
        });
        self.drop_conn(conn);
    }

    /// An error that also counts as a strike; too many strikes close the connection.
    fn refuse(
        &mut self,
        conn: ConnId,
        code: ErrorCode,
        message: impl Into<String>,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        self.send_error(conn, code, message, out);
        let limit = self.cfg.flood_strikes;
        let Some(c) = self.conns.get_mut(&conn) else {
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
                out,
            );
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(u) = c.user
            && let Some(us) = self.users.get_mut(&u.id)
        {
            us.conns = us.conns.saturating_sub(1);
            if us.conns == 0 {
                self.leaves += 1;
                self.presence_dirty = true;
            }
        }
    }

    fn emit(&mut self, body: EventBody, now: u64, out: &mut Vec<Action>) -> u64 {
        self.last_seq += 1;
        let ev = Event {
            seq: self.last_seq,
            epoch: self.epoch,
            at: now,
            body,
        };
        self.ring.push_back(ev.clone());
        while self.ring.len() > self.cfg.resume_window {
            self.ring.pop_front();
        }
        out.push(Action::Persist(Write::Event(ev.clone())));
        out.push(Action::Broadcast(Arc::new(ServerMsg::Event(ev))));
        self.last_seq
    }

    fn persist_state(&self, out: &mut Vec<Action>) {
        out.push(Action::Persist(Write::State(Box::new(
            self.durable_state(),
        ))));
    }

    fn modlog(
        &mut self,
        now: u64,
        actor: &UserRef,
        action: &str,
        target: &str,
        detail: String,
        out: &mut Vec<Action>,
    ) {
        let e = ModLogEntry {
            at: now,
            actor: actor.id.clone(),
            action: action.to_string(),
            target: target.to_string(),
            detail,
        };
        self.modlog.push_back(e.clone());
        while self.modlog.len() > MAX_MODLOG_KEPT {
            self.modlog.pop_front();
        }
        out.push(Action::Persist(Write::ModLog(e)));
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn leaderboard_top(&self) -> Vec<LeaderEntry> {
        let mut v: Vec<LeaderEntry> = self.leaderboard.values().cloned().collect();
        v.sort_by(|a, b| b.coins.cmp(&a.coins).then_with(|| a.user.cmp(&b.user)));
        v.truncate(10);
        v
    }

    fn view(&self) -> RoomView {
        RoomView {
            settings: self.settings.clone(),
            viewers: self.viewers(),
            poll: self.polls.iter().rev().find(|p| p.rec.open).map(Poll::info),
            lottery: self.lotteries.last().map(Lottery::info),
            pinned: self
                .pinned
                .and_then(|id| self.questions.iter().find(|q| q.question == id).cloned()),
            leaderboard: self.leaderboard_top(),
            catalog: self.cfg.catalog.clone(),
        }
    }

    fn history(&self) -> Vec<Event> {
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

    // ---------------------------------------------------------------- input

    fn on_text(&mut self, conn: ConnId, text: &str, now: u64, out: &mut Vec<Action>) {
        let (rate, burst) = (self.cfg.conn_rate_per_s, self.cfg.conn_burst);
        let Some(c) = self.conns.get_mut(&conn) else {
            // Unknown connection (already closed): ignore.
            return;
        };
        if !c.bucket.take(now, rate, burst) {
            self.refuse(
                conn,
                ErrorCode::RateLimited,
                format!("more than {rate} messages per second"),
                now,
                out,
            );
            return;
        }
        let msg = match decode_client(text, self.cfg.max_frame_bytes) {
            Ok(m) => m,
            Err(e) if e.code == ErrorCode::TooLarge => {
                self.send_error(conn, e.code, e.message.clone(), out);
                self.close(conn, ErrorCode::TooLarge, e.message, out);
                return;
            }
            Err(e) => {
                self.refuse(conn, e.code, e.message, now, out);
                return;
            }
        };
        let user = self.conns.get(&conn).and_then(|c| c.user.clone());
        match (msg, user) {
            (
                ClientMsg::Hello {
                    token,
                    nickname,
                    resume,
                    batch,
                },
                None,
            ) => self.on_hello(conn, token, nickname, resume, batch, now, out),
            (ClientMsg::Hello { .. }, Some(_)) => {
                self.refuse(conn, ErrorCode::AlreadyJoined, "already joined", now, out)
            }
            (ClientMsg::Ping { t }, _) => self.send(
                conn,
                ServerMsg::Control(Control::Pong {
                    t,
                    server_time: now,
                }),
                out,
            ),
            (_, None) => self.refuse(conn, ErrorCode::NotJoined, "send hello first", now, out),
            (msg, Some(user)) => self.on_msg(conn, user, msg, now, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_hello(
        &mut self,
        conn: ConnId,
        token: Option<String>,
        nickname: Option<String>,
        resume: Option<ResumePoint>,
        batch: bool,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let mut issued = None;
        let user = match (token, nickname) {
            (Some(t), _) => match token::verify(&self.cfg.secret, &t, &self.cfg.room, now) {
                Ok(c) => UserRef {
                    id: c.user,
                    name: c.name,
                    role: c.role,
                },
                Err(TokenError::Expired) => {
                    self.refuse(conn, ErrorCode::TokenExpired, "token expired", now, out);
                    return;
                }
                Err(e) => {
                    self.refuse(
                        conn,
                        ErrorCode::Unauthorized,
                        format!("token refused: {e}"),
                        now,
                        out,
                    );
                    return;
                }
            },
            (None, Some(nick)) => {
                let nick = clean_text(&nick);
                let n = nick.chars().count();
                if n == 0 || n > MAX_NICK_CHARS {
                    self.refuse(
                        conn,
                        ErrorCode::Invalid,
                        format!("nickname must be 1 to {MAX_NICK_CHARS} characters"),
                        now,
                        out,
                    );
                    return;
                }
                if matches!(self.filter.check(&nick), Verdict::Matched { .. }) {
                    self.refuse(
                        conn,
                        ErrorCode::BlockedWord,
                        "nickname contains a blocked word",
                        now,
                        out,
                    );
                    return;
                }
                let net = self.conns.get(&conn).and_then(|c| c.net);
                if let Some(net) = net
                    && !self.take_nick_issue(net, now)
                {
                    self.refuse(
                        conn,
                        ErrorCode::RateLimited,
                        "too many new nickname viewers from your network; try again later, \
                         rejoin with the token you were given, or ask the host for one",
                        now,
                        out,
                    );
                    return;
                }
                let id = format!("v-{:012x}", self.rng.u64(..) & 0xffff_ffff_ffff);
                let claims = Claims {
                    room: self.cfg.room.clone(),
                    user: id.clone(),
                    name: nick.clone(),
                    role: Role::Viewer,
                    exp_ms: now.saturating_add(self.cfg.viewer_token_ttl_ms),
                };
                issued = Some(token::sign(&self.cfg.secret, &claims));
                UserRef {
                    id,
                    name: nick,
                    role: Role::Viewer,
                }
            }
            (None, None) => {
                self.refuse(
                    conn,
                    ErrorCode::Invalid,
                    "hello needs a token or a nickname",
                    now,
                    out,
                );
                return;
            }
        };
        if self.bans.contains(&user.id) {
            self.send_error(
                conn,
                ErrorCode::Banned,
                "you are banned from this room",
                out,
            );
            self.close(conn, ErrorCode::Banned, "banned", out);
            return;
        }
        if self.closed {
            if user.role == Role::Host {
                self.closed = false;
                self.persist_state(out);
            } else {
                self.send_error(conn, ErrorCode::RoomClosed, "the room is closed", out);
                self.close(conn, ErrorCode::RoomClosed, "room closed", out);
                return;
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.user = Some(user.clone());
        }
        let burst = self.cfg.user_burst;
        let us = self.users.entry(user.id.clone()).or_insert(UserState {
            last_speak: None,
            recent: VecDeque::new(),
            bucket: Bucket::full(burst, now),
            conns: 0,
            seen: now,
        });
        us.conns += 1;
        us.seen = now;
        if us.conns == 1 {
            self.joins += 1;
            self.presence_dirty = true;
            if self.recent_joined.len() < 10 && !self.recent_joined.contains(&user.name) {
                self.recent_joined.push(user.name.clone());
            }
        }
        self.send(
            conn,
            ServerMsg::Control(Control::Welcome {
                room: self.cfg.room.clone(),
                epoch: self.epoch,
                seq: self.last_seq,
                user,
                token: issued,
                view: Box::new(self.view()),
            }),
            out,
        );
        match resume {
            Some(rp) => match self.replay_since(rp) {
                Ok(events) => self.send(
                    conn,
                    ServerMsg::Control(Control::Replay {
                        epoch: self.epoch,
                        events,
                    }),
                    out,
                ),
                Err(reason) => {
                    self.send(
                        conn,
                        ServerMsg::Control(Control::NotRecoverable {
                            epoch: self.epoch,
                            reason,
                        }),
                        out,
                    );
                    self.send(
                        conn,
                        ServerMsg::Control(Control::History {
                            epoch: self.epoch,
                            events: self.history(),
                        }),
                        out,
                    );
                }
            },
            None => self.send(
                conn,
                ServerMsg::Control(Control::History {
                    epoch: self.epoch,
                    events: self.history(),
                }),
                out,
            ),
        }
        out.push(Action::Subscribe { conn, batch });
    }

    /// Exactly the events after `rp`, or why that is impossible.
    fn replay_since(&self, rp: ResumePoint) -> Result<Vec<Event>, String> {
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

    fn on_msg(
        &mut self,
        conn: ConnId,
        user: UserRef,
        msg: ClientMsg,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let is_mod = user.role.can_moderate();
        let needs_mod = matches!(
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
        );
        if needs_mod && !is_mod {
            self.refuse(
                conn,
                ErrorCode::Forbidden,
                format!("a {} may not do that", user.role),
                now,
                out,
            );
            return;
        }
        match msg {
            ClientMsg::Hello { .. } | ClientMsg::Ping { .. } => {}
            ClientMsg::Danmaku { text, color, mode } => {
                self.on_danmaku(conn, user, text, color, mode, now, out)
            }
            ClientMsg::Ask { text } => self.on_ask(conn, user, text, now, out),
            ClientMsg::Gift { gift, count, key } => {
                self.on_gift(conn, user, gift, count, key, now, out)
            }
            ClientMsg::Vote { poll, option } => self.on_vote(conn, user, poll, option, now, out),
            ClientMsg::Delete { id } => {
                if id == 0 || id > self.last_seq {
                    self.send_error(conn, ErrorCode::NotFound, format!("no message {id}"), out);
                    return;
                }
                let mut known = false;
                for e in self.ring.iter_mut() {
                    if e.seq == id
                        && let EventBody::Danmaku { text, deleted, .. } = &mut e.body
                    {
                        text.clear();
                        *deleted = true;
                        known = true;
                    }
                }
                if !known && self.ring.front().is_some_and(|e| e.seq <= id) {
                    self.send_error(
                        conn,
                        ErrorCode::NotFound,
                        format!("{id} is not a message"),
                        out,
                    );
                    return;
                }
                out.push(Action::Persist(Write::Redact { seq: id }));
                self.modlog(now, &user, "delete", &id.to_string(), String::new(), out);
                self.emit(
                    EventBody::MessageDeleted {
                        id,
                        by: user.id.clone(),
                    },
                    now,
                    out,
                );
            }
            ClientMsg::Timeout {
                user: target,
                seconds,
            } => {
                if target == user.id || seconds == 0 || seconds > 7 * 86_400 {
                    self.send_error(
                        conn,
                        ErrorCode::Invalid,
                        "timeout: 1 s to 7 days, not yourself",
                        out,
                    );
                    return;
                }
                let until = now + u64::from(seconds) * 1000;
                self.timeouts.insert(target.clone(), until);
                self.modlog(now, &user, "timeout", &target, format!("{seconds}s"), out);
                self.persist_state(out);
                self.emit(
                    EventBody::UserTimedOut {
                        user: target,
                        until,
                        by: user.id,
                    },
                    now,
                    out,
                );
            }
            ClientMsg::Ban { user: target } => {
                if target == user.id {
                    self.send_error(conn, ErrorCode::Invalid, "you cannot ban yourself", out);
                    return;
                }
                self.bans.insert(target.clone());
                self.modlog(now, &user, "ban", &target, String::new(), out);
                self.persist_state(out);
                self.emit(
                    EventBody::UserBanned {
                        user: target.clone(),
                        by: user.id,
                    },
                    now,
                    out,
                );
                let victims: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.user.as_ref().is_some_and(|u| u.id == target))
                    .map(|(id, _)| *id)
                    .collect();
                for v in victims {
                    self.close(v, ErrorCode::Banned, "banned by a moderator", out);
                }
            }
            ClientMsg::Unban { user: target } => {
                self.bans.remove(&target);
                self.timeouts.remove(&target);
                self.modlog(now, &user, "unban", &target, String::new(), out);
                self.persist_state(out);
                self.emit(
                    EventBody::UserUnbanned {
                        user: target,
                        by: user.id,
                    },
                    now,
                    out,
                );
            }
            ClientMsg::BlockWords { add, remove } => {
                let mut words: Vec<String> = self
                    .filter
                    .patterns()
                    .iter()
                    .filter(|w| !remove.contains(w))
                    .cloned()
                    .collect();
                for w in add {
                    let w = clean_text(&w);
                    if w.chars().count() > crate::filter::MAX_PATTERN_CHARS {
                        self.send_error(conn, ErrorCode::Invalid, "blocked word too long", out);
                        return;
                    }
                    if !w.is_empty() && !words.contains(&w) {
                        words.push(w);
                    }
                }
                if words.len() > crate::filter::MAX_PATTERNS {
                    self.send_error(conn, ErrorCode::Invalid, "too many blocked words", out);
                    return;
                }
                self.filter.set(&words);
                let count = self.filter.patterns().len() as u32;
                self.modlog(now, &user, "block_words", "", format!("{count} words"), out);
                self.persist_state(out);
                self.emit(
                    EventBody::BlockedWordsChanged { count, by: user.id },
                    now,
                    out,
                );
            }
            ClientMsg::Settings(SettingsPatch {
                slow_mode_s,
                mods_only,
                blocked_mode,
                user_rate_per_min,
            }) => {
                if user_rate_per_min.is_some_and(|r| r > MAX_USER_RATE_PER_MIN) {
                    self.send_error(
                        conn,
                        ErrorCode::Invalid,
                        format!("at most {MAX_USER_RATE_PER_MIN} messages per viewer per minute"),
                        out,
                    );
                    return;
                }
                if let Some(s) = slow_mode_s {
                    if s > 3600 {
                        self.send_error(conn, ErrorCode::Invalid, "slow mode at most 3600 s", out);
                        return;
                    }
                    self.settings.slow_mode_s = s;
                }
                if let Some(m) = mods_only {
                    self.settings.mods_only = m;
                }
                if let Some(b) = blocked_mode {
                    self.settings.blocked_mode = b;
                }
                if let Some(r) = user_rate_per_min {
                    self.settings.user_rate_per_min = r;
                }
                let detail = serde_json::to_string(&self.settings).unwrap_or_default();
                self.modlog(now, &user, "settings", "", detail, out);
                self.persist_state(out);
                self.emit(
                    EventBody::SettingsChanged {
                        settings: self.settings.clone(),
                        by: user.id,
                    },
                    now,
                    out,
                );
            }
            ClientMsg::PollStart {
                question,
                options,
                duration_s,
                allow_change,
            } => {
                let question = clean_text(&question);
                let options: Vec<String> = options.iter().map(|o| clean_text(o)).collect();
                if self.polls.iter().any(|p| p.rec.open) {
                    self.send_error(conn, ErrorCode::Invalid, "a poll is already open", out);
                    return;
                }
                if question.is_empty()
                    || question.chars().count() > 120
                    || !(2..=6).contains(&options.len())
                    || options
                        .iter()
                        .any(|o| o.is_empty() || o.chars().count() > 40)
                    || !(5..=3600).contains(&duration_s)
                {
                    self.send_error(
                        conn,
                        ErrorCode::Invalid,
                        "poll: question 1-120 chars, 2-6 options of 1-40 chars, 5-3600 s",
                        out,
                    );
                    return;
                }
                let id = self.next_id();
                let tallies = vec![0; options.len()];
                let rec = PollRec {
                    poll: id,
                    question,
                    options,
                    ends_at: now + u64::from(duration_s) * 1000,
                    allow_change,
                    open: true,
                    result: Vec::new(),
                };
                self.polls.push(Poll {
                    rec,
                    votes: HashMap::new(),
                    tallies,
                });
                if self.polls.len() > MAX_POLLS_KEPT {
                    self.polls.remove(0);
                }
                self.modlog(
                    now,
                    &user,
                    "poll_start",
                    &id.to_string(),
                    String::new(),
                    out,
                );
                self.persist_state(out);
                let info = self.polls.last().map(Poll::info);
                if let Some(poll) = info {
                    self.emit(EventBody::PollStarted { poll }, now, out);
                }
            }
            ClientMsg::PollEnd { poll } => {
                if !self.polls.iter().any(|p| p.rec.poll == poll && p.rec.open) {
                    self.send_error(
                        conn,
                        ErrorCode::NotFound,
                        format!("no open poll {poll}"),
                        out,
                    );
                    return;
                }
                self.modlog(
                    now,
                    &user,
                    "poll_end",
                    &poll.to_string(),
                    String::new(),
                    out,
                );
                self.end_poll(poll, now, out);
            }
            ClientMsg::PinQuestion { question } => {
                let info = match question {
                    None => None,
                    Some(id) => match self.questions.iter().find(|q| q.question == id) {
                        Some(q) => Some(q.clone()),
                        None => {
                            self.send_error(
                                conn,
                                ErrorCode::NotFound,
                                format!("no question {id}"),
                                out,
                            );
                            return;
                        }
                    },
                };
                self.pinned = question;
                self.persist_state(out);
                self.emit(EventBody::QuestionPinned { question: info }, now, out);
            }
            ClientMsg::LotteryStart { keyword, prize } => {
                let keyword = clean_text(&keyword);
                let prize = clean_text(&prize);
                let kc = normalise(&keyword).0.chars().count();
                if kc == 0
                    || keyword.chars().count() > 20
                    || prize.is_empty()
                    || prize.chars().count() > 60
                {
                    self.send_error(
                        conn,
                        ErrorCode::Invalid,
                        "lottery: keyword 1-20 chars (letters or digits), prize 1-60 chars",
                        out,
                    );
                    return;
                }
                if self.lotteries.iter().any(|l| l.rec.open) {
                    self.send_error(conn, ErrorCode::Invalid, "a lottery is already open", out);
                    return;
                }
                let id = self.next_id();
                let mut raw = [0u8; 32];
                for chunk in raw.chunks_mut(8) {
                    chunk.copy_from_slice(&self.rng.u64(..).to_le_bytes());
                }
                let seed = hex(&Sha256::digest(raw));
                self.lotteries.push(Lottery {
                    rec: LotteryRec {
                        lottery: id,
                        keyword,
                        prize,
                        seed,
                        open: true,
                        winners: Vec::new(),
                    },
                    entrants: HashMap::new(),
                });
                if self.lotteries.len() > MAX_LOTTERIES_KEPT {
                    self.lotteries.remove(0);
                }
                self.modlog(
                    now,
                    &user,
                    "lottery_start",
                    &id.to_string(),
                    String::new(),
                    out,
                );
                self.persist_state(out);
                let info = self.lotteries.last().map(Lottery::info);
                if let Some(lottery) = info {
                    self.emit(EventBody::LotteryStarted { lottery }, now, out);
                }
            }
            ClientMsg::LotteryDraw { lottery, winners } => {
                let Some(l) = self
                    .lotteries
                    .iter_mut()
                    .find(|l| l.rec.lottery == lottery && l.rec.open)
                else {
                    self.send_error(
                        conn,
                        ErrorCode::NotFound,
                        format!("no open lottery {lottery}"),
                        out,
                    );
                    return;
                };
                if winners == 0 || winners > 100 {
                    self.send_error(conn, ErrorCode::Invalid, "1 to 100 winners", out);
                    return;
                }
                let mut entrants: Vec<String> = l.entrants.keys().cloned().collect();
                entrants.sort();
                l.rec.winners = draw_winners(&l.rec.seed, &entrants, winners as usize);
                l.rec.open = false;
                let info = l.info();
                let detail = info.winners.join(",");
                self.modlog(
                    now,
                    &user,
                    "lottery_draw",
                    &lottery.to_string(),
                    detail,
                    out,
                );
                self.persist_state(out);
                self.emit(
                    EventBody::LotteryDrawn {
                        lottery: info,
                        entrants,
                    },
                    now,
                    out,
                );
            }
            ClientMsg::Modlog { limit } => {
                let n = (limit as usize).min(MAX_MODLOG_KEPT);
                let skip = self.modlog.len().saturating_sub(n);
                let entries = self.modlog.iter().skip(skip).cloned().collect();
                self.send(conn, ServerMsg::Control(Control::Modlog { entries }), out);
            }
            ClientMsg::StreamStart => {
                self.stream += 1;
                self.leaderboard.clear();
                self.leaderboard_dirty = true;
                self.combos.clear();
                self.modlog(
                    now,
                    &user,
                    "stream_start",
                    &self.stream.to_string(),
                    String::new(),
                    out,
                );
                self.persist_state(out);
                self.emit(
                    EventBody::StreamStarted {
                        stream: self.stream,
                    },
                    now,
                    out,
                );
            }
            ClientMsg::CloseRoom { reason } => {
                if user.role != Role::Host {
                    self.refuse(
                        conn,
                        ErrorCode::Forbidden,
                        "only the host may close the room",
                        now,
                        out,
                    );
                    return;
                }
                let reason = if reason.trim().is_empty() {
                    "the host closed the room".to_string()
                } else {
                    clean_text(&reason).chars().take(200).collect()
                };
                self.closed = true;
                self.modlog(now, &user, "close_room", "", reason.clone(), out);
                self.persist_state(out);
                self.emit(
                    EventBody::RoomClosed {
                        reason: reason.clone(),
                    },
                    now,
                    out,
                );
                let all: Vec<ConnId> = self.conns.keys().copied().collect();
                for c in all {
                    self.close(c, ErrorCode::RoomClosed, reason.clone(), out);
                }
            }
        }
    }

    /// Checks shared by danmaku and questions: mute, mods-only, slow mode, per-user rate.
    fn may_speak(&mut self, conn: ConnId, user: &UserRef, now: u64, out: &mut Vec<Action>) -> bool {
        if user.role.can_moderate() {
            return true;
        }
        if let Some(&until) = self.timeouts.get(&user.id)
            && until > now
        {
            self.send_error(
                conn,
                ErrorCode::Muted,
                format!("you are muted for {} more s", (until - now).div_ceil(1000)),
                out,
            );
            return false;
        }
        if self.settings.mods_only {
            self.send_error(
                conn,
                ErrorCode::ModsOnly,
                "only moderators may speak now",
                out,
            );
            return false;
        }
        let slow_ms = u64::from(self.settings.slow_mode_s) * 1000;
        let (rate, burst) = (self.cfg.user_rate_per_s, self.cfg.user_burst);
        let Some(us) = self.users.get_mut(&user.id) else {
            return false;
        };
        if let Some(last) = us.last_speak
            && slow_ms > 0
            && now < last + slow_ms
        {
            let wait = (last + slow_ms - now).div_ceil(1000);
            self.send_error(
                conn,
                ErrorCode::SlowMode,
                format!("slow mode: wait {wait} s"),
                out,
            );
            return false;
        }
        let per_min = self.settings.user_rate_per_min as usize;
        if per_min > 0 {
            while us.recent.front().is_some_and(|&t| t + 60_000 <= now) {
                us.recent.pop_front();
            }
            while us.recent.len() > per_min {
                us.recent.pop_front(); // the host lowered the limit
            }
            if us.recent.len() == per_min {
                let wait = (us.recent[0] + 60_000 - now).div_ceil(1000);
                self.send_error(
                    conn,
                    ErrorCode::SlowMode,
                    format!("{per_min} messages a minute in this room: wait {wait} s"),
                    out,
                );
                return false;
            }
        }
        if !us.bucket.take(now, rate, burst) {
            self.refuse(
                conn,
                ErrorCode::RateLimited,
                "you are sending too fast",
                now,
                out,
            );
            return false;
        }
        us.last_speak = Some(now);
        us.seen = now;
        if per_min > 0 {
            us.recent.push_back(now);
        } else {
            us.recent.clear();
        }
        true
    }

    /// Blocked-word policy: the text to publish and whether it was masked, or `None` if rejected.
    fn screen(
        &mut self,
        conn: ConnId,
        text: String,
        out: &mut Vec<Action>,
    ) -> Option<(String, bool)> {
        match self.filter.check(&text) {
            Verdict::Clean => Some((text, false)),
            Verdict::Matched { masked } => match self.settings.blocked_mode {
                BlockedMode::Mask => Some((masked, true)),
                BlockedMode::Reject => {
                    self.send_error(
                        conn,
                        ErrorCode::BlockedWord,
                        "the message contains a blocked word",
                        out,
                    );
                    None
                }
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_danmaku(
        &mut self,
        conn: ConnId,
        user: UserRef,
        text: String,
        color: Option<String>,
        mode: DanmakuMode,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let text = clean_text(&text);
        let n = text.chars().count();
        if n == 0 || n > self.cfg.max_text_chars {
            let max = self.cfg.max_text_chars;
            self.refuse(
                conn,
                ErrorCode::Invalid,
                format!("danmaku must be 1 to {max} characters"),
                now,
                out,
            );
            return;
        }
        let color = color.unwrap_or_else(|| "#ffffff".to_string());
        if !valid_color(&color) {
            self.refuse(
                conn,
                ErrorCode::Invalid,
                "color must look like #rrggbb",
                now,
                out,
            );
            return;
        }
        if !self.may_speak(conn, &user, now, out) {
            return;
        }
        let Some((text, masked)) = self.screen(conn, text, out) else {
            return;
        };
        // Lottery entry: the keyword anywhere in the (normalised) message, once per user.
        if user.role != Role::Host {
            let norm = normalise(&text).0;
            let max = self.cfg.max_lottery_entrants;
            if let Some(l) = self.lotteries.iter_mut().find(|l| l.rec.open) {
                let kw = normalise(&l.rec.keyword).0;
                if !masked
                    && norm.contains(&kw)
                    && l.entrants.len() < max
                    && !l.entrants.contains_key(&user.id)
                {
                    l.entrants.insert(user.id.clone(), user.name.clone());
                    out.push(Action::Persist(Write::LotteryEntry {
                        lottery: l.rec.lottery,
                        user: user.id.clone(),
                        name: user.name.clone(),
                    }));
                    self.lottery_dirty = true;
                }
            }
        }
        self.stats.danmaku += 1;
        let id = self.last_seq + 1;
        self.emit(
            EventBody::Danmaku {
                id,
                user,
                text,
                color: color.to_ascii_lowercase(),
                mode,
                masked,
                deleted: false,
            },
            now,
            out,
        );
    }

    fn on_ask(
        &mut self,
        conn: ConnId,
        user: UserRef,
        text: String,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let text = clean_text(&text);
        let n = text.chars().count();
        if n == 0 || n > MAX_QUESTION_CHARS {
            self.refuse(
                conn,
                ErrorCode::Invalid,
                format!("a question is 1 to {MAX_QUESTION_CHARS} characters"),
                now,
                out,
            );
            return;
        }
        if !self.may_speak(conn, &user, now, out) {
            return;
        }
        let Some((text, _)) = self.screen(conn, text, out) else {
            return;
        };
        let id = self.next_id();
        let q = QuestionInfo {
            question: id,
            user,
            text,
        };
        self.questions.push_back(q.clone());
        while self.questions.len() > MAX_QUESTIONS_KEPT {
            self.questions.pop_front();
        }
        self.persist_state(out);
        self.emit(EventBody::Question { question: q }, now, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_gift(
        &mut self,
        conn: ConnId,
        user: UserRef,
        gift: String,
        count: u32,
        key: String,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(def) = self.cfg.catalog.iter().find(|g| g.id == gift) else {
            self.refuse(
                conn,
                ErrorCode::NotFound,
                format!("no gift {gift:?} in the catalog"),
                now,
                out,
            );
            return;
        };
        if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_graphic()) {
            self.refuse(
                conn,
                ErrorCode::Invalid,
                "key: 1 to 64 printable ASCII characters",
                now,
                out,
            );
            return;
        }
        if count == 0 || count > 9_999 {
            self.refuse(conn, ErrorCode::Invalid, "count: 1 to 9999", now, out);
            return;
        }
        let coins = def.price.saturating_mul(u64::from(count));
        out.push(Action::RecordGift {
            conn,
            gift: GiftRecord {
                key,
                user,
                gift,
                count,
                coins,
                at: now,
                stream: self.stream,
            },
        });
    }

    fn on_gift_recorded(
        &mut self,
        conn: ConnId,
        gift: GiftRecord,
        outcome: GiftOutcome,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        match outcome {
            GiftOutcome::Duplicate => {
                self.stats.duplicate_gifts += 1;
                self.send(
                    conn,
                    ServerMsg::Control(Control::GiftAck {
                        key: gift.key,
                        duplicate: true,
                    }),
                    out,
                );
            }
            GiftOutcome::Inserted => {
                self.stats.gifts += 1;
                let e = self
                    .leaderboard
                    .entry(gift.user.id.clone())
                    .or_insert_with(|| LeaderEntry {
                        user: gift.user.id.clone(),
                        name: gift.user.name.clone(),
                        coins: 0,
                    });
                e.coins = e.coins.saturating_add(gift.coins);
                self.leaderboard_dirty = true;
                let window = self.cfg.combo_window_ms;
                let combo = self
                    .combos
                    .entry((gift.user.id.clone(), gift.gift.clone()))
                    .and_modify(|(n, last)| {
                        if now.saturating_sub(*last) <= window {
                            *n += 1;
                        } else {
                            *n = 1;
                        }
                        *last = now;
                    })
                    .or_insert((1, now))
                    .0;
                self.send(
                    conn,
                    ServerMsg::Control(Control::GiftAck {
                        key: gift.key.clone(),
                        duplicate: false,
                    }),
                    out,
                );
                self.emit(
                    EventBody::Gift {
                        user: gift.user,
                        gift: gift.gift,
                        count: gift.count,
                        coins: gift.coins,
                        key: gift.key,
                        combo,
                    },
                    now,
                    out,
                );
            }
        }
    }

    fn on_vote(
        &mut self,
        conn: ConnId,
        user: UserRef,
        poll: u64,
        option: u32,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(p) = self.polls.iter_mut().find(|p| p.rec.poll == poll) else {
            self.send_error(conn, ErrorCode::NotFound, format!("no poll {poll}"), out);
            return;
        };
        if !p.rec.open || now >= p.rec.ends_at {
            self.send_error(
                conn,
                ErrorCode::PollClosed,
                format!("poll {poll} is closed"),
                out,
            );
            return;
        }
        if option as usize >= p.tallies.len() {
            self.refuse(
                conn,
                ErrorCode::Invalid,
                format!("poll {poll} has no option {option}"),
                now,
                out,
            );
            return;
        }
        match p.votes.get(&user.id).copied() {
            Some(prev) if prev == option => {}
            Some(prev) => {
                if !p.rec.allow_change {
                    self.send_error(
                        conn,
                        ErrorCode::AlreadyVoted,
                        "you already voted in this poll",
                        out,
                    );
                    return;
                }
                p.tallies[prev as usize] = p.tallies[prev as usize].saturating_sub(1);
                p.tallies[option as usize] += 1;
                p.votes.insert(user.id.clone(), option);
            }
            None => {
                p.tallies[option as usize] += 1;
                p.votes.insert(user.id.clone(), option);
            }
        }
        out.push(Action::Persist(Write::Vote {
            poll,
            user: user.id,
            option,
        }));
        self.send(
            conn,
            ServerMsg::Control(Control::VoteAck { poll, option }),
            out,
        );
    }

    fn end_poll(&mut self, poll: u64, now: u64, out: &mut Vec<Action>) {
        let Some(p) = self
            .polls
            .iter_mut()
            .find(|p| p.rec.poll == poll && p.rec.open)
        else {
            return;
        };
        p.rec.open = false;
        p.rec.result = p.tallies.clone();
        let info = p.info();
        self.persist_state(out);
        self.emit(EventBody::PollEnded { poll: info }, now, out);
    }

    /// One nickname identity for `net`, if its bucket allows.
    fn take_nick_issue(&mut self, net: IpAddr, now: u64) -> bool {
        let (rate, burst) = (self.cfg.nick_issue_rate_per_s, self.cfg.nick_issue_burst);
        if !self.nick_issue.contains_key(&net)
            && self.nick_issue.len() >= self.cfg.max_tracked_networks
        {
            self.forget_refilled_networks(now);
            if self.nick_issue.len() >= self.cfg.max_tracked_networks {
                return false;
            }
        }
        self.nick_issue
            .entry(net)
            .or_insert_with(|| Bucket::full(burst, now))
            .take(now, rate, burst)
    }

    /// A network whose bucket has refilled is the same as one never seen: forget it.
    fn forget_refilled_networks(&mut self, now: u64) {
        let (rate, burst) = (self.cfg.nick_issue_rate_per_s, self.cfg.nick_issue_burst);
        self.nick_issue.retain(|_, b| {
            let dt = now.saturating_sub(b.last) as f64 / 1000.0;
            b.tokens + dt * rate < burst
        });
    }

    fn on_tick(&mut self, now: u64, out: &mut Vec<Action>) {
        // Connections that never said hello.
        let stale: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.user.is_none() && now.saturating_sub(c.opened_at) >= self.cfg.hello_timeout_ms
            })
            .map(|(id, _)| *id)
            .collect();
        for c in stale {
            self.close(c, ErrorCode::NotJoined, "no hello in time", out);
        }
        // Polls that ran out.
        let due: Vec<u64> = self
            .polls
            .iter()
            .filter(|p| p.rec.open && now >= p.rec.ends_at)
            .map(|p| p.rec.poll)
            .collect();
        for p in due {
            self.end_poll(p, now, out);
        }
        if now.saturating_sub(self.last_state_tick) < STATE_TICK_MS {
            return;
        }
        self.last_state_tick = now;
        self.forget_refilled_networks(now);
        // Tallies at least once a second while a poll is open.
        for p in self.polls.iter().filter(|p| p.rec.open) {
            out.push(Action::Broadcast(Arc::new(ServerMsg::Control(
                Control::PollTally {
                    poll: p.rec.poll,
                    tallies: p.tallies.clone(),
                    ends_at: p.rec.ends_at,
                },
            ))));
        }
        if self.presence_dirty {
            self.presence_dirty = false;
            out.push(Action::Broadcast(Arc::new(ServerMsg::Control(
                Control::Presence {
                    viewers: self.viewers(),
                    joined: std::mem::take(&mut self.recent_joined),
                    joins: std::mem::take(&mut self.joins),
                    leaves: std::mem::take(&mut self.leaves),
                },
            ))));
        }
        if self.leaderboard_dirty {
            self.leaderboard_dirty = false;
            out.push(Action::Broadcast(Arc::new(ServerMsg::Control(
                Control::Leaderboard {
                    top: self.leaderboard_top(),
                },
            ))));
        }
        if self.lottery_dirty {
            self.lottery_dirty = false;
            if let Some(l) = self.lotteries.iter().find(|l| l.rec.open) {
                out.push(Action::Broadcast(Arc::new(ServerMsg::Control(
                    Control::LotteryCount {
                        lottery: l.rec.lottery,
                        entrants: l.entrants.len() as u64,
                    },
                ))));
            }
        }
        // Forget expired timeouts, idle users and old combos.
        self.timeouts.retain(|_, until| *until > now);
        self.users
            .retain(|_, u| u.conns > 0 || now.saturating_sub(u.seen) < 600_000);
        let window = self.cfg.combo_window_ms;
        self.combos
            .retain(|_, (_, last)| now.saturating_sub(*last) <= window);
    }
}

#[cfg(test)]
#[path = "room_tests.rs"]
mod tests;
