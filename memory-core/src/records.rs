//! The façade for memory records and retrieval: validation in front of any [`RecordStore`], embedding, and the
//! in-process search index over the scope's records and, when given, the episodes.

use std::{collections::HashMap, sync::Arc};

use crate::{
    Embedder, Embedding, EmbeddingModel, EpisodeId, Error, Found, Hit, LexicalEmbedder,
    MemoryRecord, NewRecord, PatternId, Patterns, Ranking, RecordHit, RecordId, RecordQuery,
    RecordStats, RecordStore, RecordUpdate, Result, Scope, Score, Search, SnapshotStore, Stored,
    Timestamp,
    index::{DocKey, DocView, docs},
    rank,
    retrieve::{
        EMBED_BATCH, EpisodePages, EpisodeSource, Index, IndexInfo, IndexState, RecordPages,
        Shared, Source,
    },
};

/// Memory records over any [`RecordStore`], with the [`Embedder`] that embeds them (the built-in
/// [`LexicalEmbedder`] unless another is given) and the index that searches them. Cloning is cheap and shares the
/// store and the index.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn RecordStore>,
    episodes: Option<Arc<dyn EpisodeSource>>,
    patterns: Option<Patterns>,
    embedder: Arc<dyn Embedder>,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    index: Arc<Index>,
}

impl Records {
    /// Records over `store`.
    pub fn new(store: impl RecordStore) -> Self {
        Records::from_arc(Arc::new(store))
    }

    /// Records over a shared store.
    pub fn from_arc(store: Arc<dyn RecordStore>) -> Self {
        Records {
            store,
            episodes: None,
            patterns: None,
            embedder: Arc::new(LexicalEmbedder::default()),
            snapshots: None,
            index: Arc::default(),
        }
    }

    /// The same records, their index saved to and loaded from `snapshots` (those of the store's database), so a
    /// new process loads it instead of rebuilding it from the store.
    pub fn with_snapshots(mut self, snapshots: Arc<dyn SnapshotStore>) -> Self {
        self.snapshots = Some(snapshots);
        self.index = Arc::default();
        self
    }

