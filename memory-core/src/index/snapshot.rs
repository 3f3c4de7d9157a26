//! A collection as a serialisable value, so a new process loads its index instead of rebuilding it from the
//! store. The storage side picks the bytes (the redb cache uses postcard, as for its episodes).
//!
//! A snapshot names the embedding model and the change-feed revision it is current to; loading one checks every
//! length and every reference in it, so a damaged or foreign snapshot is refused (and the collection rebuilt)
//! rather than searched.

use std::{collections::HashMap, sync::Arc};

use serde::{Deserialize, Serialize};

use super::{
    Collection, DEAD, DocKey, DocMeta, Labels, List, Posting, SharedBytes, Slot, text::Vocabulary,
    vectors::Codes, words,
};
use crate::{Revision, Timestamp};

/// Bumped whenever the layout below or the meaning of a stored field changes.
const FORMAT: u32 = 4;

#[derive(Serialize, Deserialize)]
struct SlotImage {
    key: DocKey,
    revision: Revision,
    alive: bool,
    len: f32,
    has_vector: bool,
    time: Timestamp,
    importance: f32,
    reward: Option<f32>,
    /// Its index in [`Snapshot::labels`].
    labels: u32,
}

/// A saved collection. Vectors and postings are little-endian byte runs: serialising tens of millions of numbers
/// one by one would cost more than the rebuild saves.
#[derive(Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    model: String,
    revision: Revision,
    dimension: u32,
    slots: Vec<SlotImage>,
    labels: Vec<Labels>,
    words: Vec<(String, u32)>,
    stems: Vec<(String, u32)>,
    /// Per term: its posting count (u32), then each posting's slot (u32) and frequency (f32).
    #[serde(with = "serde_bytes")]
    postings: Vec<u8>,
    /// The vectors' codes: kept apart from the rest (see [`Snapshot::codes`]).
    #[serde(skip, default = "no_codes")]
    codes: SharedBytes,
    #[serde(with = "serde_bytes")]
    scales: Vec<u8>,
    #[serde(with = "serde_bytes")]
    bits: Vec<u8>,
}

fn no_codes() -> SharedBytes {
    Arc::new(Vec::new())
}

impl Snapshot {
    /// The vectors' int8 codes, `dimension` bytes per document, which serialising the snapshot leaves out: a
    /// store keeps them beside it, raw, and gives them back with [`Snapshot::with_codes`], where the index reads
    /// them in place (a search reads a few thousand documents' codes, not all of them).
    pub fn codes(&self) -> &[u8] {
        (*self.codes).as_ref()
    }

    /// The snapshot with `codes`, as [`Snapshot::codes`] gave them.
    pub fn with_codes(mut self, codes: SharedBytes) -> Self {
        self.codes = codes;
        self
    }
}

