//! Arguments and results of the memory-record tools.

use std::collections::BTreeMap;

use memory_core::{
    Error, Json, MemoryRecord, NewRecord, RecordHit, RecordStats, Scope, Score, Search,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Object, mirror, time};

mirror! {
    /// What a memory is.
    #[derive(Default)]
    RecordKind = memory_core::RecordKind {
        /// Something true about the code, the system or the world.
        Fact,
        /// How someone likes things done.
        Preference,
        /// A choice that was made, and why.
        Decision,
        /// Part of a conversation.
        Conversation,
        /// Anything else worth keeping.
        #[default]
        Note,
    }
}

mirror! {
    /// The order of search results.
    #[derive(Default)]
    Sort = memory_core::Sort {
        /// Best first.
        #[default]
        Relevance,
        /// The best results, newest first; without query text, the newest that pass the filters.
        Newest,
    }
}

/// The time range, tags, importance and order a search is narrowed by.
pub struct Narrowing {
    /// Only results carrying these tags.
    pub tags: Vec<String>,
    /// Whether every tag must be carried.
    pub all_tags: bool,
    /// Only results from this time on.
    pub since: Option<String>,
    /// Only results from before this time.
    pub until: Option<String>,
    /// Only results at least this important.
    pub min_importance: Option<f64>,
    /// The order.
    pub sort: Sort,
}

impl Narrowing {
    /// `search` narrowed, checked.
    pub fn apply(self, search: Search) -> Result<Search, Error> {
        let time = |field, t: Option<String>| t.map(|t| super::parse_time(field, &t)).transpose();
        let search = Search {
            tags: memory_core::Tags {
                tags: self.tags,
                all: self.all_tags,
            },
            after: time("since", self.since)?,
            before: time("until", self.until)?,
            min_importance: self.min_importance,
            sort: self.sort.into(),
            ..search
        };
        search.validate()?;
        Ok(search)
    }
}

mirror! {
    /// How results are ranked.
    #[derive(Default)]
    Ranking = memory_core::Ranking {
        /// Full-text BM25 alone: exact words, names, identifiers.
        Bm25,
        /// Embedding similarity alone.
        Vector,
        /// Both, weighted, plus small weights for context match, outcome, recency and importance.
        #[default]
        Hybrid,
    }
}

/// Arguments of `store_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreMemory {
    /// The memory itself, self-contained: it will be read without the conversation it came from (1 byte to
    /// 1 MiB).
    pub content: String,
    /// The namespace, e.g. "project:payments" or "user:alice" (letters, digits and - _ . : / @) [default: the
    /// server's scope].
    pub scope: Option<String>,
    /// What it is [default: note].
    #[serde(default)]
    pub kind: RecordKind,
    /// A one-line summary (at most 10 KiB).
    pub summary: Option<String>,
    /// Where it applies or came up, e.g. a module or a situation (at most 10 KiB).
    pub context: Option<String>,
    /// Up to 50 tags of 1-50 letters, digits, '-', '_' or '.'.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free metadata, a JSON object (at most 64 KiB).
    pub metadata: Option<Object>,
    /// How much it matters, from 0 to 1 [default: 0.5]; ranks it a little higher in searches.
    pub importance: Option<f64>,
    /// Where it came from: a file, a pull request, a person (at most 10 KiB).
    pub source: Option<String>,
}

impl StoreMemory {
    /// The record to store, in `scope`.
    pub fn into_new(self, scope: Scope) -> NewRecord {
        let mut new = NewRecord::new(scope, self.kind.into(), self.content);
        new.summary = self.summary;
        new.context = self.context;
        new.tags = self.tags;
        if let Some(metadata) = self.metadata {
            new.metadata = Json::new(&Value::Object(metadata));
        }
        if let Some(importance) = self.importance {
            new.importance = importance;
        }
        new.source = self.source;
        new
    }
}

/// Result of `store_memory`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoryStored {
    /// The memory's id: the new one, or the existing memory's when the content was already stored.
    pub memory_id: String,
    /// The scope it is in.
    pub scope: String,
    /// True when the same content was already stored in the scope; nothing was written.
    pub duplicate: bool,
}

/// Arguments naming one memory.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryRef {
    /// The memory's id (a UUID).
    pub memory_id: String,
    /// Its scope [default: the server's scope]; a memory is found only in its own scope.
    pub scope: Option<String>,
}

/// Result of `delete_memory`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoryDeleted {
    /// The memory that was deleted.
    pub memory_id: String,
    /// Its scope.
    pub scope: String,
    /// Always true: deleting a memory that does not exist is an error.
    pub deleted: bool,
}

/// A stored memory.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoryOut {
    /// Its id.
    pub memory_id: String,
    /// The namespace it belongs to.
    pub scope: String,
    /// What it is.
    pub kind: RecordKind,
    /// The memory itself.
    pub content: String,
    /// A short summary.
    pub summary: Option<String>,
    /// Where it applies.
    pub context: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Free metadata.
    pub metadata: Value,
    /// How much it matters, 0 to 1.
    pub importance: f64,
    /// Where it came from.
    pub source: Option<String>,
    /// SHA-256 of the content: the same content is stored once per scope.
    pub content_hash: String,
    /// When it was stored.
    pub created_at: String,
    /// When it was last changed.
    pub updated_at: String,
}

