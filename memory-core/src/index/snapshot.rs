//! A collection as a serialisable value, so a new process loads its index instead of rebuilding it from the
//! store. The storage side picks the bytes (the redb cache uses postcard, as for its episodes).
//!
//! A snapshot names the embedding model and the change-feed revision it is current to, and the store that keeps it
//! binds it to the database and the collection it is of ([`Snapshot::bind`]); loading one checks its lengths and
//! the references in its payload, so a foreign or inconsistent snapshot is refused (and the collection rebuilt)
//! rather than searched. The sections are read in place and not checked one by one (a store
//! checksums them): a row or posting list that names nothing reads as empty.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    Collection, DEAD, DocKey, LabelSets, SharedBytes, key_hash, labels::SavedLabels,
    postings::Postings, text::Vocabulary, vectors::Column, words,
};
use crate::Revision;

/// Bumped whenever the layout below or the meaning of a stored field changes.
const FORMAT: u32 = 9;

/// What loading needs of a document to file it; the rest of it is its row in [`Sections::slots`].
#[derive(Serialize, Deserialize)]
struct SlotImage {
    key: DocKey,
    alive: bool,
    len: f32,
    has_vector: bool,
}

/// A saved collection. Scales are a little-endian byte run (serialising numbers one by one would cost more than the
/// rebuild saves); codes, sign planes and postings are [`Sections`] kept apart.
#[derive(Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    /// The database (its store id) and the collection the snapshot is of: set by the store that keeps it.
    store: String,
    collection: String,
    model: String,
    revision: Revision,
    dimension: u32,
    slots: Vec<SlotImage>,
    labels: SavedLabels,
    /// The vocabulary's stems, by term.
    stems: Vec<String>,
    /// The rows, codes, sign planes and postings: kept apart from the rest (see [`Snapshot::sections`]).
    #[serde(skip)]
    sections: Sections,
    #[serde(with = "serde_bytes")]
    scales: Vec<u8>,
}

/// The parts of a snapshot that serialising it leaves out, for a store to keep beside it, raw, and give back with
/// [`Snapshot::with_sections`]: the index reads them in place (a search reads a few thousand documents' codes
/// and the posting lists of its words, not all of them).
#[derive(Clone)]
pub struct Sections {
    /// The documents' rows: revision, time, id, importance, reward, label set and kind, 48 bytes each (aligned to
    /// 8 bytes, or the snapshot is refused).
    pub slots: SharedBytes,
    /// The vectors' int8 codes, `dimension` bytes per document.
    pub codes: SharedBytes,
    /// The vectors' sign planes, 64-bit words (aligned to 8 bytes, or the snapshot is refused).
    pub bits: SharedBytes,
    /// The posting lists (see `index/postings.rs`). Their postings are 4-byte numbers: a store gives them back
    /// aligned to 8 bytes, or the snapshot is refused.
    pub postings: SharedBytes,
}

impl Default for Sections {
    fn default() -> Self {
        Sections {
            slots: Arc::new(Vec::new()),
            codes: Arc::new(Vec::new()),
            bits: Arc::new(Vec::new()),
            postings: Arc::new(Vec::new()),
        }
    }
}

impl Snapshot {
    /// The sections kept apart from the serialised snapshot.
    pub fn sections(&self) -> &Sections {
        &self.sections
    }

    /// The snapshot with `sections`, as [`Snapshot::sections`] gave them.
    pub fn with_sections(mut self, sections: Sections) -> Self {
        self.sections = sections;
        self
    }

    /// The snapshot, said to be of `collection` in the database whose store id is `store`.
    pub fn bind(mut self, store: &str, collection: &str) -> Self {
        self.store = store.to_string();
        self.collection = collection.to_string();
        self
    }

    /// Whether the snapshot was bound to `collection` of the database `store`.
    pub fn is_of(&self, store: &str, collection: &str) -> bool {
        self.store == store && self.collection == collection
    }

    /// The change-feed revision the snapshot is current to.
    pub fn revision(&self) -> Revision {
        self.revision
    }
}

