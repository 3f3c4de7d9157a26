//! Properties of a collection against a brute-force scan of the documents it should hold: after any sequence of
//! upserts (new and replacing), removals, stale writes and snapshot round trips, BM25 returns exactly the best
//! scores a full scan computes, and the vector search the best cosines (up to the int8 codes' error).
//! `PROPTEST_CASES` sets how many sequences run (64 by default; `scripts/fuzz.sh` runs many more).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{B, Collection, DEAD, Doc, DocKey, DocMeta, K1, snapshot, text::terms};
use crate::{Embedder, LexicalEmbedder, RecordId, Revision};

const DIMENSION: usize = 64;
const WORDS: [&str; 24] = [
    "settlement",
    "settle",
    "retry",
    "retries",
    "timeout",
    "flaky",
    "test",
    "tests",
    "ledger",
    "rounding",
    "refund",
    "webhook",
    "the",
    "of",
    "cargo",
    "tokio",
    "clock",
    "pause",
    "payments",
    "async",
    "panic",
    "error",
    "lock",
    "io",
];

#[derive(Clone, Debug)]
enum Op {
    /// Writes document `n` with these words.
    Upsert(u8, Vec<u8>),
    /// Deletes document `n`.
    Remove(u8),
    /// Writes document `n` at a revision older than the one indexed: it must change nothing.
    Stale(u8, Vec<u8>),
    /// Saves the collection and loads it back.
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    let text = || proptest::collection::vec(0u8..WORDS.len() as u8, 0..12);
    prop_oneof![
        6 => (0u8..40, text()).prop_map(|(n, t)| Op::Upsert(n, t)),
        2 => (0u8..40).prop_map(Op::Remove),
        1 => (0u8..40, text()).prop_map(|(n, t)| Op::Stale(n, t)),
        1 => Just(Op::Reload),
    ]
}

fn key(n: u8) -> DocKey {
    DocKey::Record(RecordId(uuid::Uuid::from_u128(u128::from(n) + 1)))
}

