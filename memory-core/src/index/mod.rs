//! The in-process search index: BM25 postings and quantised vectors of one collection of documents (the records
//! of one scope, or the episodes), rebuilt from the store and kept current by its change feed.
//!
//! Full-text ranking is Okapi BM25 (`k1` = 1.2, `b` = 0.75) over weighted fields (BM25F: a term's frequency
//! is the sum of its frequencies in each field times the field's weight). Vectors are kept twice, small: as int8
//! codes with one scale per vector (`x ≈ scale · code`, `scale = max|x| / 127`) and as two bit planes, the
//! positive and the negative signs (a zero code is in neither, which keeps sparse vectors apart). A vector search
//! scores every document by its sign agreements minus disagreements with the query (popcounts over 96 bytes per
//! 384 dimensions) for a shortlist, then ranks the shortlist by the int8 dot product. See ARCHITECTURE.md for the
//! measurements behind this choice.

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

use crate::{EpisodeId, RecordId, Revision, Timestamp};

pub mod docs;
mod labels;
mod memory;
mod postings;
mod slots;
pub mod snapshot;
mod strings;
pub(crate) mod text;
mod vectors;

use labels::LabelSets;
pub use labels::{Labels, LabelsView};

pub use memory::MemoryUse;
pub(crate) use memory::map_bytes;
pub use snapshot::Sections;
pub use vectors::SharedBytes;

use postings::{Posting, Postings, probe};
use slots::{Slot, key_hash};
use text::Vocabulary;
use vectors::{Column, dot, quantise, sign_dot, signs, words};

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// A filter over documents, shareable between the threads of one search (`None` where one is taken: keep all).
pub type Keep<'a> = dyn Fn(&DocView<'_>) -> bool + Sync + 'a;

/// What a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocKey {
    /// A memory record.
    Record(RecordId),
    /// An episode.
    Episode(EpisodeId),
    /// A pattern learnt from episodes.
    Pattern(crate::PatternId),
}

/// What filters and ranking need to know of a document besides its text and vector, as given to the index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocMeta {
    /// When it happened or was stored.
    pub time: Timestamp,
    /// A record's importance (episodes: 0.5).
    pub importance: f32,
    /// An episode's total reward.
    pub reward: Option<f32>,
    /// Its kind, tags, context, outcome and scope.
    pub labels: Labels,
}

/// An indexed document's [`DocMeta`], read from its collection.
#[derive(Clone, Copy, Debug)]
pub struct DocView<'a> {
    /// When it happened or was stored.
    pub time: Timestamp,
    /// A record's importance (episodes: 0.5).
    pub importance: f32,
    /// An episode's total reward.
    pub reward: Option<f32>,
    /// Its kind, tags, context, outcome and scope.
    pub labels: LabelsView<'a>,
}

impl DocView<'_> {
    /// The metadata, owned.
    pub fn to_meta(&self) -> DocMeta {
        DocMeta {
            time: self.time,
            importance: self.importance,
            reward: self.reward,
            labels: self.labels.to_labels(),
        }
    }
}

/// A document to index: weighted text fields, an optional vector and its metadata.
#[derive(Clone, Debug)]
pub struct Doc {
    /// Which document.
    pub key: DocKey,
    /// The revision of the write it reflects; an older copy never replaces a newer one.
    pub revision: Revision,
    /// Text fields and their BM25F weights.
    pub fields: Vec<(String, f32)>,
    /// Its embedding (L2-normalised), if it has one.
    pub vector: Option<Vec<f32>>,
    /// Filter and ranking data.
    pub meta: DocMeta,
}

/// One collection's index. Deleting marks a slot dead; dead slots are dropped when they outnumber live ones.
#[derive(Debug)]
pub struct Collection {
    dimension: usize,
    slots: Column<Slot>,
    /// The live slots, found by their key.
    by_key: HashTable<u32>,
    vocabulary: Vocabulary,
    /// The distinct label sets of the documents.
    labels: LabelSets,
    /// By term.
    postings: Postings,
    total_len: f64,
    live: usize,
    codes: Column<i8>,
    scales: Vec<f32>,
    bits: Column<u64>,
    /// By slot: alive with a vector. Kept apart from the slots so a vector scan reads one byte per document.
    searchable: Vec<bool>,
    /// By slot: the BM25 length of a live document, [`DEAD`] for a dead one (which is how a slot is known to be
    /// dead). Kept apart from the slots so scoring a posting reads four bytes, not a whole slot.
    lengths: Vec<f32>,
}

