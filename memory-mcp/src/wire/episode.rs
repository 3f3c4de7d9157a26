//! Arguments of the episode tools, the small results they return, and the enums they share with episodes.

use memory_core::{
    EpisodeId, EpisodeQuery, Error, ExecutionStep, Json, NewEpisode, StepResult, TaskContext,
    TaskOutcome,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EpisodeSummaryOut, Object, mirror, parse_time};

mirror! {
    /// What kind of work a task is.
    #[derive(Default)]
    TaskType = memory_core::TaskType {
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
        #[default]
        Other,
    }
}

mirror! {
    /// How hard a task is expected to be; sets the step and time baselines its reward is measured against
    /// (simple 5 steps / 2 min, moderate 10 / 10 min, complex 20 / 30 min).
    #[derive(Default)]
    Complexity = memory_core::Complexity {
        /// A small, local change.
        Simple,
        /// The usual task.
        #[default]
        Moderate,
        /// Many files, unknown territory or a hard bug.
        Complex,
    }
}

mirror! {
    /// How an episode ended.
    OutcomeKind = memory_core::OutcomeKind {
        /// Done.
        Success,
        /// Partly done.
        PartialSuccess,
        /// Not done.
        Failure,
        /// Deliberately not attempted (unsafe, out of scope, needs a human).
        Abstained,
    }
}

/// How a step ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It did what it was meant to.
    #[default]
    Success,
    /// It failed.
    Error,
    /// It ran out of time.
    Timeout,
}

/// Whether an episode is still being worked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeStatus {
    /// Steps are still being added.
    InProgress,
    /// Its outcome is recorded.
    Completed,
}

/// Parses an episode id argument.
pub fn episode_id(text: &str) -> Result<EpisodeId, Error> {
    text.parse()
}

/// Arguments of `create_episode`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEpisode {
    /// What you were asked to do, in a sentence or two (at most 10 KiB), worded as someone would search for it
    /// later.
    pub task_description: String,
    /// The area of work: the service, package or repository, e.g. "payments-service" (at most 256 bytes).
    pub domain: String,
    /// The kind of work [default: other].
    #[serde(default)]
    pub task_type: TaskType,
    /// The programming language, e.g. "rust".
    pub language: Option<String>,
    /// The main framework or library, e.g. "tokio".
    pub framework: Option<String>,
    /// How hard the task looks [default: moderate].
    #[serde(default)]
    pub complexity: Complexity,
    /// Up to 50 tags of 1-50 letters, digits, '-', '_' or '.', e.g. ["flaky-test"].
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free metadata, a JSON object (at most 64 KiB).
    pub metadata: Option<Object>,
}

impl CreateEpisode {
    /// The new episode this describes.
    pub fn into_new(self) -> NewEpisode {
        let context = TaskContext {
            domain: self.domain,
            language: self.language,
            framework: self.framework,
            complexity: self.complexity.into(),
            tags: self.tags,
        };
        let mut new = NewEpisode::new(self.task_description, self.task_type.into(), context);
        if let Some(metadata) = self.metadata {
            new.metadata = Json::new(&Value::Object(metadata));
        }
        new
    }
}

/// Result of `create_episode`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodeCreated {
    /// The new episode's id: pass it to add_episode_step and complete_episode.
    pub episode_id: String,
}

/// Arguments of `add_episode_step`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEpisodeStep {
    /// The id create_episode returned.
    pub episode_id: String,
    /// The tool used, e.g. "cargo", "edit_file", "bash" (at most 256 bytes).
    pub tool: String,
    /// What was done with it, e.g. "test -p payments" or a file path (at most 256 bytes).
    #[serde(default)]
    pub action: String,
    /// The tool's parameters, as JSON (at most 64 KiB).
    pub parameters: Option<Value>,
    /// How the step ended [default: success].
    #[serde(default)]
    pub status: StepStatus,
    /// The step's output (trimmed or summarised), or its error or timeout message (at most 64 KiB).
    #[serde(default)]
    pub output: String,
    /// How long it took, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Tokens it cost, if known.
    pub tokens: Option<u64>,
}

impl AddEpisodeStep {
    /// The step this describes.
    pub fn step(&self) -> ExecutionStep {
        let output = self.output.clone();
        let result = match self.status {
            StepStatus::Success => StepResult::Success { output },
            StepStatus::Error => StepResult::Error { message: output },
            StepStatus::Timeout => StepResult::Timeout { message: output },
        };
        let mut step = ExecutionStep::new(self.tool.clone(), self.action.clone(), result);
        if let Some(parameters) = &self.parameters {
            step.parameters = Json::new(parameters);
        }
        step.latency_ms = self.latency_ms;
        step.tokens = self.tokens;
        step
    }
}

/// Result of `add_episode_step`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StepAdded {
    /// The episode.
    pub episode_id: String,
    /// The step's number in the episode, from 1.
    pub step_number: u32,
}

