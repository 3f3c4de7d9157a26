//! The façade an agent or a program talks to: start an episode, log its steps, complete it.

use std::sync::Arc;

use crate::{
    Episode, EpisodeId, EpisodeQuery, EpisodeStore, EpisodeSummary, Error, ExecutionStep, Json,
    PatternQueue, Result, Scope, TaskContext, TaskOutcome, TaskType, Timestamp, reflection, reward,
    validate,
};

/// How many times [`Memory::complete_episode`] rereads and retries when a step arrives while it completes.
const COMPLETE_ATTEMPTS: usize = 3;

/// A new episode's description, as given to [`Memory::start_episode`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewEpisode {
    /// What the agent was asked to do.
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where it happens.
    pub context: TaskContext,
    /// Free JSON metadata (an object).
    pub metadata: Json,
    /// The scope it belongs to (see [`Episode::scope`]).
    pub scope: Option<Scope>,
}

impl NewEpisode {
    /// A new episode with empty metadata.
    pub fn new(
        task_description: impl Into<String>,
        task_type: TaskType,
        context: TaskContext,
    ) -> Self {
        NewEpisode {
            task_description: task_description.into(),
            task_type,
            context,
            metadata: Json::empty_object(),
            scope: None,
        }
    }
}

/// The episodic memory: the episode lifecycle over any [`EpisodeStore`].
///
/// Cloning is cheap and shares the store.
#[derive(Clone)]
pub struct Memory {
    store: Arc<dyn EpisodeStore>,
    patterns: Option<PatternQueue>,
}

impl Memory {
    /// Episodic memory over `store`.
    pub fn new(store: impl EpisodeStore) -> Self {
        Memory::from_arc(Arc::new(store))
    }

    /// Episodic memory over a shared store.
    pub fn from_arc(store: Arc<dyn EpisodeStore>) -> Self {
        Memory {
            store,
            patterns: None,
        }
    }

    /// The same memory, waking the pattern learner behind `queue` after each completion.
    pub fn with_patterns(mut self, queue: PatternQueue) -> Self {
        self.patterns = Some(queue);
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn EpisodeStore> {
        &self.store
    }

    /// Validates and stores a new in-progress episode; returns its id.
    pub async fn start_episode(&self, new: NewEpisode) -> Result<EpisodeId> {
        validate::task_description(&new.task_description)?;
        validate::context(&new.context)?;
        validate::metadata(&new.metadata)?;
        let mut episode = Episode::new(new.task_description, new.task_type, new.context);
        episode.metadata = new.metadata;
        episode.scope = new.scope;
        self.store.insert_episode(&episode).await?;
        Ok(episode.id)
    }

    /// Validates and appends a step to an in-progress episode; returns its step number.
    pub async fn log_step(&self, id: EpisodeId, step: ExecutionStep) -> Result<u32> {
        validate::step(&step)?;
        let appended = self.store.append_step(id, &step).await?;
        Ok(appended.step_number)
    }

    /// Completes an episode: computes its reward and reflection and stores them with the outcome atomically.
    /// Returns the completed episode.
    pub async fn complete_episode(&self, id: EpisodeId, outcome: TaskOutcome) -> Result<Episode> {
        validate::outcome(&outcome)?;
        let mut last_conflict = None;
        for _ in 0..COMPLETE_ATTEMPTS {
            let mut episode = self.get_episode(id).await?;
            if episode.is_completed() {
                return Err(Error::AlreadyCompleted { id: id.to_string() });
            }
            let end_time = Timestamp::now().max(episode.start_time);
            episode.reward = Some(reward::compute(&episode, &outcome, end_time));
            episode.reflection = Some(reflection::reflect(&episode, &outcome, end_time));
            episode.outcome = Some(outcome.clone());
            episode.end_time = Some(end_time);
            match self.store.complete_episode(&episode).await {
                Ok(_) => {
                    if let Some(queue) = &self.patterns {
                        queue.notify(id);
                    }
                    return Ok(episode);
                }
                Err(err @ Error::Conflict { .. }) => last_conflict = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last_conflict.unwrap_or_else(|| Error::Conflict { id: id.to_string() }))
    }

    /// Reads an episode with its steps; [`Error::NotFound`] if there is none.
    pub async fn get_episode(&self, id: EpisodeId) -> Result<Episode> {
        self.store
            .get_episode(id)
            .await?
            .map(|v| v.value)
            .ok_or_else(|| Error::episode_not_found(id))
    }

    /// Lists episodes, newest first.
    pub async fn list_episodes(&self, query: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        query.validate()?;
        self.store.list_episodes(query).await
    }

    /// Deletes an episode; [`Error::NotFound`] if there is none.
    pub async fn delete_episode(&self, id: EpisodeId) -> Result<()> {
        match self.store.delete_episode(id).await? {
            Some(_) => Ok(()),
            None => Err(Error::episode_not_found(id)),
        }
    }

    /// Makes every write durable and releases the store.
    pub async fn close(&self) -> Result<()> {
        self.store.close().await
    }
}
