//! Decoded copies of the most recently read cache entries, so a hot read skips the redb lookup and the decode.

use std::{
    num::NonZeroUsize,
    sync::{Mutex, PoisonError},
};

use lru::LruCache;
use memory_core::{Episode, EpisodeId, Versioned};

/// At most this many decoded episodes are kept (a few MiB).
const HOT_ENTRIES: usize = 1024;

/// Decoded copies of cache entries, always equal to what redb holds for them.
///
/// Writers drop the ids they touched after they commit and bump the generation; a reader that decoded an entry
/// from redb keeps the copy only if no write committed since it started reading (same generation), so a copy
/// older than redb's entry is never kept.
pub(crate) struct Hot {
    state: Mutex<State>,
}

struct State {
    entries: LruCache<EpisodeId, Versioned<Episode>>,
    generation: u64,
}

impl Hot {
    /// Room for `min(capacity, HOT_ENTRIES)` episodes.
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        let size = capacity.min(NonZeroUsize::new(HOT_ENTRIES).unwrap_or(NonZeroUsize::MIN));
        Hot {
            state: Mutex::new(State {
                entries: LruCache::new(size),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the decoded entry, if it is hot.
    pub(crate) fn get(&self, id: EpisodeId) -> Option<Versioned<Episode>> {
        self.lock().entries.get(&id).cloned()
    }

    /// The generation to pass to [`Hot::fill`] after reading redb.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps a copy read from redb, unless a write committed since `generation` was taken.
    pub(crate) fn fill(&self, value: &Versioned<Episode>, generation: u64) {
        let mut state = self.lock();
        if state.generation == generation {
            state.entries.put(value.value.id, value.clone());
        }
    }

    /// After a commit: drops the copies of `ids` (or all of them) and starts a new generation.
    pub(crate) fn after_commit(&self, ids: impl IntoIterator<Item = EpisodeId>, clear: bool) {
        let mut state = self.lock();
        if clear {
            state.entries.clear();
        } else {
            for id in ids {
                state.entries.pop(&id);
            }
        }
        state.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_utils::Workload;

    #[test]
    fn a_copy_read_before_a_commit_is_not_kept() {
        let hot = Hot::new(NonZeroUsize::new(8).expect("non-zero"));
        let episode = Workload::new(1).new_episode(0);
        let v = Versioned {
            revision: 3,
            value: episode.clone(),
        };
        let before = hot.generation();
        hot.after_commit([EpisodeId::new()], false);
        hot.fill(&v, before);
        assert!(
            hot.get(episode.id).is_none(),
            "a write committed while it was read"
        );
        hot.fill(&v, hot.generation());
        assert_eq!(hot.get(episode.id), Some(v));
        hot.after_commit([episode.id], false);
        assert!(
            hot.get(episode.id).is_none(),
            "a commit that touched it drops it"
        );
    }
}
