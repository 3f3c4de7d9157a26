//! What a collection holds in memory, by part, for `Records::index_info` and the benches.

use serde::Serialize;

use super::Collection;

/// About how many bytes a collection holds: see [`Collection::memory`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUse {
    /// Slots, keys and metadata.
    pub documents: usize,
    /// The vocabulary: words and stems.
    pub vocabulary: usize,
    /// The posting lists.
    pub postings: usize,
    /// The vectors' codes, scales and sign planes.
    pub vectors: usize,
}

impl MemoryUse {
    /// All of it.
    pub fn total(&self) -> usize {
        self.documents + self.vocabulary + self.postings + self.vectors
    }
}

/// About the bytes a hash table of `capacity` entries of `entry` bytes holds: its entries and a control byte each.
pub(crate) fn map_bytes(capacity: usize, entry: usize) -> usize {
    capacity * (entry + 1)
}

impl Collection {
    /// About how many bytes the collection holds, by part (the allocator's own overhead not counted).
    pub fn memory(&self) -> MemoryUse {
        MemoryUse {
            documents: self.slots.owned_bytes()
                + map_bytes(self.by_key.capacity(), size_of::<u32>())
                + self.labels.memory()
                + self.lengths.capacity() * size_of::<f32>()
                + self.searchable.capacity(),
            vocabulary: self.vocabulary.memory(),
            postings: self.postings.owned_bytes(),
            vectors: self.codes.owned_bytes()
                + self.scales.capacity() * size_of::<f32>()
                + self.bits.owned_bytes(),
        }
    }
}
