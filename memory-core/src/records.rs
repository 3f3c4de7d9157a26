//! The façade for memory records: validation in front of any [`RecordStore`].

use std::sync::Arc;

use crate::{
    Embedder, Embedding, Error, LexicalEmbedder, MemoryRecord, NewRecord, Ranking, RecordHit,
    RecordId, RecordQuery, RecordSearch, RecordStats, RecordStore, RecordUpdate, Result, Scope,
    Stored,
};

/// Memory records over any [`RecordStore`], with the [`Embedder`] that embeds them (the built-in
/// [`LexicalEmbedder`] unless another is given). Cloning is cheap and shares the store.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn RecordStore>,
    embedder: Arc<dyn Embedder>,
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
            embedder: Arc::new(LexicalEmbedder::default()),
        }
    }

    /// The same records, embedded by `embedder`.
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = embedder;
        self
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    fn embed(&self, text: &str) -> Result<Embedding> {
        let vector = crate::run_blocking(|| self.embedder.embed(&[text]))?
            .pop()
            .ok_or_else(|| Error::validation("embedding", "the embedder returned no vector"))?;
        Ok(Embedding {
            model: self.embedder.id().to_string(),
            vector,
        })
    }

    /// Validates, embeds and stores a memory; storing the same content again in the same scope returns the
    /// existing id and says it was a duplicate.
    pub async fn store(&self, new: NewRecord) -> Result<Stored> {
        let record = new.into_record()?;
        let embedding = self.embed(&record.embedding_text())?;
        self.store.store_record(&record, Some(&embedding)).await
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

    /// Full-text search of a scope's records, best first.
    pub async fn search(&self, search: &RecordSearch) -> Result<Vec<RecordHit>> {
        let mut search = search.clone();
        if search.ranking != Ranking::Bm25
            && search.embedding.is_none()
            && !search.text.trim().is_empty()
        {
            search.embedding = Some(self.embed(&search.text)?);
        }
        search.validate()?;
        self.store.search_records(&search).await
    }

    /// Counts and sizes for one scope, or for every scope.
    pub async fn stats(&self, scope: Option<&Scope>) -> Result<RecordStats> {
        self.store.record_stats(scope).await
    }
}

fn not_found(scope: &Scope, id: RecordId) -> Error {
    Error::NotFound {
        kind: "memory",
        id: format!("{id} in scope {scope}"),
    }
}