/// Arguments of `complete_episode`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteEpisode {
    /// The id create_episode returned.
    pub episode_id: String,
    /// How it ended: success and partial_success need `verdict`; failure and abstained need `reason`.
    pub outcome: OutcomeKind,
    /// One line on what was achieved (success, partial_success).
    pub verdict: Option<String>,
    /// Why it failed or was not attempted (failure, abstained).
    pub reason: Option<String>,
    /// Files, commits or other things produced (success).
    #[serde(default)]
    pub artifacts: Vec<String>,
    /// What was done (partial_success).
    #[serde(default)]
    pub completed: Vec<String>,
    /// What was not done (partial_success).
    #[serde(default)]
    pub failed: Vec<String>,
    /// Error output (failure).
    pub error_details: Option<String>,
}

impl CompleteEpisode {
    /// The outcome this describes; a field that does not belong to the outcome is refused rather than dropped.
    pub fn outcome(self) -> Result<TaskOutcome, Error> {
        use OutcomeKind::*;
        let outcome = self.outcome;
        let misplaced = [
            (
                "verdict",
                self.verdict.is_some(),
                &[Success, PartialSuccess][..],
            ),
            ("reason", self.reason.is_some(), &[Failure, Abstained][..]),
            ("artifacts", !self.artifacts.is_empty(), &[Success][..]),
            (
                "completed",
                !self.completed.is_empty(),
                &[PartialSuccess][..],
            ),
            ("failed", !self.failed.is_empty(), &[PartialSuccess][..]),
            (
                "error_details",
                self.error_details.is_some(),
                &[Failure][..],
            ),
        ];
        let name = |kind: OutcomeKind| memory_core::OutcomeKind::from(kind).as_str();
        if let Some((field, _, allowed)) = misplaced
            .iter()
            .find(|(_, given, allowed)| *given && !allowed.contains(&outcome))
        {
            let allowed: Vec<&str> = allowed.iter().map(|k| name(*k)).collect();
            return Err(Error::validation(
                *field,
                format!(
                    "does not apply to outcome {}; it is for {}",
                    name(outcome),
                    allowed.join(" and ")
                ),
            ));
        }
        let required = |field: &str, value: Option<String>| match value {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(Error::validation(
                field,
                format!("is required for outcome {}", name(outcome)),
            )),
        };
        Ok(match outcome {
            Success => TaskOutcome::Success {
                verdict: required("verdict", self.verdict)?,
                artifacts: self.artifacts,
            },
            PartialSuccess => TaskOutcome::PartialSuccess {
                verdict: required("verdict", self.verdict)?,
                completed: self.completed,
                failed: self.failed,
            },
            Failure => TaskOutcome::Failure {
                reason: required("reason", self.reason)?,
                error_details: self.error_details,
            },
            Abstained => TaskOutcome::Abstained {
                reason: required("reason", self.reason)?,
            },
        })
    }
}

/// Arguments naming one episode.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EpisodeRef {
    /// The episode's id (a UUID).
    pub episode_id: String,
}

/// Arguments of `list_episodes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEpisodes {
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this kind of work.
    pub task_type: Option<TaskType>,
    /// Only episodes with one of these tags (all of them with `all_tags`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether an episode must carry every tag of `tags` [default: false].
    #[serde(default)]
    pub all_tags: bool,
    /// Only episodes that ended this way.
    pub outcome: Option<OutcomeKind>,
    /// Only completed or only in-progress episodes.
    pub status: Option<EpisodeStatus>,
    /// Only episodes started at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    pub since: Option<String>,
    /// Only episodes started before this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    pub until: Option<String>,
    /// Most episodes to return, 1 to 1000 [default: 20].
    #[serde(default = "default_list_limit")]
    pub limit: u32,
    /// Episodes to skip, for the next page [default: 0].
    #[serde(default)]
    pub offset: u32,
}

fn default_list_limit() -> u32 {
    20
}

impl ListEpisodes {
    /// The query this describes.
    pub fn query(self) -> Result<EpisodeQuery, Error> {
        let since = self.since.map(|t| parse_time("since", &t)).transpose()?;
        let until = self.until.map(|t| parse_time("until", &t)).transpose()?;
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(Error::validation(
                "since",
                format!("must be before `until` ({since} is not before {until})"),
            ));
        }
        Ok(EpisodeQuery {
            domain: self.domain,
            task_type: self.task_type.map(Into::into),
            tags: memory_core::Tags {
                tags: self.tags,
                all: self.all_tags,
            },
            outcome: self.outcome.map(Into::into),
            completed: self.status.map(|s| s == EpisodeStatus::Completed),
            started_after: since,
            started_before: until,
            scope: None,
            offset: self.offset,
            limit: self.limit,
        })
    }
}

/// Result of `list_episodes`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodeList {
    /// Newest first.
    pub episodes: Vec<EpisodeSummaryOut>,
    /// The offset of the next page, when this page was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}

/// Result of `delete_episode`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodeDeleted {
    /// The episode that was deleted, with its steps.
    pub episode_id: String,
    /// Always true: deleting an episode that does not exist is an error.
    pub deleted: bool,
}
