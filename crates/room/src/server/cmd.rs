//! What a connection's task (or another node, through the owner's link) tells a room's thread.

use super::cluster::RemoteInput;
use super::fanout::CloseReason;
use crate::out::ConnOut;
use crate::room::ConnId;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite;

/// What a connection's task tells its room's thread.
pub(super) enum RoomCmd {
    Open {
        conn: ConnId,
        ip: Option<IpAddr>,
        out: Arc<ConnOut>,
        kill: oneshot::Sender<CloseReason>,
    },
    Text {
        conn: ConnId,
        text: tungstenite::Utf8Bytes,
    },
    Binary {
        conn: ConnId,
        len: usize,
    },
    Closed {
        conn: ConnId,
    },
    /// A connection of another node (this node owns the room).
    Remote(RemoteInput),
    /// A co-stream guest's request for the room's host (see `relay`).
    Relay {
        request: marquee_guestdoor::DoorRequest,
        reply: oneshot::Sender<marquee_guestdoor::DoorReply>,
    },
    Shutdown,
}
