//! Polls and votes: a moderator starts a poll (one open at a time) that ends at its deadline or
//! when a moderator ends it; each user has one vote per poll (movable if the poll allows it);
//! tallies go out at most once a second while it is open, the result is kept.

use super::base::{Cx, Sender, clean_text};
use super::io::Write;
use super::state::PollRec;
use crate::protocol::{Control, ErrorCode, EventBody, PollInfo};
use std::collections::HashMap;

const MAX_POLLS_KEPT: usize = 20;

/// `poll_start`.
#[derive(Debug)]
pub(super) struct PollStart {
    pub(super) question: String,
    pub(super) options: Vec<String>,
    pub(super) duration_s: u32,
    pub(super) allow_change: bool,
}

/// `poll_end`: end an open poll before its deadline.
#[derive(Debug)]
pub(super) struct PollEnd {
    pub(super) poll: u64,
}

/// `vote`.
#[derive(Debug)]
pub(super) struct Vote {
    pub(super) poll: u64,
    pub(super) option: u32,
}

#[derive(Debug)]
struct Poll {
    rec: PollRec,
    /// User → option.
    votes: HashMap<String, u32>,
    tallies: Vec<u64>,
}

impl Poll {
    fn new(rec: PollRec) -> Self {
        let tallies = vec![0; rec.options.len()];
        Poll {
            rec,
            votes: HashMap::new(),
            tallies,
        }
    }

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

/// The room's recent polls (at most one open).
#[derive(Debug, Default)]
pub(super) struct Polls {
    list: Vec<Poll>,
}

impl Polls {
    /// From the saved records and `(poll, user, option)` votes.
    pub(super) fn restore(recs: Vec<PollRec>, votes: Vec<(u64, String, u32)>) -> Self {
        let mut list: Vec<Poll> = recs.into_iter().map(Poll::new).collect();
        for (poll, user, option) in votes {
            if let Some(p) = list.iter_mut().find(|p| p.rec.poll == poll)
                && let Some(t) = p.tallies.get_mut(option as usize)
            {
                *t += 1;
                p.votes.insert(user, option);
            }
        }
        Polls { list }
    }

    pub(super) fn records(&self) -> Vec<PollRec> {
        self.list.iter().map(|p| p.rec.clone()).collect()
    }

    /// The open poll (for a joiner's view).
    pub(super) fn open(&self) -> Option<PollInfo> {
        self.list.iter().rev().find(|p| p.rec.open).map(Poll::info)
    }

    pub(super) fn any_open(&self) -> bool {
        self.list.iter().any(|p| p.rec.open)
    }

    /// When the next open poll ends.
    pub(super) fn next_end(&self) -> Option<u64> {
        self.list
            .iter()
            .filter(|p| p.rec.open)
            .map(|p| p.rec.ends_at)
            .min()
    }

    pub(super) fn start(&mut self, cx: &mut Cx, from: &Sender, msg: PollStart) {
        let question = clean_text(&msg.question);
        let options: Vec<String> = msg.options.iter().map(|o| clean_text(o)).collect();
        if self.any_open() {
            cx.error(from.conn, ErrorCode::Invalid, "a poll is already open");
            return;
        }
        if question.is_empty()
            || question.chars().count() > 120
            || !(2..=6).contains(&options.len())
            || options
                .iter()
                .any(|o| o.is_empty() || o.chars().count() > 40)
            || !(5..=3600).contains(&msg.duration_s)
        {
            cx.error(
                from.conn,
                ErrorCode::Invalid,
                "poll: question 1-120 chars, 2-6 options of 1-40 chars, 5-3600 s",
            );
            return;
        }
        let id = cx.next_id();
        self.list.push(Poll::new(PollRec {
            poll: id,
            question,
            options,
            ends_at: cx.now + u64::from(msg.duration_s) * 1000,
            allow_change: msg.allow_change,
            open: true,
            result: Vec::new(),
        }));
        if self.list.len() > MAX_POLLS_KEPT {
            self.list.remove(0);
        }
        cx.log(&from.user, "poll_start", &id.to_string(), String::new());
        cx.state_changed();
        if let Some(poll) = self.list.last().map(Poll::info) {
            cx.emit(EventBody::PollStarted { poll });
        }
    }

    pub(super) fn end(&mut self, cx: &mut Cx, from: &Sender, msg: PollEnd) {
        let poll = msg.poll;
        if !self.list.iter().any(|p| p.rec.poll == poll && p.rec.open) {
            cx.error(
                from.conn,
                ErrorCode::NotFound,
                format!("no open poll {poll}"),
            );
            return;
        }
        cx.log(&from.user, "poll_end", &poll.to_string(), String::new());
        self.close(cx, poll);
    }

    pub(super) fn vote(&mut self, cx: &mut Cx, from: &Sender, msg: Vote) {
        let (Vote { poll, option }, conn) = (msg, from.conn);
        let Some(p) = self.list.iter_mut().find(|p| p.rec.poll == poll) else {
            cx.error(conn, ErrorCode::NotFound, format!("no poll {poll}"));
            return;
        };
        if !p.rec.open || cx.now >= p.rec.ends_at {
            cx.error(
                conn,
                ErrorCode::PollClosed,
                format!("poll {poll} is closed"),
            );
            return;
        }
        if option as usize >= p.tallies.len() {
            cx.refuse(
                conn,
                ErrorCode::Invalid,
                format!("poll {poll} has no option {option}"),
            );
            return;
        }
        let user = &from.user.id;
        match p.votes.get(user).copied() {
            Some(prev) if prev == option => {}
            Some(prev) => {
                if !p.rec.allow_change {
                    cx.error(
                        conn,
                        ErrorCode::AlreadyVoted,
                        "you already voted in this poll",
                    );
                    return;
                }
                p.tallies[prev as usize] = p.tallies[prev as usize].saturating_sub(1);
                p.tallies[option as usize] += 1;
                p.votes.insert(user.clone(), option);
            }
            None => {
                p.tallies[option as usize] += 1;
                p.votes.insert(user.clone(), option);
            }
        }
        cx.persist(Write::Vote {
            poll,
            user: user.clone(),
            option,
        });
        cx.send(conn, Control::VoteAck { poll, option });
    }

    /// End the polls whose time is up.
    pub(super) fn end_due(&mut self, cx: &mut Cx) {
        let now = cx.now;
        let due: Vec<u64> = self
            .list
            .iter()
            .filter(|p| p.rec.open && now >= p.rec.ends_at)
            .map(|p| p.rec.poll)
            .collect();
        for p in due {
            self.close(cx, p);
        }
    }

    /// The open polls' tallies (once per state tick).
    pub(super) fn broadcast_tallies(&self, cx: &mut Cx) {
        for p in self.list.iter().filter(|p| p.rec.open) {
            cx.broadcast(Control::PollTally {
                poll: p.rec.poll,
                tallies: p.tallies.clone(),
                ends_at: p.rec.ends_at,
            });
        }
    }

    /// Close a poll and keep its result.
    fn close(&mut self, cx: &mut Cx, poll: u64) {
        let Some(p) = self
            .list
            .iter_mut()
            .find(|p| p.rec.poll == poll && p.rec.open)
        else {
            return;
        };
        p.rec.open = false;
        p.rec.result = p.tallies.clone();
        let poll = p.info();
        cx.state_changed();
        cx.emit(EventBody::PollEnded { poll });
    }
}
