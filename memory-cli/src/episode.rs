//! The `episode` commands: their arguments, the checked [`Action`] each becomes, and running it on a [`Memory`].

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use memory_core::{
    Complexity, Episode, EpisodeId, EpisodeQuery, EpisodeSummary, ExecutionStep, Json, Memory,
    NewEpisode, OutcomeKind, Scope, StepResult, TaskContext, TaskOutcome, TaskType, Timestamp,
    validate,
};

/// `memory-cli episode ...`
#[derive(Debug, Subcommand)]
pub enum EpisodeCommand {
    /// Start an episode; prints its id.
    Start(StartArgs),
    /// Append a step (one tool call) to an in-progress episode.
    LogStep(LogStepArgs),
    /// Record how an episode ended; prints its reward and reflection.
    Complete(CompleteArgs),
    /// Print an episode with its steps.
    Show {
        /// The episode id.
        id: String,
    },
    /// List episodes, newest first.
    List(ListArgs),
    /// Delete an episode and its steps.
    Delete {
        /// The episode id.
        id: String,
    },
}

/// Arguments of `episode start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// What the agent was asked to do.
    #[arg(long)]
    task: String,
    /// The area of work, e.g. payments-service.
    #[arg(long)]
    domain: String,
    /// The kind of work: code_generation, debugging, refactoring, testing, analysis, documentation, review or
    /// other.
    #[arg(long = "type", value_name = "TASK_TYPE", default_value = "other", value_parser = |s: &str| s.parse::<TaskType>())]
    task_type: TaskType,
    /// Programming language, e.g. rust.
    #[arg(long)]
    language: Option<String>,
    /// Framework or library, e.g. tokio.
    #[arg(long)]
    framework: Option<String>,
    /// Expected difficulty: simple, moderate or complex [default: moderate].
    #[arg(long, value_parser = |s: &str| s.parse::<Complexity>())]
    complexity: Option<Complexity>,
    /// A tag (letters, digits, '-', '_', '.'); repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Free metadata, a JSON object.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
}

/// How a logged step ended.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum StepStatus {
    Success,
    Error,
    Timeout,
}

/// Arguments of `episode log-step`.
#[derive(Debug, Args)]
pub struct LogStepArgs {
    /// The episode id.
    id: String,
    /// The tool used, e.g. cargo or read_file.
    #[arg(long)]
    tool: String,
    /// What was done with it, e.g. "test -p payments".
    #[arg(long, default_value = "")]
    action: String,
    /// The tool's parameters, as JSON.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    params: String,
    /// How the step ended.
    #[arg(long, value_enum, default_value_t = StepStatus::Success)]
    status: StepStatus,
    /// The step's output, or its error or timeout message.
    #[arg(long, default_value = "")]
    output: String,
    /// How long it took, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Tokens it cost.
    #[arg(long, value_name = "N")]
    tokens: Option<u64>,
}

/// How an episode ended, as `episode complete --outcome` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CompleteOutcome {
    /// Done (needs --verdict).
    Success,
    /// Partly done (needs --verdict; list with --done and --not-done).
    Partial,
    /// Not done (needs --reason).
    Failure,
    /// Deliberately not attempted (needs --reason).
    Abstained,
}

/// Arguments of `episode complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The episode id.
    id: String,
    /// How it ended.
    #[arg(long, value_enum)]
    outcome: CompleteOutcome,
    /// One line on what was achieved (success, partial).
    #[arg(long)]
    verdict: Option<String>,
    /// Why it failed or was abstained from (failure, abstained).
    #[arg(long)]
    reason: Option<String>,
    /// A file, commit or other thing produced (success); repeat for more.
    #[arg(long = "artifact", value_name = "X")]
    artifacts: Vec<String>,
    /// Something that was done (partial); repeat for more.
    #[arg(long = "done", value_name = "X")]
    done: Vec<String>,
    /// Something that was not done (partial); repeat for more.
    #[arg(long = "not-done", value_name = "X")]
    not_done: Vec<String>,
    /// Error output (failure).
    #[arg(long)]
    error_details: Option<String>,
}

/// Whether to list completed or in-progress episodes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ListStatus {
    Completed,
    InProgress,
}

