//! One room's lease, sans-IO: when to ask Postgres to acquire or renew it, and whether this
//! node may act as the room's owner — from the answers it is given and the time passed in.
//!
//! The lease row's expiry is kept by Postgres's clock (so nodes' clocks do not matter); this
//! side only needs a bound it can trust on its own monotonic clock: a grant or renewal answered
//! to a request sent at `t` is good until `t + ttl - margin`, whenever the answer arrives. Past
//! that the node stops acting as owner even if Postgres cannot be reached; and should it still
//! try to write, its transaction is refused by the epoch check (fencing), so being late here is
//! never unsafe, only slower.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Timings of a lease.
#[derive(Debug, Clone, Copy)]
pub struct LeaseConfig {
    /// How long a grant or renewal holds in Postgres.
    pub ttl: Duration,
    /// Renew this often while held (well inside `ttl`, so a lost answer or two is survived).
    pub renew_every: Duration,
    /// Try again this long after losing, being refused, or an error.
    pub retry_every: Duration,
    /// Stop acting as owner this long before the lease can have expired in Postgres.
    pub margin: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            ttl: Duration::from_secs(5),
            renew_every: Duration::from_millis(1500),
            retry_every: Duration::from_millis(500),
            margin: Duration::from_millis(500),
        }
    }
}

/// What Postgres answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseInput {
    /// The lease is ours under `epoch` (a new one: it was free, expired, or ours before).
    Acquired { epoch: u64 },
    /// Another node holds it, unexpired.
    HeldByOther { owner: String },
    /// Our renewal of `epoch` went through.
    Renewed { epoch: u64 },
    /// Our renewal found the lease under another epoch: it was taken over.
    Lost,
    /// Postgres could not be asked (connection down, timeout).
    Failed,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAction {
    /// Ask Postgres for the lease (answer: `Acquired`, `HeldByOther` or `Failed`).
    Acquire,
    /// Extend the lease under `epoch` (answer: `Renewed`, `Lost` or `Failed`).
    Renew { epoch: u64 },
    /// Give it up (the room is stopping here).
    Release { epoch: u64 },
    /// From now on this node is the room's owner under `epoch`.
    Owner { epoch: u64 },
    /// This node is no longer the room's owner (taken over, or not confirmed in time).
    NotOwner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not held; ask again at `at`.
    Idle { at: Instant },
    /// An acquire request sent at `sent` awaits its answer.
    Acquiring { sent: Instant },
    /// Held under `epoch` until `valid_until`; renew at `renew_at`, or a renewal sent at
    /// `renewing` awaits its answer.
    Held {
        epoch: u64,
        valid_until: Instant,
        renew_at: Instant,
        renewing: Option<Instant>,
    },
    /// Released: nothing more to do.
    Stopped,
}

/// One room's lease as seen by one node.
#[derive(Debug)]
pub struct Lease {
    cfg: LeaseConfig,
    state: State,
    out: VecDeque<LeaseAction>,
}

impl Lease {
    /// A lease this node wants from `now` on.
    pub fn new(cfg: LeaseConfig, now: Instant) -> Self {
        Lease {
            cfg,
            state: State::Idle { at: now },
            out: VecDeque::new(),
        }
    }

    /// The epoch under which this node is the owner at `now`, if it is.
    pub fn owner_epoch(&self, now: Instant) -> Option<u64> {
        match self.state {
            State::Held {
                epoch, valid_until, ..
            } if now < valid_until => Some(epoch),
            _ => None,
        }
    }

    fn good_until(&self, sent: Instant) -> Instant {
        sent + self.cfg.ttl.saturating_sub(self.cfg.margin)
    }

    fn lose(&mut self, now: Instant) {
        if matches!(self.state, State::Held { .. }) {
            self.out.push_back(LeaseAction::NotOwner);
        }
        self.state = State::Idle {
            at: now + self.cfg.retry_every,
        };
    }

    /// Postgres answered the request in flight.
    pub fn handle(&mut self, input: LeaseInput, now: Instant) {
        match (self.state, input) {
            (State::Acquiring { sent }, LeaseInput::Acquired { epoch }) => {
                self.state = State::Held {
                    epoch,
                    valid_until: self.good_until(sent),
                    renew_at: now + self.cfg.renew_every,
                    renewing: None,
                };
                self.out.push_back(LeaseAction::Owner { epoch });
            }
            (State::Acquiring { .. }, LeaseInput::HeldByOther { .. } | LeaseInput::Failed) => {
                self.lose(now)
            }
            (
                State::Held {
                    epoch,
                    renewing: Some(sent),
                    ..
                },
                LeaseInput::Renewed { epoch: e },
            ) if e == epoch => {
                self.state = State::Held {
                    epoch,
                    valid_until: self.good_until(sent),
                    renew_at: now + self.cfg.renew_every,
                    renewing: None,
                };
            }
            (State::Held { .. }, LeaseInput::Lost) => self.lose(now),
            (
                State::Held {
                    epoch, valid_until, ..
                },
                LeaseInput::Failed,
            ) => {
                // Keep what we have until it runs out, and ask again soon.
                self.state = State::Held {
                    epoch,
                    valid_until,
                    renew_at: now + self.cfg.retry_every,
                    renewing: None,
                };
            }
            // An answer to nothing in flight (late, or after a release): ignored.
            _ => {}
        }
        self.expire(now);
    }

    /// Stop wanting the lease: release it if held.
    pub fn release(&mut self, now: Instant) {
        if let Some(epoch) = self.owner_epoch(now) {
            self.out.push_back(LeaseAction::Release { epoch });
        }
        if matches!(self.state, State::Held { .. }) {
            self.out.push_back(LeaseAction::NotOwner);
        }
        self.state = State::Stopped;
    }

    fn expire(&mut self, now: Instant) {
        if let State::Held { valid_until, .. } = self.state
            && now >= valid_until
        {
            self.lose(now);
        }
    }

    /// The next thing to do at `now`, if any.
    pub fn poll_action(&mut self, now: Instant) -> Option<LeaseAction> {
        self.expire(now);
        if let Some(a) = self.out.pop_front() {
            return Some(a);
        }
        match self.state {
            State::Idle { at } if now >= at => {
                self.state = State::Acquiring { sent: now };
                Some(LeaseAction::Acquire)
            }
            State::Held {
                epoch,
                valid_until,
                renew_at,
                renewing: None,
            } if now >= renew_at => {
                self.state = State::Held {
                    epoch,
                    valid_until,
                    renew_at,
                    renewing: Some(now),
                };
                Some(LeaseAction::Renew { epoch })
            }
            _ => None,
        }
    }

    /// Once [`Lease::poll_action`] has returned `None`: when it next has something to do
    /// without any answer coming (`None`: only an answer moves it on; the driver turns an
    /// answer that never comes into [`LeaseInput::Failed`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Idle { at } => Some(at),
            State::Held {
                valid_until,
                renew_at,
                renewing,
                ..
            } => Some(match renewing {
                None => renew_at.min(valid_until),
                Some(_) => valid_until,
            }),
            State::Acquiring { .. } | State::Stopped => None,
        }
    }
}

#[cfg(test)]
mod tests;
