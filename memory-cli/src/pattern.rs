//! The `pattern` and `heuristic` commands: their arguments, the checked [`Action`] each becomes, and running it on
//! the [`Patterns`] learner.

use clap::{Args, Subcommand};
use memory_cli::{one_line, open};
use memory_core::{
    Decayed, EpisodeId, Error, Extracted, Heuristic, HeuristicQuery, OutcomeKind, Pattern,
    PatternConfig, PatternFeedback, PatternId, PatternKind, PatternQuery, Patterns, QueryContext,
    Recommend, Recommendation, TaskType, Timestamp,
};

/// How the learner clusters and scores; every command of `pattern` and `heuristic` takes them.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// DBSCAN's neighbourhood radius over pattern feature vectors, from 0 to 2 [default: 0.5].
    #[arg(long, global = true, env = "MEMORY_PATTERN_EPS", value_name = "EPS")]
    eps: Option<f32>,
    /// DBSCAN's minimum neighbourhood, and the support from which a pattern gives a heuristic [default: 2].
    #[arg(
        long,
        global = true,
        env = "MEMORY_PATTERN_MIN_POINTS",
        value_name = "N"
    )]
    min_points: Option<usize>,
    /// Days for the weight of an outcome to halve [default: 90].
    #[arg(
        long,
        global = true,
        env = "MEMORY_PATTERN_HALF_LIFE_DAYS",
        value_name = "DAYS"
    )]
    half_life_days: Option<f64>,
}

impl LearnArgs {
    /// The configuration the options give, checked.
    pub fn config(&self) -> anyhow::Result<PatternConfig> {
        let defaults = PatternConfig::default();
        let config = PatternConfig {
            eps: self.eps.unwrap_or(defaults.eps),
            min_points: self.min_points.unwrap_or(defaults.min_points),
            half_life_days: self.half_life_days.unwrap_or(defaults.half_life_days),
            ..defaults
        };
        config.validate()?;
        Ok(config)
    }
}

/// `memory-cli pattern ...`
#[derive(Debug, Args)]
pub struct PatternArgs {
    #[command(flatten)]
    learn: LearnArgs,
    #[command(subcommand)]
    command: PatternCommand,
}

/// `memory-cli heuristic ...`
#[derive(Debug, Args)]
pub struct HeuristicArgs {
    #[command(flatten)]
    learn: LearnArgs,
    #[command(subcommand)]
    command: HeuristicCommand,
}

fn kind(s: &str) -> Result<PatternKind, Error> {
    s.parse()
}

#[derive(Debug, Subcommand)]
enum PatternCommand {
    /// List patterns, best stored score first.
    List {
        /// Only this kind: tool_sequence, decision_point, error_recovery, context_pattern or strategy.
        #[arg(long, value_parser = kind)]
        kind: Option<PatternKind>,
        /// Only patterns seen in at least this many episodes.
        #[arg(long, value_name = "N", default_value_t = 1)]
        min_support: u32,
        /// Most rows (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: u32,
        /// Rows to skip.
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u32,
    },
    /// Print a pattern with its evidence and, if it recurred, its heuristic.
    Show {
        /// The pattern id.
        id: String,
    },
    /// Find patterns by words and meaning, best match first.
    Search {
        /// What to look for.
        text: String,
        /// Only this kind.
        #[arg(long, value_parser = kind)]
        kind: Option<PatternKind>,
        /// Most results (1 to 100).
        #[arg(long, value_name = "N", default_value_t = 10)]
        limit: u32,
    },
    /// Patterns for a task, ranked by relevance, context match, effectiveness and recency, each with why.
    Recommend(RecommendArgs),
    /// Extract the patterns of queued episodes (every completed episode is queued when it is completed).
    Extract {
        /// Queue this completed episode first.
        #[arg(long, value_name = "ID", conflicts_with = "all")]
        episode: Option<String>,
        /// Queue first every completed episode never extracted (episodes imported in bulk, say).
        #[arg(long)]
        all: bool,
    },
    /// Age every pattern's outcome weights to now and store the recomputed scores.
    Decay,
    /// Report that patterns were applied and how the task ended: success, partial_success or failure.
    Feedback {
        /// The patterns applied.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
        /// How the task ended.
        #[arg(long, value_parser = |s: &str| s.parse::<OutcomeKind>())]
        outcome: OutcomeKind,
    },
}

