//! Arguments and results of `query_memory` and `health_check`.

use memory_core::{Episode, Found, Hit, QueryContext, Scope, Search, context::Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ContextOut, EpisodeStatus, HeuristicOut, MemoryOut, OutcomeKind, OutcomeOut, PatternOut,
    Ranking, RecordKind, ReflectionOut, ScoreOut, TaskType, default_search_limit, time,
};

/// Arguments of `query_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryMemory {
    /// What you are about to do or want to know, in plain words, e.g. "fix the flaky settlement test in
    /// payments-service".
    pub query: String,
    /// The scope whose memories are searched [default: the server's scope]. Episodes belong to no scope and are
    /// searched whatever it is.
    pub scope: Option<String>,
    /// Most results, 1 to 100 [default: 10].
    #[serde(default = "default_search_limit")]
    pub limit: u32,
    /// How to rank [default: hybrid].
    #[serde(default)]
    pub ranking: Ranking,
    /// Whether past episodes are searched as well as memories [default: true].
    #[serde(default = "yes")]
    pub include_episodes: bool,
    /// Only memories of this kind (episodes are then left out).
    pub kind: Option<RecordKind>,
    /// Only results carrying this tag.
    pub tag: Option<String>,
    /// Only episodes of this domain (memories are then left out).
    pub domain: Option<String>,
    /// Only episodes of this kind of work (memories are then left out).
    pub task_type: Option<TaskType>,
    /// Only episodes that ended this way (memories are then left out).
    pub outcome: Option<OutcomeKind>,
    /// The task the results are for: results that share its domain, language, framework or tags rank a little
    /// higher.
    pub context: Option<QueryContextArg>,
    /// When given, the results are also returned as one text block of at most this many tokens (cl100k, 1 to
    /// 1,000,000), best first, whole results only, ready to read as context.
    pub budget_tokens: Option<usize>,
}

fn yes() -> bool {
    true
}

/// The task a query is for.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryContextArg {
    /// The area of work, e.g. "payments-service".
    pub domain: Option<String>,
    /// The programming language.
    pub language: Option<String>,
    /// The framework or library.
    pub framework: Option<String>,
    /// Tags of the task.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl QueryMemory {
    /// The search this describes, in `scope`.
    pub fn search(&self, scope: Scope) -> Search {
        let context = self
            .context
            .as_ref()
            .map_or_else(QueryContext::default, |c| QueryContext {
                domain: c.domain.clone(),
                language: c.language.clone(),
                framework: c.framework.clone(),
                tags: c.tags.clone(),
            });
        Search {
            limit: self.limit,
            ranking: self.ranking.into(),
            episodes: self.include_episodes,
            kind: self.kind.map(Into::into),
            tag: self.tag.clone(),
            domain: self.domain.clone(),
            task_type: self.task_type.map(Into::into),
            outcome: self.outcome.map(Into::into),
            context,
            ..Search::new(scope, self.query.clone())
        }
    }
}

/// What a query result is.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitType {
    /// A past episode: read its outcome and reflection; get_episode has its steps.
    Episode,
    /// A stored memory.
    Memory,
    /// A pattern learnt from past episodes (searched with the episodes): a condition, an action and its record.
    Pattern,
}

/// A past episode as a query returns it: how it went and what was learnt, without its steps.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodeHitOut {
    /// Its id.
    pub episode_id: String,
    /// What the agent was asked to do.
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where it happened.
    pub context: ContextOut,
    /// Whether it is still being worked on.
    pub status: EpisodeStatus,
    /// When it started.
    pub start_time: String,
    /// How it ended, once completed.
    pub outcome: Option<OutcomeOut>,
    /// Its reward (0 to 1.5), once completed.
    pub reward: Option<f64>,
    /// Its lessons, once completed.
    pub reflection: Option<ReflectionOut>,
    /// How many steps it took.
    pub step_count: u32,
}

