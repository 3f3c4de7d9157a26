//! `memory-cli`: the operator's command line for the episodic memory store (argument parsing and exit codes).

mod backup;
mod code;
mod demo;
mod episode;
mod eval;
mod hook;
mod hooks;
mod import;
mod keys;
mod model;
mod output;
mod pattern;
mod pattern_output;
mod query;
mod records;
mod report;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    io::{self, Write},
    process::ExitCode,
};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use memory_cli::{
    log::LogFormat,
    one_line,
    open::{self, Intent, StoreArgs},
};
use memory_core::Memory;

use crate::{
    episode::EpisodeCommand,
    output::{Format, FormatArg},
};

/// Record and inspect the episodes coding agents work through.
#[derive(Debug, Parser)]
#[command(name = "memory-cli", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts: where the store is and how to print.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Where the store is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// How log lines on standard error are written (levels: RUST_LOG).
    #[arg(
        long,
        global = true,
        env = "MEMORY_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
}

impl GlobalArgs {
    /// The `--format` of a command that is not a report.
    pub(crate) fn plain_format(&self) -> anyhow::Result<Format> {
        self.format.plain()
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start, log, complete, show, list and delete episodes.
    #[command(subcommand)]
    Episode(EpisodeCommand),
    /// Store, read, update, delete, list and count memory records (facts, preferences, decisions, notes).
    #[command(subcommand)]
    Memory(records::RecordCommand),
    /// Print the memories of a scope that best match a text, as a block that fits a token budget (cl100k).
    Query(query::QueryArgs),
    /// Run a JavaScript program in the code sandbox (`eval --file F` or `eval -` for standard input), or
    /// measure retrieval quality on a dataset (`eval retrieval`, in a temporary database unless --db, --db-url
    /// or MEMORY_DB is given).
    Eval(eval::EvalArgs),
    /// Record a few realistic coding-agent episodes and show them (in a temporary database unless --db,
    /// --db-url or MEMORY_DB is given).
    Demo,
    /// Re-embed every memory and episode with the embedder in use and make it the store's model (needed after
    /// changing --embedder or installing a model).
    Reembed,
    /// Install and list local embedding models.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Patterns learnt from completed episodes: list, show, search, recommend, extract, decay, feedback.
    Pattern(pattern::PatternArgs),
    /// The heuristics of recurring patterns ("when this, do that"), with their confidence.
    Heuristic(pattern::HeuristicArgs),
    /// Back up the embedded database with a manifest of checksums, verify a backup, restore one.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Write the whole store as JSON Lines (to move it to another machine or into a server).
    Export(backup::ExportArgs),
    /// Import coding-agent session logs, list import runs, or load a whole-store export.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Reports on imported sessions: activity, timeline, tools, errors, one session (--format human|json|csv).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Create, list and revoke the API keys of the store, each confined to one tenant scope.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The log of the calls made with the store's keys, newest first.
    Audit(keys::AuditArgs),
    /// Handle one event of an agent's hooks, read as JSON from standard input (Claude Code's hooks call it):
    /// capture the episode, print the memory to give the agent. Always exits 0; errors go to the hooks' log.
    Hook(hook::HookArgs),
    /// Install the hooks in Claude Code's settings, or show what they captured lately.
    #[command(subcommand)]
    Hooks(hooks::HooksCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Hook(_) = &cli.command {
        return hook_main(cli);
    }
    memory_cli::log::init(cli.global.log_format, "warn");
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`memory-cli episode list | head`): not a failure of ours.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// A hook: on a runtime of one thread (it starts faster), logging nowhere the agent sees, exiting 0 whatever
/// happened.
fn hook_main(cli: Cli) -> ExitCode {
    let Command::Hook(args) = cli.command else {
        return ExitCode::SUCCESS;
    };
    memory_cli::embedder::quiet();
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        runtime.block_on(hook::run(args, &cli.global.store));
    }
    ExitCode::SUCCESS
}

/// Runs the command and prints its result. Every argument is checked before the store is opened, so bad input
/// never creates or touches a database.
async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    // Reports print CSV too, and read `global.format` themselves.
    let format = match &cli.command {
        Command::Report(_) => Format::Human,
        _ => global.plain_format()?,
    };
    match cli.command {
        Command::Episode(command) => {
            let action = command.plan()?;
            with_store(
                global,
                open::db_config(&global.store)?,
                Intent::writes(action.writes()),
                async |memory, _| output::render(&action.run(memory).await?, format),
            )
            .await
        }
        Command::Memory(command) => {
            let action = command.plan()?;
            with_store(
                global,
                open::db_config(&global.store)?,
                Intent::writes(action.writes()),
                async |_, records| records::render(&action.run(records).await?, format),
            )
            .await
        }
        Command::Query(args) => {
            let query = args.plan()?;
            with_store(
                global,
                open::db_config(&global.store)?,
                Intent::Read,
                async |_, records| query::render(&query.run(records).await?, format),
            )
            .await
        }
        Command::Eval(eval::EvalArgs {
            command: None,
            code,
        }) => code::run(code, format).await,
        Command::Eval(eval::EvalArgs {
            command: Some(eval::EvalCommand::Retrieval(args)),
            ..
        }) => {
            let conversations = eval::load(&args.dataset)?;
            let (_dir, config) = scratch_or_given(global)?;
            with_store(global, config, Intent::Write, async |_, records| {
                eval::render(
                    &eval::run(records, conversations, args.ranking).await?,
                    format,
                )
            })
            .await
        }
        Command::Reembed => {
            with_store(
                global,
                open::db_config(&global.store)?,
                Intent::Write,
                async |_, records| records::reembed(records, format).await,
            )
            .await
        }
        Command::Demo => demo::run(global).await,
        Command::Model(command) => model::run(command, global).await,
        Command::Pattern(args) => pattern::run(global, args.plan()?).await,
        Command::Heuristic(args) => pattern::run(global, args.plan()?).await,
        Command::Backup(command) => print(backup::run(command, &global.store, format).await?),
        Command::Export(args) => print(backup::export(&args, &global.store, format).await?),
        Command::Import(command) => import::run(command, &global.store, format).await,
        Command::Report(command) => {
            print(report::run(command, &global.store, global.format).await?)
        }
        Command::Keys(command) => print(keys::run(command, &global.store, format).await?),
        Command::Audit(args) => print(keys::audit(args, &global.store, format).await?),
        Command::Hooks(command) => print(hooks::run(command, &global.store)?),
        Command::Hook(_) => Ok(()),
    }
}

