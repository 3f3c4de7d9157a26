//! The write-through pair: a source of truth with a cache in front.
//!
//! Every storage operation runs in a `debug` span named after it (`RUST_LOG=memory_core::cached=debug` shows
//! them), so a slow tool call can be traced down to the store calls it made.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::{
    Appended, Change, ChangeFeed, Embedding, EmbeddingModel, Episode, EpisodeCache, EpisodeId,
    EpisodeQuery, EpisodeStore, EpisodeSummary, ExecutionStep, MemoryRecord, RecordCache,
    RecordChange, RecordId, RecordQuery, RecordStats, RecordStore, RecordUpdate, Result, Revision,
    Scope, Stored, Versioned,
    pattern::{Pattern, PatternChange, PatternId, PatternJob, PatternStore, PatternWrite},
};

/// A [`ChangeFeed`] (libSQL) with an [`EpisodeCache`] (redb) in front.
///
/// Writes go to the source first and then to the cache; reads are cache-first and fill the cache on a miss.
/// Before serving from the cache, the pair applies the source's change feed when `sync_interval` has passed
/// since it last did, so writes by other processes or servers become visible within that interval. With the
/// default interval of zero every read sees every committed write.
pub struct CachedStore<P, C> {
    primary: P,
    cache: C,
    sync_interval: Duration,
    last_sync: Mutex<Option<Instant>>,
    last_record_sync: Mutex<Option<Instant>>,
}

/// Reads of episodes and records served by a pair's cache, and those that went to its source, summed over every
/// pair of the process (what a server reports as its cache hits and misses).
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

/// How many reads the caches of this process's [`CachedStore`]s answered, and how many they did not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Episodes and records read from a cache.
    pub hits: u64,
    /// Episodes and records read from the source of truth because a cache did not hold them.
    pub misses: u64,
}

/// The cache hits and misses of every [`CachedStore`] in this process since it started.
pub fn cache_counts() -> CacheCounts {
    CacheCounts {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
    }
}

fn count(hits: usize, misses: usize) {
    HITS.fetch_add(hits as u64, Ordering::Relaxed);
    MISSES.fetch_add(misses as u64, Ordering::Relaxed);
}

/// Whether `interval` has passed since `last` (always, before the first sync).
fn due(last: &Mutex<Option<Instant>>, interval: Duration) -> bool {
    match *last.lock().unwrap_or_else(|e| e.into_inner()) {
        Some(at) => at.elapsed() >= interval,
        None => true,
    }
}

fn mark(last: &Mutex<Option<Instant>>) {
    *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
}

impl<P: ChangeFeed, C: EpisodeCache> CachedStore<P, C> {
    /// Binds `cache` to `primary` and brings it up to date (dropping whatever changed since it was last used).
    pub async fn open(primary: P, cache: C) -> Result<Self> {
        let store = CachedStore {
            primary,
            cache,
            sync_interval: Duration::ZERO,
            last_sync: Mutex::new(None),
            last_record_sync: Mutex::new(None),
        };
        let id = store.primary.store_id().await?;
        store.cache.bind(&id).await?;
        store.sync().await?;
        store.cache.checkpoint().await?;
        Ok(store)
    }

    /// Applies the change feed at most once per `interval` (default zero: before every cached read).
    pub fn with_sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// The source of truth.
    pub fn primary(&self) -> &P {
        &self.primary
    }

    /// The cache.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// Applies every change the source recorded after the cache's `applied` revision.
    pub async fn sync(&self) -> Result<()> {
        let applied = self.cache.applied();
        // Everything committed up to `head` is listed by the query that follows, so `applied` may become `head`.
        let head = self.primary.head().await?;
        if head > applied {
            let changes = self.primary.changes_since(applied).await?;
            let last = changes.last().map_or(head, |c| c.revision.max(head));
            self.cache.apply(&changes, last).await?;
        }
        mark(&self.last_sync);
        Ok(())
    }

    async fn sync_if_due(&self) -> Result<()> {
        if due(&self.last_sync, self.sync_interval) {
            self.sync().await
        } else {
            Ok(())
        }
    }

    /// Writes `episode` into the cache after the source acknowledged `revision`. A cache failure only costs a
    /// later miss: the entry is dropped so nothing stale can be served.
    async fn after_write(&self, episode: Episode, revision: Revision) {
        let versioned = Versioned {
            revision,
            value: episode,
        };
        if let Err(err) = self.cache.put(&versioned, 0).await {
            tracing::warn!(%err, id = %versioned.value.id, "cache put failed; dropping the entry");
            self.invalidate(&[versioned.value.id]).await;
        }
    }

