//! A cache's key list: which entries it holds, least recently used first out, bounded by a count and by the bytes
//! of the entries.

use std::num::NonZeroUsize;

use lru::LruCache;

use crate::inner::Key;

/// The bytes of entries a cache keeps at most, whatever its capacity in entries. A cache verifies every page of
/// its file when it opens (about 2 ms per megabyte of entries here), so this bounds what the cache adds to a start.
pub(crate) const BUDGET_BYTES: u64 = 16 << 20;

/// Keys with the size of their entries.
pub(crate) struct Lru {
    order: LruCache<Key, u32>,
    bytes: u64,
    budget: u64,
}

impl Lru {
    pub(crate) fn new(capacity: NonZeroUsize, budget: u64) -> Self {
        Lru {
            order: LruCache::new(capacity),
            bytes: 0,
            budget,
        }
    }

    pub(crate) fn cap(&self) -> NonZeroUsize {
        self.order.cap()
    }

    /// Adds `key`, whose entry has `size` bytes, as the most recently used (replacing what it had), and appends
    /// to `out` the keys that no longer fit in the count or the bytes. The newest key always stays.
    pub(crate) fn push(&mut self, key: Key, size: u32, out: &mut Vec<Key>) {
        self.bytes += u64::from(size);
        if let Some((old, old_size)) = self.order.push(key, size) {
            self.bytes -= u64::from(old_size);
            if old != key {
                out.push(old);
            }
        }
        while self.bytes > self.budget && self.order.len() > 1 {
            let Some((old, old_size)) = self.order.pop_lru() else {
                break;
            };
            self.bytes -= u64::from(old_size);
            out.push(old);
        }
    }

    pub(crate) fn pop(&mut self, key: &Key) {
        if let Some(size) = self.order.pop(key) {
            self.bytes -= u64::from(size);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.bytes = 0;
    }

    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.order.contains(key)
    }

    pub(crate) fn promote(&mut self, key: &Key) {
        self.order.promote(key);
    }
}

#[cfg(test)]
mod tests {
    use memory_core::EpisodeId;

    use super::*;

    fn key(n: u128) -> Key {
        Key::Episode(EpisodeId(uuid::Uuid::from_u128(n)))
    }

    #[test]
    fn entries_leave_by_count_and_by_bytes_least_recent_first() {
        let mut lru = Lru::new(NonZeroUsize::new(3).expect("non-zero"), 100);
        let mut out = Vec::new();
        for n in 1..=3 {
            lru.push(key(n), 10, &mut out);
        }
        lru.promote(&key(1));
        lru.push(key(4), 10, &mut out);
        assert_eq!(out, [key(2)], "the count");
        out.clear();
        lru.push(key(5), 75, &mut out);
        assert_eq!(out, [key(3)], "the bytes: 10 + 10 + 10 + 75 > 100");
        out.clear();
        lru.push(key(5), 20, &mut out);
        assert!(out.is_empty(), "rewriting an entry replaces its size");
        lru.push(key(6), 500, &mut out);
        assert_eq!(
            out,
            [key(1), key(4), key(5)],
            "a too large entry stays alone"
        );
        assert!(lru.contains(&key(6)));
        lru.pop(&key(6));
        lru.push(key(7), 100, &mut out);
        assert_eq!(out.len(), 3, "popping gave its bytes back");
    }
}