/// Opens the store, runs `work` on its episodes and records, closes the store and prints what `work` returned.
async fn with_store(
    global: &GlobalArgs,
    config: memory_storage_turso::DbConfig,
    intent: Intent,
    work: impl AsyncFnOnce(&Memory, &memory_core::Records) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let (memory, records) = open::open_both(&config, &global.store, intent).await?;
    let text = work(&memory, &records).await;
    finish(&memory, text).await
}

/// The database the options name explicitly, or else a fresh one in a temporary directory that is removed when
/// the returned guard drops.
fn scratch_or_given(
    global: &GlobalArgs,
) -> anyhow::Result<(Option<tempfile::TempDir>, memory_storage_turso::DbConfig)> {
    if global.store.db().is_some() || global.store.db_url().is_some() {
        return Ok((None, open::db_config(&global.store)?));
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let config = memory_storage_turso::DbConfig::local(dir.path().join("eval.db"));
    Ok((Some(dir), config))
}

/// Prints a command's output.
pub(crate) fn print(text: String) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Closes the store (which checkpoints the cache) whatever happened, then prints the command's output.
pub(crate) async fn finish(memory: &Memory, text: anyhow::Result<String>) -> anyhow::Result<()> {
    let closed = memory.close().await;
    let text = match text {
        Ok(text) => text,
        Err(err) => {
            if let Err(close) = closed {
                tracing::warn!(%close, "closing the store also failed");
            }
            return Err(err);
        }
    };
    print(text)?;
    closed.context("the command succeeded but closing the store failed")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
