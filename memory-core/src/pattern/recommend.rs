//! Ranking patterns for a task: relevance (BM25 and embedding similarity over the pattern collection), context
//! match, effectiveness decayed to now, and recency. Every result says why it ranked.
//!
//! `total = 0.45 advice · relevance + 0.20 context + 0.30 effectiveness + 0.05 recency`, each in [0, 1]:
//! - advice: how directly the kind of pattern answers a task with what to do: 1 for a strategy (the decisive
//!   changes and check), 0.85 for an error recovery, 0.7 for a tool sequence, a decision point or a context
//!   pattern, which describe how work went more than what to do;
//! - relevance: `(1 − w) · BM25 / best BM25 + w · cosine / best cosine`, `w` the embedder's semantic weight;
//! - context: the share of the request's task type, domain, language, framework and tags that the pattern was
//!   seen with;
//! - effectiveness: the pattern's score (Wilson lower bound of its age-weighted outcomes) as of now;
//! - recency: `0.5 ^ (days since it was last seen or applied / 30)`.
//!
//! Relevance leads, and effectiveness is the next largest share: among patterns that fit the task, the one with
//! more and better evidence comes first. Only patterns the text or the embedding found are ranked.

use std::collections::HashMap;

use serde::Serialize;

use super::{Heuristic, Pattern, PatternKind, index::PatternIndex};
use crate::{
    Error, MAX_SEARCH_LIMIT, QueryContext, Result, Scope, TaskType, Timestamp,
    index::{Collection, DocKey, DocView, Keep},
};

/// Weights of the components of a recommendation's total.
const RELEVANCE: f64 = 0.45;
const CONTEXT: f64 = 0.20;
const EFFECTIVENESS: f64 = 0.30;
const RECENCY: f64 = 0.05;
/// How directly a kind of pattern says what to do.
fn advice(kind: PatternKind) -> f64 {
    match kind {
        PatternKind::Strategy => 1.0,
        PatternKind::ErrorRecovery => 0.85,
        PatternKind::ToolSequence | PatternKind::DecisionPoint | PatternKind::ContextPattern => 0.7,
    }
}
/// Days for recency to halve.
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;

/// A request for patterns that suit a task.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommend {
    /// The task, in plain words.
    pub task: String,
    /// Where it happens.
    pub context: QueryContext,
    /// The kind of work, if known.
    pub task_type: Option<TaskType>,
    /// Only patterns of this kind.
    pub kind: Option<PatternKind>,
    /// How many, 1 to [`MAX_SEARCH_LIMIT`].
    pub limit: u32,
    /// Only patterns learnt in this scope (a tenant's request); `None`: every pattern.
    pub scope: Option<Scope>,
}

impl Recommend {
    /// Five recommendations for `task`, with no context.
    pub fn new(task: impl Into<String>) -> Self {
        Recommend {
            task: task.into(),
            context: QueryContext::default(),
            task_type: None,
            kind: None,
            limit: 5,
            scope: None,
        }
    }

    /// Checks the text, the limit and the tags.
    pub fn validate(&self) -> Result<()> {
        check_text_and_limit("task", &self.task, self.limit)?;
        crate::validate::query_context(&self.context)
    }
}

/// Checks a query text (the argument `field`) and a result limit.
pub(crate) fn check_text_and_limit(field: &str, text: &str, limit: u32) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    crate::validate::record_text(field, text)?;
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(Error::validation(
            "limit",
            format!("must be 1 to {MAX_SEARCH_LIMIT}, got {limit}"),
        ));
    }
    Ok(())
}

/// Why a recommendation ranked where it did; each component is in [0, 1].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecommendationScore {
    /// The weighted sum the results are ordered by.
    pub total: f64,
    /// How well its text and meaning fit the task.
    pub relevance: f64,
    /// BM25 relative to the best match.
    pub text: f64,
    /// Cosine similarity relative to the best match.
    pub semantic: f64,
    /// The share of the request's context it was seen in.
    pub context: f64,
    /// Its effectiveness score as of now.
    pub effectiveness: f64,
    /// How recently it was seen or applied.
    pub recency: f64,
}

/// A pattern recommended for a task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// The pattern.
    pub pattern: Pattern,
    /// Its rule, if it recurred.
    pub heuristic: Option<Heuristic>,
    /// The components of its rank.
    pub score: RecommendationScore,
    /// The ranking in one sentence.
    pub why: String,
}