/// Arguments of `pattern recommend`.
#[derive(Debug, Args)]
struct RecommendArgs {
    /// The task, in plain words.
    task: String,
    /// The area of work.
    #[arg(long)]
    domain: Option<String>,
    /// Programming language.
    #[arg(long)]
    language: Option<String>,
    /// Framework or library.
    #[arg(long)]
    framework: Option<String>,
    /// A tag of the task; repeat for more.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// The kind of work.
    #[arg(long = "type", value_name = "TASK_TYPE", value_parser = |s: &str| s.parse::<TaskType>())]
    task_type: Option<TaskType>,
    /// Only this kind of pattern.
    #[arg(long, value_parser = kind)]
    kind: Option<PatternKind>,
    /// Most results (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 5)]
    limit: u32,
}

#[derive(Debug, Subcommand)]
enum HeuristicCommand {
    /// List the heuristics of recurring patterns, most confident first.
    List {
        /// Only those of this kind of pattern.
        #[arg(long, value_parser = kind)]
        kind: Option<PatternKind>,
        /// Only those at least this confident (0 to 1).
        #[arg(long, value_name = "F", default_value_t = 0.0)]
        min_confidence: f64,
        /// Most rows (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: u32,
    },
}

/// A checked request; running it is the only step that touches the store.
#[derive(Debug)]
pub enum Action {
    /// List patterns.
    List(PatternQuery),
    /// Show one.
    Show(PatternId),
    /// Search.
    Search(String, Option<PatternKind>, u32),
    /// Recommend.
    Recommend(Recommend),
    /// Queue (one, every unextracted, or none) and drain.
    Extract(Option<EpisodeId>, bool),
    /// Decay to now.
    Decay,
    /// Report applications.
    Feedback(PatternFeedback),
    /// List heuristics.
    Heuristics(HeuristicQuery),
}

/// What an [`Action`] produced.
#[derive(Debug)]
pub enum Reply {
    /// A listing.
    Listed(Vec<Pattern>),
    /// One pattern and its heuristic, if it recurred.
    Shown(Box<Pattern>, Option<Heuristic>),
    /// Ranked patterns (search and recommend).
    Ranked(Vec<Recommendation>),
    /// What extraction did, and how many were queued first.
    Extracted(Extracted, u64),
    /// What decay did.
    Decayed(Decayed),
    /// The patterns after feedback.
    Updated(Vec<Pattern>),
    /// Heuristics.
    Heuristics(Vec<Heuristic>),
}

impl PatternArgs {
    /// Parses and checks every argument, without touching the store; returns the configuration too.
    pub fn plan(self) -> anyhow::Result<(PatternConfig, Action)> {
        let config = self.learn.config()?;
        let action = match self.command {
            PatternCommand::List {
                kind,
                min_support,
                limit,
                offset,
            } => {
                let query = PatternQuery {
                    kind,
                    min_support,
                    offset,
                    limit,
                };
                if limit == 0 || limit > memory_core::MAX_LIST_LIMIT {
                    return Err(Error::validation(
                        "limit",
                        format!("must be 1 to 1000, got {limit}"),
                    )
                    .into());
                }
                Action::List(query)
            }
            PatternCommand::Show { id } => Action::Show(id.parse()?),
            PatternCommand::Search { text, kind, limit } => {
                Recommend {
                    limit,
                    ..Recommend::new(text.clone())
                }
                .validate()?;
                Action::Search(text, kind, limit)
            }
            PatternCommand::Recommend(args) => {
                let request = Recommend {
                    task: args.task,
                    context: QueryContext {
                        domain: args.domain,
                        language: args.language,
                        framework: args.framework,
                        tags: args.tags,
                    },
                    task_type: args.task_type,
                    kind: args.kind,
                    limit: args.limit,
                    scope: None,
                };
                request.validate()?;
                Action::Recommend(request)
            }
            PatternCommand::Extract { episode, all } => {
                Action::Extract(episode.map(|e| e.parse()).transpose()?, all)
            }
            PatternCommand::Decay => Action::Decay,
            PatternCommand::Feedback { ids, outcome } => Action::Feedback(PatternFeedback {
                patterns: ids
                    .iter()
                    .map(|id| id.parse())
                    .collect::<memory_core::Result<_>>()?,
                outcome,
                scope: None,
            }),
        };
        Ok((config, action))
    }
}

