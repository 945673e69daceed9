//! A room on an edge node: its connections are this node's sockets, its room runs on its owner.
//! Inputs go to the owner; the owner's operations for this node come back and are carried out
//! on the sockets by the same [`LocalFanout`] an owner uses (broadcasts coalesced and encoded
//! once here, for all of this node's viewers).

use super::cluster::{BusOp, EdgeLink, RemoteConn, RemoteInput, moved};
use super::cmd::RoomCmd;
use super::fanout::{CloseReason, Fanout, LocalFanout};
use crossbeam_channel as cb;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Follow the owner until the room stops here (idle, or the owner is gone or changed).
pub(super) fn edge_thread(
    room_id: &str,
    mut link: Box<dyn EdgeLink>,
    rx: &cb::Receiver<RoomCmd>,
    idle_room: Duration,
    mut fan: LocalFanout,
    users: &AtomicUsize,
    retire: &dyn Fn() -> bool,
) {
    tracing::info!(room = %room_id, "room followed on this node");
    let node = link.node().to_string();
    let from = |conn| RemoteConn {
        node: node.clone(),
        conn,
    };
    let mut last_busy = Instant::now();
    loop {
        let idle_stop = if fan.connections() > 0 {
            last_busy = Instant::now();
            None
        } else if users.load(Ordering::Acquire) > 0 {
            Some(Instant::now() + idle_room)
        } else if last_busy.elapsed() >= idle_room && rx.is_empty() {
            if retire() {
                break;
            }
            last_busy = Instant::now();
            None
        } else {
            Some(last_busy + idle_room)
        };
        let wake = [fan.flush_deadline(Instant::now()), idle_stop]
            .into_iter()
            .flatten()
            .min();
        let timeout = wake.map_or(Duration::from_secs(3600), |at| {
            at.saturating_duration_since(Instant::now())
        });
        let mut stop = false;
        cb::select! {
            recv(rx) -> cmd => match cmd {
                Ok(RoomCmd::Open { conn, ip, out, kill }) => {
                    fan.attach(conn, out, kill);
                    link.forward(RemoteInput::Open { from: from(conn), ip });
                }
                Ok(RoomCmd::Text { conn, text }) => link.forward(RemoteInput::Text {
                    from: from(conn),
                    text: text.as_str().to_string(),
                }),
                Ok(RoomCmd::Binary { conn, len }) => {
                    link.forward(RemoteInput::Binary { from: from(conn), len })
                }
                Ok(RoomCmd::Closed { conn }) => {
                    fan.detach(conn);
                    link.forward(RemoteInput::Closed { from: from(conn) });
                }
                // Guests are let in by the room's owner; here, the request is dropped (refused).
                Ok(RoomCmd::Relay { .. } | RoomCmd::Remote(_)) => {}
                Ok(RoomCmd::Shutdown) | Err(_) => stop = true,
            },
            recv(link.ops()) -> op => match op {
                Ok(Ok(op)) => stop = apply(&mut fan, &node, op),
                Ok(Err(why)) => {
                    tracing::info!(room = %room_id, %why, "the room's owner changed; closing its connections here");
                    fan.close_all(moved());
                    stop = true;
                }
                Err(_) => {
                    fan.close_all(moved());
                    stop = true;
                }
            },
            default(timeout) => {}
        }
        fan.poll_flush(Instant::now());
        if stop {
            break;
        }
    }
    link.stop();
    tracing::info!(room = %room_id, "room no longer followed on this node");
}

/// Carry out one of the owner's operations here; true when the room stopped on its owner.
fn apply(fan: &mut LocalFanout, node: &str, op: BusOp) -> bool {
    if !op.concerns(node) {
        return false;
    }
    match op {
        BusOp::Send { to, frame } => fan.send(to.conn, frame.into()),
        BusOp::Subscribe { to, batch } => fan.subscribe(to.conn, batch),
        BusOp::Close { to, code, reason } => fan.close(to.conn, CloseReason { code, reason }),
        BusOp::Broadcast { frame } => fan.broadcast(frame.into()),
        BusOp::CloseAll { code, reason } => {
            fan.close_all(CloseReason { code, reason });
            return true;
        }
    }
    false
}