/// The relevance of every pattern the text or the vector finds: `(text, semantic)`, each relative to the best.
pub(crate) fn relevance(
    collection: &Collection,
    text: &str,
    vector: Option<&[f32]>,
    kind: Option<PatternKind>,
    scope: Option<&Scope>,
    index: &PatternIndex,
    n: usize,
) -> HashMap<DocKey, (f64, f64)> {
    // Kinds are not in the documents' metadata: with a kind to keep, every document is a candidate.
    let n = if kind.is_some() {
        n.max(collection.len())
    } else {
        n
    };
    let scope = scope.map(Scope::as_str);
    let in_scope = |doc: &DocView<'_>| doc.labels.scope() == scope;
    let keep: Option<&Keep<'_>> = scope.is_some().then_some(&in_scope);
    let lexical = collection.bm25(text, keep, n);
    let semantic = vector.map_or_else(Vec::new, |v| collection.nearest(v, keep, n));
    let best = |list: &[(u32, f32)]| list.first().map_or(1.0, |&(_, s)| f64::from(s).max(1e-9));
    let (best_text, best_semantic) = (best(&lexical), best(&semantic));
    let mut out: HashMap<DocKey, (f64, f64)> = HashMap::new();
    for &(slot, score) in &lexical {
        out.entry(collection.doc(slot).0).or_default().0 = f64::from(score) / best_text;
    }
    for &(slot, score) in &semantic {
        out.entry(collection.doc(slot).0).or_default().1 =
            (f64::from(score) / best_semantic).max(0.0);
    }
    out.retain(|key, _| match key {
        DocKey::Pattern(id) => index
            .get(*id)
            .is_some_and(|e| kind.is_none_or(|k| e.pattern.kind == k)),
        _ => false,
    });
    out
}

/// The share of the request's context that `pattern` was seen in (0 when the request gives none).
fn context_match(request: &Recommend, pattern: &Pattern) -> (f64, Vec<String>) {
    let c = &pattern.context;
    let q = &request.context;
    let has = |values: &[String], v: &str| values.iter().any(|x| x.eq_ignore_ascii_case(v));
    let mut asked = 0usize;
    let mut shared = Vec::new();
    let mut check = |value: Option<&str>, values: &[String]| {
        if let Some(v) = value {
            asked += 1;
            if has(values, v) {
                shared.push(v.to_string());
            }
        }
    };
    check(q.domain.as_deref(), &c.domains);
    check(q.language.as_deref(), &c.languages);
    check(q.framework.as_deref(), &c.frameworks);
    for tag in &q.tags {
        check(Some(tag), &c.tags);
    }
    if let Some(t) = request.task_type {
        asked += 1;
        if c.task_types.contains(&t) {
            shared.push(t.as_str().to_string());
        }
    }
    let share = if asked == 0 {
        0.0
    } else {
        shared.len() as f64 / asked as f64
    };
    (share, shared)
}

/// Ranks the loaded patterns for `request`, best first.
pub(crate) fn recommend(
    index: &PatternIndex,
    request: &Recommend,
    vector: Option<&[f32]>,
    semantic_weight: f64,
    half_life_days: f64,
    min_support: u32,
    now: Timestamp,
) -> Vec<Recommendation> {
    let Some(collection) = index.collection() else {
        return Vec::new();
    };
    let n = (request.limit as usize * 5).max(50);
    let found = relevance(
        collection,
        &request.task,
        vector,
        request.kind,
        request.scope.as_ref(),
        index,
        n,
    );
    let mut out: Vec<Recommendation> = found
        .into_iter()
        .filter_map(|(key, (text, semantic))| {
            let DocKey::Pattern(id) = key else {
                return None;
            };
            let pattern = &index.get(id)?.pattern;
            let relevance = (1.0 - semantic_weight) * text + semantic_weight * semantic;
            let (context, shared) = context_match(request, pattern);
            let effectiveness = pattern.effectiveness.score_at(now, half_life_days);
            let age_days = (now.as_micros() - pattern.effectiveness.last_used.as_micros()).max(0)
                as f64
                / 86_400e6;
            let recency = 0.5f64.powf(age_days / RECENCY_HALF_LIFE_DAYS);
            let total = RELEVANCE * advice(pattern.kind) * relevance
                + CONTEXT * context
                + EFFECTIVENESS * effectiveness
                + RECENCY * recency;
            let score = RecommendationScore {
                total,
                relevance,
                text,
                semantic,
                context,
                effectiveness,
                recency,
            };
            let why = why(pattern, &score, &shared);
            Some(Recommendation {
                heuristic: Heuristic::of(pattern, min_support),
                pattern: pattern.clone(),
                score,
                why,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total
            .total_cmp(&a.score.total)
            .then(a.pattern.id.cmp(&b.pattern.id))
    });
    out.truncate(request.limit as usize);
    out
}

/// "fits the task (text 0.82, meaning 0.77); seen with rust, tokio; 7 episodes, 6 went well, 1 did not
/// (effectiveness 0.49); last seen 2026-11-20".
fn why(pattern: &Pattern, score: &RecommendationScore, shared: &[String]) -> String {
    let e = &pattern.effectiveness;
    let mut parts = vec![format!(
        "fits the task (text {:.2}, meaning {:.2})",
        score.text, score.semantic
    )];
    if !shared.is_empty() {
        parts.push(format!("seen with {}", shared.join(", ")));
    }
    let episodes = if pattern.support == 1 {
        "1 episode".to_string()
    } else {
        format!("{} episodes", pattern.support)
    };
    let uses = if e.uses > 0 {
        format!(", applied {} times", e.uses)
    } else {
        String::new()
    };
    parts.push(format!(
        "{episodes}{uses}: {} went well, {} did not (effectiveness {:.2})",
        e.successes, e.failures, score.effectiveness
    ));
    parts.push(format!(
        "last seen {}",
        e.last_used.to_datetime().format("%Y-%m-%d")
    ));
    parts.join("; ")
}
