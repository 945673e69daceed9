//! Co-stream guests through the room server: the invite routes of docs/costream.md under each
//! room (`/room/{room}/join/{token}`…, same origin as the viewer page), over a door set in
//! process (the app's embedded room: the show's co-stream host, see
//! [`super::ServerHandle::set_guest_door`]) or else relayed to the room's host over its
//! WebSocket (a hosted room; see `relay`). No door and no host taking guests: `503
//! host_not_live`; a host that does not answer in time: `504 host_not_responding`. The offer
//! limit counts the client address as the edge sees it (a trusted proxy's forwarded one).

use super::rooms::RoomCmd;
use super::shared::Shared;
use axum::http::HeaderMap;
use marquee_guestdoor::{DoorReply, DoorRequest, Doorway, Knock};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;

/// The room server as the routes' way to a door.
pub(super) struct RoomDoors(pub(super) Arc<Shared>);

impl Doorway for RoomDoors {
    fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        self.0.edge.client_ip(peer, headers)
    }

    fn serves(&self, room: Option<&str>) -> bool {
        room.is_some_and(|r| self.0.serves(r))
    }

    fn knock(&self, room: Option<&str>, request: DoorRequest) -> Knock {
        let room = room.unwrap_or_default();
        if let Some(door) = self.0.doors.get(room) {
            return Box::pin(marquee_guestdoor::blocking(door, request));
        }
        let Some(tx) = self.0.rooms.running(room) else {
            return Box::pin(async { DoorReply::host_not_live() });
        };
        let (reply, answer) = oneshot::channel();
        if tx.try_send(RoomCmd::Relay { request, reply }).is_err() {
            return Box::pin(async {
                DoorReply::refused(503, "host_busy", "the room is busy: try again in a moment")
            });
        }
        let stats = self.0.sockets.stats.clone();
        stats.guest_relayed.fetch_add(1, Ordering::Relaxed);
        let wait = self.0.relay_timeout;
        Box::pin(async move {
            match tokio::time::timeout(wait, answer).await {
                Ok(Ok(reply)) => reply,
                // The host left (or the room stopped) before answering.
                Ok(Err(_)) => DoorReply::host_not_live(),
                Err(_) => {
                    stats.guest_relay_timeouts.fetch_add(1, Ordering::Relaxed);
                    DoorReply::refused(
                        504,
                        "host_not_responding",
                        "the host did not answer in time: try again",
                    )
                }
            }
        })
    }
}
