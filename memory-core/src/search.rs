//! What a search asks and what it finds: [`Search`], [`Score`] and the hits.

use serde::Serialize;

use crate::{
    Episode, Error, Heuristic, MemoryRecord, OutcomeKind, Pattern, RecordKind, Result, Scope, Tags,
    TaskType, Timestamp,
};

/// Most results one search returns.
pub const MAX_SEARCH_LIMIT: u32 = 100;

/// How a search ranks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranking {
    /// Full-text BM25 alone.
    Bm25,
    /// Embedding similarity alone.
    Vector,
    /// Full text and similarity, weighted, plus recency, importance, context match and outcome (see
    /// [`Score`]).
    #[default]
    Hybrid,
}

impl Ranking {
    /// Every ranking, in declaration order.
    pub const ALL: [Ranking; 3] = [Ranking::Bm25, Ranking::Vector, Ranking::Hybrid];

    /// The snake_case name used in JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Ranking::Bm25 => "bm25",
            Ranking::Vector => "vector",
            Ranking::Hybrid => "hybrid",
        }
    }
}

crate::episode::parse_by_name!(Ranking, "ranking");

/// The order of a search's results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best first.
    #[default]
    Relevance,
    /// The best results, newest first; without query text, the newest that pass the filters.
    Newest,
}

impl Sort {
    /// Every order, in declaration order.
    pub const ALL: [Sort; 2] = [Sort::Relevance, Sort::Newest];

    /// The snake_case name used in JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Newest => "newest",
        }
    }
}

crate::episode::parse_by_name!(Sort, "sort");

/// The task a search is made for: results from the same domain, language, framework and tags rank higher.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct QueryContext {
    /// The area of work.
    pub domain: Option<String>,
    /// The programming language.
    pub language: Option<String>,
    /// The framework or library.
    pub framework: Option<String>,
    /// Tags of the task.
    pub tags: Vec<String>,
}

impl QueryContext {
    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.domain.is_none()
            && self.language.is_none()
            && self.framework.is_none()
            && self.tags.is_empty()
    }
}

/// A search of one scope's memory records and, where the façade has them, the episodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// The scope whose records are searched (nothing crosses scopes).
    pub scope: Scope,
    /// Whether episodes and patterns are confined to `scope` too (a tenant's search: only those recorded in
    /// it); otherwise every episode and pattern is searched.
    pub confined: bool,
    /// What to look for, in plain words; blank browses: the newest results that pass the filters.
    pub text: String,
    /// Results to return, 1 to [`MAX_SEARCH_LIMIT`].
    pub limit: u32,
    /// How to rank.
    pub ranking: Ranking,
    /// Whether episodes are searched too (by [`crate::Records::query`]).
    pub episodes: bool,
    /// Only records of this kind (episodes are left out when set).
    pub kind: Option<RecordKind>,
    /// Only results carrying these tags (any, or all).
    pub tags: Tags,
    /// Only results at least this important, 0 to 1 (a memory's importance; an episode's is 0.5).
    pub min_importance: Option<f64>,
    /// The order of the results.
    pub sort: Sort,
    /// Only episodes of this domain (records are left out when set).
    pub domain: Option<String>,
    /// Only episodes of this task type (records are left out when set).
    pub task_type: Option<TaskType>,
    /// Only episodes that ended this way (records are left out when set).
    pub outcome: Option<OutcomeKind>,
    /// Only results from this time on (a record's time, an episode's start).
    pub after: Option<Timestamp>,
    /// Only results from before this time.
    pub before: Option<Timestamp>,
    /// The task the results are for, for the context-match component.
    pub context: QueryContext,
    /// Maximal marginal relevance (hybrid ranking): 0 ranks by relevance alone; up to 1 trades relevance for
    /// results unlike those already chosen. Near-duplicates (cosine ≥ 0.99 to a chosen result) are dropped
    /// whatever it is.
    pub diversity: f64,
}

impl Search {
    /// Ten hybrid-ranked results of `scope` for `text`, records only, no filter.
    pub fn new(scope: Scope, text: impl Into<String>) -> Self {
        Search {
            scope,
            confined: false,
            text: text.into(),
            limit: 10,
            ranking: Ranking::default(),
            episodes: false,
            kind: None,
            tags: Tags::default(),
            min_importance: None,
            sort: Sort::default(),
            domain: None,
            task_type: None,
            outcome: None,
            after: None,
            before: None,
            context: QueryContext::default(),
            diversity: 0.0,
        }
    }

