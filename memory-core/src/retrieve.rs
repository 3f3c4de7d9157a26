//! Keeping the in-process index of [`crate::Records`] current: collections are loaded from the store on first
//! use (a scope's records, or the episodes) and, before every search, brought up to date by the store's change
//! feeds, so writes by other processes on the same database show up too.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use crate::{
    ChangeFeed, Embedder, EmbeddingModel, Episode, EpisodeQuery, EpisodeStore, Error, MemoryRecord,
    RecordChange, RecordStore, Result, Revision, Scope, SnapshotStore, Versioned,
    index::{Collection, Doc, DocKey, MemoryUse, docs, snapshot},
};

/// Where episodes come from for retrieval: any episode store with a change feed.
pub trait EpisodeSource: EpisodeStore + ChangeFeed {}

impl<T: EpisodeStore + ChangeFeed> EpisodeSource for T {}

/// A collection shared between the refresher and searches.
pub(crate) type Shared = Arc<RwLock<Collection>>;

/// Rows read per page when a collection is loaded.
const PAGE: u32 = 1000;
/// Texts embedded per call.
pub(crate) const EMBED_BATCH: usize = 64;

/// Collections smaller than this are rebuilt from the store rather than saved: that takes well under 100 ms.
const SNAPSHOT_FROM: usize = 2_000;

/// Changes a saved collection takes before it is saved again: enough that saving stays rare, few enough that
/// catching up after a restart stays fast.
fn resave_after(documents: usize) -> usize {
    (documents / 10).max(1_000)
}

mod lock;

pub(crate) use lock::Locked;

/// The index's state, behind a lock that lets searches arriving together share one catch-up.
pub(crate) type Index = lock::Index<IndexState>;

/// The loaded collections, how far each change feed has been applied, and by which catch-up.
#[derive(Default)]
pub(crate) struct IndexState {
    checked: bool,
    record_applied: Revision,
    record_caught_up: u64,
    scopes: HashMap<Scope, Loaded>,
    episode_applied: Revision,
    episode_caught_up: u64,
    episodes: Option<Loaded>,
}

impl IndexState {
    /// What is loaded, episodes first, then scopes by name.
    pub(crate) fn info(&self) -> Vec<IndexInfo> {
        let mut scopes: Vec<_> = self.scopes.iter().collect();
        scopes.sort_by_key(|(scope, _)| *scope);
        self.episodes
            .iter()
            .map(|l| l.info(EPISODES.to_string()))
            .chain(
                scopes
                    .into_iter()
                    .map(|(scope, l)| l.info(records_name(scope))),
            )
            .collect()
    }
}

/// Where a loaded collection came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Read from the store and indexed.
    Store,
    /// Loaded from a snapshot (then brought up to date by the change feed).
    Snapshot,
}

/// One loaded collection of the search index.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexInfo {
    /// `episodes`, or `records/<scope>`.
    pub collection: String,
    /// Documents in it.
    pub documents: usize,
    /// Where it came from.
    pub origin: Origin,
    /// About how many bytes it holds in memory.
    pub memory: MemoryUse,
}

/// The snapshot name of the episode collection.
const EPISODES: &str = "episodes";

/// The snapshot name of a scope's collection.
fn records_name(scope: &Scope) -> String {
    format!("records/{scope}")
}

/// A loaded collection and the changes applied to it since it was saved or built.
pub(crate) struct Loaded {
    shared: Shared,
    origin: Origin,
    unsaved: usize,
}

impl Loaded {
    fn new(collection: Collection, origin: Origin) -> Self {
        Loaded {
            shared: Arc::new(RwLock::new(collection)),
            origin,
            unsaved: 0,
        }
    }

    fn documents(&self) -> usize {
        self.shared.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn info(&self, collection: String) -> IndexInfo {
        let c = self.shared.read().unwrap_or_else(|e| e.into_inner());
        IndexInfo {
            collection,
            documents: c.len(),
            origin: self.origin,
            memory: c.memory(),
        }
    }
}

/// A document waiting for its vector: stored under `key`, made from `text`.
struct Pending {
    doc: Doc,
    key: String,
    text: String,
}

impl Pending {
    fn record(v: Versioned<MemoryRecord>) -> Pending {
        let (doc, key) = (docs::record(&v.value, v.revision), v.value.embedding_key());
        let text = match v.value.summary {
            None => v.value.content,
            Some(_) => v.value.embedding_text(),
        };
        Pending { doc, key, text }
    }

    fn episode(v: &Versioned<Episode>) -> Pending {
        Pending {
            doc: docs::episode(&v.value, v.revision),
            key: docs::episode_key(&v.value),
            text: docs::episode_text(&v.value),
        }
    }
}

/// A scope's records, a page at a time, in id order.
pub(crate) struct RecordPages<'a> {
    store: &'a dyn RecordStore,
    scope: &'a Scope,
    after: Option<crate::RecordId>,
    done: bool,
}