/// The length of a dead slot in [`Collection::lengths`].
const DEAD: f32 = -1.0;

/// How many documents the sign pass keeps for the int8 pass, for `n` results out of `live` documents: at least
/// 400 and 1 in 64, so the int8 pass costs about a tenth of the sign pass.
fn shortlist(n: usize, live: usize) -> usize {
    (n * 8).max(400).max(live / 64)
}

/// The sign score of a document a vector search leaves out.
const EXCLUDED: i32 = i32::MIN;

/// Collections from this many slots on have their sign pass split over the cores.
pub(crate) const SPLIT_FROM: usize = 100_000;

/// The `n`-th best score of the touched documents (0 when fewer are touched).
fn nth_best(touched: &[u32], scores: &[f32], n: usize) -> f32 {
    if n == 0 || touched.len() < n {
        return 0.0;
    }
    let mut values: Vec<f32> = touched.iter().map(|&s| scores[s as usize]).collect();
    let (_, nth, _) = values.select_nth_unstable_by(n - 1, |a, b| b.total_cmp(a));
    *nth
}

/// The best `n` of `scored` (by score, then slot), best first.
fn top(mut scored: Vec<(u32, f32)>, n: usize) -> Vec<(u32, f32)> {
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > n && n > 0 {
        scored.select_nth_unstable_by(n - 1, order);
        scored.truncate(n);
    }
    scored.sort_unstable_by(order);
    scored.truncate(n);
    scored
}

impl Collection {
    /// An empty collection of vectors of `dimension`.
    pub fn new(dimension: usize) -> Self {
        Collection {
            dimension,
            slots: Column::new(1),
            by_key: HashTable::new(),
            vocabulary: Vocabulary::default(),
            labels: LabelSets::default(),
            postings: Postings::new(),
            total_len: 0.0,
            live: 0,
            codes: Column::new(dimension),
            scales: Vec::new(),
            bits: Column::new(words(dimension)),
            searchable: Vec::new(),
            lengths: Vec::new(),
        }
    }

    /// Documents in the collection.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether it holds no document.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Adds `doc`, replacing an older copy; a copy at an older revision than the indexed one is ignored. Past
    /// 2³² distinct label sets (or their strings), a document's labels are indexed as none.
    pub fn upsert(&mut self, doc: Doc) {
        if let Some(slot) = self.slot_of(doc.key) {
            if self.slot(slot).revision > doc.revision {
                return;
            }
            self.unfile(slot);
            self.kill(slot);
        }
        // A number that names no set reads as empty labels.
        let labels = self.labels.intern(&doc.meta.labels).unwrap_or(u32::MAX);
        let slot = self.slots.len() as u32;
        let mut terms: Vec<(u32, f32)> = Vec::new();
        for (text, weight) in &doc.fields {
            self.vocabulary
                .intern(text, |term| terms.push((term, *weight)));
        }
        let len: f32 = terms.iter().map(|(_, w)| w).sum();
        terms.sort_unstable_by_key(|&(term, _)| term);
        for run in terms.chunk_by(|a, b| a.0 == b.0) {
            let tf = run.iter().map(|(_, w)| w).sum();
            self.postings.push(run[0].0 as usize, Posting { slot, tf });
        }
        let has_vector = match &doc.vector {
            Some(v) if v.len() == self.dimension => {
                let scale = self.codes.push_with(|codes| quantise(v, codes));
                let codes = self.codes.last();
                self.bits.push_with(|bits| signs(codes, bits));
                self.scales.push(scale);
                true
            }
            _ => {
                self.codes.push_zeros();
                self.bits.push_zeros();
                self.scales.push(0.0);
                false
            }
        };
        self.searchable.push(has_vector);
        self.lengths.push(len);
        let row = Slot::new(doc.key, doc.revision, &doc.meta, labels);
        self.slots.push_with(|rows| rows.push(row));
        self.file(slot);
        self.total_len += f64::from(len);
        self.live += 1;
        self.compact_if_sparse();
    }