fn text(words: &[u8]) -> String {
    words
        .iter()
        .map(|&w| WORDS[w as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn embed(text: &str) -> Option<Vec<f32>> {
    LexicalEmbedder::new(DIMENSION).embed(&[text]).ok()?.pop()
}

fn doc(n: u8, text: &str, revision: Revision) -> Doc {
    Doc {
        key: key(n),
        revision,
        fields: vec![(text.to_string(), 1.0)],
        vector: embed(text),
        meta: DocMeta::default(),
    }
}

/// What the collection should hold: every copy written, in the order written, and whether it is still the live
/// one. Replaced and deleted copies count in BM25's document frequencies and document count until compaction
/// (which starts at 1024 dead copies, more than these sequences write).
#[derive(Default)]
struct Model {
    copies: Vec<(u8, String, bool)>,
}

impl Model {
    fn kill(&mut self, n: u8) {
        for copy in &mut self.copies {
            if copy.0 == n {
                copy.2 = false;
            }
        }
    }

    fn write(&mut self, n: u8, text: String) {
        self.kill(n);
        self.copies.push((n, text, true));
    }

    fn holds(&self, n: u8) -> bool {
        self.copies.iter().any(|c| c.0 == n && c.2)
    }

    fn live(&self) -> BTreeMap<u8, String> {
        self.copies
            .iter()
            .filter(|c| c.2)
            .map(|c| (c.0, c.1.clone()))
            .collect()
    }

    /// BM25 of `query` over the live documents, computed from scratch, best first.
    fn bm25(&self, query: &str) -> Vec<(DocKey, f32)> {
        let bags: Vec<(u8, Vec<String>, bool)> = self
            .copies
            .iter()
            .map(|(n, t, alive)| (*n, terms(t), *alive))
            .collect();
        let live: Vec<&(u8, Vec<String>, bool)> = bags.iter().filter(|b| b.2).collect();
        if live.is_empty() {
            return Vec::new();
        }
        let n = bags.len() as f32;
        let avg =
            (live.iter().map(|b| b.1.len()).sum::<usize>() as f32 / live.len() as f32).max(1e-6);
        let mut wanted = terms(query);
        wanted.sort();
        wanted.dedup();
        let mut scored: Vec<(DocKey, f32)> = live
            .iter()
            .filter_map(|(doc, bag, _)| {
                let mut score = 0.0;
                let mut matched = false;
                for term in &wanted {
                    let df = bags.iter().filter(|b| b.1.contains(term)).count() as f32;
                    let tf = bag.iter().filter(|t| *t == term).count() as f32;
                    if tf > 0.0 {
                        matched = true;
                        let idf = (1.0 + (n - df + 0.5).max(0.0) / (df + 0.5)).ln();
                        let norm = K1 * (1.0 - B + B * bag.len() as f32 / avg);
                        score += idf * tf * (K1 + 1.0) / (tf + norm);
                    }
                }
                matched.then_some((key(*doc), score))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
    }
}

/// The similarity of `query` to every document's vector (unit or, for a blank text, zero), best first.
fn brute_cosine(docs: &BTreeMap<u8, String>, query: &[f32]) -> Vec<(DocKey, f32)> {
    let dot = |v: &[f32]| v.iter().zip(query).map(|(a, b)| a * b).sum::<f32>();
    let mut scored: Vec<(DocKey, f32)> = docs
        .iter()
        .filter_map(|(&n, t)| embed(t).map(|v| (key(n), dot(&v))))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

fn reload(c: &Collection) -> Collection {
    let image = snapshot::take(c, "lexical", 1);
    snapshot::load(image, "lexical", DIMENSION)
        .expect("a snapshot of a collection loads")
        .0
}

proptest! {
    #[test]
    fn searches_agree_with_a_brute_force_scan(ops in proptest::collection::vec(op(), 1..60), query in proptest::collection::vec(0u8..WORDS.len() as u8, 1..5)) {
        let mut c = Collection::new(DIMENSION);
        let mut truth = Model::default();
        let mut revision: Revision = 10;
        for op in ops {
            revision += 1;
            match op {
                Op::Upsert(n, words) => {
                    let t = text(&words);
                    c.upsert(doc(n, &t, revision));
                    truth.write(n, t);
                }
                Op::Remove(n) => {
                    c.remove(key(n), revision);
                    truth.kill(n);
                }
                // The index keeps no tombstones (the feed is in order): a stale write is one of a document it holds.
                Op::Stale(n, words) if truth.holds(n) => c.upsert(doc(n, &text(&words), 1)),
                Op::Stale(..) => {}
                Op::Reload => c = reload(&c),
            }
        }
        let live = truth.live();
        prop_assert_eq!(c.len(), live.len());
        let query = text(&query);
        let expected = truth.bm25(&query);
        let found = c.bm25(&query, None, 10);
        prop_assert_eq!(found.len(), expected.len().min(10));
        for ((slot, score), (_, best)) in found.iter().zip(&expected) {
            // Ties may come in any order: the scores must be the best ones, and each must be its document's.
            prop_assert!((score - best).abs() < 1e-3, "{} vs {}", score, best);
            let (k, _) = c.doc(*slot);
            let own = expected.iter().find(|(e, _)| *e == k).map(|(_, s)| *s);
            prop_assert!(own.is_some_and(|own| (own - score).abs() < 1e-3), "{:?}: {} vs {:?}", k, score, own);
            prop_assert!(c.lengths[*slot as usize] != DEAD);
        }
        let Some(q) = embed(&query) else { return Ok(()) };
        let expected = brute_cosine(&live, &q);
        let found = c.nearest(&q, None, 5);
        prop_assert_eq!(found.len(), expected.len().min(5));
        for ((slot, score), (_, best)) in found.iter().zip(&expected) {
            let (k, _) = c.doc(*slot);
            let own = expected.iter().find(|(e, _)| *e == k).map(|(_, s)| *s);
            prop_assert!(own.is_some_and(|own| (own - score).abs() < 0.03), "{:?}: {} vs {:?}", k, score, own);
            prop_assert!(*score >= best - 0.03, "{} is below the best {}", score, best);
        }
    }
}