    /// The same records, embedded by `embedder` (with an index of its own).
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = embedder;
        self.index = Arc::default();
        self
    }

    /// The same records, with [`Records::query`] searching the episodes of `episodes` too.
    pub fn with_episodes(mut self, episodes: Arc<dyn EpisodeSource>) -> Self {
        self.episodes = Some(episodes);
        self.index = Arc::default();
        self
    }

    /// The same records, with [`Records::query`] searching the learnt patterns too (alongside the episodes). The
    /// patterns' embedder should be this façade's; where it is not, patterns are matched by their words alone.
    pub fn with_patterns(mut self, patterns: Patterns) -> Self {
        self.patterns = Some(patterns);
        self
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The store underneath.
    pub fn backend(&self) -> &Arc<dyn RecordStore> {
        &self.store
    }

    fn source(&self) -> Source<'_> {
        Source {
            store: &self.store,
            episodes: self.episodes.as_ref(),
            embedder: &self.embedder,
            snapshots: self.snapshots.as_ref(),
        }
    }

    /// Validates, embeds and stores a memory; storing the same content again in the same scope returns the
    /// existing id and says it was a duplicate.
    pub async fn store(&self, new: NewRecord) -> Result<Stored> {
        let mut stored = self.store_many(vec![new]).await?;
        stored
            .pop()
            .ok_or_else(|| Error::Corrupt("the store acknowledged no record".into()))
    }

    /// Validates, embeds (in batches) and stores many memories in one transaction: all or none are written.
    pub async fn store_many(&self, new: Vec<NewRecord>) -> Result<Vec<Stored>> {
        let items = self.prepare(new)?;
        self.store.store_records(&items).await
    }

    /// Validates and embeds memories, as [`Records::store_many`] does before it stores them: for a program that
    /// writes them to the store itself, in a transaction of its own (a blocking call).
    pub fn prepare(&self, new: Vec<NewRecord>) -> Result<Vec<(MemoryRecord, Embedding)>> {
        let records = new
            .into_iter()
            .map(NewRecord::into_record)
            .collect::<Result<Vec<_>>>()?;
        let texts: Vec<String> = records.iter().map(MemoryRecord::embedding_text).collect();
        let vectors = self.source().embed(&texts)?;
        let model = self.embedder.id().to_string();
        Ok(records
            .into_iter()
            .zip(vectors)
            .map(|(record, vector)| {
                let embedding = Embedding {
                    model: model.clone(),
                    vector,
                };
                (record, embedding)
            })
            .collect())
    }

    /// Reads a record of `scope`; [`Error::NotFound`] if there is none there.
    pub async fn get(&self, scope: &Scope, id: RecordId) -> Result<MemoryRecord> {
        self.store
            .get_record(scope, id)
            .await?
            .ok_or_else(|| not_found(scope, id))
    }

    /// Changes tags, importance or metadata of a record of `scope`; returns it updated.
    pub async fn update(
        &self,
        scope: &Scope,
        id: RecordId,
        update: &RecordUpdate,
    ) -> Result<MemoryRecord> {
        update.validate()?;
        self.store
            .update_record(scope, id, update)
            .await?
            .ok_or_else(|| not_found(scope, id))
    }

    /// Deletes a record of `scope`; [`Error::NotFound`] if there is none there.
    pub async fn delete(&self, scope: &Scope, id: RecordId) -> Result<()> {
        if self.store.delete_record(scope, id).await? {
            Ok(())
        } else {
            Err(not_found(scope, id))
        }
    }

    /// Lists records of a scope, newest first.
    pub async fn list(&self, query: &RecordQuery) -> Result<Vec<MemoryRecord>> {
        query.validate()?;
        self.store.list_records(query).await
    }

    /// Counts and sizes for one scope, or for every scope.
    pub async fn stats(&self, scope: Option<&Scope>) -> Result<RecordStats> {
        self.store.record_stats(scope).await
    }

    /// Loads the index of `scope` (and the episodes', when the façade has them), or brings it up to date with
    /// every write so far. Searches do this themselves; a server calls it to answer its first query fast.
    pub async fn sync(&self, scope: &Scope) -> Result<()> {
        let mut state = self.index.lock().await;
        let source = self.source();
        source.records(&mut state, scope).await?;
        source.episodes(&mut state).await?;
        Ok(())
    }

    /// The collections of the search index loaded so far, and where each came from.
    pub async fn index_info(&self) -> Vec<IndexInfo> {
        self.index.lock().await.info()
    }

    /// Re-embeds every memory and episode with this façade's embedder and makes it the store's model (vectors of
    /// other models are then deleted). Vectors are written before the switch, so an interrupted run loses nothing
    /// and a rerun continues where it stopped. `progress(done, total)` is called after each batch.
    pub async fn reembed(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Reembedded> {
        let model = self.source().model();
        let mut texts: HashMap<String, String> = HashMap::new();
        let stats = self.store.record_stats(None).await?;
        for scope in stats.by_scope.keys() {
            let scope = Scope::new(scope.as_str())?;
            let mut pages = RecordPages::new(self.store.as_ref(), &scope);
            while let Some(page) = pages.next().await? {
                for v in page {
                    texts.insert(v.value.embedding_key(), v.value.embedding_text());
                }
            }
        }
        if let Some(episodes) = &self.episodes {
            let mut pages = EpisodePages::new(episodes.as_ref());
            while let Some(page) = pages.next().await? {
                for v in page {
                    texts.insert(docs::episode_key(&v.value), docs::episode_text(&v.value));
                }
            }
        }
        let mut keys: Vec<String> = texts.keys().cloned().collect();
        keys.sort();
        let mut done_already = 0;
        let mut todo = Vec::new();
        for chunk in keys.chunks(500) {
            let have: std::collections::HashSet<String> = self
                .store
                .embeddings(&model.id, chunk)
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            done_already += have.len();
            todo.extend(chunk.iter().filter(|k| !have.contains(*k)).cloned());
        }
        let total = keys.len();
        progress(done_already, total);
        for (i, batch) in todo.chunks(EMBED_BATCH * 4).enumerate() {
            let batch_texts: Vec<String> = batch.iter().map(|k| texts[k].clone()).collect();
            let vectors = self.source().embed(&batch_texts)?;
            let items: Vec<(String, Vec<f32>)> = batch.iter().cloned().zip(vectors).collect();
            self.store.put_embeddings(&model, &items).await?;
            progress((done_already + (i + 1) * EMBED_BATCH * 4).min(total), total);
        }
        self.store.set_embedding_model(&model).await?;
        *self.index.lock().await = IndexState::default();
        Ok(Reembedded {
            model,
            texts: total,
            embedded: todo.len(),
        })
    }

    /// The query's embedding, unless the ranking is BM25 alone.
    fn query_vector(&self, search: &Search) -> Result<Option<Vec<f32>>> {
        if search.ranking == Ranking::Bm25 || search.browses() {
            return Ok(None);
        }
        Ok(self
            .source()
            .embed(std::slice::from_ref(&search.text))?
            .pop())
    }

    /// The search's best records of its scope.
    pub async fn search(&self, search: &Search) -> Result<Vec<RecordHit>> {
        search.validate()?;
        let vector = self.query_vector(search)?;
        let collection = {
            let mut state = self.index.lock().await;
            self.source().records(&mut state, &search.scope).await?
        };
        let mut ranked = ranked(
            &collection,
            search,
            vector.as_deref(),
            self.embedder.semantic_weight(),
        );
        rank::sort(&mut ranked, search.sort);
        let hits = self.query_hits(ranked, search, HashMap::new()).await?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| match hit.found {
                Found::Memory { record } => Some(RecordHit {
                    record: *record,
                    score: hit.score,
                }),
                Found::Episode { .. } | Found::Pattern { .. } => None,
            })
            .collect())
    }

    /// The search's best results among its scope's records and, when `search.episodes` is set and the façade was
    /// given them ([`Records::with_episodes`]), the episodes; merged by score.
    pub async fn query(&self, search: &Search) -> Result<Vec<Hit>> {
        search.validate()?;
        let vector = self.query_vector(search)?;
        let (records, episodes) = {
            let mut state = self.index.lock().await;
            let source = self.source();
            let episodes = match search.episodes {
                true => source.episodes(&mut state).await?,
                false => None,
            };
            (source.records(&mut state, &search.scope).await?, episodes)
        };
        let mut ranked = ranked(
            &records,
            search,
            vector.as_deref(),
            self.embedder.semantic_weight(),
        );
        let merged = episodes.is_some();
        if let Some(episodes) = episodes {
            ranked.extend(self::ranked(
                &episodes,
                search,
                vector.as_deref(),
                self.embedder.semantic_weight(),
            ));
        }
        let mut patterns = HashMap::new();
        if let Some(learnt) = self.patterns.as_ref().filter(|_| search.episodes) {
            let same_model = learnt.embedder().id() == self.embedder.id();
            let vector = vector.as_deref().filter(|_| same_model);
            for (score, found) in learnt
                .ranked(search, vector, self.embedder.semantic_weight())
                .await?
            {
                let id = match &found {
                    Found::Pattern { pattern, .. } => pattern.id,
                    _ => continue,
                };
                ranked.push((DocKey::Pattern(id), score));
                patterns.insert(id, found);
            }
        }
        if merged || !patterns.is_empty() {
            ranked.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then(a.0.cmp(&b.0)));
            ranked.truncate(search.limit as usize);
        }
        rank::sort(&mut ranked, search.sort);
        self.query_hits(ranked, search, patterns).await
    }

    /// Reads what the ranked keys name, in order (patterns come found already); anything deleted meanwhile is
    /// left out.
    async fn query_hits(
        &self,
        ranked: Vec<(DocKey, Score)>,
        search: &Search,
        mut patterns: HashMap<PatternId, Found>,
    ) -> Result<Vec<Hit>> {
        let ids: Vec<RecordId> = ranked
            .iter()
            .filter_map(|(k, _)| match k {
                DocKey::Record(id) => Some(*id),
                DocKey::Episode(_) | DocKey::Pattern(_) => None,
            })
            .collect();
        let mut records: HashMap<RecordId, MemoryRecord> = HashMap::new();
        if !ids.is_empty() {
            for v in self.store.get_records(&ids).await? {
                if v.value.scope == search.scope {
                    records.insert(v.value.id, v.value);
                }
            }
        }
        let mut hits = Vec::with_capacity(ranked.len());
        for (key, score) in ranked {
            let found = match key {
                DocKey::Record(id) => records.remove(&id).map(|record| Found::Memory {
                    record: Box::new(record),
                }),
                DocKey::Episode(id) => self.episode(id, search).await?,
                DocKey::Pattern(id) => patterns.remove(&id),
            };
            if let Some(found) = found {
                hits.push(Hit { found, score });
            }
        }
        Ok(hits)
    }

    /// The episode `id`, unless the search is confined to a scope the episode is not of.
    async fn episode(&self, id: EpisodeId, search: &Search) -> Result<Option<Found>> {
        let Some(source) = &self.episodes else {
            return Ok(None);
        };
        Ok(source
            .get_episode(id)
            .await?
            .filter(|v| !search.confined || v.value.scope.as_ref() == Some(&search.scope))
            .map(|v| Found::Episode {
                episode: Box::new(v.value),
            }))
    }
}

