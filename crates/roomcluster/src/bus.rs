//! The Redis bus of a room: two streams.
//!
//! * `marquee:room:{ROOM}:out` — the owner's fan-out operations, one entry per durable group
//!   (`{"e": lease epoch, "n": group number, "ops": [...]}`), trimmed to the most recent
//!   [`KEEP`]. Edges read it with a blocking `XREAD`: pushed as soon as it is written, in order,
//!   and what an edge missed while its connection was down is still there to read (a stream
//!   is both the fan-out and the recent history, so there is one path to de-duplicate, not two).
//! * `marquee:room:{ROOM}:in` — edges' forwarded inputs, read by the owner the same way.
//!
//! Redis holds nothing that is not also elsewhere: events are in Postgres before they are
//! published, and an edge that finds a hole in the group numbers (Redis restarted and lost the
//! stream) closes its connections of the room: the clients resume from their last seq on the
//! owner, which replays from Postgres or says "not recoverable".

use marquee_room::server::BusOp;
use serde::{Deserialize, Serialize};

/// Entries kept in each stream (approximately: `MAXLEN ~`).
pub const KEEP: usize = 10_000;

pub fn out_key(room: &str) -> String {
    format!("marquee:room:{room}:out")
}

pub fn in_key(room: &str) -> String {
    format!("marquee:room:{room}:in")
}

/// The command appending `body` to `stream` under `field`, trimmed to about [`KEEP`].
pub fn append(stream: &str, field: &str, body: String) -> redis::Cmd {
    let mut xadd = redis::cmd("XADD");
    xadd.arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(KEEP)
        .arg("*")
        .arg(field)
        .arg(body);
    xadd
}

/// One durable group's operations, as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The owner's lease epoch.
    pub e: u64,
    /// The group's number under that epoch (from 1, no holes).
    pub n: u64,
    pub ops: Vec<BusOp>,
}

/// What an edge does with an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The next one: carry out its operations.
    Apply,
    /// Already seen (read twice): drop it.
    Duplicate,
    /// Groups were missed (the stream lost them): the edge's connections must resume.
    Gap { expected: u64, got: u64 },
    /// Published under another epoch: the room has another owner now.
    Moved { epoch: u64 },
    /// From a replaced owner (an older epoch), read late: drop it.
    Stale,
}

/// An edge's place in the owner's stream, sans-IO: which envelope comes next.
#[derive(Debug, Clone)]
pub struct Follower {
    epoch: u64,
    /// The last group applied (`None`: none yet; the first seen is taken as the start).
    last: Option<u64>,
}

impl Follower {
    /// Following the owner of lease epoch `epoch`.
    pub fn new(epoch: u64) -> Self {
        Follower { epoch, last: None }
    }

    pub fn accept(&mut self, env: &Envelope) -> Verdict {
        if env.e < self.epoch {
            return Verdict::Stale;
        }
        if env.e > self.epoch {
            return Verdict::Moved { epoch: env.e };
        }
        match self.last {
            Some(last) if env.n <= last => Verdict::Duplicate,
            Some(last) if env.n != last + 1 => Verdict::Gap {
                expected: last + 1,
                got: env.n,
            },
            _ => {
                self.last = Some(env.n);
                Verdict::Apply
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Envelope, Follower, Verdict};

    fn env(e: u64, n: u64) -> Envelope {
        Envelope { e, n, ops: vec![] }
    }

    #[test]
    fn envelopes_are_applied_once_in_order_and_a_hole_is_a_gap() {
        let mut f = Follower::new(3);
        assert_eq!(f.accept(&env(3, 7)), Verdict::Apply);
        assert_eq!(f.accept(&env(3, 8)), Verdict::Apply);
        assert_eq!(f.accept(&env(3, 8)), Verdict::Duplicate);
        assert_eq!(f.accept(&env(3, 2)), Verdict::Duplicate);
        assert_eq!(
            f.accept(&env(3, 10)),
            Verdict::Gap {
                expected: 9,
                got: 10
            }
        );
    }

    #[test]
    fn a_new_epoch_means_the_room_moved_and_an_old_one_is_stale() {
        let mut f = Follower::new(3);
        assert_eq!(f.accept(&env(2, 50)), Verdict::Stale);
        assert_eq!(f.accept(&env(3, 1)), Verdict::Apply);
        assert_eq!(f.accept(&env(4, 1)), Verdict::Moved { epoch: 4 });
    }
}