/// Arguments of `episode list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this domain.
    #[arg(long)]
    domain: Option<String>,
    /// Only this task type.
    #[arg(long = "type", value_name = "TASK_TYPE", value_parser = |s: &str| s.parse::<TaskType>())]
    task_type: Option<TaskType>,
    #[command(flatten)]
    tags: crate::records::TagsArg,
    /// Only episodes a tenant of the HTTP server recorded in this scope.
    #[arg(long, value_parser = |s: &str| Scope::new(s.trim()))]
    scope: Option<Scope>,
    /// Only episodes that ended this way: success, partial_success, failure or abstained.
    #[arg(long, value_parser = |s: &str| s.parse::<OutcomeKind>())]
    outcome: Option<OutcomeKind>,
    /// Only completed or only in-progress episodes.
    #[arg(long, value_enum)]
    status: Option<ListStatus>,
    /// Only episodes started at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only episodes started before this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Most rows to print (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u32,
    /// Rows to skip.
    #[arg(long, value_name = "N", default_value_t = 0)]
    offset: u32,
}

/// A request whose every argument has been parsed and checked; running it is the only step that touches the
/// store.
#[derive(Debug)]
pub enum Action {
    /// Start an episode.
    Start(NewEpisode),
    /// Append a step.
    LogStep(EpisodeId, ExecutionStep),
    /// Complete an episode.
    Complete(EpisodeId, TaskOutcome),
    /// Read an episode.
    Show(EpisodeId),
    /// List episodes.
    List(EpisodeQuery),
    /// Delete an episode.
    Delete(EpisodeId),
}

/// What an [`Action`] produced.
#[derive(Debug)]
pub enum Reply {
    /// The new episode's id.
    Started(EpisodeId),
    /// The step's number.
    Logged {
        /// The episode.
        id: EpisodeId,
        /// The number the store gave the step.
        step_number: u32,
    },
    /// The completed episode.
    Completed(Episode),
    /// The episode that was read.
    Shown(Episode),
    /// The listing.
    Listed(Vec<EpisodeSummary>),
    /// The id of the deleted episode.
    Deleted(EpisodeId),
}

impl EpisodeCommand {
    /// Parses and checks every argument, without touching the store.
    pub fn plan(self) -> anyhow::Result<Action> {
        Ok(match self {
            EpisodeCommand::Start(args) => Action::Start(args.plan()?),
            EpisodeCommand::LogStep(args) => {
                let id = parse_id(&args.id)?;
                Action::LogStep(id, args.plan()?)
            }
            EpisodeCommand::Complete(args) => {
                let id = parse_id(&args.id)?;
                Action::Complete(id, args.plan()?)
            }
            EpisodeCommand::Show { id } => Action::Show(parse_id(&id)?),
            EpisodeCommand::List(args) => Action::List(args.plan()?),
            EpisodeCommand::Delete { id } => Action::Delete(parse_id(&id)?),
        })
    }
}

impl Action {
    /// Whether the action writes (and so may create the store).
    pub fn writes(&self) -> bool {
        !matches!(self, Action::Show(_) | Action::List(_))
    }

    /// Runs the action through the [`Memory`] façade.
    pub async fn run(self, memory: &Memory) -> memory_core::Result<Reply> {
        Ok(match self {
            Action::Start(new) => Reply::Started(memory.start_episode(new).await?),
            Action::LogStep(id, step) => Reply::Logged {
                id,
                step_number: memory.log_step(id, step).await?,
            },
            Action::Complete(id, outcome) => {
                Reply::Completed(memory.complete_episode(id, outcome).await?)
            }
            Action::Show(id) => Reply::Shown(memory.get_episode(id).await?),
            Action::List(query) => Reply::Listed(memory.list_episodes(&query).await?),
            Action::Delete(id) => {
                memory.delete_episode(id).await?;
                Reply::Deleted(id)
            }
        })
    }
}

fn parse_id(text: &str) -> anyhow::Result<EpisodeId> {
    Ok(text.parse::<EpisodeId>()?)
}

fn parse_json(flag: &str, text: &str) -> anyhow::Result<Json> {
    Json::from_text(text).with_context(|| format!("invalid {flag}: not JSON"))
}

