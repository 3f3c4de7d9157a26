use std::sync::Arc;

use super::*;
use crate::{LexicalEmbedder, cosine, embed::Embedder};

fn doc(n: u128, text: &str, revision: Revision) -> Doc {
    let vector = LexicalEmbedder::new(64).embed(&[text]).unwrap().pop();
    Doc {
        key: DocKey::Record(RecordId(uuid::Uuid::from_u128(n))),
        revision,
        fields: vec![(text.to_string(), 1.0)],
        vector,
        meta: DocMeta::default(),
    }
}

fn keys(c: &Collection, hits: &[(u32, f32)]) -> Vec<DocKey> {
    hits.iter().map(|&(s, _)| c.doc(s).0).collect()
}

fn key(n: u128) -> DocKey {
    DocKey::Record(RecordId(uuid::Uuid::from_u128(n)))
}

#[test]
fn bm25_prefers_rare_terms_and_short_documents() {
    let mut c = Collection::new(64);
    c.upsert(doc(1, "the settlement test is flaky under load", 1));
    c.upsert(doc(2, "the test passes", 2));
    c.upsert(doc(
        3,
        "a test, a test, and one more test about nothing in particular at all",
        3,
    ));
    let hits = c.bm25("flaky test", None, 10);
    assert_eq!(
        keys(&c, &hits)[0],
        key(1),
        "the only one with the rare term"
    );
    assert_eq!(hits.len(), 3);
    assert!(c.bm25("", None, 10).is_empty());
    assert!(c.bm25("unrelated words", None, 10).is_empty());
}

#[test]
fn field_weights_count() {
    let mut c = Collection::new(64);
    let mut a = doc(1, "deploy", 1);
    a.fields.push(("payments".into(), 0.2));
    let mut b = doc(2, "payments", 1);
    b.fields.push(("deploy".into(), 0.2));
    c.upsert(a);
    c.upsert(b);
    assert_eq!(keys(&c, &c.bm25("payments", None, 2)), [key(2), key(1)]);
}

#[test]
fn newer_revisions_win_and_removal_is_final() {
    let mut c = Collection::new(64);
    c.upsert(doc(1, "alpha", 5));
    c.upsert(doc(1, "beta", 4));
    assert_eq!(
        c.bm25("alpha", None, 5).len(),
        1,
        "the older copy is ignored"
    );
    c.upsert(doc(1, "gamma", 6));
    assert!(c.bm25("alpha", None, 5).is_empty());
    assert_eq!(c.len(), 1);
    c.remove(key(1), 3);
    assert_eq!(c.len(), 1, "an older removal is ignored");
    c.remove(key(1), 7);
    assert!(c.is_empty());
    assert!(c.bm25("gamma", None, 5).is_empty());
    assert!(
        c.nearest(&doc(9, "gamma", 0).vector.unwrap(), None, 5)
            .is_empty()
    );
}

#[test]
fn filters_apply_before_the_cut() {
    let mut c = Collection::new(64);
    for n in 0..20 {
        let mut d = doc(n, "shared words here", n as Revision);
        d.meta.importance = if n == 13 { 1.0 } else { 0.0 };
        c.upsert(d);
    }
    let keep = |d: &DocView<'_>| d.importance > 0.5;
    assert_eq!(keys(&c, &c.bm25("shared", Some(&keep), 1)), [key(13)]);
    let query = doc(99, "shared words here", 0).vector.unwrap();
    assert_eq!(keys(&c, &c.nearest(&query, Some(&keep), 1)), [key(13)]);
}

