//! The documents' rows and the key table that finds them.

use std::hash::BuildHasher as _;

use super::{Collection, DocKey, DocMeta, DocView};
use crate::{EpisodeId, RecordId, Revision, Timestamp};

/// The hash the key table files a key under (the table is rebuilt on every load, never saved).
pub(super) fn key_hash(key: &DocKey) -> u64 {
    foldhash::fast::FixedState::with_seed(0).hash_one(key)
}

/// A document as its collection keeps it: a fixed 48-byte row, so that a snapshot's rows are read in place.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct Slot {
    pub(super) revision: Revision,
    /// Microseconds since the Unix epoch.
    pub(super) time: i64,
    /// The record's, episode's or pattern's id.
    pub(super) id: [u8; 16],
    pub(super) importance: f32,
    /// NaN for none.
    pub(super) reward: f32,
    /// Its number in [`Collection::labels`].
    pub(super) labels: u32,
    /// What `id` names: 0 a record, 1 an episode, 2 a pattern.
    pub(super) kind: u32,
}

impl Slot {
    pub(super) fn new(key: DocKey, revision: Revision, meta: &DocMeta, labels: u32) -> Self {
        let (kind, id) = match key {
            DocKey::Record(id) => (0, id.0),
            DocKey::Episode(id) => (1, id.0),
            DocKey::Pattern(id) => (2, id.0),
        };
        Slot {
            revision,
            time: meta.time.as_micros(),
            id: id.into_bytes(),
            importance: meta.importance,
            reward: meta.reward.unwrap_or(f32::NAN),
            labels,
            kind,
        }
    }

    pub(super) fn key(&self) -> DocKey {
        let id = uuid::Uuid::from_bytes(self.id);
        match self.kind {
            0 => DocKey::Record(RecordId(id)),
            1 => DocKey::Episode(EpisodeId(id)),
            // Only 2 is written; a row read from a snapshot is checksummed, not checked, so any other is read
            // as a pattern rather than trusted to be unreachable.
            _ => DocKey::Pattern(crate::PatternId(id)),
        }
    }
}

impl Collection {
    /// The row of `slot`.
    pub(super) fn slot(&self, slot: u32) -> &Slot {
        &self.slots.get(slot as usize)[0]
    }

    /// The live slot of `key`.
    pub(super) fn slot_of(&self, key: DocKey) -> Option<u32> {
        let found = self
            .by_key
            .find(key_hash(&key), |&s| self.slot(s).key() == key);
        found.copied()
    }

    /// Files `slot` under its key.
    pub(super) fn file(&mut self, slot: u32) {
        let slots = &self.slots;
        let key_of = |s: u32| slots.get(s as usize)[0].key();
        let rehash = |&s: &u32| key_hash(&key_of(s));
        self.by_key
            .insert_unique(key_hash(&key_of(slot)), slot, rehash);
    }

    /// The revision of the indexed copy of `key`.
    pub fn revision(&self, key: DocKey) -> Option<Revision> {
        self.slot_of(key).map(|s| self.slot(s).revision)
    }

    /// Takes `slot` out of [`Collection::by_key`].
    pub(super) fn unfile(&mut self, slot: u32) {
        let key = key_hash(&self.slot(slot).key());
        if let Ok(entry) = self.by_key.find_entry(key, |&s| s == slot) {
            entry.remove();
        }
    }

    /// The key and metadata of a slot returned by a search.
    pub fn doc(&self, slot: u32) -> (DocKey, DocView<'_>) {
        let s = self.slot(slot);
        let view = DocView {
            time: Timestamp::from_micros(s.time),
            importance: s.importance,
            reward: (!s.reward.is_nan()).then_some(s.reward),
            labels: self.labels.get(s.labels),
        };
        (s.key(), view)
    }
}
