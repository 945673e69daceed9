//! The live room: danmaku, gifts, votes, Q&A, lottery and moderation over WebSocket.
//!
//! The crate is layered so that the hard parts are testable without sockets or sleeping:
//!
//! * [`protocol`] — the JSON wire types (every message has a `type`; every room event carries
//!   `seq` and the room `epoch`) and [`protocol::decode_client`], the bounded decoder used for
//!   untrusted frames (it never panics; `fuzz/` exercises it).
//! * [`room`] — the sans-IO state machine. [`room::Room::handle`] takes an [`room::Input`] and the
//!   current time and returns [`room::Action`]s: persist, record a gift, send, broadcast, close;
//!   [`room::Room::poll_timeout`] says when it next needs to hear that time has passed.
//! * [`store`] — durable storage behind the [`store::Storage`] trait (SQLite by default, an
//!   in-memory one for tests). Fan-out sits behind [`server::Fanout`]; when broadcasts go out
//!   together is decided by the sans-IO [`coalesce::Coalescer`].
//! * [`server`] — the thin axum + WebSocket layer and the viewer page at `/room/ROOM`. As one
//!   node of several ([`server::Cluster`], implemented on Postgres and Redis by
//!   `marquee-roomcluster`), a room runs on the node holding its lease and is followed by the
//!   others (inputs forwarded, fan-out carried out on their own sockets).
//! * [`client`] — a Rust client with jittered-backoff reconnect and resume, over `ws://` or
//!   `wss://` ([`tls`]: the OS's roots plus any CA the caller adds).
//! * [`secret`] — the token secret file a server and its token minting share.
//!
//! The `marquee room serve|token|watch|bench` commands live in the `marquee` CLI (crates/cli).
//!
//! The protocol is documented in `docs/protocol.md`.

pub mod client;
mod clock;
pub mod coalesce;
mod error;
pub mod filter;
pub mod gifts;
pub mod names;
pub mod out;
pub mod playback;
pub mod protocol;
pub mod room;
pub mod secret;
pub mod server;
pub mod store;
pub mod tls;
pub mod token;

pub use clock::now_ms;
pub use error::RoomError;