impl HeuristicArgs {
    /// Parses and checks every argument, without touching the store; returns the configuration too.
    pub fn plan(self) -> anyhow::Result<(PatternConfig, Action)> {
        let config = self.learn.config()?;
        let HeuristicCommand::List {
            kind,
            min_confidence,
            limit,
        } = self.command;
        let query = HeuristicQuery {
            kind,
            min_confidence,
            limit,
        };
        query.validate()?;
        Ok((config, Action::Heuristics(query)))
    }
}

impl Action {
    /// Whether the action reads only, so a note about episodes waiting for extraction helps.
    pub fn reads(&self) -> bool {
        !matches!(
            self,
            Action::Extract(..) | Action::Decay | Action::Feedback(_)
        )
    }

    /// Runs the action through the learner.
    pub async fn run(self, patterns: &Patterns) -> memory_core::Result<Reply> {
        Ok(match self {
            Action::List(query) => Reply::Listed(patterns.list(&query).await?),
            Action::Show(id) => {
                let pattern = patterns.get(id).await?;
                let heuristic = Heuristic::of(&pattern, patterns.config().min_points as u32);
                Reply::Shown(Box::new(pattern), heuristic)
            }
            Action::Search(text, kind, limit) => {
                Reply::Ranked(patterns.search(&text, kind, limit, None).await?)
            }
            Action::Recommend(request) => Reply::Ranked(patterns.recommend(&request).await?),
            Action::Extract(episode, all) => {
                let mut queued = 0;
                if let Some(id) = episode {
                    queued += u64::from(patterns.queue(id).await?);
                }
                if all {
                    queued += patterns.queue_unextracted().await?;
                }
                Reply::Extracted(patterns.extract_pending().await?, queued)
            }
            Action::Decay => Reply::Decayed(patterns.decay(Timestamp::now()).await?),
            Action::Feedback(feedback) => Reply::Updated(patterns.feedback(&feedback).await?),
            Action::Heuristics(query) => Reply::Heuristics(patterns.heuristics(&query).await?),
        })
    }
}

/// Opens the store, runs the action, closes the store and prints the reply. Before a read, says on stderr how many
/// completed episodes still wait for extraction.
pub async fn run(
    global: &crate::GlobalArgs,
    (config, action): (PatternConfig, Action),
) -> anyhow::Result<()> {
    let db = open::db_config(&global.store)?;
    let reads = action.reads();
    let (memory, _, patterns) =
        open::open_all(&db, &global.store, open::Intent::writes(!reads)).await?;
    let text = async {
        let patterns = patterns.with_config(config)?;
        let reply = action.run(&patterns).await?;
        if reads {
            let waiting = patterns.pending().await?;
            if waiting > 0 {
                eprintln!(
                    "{}",
                    one_line(&format!(
                        "note: {waiting} completed episode(s) wait for extraction; run `memory-cli pattern extract`"
                    ))
                );
            }
        }
        crate::pattern_output::render(&reply, global.plain_format()?)
    }
    .await;
    crate::finish(&memory, text).await
}