#[test]
fn quantised_scan_finds_the_exact_neighbours() {
    // Pseudo-random unit vectors from a fixed LCG, so the test is deterministic.
    let mut state = 42u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let dim = 48;
    let mut c = Collection::new(dim);
    let mut vectors = Vec::new();
    for n in 0..2000u128 {
        let mut v: Vec<f32> = (0..dim).map(|_| next()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        c.upsert(Doc {
            key: key(n),
            revision: 1,
            fields: vec![],
            vector: Some(v.clone()),
            meta: DocMeta::default(),
        });
        vectors.push(v);
    }
    let mut found = 0;
    for q in vectors.iter().take(50) {
        let mut exact: Vec<(usize, f32)> =
            vectors.iter().map(|v| cosine(q, v)).enumerate().collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let truth: Vec<DocKey> = exact[..10].iter().map(|&(i, _)| key(i as u128)).collect();
        let got = keys(&c, &c.nearest(q, None, 10));
        found += got.iter().filter(|k| truth.contains(k)).count();
        let (best, score) = c.nearest(q, None, 1)[0];
        assert_eq!(c.doc(best).0, truth[0]);
        assert!((score - 1.0).abs() < 0.02, "self-similarity {score}");
    }
    assert!(
        found as f32 / 500.0 >= 0.95,
        "recall@10 {}",
        found as f32 / 500.0
    );
    // The sign pass split over threads scores every slot as one thread does, filters included.
    let mut q_bits = Vec::new();
    let mut codes = Vec::new();
    quantise(&vectors[7], &mut codes);
    signs(&codes, &mut q_bits);
    c.remove(key(3), 2);
    let one = c.sign_scores(&q_bits, None, 1, || ());
    assert_eq!(one[3], EXCLUDED);
    for threads in [2, 3, 7] {
        assert_eq!(c.sign_scores(&q_bits, None, threads, || ()), one);
    }
    let none = |_: &DocView<'_>| false;
    assert!(
        c.sign_scores(&q_bits, Some(&none), 3, || ())
            .iter()
            .all(|&s| s == EXCLUDED)
    );
}

#[test]
fn a_sign_pass_of_many_chunks_scores_as_one_thread_does_and_runs_its_companion() {
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let dim = 16;
    let mut c = Collection::new(dim);
    for n in 0..40_000u128 {
        let v: Vec<f32> = (0..dim).map(|_| next()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        c.upsert(Doc {
            key: key(n),
            revision: 1,
            fields: vec![],
            vector: Some(v.iter().map(|x| x / norm).collect()),
            meta: DocMeta::default(),
        });
    }
    let query: Vec<f32> = (0..dim)
        .map(|i| if i % 3 == 0 { 0.5 } else { 0.0 })
        .collect();
    let (mut codes, mut q_bits) = (Vec::new(), Vec::new());
    quantise(&query, &mut codes);
    signs(&codes, &mut q_bits);
    let one = c.sign_scores(&q_bits, None, 1, || ());
    for threads in [2, 3] {
        let mut ran = false;
        assert_eq!(c.sign_scores(&q_bits, None, threads, || ran = true), one);
        assert!(ran);
    }
    let (found, beside) = c.nearest_beside(&query, None, 10, || "bm25");
    assert_eq!(found, c.nearest(&query, None, 10));
    assert_eq!(beside, "bm25");
    assert_eq!(c.nearest_beside(&query[1..], None, 10, || 1), (vec![], 1));
}

#[test]
fn compaction_keeps_every_live_document() {
    let mut c = Collection::new(64);
    for n in 0..3000u128 {
        c.upsert(doc(n, &format!("word{} common", n % 7), 1));
    }
    for n in 0..2500u128 {
        c.remove(key(n), 2);
    }
    assert_eq!(c.len(), 500);
    assert!(c.slots.len() < 3000, "dead slots were dropped");
    assert_eq!(c.bm25("common", None, 1000).len(), 500);
    assert_eq!(
        c.bm25("word3", None, 1000).len(),
        (2500..3000).filter(|n| n % 7 == 3).count()
    );
    let q = doc(2999, "word3 common", 0).vector.unwrap();
    assert_eq!(c.nearest(&q, None, 1000).len(), 500);
}

#[test]
fn pruned_bm25_ranks_as_full_scoring_does() {
    // Zipf-like word frequencies, so queries mix rare words with very common ones.
    let mut state = 7u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut word = || {
        format!(
            "w{}",
            (300f64.powf((next() % 10_000) as f64 / 10_000.0)) as u64
        )
    };
    let mut c = Collection::new(64);
    for n in 0..3000u128 {
        let text: Vec<String> = (0..12).map(|_| word()).collect();
        let mut d = doc(n, &text.join(" "), 1);
        d.meta.importance = (n % 3) as f32;
        c.upsert(d);
    }
    let important = |doc: &DocView<'_>| doc.importance > 0.0;
    let close = |a: &[(u32, f32)], b: &[(u32, f32)], query: &str| {
        assert_eq!(a.len(), b.len(), "{query}");
        for (a, b) in a.iter().zip(b) {
            assert!((a.1 - b.1).abs() < 1e-4, "{query}: {a:?} vs {b:?}");
        }
    };
    for _ in 0..50 {
        let query: Vec<String> = (0..5).map(|_| word()).collect();
        let query = query.join(" ");
        // Asked for every document, nothing can be pruned: this is the full scoring.
        let full = c.bm25(&query, None, 3000);
        close(
            &c.bm25(&query, None, 10),
            &full[..full.len().min(10)],
            &query,
        );
        let kept: Vec<(u32, f32)> = full
            .iter()
            .filter(|(slot, _)| important(&c.doc(*slot).1))
            .take(10)
            .copied()
            .collect();
        close(&c.bm25(&query, Some(&important), 10), &kept, &query);
    }
}

#[test]
fn a_snapshot_searches_as_the_collection_it_was_taken_from() {
    let mut c = Collection::new(64);
    for n in 0..300u128 {
        let mut d = doc(
            n,
            &format!("retry{} the settlement test common{}", n % 11, n % 3),
            1,
        );
        d.meta.labels = Labels {
            tags: vec![format!("tag{}", n % 5)],
            ..Labels::default()
        };
        if n % 10 == 0 {
            d.vector = None;
        }
        c.upsert(d);
    }
    c.remove(key(4), 2);
    c.upsert(doc(5, "a rewritten document", 3));
    // Through bytes, as the cache stores it: the codes apart, read in place.
    let image = snapshot::take(&c, "lexical", 42);
    let copy = |s: &SharedBytes| -> SharedBytes { Arc::new((**s).as_ref().to_vec()) };
    let sections = Sections {
        slots: copy(&image.sections().slots),
        codes: copy(&image.sections().codes),
        bits: copy(&image.sections().bits),
        postings: copy(&image.sections().postings),
    };
    let bytes = serde_json::to_vec(&image).unwrap();
    let load = |bytes: &[u8], model: &str, dimension: usize| {
        let image: snapshot::Snapshot = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        snapshot::load(image.with_sections(sections.clone()), model, dimension)
    };
    let (mut loaded, revision) = load(&bytes, "lexical", 64).unwrap();
    assert_eq!(revision, 42);
    assert_eq!((loaded.len(), loaded.revision(key(5))), (c.len(), Some(3)));
    assert_eq!(loaded.revision(key(4)), None);
    let query = LexicalEmbedder::new(64)
        .embed(&["retry3 settlement"])
        .unwrap()
        .pop()
        .unwrap();
    for text in ["retry3 settlement", "common1 rewritten", "nothing"] {
        assert_eq!(loaded.bm25(text, None, 20), c.bm25(text, None, 20));
    }
    assert_eq!(
        loaded.nearest(&query, None, 20),
        c.nearest(&query, None, 20)
    );
    assert_eq!(loaded.doc(7).1.to_meta(), c.doc(7).1.to_meta());
    // Documents added after loading (their codes owned), and a compaction that moves every code.
    for n in 300..2000u128 {
        let d = doc(n, &format!("retry{} added later", n % 7), 4);
        c.upsert(d.clone());
        loaded.upsert(d);
    }
    for (i, n) in (0..1800u128).enumerate() {
        c.remove(key(n), 5);
        loaded.remove(key(n), 5);
        if i % 600 == 0 {
            assert_eq!(
                loaded.nearest(&query, None, 20),
                c.nearest(&query, None, 20)
            );
        }
    }
    assert_eq!(
        loaded.nearest(&query, None, 20),
        c.nearest(&query, None, 20)
    );
    assert_eq!(loaded.len(), 200);

    // Another model or dimension is refused.
    assert!(load(&bytes, "other", 64).is_err());
    assert!(load(&bytes, "lexical", 32).is_err());
    // Damaged runs are refused, never searched into a panic.
    let mut image = snapshot::take(&c, "lexical", 42);
    image.truncate_vectors();
    assert!(snapshot::load(image, "lexical", 64).is_err());
    let postings = snapshot::take(&c, "lexical", 42).postings_len();
    for cut in [1, postings / 2, postings - 1] {
        let mut image = snapshot::take(&c, "lexical", 42);
        image.truncate_postings(cut);
        assert!(
            snapshot::load(image, "lexical", 64).is_err(),
            "postings cut at {cut}"
        );
    }
}

#[test]
fn the_dot_product_of_codes_is_exact_at_every_length() {
    let mut state = 11u64;
    let mut code = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 56) as u8 as i8
    };
    for len in [0, 1, 15, 16, 17, 64, 383, 384, 512] {
        let a: Vec<i8> = (0..len).map(|_| code()).collect();
        let b: Vec<i8> = (0..len).map(|_| code()).collect();
        assert_eq!(
            super::vectors::dot(&a, &b),
            super::vectors::scalar_dot(&a, &b),
            "length {len}"
        );
    }
    let extremes = vec![i8::MIN; 512];
    assert_eq!(super::vectors::dot(&extremes, &extremes), 512 * 128 * 128);
}

