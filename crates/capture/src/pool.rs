//! Frame buffers that are reused instead of allocated for every picture.
//!
//! A 720p I420 picture is 1.4 MB; two sources at 30 fps plus the compositor's own pictures
//! are ~100 such allocations a second, freed on other threads. glibc's malloc keeps much of
//! that churn as fragmented, touched memory (measured: ~20 MiB of the app's PSS while live),
//! and forcing such sizes to `mmap` instead costs a page fault per 4 KiB, every frame.
//! A [`FramePool`] hands out [`FrameBuf`]s that go back to it when dropped — on whatever
//! thread drops the last reference — so a source at steady state allocates nothing.
//!
//! The pool is bounded (`keep` free buffers); a buffer returned to a full pool is freed, so
//! memory never exceeds what is in flight plus `keep` buffers.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Free buffers a source keeps: enough for the pictures in flight downstream (its queue, the
/// compositor's current one, the encoder's and the preview's) to come back and be reused.
pub const SOURCE_KEEP: usize = 2;

/// A bounded set of free buffers, shared by a producer and wherever its buffers end up.
#[derive(Debug, Clone)]
pub struct FramePool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
    counters: PoolCounters,
}

/// What a pool has done (for tests and the benchmark).
#[derive(Debug, Default)]
pub struct PoolCounters {
    /// Buffers handed out that were allocated for the occasion.
    pub allocated: AtomicU64,
    /// Buffers handed out again after being returned.
    pub reused: AtomicU64,
    /// Buffers returned to a full pool (freed).
    pub released: AtomicU64,
}

impl FramePool {
    /// A pool keeping at most `keep` free buffers.
    pub fn new(keep: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                free: Mutex::new(Vec::with_capacity(keep)),
                keep,
                counters: PoolCounters::default(),
            }),
        }
    }

    /// A buffer of `len` bytes. Its contents are unspecified (a reused buffer holds an older
    /// picture): the caller writes every byte.
    pub fn take(&self, len: usize) -> FrameBuf {
        let reused = {
            let mut free = self.inner.free.lock().unwrap_or_else(|e| e.into_inner());
            // Most recently returned first (warm in cache); only a close size, so a pool
            // that saw a larger picture once does not hand 4K buffers to 720p forever.
            let fit = free
                .iter()
                .rposition(|v| v.capacity() >= len && v.capacity() <= len + len / 4);
            fit.map(|i| free.swap_remove(i))
        };
        let mut data = match reused {
            Some(v) => {
                self.inner.counters.reused.fetch_add(1, Ordering::Relaxed);
                v
            }
            None => {
                self.inner
                    .counters
                    .allocated
                    .fetch_add(1, Ordering::Relaxed);
                Vec::with_capacity(len)
            }
        };
        // Only the part never written before is zeroed (none, at a steady size).
        data.resize(len, 0);
        FrameBuf {
            data,
            pool: Some(self.inner.clone()),
        }
    }

    /// A buffer holding a copy of `bytes`.
    pub fn copy_of(&self, bytes: &[u8]) -> FrameBuf {
        let mut b = self.take(bytes.len());
        b.copy_from_slice(bytes);
        b
    }

    pub fn counters(&self) -> &PoolCounters {
        &self.inner.counters
    }

    /// Free buffers waiting now.
    pub fn free(&self) -> usize {
        self.inner
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl Inner {
    fn give(&self, v: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(v);
        } else {
            drop(free);
            self.counters.released.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A picture's bytes: a `Vec<u8>` that returns to its [`FramePool`] when dropped (or is
/// simply freed if it has none, e.g. one made with `FrameBuf::from(vec)`).
#[derive(Default)]
pub struct FrameBuf {
    data: Vec<u8>,
    pool: Option<Arc<Inner>>,
}

impl FrameBuf {
    /// The bytes as a plain vector (leaving the pool).
    pub fn into_vec(mut self) -> Vec<u8> {
        self.pool = None;
        std::mem::take(&mut self.data)
    }
}

impl From<Vec<u8>> for FrameBuf {
    fn from(data: Vec<u8>) -> Self {
        Self { data, pool: None }
    }
}

impl Clone for FrameBuf {
    /// A copy, from the same pool.
    fn clone(&self) -> Self {
        match &self.pool {
            Some(p) => FramePool { inner: p.clone() }.copy_of(&self.data),
            None => Self::from(self.data.clone()),
        }
    }
}

impl Deref for FrameBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.data
    }
}

impl DerefMut for FrameBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }
}

impl AsRef<[u8]> for FrameBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl PartialEq for FrameBuf {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl std::fmt::Debug for FrameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameBuf({} bytes)", self.data.len())
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            p.give(std::mem::take(&mut self.data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_producer_allocates_only_what_is_in_flight() {
        let pool = FramePool::new(4);
        let mut in_flight = std::collections::VecDeque::new();
        for i in 0..300u32 {
            let mut b = pool.take(1_382_400);
            b[0] = i as u8;
            in_flight.push_back(b);
            // Three pictures held downstream at any time (queue, compositor, encoder).
            if in_flight.len() > 3 {
                in_flight.pop_front();
            }
        }
        let c = pool.counters();
        assert_eq!(c.allocated.load(Ordering::Relaxed), 4);
        assert_eq!(c.reused.load(Ordering::Relaxed), 296);
    }

    #[test]
    fn buffers_return_from_other_threads_and_a_full_pool_frees_the_rest() {
        let pool = FramePool::new(2);
        let bufs: Vec<FrameBuf> = (0..5).map(|_| pool.take(1000)).collect();
        std::thread::spawn(move || drop(bufs)).join().unwrap();
        assert_eq!(pool.free(), 2);
        assert_eq!(pool.counters().released.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_much_larger_free_buffer_is_not_handed_out_for_a_small_picture() {
        let pool = FramePool::new(4);
        drop(pool.take(8_000_000));
        let b = pool.take(1_000_000);
        assert!(b.capacity() < 2_000_000);
        assert_eq!(pool.counters().allocated.load(Ordering::Relaxed), 2);
        // A buffer without a pool is just freed.
        drop(FrameBuf::from(vec![1, 2, 3]));
    }

    #[test]
    fn a_reused_buffer_has_the_asked_length_and_a_copy_is_equal() {
        let pool = FramePool::new(4);
        drop(pool.copy_of(&[7; 100]));
        let b = pool.take(90);
        assert_eq!(b.len(), 90);
        let c = pool.copy_of(&[1, 2, 3]);
        assert_eq!(c.clone(), c);
        assert_eq!(c.into_vec(), vec![1, 2, 3]);
    }
}
