//! `memory-cli import sessions | runs | store`: coding-agent session logs into episodes, records and the
//! messages reports read; the record of every import run; a whole-store export into an empty store.

mod read;
mod render;

use std::{
    collections::BTreeSet,
    io::{self, BufReader},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use memory_cli::open::{self, StoreArgs};
use memory_core::{
    Episode, EpisodeId, Memory, Records,
    sessions::{self, Line, SessionMessage, SessionParser},
};
use memory_storage_turso::{
    TursoStore,
    sessions::{FileImport, ImportRun, MAX_REJECTS_KEPT, Reject},
};

use crate::{backup::open_primary, output::Format};
use read::{BytesRead, LogReader};

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

/// Messages stored per transaction.
const BATCH: usize = 4096;

/// Runs an `import` command.
pub async fn run(command: ImportCommand, store: &StoreArgs, format: Format) -> anyhow::Result<()> {
    let config = open::db_config(store)?;
    match command {
        ImportCommand::Sessions(args) => {
            let logs = read::find_logs(&args.paths)?;
            let primary = open_primary(&config).await?;
            let (memory, records) = open::open_both(&config, store).await?;
            let run = import_sessions(&primary, &memory, &records, &logs, args.project).await;
            crate::finish(&memory, run.and_then(|run| render::run(&run, format))).await
        }
        ImportCommand::Runs { limit } => {
            let primary = open_primary(&config).await?;
            crate::print(render::runs(&primary.import_runs(limit).await?, format)?)
        }
        ImportCommand::Store { file } => {
            let primary = open_primary(&config).await?;
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

/// Imports every log, recording the run; a failure is recorded with the run before it is returned.
async fn import_sessions(
    primary: &TursoStore,
    memory: &Memory,
    records: &Records,
    logs: &[PathBuf],
    project: Option<String>,
) -> anyhow::Result<ImportRun> {
    let run = primary.begin_import().await?;
    let mut importer = Importer {
        primary,
        records,
        run,
        project,
        touched: BTreeSet::new(),
        seen: BTreeSet::new(),
        messages: 0,
        records_stored: 0,
        bar: progress(logs),
    };
    let read = importer.read_all(logs).await;
    importer.bar.finish_and_clear();
    let written = match read {
        Ok(()) => write_episodes(primary, memory, &importer.touched, &importer.seen).await,
        Err(err) => Err(err),
    };
    let (sessions, error) = match &written {
        Ok(sessions) => (*sessions, None),
        Err(err) => (0, Some(format!("{err:#}"))),
    };
    primary
        .finish_import(run, sessions, importer.records_stored, error)
        .await?;
    written?;
    let mut runs = primary.import_runs(1).await?;
    runs.pop()
        .context("the import run just recorded is missing")
}

/// A progress bar over the logs' bytes, with the rate and the time left (drawn only on a terminal).
fn progress(logs: &[PathBuf]) -> ProgressBar {
    let total: u64 = logs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{msg:>10} messages {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

struct Importer<'a> {
    primary: &'a TursoStore,
    records: &'a Records,
    run: i64,
    project: Option<String>,
    /// The sessions that gained messages, as (project, session id).
    touched: BTreeSet<(String, String)>,
    /// The sessions of messages already stored (whose episode a failed run may not have written).
    seen: BTreeSet<(String, String)>,
    /// Messages read, new or not.
    messages: u64,
    records_stored: u64,
    bar: ProgressBar,
}

impl Importer<'_> {
    async fn read_all(&mut self, logs: &[PathBuf]) -> anyhow::Result<()> {
        let mut done_bytes = 0;
        for path in logs {
            let file = self.read_file(path, done_bytes).await?;
            done_bytes += file.bytes;
            self.bar.set_position(done_bytes);
        }
        Ok(())
    }

    /// Reads one log in batches; each batch is stored in one transaction, so a failure loses no batch stored.
    async fn read_file(&mut self, path: &Path, done_bytes: u64) -> anyhow::Result<FileImport> {
        let started = Instant::now();
        let name = path.display().to_string();
        let source = self.primary.import_source(&name).await?;
        let bytes_read = BytesRead::default();
        let mut reader = LogReader::open(path, bytes_read.clone())?;
        let mut parser = SessionParser::new(name.clone(), self.project.clone());
        let mut file = FileImport {
            path: name,
            ..FileImport::default()
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut buf = Vec::new();
        loop {
            let line = match reader.next_line(&mut buf) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(err) => {
                    file.error = Some(format!("unreadable after line {}: {err}", reader.lines()));
                    break;
                }
            };
            let parsed = std::str::from_utf8(line.bytes)
                .map_err(|e| format!("not UTF-8: {e}"))
                .and_then(|text| parser.parse(text, line.number, line.offset));
            match parsed {
                Ok(Line::Messages(found)) => batch.extend(found),
                Ok(Line::Skipped) => file.skipped += 1,
                Err(reason) => {
                    file.rejected += 1;
                    if file.rejects.len() < MAX_REJECTS_KEPT {
                        file.rejects.push(Reject {
                            line: line.number,
                            reason,
                        });
                    }
                }
            }
            if batch.len() >= BATCH {
                self.store(source, &mut batch, &mut file).await?;
                self.bar.set_position(done_bytes + bytes_read.get());
                self.bar.set_message(self.messages.to_string());
            }
        }
        self.store(source, &mut batch, &mut file).await?;
        file.lines = reader.lines();
        file.sha256 = reader
            .finish()
            .with_context(|| format!("cannot read {}", file.path))?;
        file.bytes = bytes_read.get();
        file.elapsed_ms = started.elapsed().as_millis() as u64;
        self.primary.record_file(self.run, source, &file).await?;
        Ok(file)
    }

    /// Stores a batch of messages, then the records of those that were new.
    async fn store(
        &mut self,
        source: i64,
        batch: &mut Vec<SessionMessage>,
        file: &mut FileImport,
    ) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let fresh = self.primary.store_messages(self.run, source, batch).await?;
        let mut new_records = Vec::new();
        self.messages += batch.len() as u64;
        for (message, new) in batch.drain(..).zip(fresh) {
            if !new {
                file.duplicates += 1;
                self.seen.insert((message.project, message.session_id));
                continue;
            }
            file.new_messages += 1;
            if let Some(record) = sessions::message_record(&message)? {
                new_records.push(record);
            }
            self.touched.insert((message.project, message.session_id));
        }
        let stored = self.records.store_many(new_records).await?;
        self.records_stored += stored.iter().filter(|s| !s.duplicate).count() as u64;
        Ok(())
    }
}

/// Writes the episode of every session that gained messages, and of every session seen without one (a run that
/// failed before writing it), from all of the session's messages; returns how many.
async fn write_episodes(
    primary: &TursoStore,
    memory: &Memory,
    touched: &BTreeSet<(String, String)>,
    seen: &BTreeSet<(String, String)>,
) -> anyhow::Result<u64> {
    const EPISODES_PER_WRITE: usize = 200;
    let mut pending = Vec::with_capacity(EPISODES_PER_WRITE);
    let mut written = 0;
    for (project, session) in touched.union(seen) {
        let known = primary.session_episode_id(project, session).await?;
        if known.is_some() && !touched.contains(&(project.clone(), session.clone())) {
            continue;
        }
        let messages = primary.session_messages(project, session).await?;
        let id = known.unwrap_or_else(EpisodeId::new);
        if let Some(episode) = sessions::session_episode(id, &messages) {
            pending.push((project, session, episode));
        }
        if pending.len() == EPISODES_PER_WRITE {
            written += write_batch(primary, memory, &mut pending).await?;
        }
    }
    written += write_batch(primary, memory, &mut pending).await?;
    Ok(written)
}

/// Writes episodes, then remembers which session each came from.
async fn write_batch(
    primary: &TursoStore,
    memory: &Memory,
    pending: &mut Vec<(&String, &String, Episode)>,
) -> anyhow::Result<u64> {
    let episodes: Vec<Episode> = pending.iter().map(|(_, _, e)| e.clone()).collect();
    memory.store().import_episodes(&episodes).await?;
    for (project, session, episode) in pending.drain(..) {
        primary
            .set_session_episode(project, session, episode.id)
            .await?;
    }
    Ok(episodes.len() as u64)
}