impl From<&MemoryRecord> for MemoryOut {
    fn from(r: &MemoryRecord) -> Self {
        MemoryOut {
            memory_id: r.id.to_string(),
            scope: r.scope.to_string(),
            kind: r.kind.into(),
            content: r.content.clone(),
            summary: r.summary.clone(),
            context: r.context.clone(),
            tags: r.tags.clone(),
            metadata: r.metadata.value(),
            importance: r.importance,
            source: r.source.clone(),
            content_hash: r.content_hash.clone(),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

/// Arguments of `search_memories`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchMemories {
    /// What to look for, in plain words: a question, a task, names or error messages. Empty or absent: the
    /// newest memories that pass the filters.
    #[serde(default)]
    pub query: String,
    /// The scope to search [default: the server's scope].
    pub scope: Option<String>,
    /// Only memories of this kind.
    pub kind: Option<RecordKind>,
    /// Only memories with one of these tags (all of them with `all_tags`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether a memory must carry every tag of `tags` [default: false].
    #[serde(default)]
    pub all_tags: bool,
    /// Only memories stored at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    pub since: Option<String>,
    /// Only memories stored before this time.
    pub until: Option<String>,
    /// Only memories at least this important, 0 to 1.
    pub min_importance: Option<f64>,
    /// The order: relevance, or newest (the best results newest first) [default: relevance].
    #[serde(default)]
    pub sort: Sort,
    /// Most results, 1 to 100 [default: 10].
    #[serde(default = "default_search_limit")]
    pub limit: u32,
    /// How to rank [default: hybrid].
    #[serde(default)]
    pub ranking: Ranking,
}

/// The default number of search and query results.
pub fn default_search_limit() -> u32 {
    10
}

impl SearchMemories {
    /// The search this describes, in `scope`, checked.
    pub fn search(self, scope: Scope) -> Result<Search, Error> {
        let narrowing = Narrowing {
            tags: self.tags,
            all_tags: self.all_tags,
            since: self.since,
            until: self.until,
            min_importance: self.min_importance,
            sort: self.sort,
        };
        narrowing.apply(Search {
            kind: self.kind.map(Into::into),
            limit: self.limit,
            ranking: self.ranking.into(),
            ..Search::new(scope, self.query)
        })
    }
}

/// Why a result ranked where it did. Components are in [0, 1]; `total` is their weighted sum.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScoreOut {
    /// What the result was ranked by; higher is better.
    pub total: f64,
    /// Its BM25 score, when full text found it.
    pub bm25: Option<f64>,
    /// Cosine similarity of its embedding to the query's, when the vector search found it.
    pub cosine: Option<f64>,
    /// BM25 relative to the best match.
    pub text: f64,
    /// Cosine relative to the best match.
    pub semantic: f64,
    /// `0.5 ^ (age / 30 days)`.
    pub recency: f64,
    /// A memory's importance; 0.5 for an episode.
    pub importance: f64,
    /// The share of the query's context (domain, language, framework, tags) the result shares.
    pub context: f64,
    /// An episode's reward over the best possible; 0.5 for a memory.
    pub outcome: f64,
}

impl From<&Score> for ScoreOut {
    fn from(s: &Score) -> Self {
        ScoreOut {
            total: s.total,
            bm25: s.bm25,
            cosine: s.cosine,
            text: s.text,
            semantic: s.semantic,
            recency: s.recency,
            importance: s.importance,
            context: s.context,
            outcome: s.outcome,
        }
    }
}

/// One result of `search_memories`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoryHit {
    /// The memory.
    pub memory: MemoryOut,
    /// Why it ranked here.
    pub score: ScoreOut,
}

impl From<&RecordHit> for MemoryHit {
    fn from(h: &RecordHit) -> Self {
        MemoryHit {
            memory: (&h.record).into(),
            score: (&h.score).into(),
        }
    }
}

/// Result of `search_memories`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResults {
    /// Best first.
    pub results: Vec<MemoryHit>,
}

/// Arguments of `get_statistics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statistics {
    /// Only this scope [default: every scope].
    pub scope: Option<String>,
}

/// Result of `get_statistics`: counts and sizes of the stored memories.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatisticsOut {
    /// The scope counted, or null for every scope.
    pub scope: Option<String>,
    /// How many memories.
    pub total: u64,
    /// Memories per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Memories per tag.
    pub by_tag: BTreeMap<String, u64>,
    /// Memories per scope.
    pub by_scope: BTreeMap<String, u64>,
    /// Bytes of content.
    pub content_bytes: u64,
    /// When the oldest was stored.
    pub oldest: Option<String>,
    /// When the newest was stored.
    pub newest: Option<String>,
}

impl From<RecordStats> for StatisticsOut {
    fn from(s: RecordStats) -> Self {
        StatisticsOut {
            scope: s.scope,
            total: s.total,
            by_kind: s.by_kind,
            by_tag: s.by_tag,
            by_scope: s.by_scope,
            content_bytes: s.content_bytes,
            oldest: s.oldest.map(time),
            newest: s.newest.map(time),
        }
    }
}
