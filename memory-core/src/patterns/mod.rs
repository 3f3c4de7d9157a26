//! The façade of the pattern learner: extraction from the queue, listing, search, recommendation, feedback,
//! decay and heuristics, over any store that keeps patterns, vectors and episodes.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::{
    ChangeFeed, Embedder, EpisodeId, Error, Found, LexicalEmbedder, MAX_LIST_LIMIT, OutcomeKind,
    Pattern, PatternId, PatternKind, PatternStore, PatternWrite, RecordStore, Result, Scope, Score,
    Search, Timestamp,
    index::DocKey,
    pattern::{
        DEFAULT_HALF_LIFE_DAYS, Heuristic, HeuristicQuery, Recommend, Recommendation,
        cluster::{self, ClusterParams},
        extract, heuristic,
        index::{PatternIndex, Sources},
        learn::{self, Extracted, Settings},
        recommend,
    },
    retrieve::EpisodeSource,
};

mod requests;

pub use requests::{Decayed, EpisodePattern, PatternFeedback, PatternQuery};

/// Attempts at a write that raced another writer, rereading in between.
const WRITE_ATTEMPTS: usize = 3;

/// How the learner clusters and scores. The defaults are documented in the README and justified by the
/// planted-data test (`tests/tests/patterns.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PatternConfig {
    /// DBSCAN's neighbourhood radius over feature vectors (0 to 2); default 0.5.
    pub eps: f32,
    /// DBSCAN's minimum neighbourhood (the point included), and the support from which a pattern counts as
    /// recurring and gives a heuristic; default 2.
    pub min_points: usize,
    /// Days for the weight of an outcome to halve; default 90.
    pub half_life_days: f64,
    /// Queued episodes per transaction; default 64.
    pub batch: u32,
}

impl Default for PatternConfig {
    fn default() -> Self {
        PatternConfig {
            eps: 0.5,
            min_points: 2,
            half_life_days: DEFAULT_HALF_LIFE_DAYS,
            batch: 64,
        }
    }
}

impl PatternConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        self.cluster().validate()?;
        if !(self.half_life_days > 0.0 && self.half_life_days.is_finite()) {
            return Err(Error::validation(
                "half_life_days",
                format!(
                    "must be a positive number of days, got {}",
                    self.half_life_days
                ),
            ));
        }
        if self.batch == 0 || self.batch > MAX_LIST_LIMIT {
            return Err(Error::validation(
                "batch",
                format!("must be 1 to {MAX_LIST_LIMIT}, got {}", self.batch),
            ));
        }
        Ok(())
    }

    fn cluster(&self) -> ClusterParams {
        ClusterParams {
            eps: self.eps,
            min_points: self.min_points,
        }
    }

    fn min_support(&self) -> u32 {
        self.min_points as u32
    }
}

/// Patterns learnt from episodes, over any store of patterns, vectors and episodes, with the [`Embedder`] the
/// store's vectors are made by. Cloning is cheap and shares the loaded patterns.
#[derive(Clone)]
pub struct Patterns {
    store: Arc<dyn PatternStore>,
    vectors: Arc<dyn RecordStore>,
    episodes: Arc<dyn EpisodeSource>,
    embedder: Arc<dyn Embedder>,
    config: PatternConfig,
    index: Arc<Mutex<PatternIndex>>,
}

impl Patterns {
    /// Patterns over `store`, embedded by the built-in [`LexicalEmbedder`], with the default configuration.
    pub fn new<S: PatternStore + RecordStore + ChangeFeed>(store: Arc<S>) -> Self {
        Patterns {
            store: store.clone(),
            vectors: store.clone(),
            episodes: store,
            embedder: Arc::new(LexicalEmbedder::default()),
            config: PatternConfig::default(),
            index: Arc::default(),
        }
    }

