//! Co-stream signalling with no WebRTC in it: the door a guest knocks on ([`GuestDoor`], a
//! request and its reply), the HTTP routes of docs/costream.md over any door ([`routes`]),
//! and the guest page they serve. The co-stream host (`marquee-costream`) is a door; the
//! routes are served by the CLI's own invite server and by the room server (a door set in
//! process, or a hosted room's relay to its host), so the room needs no WebRTC stack.

mod door;
mod page;
mod routes;

pub use door::{DoorReply, DoorRequest, GuestDoor};
pub use page::{JOIN_HTML, asset};
pub use routes::{
    Doorway, Fixed, Knock, MAX_OFFER, OFFERS_PER_MINUTE, blocking, routes, valid_token,
};