impl<'a> RecordPages<'a> {
    pub(crate) fn new(store: &'a dyn RecordStore, scope: &'a Scope) -> Self {
        RecordPages {
            store,
            scope,
            after: None,
            done: false,
        }
    }

    /// The next page; `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<Versioned<MemoryRecord>>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .scan_records(self.scope, self.after, PAGE)
            .await?;
        self.done = page.len() < PAGE as usize;
        self.after = page.last().map(|v| v.value.id);
        Ok((!page.is_empty()).then_some(page))
    }
}

/// Every episode, a page at a time, newest first.
pub(crate) struct EpisodePages<'a> {
    source: &'a dyn EpisodeSource,
    query: EpisodeQuery,
    done: bool,
}

impl<'a> EpisodePages<'a> {
    pub(crate) fn new(source: &'a dyn EpisodeSource) -> Self {
        let query = EpisodeQuery {
            limit: PAGE,
            ..EpisodeQuery::default()
        };
        EpisodePages {
            source,
            query,
            done: false,
        }
    }

    /// The next page; `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<Versioned<Episode>>>> {
        if self.done {
            return Ok(None);
        }
        let page = self.source.list_episodes(&self.query).await?;
        self.done = page.len() < PAGE as usize;
        self.query.offset += PAGE;
        let mut out = Vec::with_capacity(page.len());
        for summary in &page {
            out.extend(self.source.get_episode(summary.id).await?);
        }
        Ok((!page.is_empty()).then_some(out))
    }
}

/// Builds a collection on a thread of its own, so pages are indexed while the next ones are read from the store.
/// Dropping it before [`Indexer::finish`] (say, when a read fails) lets the thread end on its own.
struct Indexer {
    pages: std::sync::mpsc::Sender<Vec<Doc>>,
    thread: std::thread::JoinHandle<Collection>,
}

impl Indexer {
    fn start(dimension: usize) -> Self {
        let (pages, rx) = std::sync::mpsc::channel::<Vec<Doc>>();
        let thread = std::thread::spawn(move || {
            let mut collection = Collection::new(dimension);
            for docs in rx {
                collection.upsert_many(docs);
            }
            collection.shrink_to_fit();
            collection
        });
        Indexer { pages, thread }
    }

    fn send(&self, docs: Vec<Doc>) {
        // The thread only stops when the channel closes, so a send cannot fail while it runs.
        let _ = self.pages.send(docs);
    }

    fn finish(self) -> Collection {
        drop(self.pages);
        self.thread
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

/// The model `embedder` stands for.
pub(crate) fn model_of(embedder: &dyn Embedder) -> EmbeddingModel {
    EmbeddingModel {
        id: embedder.id().to_string(),
        dimension: embedder.dimension(),
    }
}

/// Embeds `texts` with `embedder` in batches, off the async workers; fails when it returns another count.
pub(crate) fn embed(embedder: &dyn Embedder, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(EMBED_BATCH) {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        let vectors = crate::run_blocking(|| embedder.embed(&refs))?;
        if vectors.len() != refs.len() {
            return Err(Error::validation(
                "embedding",
                format!(
                    "the embedder returned {} vectors for {} texts",
                    vectors.len(),
                    refs.len()
                ),
            ));
        }
        out.extend(vectors);
    }
    Ok(out)
}

/// What the refresher works with.
pub(crate) struct Source<'a> {
    pub store: &'a Arc<dyn RecordStore>,
    pub episodes: Option<&'a Arc<dyn EpisodeSource>>,
    pub embedder: &'a Arc<dyn Embedder>,
    pub snapshots: Option<&'a Arc<dyn SnapshotStore>>,
}

fn write(c: &Shared) -> std::sync::RwLockWriteGuard<'_, Collection> {
    c.write().unwrap_or_else(|e| e.into_inner())
}

