//! [`RedbStore`], its constructors and its [`EpisodeStore`] implementation.

use std::{fmt, path::Path, sync::Arc};

use async_trait::async_trait;
use memory_core::{
    Appended, Episode, EpisodeId, EpisodeQuery, EpisodeStore, EpisodeSummary, Error, ExecutionStep,
    MemoryRecord, RecordId, Result, Revision, Versioned, validate,
};
use redb::{Durability, ReadableTable};

use crate::{
    hot::Hot,
    inner::{Inner, Key, Writer},
    open, record,
    schema::{Role, storage},
};

/// An episode store over one redb file: the cache in front of libSQL ([`RedbStore::open_cache`]) or a standalone
/// store ([`RedbStore::open_store`]).
///
/// Writes run through [`memory_core::run_blocking`]; point reads run inline. Cloning is cheap and shares the file.
#[derive(Clone)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.inner.path)
            .field("role", &self.inner.role.as_str())
            .finish()
    }
}

impl RedbStore {
    /// Opens the cache at `path`, creating it if needed, holding at most `capacity` entries and 16 MiB of them
    /// (the least recently used are evicted). Writes are not synced until [`memory_core::EpisodeCache::checkpoint`].
    ///
    /// A damaged file, a file that is not redb, or one of another [`crate::SCHEMA_VERSION`] is deleted and
    /// recreated empty. Fails with [`Error::InUse`] when the file is open elsewhere (in this process or
    /// another), so the caller can run without the cache; with [`Error::NotADatabase`] when the file is a
    /// standalone store; with [`Error::Validation`] when `capacity` is zero.
    pub fn open_cache(path: impl AsRef<Path>, capacity: usize) -> Result<Self> {
        let inner = open::open_cache(path.as_ref(), capacity)?;
        Ok(RedbStore {
            inner: Arc::new(inner),
        })
    }

    /// Opens the standalone store at `path`, creating it if needed. Every write is durable when it returns.
    ///
    /// A file that is damaged, not redb, not a memory store, or of an older schema version fails with
    /// [`Error::NotADatabase`] and is left untouched; a newer schema version fails with [`Error::SchemaTooNew`];
    /// a file open elsewhere with [`Error::InUse`].
    pub fn open_store(path: impl AsRef<Path>) -> Result<Self> {
        let inner = open::open_store(path.as_ref())?;
        Ok(RedbStore {
            inner: Arc::new(inner),
        })
    }

    /// False when `id` is certainly not cached.
    pub(crate) fn may_hold(&self, id: EpisodeId) -> bool {
        self.inner.may_hold(Key::Episode(id))
    }

    /// The in-memory mirror of the cache's `applied` revision.
    pub(crate) fn applied_mirror(&self) -> &std::sync::atomic::AtomicU64 {
        &self.inner.applied
    }

    /// Runs a write transaction with the role's durability, off the async worker.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T> + Send + 'static,
    {
        self.write_with(self.inner.durability(), f).await
    }

    /// Runs a write transaction with `durability`, off the async worker (see [`memory_core::run_blocking`]).
    pub(crate) async fn write_with<T, F>(&self, durability: Durability, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T> + Send + 'static,
    {
        memory_core::run_blocking(|| self.inner.write(durability, f))
    }

    pub(crate) fn may_hold_key(&self, key: Key) -> bool {
        self.inner.may_hold(key)
    }

    pub(crate) fn record_applied_mirror(&self) -> &std::sync::atomic::AtomicU64 {
        &self.inner.record_applied
    }

    /// Reads the cached memory records among `ids` inline (point reads take microseconds). A damaged entry is a
    /// miss, deleted by the next write that touches it.
    pub(crate) async fn read_records(
        &self,
        ids: &[RecordId],
    ) -> Result<Vec<Versioned<MemoryRecord>>> {
        let wanted: Vec<RecordId> = ids
            .iter()
            .copied()
            .filter(|id| self.inner.may_hold(Key::Record(*id)))
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.inner.read_records(|table| {
            let mut found = Vec::new();
            for id in &wanted {
                let Some(value) = table.get(id.0.as_bytes()).map_err(storage)? else {
                    continue;
                };
                match record::decode::<MemoryRecord>(value.value(), id.0) {
                    Ok((revision, value)) => found.push(Versioned { revision, value }),
                    Err(detail) => {
                        tracing::warn!(%id, %detail, "damaged cached memory; reading the source")
                    }
                }
            }
            Ok(found)
        })?;
        let found = found.unwrap_or_default();
        for v in &found {
            self.inner.promote(Key::Record(v.value.id));
        }
        Ok(found)
    }

    /// Reads one episode. A cache hit becomes the most recently used entry; a damaged record is a miss in a
    /// cache (and is deleted) and [`Error::Corrupt`] in a store.
    pub(crate) async fn read_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
        if let Some(hit) = self.inner.hot.as_ref().and_then(|hot| hot.get(id)) {
            self.inner.promote(Key::Episode(id));
            return Ok(Some(hit));
        }
        let generation = self.inner.hot.as_ref().map_or(0, Hot::generation);
        // Point reads run inline on the async thread: a read transaction, one lookup and the decode take a few
        // microseconds, less than a round trip through the blocking pool.
        let found = self.inner.read(|table| {
            Ok(table
                .get(id.as_bytes())
                .map_err(storage)?
                .map(|value| record::decode(value.value(), id.0)))
        })?;
        match found {
            None => Ok(None),
            Some(Ok((revision, value))) => {
                self.inner.promote(Key::Episode(id));
                let found = Versioned { revision, value };
                if let Some(hot) = &self.inner.hot {
                    hot.fill(&found, generation);
                }
                Ok(Some(found))
            }
            Some(Err(detail)) => match self.inner.role {
                Role::Store => Err(Error::Corrupt(format!("episode {id}: {detail}"))),
                Role::Cache => {
                    // Writer::episode deletes the record if it is still damaged (and warns).
                    self.write(move |w| w.episode(id).map(|_| ())).await?;
                    Ok(None)
                }
            },
        }
    }
}

