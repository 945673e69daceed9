//! Durable storage behind a small trait: [`SqliteStore`] (default) and [`MemoryStore`] (tests,
//! ephemeral rooms). A later Postgres store implements the same trait.
//!
//! The room thread runs each group of inputs in one [`Storage::transaction`]: the room's writes
//! and its gifts' ledger inserts are applied in order inside it, and the whole group is made
//! durable by one commit (one fsync) before anything it caused is sent. The ledger is unique on
//! `(room, user, key)`, so a retried, replayed or re-sent gift is recorded once.

mod api;
mod memory;
mod sqlite;
#[cfg(test)]
mod tests;

pub use api::{Storage, StorageError, Txn};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;
