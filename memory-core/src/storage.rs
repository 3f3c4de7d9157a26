//! The storage traits that backends implement, and the listing query they share.

use async_trait::async_trait;

use crate::{
    Episode, EpisodeId, EpisodeSummary, Error, ExecutionStep, MemoryRecord, OutcomeKind, RecordId,
    RecordKind, RecordStats, RecordUpdate, Result, Scope, Stored, TaskType, Timestamp,
    index::{Sections, snapshot::Snapshot},
};

/// A position in a store's change sequence. Every write gets the next revision; readers use it to tell which
/// of two copies of an episode is newer.
pub type Revision = u64;

/// A value with the revision of the write that produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    /// The revision of the last write to this value.
    pub revision: Revision,
    /// The value.
    pub value: T,
}

/// What [`EpisodeStore::append_step`] assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The step's number in its episode.
    pub step_number: u32,
    /// The revision of the write.
    pub revision: Revision,
}

/// Most rows one listing returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// Most tags one filter names.
pub const MAX_FILTER_TAGS: usize = 20;

/// The tags a result must carry: any of them (the default) or, with `all`, every one; none: no condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags {
    /// The tags.
    pub tags: Vec<String>,
    /// Whether every tag must be carried, not just one.
    pub all: bool,
}

impl Tags {
    /// Results carrying any of `tags`.
    pub fn any<T: Into<String>>(tags: impl IntoIterator<Item = T>) -> Self {
        Tags {
            tags: tags.into_iter().map(Into::into).collect(),
            all: false,
        }
    }

    /// Results carrying every one of `tags`.
    pub fn all<T: Into<String>>(tags: impl IntoIterator<Item = T>) -> Self {
        Tags {
            all: true,
            ..Tags::any(tags)
        }
    }

    /// Whether it sets no condition.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Whether something whose tags `has` answers passes.
    pub fn matches(&self, has: impl Fn(&str) -> bool) -> bool {
        match self.all {
            _ if self.tags.is_empty() => true,
            true => self.tags.iter().all(|t| has(t)),
            false => self.tags.iter().any(|t| has(t)),
        }
    }

    /// Checks each tag and their number.
    pub fn validate(&self) -> Result<()> {
        if self.tags.len() > MAX_FILTER_TAGS {
            return Err(Error::validation(
                "tags",
                format!("at most {MAX_FILTER_TAGS} tags, got {}", self.tags.len()),
            ));
        }
        self.tags
            .iter()
            .try_for_each(|tag| crate::validate::tag("tag", tag))
    }
}

/// Filters and paging for [`EpisodeStore::list_episodes`]. Results are newest first (start time, then id).
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeQuery {
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this task type.
    pub task_type: Option<TaskType>,
    /// Only episodes carrying these tags (any, or all).
    pub tags: Tags,
    /// Only episodes that ended this way.
    pub outcome: Option<OutcomeKind>,
    /// Only completed (`Some(true)`) or in-progress (`Some(false)`) episodes.
    pub completed: Option<bool>,
    /// Only episodes started at or after this time.
    pub started_after: Option<Timestamp>,
    /// Only episodes started before this time.
    pub started_before: Option<Timestamp>,
    /// Only episodes of this scope (see [`crate::Episode::scope`]); `None`: episodes of every scope and none.
    pub scope: Option<Scope>,
    /// Rows to skip.
    pub offset: u32,
    /// Rows to return, 1 to [`MAX_LIST_LIMIT`].
    pub limit: u32,
}

impl Default for EpisodeQuery {
    fn default() -> Self {
        EpisodeQuery {
            domain: None,
            task_type: None,
            tags: Tags::default(),
            outcome: None,
            completed: None,
            started_after: None,
            started_before: None,
            scope: None,
            offset: 0,
            limit: 20,
        }
    }
}