pub(crate) fn parse_date(flag: &str, text: &str) -> anyhow::Result<Timestamp> {
    Timestamp::parse(text.trim()).with_context(|| {
        format!(
            "invalid {flag} {}: expected RFC 3339 (2026-11-23T14:00:00Z) or a date (2026-11-23)",
            memory_core::validate::quoted(text)
        )
    })
}

impl StartArgs {
    fn plan(self) -> anyhow::Result<NewEpisode> {
        let context = TaskContext {
            domain: self.domain,
            language: self.language,
            framework: self.framework,
            complexity: self.complexity.unwrap_or_default(),
            tags: self.tags,
        };
        let mut new = NewEpisode::new(self.task, self.task_type, context);
        if let Some(metadata) = &self.metadata {
            new.metadata = parse_json("--metadata", metadata)?;
        }
        // The façade checks these again; checking here keeps bad input from opening (or creating) a database.
        validate::task_description(&new.task_description)?;
        validate::context(&new.context)?;
        validate::metadata(&new.metadata)?;
        Ok(new)
    }
}

impl LogStepArgs {
    fn plan(self) -> anyhow::Result<ExecutionStep> {
        let result = match self.status {
            StepStatus::Success => StepResult::Success {
                output: self.output,
            },
            StepStatus::Error => StepResult::Error {
                message: self.output,
            },
            StepStatus::Timeout => StepResult::Timeout {
                message: self.output,
            },
        };
        let mut step = ExecutionStep::new(self.tool, self.action, result);
        step.parameters = parse_json("--params", &self.params)?;
        step.latency_ms = self.latency_ms;
        step.tokens = self.tokens;
        validate::step(&step)?;
        Ok(step)
    }
}

impl CompleteArgs {
    fn plan(self) -> anyhow::Result<TaskOutcome> {
        use CompleteOutcome::*;
        let outcome = self.outcome;
        let name = outcome
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string());
        // Flags that do not belong to the chosen outcome are refused rather than silently dropped.
        let misplaced = [
            ("--verdict", self.verdict.is_some(), &[Success, Partial][..]),
            ("--reason", self.reason.is_some(), &[Failure, Abstained][..]),
            ("--artifact", !self.artifacts.is_empty(), &[Success][..]),
            ("--done", !self.done.is_empty(), &[Partial][..]),
            ("--not-done", !self.not_done.is_empty(), &[Partial][..]),
            (
                "--error-details",
                self.error_details.is_some(),
                &[Failure][..],
            ),
        ];
        if let Some((flag, _, _)) = misplaced
            .iter()
            .find(|(_, given, allowed)| *given && !allowed.contains(&outcome))
        {
            bail!("{flag} does not apply to --outcome {name}");
        }
        let required = |flag: &str, value: Option<String>| match value {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(anyhow::anyhow!("--outcome {name} needs {flag} TEXT")),
        };
        let outcome = match outcome {
            Success => TaskOutcome::Success {
                verdict: required("--verdict", self.verdict)?,
                artifacts: self.artifacts,
            },
            Partial => TaskOutcome::PartialSuccess {
                verdict: required("--verdict", self.verdict)?,
                completed: self.done,
                failed: self.not_done,
            },
            Failure => TaskOutcome::Failure {
                reason: required("--reason", self.reason)?,
                error_details: self.error_details,
            },
            Abstained => TaskOutcome::Abstained {
                reason: required("--reason", self.reason)?,
            },
        };
        validate::outcome(&outcome)?;
        Ok(outcome)
    }
}

impl ListArgs {
    fn plan(self) -> anyhow::Result<EpisodeQuery> {
        let query = EpisodeQuery {
            domain: self.domain,
            task_type: self.task_type,
            tags: self.tags.tags(),
            outcome: self.outcome,
            completed: self.status.map(|s| matches!(s, ListStatus::Completed)),
            started_after: self.since.map(|d| parse_date("--since", &d)).transpose()?,
            started_before: self.until.map(|d| parse_date("--until", &d)).transpose()?,
            scope: self.scope,
            offset: self.offset,
            limit: self.limit,
        };
        if let (Some(since), Some(until)) = (query.started_after, query.started_before)
            && since >= until
        {
            bail!("--since {since} is not before --until {until}");
        }
        query.validate()?;
        Ok(query)
    }
}