    /// Reads the documents' rows, the vectors' codes and sign planes and the posting lists from `sections` (those
    /// of a snapshot just taken of the collection, as a store keeps them) instead of its own copies, which are
    /// dropped; a section that does not fit the collection is ignored. The words seen are forgotten too, as
    /// loading the snapshot would.
    pub fn read_sections_from(&mut self, sections: Sections) {
        self.vocabulary.forget_words();
        let slots = self.slots.len();
        if let Some(rows) = Column::loaded(sections.slots, 1).filter(|c| c.len() == slots) {
            self.slots = rows;
        }
        if let Some(codes) =
            Column::loaded(sections.codes, self.dimension).filter(|c| c.len() == slots)
        {
            self.codes = codes;
        }
        if let Some(bits) =
            Column::loaded(sections.bits, words(self.dimension)).filter(|c| c.len() == slots)
        {
            self.bits = bits;
        }
        if let Ok(postings) = Postings::loaded(sections.postings, self.postings.terms()) {
            self.postings = postings;
        }
    }

    /// Gives back the room its arrays grew beyond their contents (a built collection holds about half as much).
    pub fn shrink_to_fit(&mut self) {
        self.slots.shrink_to_fit();
        self.postings.shrink_to_fit();
        self.vocabulary.shrink_to_fit();
        self.codes.shrink_to_fit();
        self.scales.shrink_to_fit();
        self.bits.shrink_to_fit();
        self.searchable.shrink_to_fit();
        self.lengths.shrink_to_fit();
        let slots = &self.slots;
        self.by_key
            .shrink_to_fit(|&s| key_hash(&slots.get(s as usize)[0].key()));
        self.labels.shrink_to_fit();
        self.labels.shrink_to_fit();
    }

    /// Adds many documents.
    pub fn upsert_many(&mut self, docs: Vec<Doc>) {
        for doc in docs {
            self.upsert(doc);
        }
    }

    /// Removes `key`, as of `revision` (an older removal than the indexed copy is ignored).
    pub fn remove(&mut self, key: DocKey, revision: Revision) {
        if let Some(slot) = self.slot_of(key)
            && self.slot(slot).revision <= revision
        {
            self.unfile(slot);
            self.kill(slot);
            self.compact_if_sparse();
        }
    }

    fn kill(&mut self, slot: u32) {
        self.searchable[slot as usize] = false;
        let len = std::mem::replace(&mut self.lengths[slot as usize], DEAD);
        if len != DEAD {
            self.total_len -= f64::from(len);
            self.live -= 1;
        }
    }

