//! Durable storage behind a small trait: [`SqliteStore`] (default) and [`MemoryStore`] (tests,
//! ephemeral rooms). `marquee-roomcluster` adds Postgres behind the same trait; every backend runs the
//! checks of `conformance` (feature `conformance`).
//!
//! The room thread runs each group of inputs in one [`Storage::transaction`]: the room's writes
//! and its gifts' ledger inserts are applied in order inside it, and the whole group is made
//! durable by one commit (one fsync) before anything it caused is sent. The ledger is unique on
//! `(room, user, key)`, so a retried, replayed or re-sent gift is recorded once.

mod api;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod memory;
mod sqlite;
#[cfg(test)]
mod tests;

pub use api::{Storage, StorageError, Txn};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;
