//! Importing coding-agent session logs: messages into libSQL with their provenance, the records of what was said,
//! and an episode per session; every run recorded (see `memory-cli import sessions`).

mod read;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory_core::{
    Episode, EpisodeId, Memory, Records,
    sessions::{self, SessionMessage},
};
use memory_storage_turso::{
    TursoStore,
    sessions::{FileImport, ImportRun},
};

use read::BytesRead;
pub use read::find_logs;

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

    /// Reads one log in batches on a blocking thread while the batches before are stored; each batch is stored
    /// in one transaction, so a failure loses no batch stored.
    async fn read_file(&mut self, path: &Path, done_bytes: u64) -> anyhow::Result<FileImport> {
        let started = Instant::now();
        let name = path.display().to_string();
        let source = self.primary.import_source(&name).await?;
        let bytes_read = BytesRead::default();
        let (batches, mut received) = tokio::sync::mpsc::channel(2);
        let parsing = tokio::task::spawn_blocking({
            let (path, project, bytes_read) =
                (path.to_path_buf(), self.project.clone(), bytes_read.clone());
            move || read::parse_file(&path, project, BATCH, &bytes_read, &batches)
        });
        let (mut new, mut duplicates) = (0, 0);
        while let Some(mut batch) = received.recv().await {
            let (n, d) = self.store(source, &mut batch).await?;
            (new, duplicates) = (new + n, duplicates + d);
            self.bar.set_position(done_bytes + bytes_read.get());
            self.bar.set_message(self.messages.to_string());
        }
        let mut file = parsing.await??;
        file.new_messages = new;
        file.duplicates = duplicates;
        file.elapsed_ms = started.elapsed().as_millis() as u64;
        self.primary.record_file(self.run, source, &file).await?;
        Ok(file)
    }

    /// Stores a batch of messages, then the records of those that were new.
    /// Returns how many were new and how many were stored already.
    async fn store(
        &mut self,
        source: i64,
        batch: &mut Vec<SessionMessage>,
    ) -> anyhow::Result<(u64, u64)> {
        let (mut new, mut duplicates) = (0, 0);
        let fresh = self.primary.store_messages(self.run, source, batch).await?;
        let mut new_records = Vec::new();
        self.messages += batch.len() as u64;
        for (message, fresh_one) in batch.drain(..).zip(fresh) {
            if !fresh_one {
                duplicates += 1;
                self.seen.insert((message.project, message.session_id));
                continue;
            }
            new += 1;
            if let Some(record) = sessions::message_record(&message)? {
                new_records.push(record);
            }
            self.touched.insert((message.project, message.session_id));
        }
        let stored = self.records.store_many(new_records).await?;
        self.records_stored += stored.iter().filter(|s| !s.duplicate).count() as u64;
        Ok((new, duplicates))
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