    /// Drops dead slots once they are more than half of all and at least 1024.
    fn compact_if_sparse(&mut self) {
        let dead = self.slots.len() - self.live;
        if dead < 1024 || dead < self.live {
            return;
        }
        let mut remap = vec![u32::MAX; self.slots.len()];
        let kept: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.lengths[i] != DEAD)
            .collect();
        for (new, &old) in kept.iter().enumerate() {
            remap[old] = new as u32;
        }
        self.postings = self.postings.remapped(&remap);
        self.lengths = kept.iter().map(|&i| self.lengths[i]).collect();
        self.scales = kept.iter().map(|&i| self.scales[i]).collect();
        self.searchable = kept.iter().map(|&i| self.searchable[i]).collect();
        self.codes = self.codes.select(kept.iter().copied());
        self.bits = self.bits.select(kept.iter().copied());
        let mut labels: Vec<u32> = kept.iter().map(|&i| self.slot(i as u32).labels).collect();
        self.labels.retain(&mut labels);
        let mut slots = Column::new(1);
        for (&i, labels) in kept.iter().zip(labels) {
            let row = Slot {
                labels,
                ..*self.slot(i as u32)
            };
            slots.push_with(|rows| rows.push(row));
        }
        self.slots = slots;
        self.by_key.clear();
        for slot in 0..self.slots.len() as u32 {
            self.file(slot);
        }
    }

    /// The best `n` live documents passing `keep` by BM25 of the query's terms, best first.
    pub fn bm25(&self, query: &str, keep: Option<&Keep<'_>>, n: usize) -> Vec<(u32, f32)> {
        let terms = self.vocabulary.lookup(query);
        if terms.is_empty() || self.live == 0 {
            return Vec::new();
        }
        // A replaced or deleted copy keeps its postings until compaction, so document frequencies count it; so
        // does the number of documents, which keeps idf positive (Lucene counts deletions the same way).
        let docs = self.slots.len() as f32;
        let avg = (self.total_len / self.live as f64).max(1e-6) as f32;
        // Rare terms first: their lists are short and their scores high.
        let mut lists: Vec<([&[Posting]; 2], f32)> = terms
            .iter()
            .map(|&t| {
                let list = self.postings.list(t as usize);
                let df = (list[0].len() + list[1].len()) as f32;
                (list, (1.0 + (docs - df + 0.5).max(0.0) / (df + 0.5)).ln())
            })
            .collect();
        lists.sort_by(|a, b| b.1.total_cmp(&a.1));
        // No document gets more than idf · (k1 + 1) from one term: once the terms left cannot lift an untouched
        // document to the n-th best score so far (MaxScore), they are only looked up for the documents already
        // touched, and of those only for the ones they can still lift that far.
        let mut rest: f32 = lists.iter().map(|(_, idf)| idf * (K1 + 1.0)).sum();
        // 0: untouched; negative: left out by `keep`.
        let mut scores = vec![0.0f32; self.slots.len()];
        let mut touched: Vec<u32> = Vec::new();
        let score = |p: &Posting, idf: f32| -> Option<f32> {
            let len = *self.lengths.get(p.slot as usize)?;
            let norm = K1 * (1.0 - B + B * len / avg);
            (len != DEAD).then(|| idf * p.tf * (K1 + 1.0) / (p.tf + norm))
        };
        for (list, idf) in lists {
            let threshold = nth_best(&touched, &scores, n);
            if touched.len() >= n && rest < threshold {
                touched.retain(|&s| scores[s as usize] + rest >= threshold);
                touched.sort_unstable();
                rest -= idf * (K1 + 1.0);
                for p in list.iter().flat_map(|part| probe(part, &touched)) {
                    if let Some(add) = score(p, idf) {
                        scores[p.slot as usize] += add;
                    }
                }
                continue;
            }
            rest -= idf * (K1 + 1.0);
            // The loaded postings, then those added since: two plain loops, tighter than one over both.
            for part in list {
                for p in part {
                    let Some(add) = score(p, idf) else { continue };
                    let current = &mut scores[p.slot as usize];
                    if *current < 0.0 {
                        continue;
                    }
                    if *current == 0.0 {
                        if keep.is_some_and(|keep| !keep(&self.doc(p.slot).1)) {
                            *current = -1.0;
                            continue;
                        }
                        touched.push(p.slot);
                    }
                    *current += add;
                }
            }
        }
        let scored = touched
            .into_iter()
            .map(|s| (s, scores[s as usize]))
            .collect();
        top(scored, n)
    }

    /// The newest `n` live documents passing `keep`, newest first (then by slot).
    pub fn newest(&self, keep: Option<&Keep<'_>>, n: usize) -> Vec<u32> {
        let mut found: Vec<(i64, u32)> = (0..self.lengths.len() as u32)
            .filter(|&slot| self.lengths[slot as usize] != DEAD)
            .filter_map(|slot| {
                let (_, doc) = self.doc(slot);
                keep.is_none_or(|keep| keep(&doc))
                    .then_some((-doc.time.as_micros(), slot))
            })
            .collect();
        if found.len() > n && n > 0 {
            found.select_nth_unstable(n - 1);
            found.truncate(n);
        }
        found.sort_unstable();
        found.truncate(n);
        found.into_iter().map(|(_, slot)| slot).collect()
    }

    /// The best `n` live documents passing `keep` by cosine similarity to `query` (L2-normalised), best first:
    /// a sign pass over every document, then the int8 pass over its shortlist.
    pub fn nearest(&self, query: &[f32], keep: Option<&Keep<'_>>, n: usize) -> Vec<(u32, f32)> {
        self.nearest_beside(query, keep, n, || ()).0
    }

    /// [`Collection::nearest`], with `beside` run on the calling thread as its share of the work: on a collection
    /// whose sign pass is split over the cores, the calling thread runs `beside` first, then takes its part of the
    /// pass, so another search (the BM25 list) shares the cores instead of competing for them.
    pub fn nearest_beside<T>(
        &self,
        query: &[f32],
        keep: Option<&Keep<'_>>,
        n: usize,
        beside: impl FnOnce() -> T,
    ) -> (Vec<(u32, f32)>, T) {
        if query.len() != self.dimension || self.dimension == 0 || self.live == 0 || n == 0 {
            return (Vec::new(), beside());
        }
        let (d, w) = (self.dimension, words(self.dimension));
        let mut q = Vec::with_capacity(d);
        let q_scale = quantise(query, &mut q);
        let mut q_bits = Vec::with_capacity(w);
        signs(&q, &mut q_bits);
        // Sign scores lie in [-d, d]: a histogram finds the shortlist's cut without sorting.
        let threads = if self.slots.len() >= SPLIT_FROM {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            1
        };
        let mut beside = Some(beside);
        let mut done = None;
        let sign_scores = self.sign_scores(&q_bits, keep, threads, || {
            done = beside.take().map(|f| f());
        });
        let done = done.expect("the sign pass runs its companion");
        let mut histogram = vec![0usize; 2 * d + 1];
        for &score in sign_scores.iter().filter(|&&s| s != EXCLUDED) {
            histogram[(score + d as i32) as usize] += 1;
        }
        let (want, mut taken, mut cut) = (shortlist(n, self.live), 0, 0);
        for (bucket, count) in histogram.iter().enumerate().rev() {
            taken += count;
            cut = bucket as i32 - d as i32;
            if taken >= want {
                break;
            }
        }
        // Everything above the cut, and from the cut's bucket only what the shortlist still has room for.
        let mut room = want.saturating_sub(taken - histogram[(cut + d as i32) as usize]);
        let candidates: Vec<(u32, f32)> = sign_scores
            .iter()
            .enumerate()
            .filter(|&(_, &score)| {
                score != EXCLUDED
                    && (score > cut
                        || (score == cut && room > 0 && {
                            room -= 1;
                            true
                        }))
            })
            .map(|(i, &score)| (i as u32, score as f32))
            .collect();
        let scored = candidates
            .into_iter()
            .map(|(slot, _)| {
                let i = slot as usize;
                (
                    slot,
                    dot(&q, self.codes.get(i)) as f32 * q_scale * self.scales[i],
                )
            })
            .collect();
        (top(scored, n), done)
    }

    /// Every slot's sign score against the query's planes ([`EXCLUDED`] where it has no vector or fails `keep`),
    /// computed on `threads` threads (the calling thread one of them, after running `first`): the pass reads every
    /// document's planes, in chunks that each thread takes in turn, so a thread that starts late takes fewer.
    fn sign_scores(
        &self,
        q_bits: &[u64],
        keep: Option<&Keep<'_>>,
        threads: usize,
        first: impl FnOnce(),
    ) -> Vec<i32> {
        const CHUNK: usize = 16_384;
        let w = words(self.dimension);
        let mut scores = vec![EXCLUDED; self.slots.len()];
        let pass = |first: usize, out: &mut [i32]| {
            // The planes read in place, then the owned ones: two plain loops, tighter than one over both.
            let [loaded, owned] = self.bits.rows(first, out.len());
            let (head, tail) = out.split_at_mut(loaded.len() / w);
            let parts = [
                (first, head, loaded),
                (first + loaded.len() / w, tail, owned),
            ];
            for (start, out, rows) in parts {
                for (j, (score, bits)) in out.iter_mut().zip(rows.chunks_exact(w)).enumerate() {
                    let i = start + j;
                    if self.searchable[i] && keep.is_none_or(|keep| keep(&self.doc(i as u32).1)) {
                        *score = sign_dot(q_bits, bits);
                    }
                }
            }
        };
        let chunks = std::sync::Mutex::new(scores.chunks_mut(CHUNK).enumerate());
        let work = || {
            loop {
                let next = chunks.lock().unwrap_or_else(|e| e.into_inner()).next();
                match next {
                    Some((k, out)) => pass(k * CHUNK, out),
                    None => break,
                }
            }
        };
        std::thread::scope(|s| {
            for _ in 1..threads.max(1) {
                s.spawn(work);
            }
            first();
            work();
        });
        scores
    }

    /// The cosine similarity of two indexed documents, from their codes (0 when either has no vector).
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        if !self.searchable[a] || !self.searchable[b] {
            return 0.0;
        }
        dot(self.codes.get(a), self.codes.get(b)) as f32 * self.scales[a] * self.scales[b]
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
