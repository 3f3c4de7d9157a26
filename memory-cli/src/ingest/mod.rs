//! Importing coding-agent session logs: messages into libSQL with their provenance, the records of what was said,
//! and an episode per session; every run recorded (see `memory-cli import sessions`).

mod read;

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory_core::{Episode, EpisodeId, Memory, Records, sessions};
use memory_storage_turso::{
    TursoStore,
    sessions::{FileImport, ImportRun, MessageBatch},
};

pub use read::find_logs;
use read::{Batch, BytesRead};

/// Messages stored per transaction.
const BATCH: usize = 4096;

/// Imports every log, recording the run; a failure is recorded with the run before it is returned.
pub async fn import_sessions(
    primary: &TursoStore,
    memory: &Memory,
    records: &Records,
    logs: &[PathBuf],
    project: Option<String>,
    progress: bool,
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
        bar: progress_bar(logs, progress),
    };
    let read = importer.read_all(logs).await;
    importer.bar.finish_and_clear();
    let written = match read {
        Ok(()) => write_episodes(primary, memory, importer.touched, importer.seen).await,
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

/// A progress bar over the logs' bytes, with the rate and the time left (drawn on standard error when `shown`
/// and it is a terminal).
fn progress_bar(logs: &[PathBuf], shown: bool) -> ProgressBar {
    let total: u64 = logs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let target = if shown {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target).with_style(
        ProgressStyle::with_template(
            "{msg:>10} messages {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A batch as the writer takes it: its messages hashed and made rows on the reading thread.
struct Ready {
    /// The log each message came from.
    logs: Vec<usize>,
    messages: MessageBatch,
    /// The logs read to their end.
    finished: Vec<(usize, FileImport)>,
}

impl Ready {
    fn new(run: i64, sources: &[i64], batch: Batch) -> Self {
        let (logs, messages) = batch
            .messages
            .into_iter()
            .map(|(log, message)| (log, (sources[log], message)))
            .unzip();
        Ready {
            logs,
            messages: MessageBatch::new(run, messages),
            finished: batch.finished,
        }
    }
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
    /// Reads the logs in batches on a blocking thread while the batches before are stored; each batch is stored
    /// with its records in one transaction, so a failure loses no batch stored and leaves none half written.
    async fn read_all(&mut self, logs: &[PathBuf]) -> anyhow::Result<()> {
        let names: Vec<String> = logs.iter().map(|p| p.display().to_string()).collect();
        let sources = self.primary.import_sources(&names).await?;
        // New and duplicate messages per log.
        let mut counts = vec![(0, 0); logs.len()];
        let bytes_read = BytesRead::default();
        let (batches, mut received) = tokio::sync::mpsc::channel(2);
        let parsing = tokio::task::spawn_blocking({
            let (logs, project, bytes_read) =
                (logs.to_vec(), self.project.clone(), bytes_read.clone());
            let (run, sources) = (self.run, sources.clone());
            move || {
                let ready = |batch| Ready::new(run, &sources, batch);
                read::parse_logs(&logs, project, BATCH, &bytes_read, &batches, ready)
            }
        });
        while let Some(batch) = received.recv().await {
            self.store(&sources, &mut counts, batch).await?;
            self.bar.set_position(bytes_read.get());
            self.bar.set_message(self.messages.to_string());
        }
        parsing.await?
    }

    /// Stores a batch of messages with the records of those that were new, in one transaction, then the reports
    /// of the logs it finishes.
    async fn store(
        &mut self,
        sources: &[i64],
        counts: &mut [(u64, u64)],
        batch: Ready,
    ) -> anyhow::Result<()> {
        let Ready {
            logs,
            messages,
            finished,
        } = batch;
        let records = self.records;
        let stored = self
            .primary
            .store_messages(messages, |messages, fresh| {
                let mut new = Vec::new();
                for ((_, message), _) in messages.iter().zip(fresh).filter(|(_, f)| **f) {
                    new.extend(sessions::message_record(message)?);
                }
                records.prepare(new)
            })
            .await?;
        self.records_stored += stored.records.iter().filter(|s| !s.duplicate).count() as u64;
        self.messages += stored.messages.len() as u64;
        let fresh = stored.fresh;
        for ((log, (_, message)), fresh_one) in logs.into_iter().zip(stored.messages).zip(fresh) {
            let key = (message.project, message.session_id);
            if fresh_one {
                counts[log].0 += 1;
                self.touched.insert(key);
            } else {
                counts[log].1 += 1;
                self.seen.insert(key);
            }
        }
        let finished: Vec<(i64, FileImport)> = finished
            .into_iter()
            .map(|(log, mut file)| {
                (file.new_messages, file.duplicates) = counts[log];
                (sources[log], file)
            })
            .collect();
        self.primary.record_files(self.run, &finished).await?;
        Ok(())
    }
}

/// Writes the episode of every session that gained messages, and of every session seen without one (a run that
/// failed before writing it), from all of the session's messages; returns how many. The sessions are read back and
/// their episodes built on a task of their own, while the episodes built before are written.
async fn write_episodes(
    primary: &TursoStore,
    memory: &Memory,
    touched: BTreeSet<(String, String)>,
    seen: BTreeSet<(String, String)>,
) -> anyhow::Result<u64> {
    let (batches, mut built) = tokio::sync::mpsc::channel(2);
    let building = tokio::spawn(build_episodes(primary.clone(), touched, seen, batches));
    let mut written = 0;
    while let Some(batch) = built.recv().await {
        match write_batch(primary, memory, batch).await {
            Ok(n) => written += n,
            Err(err) => {
                building.abort();
                return Err(err);
            }
        }
    }
    building.await??;
    Ok(written)
}

/// Episodes written per transaction.
const EPISODES_PER_WRITE: usize = 200;

/// Builds the episodes [`write_episodes`] writes and sends them in batches; stops early when it stops listening.
async fn build_episodes(
    primary: TursoStore,
    touched: BTreeSet<(String, String)>,
    seen: BTreeSet<(String, String)>,
    batches: tokio::sync::mpsc::Sender<Vec<(String, String, Episode)>>,
) -> anyhow::Result<()> {
    let mut pending = Vec::with_capacity(EPISODES_PER_WRITE);
    for (project, session) in touched.union(&seen) {
        let known = primary.session_episode_id(project, session).await?;
        if known.is_some() && !touched.contains(&(project.clone(), session.clone())) {
            continue;
        }
        let messages = primary.session_messages(project, session).await?;
        let id = known.unwrap_or_else(EpisodeId::new);
        if let Some(episode) = sessions::session_episode(id, &messages) {
            pending.push((project.clone(), session.clone(), episode));
        }
        if pending.len() == EPISODES_PER_WRITE
            && batches.send(std::mem::take(&mut pending)).await.is_err()
        {
            return Ok(());
        }
    }
    if !pending.is_empty() {
        // A writer that stopped listening has its own error to report.
        let _ = batches.send(pending).await;
    }
    Ok(())
}

/// Writes episodes, then remembers which session each came from.
async fn write_batch(
    primary: &TursoStore,
    memory: &Memory,
    batch: Vec<(String, String, Episode)>,
) -> anyhow::Result<u64> {
    let (links, episodes): (Vec<(String, String, EpisodeId)>, Vec<Episode>) = batch
        .into_iter()
        .map(|(project, session, episode)| ((project, session, episode.id), episode))
        .unzip();
    memory.store().import_episodes(&episodes).await?;
    primary.set_session_episodes(&links).await?;
    Ok(episodes.len() as u64)
}
