//! What the room needs from storage: a room's snapshot, and transactions that apply its writes
//! and record its gifts in order and make them durable together.

use crate::protocol::ModLogEntry;
use crate::room::{GiftOutcome, GiftRecord, Snapshot, WalletRec, Write};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Another backend's error, as its text (with any secret already removed).
    #[error("{0}")]
    Backend(String),
    /// This node no longer holds the room's lease: another owner took over, and the write was
    /// refused so that two owners never both commit.
    #[error("fenced: {0}")]
    Fenced(String),
}

/// One open transaction of a room: what is done through it is applied in order, and becomes
/// durable when [`Storage::transaction`] returns `Ok`.
pub trait Txn {
    /// Apply one of the room's writes.
    fn write(&mut self, w: &Write) -> Result<(), StorageError>;
    /// Insert a gift in the ledger unless its key is already there, and then write the
    /// sender's `wallet` (what they have left once it is paid for). Without a wallet (the
    /// sender cannot pay) only look the key up: [`GiftOutcome::Duplicate`] or
    /// [`GiftOutcome::NotRecorded`].
    fn record_gift(
        &mut self,
        gift: &GiftRecord,
        wallet: Option<&WalletRec>,
    ) -> Result<GiftOutcome, StorageError>;
}

/// What the room needs from storage.
pub trait Storage: Send {
    /// Everything needed to reopen a room; `resume_window` most recent events.
    fn load(&mut self, room: &str, resume_window: usize) -> Result<Snapshot, StorageError>;
    /// Run `f` as one transaction: everything it did is durable when this returns `Ok` (one
    /// commit, one fsync, however many writes and gifts), and none of it is kept when `f` or
    /// the commit fails.
    fn transaction(
        &mut self,
        room: &str,
        f: &mut dyn FnMut(&mut dyn Txn) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    /// The whole ledger of a room, in insertion order.
    fn ledger(&mut self, room: &str) -> Result<Vec<GiftRecord>, StorageError>;
    /// Moderation log, oldest first, at most `limit` most recent.
    fn modlog(&mut self, room: &str, limit: usize) -> Result<Vec<ModLogEntry>, StorageError>;
    /// Whether the room was ever created here (asking writes nothing). A store that cannot
    /// tell says no: such rooms are then created again only by their host.
    fn has_room(&mut self, room: &str) -> Result<bool, StorageError> {
        let _ = room;
        Ok(false)
    }

    /// These writes, all or nothing.
    fn commit(&mut self, room: &str, writes: &[Write]) -> Result<(), StorageError> {
        self.transaction(room, &mut |t| writes.iter().try_for_each(|w| t.write(w)))
    }

    /// One gift in a transaction of its own.
    fn record_gift(
        &mut self,
        room: &str,
        gift: &GiftRecord,
        wallet: Option<&WalletRec>,
    ) -> Result<GiftOutcome, StorageError> {
        let mut outcome = None;
        self.transaction(room, &mut |t| {
            outcome = Some(t.record_gift(gift, wallet)?);
            Ok(())
        })?;
        outcome.ok_or_else(|| StorageError::Corrupt("the gift's transaction did not run".into()))
    }
}
