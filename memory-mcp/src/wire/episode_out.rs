//! Episodes as the tools return them.

use memory_core::{
    Episode, EpisodeSummary, ExecutionStep, Reflection, RewardScore, StepResult, TaskContext,
    TaskOutcome,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Complexity, EpisodeStatus, OutcomeKind, StepStatus, TaskType, time};

/// Where the work happened.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContextOut {
    /// The area of work.
    pub domain: String,
    /// The programming language.
    pub language: Option<String>,
    /// The framework or library.
    pub framework: Option<String>,
    /// How hard the task was expected to be.
    pub complexity: Complexity,
    /// Tags.
    pub tags: Vec<String>,
}

impl From<&TaskContext> for ContextOut {
    fn from(c: &TaskContext) -> Self {
        ContextOut {
            domain: c.domain.clone(),
            language: c.language.clone(),
            framework: c.framework.clone(),
            complexity: c.complexity.into(),
            tags: c.tags.clone(),
        }
    }
}

/// One step of an episode.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StepOut {
    /// Its number, from 1.
    pub step_number: u32,
    /// When it was logged.
    pub timestamp: String,
    /// The tool used.
    pub tool: String,
    /// What was done with it.
    pub action: String,
    /// The tool's parameters.
    pub parameters: Value,
    /// How it ended.
    pub status: StepStatus,
    /// Its output, or its error or timeout message.
    pub output: String,
    /// Milliseconds it took.
    pub latency_ms: u64,
    /// Tokens it cost, if known.
    pub tokens: Option<u64>,
}

impl From<&ExecutionStep> for StepOut {
    fn from(s: &ExecutionStep) -> Self {
        let status = match s.result {
            StepResult::Success { .. } => StepStatus::Success,
            StepResult::Error { .. } => StepStatus::Error,
            StepResult::Timeout { .. } => StepStatus::Timeout,
        };
        StepOut {
            step_number: s.step_number,
            timestamp: time(s.timestamp),
            tool: s.tool.clone(),
            action: s.action.clone(),
            parameters: s.parameters.value(),
            status,
            output: s.result.text().to_string(),
            latency_ms: s.latency_ms,
            tokens: s.tokens,
        }
    }
}

/// How an episode ended, with the details its kind has.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OutcomeOut {
    /// The kind of ending.
    pub kind: OutcomeKind,
    /// What was achieved (success, partial_success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Why it failed or was not attempted (failure, abstained).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Things produced (success).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// What was done (partial_success).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub completed: Vec<String>,
    /// What was not done (partial_success).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// Error output (failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
}

impl From<&TaskOutcome> for OutcomeOut {
    fn from(o: &TaskOutcome) -> Self {
        let mut out = OutcomeOut {
            kind: o.kind().into(),
            verdict: None,
            reason: None,
            artifacts: Vec::new(),
            completed: Vec::new(),
            failed: Vec::new(),
            error_details: None,
        };
        match o.clone() {
            TaskOutcome::Success { verdict, artifacts } => {
                out.verdict = Some(verdict);
                out.artifacts = artifacts;
            }
            TaskOutcome::PartialSuccess {
                verdict,
                completed,
                failed,
            } => {
                out.verdict = Some(verdict);
                out.completed = completed;
                out.failed = failed;
            }
            TaskOutcome::Failure {
                reason,
                error_details,
            } => {
                out.reason = Some(reason);
                out.error_details = error_details;
            }
            TaskOutcome::Abstained { reason } => out.reason = Some(reason),
        }
        out
    }
}

/// The reward computed when the episode was completed: `total = clamp(base × efficiency × complexity_factor,
/// 0, 1.5)`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RewardOut {
    /// The reward, 0 to 1.5.
    pub total: f64,
    /// 1 for success, 0.3 + 0.5 × the share done for partial success, 0.2 for abstaining, 0 for failure.
    pub base: f64,
    /// The geometric mean of step and time efficiency, 0.5 to 1.25.
    pub efficiency: f64,
    /// Steps against the complexity's baseline, 0.5 to 1.25.
    pub step_efficiency: f64,
    /// Time against the complexity's baseline, 0.5 to 1.25.
    pub time_efficiency: f64,
    /// 1.0, 1.1 or 1.2 for simple, moderate or complex.
    pub complexity_factor: f64,
}

impl From<&RewardScore> for RewardOut {
    fn from(r: &RewardScore) -> Self {
        RewardOut {
            total: r.total,
            base: r.base,
            efficiency: r.efficiency,
            step_efficiency: r.step_efficiency,
            time_efficiency: r.time_efficiency,
            complexity_factor: r.complexity_factor,
        }
    }
}

/// What completing the episode concluded: the lessons to carry to the next task.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReflectionOut {
    /// What worked.
    pub successes: Vec<String>,
    /// What to do better.
    pub improvements: Vec<String>,
    /// Other observations.
    pub insights: Vec<String>,
}

impl From<&Reflection> for ReflectionOut {
    fn from(r: &Reflection) -> Self {
        ReflectionOut {
            successes: r.successes.clone(),
            improvements: r.improvements.clone(),
            insights: r.insights.clone(),
        }
    }
}

/// A whole episode.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodeOut {
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
    /// When it was completed.
    pub end_time: Option<String>,
    /// The steps, in order.
    pub steps: Vec<StepOut>,
    /// How it ended, once completed.
    pub outcome: Option<OutcomeOut>,
    /// Its reward, once completed.
    pub reward: Option<RewardOut>,
    /// Its lessons, once completed.
    pub reflection: Option<ReflectionOut>,
    /// Free metadata.
    pub metadata: Value,
}

impl From<&Episode> for EpisodeOut {
    fn from(e: &Episode) -> Self {
        EpisodeOut {
            episode_id: e.id.to_string(),
            task_description: e.task_description.clone(),
            task_type: e.task_type.into(),
            context: (&e.context).into(),
            status: status(e.end_time.is_some()),
            start_time: time(e.start_time),
            end_time: e.end_time.map(time),
            steps: e.steps.iter().map(StepOut::from).collect(),
            outcome: e.outcome.as_ref().map(OutcomeOut::from),
            reward: e.reward.as_ref().map(RewardOut::from),
            reflection: e.reflection.as_ref().map(ReflectionOut::from),
            metadata: e.metadata.value(),
        }
    }
}

fn status(completed: bool) -> EpisodeStatus {
    if completed {
        EpisodeStatus::Completed
    } else {
        EpisodeStatus::InProgress
    }
}

/// An episode without its steps.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodeSummaryOut {
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
    /// When it was completed.
    pub end_time: Option<String>,
    /// How it ended, once completed.
    pub outcome: Option<OutcomeKind>,
    /// Its reward, once completed.
    pub reward: Option<f64>,
    /// How many steps it has.
    pub step_count: u32,
}

impl From<&EpisodeSummary> for EpisodeSummaryOut {
    fn from(s: &EpisodeSummary) -> Self {
        EpisodeSummaryOut {
            episode_id: s.id.to_string(),
            task_description: s.task_description.clone(),
            task_type: s.task_type.into(),
            context: (&s.context).into(),
            status: status(s.end_time.is_some()),
            start_time: time(s.start_time),
            end_time: s.end_time.map(time),
            outcome: s.outcome.map(Into::into),
            reward: s.reward,
            step_count: s.step_count,
        }
    }
}
