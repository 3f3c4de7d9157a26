//! Ranking one collection's candidates: fusion of the full-text and vector lists with the other signals, then
//! maximal marginal relevance.

use std::collections::HashMap;

use crate::{
    Ranking, Score, Search, Timestamp,
    index::{Collection, DocView},
};

/// How much each component of a [`Score`] weighs in its total.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// BM25, relative to the best of the list.
    pub text: f64,
    /// Cosine, relative to the best of the list.
    pub semantic: f64,
    /// Recency.
    pub recency: f64,
    /// Importance.
    pub importance: f64,
    /// Context match.
    pub context: f64,
    /// Outcome.
    pub outcome: f64,
}

impl Weights {
    /// The weights of `ranking`: BM25 and vector use their own list alone; hybrid gives the vector `semantic`
    /// (the embedder's [`crate::Embedder::semantic_weight`]) and the text the rest, and adds small amounts of
    /// the other components, which order near-ties rather than override relevance.
    pub fn of(ranking: Ranking, semantic: f64) -> Weights {
        let none = Weights {
            text: 0.0,
            semantic: 0.0,
            recency: 0.0,
            importance: 0.0,
            context: 0.0,
            outcome: 0.0,
        };
        match ranking {
            Ranking::Bm25 => Weights { text: 1.0, ..none },
            Ranking::Vector => Weights {
                semantic: 1.0,
                ..none
            },
            Ranking::Hybrid => Weights {
                text: 1.0 - semantic,
                semantic,
                recency: 0.02,
                importance: 0.02,
                context: 0.1,
                outcome: 0.05,
            },
        }
    }
}

/// Cosine at or above which a candidate is a near-duplicate of a chosen result and dropped.
const NEAR_DUPLICATE: f32 = 0.99;
/// Days for recency to halve.
const HALF_LIFE_DAYS: f64 = 30.0;

/// Whether a document passes the search's filters.
pub(crate) fn keep(search: &Search, doc: &DocView<'_>) -> bool {
    let labels = &doc.labels;
    let is_record = labels.kind().is_some();
    (search.kind.is_none() || labels.kind() == search.kind)
        && (search.domain.is_none() || labels.domain() == search.domain.as_deref())
        && (search.task_type.is_none() || labels.task_type() == search.task_type)
        && (search.outcome.is_none() || labels.outcome() == search.outcome)
        && !(is_record && search.episodes_only())
        && search.tags.matches(|t| labels.has_tag(t))
        && search
            .min_importance
            .is_none_or(|min| doc.importance >= min as f32)
        && search.after.is_none_or(|t| doc.time >= t)
        && search.before.is_none_or(|t| doc.time < t)
        && (!search.confined || is_record || labels.scope() == Some(search.scope.as_str()))
}

/// The share of the query's context that a document shares (0 when the query gives none).
fn context_match(search: &Search, doc: &DocView<'_>) -> f64 {
    let (q, labels) = (&search.context, &doc.labels);
    let same = |a: &Option<String>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => Some(a.eq_ignore_ascii_case(b)),
        (Some(_), None) => Some(false),
        _ => None,
    };
    let checks = [
        same(&q.domain, labels.domain()),
        same(&q.language, labels.language()),
        same(&q.framework, labels.framework()),
    ];
    let mut asked = checks.iter().flatten().count() + q.tags.len();
    let mut matched = checks.iter().flatten().filter(|&&m| m).count();
    matched += q.tags.iter().filter(|t| labels.has_tag(t)).count();
    if asked == 0 {
        asked = 1;
    }
    matched as f64 / asked as f64
}

/// Candidates each list contributes for a search of `limit` results.
pub(crate) fn candidates(limit: u32) -> usize {
    (limit as usize * 5).max(50)
}

/// The components of a document's score besides relevance: recency, importance, context match and outcome.
fn signals(search: &Search, doc: &DocView<'_>, now: Timestamp, score: &mut Score) {
    let age_days = (now.as_micros() - doc.time.as_micros()).max(0) as f64 / 86_400e6;
    score.recency = 0.5f64.powf(age_days / HALF_LIFE_DAYS);
    score.importance = f64::from(doc.importance);
    score.context = context_match(search, doc);
    score.outcome = doc
        .reward
        .map_or(0.5, |r| (f64::from(r) / 1.5).clamp(0.0, 1.0));
}