/// A snapshot of `collection`, current to `revision` of its change feed, its vectors made by `model`.
pub fn take(collection: &Collection, model: &str, revision: Revision) -> Snapshot {
    let c = collection;
    let mut postings = Vec::new();
    for list in &c.postings {
        postings.extend_from_slice(&(list.len() as u32).to_le_bytes());
        for p in list {
            postings.extend_from_slice(&p.slot.to_le_bytes());
            postings.extend_from_slice(&p.tf.to_le_bytes());
        }
    }
    let (words, stems) = c.vocabulary.parts();
    let labels: Vec<Arc<Labels>> = c.labels.iter().cloned().collect();
    let numbers: HashMap<*const Labels, u32> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (Arc::as_ptr(l), i as u32))
        .collect();
    Snapshot {
        format: FORMAT,
        model: model.to_string(),
        revision,
        dimension: c.dimension as u32,
        slots: c
            .slots
            .iter()
            .zip(&c.lengths)
            .map(|(s, &len)| SlotImage {
                key: s.key,
                revision: s.revision,
                alive: len != DEAD,
                len,
                has_vector: s.has_vector,
                time: s.meta.time,
                importance: s.meta.importance,
                reward: s.meta.reward,
                labels: numbers[&Arc::as_ptr(&s.meta.labels)],
            })
            .collect(),
        labels: labels.iter().map(|l| l.as_ref().clone()).collect(),
        words,
        stems,
        postings,
        codes: Arc::new(c.codes.to_bytes()),
        scales: c.scales.iter().flat_map(|x| x.to_le_bytes()).collect(),
        bits: c.bits.iter().flat_map(|x| x.to_le_bytes()).collect(),
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
    let w = words(dimension);
    if image.codes().len() != n * dimension
        || image.scales.len() != n * 4
        || image.bits.len() != n * w * 8
    {
        return Err("vector lengths do not match the documents".into());
    }
    let vocabulary =
        Vocabulary::from_parts(image.words, image.stems).ok_or("inconsistent vocabulary")?;
    let postings = read_postings(&image.postings, n, vocabulary.len())?;
    let mut c = Collection::new(dimension);
    c.vocabulary = vocabulary;
    c.postings = postings;
    c.codes = Codes::loaded(image.codes, dimension);
    c.scales = image
        .scales
        .as_chunks()
        .0
        .iter()
        .map(|b| f32::from_le_bytes(*b))
        .collect();
    c.bits = image
        .bits
        .as_chunks()
        .0
        .iter()
        .map(|b| u64::from_le_bytes(*b))
        .collect();
    let labels: Vec<Arc<Labels>> = image.labels.into_iter().map(Arc::new).collect();
    c.labels = labels.iter().cloned().collect();
    if c.labels.len() != labels.len() {
        return Err("a label set is saved twice".into());
    }
    for (i, s) in image.slots.into_iter().enumerate() {
        let labels = labels
            .get(s.labels as usize)
            .ok_or("a document names a label set that is not saved")?;
        if s.alive {
            if c.by_key.insert(s.key, i as u32).is_some() {
                return Err(format!("{:?} is in two slots", s.key));
            }
            c.live += 1;
            c.total_len += f64::from(s.len);
        }
        c.searchable.push(s.alive && s.has_vector);
        c.lengths.push(if s.alive { s.len } else { DEAD });
        c.slots.push(Slot {
            key: s.key,
            revision: s.revision,
            has_vector: s.has_vector,
            meta: DocMeta {
                time: s.time,
                importance: s.importance,
                reward: s.reward,
                labels: labels.clone(),
            },
        });
    }
    Ok((c, image.revision))
}

/// The posting lists in `bytes`: one per term, of postings in increasing slot order below `slots`.
fn read_postings(mut bytes: &[u8], slots: usize, terms: usize) -> Result<Vec<List>, String> {
    let damaged = || "damaged postings".to_string();
    let next = |bytes: &mut &[u8]| -> Option<[u8; 4]> {
        let (head, rest) = bytes.split_first_chunk::<4>()?;
        *bytes = rest;
        Some(*head)
    };
    let mut lists = Vec::new();
    while !bytes.is_empty() {
        let count = u32::from_le_bytes(next(&mut bytes).ok_or_else(damaged)?) as usize;
        if count > bytes.len() / 8 {
            return Err(damaged());
        }
        let mut list = List::with_capacity(count);
        for _ in 0..count {
            let slot = u32::from_le_bytes(next(&mut bytes).ok_or_else(damaged)?);
            let tf = f32::from_le_bytes(next(&mut bytes).ok_or_else(damaged)?);
            let ordered = list.last().is_none_or(|p: &Posting| p.slot < slot);
            if slot as usize >= slots || !ordered {
                return Err(damaged());
            }
            list.push(Posting { slot, tf });
        }
        lists.push(list);
    }
    if lists.len() != terms {
        return Err(damaged());
    }
    Ok(lists)
}

#[cfg(test)]
impl Snapshot {
    /// Drops the last vector code, as a damaged file would.
    pub(crate) fn truncate_vectors(&mut self) {
        let mut codes = self.codes().to_vec();
        codes.pop();
        self.codes = Arc::new(codes);
    }

    /// The length of the postings run.
    pub(crate) fn postings_len(&self) -> usize {
        self.postings.len()
    }

    /// Cuts the postings run at `len` bytes.
    pub(crate) fn truncate_postings(&mut self, len: usize) {
        self.postings.truncate(len);
    }
}