impl EpisodeQuery {
    /// Checks the limit, the time range and the filters.
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_LIST_LIMIT {
            return Err(Error::validation(
                "limit",
                format!("must be 1 to {MAX_LIST_LIMIT}, got {}", self.limit),
            ));
        }
        if let (Some(a), Some(b)) = (self.started_after, self.started_before)
            && a >= b
        {
            return Err(Error::validation(
                "started_after",
                format!("{a} is not before started_before {b}"),
            ));
        }
        if let Some(domain) = &self.domain {
            crate::validate::name("domain", domain, false)?;
        }
        self.tags.validate()
    }

    /// True when `summary` passes every filter (paging aside).
    pub fn matches(&self, summary: &EpisodeSummary) -> bool {
        self.domain
            .as_ref()
            .is_none_or(|d| &summary.context.domain == d)
            && self.task_type.is_none_or(|t| summary.task_type == t)
            && self
                .tags
                .matches(|t| summary.context.tags.iter().any(|c| c == t))
            && self.outcome.is_none_or(|o| summary.outcome == Some(o))
            && self
                .completed
                .is_none_or(|c| summary.end_time.is_some() == c)
            && self.started_after.is_none_or(|t| summary.start_time >= t)
            && self.started_before.is_none_or(|t| summary.start_time < t)
            && self
                .scope
                .as_ref()
                .is_none_or(|s| summary.scope.as_ref() == Some(s))
    }
}

/// A store of episodes. Implemented by libSQL (the source of truth), redb (standalone or as the cache) and
/// the write-through pair [`crate::CachedStore`].
///
/// Every write is atomic: it happens entirely or not at all, and returns the [`Revision`] it was given.
#[async_trait]
pub trait EpisodeStore: Send + Sync + 'static {
    /// Stores a new episode (normally with no steps and no outcome). Fails with [`Error::AlreadyExists`].
    async fn insert_episode(&self, episode: &Episode) -> Result<Revision>;

    /// Appends a step to an in-progress episode and numbers it (the given `step_number` is ignored).
    /// Fails with [`Error::NotFound`] or [`Error::AlreadyCompleted`].
    async fn append_step(&self, id: EpisodeId, step: &ExecutionStep) -> Result<Appended>;

    /// Records the end time, outcome, reward and reflection of `episode`, which must be stored, in progress, and
    /// carry exactly the steps the store has (else [`Error::Conflict`]: a step arrived since it was read).
    async fn complete_episode(&self, episode: &Episode) -> Result<Revision>;

    /// Reads an episode with all its steps.
    async fn get_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>>;

    /// Deletes an episode and its steps; `None` when there was no such episode.
    async fn delete_episode(&self, id: EpisodeId) -> Result<Option<Revision>>;

    /// Lists episode summaries matching `query`, newest first.
    async fn list_episodes(&self, query: &EpisodeQuery) -> Result<Vec<EpisodeSummary>>;

    /// Inserts or replaces many whole episodes in one transaction (bulk load, import).
    async fn import_episodes(&self, episodes: &[Episode]) -> Result<Revision>;

    /// Makes every acknowledged write durable and releases resources; the store may not be used afterwards.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// One entry of a change feed: the episode `id` was written (or deleted) at `revision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The episode.
    pub id: EpisodeId,
    /// The revision of its latest write.
    pub revision: Revision,
}

/// The source of truth's side of the cache protocol: who it is and what changed.
#[async_trait]
pub trait ChangeFeed: EpisodeStore {
    /// A stable identifier of this database, different for every database.
    async fn store_id(&self) -> Result<String>;

    /// The latest revision given to any write (0 for a new database): a cheap check of whether anything changed.
    async fn head(&self) -> Result<Revision>;

    /// The latest change of every episode written or deleted after revision `after`, in revision order.
    async fn changes_since(&self, after: Revision) -> Result<Vec<Change>>;
}

