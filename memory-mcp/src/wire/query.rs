//! Arguments and results of `query_memory` and `health_check`.

use memory_core::{
    Episode, Error, Found, Hit, QueryContext, Scope, Search, TaskOutcome, context::Context,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ContextOut, EpisodeStatus, HeuristicOut, MemoryOut, Narrowing, OutcomeKind, OutcomeOut,
    PatternOut, Ranking, RecordKind, ReflectionOut, ScoreOut, Sort, TaskType, default_search_limit,
    time,
};

/// Arguments of `query_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryMemory {
    /// What you are about to do or want to know, in plain words, e.g. "fix the flaky settlement test in
    /// payments-service". Empty or absent: the newest results that pass the filters ("what did we decide last
    /// week": `since` and `kind: decision`).
    #[serde(default)]
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
    /// Only results carrying one of these tags (all of them with `all_tags`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether a result must carry every tag of `tags` [default: false].
    #[serde(default)]
    pub all_tags: bool,
    /// Only results from this time on (a memory's storing, an episode's start; RFC 3339, or YYYY-MM-DD).
    pub since: Option<String>,
    /// Only results from before this time.
    pub until: Option<String>,
    /// Only results at least this important, 0 to 1 (a memory's importance; an episode counts 0.5).
    pub min_importance: Option<f64>,
    /// The order: relevance, or newest (the best results newest first) [default: relevance].
    #[serde(default)]
    pub sort: Sort,
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
    /// How much of each result to return [default: compact].
    #[serde(default)]
    pub detail: Detail,
}

/// How much of each result `query_memory` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// What is needed to decide: a summary line, how an episode went, why it ranked. The ids fetch the rest
    /// (get_episode, get_memory, the pattern tools).
    #[default]
    Compact,
    /// Every field of each result and every score component as well.
    Full,
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
    /// The search this describes, in `scope`, checked.
    pub fn search(&self, scope: Scope) -> Result<Search, Error> {
        let context = self
            .context
            .as_ref()
            .map_or_else(QueryContext::default, |c| QueryContext {
                domain: c.domain.clone(),
                language: c.language.clone(),
                framework: c.framework.clone(),
                tags: c.tags.clone(),
            });
        let narrowing = Narrowing {
            tags: self.tags.clone(),
            all_tags: self.all_tags,
            since: self.since.clone(),
            until: self.until.clone(),
            min_importance: self.min_importance,
            sort: self.sort,
        };
        narrowing.apply(Search {
            limit: self.limit,
            ranking: self.ranking.into(),
            episodes: self.include_episodes,
            kind: self.kind.map(Into::into),
            domain: self.domain.clone(),
            task_type: self.task_type.map(Into::into),
            outcome: self.outcome.map(Into::into),
            context,
            ..Search::new(scope, self.query.clone())
        })
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

/// The most characters of a text a compact result quotes.
const SUMMARY_CHARS: usize = 300;

/// `text` cut after `max` characters, with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// One result of `query_memory`: an episode, a memory or a pattern, with its score and why.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryHit {
    /// Which of `episode`, `memory` and `pattern` it is.
    #[serde(rename = "type")]
    pub hit_type: HitType,
    /// The episode's, the memory's or the pattern's id.
    pub id: String,
    /// What it ranked by; higher is better.
    pub score: f64,
    /// Why it ranked here, in one line.
    pub why: String,
    /// What it is, in a line: an episode's task and how it ended, a memory's text, a pattern's rule and record
    /// (cut at 300 characters).
    pub summary: String,
    /// How an episode ended, once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeKind>,
    /// An episode's reward (0 to 1.5), once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<f64>,
    /// An episode's main lessons: at most two lines of its reflection.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lessons: Vec<String>,
    /// Every score component (`detail: full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<ScoreOut>,
    /// The episode (`detail: full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<EpisodeHitOut>,
    /// The memory (`detail: full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryOut>,
    /// The pattern (`detail: full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternOut>,
    /// The pattern's rule, when it recurred (`detail: full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heuristic: Option<HeuristicOut>,
}

impl QueryHit {
    /// `hit` with as much as `detail` asks for.
    pub fn of(hit: &Hit, detail: Detail) -> Self {
        let full = detail == Detail::Full;
        let mut out = QueryHit {
            hit_type: HitType::Memory,
            id: String::new(),
            score: (hit.score.total * 1000.0).round() / 1000.0,
            why: hit.score.why(),
            summary: String::new(),
            outcome: None,
            reward: None,
            lessons: Vec::new(),
            components: full.then(|| (&hit.score).into()),
            episode: None,
            memory: None,
            pattern: None,
            heuristic: None,
        };
        match &hit.found {
            Found::Episode { episode: e } => {
                out.hit_type = HitType::Episode;
                out.id = e.id.to_string();
                out.summary = cut(&episode_summary(e), SUMMARY_CHARS);
                out.outcome = e.outcome.as_ref().map(|o| o.kind().into());
                out.reward = e.reward.as_ref().map(|r| (r.total * 100.0).round() / 100.0);
                out.lessons = lessons(e);
                out.episode = full.then(|| e.as_ref().into());
            }
            Found::Memory { record } => {
                out.id = record.id.to_string();
                out.summary = cut(
                    record.summary.as_deref().unwrap_or(&record.content),
                    SUMMARY_CHARS,
                );
                out.memory = full.then(|| record.as_ref().into());
            }
            Found::Pattern {
                pattern: p,
                heuristic,
            } => {
                out.hit_type = HitType::Pattern;
                out.id = p.id.to_string();
                let e = &p.effectiveness;
                let rule = format!(
                    "When {}, {} ({} of {} went well)",
                    p.condition,
                    p.action,
                    e.successes,
                    e.successes + e.failures
                );
                out.summary = cut(&rule, SUMMARY_CHARS);
                out.pattern = full.then(|| p.as_ref().into());
                out.heuristic = heuristic.as_ref().filter(|_| full).map(HeuristicOut::from);
            }
        }
        out
    }
}

/// An episode's task and how it ended, in a line.
fn episode_summary(e: &Episode) -> String {
    let task = cut(&e.task_description, 200);
    match &e.outcome {
        None => format!("{task} (in progress)"),
        Some(outcome) => {
            let said = match outcome {
                TaskOutcome::Success { verdict, .. }
                | TaskOutcome::PartialSuccess { verdict, .. } => verdict,
                TaskOutcome::Failure { reason, .. } | TaskOutcome::Abstained { reason } => reason,
            };
            format!("{task} → {}: {said}", outcome.kind().as_str())
        }
    }
}

/// Two lines of an episode's reflection: what worked first for one that went well, what to improve first
/// otherwise.
fn lessons(e: &Episode) -> Vec<String> {
    let Some(r) = &e.reflection else {
        return Vec::new();
    };
    let went_well = matches!(
        e.outcome,
        Some(TaskOutcome::Success { .. } | TaskOutcome::PartialSuccess { .. })
    );
    let (first, second) = if went_well {
        (&r.successes, &r.improvements)
    } else {
        (&r.improvements, &r.successes)
    };
    first
        .iter()
        .chain(second)
        .take(2)
        .map(|l| cut(l, 200))
        .collect()
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
    /// The engine `execute_code` runs programs in: `the built-in engine` or a module's path; absent when the
    /// server offers no `execute_code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_engine: Option<String>,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
}
