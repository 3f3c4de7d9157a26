//! The episode: one task an agent worked on, the steps it took and how it ended.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Json, Scope, Timestamp};

/// Version of the persisted layout of [`Episode`] and the types inside it.
///
/// Stores write it beside every record and refuse (or, for caches, drop) records of another version.
pub const RECORD_VERSION: u8 = 1;

/// Identifies an episode. UUID v7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EpisodeId(pub Uuid);

impl EpisodeId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        EpisodeId(Uuid::now_v7())
    }

    /// The 16 bytes of the UUID.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl Default for EpisodeId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EpisodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for EpisodeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Uuid::parse_str(s.trim())
            .map(EpisodeId)
            .map_err(|_| Error::InvalidId {
                kind: "episode",
                input: s.to_string(),
            })
    }
}

/// What kind of work the task was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// Writing new code.
    CodeGeneration,
    /// Finding and fixing a defect.
    Debugging,
    /// Restructuring code without changing behaviour.
    Refactoring,
    /// Writing or fixing tests.
    Testing,
    /// Reading and explaining code or data.
    Analysis,
    /// Writing documentation.
    Documentation,
    /// Reviewing someone else's change.
    Review,
    /// Anything else.
    Other,
}

impl TaskType {
    /// Every task type, in declaration order.
    pub const ALL: [TaskType; 8] = [
        TaskType::CodeGeneration,
        TaskType::Debugging,
        TaskType::Refactoring,
        TaskType::Testing,
        TaskType::Analysis,
        TaskType::Documentation,
        TaskType::Review,
        TaskType::Other,
    ];

    /// The snake_case name used in JSON, SQL and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::CodeGeneration => "code_generation",
            TaskType::Debugging => "debugging",
            TaskType::Refactoring => "refactoring",
            TaskType::Testing => "testing",
            TaskType::Analysis => "analysis",
            TaskType::Documentation => "documentation",
            TaskType::Review => "review",
            TaskType::Other => "other",
        }
    }
}

/// How hard the task is expected to be; sets the baselines the reward compares against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    /// A small, local change.
    Simple,
    /// The usual task.
    #[default]
    Moderate,
    /// Many files, unknown territory or a hard bug.
    Complex,
}

impl Complexity {
    /// Every complexity, in declaration order.
    pub const ALL: [Complexity; 3] = [
        Complexity::Simple,
        Complexity::Moderate,
        Complexity::Complex,
    ];

    /// The snake_case name used in JSON, SQL and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Moderate => "moderate",
            Complexity::Complex => "complex",
        }
    }
}

macro_rules! parse_by_name {
    ($ty:ty, $what:literal) => {
        impl std::str::FromStr for $ty {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s.trim().to_ascii_lowercase().replace('-', "_"))
                    .ok_or_else(|| {
                        let names: Vec<_> = <$ty>::ALL.iter().map(|v| v.as_str()).collect();
                        Error::validation(
                            $what,
                            format!(
                                "{} is not one of {}",
                                crate::validate::quoted(s),
                                names.join(", ")
                            ),
                        )
                    })
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use parse_by_name;

parse_by_name!(TaskType, "task_type");
parse_by_name!(Complexity, "complexity");

/// Where the task happened: what an agent matches on when it looks for similar experience.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskContext {
    /// The area of work, e.g. `payments-service` or `web`.
    pub domain: String,
    /// Programming language, e.g. `rust`.
    pub language: Option<String>,
    /// Framework or library, e.g. `tokio`.
    pub framework: Option<String>,
    /// Expected difficulty.
    pub complexity: Complexity,
    /// Free tags: alphanumeric, `-`, `_` and `.`, at most 50 of at most 50 characters.
    pub tags: Vec<String>,
}

/// How one step ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    /// The step did what it was meant to.
    Success {
        /// What it produced (trimmed output, a summary).
        output: String,
    },
    /// The step failed.
    Error {
        /// The error message.
        message: String,
    },
    /// The step ran out of time.
    Timeout {
        /// What was known when it was cut off.
        message: String,
    },
}

