//! Episodic memory for coding agents: the domain, the lifecycle façade and the storage traits.
//!
//! An agent records **episodes**: a task with its context, the steps it took and the outcome. Completing an
//! episode computes a [`RewardScore`] and a [`Reflection`]. Storage lives behind [`EpisodeStore`]; this crate does
//! no IO of its own and knows nothing of libSQL, redb, MCP or the command line.
//!
//! ```
//! use memory_core::{
//!     Episode, EpisodeId, EpisodeQuery, EpisodeStore, EpisodeSummary, ExecutionStep, Memory, NewEpisode,
//!     StepResult, TaskContext, TaskOutcome, TaskType,
//! };
//! # use memory_core::{Appended, Result, Revision, Versioned};
//! # use std::{collections::HashMap, sync::Mutex};
//! # #[derive(Default)]
//! # struct InMemory(Mutex<HashMap<EpisodeId, Episode>>);
//! # #[async_trait::async_trait]
//! # impl EpisodeStore for InMemory {
//! #     async fn insert_episode(&self, e: &Episode) -> Result<Revision> { self.0.lock().unwrap().insert(e.id, e.clone()); Ok(1) }
//! #     async fn append_step(&self, id: EpisodeId, s: &ExecutionStep) -> Result<Appended> {
//! #         let mut map = self.0.lock().unwrap();
//! #         let e = map.get_mut(&id).unwrap();
//! #         let mut s = s.clone(); s.step_number = e.steps.len() as u32 + 1; e.steps.push(s);
//! #         Ok(Appended { step_number: e.steps.len() as u32, revision: 1 })
//! #     }
//! #     async fn complete_episode(&self, e: &Episode) -> Result<Revision> { self.0.lock().unwrap().insert(e.id, e.clone()); Ok(1) }
//! #     async fn get_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
//! #         Ok(self.0.lock().unwrap().get(&id).map(|e| Versioned { revision: 1, value: e.clone() }))
//! #     }
//! #     async fn delete_episode(&self, id: EpisodeId) -> Result<Option<Revision>> { Ok(self.0.lock().unwrap().remove(&id).map(|_| 1)) }
//! #     async fn list_episodes(&self, _: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> { Ok(vec![]) }
//! #     async fn import_episodes(&self, _: &[Episode]) -> Result<Revision> { Ok(1) }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> memory_core::Result<()> {
//! # let store = InMemory::default();
//! let memory = Memory::new(store); // e.g. memory_storage_turso::TursoStore
//! let context = TaskContext { domain: "payments".into(), language: Some("rust".into()), ..Default::default() };
//! let id = memory.start_episode(NewEpisode::new("fix the flaky settle test", TaskType::Debugging, context)).await?;
//! memory.log_step(id, ExecutionStep::new("cargo", "test", StepResult::Success { output: "ok".into() })).await?;
//! let done = memory.complete_episode(id, TaskOutcome::Success { verdict: "fixed".into(), artifacts: vec![] }).await?;
//! assert!(done.reward.unwrap().total > 0.0);
//! # Ok(())
//! # }
//! ```

mod blocking;
mod cached;
pub mod capture;
mod codec;
pub mod context;
mod embed;
mod episode;
mod error;
mod hash;
pub mod index;
mod memory;
pub mod pattern;
mod patterns;
mod rank;
mod record;
mod records;
pub mod redact;
pub mod reflection;
mod retrieve;
pub mod reward;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod search;
pub mod sessions;
mod storage;
mod tokens;
pub mod validate;

pub use blocking::run_blocking;
pub use cached::{CacheCounts, CachedStore, cache_counts};
pub use codec::{Json, Timestamp};
#[cfg(feature = "local-model")]
pub use embed::{BertEmbedder, BertModelInfo};
pub use embed::{Embedder, LexicalEmbedder, cosine};
#[cfg(feature = "http-embedder")]
pub use embed::{HttpEmbedder, HttpEmbedderConfig};
pub use episode::{
    Complexity, Episode, EpisodeId, EpisodeSummary, ExecutionStep, OutcomeKind, RECORD_VERSION,
    Reflection, RewardScore, StepResult, TaskContext, TaskOutcome, TaskType,
};
pub use error::{Error, Result, error_chain};
pub use hash::{FNV1A64_OFFSET, fnv1a64, fnv1a64_extend};
pub use memory::{Memory, NewEpisode};
pub use pattern::{
    Effectiveness, Evidence, Extracted, Heuristic, HeuristicQuery, Pattern, PatternChange,
    PatternContext, PatternId, PatternJob, PatternKind, PatternQueue, PatternStore, PatternWorker,
    PatternWrite, Recommend, Recommendation, RecommendationScore,
};
pub use patterns::{
    Decayed, EpisodePattern, PatternConfig, PatternFeedback, PatternQuery, Patterns,
};
pub use record::{
    MemoryRecord, NewRecord, RecordId, RecordKind, RecordStats, RecordUpdate, Scope, Stored,
    content_hash,
};
pub use records::{Records, Reembedded};
pub use retrieve::{EpisodeSource, IndexInfo, Origin};
pub use search::{
    Found, Hit, MAX_SEARCH_LIMIT, QueryContext, Ranking, RecordHit, Score, Search, Sort,
};
pub use storage::{
    Appended, Change, ChangeFeed, Embedding, EmbeddingModel, EpisodeCache, EpisodeQuery,
    EpisodeStore, MAX_FILTER_TAGS, MAX_LIST_LIMIT, RecordCache, RecordChange, RecordQuery,
    RecordStore, Revision, SnapshotStore, Tags, Versioned,
};