    /// The same patterns, embedded by `embedder` (the one the store's other vectors are made by).
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = embedder;
        self.index = Arc::default();
        self
    }

    /// The same patterns with another configuration.
    pub fn with_config(mut self, config: PatternConfig) -> Result<Self> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// The configuration in use.
    pub fn config(&self) -> &PatternConfig {
        &self.config
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    fn sources(&self) -> Sources<'_> {
        Sources {
            store: self.store.as_ref(),
            vectors: self.vectors.as_ref(),
            embedder: self.embedder.as_ref(),
        }
    }

    /// Runs `work` on the loaded patterns, brought up to date first.
    async fn with_index<T>(&self, work: impl FnOnce(&PatternIndex) -> T) -> Result<T> {
        let mut index = self.index.lock().await;
        index.refresh(&self.sources()).await?;
        Ok(work(&index))
    }

    /// How many episodes wait in the queue.
    pub async fn pending(&self) -> Result<u64> {
        self.store.pattern_job_count().await
    }

    /// Queues every completed episode whose patterns were never extracted (episodes imported in bulk are not
    /// queued when imported); returns how many were queued.
    pub async fn queue_unextracted(&self) -> Result<u64> {
        self.store.queue_unextracted().await
    }

    /// Queues one episode, which must be completed; returns false when it was queued already.
    pub async fn queue(&self, id: EpisodeId) -> Result<bool> {
        let episode = self
            .episodes
            .get_episode(id)
            .await?
            .ok_or_else(|| Error::episode_not_found(id))?;
        if !episode.value.is_completed() {
            return Err(Error::validation(
                "episode",
                format!("{id} is in progress: patterns are extracted from completed episodes"),
            ));
        }
        Ok(self.store.queue_pattern_jobs(&[id]).await? > 0)
    }

    /// Extracts the patterns of the next batch of queued episodes and takes them off the queue, in one
    /// transaction. Returns `None` when the queue is empty.
    pub async fn extract_batch(&self) -> Result<Option<Extracted>> {
        let mut index = self.index.lock().await;
        let sources = self.sources();
        let settings = Settings {
            cluster: self.config.cluster(),
            half_life_days: self.config.half_life_days,
        };
        let mut last = None;
        for _ in 0..WRITE_ATTEMPTS {
            let jobs = self.store.pattern_jobs(self.config.batch).await?;
            if jobs.is_empty() {
                return Ok(None);
            }
            index.refresh(&sources).await?;
            let (write, report) =
                learn::prepare(&jobs, self.episodes.as_ref(), &sources, &index, &settings).await?;
            match self.store.write_patterns(&write).await {
                Ok(_) => {
                    index.refresh(&sources).await?;
                    return Ok(Some(report));
                }
                // Another learner (another process) took some of these jobs or changed these patterns: reread.
                Err(err @ Error::Changed { .. }) => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::Changed {
            kind: "pattern",
            id: "batch".into(),
        }))
    }

    /// Extracts every queued episode, batch by batch, until the queue is empty.
    pub async fn extract_pending(&self) -> Result<Extracted> {
        let mut total = Extracted::default();
        while let Some(done) = self.extract_batch().await? {
            total.add(done);
        }
        Ok(total)
    }

    /// A stored pattern; [`Error::NotFound`] if there is none.
    pub async fn get(&self, id: PatternId) -> Result<Pattern> {
        self.with_index(|index| index.get(id).map(|e| e.pattern.clone()))
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Stored patterns, best stored score first (then support, then id).
    pub async fn list(&self, query: &PatternQuery) -> Result<Vec<Pattern>> {
        if query.limit == 0 || query.limit > MAX_LIST_LIMIT {
            return Err(Error::validation(
                "limit",
                format!("must be 1 to {MAX_LIST_LIMIT}, got {}", query.limit),
            ));
        }
        self.with_index(|index| {
            let mut found: Vec<&Pattern> = index
                .entries()
                .map(|e| &e.pattern)
                .filter(|p| {
                    query.kind.is_none_or(|k| p.kind == k) && p.support >= query.min_support
                })
                .collect();
            found.sort_by(|a, b| {
                b.effectiveness
                    .score
                    .total_cmp(&a.effectiveness.score)
                    .then(b.support.cmp(&a.support))
                    .then(a.id.cmp(&b.id))
            });
            found
                .into_iter()
                .skip(query.offset as usize)
                .take(query.limit as usize)
                .cloned()
                .collect()
        })
        .await
    }

    /// How many patterns are stored.
    pub async fn count(&self) -> Result<usize> {
        self.with_index(PatternIndex::len).await
    }

    /// The embedding of a query text.
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        self.sources()
            .embed(&[text.to_string()])?
            .pop()
            .ok_or_else(|| Error::Corrupt("the embedder returned no vector".into()))
    }

    /// Patterns ranked for a task by relevance, context match, effectiveness and recency, each with why.
    pub async fn recommend(&self, request: &Recommend) -> Result<Vec<Recommendation>> {
        request.validate()?;
        let vector = self.embed_query(&request.task)?;
        let weight = self.embedder.semantic_weight();
        let now = Timestamp::now();
        self.with_index(|index| {
            recommend::recommend(
                index,
                request,
                Some(&vector),
                weight,
                self.config.half_life_days,
                self.config.min_support(),
                now,
            )
        })
        .await
    }

    /// Patterns whose text or meaning matches `text`, best first, by relevance alone; only those of `scope`
    /// when one is given.
    pub async fn search(
        &self,
        text: &str,
        kind: Option<PatternKind>,
        limit: u32,
        scope: Option<&Scope>,
    ) -> Result<Vec<Recommendation>> {
        recommend::check_text_and_limit("query", text, limit)?;
        let request = Recommend {
            kind,
            limit,
            scope: scope.cloned(),
            ..Recommend::new(text)
        };
        let mut found = self.recommend(&request).await?;
        for r in &mut found {
            r.score.total = r.score.relevance;
        }
        found.sort_by(|a, b| {
            b.score
                .total
                .total_cmp(&a.score.total)
                .then(a.pattern.id.cmp(&b.pattern.id))
        });
        Ok(found)
    }

    /// The patterns a memory query finds, scored like its episodes and memories (see [`crate::Records::query`]):
    /// the hybrid ranking's weights, with a pattern's effectiveness as its importance and outcome, and the time
    /// it was last seen or applied as its time.
    pub(crate) async fn ranked(
        &self,
        search: &Search,
        vector: Option<&[f32]>,
        semantic_weight: f64,
    ) -> Result<Vec<(Score, Found)>> {
        let min_support = self.config.min_support();
        self.with_index(|index| {
            let Some(c) = index.collection() else {
                return Vec::new();
            };
            crate::records::ranked_in(c, search, vector, semantic_weight)
                .into_iter()
                .filter_map(|(key, score)| match key {
                    DocKey::Pattern(id) => index.get(id).map(|e| {
                        let found = Found::Pattern {
                            heuristic: Heuristic::of(&e.pattern, min_support),
                            pattern: Box::new(e.pattern.clone()),
                        };
                        (score, found)
                    }),
                    _ => None,
                })
                .collect()
        })
        .await
    }

    /// The heuristics of the recurring patterns, most confident first.
    pub async fn heuristics(&self, query: &HeuristicQuery) -> Result<Vec<Heuristic>> {
        query.validate()?;
        let min_support = self.config.min_support();
        self.with_index(|index| {
            heuristic::select(index.entries().map(|e| &e.pattern), query, min_support)
        })
        .await
    }

    /// Counts an agent's report on patterns it applied: each gets a use and the outcome, its score is
    /// recomputed as of now, and all are written in one transaction. An unknown id writes nothing.
    pub async fn feedback(&self, feedback: &PatternFeedback) -> Result<Vec<Pattern>> {
        let success = match feedback.outcome {
            OutcomeKind::Success | OutcomeKind::PartialSuccess => true,
            OutcomeKind::Failure => false,
            OutcomeKind::Abstained => {
                return Err(Error::validation(
                    "outcome",
                    "abstaining says nothing about the patterns; report success, partial_success or failure",
                ));
            }
        };
        let ids = &feedback.patterns;
        if ids.is_empty() || ids.len() > 100 {
            return Err(Error::validation(
                "patterns",
                format!("name 1 to 100 patterns, got {}", ids.len()),
            ));
        }
        if let Some((i, id)) = ids
            .iter()
            .enumerate()
            .find(|(i, id)| ids[..*i].contains(id))
        {
            return Err(Error::validation(
                format!("patterns[{i}]"),
                format!("{id} is named twice"),
            ));
        }
        let half_life = self.config.half_life_days;
        self.rewrite(|index| {
            let now = Timestamp::now();
            let mut write = PatternWrite::default();
            for id in ids {
                let entry = index
                    .get(*id)
                    .filter(|e| feedback.scope.is_none() || e.pattern.scope == feedback.scope)
                    .ok_or_else(|| not_found(*id))?;
                let mut pattern = entry.pattern.clone();
                pattern.effectiveness.apply(success, now, half_life);
                pattern.updated_at = now.max(pattern.updated_at);
                write.put.push((pattern, Some(entry.revision)));
            }
            Ok(write)
        })
        .await
        .map(|write| write.put.into_iter().map(|(p, _)| p).collect())
    }

    /// Ages every stored pattern's outcome weights to `now` and stores the recomputed scores, in transactions of
    /// 500 patterns.
    pub async fn decay(&self, now: Timestamp) -> Result<Decayed> {
        let half_life = self.config.half_life_days;
        let ids: Vec<PatternId> = self
            .with_index(|index| index.entries().map(|e| e.pattern.id).collect())
            .await?;
        let mut updated = 0;
        for chunk in ids.chunks(500) {
            let write = self
                .rewrite(|index| {
                    let mut write = PatternWrite::default();
                    for entry in chunk.iter().filter_map(|id| index.get(*id)) {
                        let mut pattern = entry.pattern.clone();
                        pattern.effectiveness.decay_to(now, half_life);
                        if pattern.effectiveness != entry.pattern.effectiveness {
                            write.put.push((pattern, Some(entry.revision)));
                        }
                    }
                    Ok(write)
                })
                .await?;
            updated += write.put.len() as u32;
        }
        Ok(Decayed {
            patterns: ids.len() as u32,
            updated,
            now,
        })
    }

    /// Builds a write from the current patterns and applies it, rereading and rebuilding when another writer
    /// got there first. Returns the write that was applied.
    async fn rewrite(
        &self,
        build: impl Fn(&PatternIndex) -> Result<PatternWrite>,
    ) -> Result<PatternWrite> {
        let mut index = self.index.lock().await;
        let sources = self.sources();
        let mut last = None;
        for _ in 0..WRITE_ATTEMPTS {
            index.refresh(&sources).await?;
            let write = build(&index)?;
            if write.is_empty() {
                return Ok(write);
            }
            match self.store.write_patterns(&write).await {
                Ok(_) => {
                    index.refresh(&sources).await?;
                    return Ok(write);
                }
                Err(err @ Error::Changed { .. }) => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::Changed {
            kind: "pattern",
            id: "write".into(),
        }))
    }

    /// The patterns of one completed episode: each candidate read off it, with the stored pattern that holds it.
    pub async fn of_episode(&self, id: EpisodeId) -> Result<Vec<EpisodePattern>> {
        let episode = self
            .episodes
            .get_episode(id)
            .await?
            .ok_or_else(|| Error::episode_not_found(id))?
            .value;
        if !episode.is_completed() {
            return Err(Error::validation(
                "episode",
                format!("{id} is in progress: patterns are read off completed episodes"),
            ));
        }
        let candidates = extract(&episode);
        let texts = candidates
            .iter()
            .map(|c| (crate::content_hash(&c.description), c.description.clone()))
            .collect();
        let (vectors, _) = self.sources().vectors(&texts).await?;
        let eps = self.config.eps;
        self.with_index(|index| {
            candidates
                .into_iter()
                .map(|candidate| {
                    let vector = vectors.get(&crate::content_hash(&candidate.description));
                    let f = cluster::features(
                        vector.map_or(&[][..], Vec::as_slice),
                        &candidate.signature,
                    );
                    // A pattern whose evidence names the episode first, then the nearest.
                    let holding = index
                        .entries()
                        .filter(|e| {
                            e.pattern.kind == candidate.kind && e.pattern.scope == candidate.scope
                        })
                        .map(|e| {
                            let named = e.pattern.evidence.iter().any(|ev| ev.episode == id);
                            (!named, cluster::distance(&e.features, &f), e)
                        })
                        .filter(|(unnamed, d, _)| !unnamed || *d <= eps)
                        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
                        .map(|(_, _, e)| e);
                    EpisodePattern {
                        pattern: holding.map(|e| e.pattern.clone()),
                        candidate,
                    }
                })
                .collect()
        })
        .await
    }
}

fn not_found(id: PatternId) -> Error {
    Error::NotFound {
        kind: "pattern",
        id: id.to_string(),
    }
}
