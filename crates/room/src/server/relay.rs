//! A hosted room's guest relay, on its room thread: co-stream guests' requests (WHIP offer,
//! state, leave, info) go to the host connection whose guest door is open as `guest_request`
//! frames, and its `guest_answer`s come back to the waiting HTTP request. The invites stay on
//! the host: the server sees the token in the path and the SDP it carries, nothing more.
//! Bounded: at most `max_in_flight` requests wait at once; a request whose HTTP side gave up
//! (timed out) is forgotten.

use super::fanout::Fanout;
use crate::protocol::{Control, ServerMsg};
use crate::room::ConnId;
use marquee_guestdoor::{DoorReply, DoorRequest};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// The relay of one room.
#[derive(Debug)]
pub(super) struct Relay {
    /// The host connection that takes guests now (the latest to open its door).
    door: Option<ConnId>,
    pending: HashMap<u64, (ConnId, oneshot::Sender<DoorReply>)>,
    next_id: u64,
    max_in_flight: usize,
}

impl Relay {
    pub(super) fn new(max_in_flight: usize) -> Self {
        Relay {
            door: None,
            pending: HashMap::new(),
            next_id: 0,
            max_in_flight: max_in_flight.max(1),
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
        if self.pending.len() >= self.max_in_flight {
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