impl StepResult {
    /// True for [`StepResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, StepResult::Success { .. })
    }

    /// `success`, `error` or `timeout`.
    pub fn kind(&self) -> &'static str {
        match self {
            StepResult::Success { .. } => "success",
            StepResult::Error { .. } => "error",
            StepResult::Timeout { .. } => "timeout",
        }
    }

    /// The output or message text.
    pub fn text(&self) -> &str {
        match self {
            StepResult::Success { output } => output,
            StepResult::Error { message } | StepResult::Timeout { message } => message,
        }
    }

    /// Builds a result from its kind name and text, as stored in SQL.
    pub fn from_parts(kind: &str, text: String) -> Option<Self> {
        match kind {
            "success" => Some(StepResult::Success { output: text }),
            "error" => Some(StepResult::Error { message: text }),
            "timeout" => Some(StepResult::Timeout { message: text }),
            _ => None,
        }
    }
}

/// One action an agent took: a tool call with its parameters and result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStep {
    /// 1-based position in the episode, assigned by the store.
    pub step_number: u32,
    /// When the step was logged.
    pub timestamp: Timestamp,
    /// The tool used, e.g. `cargo` or `read_file`.
    pub tool: String,
    /// What was done with it, e.g. `test --package payments`.
    pub action: String,
    /// The tool's parameters as JSON (at most 64 KiB encoded).
    pub parameters: Json,
    /// How it ended (its text at most 64 KiB).
    pub result: StepResult,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// Tokens it cost, when known.
    pub tokens: Option<u64>,
}

impl ExecutionStep {
    /// A step with empty parameters, a successful empty result and no cost; set the fields you know.
    pub fn new(tool: impl Into<String>, action: impl Into<String>, result: StepResult) -> Self {
        ExecutionStep {
            step_number: 0,
            timestamp: Timestamp::now(),
            tool: tool.into(),
            action: action.into(),
            parameters: Json::empty_object(),
            result,
            latency_ms: 0,
            tokens: None,
        }
    }
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Done.
    Success {
        /// One line on what was achieved.
        verdict: String,
        /// Files, commits or other things produced.
        artifacts: Vec<String>,
    },
    /// Some of it was done.
    PartialSuccess {
        /// One line on the state it was left in.
        verdict: String,
        /// What was done.
        completed: Vec<String>,
        /// What was not.
        failed: Vec<String>,
    },
    /// Not done.
    Failure {
        /// Why.
        reason: String,
        /// Error output, if any.
        error_details: Option<String>,
    },
    /// The agent chose not to do it (unsafe, out of scope, needs a human).
    Abstained {
        /// Why.
        reason: String,
    },
}

/// The kind of a [`TaskOutcome`], without its details; used in filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// [`TaskOutcome::Success`].
    Success,
    /// [`TaskOutcome::PartialSuccess`].
    PartialSuccess,
    /// [`TaskOutcome::Failure`].
    Failure,
    /// [`TaskOutcome::Abstained`].
    Abstained,
}

impl OutcomeKind {
    /// Every outcome kind, in declaration order.
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::Success,
        OutcomeKind::PartialSuccess,
        OutcomeKind::Failure,
        OutcomeKind::Abstained,
    ];

    /// The snake_case name used in JSON, SQL and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::PartialSuccess => "partial_success",
            OutcomeKind::Failure => "failure",
            OutcomeKind::Abstained => "abstained",
        }
    }
}

parse_by_name!(OutcomeKind, "outcome");

impl TaskOutcome {
    /// The outcome's kind.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            TaskOutcome::Success { .. } => OutcomeKind::Success,
            TaskOutcome::PartialSuccess { .. } => OutcomeKind::PartialSuccess,
            TaskOutcome::Failure { .. } => OutcomeKind::Failure,
            TaskOutcome::Abstained { .. } => OutcomeKind::Abstained,
        }
    }
}