#[test]
fn documents_with_the_same_labels_share_one_copy_also_after_a_snapshot() {
    let mut c = Collection::new(64);
    for n in 0..40u128 {
        let mut d = doc(n, &format!("document {n}"), 1);
        d.meta.labels = Labels {
            tags: vec![format!("tag{}", n % 4)],
            domain: Some("web".into()),
            ..Labels::default()
        };
        c.upsert(d);
    }
    let shared = |c: &Collection| {
        let labels = |slot: u32| c.slot(slot).labels;
        labels(1) == labels(5) && labels(1) != labels(2)
    };
    assert!(shared(&c));
    assert_eq!(c.labels.len(), 4);
    let (loaded, _) = snapshot::load(snapshot::take(&c, "lexical", 1), "lexical", 64).unwrap();
    assert!(shared(&loaded));
    assert_eq!(loaded.doc(5).1.to_meta(), c.doc(5).1.to_meta());
}

#[test]
fn sections_read_from_a_snapshot_of_the_collection_search_as_its_own() {
    let mut c = Collection::new(64);
    for n in 0..50u128 {
        c.upsert(doc(n, &format!("flaky{} settlement test {n}", n % 4), 1));
    }
    let query = LexicalEmbedder::new(64)
        .embed(&["flaky2 settlement"])
        .unwrap()
        .pop()
        .unwrap();
    let before = c.nearest(&query, None, 10);
    let image = snapshot::take(&c, "lexical", 1);
    let (codes, postings) = (
        image.sections().codes.clone(),
        image.sections().postings.clone(),
    );
    let codes = (*codes).as_ref().to_vec();
    let bm25 = c.bm25("flaky2 settlement", None, 10);
    let owned = c.codes.owned_bytes();
    assert!(owned >= 50 * 64);
    c.read_sections_from(Sections {
        codes: Arc::new(codes[..codes.len() - 64].to_vec()),
        ..Sections::default()
    });
    assert_eq!(c.codes.owned_bytes(), owned, "a short run is ignored");
    c.read_sections_from(Sections {
        slots: image.sections().slots.clone(),
        codes: Arc::new(codes),
        bits: image.sections().bits.clone(),
        postings,
    });
    assert_eq!(c.codes.owned_bytes(), 0);
    assert_eq!(c.slots.owned_bytes(), 0);
    assert_eq!(c.postings.owned_bytes(), 0);
    assert_eq!(c.bm25("flaky2 settlement", None, 10), bm25);
    assert_eq!(c.nearest(&query, None, 10), before);
    assert!((c.similarity(3, 7) - c.similarity(7, 3)).abs() < 1e-6);
    // Documents added after, their postings owned beside the ones read in place.
    for n in 50..60u128 {
        c.upsert(doc(n, &format!("flaky2 settlement added {n}"), 1));
    }
    let hits = keys(&c, &c.bm25("flaky2 added", None, 3));
    assert!(
        hits.iter().all(|k| (50..60).map(key).any(|n| n == *k)),
        "{hits:?}"
    );
    assert_eq!(hits.len(), 3);
}

