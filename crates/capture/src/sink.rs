//! Bounded hand-off from a source thread: never blocks the producer; drops and counts.

use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters a sink keeps, readable from any thread for stats.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub delivered: AtomicU64,
    /// Items dropped because the consumer was behind (queue full).
    pub dropped: AtomicU64,
}

/// The producer side of a bounded queue.
pub struct Sink<T> {
    tx: Sender<T>,
    counters: Arc<SinkCounters>,
}

impl<T> Clone for Sink<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            counters: self.counters.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("counters", &self.counters)
            .finish()
    }
}

impl<T> Sink<T> {
    /// Hands `item` over without blocking. Returns false only when the consumer is gone.
    pub fn send(&self, item: T) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    pub fn counters(&self) -> &Arc<SinkCounters> {
        &self.counters
    }
}

/// A bounded queue of `capacity` items: the sink for a source, the receiver for its consumer.
pub fn bounded<T>(capacity: usize) -> (Sink<T>, Receiver<T>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    (
        Sink {
            tx,
            counters: Arc::new(SinkCounters::default()),
        },
        rx,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_and_counts_instead_of_blocking() {
        let (sink, rx) = bounded(2);
        for i in 0..5 {
            assert!(sink.send(i));
        }
        assert_eq!(sink.counters().delivered.load(Ordering::Relaxed), 2);
        assert_eq!(sink.counters().dropped.load(Ordering::Relaxed), 3);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn send_reports_a_gone_consumer() {
        let (sink, rx) = bounded::<u8>(1);
        drop(rx);
        assert!(!sink.send(1));
    }
}