/// The reward of a completed episode, with every component that went into it (see [`crate::reward`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardScore {
    /// `base × efficiency × complexity_factor`, clamped to `[0, 1.5]`.
    pub total: f64,
    /// From the outcome alone.
    pub base: f64,
    /// Geometric mean of the step and time efficiencies.
    pub efficiency: f64,
    /// Step baseline over steps taken, clamped.
    pub step_efficiency: f64,
    /// Time baseline over time taken, clamped.
    pub time_efficiency: f64,
    /// Bonus for harder tasks.
    pub complexity_factor: f64,
}

/// What the episode teaches, derived by rules from its steps and outcome (see [`crate::reflection`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reflection {
    /// What worked.
    pub successes: Vec<String>,
    /// What to do better next time.
    pub improvements: Vec<String>,
    /// Observations worth carrying to other tasks.
    pub insights: Vec<String>,
}

/// One task an agent worked on, from start to outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Its id.
    pub id: EpisodeId,
    /// What the agent was asked to do (at most 10 KiB).
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where it happened.
    pub context: TaskContext,
    /// When it started.
    pub start_time: Timestamp,
    /// When it was completed; `None` while in progress.
    pub end_time: Option<Timestamp>,
    /// The steps, in order, numbered from 1.
    pub steps: Vec<ExecutionStep>,
    /// How it ended.
    pub outcome: Option<TaskOutcome>,
    /// The reward computed at completion.
    pub reward: Option<RewardScore>,
    /// The reflection computed at completion.
    pub reflection: Option<Reflection>,
    /// Free JSON metadata (an object, at most 64 KiB encoded).
    pub metadata: Json,
    /// The scope it was recorded in, for a tenant of a shared server: only that scope's callers see it, and its
    /// patterns are learnt apart. `None` (the default) for the store's own episodes, which unconfined callers
    /// (the CLI, stdio, the server's admin key) see with every other.
    pub scope: Option<Scope>,
}

impl Episode {
    /// A new, in-progress episode starting now.
    pub fn new(
        task_description: impl Into<String>,
        task_type: TaskType,
        context: TaskContext,
    ) -> Self {
        Episode {
            id: EpisodeId::new(),
            task_description: task_description.into(),
            task_type,
            context,
            start_time: Timestamp::now(),
            end_time: None,
            steps: Vec::new(),
            outcome: None,
            reward: None,
            reflection: None,
            metadata: Json::empty_object(),
            scope: None,
        }
    }

    /// True once an outcome has been recorded.
    pub fn is_completed(&self) -> bool {
        self.end_time.is_some()
    }

    /// A listing row for this episode.
    pub fn summary(&self) -> EpisodeSummary {
        EpisodeSummary {
            id: self.id,
            task_description: self.task_description.clone(),
            task_type: self.task_type,
            context: self.context.clone(),
            start_time: self.start_time,
            end_time: self.end_time,
            outcome: self.outcome.as_ref().map(TaskOutcome::kind),
            reward: self.reward.as_ref().map(|r| r.total),
            step_count: u32::try_from(self.steps.len()).unwrap_or(u32::MAX),
            scope: self.scope.clone(),
        }
    }
}

/// An episode without its steps, as listings return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    /// Its id.
    pub id: EpisodeId,
    /// What the agent was asked to do.
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where it happened.
    pub context: TaskContext,
    /// When it started.
    pub start_time: Timestamp,
    /// When it was completed.
    pub end_time: Option<Timestamp>,
    /// How it ended, if it has.
    pub outcome: Option<OutcomeKind>,
    /// The total reward, if completed.
    pub reward: Option<f64>,
    /// How many steps were logged.
    pub step_count: u32,
    /// The scope it was recorded in, if any.
    pub scope: Option<Scope>,
}