/// A collection of 30 documents loaded from its snapshot after `damage` changed the bytes of its posting lists
/// (given them and the number of terms).
fn loaded_with_damaged_postings(damage: impl FnOnce(&mut [u8], usize)) -> Collection {
    let mut c = Collection::new(64);
    for n in 0..30u128 {
        c.upsert(doc(n, &format!("settlement retry{}", n % 3), 1));
    }
    let image = snapshot::take(&c, "lexical", 1);
    let mut postings = (*image.sections().postings).as_ref().to_vec();
    damage(&mut postings, c.vocabulary.len());
    let sections = Sections {
        postings: Arc::new(postings),
        ..image.sections().clone()
    };
    snapshot::load(image.with_sections(sections), "lexical", 64)
        .unwrap()
        .0
}

#[test]
fn a_posting_that_names_no_document_is_skipped_not_searched_into_a_panic() {
    // Every posting's slot past the last document: offsets and lengths stay sound, so the snapshot loads.
    let mut loaded = loaded_with_damaged_postings(|postings, terms| {
        for posting in postings[8 * (terms + 2)..].chunks_exact_mut(8) {
            posting[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        }
    });
    assert!(loaded.bm25("settlement retry1", None, 10).is_empty());
    // A compaction drops them.
    for n in 0..30u128 {
        loaded.remove(key(n), 2);
    }
    for n in 30..2100u128 {
        loaded.upsert(doc(n, "settlement", 1));
    }
    for n in 30..1100u128 {
        loaded.remove(key(n), 2);
    }
    assert_eq!(loaded.bm25("settlement", None, 2000).len(), 1000);
}

#[test]
fn rows_naming_no_label_set_or_kind_read_as_empty_labels_not_a_panic() {
    let mut c = Collection::new(64);
    for n in 0..10u128 {
        let mut d = doc(n, "settlement retry", 1);
        d.meta.labels.domain = Some("web".into());
        c.upsert(d);
    }
    let image = snapshot::take(&c, "lexical", 1);
    let mut rows = (*image.sections().slots).as_ref().to_vec();
    for row in rows.chunks_exact_mut(size_of::<Slot>()) {
        // The label set and the kind, the last two numbers of a row.
        row[40..].copy_from_slice(&[0xff; 8]);
    }
    let sections = Sections {
        slots: Arc::new(rows),
        ..image.sections().clone()
    };
    let (loaded, _) = snapshot::load(image.with_sections(sections), "lexical", 64).unwrap();
    let hits = loaded.bm25("settlement", None, 10);
    assert_eq!(hits.len(), 10);
    let (key, view) = loaded.doc(hits[0].0);
    assert!(matches!(key, DocKey::Pattern(_)));
    assert_eq!(view.labels.to_labels(), Labels::default());
}

#[test]
fn posting_offsets_out_of_order_read_as_empty_lists_not_a_panic() {
    // Every offset but the last (which the load checks) past the end, then back to the start.
    let loaded = loaded_with_damaged_postings(|postings, terms| {
        for (t, offset) in postings[8..8 * (terms + 1)].chunks_exact_mut(8).enumerate() {
            let wild = if t % 2 == 0 { u64::MAX / 2 } else { 0 };
            offset.copy_from_slice(&wild.to_le_bytes());
        }
    });
    for query in ["settlement", "retry1 settlement", "retry2"] {
        assert!(loaded.bm25(query, None, 10).len() <= 10);
    }
}