impl From<&Episode> for EpisodeHitOut {
    fn from(e: &Episode) -> Self {
        EpisodeHitOut {
            episode_id: e.id.to_string(),
            task_description: e.task_description.clone(),
            task_type: e.task_type.into(),
            context: (&e.context).into(),
            status: if e.end_time.is_some() {
                EpisodeStatus::Completed
            } else {
                EpisodeStatus::InProgress
            },
            start_time: time(e.start_time),
            outcome: e.outcome.as_ref().map(OutcomeOut::from),
            reward: e.reward.as_ref().map(|r| r.total),
            reflection: e.reflection.as_ref().map(ReflectionOut::from),
            step_count: u32::try_from(e.steps.len()).unwrap_or(u32::MAX),
        }
    }
}

/// One result of `query_memory`: an episode or a memory, with its score.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryHit {
    /// Which of `episode`, `memory` and `pattern` is present.
    #[serde(rename = "type")]
    pub hit_type: HitType,
    /// The episode's, the memory's or the pattern's id.
    pub id: String,
    /// Why it ranked here.
    pub score: ScoreOut,
    /// The episode, when `type` is episode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<EpisodeHitOut>,
    /// The memory, when `type` is memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryOut>,
    /// The pattern, when `type` is pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternOut>,
    /// The pattern's rule, when `type` is pattern and it recurred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heuristic: Option<HeuristicOut>,
}

impl From<&Hit> for QueryHit {
    fn from(hit: &Hit) -> Self {
        let score = (&hit.score).into();
        match &hit.found {
            Found::Episode { episode } => QueryHit {
                hit_type: HitType::Episode,
                id: episode.id.to_string(),
                score,
                episode: Some(episode.as_ref().into()),
                memory: None,
                pattern: None,
                heuristic: None,
            },
            Found::Memory { record } => QueryHit {
                hit_type: HitType::Memory,
                id: record.id.to_string(),
                score,
                episode: None,
                memory: Some(record.as_ref().into()),
                pattern: None,
                heuristic: None,
            },
            Found::Pattern { pattern, heuristic } => QueryHit {
                hit_type: HitType::Pattern,
                id: pattern.id.to_string(),
                score,
                episode: None,
                memory: None,
                pattern: Some(pattern.as_ref().into()),
                heuristic: heuristic.as_ref().map(HeuristicOut::from),
            },
        }
    }
}

/// The results as one block of text that fits a token budget.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContextBlock {
    /// The block: `<episode …>` and `<memory …>` elements, best first, and a note of what did not fit.
    pub text: String,
    /// Its size in cl100k tokens.
    pub tokens: usize,
    /// The budget it was built for.
    pub budget: usize,
    /// Ids of the results in the block, in rank order.
    pub included: Vec<String>,
    /// Ids of the results that did not fit, in rank order.
    pub omitted: Vec<String>,
}

impl From<Context> for ContextBlock {
    fn from(c: Context) -> Self {
        ContextBlock {
            text: c.text,
            tokens: c.tokens,
            budget: c.budget,
            included: c.included,
            omitted: c.omitted,
        }
    }
}

/// Result of `query_memory`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResults {
    /// Best first.
    pub results: Vec<QueryHit>,
    /// The results as a token-budgeted block, when `budget_tokens` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextBlock>,
}

/// Overall health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Everything answers.
    Ok,
    /// The database does not answer, or the search index could not be loaded.
    Degraded,
}

/// The state of the search index the server loads at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IndexStatus {
    /// Still loading: the first query waits for it.
    Loading,
    /// Loaded.
    Ready,
    /// Loading failed (the server's log says why); queries retry it.
    Failed,
}

/// The database's state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabaseHealth {
    /// `local` (an embedded libSQL file) or `remote` (a libSQL server).
    pub backend: String,
    /// Whether it answered a read just now.
    pub reachable: bool,
    /// Why it did not, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The embedder in use.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EmbedderHealth {
    /// Its id, e.g. `lexical-v1-384` or `bert:all-MiniLM-L6-v2:384`.
    pub id: String,
    /// Its vectors' length.
    pub dimension: usize,
}

/// Result of `health_check`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthOut {
    /// ok, or degraded when something below is wrong.
    pub status: HealthStatus,
    /// This server's name and version.
    pub server: String,
    /// The database.
    pub database: DatabaseHealth,
    /// The embedder.
    pub embedder: EmbedderHealth,
    /// The search index of the server's scope and the episodes.
    pub index: IndexStatus,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
}