/// A cache of decoded episodes in front of a [`ChangeFeed`], used by [`crate::CachedStore`].
///
/// The cache keeps `applied`, the revision up to which it has seen the source's changes, and every entry keeps
/// its revision. **Invariant:** no entry `(id, r)` is older than a change of `id` with a revision in `(r, applied]`.
/// [`EpisodeCache::apply`] and [`EpisodeCache::put`] preserve it; see ARCHITECTURE.md for why this makes the cache
/// safe across crashes and other writers.
#[async_trait]
pub trait EpisodeCache: Send + Sync + 'static {
    /// Ties the cache to one source database; clears it when it belonged to another. Returns `applied`.
    async fn bind(&self, store_id: &str) -> Result<Revision>;

    /// The revision up to which the source's changes have been applied.
    fn applied(&self) -> Revision;

    /// Reads a cached episode.
    async fn get(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>>;

    /// Caches `episode` if that keeps the invariant: when `applied <= max(episode.revision, seen_applied)` and no
    /// newer copy is cached. `seen_applied` is the `applied` read before the episode was read from the source
    /// (pass 0 after a write). Returns whether it was stored.
    async fn put(&self, episode: &Versioned<Episode>, seen_applied: Revision) -> Result<bool>;

    /// Drops the entries of `ids`, where cached.
    async fn invalidate(&self, ids: &[EpisodeId]) -> Result<()>;

    /// Drops every entry older than a change in `changes` and sets `applied` to `applied`, atomically.
    async fn apply(&self, changes: &[Change], applied: Revision) -> Result<()>;

    /// Drops every entry and sets `applied`.
    async fn clear(&self, applied: Revision) -> Result<()>;

    /// Makes the cache's state durable (it is otherwise allowed to lose recent puts in a crash).
    async fn checkpoint(&self) -> Result<()>;
}

/// Where the search index's snapshots of one database are kept, so a new process loads its index instead of
/// rebuilding it (see [`crate::Records::with_snapshots`]). Calls block: the index makes them through
/// [`crate::run_blocking`].
///
/// A keeper is of one database: it binds what it saves to that database's store id and the collection's name
/// ([`Snapshot::bind`]), and gives back only snapshots bound to both, so a file of another store or collection is
/// a miss.
pub trait SnapshotStore: Send + Sync + 'static {
    /// The snapshot saved under `name`, if one is kept that is sound and of this database and collection.
    fn snapshot(&self, name: &str) -> Result<Option<Snapshot>>;

    /// Saves `snapshot` under `name`, replacing the one before. A keeper that keeps the [`Sections`] apart, to be
    /// read in place, gives them back, and the index reads them instead of its own copies.
    fn put_snapshot(&self, name: &str, snapshot: Snapshot) -> Result<Option<Sections>>;
}

/// The memory-record side of a cache in front of a [`RecordStore`] (see [`crate::CachedStore`]). It keeps
/// `record_applied`, the revision of the source's record change feed up to which it has seen changes, and the
/// same invariant as [`EpisodeCache`]: no entry `(id, r)` is older than a change of `id` with a revision in
/// `(r, record_applied]`.
#[async_trait]
pub trait RecordCache: Send + Sync + 'static {
    /// The record change feed's revision up to which changes have been applied.
    fn record_applied(&self) -> Revision;

    /// The cached records among `ids`, with their revisions (the others are misses).
    async fn cached_records(&self, ids: &[RecordId]) -> Result<Vec<Versioned<MemoryRecord>>>;

    /// Caches each record where that keeps the invariant: when `record_applied <= max(revision, seen_applied)`
    /// and no newer copy is cached. `seen_applied` is `record_applied` as read before the records were read from
    /// the source.
    async fn put_records(
        &self,
        records: &[Versioned<MemoryRecord>],
        seen_applied: Revision,
    ) -> Result<()>;

    /// Drops the entries of `ids`, where cached.
    async fn invalidate_records(&self, ids: &[RecordId]) -> Result<()>;

    /// Drops every entry older than a change in `changes` and sets `record_applied` to `applied`, atomically.
    async fn apply_records(&self, changes: &[RecordChange], applied: Revision) -> Result<()>;
}

/// Filters and paging for [`RecordStore::list_records`]; newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordQuery {
    /// The scope to list (required: nothing crosses scopes).
    pub scope: Scope,
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only records carrying these tags (any, or all).
    pub tags: Tags,
    /// Rows to skip.
    pub offset: u32,
    /// Rows to return, 1 to [`MAX_LIST_LIMIT`].
    pub limit: u32,
}

impl RecordQuery {
    /// Every record of `scope`, 20 at a time.
    pub fn new(scope: Scope) -> Self {
        RecordQuery {
            scope,
            kind: None,
            tags: Tags::default(),
            offset: 0,
            limit: 20,
        }
    }