/// A snapshot of `collection`, current to `revision` of its change feed, its vectors made by `model`.
pub fn take(collection: &Collection, model: &str, revision: Revision) -> Snapshot {
    let c = collection;
    Snapshot {
        format: FORMAT,
        store: String::new(),
        collection: String::new(),
        model: model.to_string(),
        revision,
        dimension: c.dimension as u32,
        slots: (0..c.slots.len())
            .map(|i| SlotImage {
                key: c.slot(i as u32).key(),
                alive: c.lengths[i] != DEAD,
                len: c.lengths[i],
                has_vector: c.searchable[i],
            })
            .collect(),
        labels: c.labels.to_saved(),
        stems: c.vocabulary.stems(),
        sections: Sections {
            slots: Arc::new(c.slots.to_bytes()),
            codes: Arc::new(c.codes.to_bytes()),
            bits: Arc::new(c.bits.to_bytes()),
            postings: Arc::new(c.postings.to_bytes()),
        },
        scales: c.scales.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// The collection in `image` and the revision it is current to, if it is a sound snapshot of this format whose
/// vectors `model` made at `dimension`; else why not.
pub fn load(
    image: Snapshot,
    model: &str,
    dimension: usize,
) -> Result<(Collection, Revision), String> {
    if image.format != FORMAT {
        return Err(format!("format {}, expected {FORMAT}", image.format));
    }
    if image.model != model || image.dimension as usize != dimension {
        return Err(format!(
            "made by {} at {} dimensions",
            image.model, image.dimension
        ));
    }
    let n = image.slots.len();
    let rows = Column::loaded(image.sections.slots, 1);
    let codes = Column::loaded(image.sections.codes, dimension);
    let bits = Column::loaded(image.sections.bits, words(dimension));
    let (Some(rows), Some(codes), Some(bits)) = (rows, codes, bits) else {
        return Err("row sections are not whole rows, or not aligned".into());
    };
    if rows.len() != n || codes.len() != n || bits.len() != n || image.scales.len() != n * 4 {
        return Err("row counts do not match the documents".into());
    }
    let vocabulary = Vocabulary::from_stems(&image.stems).ok_or("a stem is saved twice")?;
    let postings = Postings::loaded(image.sections.postings, vocabulary.len())?;
    let mut c = Collection::new(dimension);
    c.vocabulary = vocabulary;
    c.postings = postings;
    (c.slots, c.codes, c.bits) = (rows, codes, bits);
    c.lengths.reserve_exact(n);
    c.searchable.reserve_exact(n);
    c.by_key = hashbrown::HashTable::with_capacity(n);
    c.scales = image
        .scales
        .as_chunks()
        .0
        .iter()
        .map(|b| f32::from_le_bytes(*b))
        .collect();
    c.labels = LabelSets::from_saved(&image.labels).ok_or("the label sets are unsound")?;
    // Filed by the keys decoded here, so that loading reads none of the rows.
    let keys = &image.slots;
    let rehash = |&j: &u32| key_hash(&keys[j as usize].key);
    for (i, s) in keys.iter().enumerate() {
        if s.alive {
            let hash = key_hash(&s.key);
            if c.by_key
                .find(hash, |&j| keys[j as usize].key == s.key)
                .is_some()
            {
                return Err(format!("{:?} is in two slots", s.key));
            }
            c.by_key.insert_unique(hash, i as u32, rehash);
            c.live += 1;
            c.total_len += f64::from(s.len);
        }
        c.searchable.push(s.alive && s.has_vector);
        c.lengths.push(if s.alive { s.len } else { DEAD });
    }
    Ok((c, image.revision))
}

#[cfg(test)]
impl Snapshot {
    /// Drops the last vector code, as a damaged file would.
    pub(crate) fn truncate_vectors(&mut self) {
        let mut codes = (*self.sections.codes).as_ref().to_vec();
        codes.pop();
        self.sections.codes = Arc::new(codes);
    }

    /// The length of the postings run.
    pub(crate) fn postings_len(&self) -> usize {
        (*self.sections.postings).as_ref().len()
    }

    /// Cuts the postings run at `len` bytes.
    pub(crate) fn truncate_postings(&mut self, len: usize) {
        let postings = (*self.sections.postings).as_ref()[..len].to_vec();
        self.sections.postings = Arc::new(postings);
    }
}
