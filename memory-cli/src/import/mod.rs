//! `memory-cli import sessions | runs | store`: coding-agent session logs into episodes, records and the
//! messages reports read; the record of every import run; a whole-store export into an empty store.

mod render;

use std::{
    io::{self, BufReader},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use memory_cli::{
    ingest,
    open::{self, Intent, StoreArgs},
};

use crate::output::Format;

/// `memory-cli import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import coding-agent session logs (Claude Code's project JSONL or the generic form; files or directories,
    /// .jsonl and .jsonl.gz). Each session becomes an episode, what was said becomes searchable memories in the
    /// scope project:<name>, and every message is kept with its file, line and byte offset. Importing the same
    /// messages again adds nothing.
    Sessions(SessionsArgs),
    /// List the latest import runs: files, sizes, checksums, lines, new, duplicate and rejected messages.
    Runs {
        /// How many runs, newest first.
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Load a whole-store export (`memory-cli export`) into an empty store (--db or --db-url).
    Store {
        /// The export (`-`: standard input).
        file: PathBuf,
    },
}

/// Arguments of `import sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Session logs, or directories holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The project of every message, instead of the one the log names (a Claude Code event's working
    /// directory, a generic event's `project`).
    #[arg(long)]
    project: Option<String>,
}

/// Runs an `import` command.
pub async fn run(command: ImportCommand, store: &StoreArgs, format: Format) -> anyhow::Result<()> {
    let config = open::db_config(store)?;
    match command {
        ImportCommand::Sessions(args) => {
            let logs = ingest::find_logs(&args.paths)?;
            let primary = open::primary(&config, Intent::Write).await?;
            let (memory, records) = open::open_both(&config, store, Intent::Write).await?;
            let run =
                ingest::import_sessions(&primary, &memory, &records, &logs, args.project, true)
                    .await;
            crate::finish(&memory, run.and_then(|run| render::run(&run, format))).await
        }
        ImportCommand::Runs { limit } => {
            let primary = open::primary(&config, Intent::Read).await?;
            crate::print(render::runs(&primary.import_runs(limit).await?, format)?)
        }
        ImportCommand::Store { file } => {
            let primary = open::primary(&config, Intent::Write).await?;
            let summary = if file == Path::new("-") {
                primary
                    .import(&mut BufReader::new(io::stdin()), "standard input")
                    .await?
            } else {
                let opened = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                primary
                    .import(&mut BufReader::new(opened), &file.display().to_string())
                    .await?
            };
            crate::print(crate::backup::render_tables(
                "imported into",
                &config.label(),
                &summary.tables,
                &summary.content_digest,
                format,
            )?)
        }
    }
}
