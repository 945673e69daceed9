//! Moderation: the room's rules of speech ([`Rules`]: settings, blocked words, bans, mutes) and
//! what moderators do — delete a message, time out (mute), ban and unban a user, change the
//! blocked words, read the moderation log. Every action is logged with who did it.

use super::base::{Cx, MAX_MODLOG_KEPT, Sender, clean_text};
use super::io::Write;
use crate::filter::{MAX_PATTERN_CHARS, MAX_PATTERNS, WordFilter};
use crate::protocol::{Control, ErrorCode, EventBody, Settings};
use std::collections::{BTreeMap, BTreeSet};

/// Longest timeout: a week.
const MAX_TIMEOUT_S: u32 = 7 * 86_400;

/// What a message must pass: the room's settings, its blocked words, who is banned or muted.
#[derive(Debug)]
pub(super) struct Rules {
    pub(super) settings: Settings,
    pub(super) filter: WordFilter,
    pub(super) bans: BTreeSet<String>,
    /// User → muted until (ms).
    pub(super) timeouts: BTreeMap<String, u64>,
}

/// `delete`: remove a message.
#[derive(Debug)]
pub(super) struct Delete {
    pub(super) id: u64,
}

/// `timeout`: mute a user for a while.
#[derive(Debug)]
pub(super) struct Timeout {
    pub(super) user: String,
    pub(super) seconds: u32,
}

/// `ban`: close a user's connections and refuse them from now on.
#[derive(Debug)]
pub(super) struct Ban {
    pub(super) user: String,
}

/// `unban`: lift a ban and a mute.
#[derive(Debug)]
pub(super) struct Unban {
    pub(super) user: String,
}

/// `block_words`: change the blocked words.
#[derive(Debug)]
pub(super) struct BlockWords {
    pub(super) add: Vec<String>,
    pub(super) remove: Vec<String>,
}

/// `modlog`: the last entries of the moderation log.
#[derive(Debug)]
pub(super) struct ModlogRequest {
    pub(super) limit: u32,
}

impl Rules {
    pub(super) fn restore(
        settings: Settings,
        blocked_words: &[String],
        bans: BTreeSet<String>,
        timeouts: BTreeMap<String, u64>,
    ) -> Rules {
        Rules {
            settings,
            filter: WordFilter::new(blocked_words),
            bans,
            timeouts,
        }
    }

    pub(super) fn timeout(&mut self, cx: &mut Cx, from: &Sender, msg: Timeout) {
        let Timeout {
            user: target,
            seconds,
        } = msg;
        if target == from.user.id || seconds == 0 || seconds > MAX_TIMEOUT_S {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                "timeout: 1 s to 7 days, not yourself",
            );
            return;
        }
        let until = cx.now + u64::from(seconds) * 1000;
        self.timeouts.insert(target.clone(), until);
        cx.log(&from.user, "timeout", &target, format!("{seconds}s"));
        cx.state_changed();
        cx.emit(EventBody::UserTimedOut {
            user: target,
            until,
            by: from.user.id.clone(),
        });
    }

    pub(super) fn ban(&mut self, cx: &mut Cx, from: &Sender, msg: Ban) {
        let target = msg.user;
        if target == from.user.id {
            cx.error(from.conn, ErrorCode::Invalid, "you cannot ban yourself");
            return;
        }
        self.bans.insert(target.clone());
        cx.log(&from.user, "ban", &target, String::new());
        cx.state_changed();
        cx.emit(EventBody::UserBanned {
            user: target.clone(),
            by: from.user.id.clone(),
        });
        for v in cx.base.conns_of(&target) {
            cx.close(v, ErrorCode::Banned, "banned by a moderator");
        }
    }

    pub(super) fn unban(&mut self, cx: &mut Cx, from: &Sender, msg: Unban) {
        let target = msg.user;
        self.bans.remove(&target);
        self.timeouts.remove(&target);
        cx.log(&from.user, "unban", &target, String::new());
        cx.state_changed();
        cx.emit(EventBody::UserUnbanned {
            user: target,
            by: from.user.id.clone(),
        });
    }

    pub(super) fn block_words(&mut self, cx: &mut Cx, from: &Sender, msg: BlockWords) {
        let BlockWords { add, remove } = msg;
        let mut words: Vec<String> = self
            .filter
            .patterns()
            .iter()
            .filter(|w| !remove.contains(w))
            .cloned()
            .collect();
        for w in add {
            let w = clean_text(&w);
            if w.chars().count() > MAX_PATTERN_CHARS {
                cx.error(from.conn, ErrorCode::Invalid, "blocked word too long");
                return;
            }
            if !w.is_empty() && !words.contains(&w) {
                words.push(w);
            }
        }
        if words.len() > MAX_PATTERNS {
            cx.error(from.conn, ErrorCode::Invalid, "too many blocked words");
            return;
        }
        self.filter.set(&words);
        let count = self.filter.patterns().len() as u32;
        cx.log(&from.user, "block_words", "", format!("{count} words"));
        cx.state_changed();
        cx.emit(EventBody::BlockedWordsChanged {
            count,
            by: from.user.id.clone(),
        });
    }

    /// When a mute next runs out (then it is forgotten).
    pub(super) fn timeouts_due(&self) -> Option<u64> {
        self.timeouts.values().min().copied()
    }

    /// Forget mutes that have run out.
    pub(super) fn forget_expired(&mut self, now: u64) {
        self.timeouts.retain(|_, until| *until > now);
    }
}

/// Blank a message everywhere: in the log, and on every screen (`message_deleted`).
pub(super) fn delete(cx: &mut Cx, from: &Sender, msg: Delete) {
    let id = msg.id;
    if id == 0 || id > cx.base.last_seq {
        cx.error(from.conn, ErrorCode::NotFound, format!("no message {id}"));
        return;
    }
    let mut known = false;
    for e in cx.base.ring.iter_mut() {
        if e.seq == id
            && let EventBody::Danmaku { text, deleted, .. } = &mut e.body
        {
            text.clear();
            *deleted = true;
            known = true;
        }
    }
    if !known && cx.base.ring.front().is_some_and(|e| e.seq <= id) {
        cx.error(
            from.conn,
            ErrorCode::NotFound,
            format!("{id} is not a message"),
        );
        return;
    }
    cx.persist(Write::Redact { seq: id });
    cx.log(&from.user, "delete", &id.to_string(), String::new());
    cx.emit(EventBody::MessageDeleted {
        id,
        by: from.user.id.clone(),
    });
}

/// The last entries of the moderation log, to the moderator who asked.
pub(super) fn modlog(cx: &mut Cx, from: &Sender, msg: ModlogRequest) {
    let n = (msg.limit as usize).min(MAX_MODLOG_KEPT);
    let log = &cx.base.modlog;
    let entries = log
        .iter()
        .skip(log.len().saturating_sub(n))
        .cloned()
        .collect();
    cx.send(from.conn, Control::Modlog { entries });
}