impl Source<'_> {
    pub(crate) fn model(&self) -> EmbeddingModel {
        model_of(self.embedder.as_ref())
    }

    /// Embeds `texts` in batches, off the async workers.
    pub(crate) fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        embed(self.embedder.as_ref(), texts)
    }

    /// Fails when the store's vectors are from another model than the embedder's.
    async fn check_model(&self, state: &mut IndexState) -> Result<()> {
        if !state.checked {
            if let Some(stored) = self.store.embedding_model().await?
                && stored.id != self.embedder.id()
            {
                return Err(Error::EmbedderMismatch {
                    stored: stored.id,
                    configured: self.embedder.id().to_string(),
                });
            }
            state.checked = true;
        }
        Ok(())
    }

    /// Gives every pending document its stored vector, embedding (and storing) those that have none yet.
    async fn with_vectors(&self, pending: Vec<Pending>) -> Result<Vec<Doc>> {
        let model = self.model();
        let mut found: HashMap<String, Vec<f32>> = HashMap::new();
        for chunk in pending.chunks(500) {
            let keys: Vec<String> = chunk.iter().map(|p| p.key.clone()).collect();
            found.extend(self.store.embeddings(&model.id, &keys).await?);
        }
        let missing: Vec<&Pending> = pending
            .iter()
            .filter(|p| !found.contains_key(&p.key))
            .collect();
        if !missing.is_empty() {
            let texts: Vec<String> = missing.iter().map(|p| p.text.clone()).collect();
            let vectors = self.embed(&texts)?;
            let made: Vec<(String, Vec<f32>)> =
                missing.iter().map(|p| p.key.clone()).zip(vectors).collect();
            self.store.put_embeddings(&model, &made).await?;
            found.extend(made);
        }
        Ok(pending
            .into_iter()
            .map(|mut p| {
                p.doc.vector = found.get(&p.key).cloned();
                p.doc
            })
            .collect())
    }

    /// The collection of `scope`'s records, current with every write so far.
    pub(crate) async fn records(
        &self,
        state: &mut Locked<'_, IndexState>,
        scope: &Scope,
    ) -> Result<Shared> {
        self.check_model(state).await?;
        if state.scopes.is_empty() {
            // Nothing to keep current yet: start following the feed from here.
            let ticket = state.begin();
            state.record_applied = self.store.record_head().await?;
            state.record_caught_up = ticket;
        } else if state.behind(state.record_caught_up) {
            let ticket = state.begin();
            let changes = self.store.record_changes(state.record_applied).await?;
            self.apply_records(&mut state.scopes, &changes).await?;
            if let Some(last) = changes.last() {
                state.record_applied = state.record_applied.max(last.revision);
            }
            state.record_caught_up = ticket;
            let state = &mut **state;
            for (scope, loaded) in &mut state.scopes {
                if loaded.unsaved >= resave_after(loaded.documents()) {
                    self.save(&records_name(scope), loaded, state.record_applied)
                        .await;
                }
            }
        }
        if let Some(loaded) = state.scopes.get(scope) {
            return Ok(loaded.shared.clone());
        }
        let name = records_name(scope);
        let mut fresh = HashMap::new();
        let head = self.store.record_head().await?;
        if let Some((collection, revision)) = self.load(&name, head).await {
            // Current to its own revision: catch up on this scope's changes since.
            fresh.insert(scope.clone(), Loaded::new(collection, Origin::Snapshot));
            let changes = self.store.record_changes(revision).await?;
            self.apply_records(&mut fresh, &changes).await?;
        } else {
            let mut pages = RecordPages::new(self.store.as_ref(), scope);
            let indexer = Indexer::start(self.embedder.dimension());
            while let Some(page) = pages.next().await? {
                indexer.send(
                    self.with_vectors(page.into_iter().map(Pending::record).collect())
                        .await?,
                );
            }
            let mut loaded = Loaded::new(indexer.finish(), Origin::Store);
            self.save(&name, &mut loaded, state.record_applied).await;
            fresh.insert(scope.clone(), loaded);
        }
        let shared = fresh[scope].shared.clone();
        state.scopes.extend(fresh);
        Ok(shared)
    }

    /// Applies record changes to the loaded scopes they belong to.
    async fn apply_records(
        &self,
        scopes: &mut HashMap<Scope, Loaded>,
        changes: &[RecordChange],
    ) -> Result<()> {
        let mut written = Vec::new();
        for change in changes {
            let Some(loaded) = scopes.get_mut(&change.scope) else {
                continue;
            };
            loaded.unsaved += 1;
            if change.deleted {
                write(&loaded.shared).remove(DocKey::Record(change.id), change.revision);
            } else {
                written.push(change.id);
            }
        }
        let scope_of: HashMap<_, _> = changes.iter().map(|c| (c.id, &c.scope)).collect();
        for ids in written.chunks(500) {
            let pending = self
                .store
                .get_records(ids)
                .await?
                .into_iter()
                .map(Pending::record);
            for doc in self.with_vectors(pending.collect()).await? {
                if let DocKey::Record(id) = doc.key
                    && let Some(loaded) = scope_of.get(&id).and_then(|s| scopes.get(*s))
                {
                    write(&loaded.shared).upsert(doc);
                }
            }
        }
        Ok(())
    }

    /// The snapshot saved under `name`, if the store keeps one that is sound, of the embedder's model and current
    /// to a revision the feed has reached (`head`): one from ahead of the feed is of another history. Any failure
    /// only means a rebuild.
    async fn load(&self, name: &str, head: Revision) -> Option<(Collection, Revision)> {
        let snapshots = self.snapshots?;
        let image = match crate::run_blocking(|| snapshots.snapshot(name)) {
            Ok(image) => image?,
            Err(err) => {
                tracing::warn!(%err, name, "cannot read the index snapshot; rebuilding");
                return None;
            }
        };
        if image.revision() > head {
            tracing::warn!(
                name,
                revision = image.revision(),
                head,
                "index snapshot is ahead of the store's change feed; rebuilding"
            );
            return None;
        }
        let (model, dimension) = (self.embedder.id(), self.embedder.dimension());
        match crate::run_blocking(|| snapshot::load(image, model, dimension)) {
            Ok(found) => Some(found),
            Err(why) => {
                tracing::info!(name, %why, "index snapshot not used; rebuilding");
                None
            }
        }
    }

    /// Saves `loaded` as current to `revision`, when it is large enough to be worth it. A failure only costs a
    /// rebuild in the next process.
    async fn save(&self, name: &str, loaded: &mut Loaded, revision: Revision) {
        let Some(snapshots) = self.snapshots else {
            return;
        };
        let image = {
            let c = loaded.shared.read().unwrap_or_else(|e| e.into_inner());
            if c.len() < SNAPSHOT_FROM {
                return;
            }
            crate::run_blocking(|| snapshot::take(&c, self.embedder.id(), revision))
        };
        match crate::run_blocking(|| snapshots.put_snapshot(name, image)) {
            Ok(kept) => {
                loaded.unsaved = 0;
                // Nothing changed the collection since the snapshot was taken: the state's lock is held.
                if let Some(sections) = kept {
                    write(&loaded.shared).read_sections_from(sections);
                }
            }
            Err(err) => tracing::warn!(%err, name, "cannot save the index snapshot"),
        }
    }

    /// The episode collection, current with every write so far; `None` without an episode source.
    pub(crate) async fn episodes(
        &self,
        state: &mut Locked<'_, IndexState>,
    ) -> Result<Option<Shared>> {
        let Some(source) = self.episodes else {
            return Ok(None);
        };
        self.check_model(state).await?;
        let ticket = state.behind(state.episode_caught_up).then(|| state.begin());
        let state = &mut **state;
        if let Some(loaded) = &mut state.episodes {
            if let Some(ticket) = ticket {
                let applied = state.episode_applied;
                state.episode_applied = self.apply_episodes(source, loaded, applied).await?;
                state.episode_caught_up = ticket;
                if loaded.unsaved >= resave_after(loaded.documents()) {
                    self.save(EPISODES, loaded, state.episode_applied).await;
                }
            }
            return Ok(Some(loaded.shared.clone()));
        }
        state.episode_applied = source.head().await?;
        let loaded = if let Some((collection, revision)) =
            self.load(EPISODES, state.episode_applied).await
        {
            let mut loaded = Loaded::new(collection, Origin::Snapshot);
            let applied = self.apply_episodes(source, &mut loaded, revision).await?;
            state.episode_applied = state.episode_applied.max(applied);
            loaded
        } else {
            let mut pages = EpisodePages::new(source.as_ref());
            let indexer = Indexer::start(self.embedder.dimension());
            while let Some(page) = pages.next().await? {
                indexer.send(
                    self.with_vectors(page.iter().map(Pending::episode).collect())
                        .await?,
                );
            }
            let mut loaded = Loaded::new(indexer.finish(), Origin::Store);
            self.save(EPISODES, &mut loaded, state.episode_applied)
                .await;
            loaded
        };
        let shared = loaded.shared.clone();
        state.episodes = Some(loaded);
        if let Some(ticket) = ticket {
            state.episode_caught_up = ticket;
        }
        Ok(Some(shared))
    }

    /// Applies the episode changes after `applied` to `loaded`; returns the revision it is then current to.
    async fn apply_episodes(
        &self,
        source: &Arc<dyn EpisodeSource>,
        loaded: &mut Loaded,
        applied: Revision,
    ) -> Result<Revision> {
        let changes = source.changes_since(applied).await?;
        let mut pending = Vec::new();
        for change in &changes {
            loaded.unsaved += 1;
            match source.get_episode(change.id).await? {
                Some(v) => pending.push(Pending::episode(&v)),
                None => write(&loaded.shared).remove(DocKey::Episode(change.id), change.revision),
            }
        }
        for doc in self.with_vectors(pending).await? {
            write(&loaded.shared).upsert(doc);
        }
        Ok(changes.last().map_or(applied, |c| c.revision.max(applied)))
    }
}

/// Searches run on multi-threaded runtimes (the MCP server's), so their futures must be `Send`: this fails to
/// compile otherwise.
#[cfg(test)]
#[allow(dead_code)]
fn searches_are_send(records: &crate::Records, search: &crate::Search) {
    fn send<T: Send>(_: T) {}
    send(records.search(search));
    send(records.query(search));
    send(records.sync(&search.scope));
}
