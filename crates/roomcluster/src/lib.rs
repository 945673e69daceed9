//! The room past one machine: rooms kept in Postgres and owned, one node at a time, under a
//! fenced lease.
//!
//! * [`PgStore`] — the room's [`marquee_room::store::Storage`] in Postgres, with SQLite's
//!   semantics (it passes the same `conformance` checks): events with seq and epoch, a gift
//!   ledger unique on `(room, user, key)` (`ON CONFLICT DO NOTHING`: a retried gift, from any
//!   node, is recorded once), one vote per viewer and poll, wallets.
//! * [`PgLeases`] and the sans-IO [`Lease`] — one owner node per room: a lease row whose epoch
//!   is a fencing token. A store opened [`PgStore::with_fences`] checks that epoch inside every
//!   write transaction, so a replaced owner (paused, partitioned, slow) can never commit; a new
//!   owner reloads the room and continues at `max(seq) + 1`.
//! * [`Node`] — one node of a cluster (`marquee room serve --store postgres://… --bus
//!   redis://…`): a room starting on it is owned here (the lease is free) or followed (another
//!   node holds it); owners publish each durable group's fan-out to the [`bus`], edges carry it
//!   out on their own sockets and forward their connections' inputs to the owner.
//! * [`testing`] — real Postgres (and Redis) servers for tests, started and cleaned up by the
//!   test itself.
//!
//! The default single-node build does not link this crate's clients: `marquee-room` stays
//! free of Postgres and Redis.

pub mod bus;
mod fence;
pub mod lease;
mod node;
mod pg;
pub mod redact;
pub mod testing;

pub use fence::Fences;
pub use lease::{Lease, LeaseAction, LeaseConfig, LeaseInput};
pub use node::{Node, NodeConfig};
pub use pg::{Holder, PgLeases, PgStore};
pub use redact::redact_url;
