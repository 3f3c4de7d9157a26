//! Importing coding-agent session logs: messages into libSQL with their provenance, the records of what was said,
//! and an episode per session; every run recorded (see `memory-cli import sessions`).

mod read;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory_core::{
    Embedding, Episode, EpisodeId, Memory, MemoryRecord, NewRecord, Records, Timestamp,
    sessions::{self, SessionMessage},
};
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
        ahead: Arc::new(AtomicBool::new(true)),
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

/// A batch as the writer takes it: its messages hashed and made rows on the reading thread and, while they are
/// mostly new, their records made and embedded there too.
struct Ready {
    /// The log each message came from.
    logs: Vec<usize>,
    messages: MessageBatch,
    /// The records of the messages, each with its message's index, when they were made ahead.
    records: Option<Vec<(usize, Prepared)>>,
    /// The logs read to their end.
    finished: Vec<(usize, FileImport)>,
}

/// A record ready to store.
type Prepared = (MemoryRecord, Embedding);

impl Ready {
    /// Makes `batch` ready; with `ahead`, its records too.
    fn new(run: i64, sources: &[i64], records: &Records, ahead: bool, batch: Batch) -> Self {
        let (logs, messages): (Vec<usize>, Vec<(i64, SessionMessage)>) = batch
            .messages
            .into_iter()
            .map(|(log, message)| (log, (sources[log], message)))
            .unzip();
        Ready {
            logs,
            records: ahead.then(|| made_ahead(records, &messages)).flatten(),
            messages: MessageBatch::new(run, messages),
            finished: batch.finished,
        }
    }
}

/// The records [`sessions::message_record`] makes of `messages`, embedded, each with its message's index; `None`
/// when making one fails, so the writer makes those of the new messages itself and reports what failed.
fn made_ahead(
    records: &Records,
    messages: &[(i64, SessionMessage)],
) -> Option<Vec<(usize, Prepared)>> {
    let mut made = Vec::new();
    for (i, (_, message)) in messages.iter().enumerate() {
        if let Some(record) = sessions::message_record(message).ok()? {
            made.push((i, record));
        }
    }
    let (index, new): (Vec<usize>, Vec<NewRecord>) = made.into_iter().unzip();
    let prepared = records.prepare(new).ok()?;
    Some(index.into_iter().zip(prepared).collect())
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
    /// Whether the reading thread makes the records of a batch ahead: while most messages of the batch stored
    /// last were new. The records of messages stored before are made for nothing, so a re-import stops making
    /// them after its first batches.
    ahead: Arc<AtomicBool>,
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
            let (records, ahead) = (self.records.clone(), self.ahead.clone());
            move || {
                let ready = |batch| {
                    let ahead = ahead.load(Ordering::Relaxed);
                    Ready::new(run, &sources, &records, ahead, batch)
                };
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
            records: made,
            finished,
        } = batch;
        let records = self.records;
        let stored = self
            .primary
            .store_messages(messages, |messages, fresh| match made {
                Some(made) => Ok(made
                    .into_iter()
                    .filter_map(|(i, record)| fresh[i].then_some(record))
                    .collect()),
                None => {
                    let mut new = Vec::new();
                    for ((_, message), _) in messages.iter().zip(fresh).filter(|(_, f)| **f) {
                        new.extend(sessions::message_record(message)?);
                    }
                    records.prepare(new)
                }
            })
            .await?;
        let new = stored.fresh.iter().filter(|f| **f).count();
        self.ahead
            .store(2 * new >= stored.fresh.len(), Ordering::Relaxed);
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
/// their episodes built by tasks of their own, on the reader connections, while the episodes built before are
/// written.
async fn write_episodes(
    primary: &TursoStore,
    memory: &Memory,
    touched: BTreeSet<(String, String)>,
    seen: BTreeSet<(String, String)>,
) -> anyhow::Result<u64> {
    let mut shares = vec![Vec::new(); BUILDERS];
    for (i, key) in touched.union(&seen).enumerate() {
        shares[i % BUILDERS].push((key.clone(), touched.contains(key)));
    }
    let (batches, mut built) = tokio::sync::mpsc::channel(BUILDERS);
    let building: Vec<_> = shares
        .into_iter()
        .map(|share| tokio::spawn(build_episodes(primary.clone(), share, batches.clone())))
        .collect();
    drop(batches);
    let mut written = 0;
    while let Some(batch) = built.recv().await {
        match write_batch(primary, memory, batch).await {
            Ok(n) => written += n,
            Err(err) => {
                building.iter().for_each(|task| task.abort());
                return Err(err);
            }
        }
    }
    for task in building {
        task.await??;
    }
    Ok(written)
}

/// Tasks building episodes: reading a session back is slower than writing its episode, so one would keep the
/// writer waiting.
const BUILDERS: usize = 2;

/// Episodes written per transaction.
const EPISODES_PER_WRITE: usize = 200;

/// Builds the episodes of the sessions in `share` (each a project and session id, and whether it gained messages)
/// and sends them in batches; stops early when [`write_episodes`] stops listening.
async fn build_episodes(
    primary: TursoStore,
    share: Vec<((String, String), bool)>,
    batches: tokio::sync::mpsc::Sender<Vec<(String, String, Episode)>>,
) -> anyhow::Result<()> {
    let mut pending = Vec::with_capacity(EPISODES_PER_WRITE);
    for ((project, session), touched) in share {
        let known = primary.session_episode_id(&project, &session).await?;
        if known.is_some() && !touched {
            continue;
        }
        if let Some(id) = known
            && captured_live(&primary, id).await?
        {
            // The hooks recorded this session as it happened, prompt by prompt: its episodes are already there.
            continue;
        }
        let messages = primary.session_messages(&project, &session).await?;
        let id = known.unwrap_or_else(EpisodeId::new);
        if let Some(episode) = sessions::session_episode(id, &messages, Timestamp::now()) {
            pending.push((project, session, episode));
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

/// Whether episode `id` was captured by the hooks (tagged `live`) rather than imported.
async fn captured_live(primary: &TursoStore, id: EpisodeId) -> anyhow::Result<bool> {
    use memory_core::EpisodeStore as _;
    Ok(primary
        .get_episode(id)
        .await?
        .is_some_and(|e| e.value.context.tags.iter().any(|t| t == "live")))
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
