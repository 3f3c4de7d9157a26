//! The patterns in memory: every stored pattern with its vector and feature vector, and a search collection over
//! them. Loaded from the store on first use and, before every use, brought up to date by the pattern change feed,
//! so patterns written by other processes are seen too.

use std::collections::HashMap;

use super::{
    Pattern, PatternId, PatternKind, PatternStore,
    cluster::{Anchor, features},
};
use crate::{
    Embedder, EmbeddingModel, Error, RecordStore, Result, Revision, Scope, Versioned,
    index::{Collection, Doc, DocKey, DocMeta, Labels},
};

/// Patterns read per page while loading.
const PAGE: u32 = 1000;

/// One pattern as the learner and the searches use it.
pub(crate) struct Entry {
    pub(crate) pattern: Pattern,
    pub(crate) revision: Revision,
    pub(crate) features: Vec<f32>,
}

/// What the index reads from: the patterns, the vectors, and the embedder that makes missing vectors.
pub(crate) struct Sources<'a> {
    pub(crate) store: &'a dyn PatternStore,
    pub(crate) vectors: &'a dyn RecordStore,
    pub(crate) embedder: &'a dyn Embedder,
}

impl Sources<'_> {
    fn model(&self) -> EmbeddingModel {
        crate::retrieve::model_of(self.embedder)
    }

    /// Embeds `texts` in batches, off the async workers.
    pub(crate) fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        crate::retrieve::embed(self.embedder, texts)
    }

    /// The vectors of `texts` by embedding key: stored ones are read, the others embedded. Returns them with the
    /// ones that were made, which the caller stores.
    pub(crate) async fn vectors(
        &self,
        texts: &HashMap<String, String>,
    ) -> Result<(HashMap<String, Vec<f32>>, Vec<(String, Vec<f32>)>)> {
        let model = self.model();
        let keys: Vec<String> = texts.keys().cloned().collect();
        let mut found: HashMap<String, Vec<f32>> = HashMap::new();
        for chunk in keys.chunks(500) {
            found.extend(self.vectors.embeddings(&model.id, chunk).await?);
        }
        let missing: Vec<&String> = keys.iter().filter(|k| !found.contains_key(*k)).collect();
        let made: Vec<(String, Vec<f32>)> = if missing.is_empty() {
            Vec::new()
        } else {
            let missing_texts: Vec<String> = missing.iter().map(|k| texts[*k].clone()).collect();
            missing
                .into_iter()
                .cloned()
                .zip(self.embed(&missing_texts)?)
                .collect()
        };
        found.extend(made.iter().cloned());
        Ok((found, made))
    }

    /// Fails when the store's vectors are from another model than the embedder's.
    async fn check_model(&self) -> Result<()> {
        match self.vectors.embedding_model().await? {
            Some(stored) if stored.id != self.embedder.id() => Err(Error::EmbedderMismatch {
                stored: stored.id,
                configured: self.embedder.id().to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// The loaded patterns.
#[derive(Default)]
pub(crate) struct PatternIndex {
    loaded: bool,
    applied: Revision,
    entries: HashMap<PatternId, Entry>,
    collection: Option<Collection>,
}

impl PatternIndex {
    /// Loads every pattern, or applies the changes since the last call.
    pub(crate) async fn refresh(&mut self, sources: &Sources<'_>) -> Result<()> {
        if !self.loaded {
            sources.check_model().await?;
            self.collection = Some(Collection::new(sources.embedder.dimension()));
            self.applied = sources.store.pattern_head().await?;
            let mut after = None;
            loop {
                let page = sources.store.scan_patterns(after, PAGE).await?;
                after = page.last().map(|v| v.value.id);
                let full = page.len() == PAGE as usize;
                self.upsert(sources, page).await?;
                if !full {
                    break;
                }
            }
            self.loaded = true;
        }
        let changes = sources.store.pattern_changes(self.applied).await?;
        let mut written = Vec::new();
        for change in &changes {
            if change.deleted {
                self.remove(change.id, change.revision);
            } else {
                written.push(change.id);
            }
        }
        for ids in written.chunks(500) {
            let patterns = sources.store.get_patterns(ids).await?;
            self.upsert(sources, patterns).await?;
        }
        if let Some(last) = changes.last() {
            self.applied = self.applied.max(last.revision);
        }
        Ok(())
    }

    /// Adds or replaces patterns (an older copy than the loaded one is ignored), with their vectors.
    async fn upsert(
        &mut self,
        sources: &Sources<'_>,
        patterns: Vec<Versioned<Pattern>>,
    ) -> Result<()> {
        let patterns: Vec<Versioned<Pattern>> = patterns
            .into_iter()
            .filter(|v| {
                self.entries
                    .get(&v.value.id)
                    .is_none_or(|e| e.revision <= v.revision)
            })
            .collect();
        let texts: HashMap<String, String> = patterns
            .iter()
            .map(|v| (v.value.embedding_key(), v.value.description.clone()))
            .collect();
        if texts.is_empty() {
            return Ok(());
        }
        let (vectors, made) = sources.vectors(&texts).await?;
        if !made.is_empty() {
            sources
                .vectors
                .put_embeddings(&sources.model(), &made)
                .await?;
        }
        for v in patterns {
            let vector = vectors
                .get(&v.value.embedding_key())
                .cloned()
                .unwrap_or_default();
            self.insert(v, vector);
        }
        Ok(())
    }

    /// Indexes one pattern with its vector.
    fn insert(&mut self, v: Versioned<Pattern>, vector: Vec<f32>) {
        let features = features(&vector, &v.value.signature);
        if let Some(collection) = &mut self.collection {
            collection.upsert(document(&v, vector));
        }
        self.entries.insert(
            v.value.id,
            Entry {
                pattern: v.value,
                revision: v.revision,
                features,
            },
        );
    }

    fn remove(&mut self, id: PatternId, revision: Revision) {
        if self
            .entries
            .get(&id)
            .is_some_and(|e| e.revision <= revision)
        {
            self.entries.remove(&id);
            if let Some(collection) = &mut self.collection {
                collection.remove(DocKey::Pattern(id), revision);
            }
        }
    }

    /// A loaded pattern.
    pub(crate) fn get(&self, id: PatternId) -> Option<&Entry> {
        self.entries.get(&id)
    }

    /// Every loaded pattern.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The stored patterns of `kind` learnt in `scope`, as clustering sees them.
    pub(crate) fn anchors<'a>(
        &'a self,
        kind: PatternKind,
        scope: Option<&'a Scope>,
    ) -> impl Iterator<Item = Anchor<'a>> {
        self.entries
            .values()
            .filter(move |e| e.pattern.kind == kind && e.pattern.scope.as_ref() == scope)
            .map(|e| Anchor {
                id: e.pattern.id,
                support: e.pattern.support,
                created_at: e.pattern.created_at,
                features: &e.features,
            })
    }

    /// The search collection (empty before the first refresh).
    pub(crate) fn collection(&self) -> Option<&Collection> {
        self.collection.as_ref()
    }

    /// How many patterns are loaded.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A pattern as a search document: its description weighs most, then the tasks it was seen in, its condition and
/// action, and least its contexts.
fn document(v: &Versioned<Pattern>, vector: Vec<f32>) -> Doc {
    let p = &v.value;
    let c = &p.context;
    let mut context: Vec<String> = c
        .task_types
        .iter()
        .map(|t| t.as_str().replace('_', " "))
        .collect();
    context.extend(
        c.domains
            .iter()
            .chain(&c.languages)
            .chain(&c.frameworks)
            .chain(&c.tags)
            .cloned(),
    );
    Doc {
        key: DocKey::Pattern(p.id),
        revision: v.revision,
        fields: vec![
            (p.description.clone(), 1.0),
            (p.tasks.join("\n"), 0.7),
            (format!("{}\n{}", p.condition, p.action), 0.5),
            (context.join(" "), 0.3),
        ],
        vector: (!vector.is_empty()).then_some(vector),
        meta: DocMeta {
            time: p.effectiveness.last_used,
            importance: p.effectiveness.score as f32,
            reward: Some((p.effectiveness.score * 1.5) as f32),
            labels: Labels {
                kind: None,
                tags: c.tags.clone(),
                domain: c.domains.first().cloned(),
                language: c.languages.first().cloned(),
                framework: c.frameworks.first().cloned(),
                task_type: c.task_types.first().copied(),
                outcome: None,
                scope: p.scope.as_ref().map(|s| s.as_str().to_string()),
            },
        },
    }
}
