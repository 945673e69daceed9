//! The bounded queue between a source's driver and its reader. A reader that falls behind
//! never makes the queue grow: plain chat lines beyond the capacity are dropped and counted,
//! and the reader is told how many with a [`EventBody::Dropped`] event before the next one.
//! Gifts, paid messages, moderation and state push out a queued chat line instead of being
//! dropped themselves.

use crate::event::{ChatEvent, EventBody, Platform};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Events accepted from the source.
    pub received: u64,
    /// Events dropped because the reader was behind.
    pub dropped: u64,
    /// Events waiting now.
    pub queued: usize,
}

#[derive(Debug)]
struct Inner {
    q: VecDeque<ChatEvent>,
    cap: usize,
    received: u64,
    dropped: u64,
    unreported: u64,
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    platform: Platform,
    inner: Mutex<Inner>,
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writing end (the driver's).
#[derive(Debug, Clone)]
pub struct EventSender(Arc<Shared>);

/// The reading end: a source's events, in order, with drops counted.
#[derive(Debug)]
pub struct ChatEvents(Arc<Shared>);

/// A queue holding at most `cap` events (at least 1).
pub fn bounded(platform: Platform, cap: usize) -> (EventSender, ChatEvents) {
    let shared = Arc::new(Shared {
        platform,
        inner: Mutex::new(Inner {
            q: VecDeque::with_capacity(cap.clamp(1, 1024)),
            cap: cap.max(1),
            received: 0,
            dropped: 0,
            unreported: 0,
            closed: false,
        }),
        notify: Notify::new(),
    });
    (EventSender(shared.clone()), ChatEvents(shared))
}

impl EventSender {
    /// Never blocks: a full queue drops a chat line (this one, or a queued one to make room
    /// for something that must not be lost) and counts it.
    pub fn push(&self, ev: ChatEvent) {
        {
            let mut g = self.0.lock();
            g.received += 1;
            if g.q.len() >= g.cap {
                if ev.droppable() {
                    g.dropped += 1;
                    g.unreported += 1;
                    return;
                }
                let victim = g.q.iter().position(ChatEvent::droppable).unwrap_or(0);
                g.q.remove(victim);
                g.dropped += 1;
                g.unreported += 1;
            }
            g.q.push_back(ev);
        }
        self.0.notify.notify_one();
    }

    /// No more events will come; the reader gets None once the queue is empty.
    pub fn close(&self) {
        self.0.lock().closed = true;
        self.0.notify.notify_one();
    }
}

impl ChatEvents {
    pub fn platform(&self) -> Platform {
        self.0.platform
    }

    /// The next event without waiting.
    pub fn try_recv(&mut self) -> Option<ChatEvent> {
        let mut g = self.0.lock();
        if g.unreported > 0 {
            let count = std::mem::take(&mut g.unreported);
            return Some(ChatEvent::new(
                self.0.platform,
                EventBody::Dropped { count },
            ));
        }
        g.q.pop_front()
    }

    /// The next event; None when the source has stopped and everything was read.
    pub async fn recv(&mut self) -> Option<ChatEvent> {
        let shared = self.0.clone();
        loop {
            let notified = shared.notify.notified();
            if let Some(ev) = self.try_recv() {
                return Some(ev);
            }
            if shared.lock().closed {
                return None;
            }
            notified.await;
        }
    }

    pub fn stats(&self) -> QueueStats {
        let g = self.0.lock();
        QueueStats {
            received: g.received,
            dropped: g.dropped,
            queued: g.q.len(),
        }
    }
}