    /// Checks the limit and the tag.
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_LIST_LIMIT {
            return Err(Error::validation(
                "limit",
                format!("must be 1 to {MAX_LIST_LIMIT}, got {}", self.limit),
            ));
        }
        self.tags.validate()
    }
}

/// An embedding and the model that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// The embedder's id; vectors of different models are never compared.
    pub model: String,
    /// The L2-normalised vector.
    pub vector: Vec<f32>,
}

/// The embedding model a store's vectors were made by.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EmbeddingModel {
    /// The embedder's id.
    pub id: String,
    /// The length of its vectors.
    pub dimension: usize,
}

/// A write to a memory record, as the record change feed reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordChange {
    /// The record.
    pub id: RecordId,
    /// Its scope.
    pub scope: Scope,
    /// The revision of the write.
    pub revision: Revision,
    /// Whether the write deleted it.
    pub deleted: bool,
}

/// A store of memory records. Every call names a scope, and a record is found only in its own scope, except the
/// change feed and [`RecordStore::get_records`], which serve the search index.
///
/// Record writes get revisions of their own sequence (independent of episodes'); vectors are kept per embedding
/// key (see [`MemoryRecord::embedding_key`]) and model, and the store records which model its vectors are from.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// Stores each record with its embedding, in one transaction, unless a record with the same content hash
    /// exists in its scope (then that one's id comes back with `duplicate: true` and nothing is written for it).
    /// Fails with [`Error::EmbedderMismatch`] and writes nothing when the store's vectors are from another model.
    async fn store_records(&self, records: &[(MemoryRecord, Embedding)]) -> Result<Vec<Stored>>;

    /// Reads a record of `scope`.
    async fn get_record(&self, scope: &Scope, id: RecordId) -> Result<Option<MemoryRecord>>;

    /// Reads records by id, whatever their scope, with their revisions; missing ids are left out.
    async fn get_records(&self, ids: &[RecordId]) -> Result<Vec<Versioned<MemoryRecord>>>;

    /// Applies `update` to a record of `scope`; returns the updated record, or `None` if there is none.
    async fn update_record(
        &self,
        scope: &Scope,
        id: RecordId,
        update: &RecordUpdate,
    ) -> Result<Option<MemoryRecord>>;

    /// Deletes a record of `scope`; false if there was none.
    async fn delete_record(&self, scope: &Scope, id: RecordId) -> Result<bool>;

    /// Lists the records of a scope, newest first.
    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<MemoryRecord>>;

    /// Records of `scope` in id order, after `after`, at most `limit`, with their revisions.
    async fn scan_records(
        &self,
        scope: &Scope,
        after: Option<RecordId>,
        limit: u32,
    ) -> Result<Vec<Versioned<MemoryRecord>>>;

    /// Counts and sizes for one scope, or for every scope.
    async fn record_stats(&self, scope: Option<&Scope>) -> Result<RecordStats>;

    /// The latest record revision (0 before any record write).
    async fn record_head(&self) -> Result<Revision>;

    /// The latest write to each record written after `after`, in revision order.
    async fn record_changes(&self, after: Revision) -> Result<Vec<RecordChange>>;

    /// The model the store's vectors are from, once any vector was stored.
    async fn embedding_model(&self) -> Result<Option<EmbeddingModel>>;

    /// The stored vectors of `model` for `keys`, as `(key, vector)`; keys without one are left out.
    async fn embeddings(&self, model: &str, keys: &[String]) -> Result<Vec<(String, Vec<f32>)>>;

    /// Stores vectors of `model` by key (existing ones are kept); `model` becomes the store's model if it has
    /// none yet. Vectors of another model than the store's are allowed: re-embedding writes them before it switches.
    async fn put_embeddings(
        &self,
        model: &EmbeddingModel,
        vectors: &[(String, Vec<f32>)],
    ) -> Result<()>;

    /// Makes `model` the store's model and deletes every vector of any other model.
    async fn set_embedding_model(&self, model: &EmbeddingModel) -> Result<()>;
}