/// Collections from this size on compute their two lists on two threads (from [`crate::index::SPLIT_FROM`], the
/// BM25 list runs as the calling thread's share of the vector list's split sign pass).
const PARALLEL_FROM: usize = 20_000;

/// The search's best documents of one shared collection, with their scores.
fn ranked(
    collection: &Shared,
    search: &Search,
    vector: Option<&[f32]>,
    semantic_weight: f64,
) -> Vec<(DocKey, Score)> {
    let c = collection.read().unwrap_or_else(|e| e.into_inner());
    ranked_in(&c, search, vector, semantic_weight)
}

/// The search's best documents of collection `c`, with their scores: its BM25 and vector lists (sharing the
/// cores on a large collection) ranked together by [`rank::rank`].
pub(crate) fn ranked_in(
    c: &crate::index::Collection,
    search: &Search,
    vector: Option<&[f32]>,
    semantic_weight: f64,
) -> Vec<(DocKey, Score)> {
    if search.browses() {
        return rank::browse(c, search, Timestamp::now())
            .into_iter()
            .map(|(slot, score)| (c.doc(slot).0, score))
            .collect();
    }
    let filter = |doc: &DocView<'_>| rank::keep(search, doc);
    let keep: Option<&crate::index::Keep<'_>> = search.has_filters().then_some(&filter);
    let n = rank::candidates(search.limit);
    let lexical = || match search.ranking {
        Ranking::Vector => Vec::new(),
        _ => c.bm25(&search.text, keep, n),
    };
    let semantic = || vector.map_or_else(Vec::new, |v| c.nearest(v, keep, n));
    // Both lists scan the whole collection; on a large one, they share the cores.
    let (lexical, semantic) = match vector {
        Some(v) if c.len() >= crate::index::SPLIT_FROM => {
            let (semantic, lexical) = c.nearest_beside(v, keep, n, lexical);
            (lexical, semantic)
        }
        Some(_) if c.len() >= PARALLEL_FROM => std::thread::scope(|s| {
            let semantic = s.spawn(semantic);
            let lexical = lexical();
            (
                lexical,
                semantic
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            )
        }),
        _ => (lexical(), semantic()),
    };
    rank::rank(
        c,
        search,
        &lexical,
        &semantic,
        semantic_weight,
        Timestamp::now(),
    )
    .into_iter()
    .map(|(slot, score)| (c.doc(slot).0, score))
    .collect()
}

/// What [`Records::reembed`] did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Reembedded {
    /// The store's model now.
    pub model: EmbeddingModel,
    /// Distinct texts (memories and episodes) the store holds.
    pub texts: usize,
    /// How many of them were embedded by this run (the rest had vectors of the model already).
    pub embedded: usize,
}

fn not_found(scope: &Scope, id: RecordId) -> Error {
    Error::NotFound {
        kind: "memory",
        id: format!("{id} in scope {scope}"),
    }
}
