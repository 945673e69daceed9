//! Signalling over HTTP: the co-stream host as a guest's door ([`GuestDoor`]), and the
//! invite routes of docs/costream.md (`marquee_guestdoor::routes`) served over it by a server
//! of its own. The room server serves the same routes over the same door (see
//! `marquee_room::server`), or relays them to a hosted room's host.

use crate::host::{CoHost, JoinError};
use crate::invite::InviteError;
use axum::Router;
use marquee_guestdoor::{DoorReply, DoorRequest, Fixed, GuestDoor};
use std::net::SocketAddr;
use std::sync::Arc;

/// The routes at the root, for a server of their own ([`serve`]).
pub fn router(host: Arc<CoHost>) -> Router {
    marquee_guestdoor::routes("", Arc::new(Fixed(host)))
}

/// Serves the routes on `listener` until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, host: Arc<CoHost>) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(host).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// A refusal as the contract's status and `{code, message}`.
fn refused(e: &JoinError) -> DoorReply {
    let status = match e {
        JoinError::Invite(InviteError::Unknown) | JoinError::NoSession => 404,
        JoinError::Invite(InviteError::SlotBusy) => 409,
        JoinError::Invite(_) => 410,
        JoinError::NotLive => 503,
        JoinError::BadOffer(_) => 400,
    };
    DoorReply::refused(status, e.code(), &e.to_string())
}

impl GuestDoor for CoHost {
    fn answer(&self, request: DoorRequest) -> DoorReply {
        let done = match request {
            DoorRequest::Offer { token, name, sdp } => self
                .offer(&token, &name, &sdp)
                .map(|(session, sdp)| DoorReply::Answer { session, sdp }),
            DoorRequest::State { token, session } => {
                self.state(&token, session).map(|g| DoorReply::Json {
                    body: serde_json::json!({
                        "state": g.state,
                        "slot": g.slot,
                        "name": g.name,
                        "muted_by_host": g.muted_by_host,
                        "connected": g.connected,
                    }),
                })
            }
            DoorRequest::Leave { token, session } => {
                self.leave(&token, session).map(|()| DoorReply::Left)
            }
            DoorRequest::Info { token } => self.check(&token).map(|invite| DoorReply::Json {
                body: serde_json::json!({
                    "slot": invite.slot,
                    "expires_in_s": self.expires_in(&invite).as_secs(),
                    "ice_servers": self.guest_ice_servers(),
                }),
            }),
        };
        done.unwrap_or_else(|e| refused(&e))
    }
}
