//! A hosted room's guest relay, on its room thread: co-stream guests' requests (WHIP offer,
//! state, leave, info) go to the host connection whose guest door is open as `guest_request`
//! frames, and its `guest_answer`s come back to the waiting HTTP request. The invites stay on
//! the host: the server sees the token in the path and the SDP it carries, nothing more.
//! Bounded: at most `max_in_flight` requests wait at once, and at most [`RATE_PER_S`] a second
//! (burst [`BURST`]) reach the host, whoever sends them; a request whose HTTP side gave up
//! (timed out) is forgotten.

use super::fanout::Fanout;
use crate::protocol::{Control, ServerMsg};
use crate::room::ConnId;
use marquee_guestdoor::{DoorReply, DoorRequest};
use std::collections::HashMap;
use std::time::Instant;
use tokio::sync::oneshot;

/// Guest requests relayed to a room's host per second, and in a burst: a few guests polling
/// their state once a second and joining are far below; a flood is refused (`host_busy`).
pub(super) const RATE_PER_S: f64 = 50.0;
pub(super) const BURST: f64 = 100.0;

/// The relay of one room.
#[derive(Debug)]
pub(super) struct Relay {
    /// The host connection that takes guests now (the latest to open its door).
    door: Option<ConnId>,
    pending: HashMap<u64, (ConnId, oneshot::Sender<DoorReply>)>,
    next_id: u64,
    max_in_flight: usize,
    /// Tokens for requests (refilled at [`RATE_PER_S`] up to [`BURST`]), and when last.
    tokens: f64,
    refilled: Instant,
}

impl Relay {
    pub(super) fn new(max_in_flight: usize) -> Self {
        Relay {
            door: None,
            pending: HashMap::new(),
            next_id: 0,
            max_in_flight: max_in_flight.max(1),
            tokens: BURST,
            refilled: Instant::now(),
        }
    }

    /// Takes a token for one request at `now`; false when the room's rate is spent.
    fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + dt * RATE_PER_S).min(BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A guest's request: to the host, or refused at once when no host takes guests or too
    /// many requests wait.
    pub(super) fn request(
        &mut self,
        request: DoorRequest,
        reply: oneshot::Sender<DoorReply>,
        fan: &mut dyn Fanout,
    ) {
        self.pending.retain(|_, (_, r)| !r.is_closed());
        let Some(conn) = self.door else {
            let _ = reply.send(DoorReply::host_not_live());
            return;
        };
        if self.pending.len() >= self.max_in_flight || !self.take(Instant::now()) {
            let _ = reply.send(DoorReply::refused(
                503,
                "host_busy",
                "the host has too many guest requests waiting: try again in a moment",
            ));
            return;
        }
        self.next_id += 1;
        let id = self.next_id;
        let msg = ServerMsg::Control(Control::GuestRequest { id, request });
        fan.send(conn, msg.to_json().into());
        self.pending.insert(id, (conn, reply));
    }

    /// The host connection `conn` opened or closed its door (the room checked its role).
    pub(super) fn door(&mut self, conn: ConnId, open: bool) {
        if open {
            self.door = Some(conn);
        } else if self.door == Some(conn) {
            self.door = None;
        }
    }

    /// The host's answer to request `id`; an answer from another connection than the one
    /// asked, or to a request no longer waiting, is dropped.
    pub(super) fn answer(&mut self, conn: ConnId, id: u64, reply: DoorReply) {
        if let Some((asked, tx)) = self.pending.remove(&id) {
            if asked == conn {
                let _ = tx.send(reply);
            } else {
                self.pending.insert(id, (asked, tx));
            }
        }
    }

    /// A connection is gone: if it was the door, guests are refused until a host opens one
    /// again; what it was asked is answered `host_not_live` (the waiting side sees the reply
    /// channel close).
    pub(super) fn closed(&mut self, conn: ConnId) {
        if self.door == Some(conn) {
            self.door = None;
        }
        self.pending.retain(|_, (asked, _)| *asked != conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_room_relays_a_burst_then_its_rate_whoever_knocks() {
        let mut r = Relay::new(16);
        let t = Instant::now();
        let burst = (0..1000).take_while(|_| r.take(t)).count();
        assert_eq!(burst, BURST as usize);
        assert!(!r.take(t));
        let later = t + Duration::from_millis(100);
        let refilled = (0..1000).take_while(|_| r.take(later)).count();
        assert_eq!(refilled, (RATE_PER_S / 10.0) as usize);
    }
}