/// The newest `limit` documents of `collection` that pass the search's filters (a search with no text), each
/// scored by its recency alone.
pub(crate) fn browse(
    collection: &Collection,
    search: &Search,
    now: Timestamp,
) -> Vec<(u32, Score)> {
    let filter = |doc: &DocView<'_>| keep(search, doc);
    let keep: Option<&crate::index::Keep<'_>> = search.has_filters().then_some(&filter);
    collection
        .newest(keep, search.limit as usize)
        .into_iter()
        .map(|slot| {
            let mut score = Score::default();
            signals(search, &collection.doc(slot).1, now, &mut score);
            score.total = score.recency;
            (slot, score)
        })
        .collect()
}

/// Puts `ranked` in the search's order: by relevance as it is, or newest first (by recency, which only time
/// decides).
pub(crate) fn sort<K>(ranked: &mut [(K, Score)], sort: crate::Sort) {
    if sort == crate::Sort::Newest {
        ranked.sort_by(|a, b| b.1.recency.total_cmp(&a.1.recency));
    }
}

/// Scores the union of the `lexical` and `semantic` lists of `collection` and returns the best `limit`, after
/// dropping near-duplicates and, when `search.diversity` > 0, reordering by maximal marginal relevance.
pub(crate) fn rank(
    collection: &Collection,
    search: &Search,
    lexical: &[(u32, f32)],
    semantic: &[(u32, f32)],
    semantic_weight: f64,
    now: Timestamp,
) -> Vec<(u32, Score)> {
    let weights = Weights::of(search.ranking, semantic_weight);
    let best = |list: &[(u32, f32)]| list.first().map_or(1.0, |&(_, s)| f64::from(s).max(1e-9));
    let (best_text, best_semantic) = (best(lexical), best(semantic));
    let mut scores: HashMap<u32, Score> = HashMap::new();
    for &(slot, bm25) in lexical {
        let score = scores.entry(slot).or_default();
        score.bm25 = Some(f64::from(bm25));
        score.text = f64::from(bm25) / best_text;
    }
    for &(slot, cosine) in semantic {
        let score = scores.entry(slot).or_default();
        score.cosine = Some(f64::from(cosine));
        score.semantic = (f64::from(cosine) / best_semantic).max(0.0);
    }
    let mut ranked: Vec<(u32, Score)> = scores
        .into_iter()
        .map(|(slot, mut score)| {
            let (_, meta) = collection.doc(slot);
            signals(search, &meta, now, &mut score);
            score.total = weights.text * score.text
                + weights.semantic * score.semantic
                + weights.recency * score.recency
                + weights.importance * score.importance
                + weights.context * score.context
                + weights.outcome * score.outcome;
            (slot, score)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then(a.0.cmp(&b.0)));
    if search.ranking != Ranking::Hybrid {
        // The single-signal rankings stay plain baselines.
        ranked.truncate(search.limit as usize);
        return ranked;
    }
    diversify(collection, ranked, search.diversity, search.limit as usize)
}

/// Greedy maximal marginal relevance: each pick maximises `(1 - diversity) · total - diversity · max similarity
/// to the picks so far`; near-duplicates of a pick are skipped.
fn diversify(
    collection: &Collection,
    ranked: Vec<(u32, Score)>,
    diversity: f64,
    limit: usize,
) -> Vec<(u32, Score)> {
    let mut pool = ranked;
    let mut chosen: Vec<(u32, Score)> = Vec::with_capacity(limit);
    while chosen.len() < limit && !pool.is_empty() {
        let mut best: Option<(usize, f64)> = None;
        // Earlier picks already removed their near-duplicates from the pool.
        if let Some((last, _)) = chosen.last() {
            pool.retain(|(slot, _)| collection.similarity(*slot, *last) < NEAR_DUPLICATE);
        }
        for (i, (slot, score)) in pool.iter().enumerate() {
            let redundancy = if diversity > 0.0 {
                chosen
                    .iter()
                    .map(|(c, _)| f64::from(collection.similarity(*slot, *c)))
                    .fold(0.0, f64::max)
            } else {
                0.0
            };
            let value = (1.0 - diversity) * score.total - diversity * redundancy;
            if best.is_none_or(|(_, v)| value > v) {
                best = Some((i, value));
            }
            if diversity == 0.0 {
                break; // Already sorted by total.
            }
        }
        let Some((i, _)) = best else { break };
        chosen.push(pool.remove(i));
    }
    chosen
}