/// Prefixes a validation error's field with the position of the episode in an import.
#[async_trait]
impl EpisodeStore for RedbStore {
    async fn insert_episode(&self, episode: &Episode) -> Result<Revision> {
        validate::episode(episode)?;
        let id = episode.id;
        let mut bytes = record::encode(0, episode)?;
        self.write(move |w| {
            if w.contains(id)? {
                return Err(Error::AlreadyExists {
                    kind: "episode",
                    id: id.to_string(),
                });
            }
            let revision = w.next_revision()?;
            record::set_revision(&mut bytes, revision);
            w.store_encoded(id, &bytes)?;
            Ok(revision)
        })
        .await
    }

    async fn append_step(&self, id: EpisodeId, step: &ExecutionStep) -> Result<Appended> {
        validate::step(step)?;
        let mut step = step.clone();
        self.write(move |w| {
            let (_, mut episode) = w.episode(id)?.ok_or_else(|| Error::episode_not_found(id))?;
            if episode.is_completed() {
                return Err(Error::AlreadyCompleted { id: id.to_string() });
            }
            validate::step_count(id, episode.steps.len())?;
            // At most MAX_STEPS (10,000) steps, so the number fits.
            let step_number = episode.steps.len() as u32 + 1;
            step.step_number = step_number;
            episode.steps.push(step);
            let revision = w.next_revision()?;
            w.store(revision, &episode)?;
            Ok(Appended {
                step_number,
                revision,
            })
        })
        .await
    }

    async fn complete_episode(&self, episode: &Episode) -> Result<Revision> {
        validate::completed_episode(episode)?;
        let id = episode.id;
        let steps = episode.steps.len();
        let (end_time, outcome) = (episode.end_time, episode.outcome.clone());
        let (reward, reflection) = (episode.reward.clone(), episode.reflection.clone());
        self.write(move |w| {
            let (_, mut stored) = w.episode(id)?.ok_or_else(|| Error::episode_not_found(id))?;
            if stored.is_completed() {
                return Err(Error::AlreadyCompleted { id: id.to_string() });
            }
            if stored.steps.len() != steps {
                return Err(Error::Conflict { id: id.to_string() });
            }
            stored.end_time = end_time;
            stored.outcome = outcome;
            stored.reward = reward;
            stored.reflection = reflection;
            let revision = w.next_revision()?;
            w.store(revision, &stored)?;
            Ok(revision)
        })
        .await
    }

    async fn get_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
        self.read_episode(id).await
    }

    async fn delete_episode(&self, id: EpisodeId) -> Result<Option<Revision>> {
        self.write(move |w| {
            if !w.remove(id)? {
                return Ok(None);
            }
            w.next_revision().map(Some)
        })
        .await
    }

    async fn list_episodes(&self, query: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        query.validate()?;
        let query = query.clone();
        let inner = Arc::clone(&self.inner);
        // A listing decodes every record, so it runs on the blocking pool.
        let scan = move || {
            inner.read(|table| {
                let mut rows = Vec::new();
                for entry in table.iter().map_err(storage)? {
                    let (key, value) = entry.map_err(storage)?;
                    let id = EpisodeId(uuid::Uuid::from_bytes(key.value()));
                    match record::decode::<Episode>(value.value(), id.0) {
                        Ok((_, episode)) => {
                            let summary = episode.summary();
                            if query.matches(&summary) {
                                rows.push(summary);
                            }
                        }
                        Err(detail) if inner.role == Role::Cache => {
                            tracing::warn!(%id, %detail, "skipping a damaged cache record");
                        }
                        Err(detail) => {
                            return Err(Error::Corrupt(format!("episode {id}: {detail}")));
                        }
                    }
                }
                rows.sort_by(|a, b| b.start_time.cmp(&a.start_time).then(b.id.cmp(&a.id)));
                Ok(rows
                    .into_iter()
                    .skip(query.offset as usize)
                    .take(query.limit as usize)
                    .collect())
            })
        };
        tokio::task::spawn_blocking(scan)
            .await
            .map_err(|e| storage(format!("listing task failed: {e}")))?
    }

    async fn import_episodes(&self, episodes: &[Episode]) -> Result<Revision> {
        validate::episodes(episodes)?;
        let mut records = Vec::with_capacity(episodes.len());
        for episode in episodes {
            records.push((episode.id, record::encode(0, episode)?));
        }
        self.write(move |w| {
            if records.is_empty() {
                return w.current_revision();
            }
            let revision = w.next_revision()?;
            for (id, bytes) in &mut records {
                record::set_revision(bytes, revision);
                w.store_encoded(*id, bytes)?;
            }
            Ok(revision)
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        let checkpoint = match self.inner.role {
            Role::Cache if !self.inner.is_closed() => {
                memory_core::EpisodeCache::checkpoint(self).await
            }
            _ => Ok(()),
        };
        let inner = Arc::clone(&self.inner);
        let closed = tokio::task::spawn_blocking(move || inner.close())
            .await
            .map_err(|e| storage(format!("close task failed: {e}")))?;
        checkpoint.and(closed)
    }
}