    async fn invalidate(&self, ids: &[EpisodeId]) {
        if let Err(err) = self.cache.invalidate(ids).await {
            tracing::warn!(%err, "cache invalidate failed; clearing the cache");
            if let Err(err) = self.cache.clear(0).await {
                tracing::error!(%err, "cache clear failed");
            }
        }
    }
}

#[async_trait]
impl<P: ChangeFeed, C: EpisodeCache> EpisodeStore for CachedStore<P, C> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_episode(&self, episode: &Episode) -> Result<Revision> {
        let revision = self.primary.insert_episode(episode).await?;
        self.after_write(episode.clone(), revision).await;
        Ok(revision)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn append_step(&self, id: EpisodeId, step: &ExecutionStep) -> Result<Appended> {
        let appended = self.primary.append_step(id, step).await?;
        self.invalidate(&[id]).await;
        Ok(appended)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn complete_episode(&self, episode: &Episode) -> Result<Revision> {
        let revision = self.primary.complete_episode(episode).await?;
        self.after_write(episode.clone(), revision).await;
        Ok(revision)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn get_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
        self.sync_if_due().await?;
        match self.cache.get(id).await {
            Ok(Some(hit)) => {
                count(1, 0);
                return Ok(Some(hit));
            }
            Ok(None) => count(0, 1),
            Err(err) => tracing::warn!(%err, %id, "cache read failed; reading the source"),
        }
        let seen_applied = self.cache.applied();
        let found = self.primary.get_episode(id).await?;
        if let Some(found) = &found
            && let Err(err) = self.cache.put(found, seen_applied).await
        {
            tracing::warn!(%err, %id, "cache fill failed");
        }
        Ok(found)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_episode(&self, id: EpisodeId) -> Result<Option<Revision>> {
        let deleted = self.primary.delete_episode(id).await?;
        self.invalidate(&[id]).await;
        Ok(deleted)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_episodes(&self, query: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        self.primary.list_episodes(query).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn import_episodes(&self, episodes: &[Episode]) -> Result<Revision> {
        let revision = self.primary.import_episodes(episodes).await?;
        // Imported episodes are not cached eagerly: a bulk load would only evict the hot set.
        let ids: Vec<EpisodeId> = episodes.iter().map(|e| e.id).collect();
        self.invalidate(&ids).await;
        Ok(revision)
    }

    async fn close(&self) -> Result<()> {
        let checkpoint = self.cache.checkpoint().await;
        self.primary.close().await?;
        checkpoint
    }
}

/// The pair's change feed is its source's.
#[async_trait]
impl<P: ChangeFeed, C: EpisodeCache> ChangeFeed for CachedStore<P, C> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn store_id(&self) -> Result<String> {
        self.primary.store_id().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn head(&self) -> Result<Revision> {
        self.primary.head().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn changes_since(&self, after: Revision) -> Result<Vec<Change>> {
        self.primary.changes_since(after).await
    }
}

impl<P: ChangeFeed + RecordStore, C: EpisodeCache + RecordCache> CachedStore<P, C> {
    /// Applies every record change the source recorded after the cache's `record_applied` revision.
    pub async fn sync_records(&self) -> Result<()> {
        let applied = self.cache.record_applied();
        // As for episodes: everything committed up to `head` is listed by the query that follows.
        let head = self.primary.record_head().await?;
        if head > applied {
            let changes = self.primary.record_changes(applied).await?;
            let last = changes.last().map_or(head, |c| c.revision.max(head));
            self.cache.apply_records(&changes, last).await?;
        }
        mark(&self.last_record_sync);
        Ok(())
    }

    async fn invalidate_records(&self, ids: &[RecordId]) {
        if let Err(err) = self.cache.invalidate_records(ids).await {
            tracing::warn!(%err, "cache invalidate failed; clearing the cache");
            if let Err(err) = self.cache.clear(self.cache.applied()).await {
                tracing::error!(%err, "cache clear failed");
            }
        }
    }
}

/// Memory records are written through to the source and read cache-first, like episodes.
#[async_trait]
impl<P: ChangeFeed + RecordStore, C: EpisodeCache + RecordCache> RecordStore for CachedStore<P, C> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn store_records(&self, records: &[(MemoryRecord, Embedding)]) -> Result<Vec<Stored>> {
        // New ids are not cached and a duplicate leaves its record as it was: nothing to invalidate.
        self.primary.store_records(records).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn get_record(&self, scope: &Scope, id: RecordId) -> Result<Option<MemoryRecord>> {
        let found = self.get_records(&[id]).await?.pop();
        Ok(found.map(|v| v.value).filter(|r| &r.scope == scope))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn get_records(&self, ids: &[RecordId]) -> Result<Vec<Versioned<MemoryRecord>>> {
        if due(&self.last_record_sync, self.sync_interval) {
            self.sync_records().await?;
        }
        let mut found = match self.cache.cached_records(ids).await {
            Ok(hits) => hits,
            Err(err) => {
                tracing::warn!(%err, "cache read failed; reading the source");
                Vec::new()
            }
        };
        let hit: std::collections::HashSet<RecordId> = found.iter().map(|v| v.value.id).collect();
        let missing: Vec<RecordId> = ids.iter().copied().filter(|id| !hit.contains(id)).collect();
        count(found.len(), missing.len());
        if !missing.is_empty() {
            let seen_applied = self.cache.record_applied();
            let read = self.primary.get_records(&missing).await?;
            if let Err(err) = self.cache.put_records(&read, seen_applied).await {
                tracing::warn!(%err, "cache fill failed");
            }
            found.extend(read);
        }
        Ok(found)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_record(
        &self,
        scope: &Scope,
        id: RecordId,
        update: &RecordUpdate,
    ) -> Result<Option<MemoryRecord>> {
        let updated = self.primary.update_record(scope, id, update).await?;
        self.invalidate_records(&[id]).await;
        Ok(updated)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_record(&self, scope: &Scope, id: RecordId) -> Result<bool> {
        let deleted = self.primary.delete_record(scope, id).await?;
        self.invalidate_records(&[id]).await;
        Ok(deleted)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<MemoryRecord>> {
        self.primary.list_records(query).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn scan_records(
        &self,
        scope: &Scope,
        after: Option<RecordId>,
        limit: u32,
    ) -> Result<Vec<Versioned<MemoryRecord>>> {
        self.primary.scan_records(scope, after, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_stats(&self, scope: Option<&Scope>) -> Result<RecordStats> {
        self.primary.record_stats(scope).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_head(&self) -> Result<Revision> {
        self.primary.record_head().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_changes(&self, after: Revision) -> Result<Vec<RecordChange>> {
        self.primary.record_changes(after).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn embedding_model(&self) -> Result<Option<EmbeddingModel>> {
        self.primary.embedding_model().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn embeddings(&self, model: &str, keys: &[String]) -> Result<Vec<(String, Vec<f32>)>> {
        self.primary.embeddings(model, keys).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_embeddings(
        &self,
        model: &EmbeddingModel,
        vectors: &[(String, Vec<f32>)],
    ) -> Result<()> {
        self.primary.put_embeddings(model, vectors).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_embedding_model(&self, model: &EmbeddingModel) -> Result<()> {
        self.primary.set_embedding_model(model).await
    }
}

/// Patterns and the extraction queue pass to the source: the pattern learner keeps what it needs in memory.
#[async_trait]
impl<P: ChangeFeed + PatternStore, C: EpisodeCache> PatternStore for CachedStore<P, C> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn pattern_jobs(&self, limit: u32) -> Result<Vec<PatternJob>> {
        self.primary.pattern_jobs(limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pattern_job_count(&self) -> Result<u64> {
        self.primary.pattern_job_count().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn queue_pattern_jobs(&self, ids: &[EpisodeId]) -> Result<u64> {
        self.primary.queue_pattern_jobs(ids).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn queue_unextracted(&self) -> Result<u64> {
        self.primary.queue_unextracted().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn write_patterns(&self, write: &PatternWrite) -> Result<Revision> {
        self.primary.write_patterns(write).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn get_patterns(&self, ids: &[PatternId]) -> Result<Vec<Versioned<Pattern>>> {
        self.primary.get_patterns(ids).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn scan_patterns(
        &self,
        after: Option<PatternId>,
        limit: u32,
    ) -> Result<Vec<Versioned<Pattern>>> {
        self.primary.scan_patterns(after, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pattern_head(&self) -> Result<Revision> {
        self.primary.pattern_head().await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pattern_changes(&self, after: Revision) -> Result<Vec<PatternChange>> {
        self.primary.pattern_changes(after).await
    }
}
