//! Where patterns and the extraction queue are kept: the [`PatternStore`] trait that storage backends implement.

use async_trait::async_trait;

use super::{Pattern, PatternId};
use crate::{EmbeddingModel, EpisodeId, Result, Revision, Timestamp, Versioned};

/// A completed episode waiting in the extraction queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternJob {
    /// The episode.
    pub episode: EpisodeId,
    /// When it was queued (completed, or queued again by hand).
    pub queued_at: Timestamp,
    /// Whether its patterns were extracted already (then the job only needs dropping).
    pub extracted: bool,
}

/// A write to a pattern, as the pattern change feed reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternChange {
    /// The pattern.
    pub id: PatternId,
    /// The revision of the write.
    pub revision: Revision,
    /// Whether the write deleted it (merged it into another).
    pub deleted: bool,
}

/// One write of the pattern learner, applied in one transaction: all of it or nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatternWrite {
    /// Patterns to store: new ones (`None`), or changes of the revision they were read at.
    pub put: Vec<(Pattern, Option<Revision>)>,
    /// Patterns merged into others, with the revision they were read at.
    pub delete: Vec<(PatternId, Revision)>,
    /// Episodes whose patterns this write holds: marked extracted and taken off the queue. An episode that is
    /// marked already fails the write, so no episode is ever counted twice.
    pub extracted: Vec<EpisodeId>,
    /// Jobs taken off the queue without extraction (the episode was deleted, or extracted already).
    pub dropped: Vec<EpisodeId>,
    /// Vectors of the stored patterns' descriptions.
    pub vectors: Option<ModelVectors>,
}

/// Vectors by embedding key, all made by one model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelVectors {
    /// The model.
    pub model: EmbeddingModel,
    /// `(embedding key, vector)` pairs.
    pub vectors: Vec<(String, Vec<f32>)>,
}

impl PatternWrite {
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.put.is_empty()
            && self.delete.is_empty()
            && self.extracted.is_empty()
            && self.dropped.is_empty()
    }
}

/// A store of patterns and of the queue of episodes waiting for extraction.
///
/// Completing an episode queues it in the same transaction (so a crash can never lose a job); the learner takes
/// jobs off the queue in the same transaction that stores their patterns. Pattern writes get revisions of their
/// own sequence, and the change feed lets an in-process index follow them.
#[async_trait]
pub trait PatternStore: Send + Sync + 'static {
    /// The oldest `limit` jobs of the queue.
    async fn pattern_jobs(&self, limit: u32) -> Result<Vec<PatternJob>>;

    /// How many jobs are queued.
    async fn pattern_job_count(&self) -> Result<u64>;

    /// Queues `ids` (ids queued already stay as they are); returns how many were added.
    async fn queue_pattern_jobs(&self, ids: &[EpisodeId]) -> Result<u64>;

    /// Queues every completed episode whose patterns were never extracted; returns how many were added.
    async fn queue_unextracted(&self) -> Result<u64>;

    /// Applies `write` atomically. Fails with [`crate::Error::Changed`], writing nothing, when a pattern is not at
    /// the revision it was read at (or exists already, for a new one) or an episode was marked extracted already;
    /// and with [`crate::Error::EmbedderMismatch`] when the vectors are of another model than the store's.
    async fn write_patterns(&self, write: &PatternWrite) -> Result<Revision>;

    /// Reads patterns by id, with their revisions; missing ids are left out.
    async fn get_patterns(&self, ids: &[PatternId]) -> Result<Vec<Versioned<Pattern>>>;

    /// Patterns in id order, after `after`, at most `limit`, with their revisions.
    async fn scan_patterns(
        &self,
        after: Option<PatternId>,
        limit: u32,
    ) -> Result<Vec<Versioned<Pattern>>>;

    /// The latest pattern revision (0 before any pattern write).
    async fn pattern_head(&self) -> Result<Revision>;

    /// The latest write to each pattern written after `after`, in revision order.
    async fn pattern_changes(&self, after: Revision) -> Result<Vec<PatternChange>>;
}