    /// Whether it has no query text: it lists the newest results that pass the filters.
    pub fn browses(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Checks the text, the limit, the filters, the context, the time range and the diversity.
    pub fn validate(&self) -> Result<()> {
        if !self.browses() {
            crate::validate::record_text("query", &self.text)?;
        }
        if self.limit == 0 || self.limit > MAX_SEARCH_LIMIT {
            return Err(Error::validation(
                "limit",
                format!("must be 1 to {MAX_SEARCH_LIMIT}, got {}", self.limit),
            ));
        }
        self.tags.validate()?;
        if let Some(min) = self.min_importance
            && !(0.0..=1.0).contains(&min)
        {
            return Err(Error::validation(
                "min_importance",
                format!("must be from 0 to 1, got {min}"),
            ));
        }
        if let Some(domain) = &self.domain {
            crate::validate::name("domain", domain, false)?;
        }
        crate::validate::query_context(&self.context)?;
        if let (Some(after), Some(before)) = (self.after, self.before)
            && after >= before
        {
            // Named as the CLI and the MCP tools name the range.
            return Err(Error::validation(
                "since",
                format!("must be before `until` ({after} is not before {before})"),
            ));
        }
        if !(0.0..=1.0).contains(&self.diversity) {
            return Err(Error::validation(
                "diversity",
                format!("must be from 0 to 1, got {}", self.diversity),
            ));
        }
        Ok(())
    }

    /// Whether any filter is set.
    pub(crate) fn has_filters(&self) -> bool {
        self.confined
            || self.kind.is_some()
            || !self.tags.is_empty()
            || self.min_importance.is_some()
            || self.episodes_only()
            || self.after.is_some()
            || self.before.is_some()
    }

    /// Whether an episode filter is set, which leaves records out.
    pub(crate) fn episodes_only(&self) -> bool {
        self.domain.is_some() || self.task_type.is_some() || self.outcome.is_some()
    }
}

/// Why a result ranked where it did. Each component is in [0, 1]; `total` is their weighted sum (the weights
/// of the ranking in use, documented in the README). Raw `bm25` and `cosine` are present when that list found it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Score {
    /// What the result was ranked by.
    pub total: f64,
    /// Its BM25 score, when full text found it.
    pub bm25: Option<f64>,
    /// Cosine similarity of its embedding to the query's, when the vector search found it.
    pub cosine: Option<f64>,
    /// BM25 relative to the best of its list.
    pub text: f64,
    /// Cosine relative to the best of its list.
    pub semantic: f64,
    /// `0.5 ^ (age / 30 days)`.
    pub recency: f64,
    /// A record's importance; 0.5 for an episode.
    pub importance: f64,
    /// The share of the query's context (domain, language, framework, tags) the result shares.
    pub context: f64,
    /// An episode's reward over the best possible; 0.5 for a record.
    pub outcome: f64,
}

impl Score {
    /// Why the result ranked, in one line: how well it matched the words and the meaning (each relative to the
    /// best match, 1.00 for the best), how much of the task's context it shares, and its age.
    pub fn why(&self) -> String {
        let mut parts = Vec::new();
        if self.text > 0.0 {
            parts.push(format!("words {:.2}", self.text));
        }
        if self.semantic > 0.0 {
            parts.push(format!("meaning {:.2}", self.semantic));
        }
        if self.context > 0.0 {
            parts.push(format!(
                "{:.0}% of the context shared",
                self.context * 100.0
            ));
        }
        // `recency` is 0.5 ^ (age / 30 days).
        let days = -30.0 * self.recency.log2();
        parts.push(if days < 1.0 {
            "from today".to_string()
        } else if days.is_finite() {
            format!("{days:.0} days old")
        } else {
            "old".to_string()
        });
        parts.join(", ")
    }
}

/// A memory record found by a search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordHit {
    /// The record.
    pub record: MemoryRecord,
    /// Why it ranked.
    pub score: Score,
}

/// What a query found: an episode or a memory record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Found {
    /// A past episode.
    Episode {
        /// The episode.
        episode: Box<Episode>,
    },
    /// A memory record.
    Memory {
        /// The record.
        record: Box<MemoryRecord>,
    },
    /// A pattern learnt from episodes (searched with the episodes).
    Pattern {
        /// The pattern.
        pattern: Box<Pattern>,
        /// Its rule, when it recurred.
        heuristic: Option<Heuristic>,
    },
}

/// One result of [`crate::Records::query`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    /// What was found.
    #[serde(flatten)]
    pub found: Found,
    /// Why it ranked.
    pub score: Score,
}
