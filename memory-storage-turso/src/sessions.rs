//! Imported session logs: their messages with provenance, the runs that imported them, and the episode each
//! session became (migration 7).

use std::collections::HashSet;

use libsql::Value;
use memory_core::{
    Embedding, EpisodeId, Json, MemoryRecord, Result, Stored, Timestamp,
    sessions::{Provenance, Role, SessionMessage},
};
use serde::Serialize;

use crate::{
    TursoStore,
    db::Db,
    error::{MapErr as _, corrupt},
    records::insert_records,
    rollup::{self, Counted},
    rows::{Insert, insert_sql},
};

/// Messages made ready for [`TursoStore::store_messages`]: hashed and turned into rows where the batch is made
/// (an importer's reading thread, say), so the writer only writes.
pub struct MessageBatch {
    messages: Vec<(i64, SessionMessage)>,
    hashes: Vec<[u8; 32]>,
    rows: Vec<Vec<Value>>,
    counted: Vec<Counted>,
}

impl MessageBatch {
    /// The messages of import run `run`, each with the id of the source it was read from.
    pub fn new(run: i64, messages: Vec<(i64, SessionMessage)>) -> Self {
        let hashes: Vec<[u8; 32]> = messages.iter().map(|(_, m)| m.hash()).collect();
        let rows = messages
            .iter()
            .zip(&hashes)
            .map(|((source, m), hash)| message_params(m, hash, *source, run))
            .collect();
        let counted = messages.iter().map(|(_, m)| Counted::of(m)).collect();
        MessageBatch {
            messages,
            hashes,
            rows,
            counted,
        }
    }
}

/// What [`TursoStore::store_messages`] did.
#[derive(Debug, Default)]
pub struct StoredMessages {
    /// The batch's messages, with their sources.
    pub messages: Vec<(i64, SessionMessage)>,
    /// Whether each message was new.
    pub fresh: Vec<bool>,
    /// What became of each record made of the new ones.
    pub records: Vec<Stored>,
}

/// Rejected lines kept per file; the count goes on past it.
pub const MAX_REJECTS_KEPT: usize = 1000;

/// What reading one file came to.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileImport {
    /// The file, as it was read.
    pub path: String,
    /// Its size in bytes, as stored (compressed for `.gz`).
    pub bytes: u64,
    /// SHA-256 of its bytes as stored.
    pub sha256: String,
    /// Lines read.
    pub lines: u64,
    /// Messages that were new.
    pub new_messages: u64,
    /// Messages that were already stored.
    pub duplicates: u64,
    /// Lines that were not imported.
    pub rejected: u64,
    /// Lines without a message (blank lines, summaries, snapshots).
    pub skipped: u64,
    /// Time spent on it.
    pub elapsed_ms: u64,
    /// Why the file could not be read to its end, if it could not.
    pub error: Option<String>,
    /// The first rejected lines (up to [`MAX_REJECTS_KEPT`]) and why.
    pub rejects: Vec<Reject>,
}

/// A line that was not imported.
#[derive(Clone, Debug, Serialize)]
pub struct Reject {
    /// The line, from 1.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// One import run, as recorded.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportRun {
    /// Its number.
    pub id: i64,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended, if it did.
    pub finished_at: Option<Timestamp>,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// Bytes of the files read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Messages that were new.
    pub new_messages: u64,
    /// Messages already stored.
    pub duplicates: u64,
    /// Lines not imported.
    pub rejected: u64,
    /// Lines without a message.
    pub skipped: u64,
    /// Sessions whose episodes were written.
    pub sessions: u64,
    /// Memory records stored from the messages (new ones; the rest were already there).
    pub records: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The files it read.
    pub files: Vec<FileImport>,
}

const MESSAGE_HEAD: &str = "INSERT INTO session_messages (hash, project, session_id, at, role, tool, call_id, \
     component, level, is_error, content, metadata, source_id, line, byte_offset, run_id) VALUES";
const MESSAGE_TAIL: &str = " ON CONFLICT (session_id, project, at, hash) DO NOTHING RETURNING hash";

static MESSAGES: Insert = Insert::new(
    || insert_sql(MESSAGE_HEAD, 16, 1) + MESSAGE_TAIL,
    || insert_sql(MESSAGE_HEAD, 16, Insert::CHUNK) + MESSAGE_TAIL,
);

impl TursoStore {
    /// Records that a run has started and returns its number.
    pub async fn begin_import(&self) -> Result<i64> {
        self.write(|db| async move {
            db.execute(
                "INSERT INTO import_runs (started_at, status) VALUES (?1, 'running')",
                [Timestamp::now().as_micros()],
            )
            .await?;
            Ok(db.conn.last_insert_rowid())
        })
        .await
    }

    /// The ids under which messages read from `paths` are recorded, in order, registered in one transaction.
    pub async fn import_sources(&self, paths: &[String]) -> Result<Vec<i64>> {
        self.write(|db| async move {
            let mut ids = Vec::with_capacity(paths.len());
            for path in paths {
                db.execute(
                    "INSERT INTO import_sources (path) VALUES (?1) ON CONFLICT (path) DO NOTHING",
                    [path.as_str()],
                )
                .await?;
                let id = db
                    .query_first(
                        "SELECT id FROM import_sources WHERE path = ?1",
                        [path.as_str()],
                        |row| row.get::<i64>(0).db(),
                    )
                    .await?
                    .ok_or_else(|| corrupt("import_sources", "a source just written is missing"))?;
                ids.push(id);
            }
            Ok(ids)
        })
        .await
    }

    /// Stores a batch of messages, skipping those already stored, and in the same transaction the memory
    /// records that `records` makes of them: it is given the messages and, for each, whether it was new (it runs
    /// inside the transaction; see [`memory_core::Records::prepare`]). So a batch's messages and their records are
    /// written together or not at all.
    pub async fn store_messages<F>(&self, batch: MessageBatch, records: F) -> Result<StoredMessages>
    where
        F: FnOnce(&[(i64, SessionMessage)], &[bool]) -> Result<Vec<(MemoryRecord, Embedding)>>
            + Send,
    {
        let MessageBatch {
            messages,
            hashes,
            rows,
            counted,
        } = batch;
        if messages.is_empty() {
            return Ok(StoredMessages::default());
        }
        self.write(|db| async move {
            let inserted = insert_returning(&db, rows).await?;
            // A message repeated within the batch is new once.
            let mut fresh: HashSet<Vec<u8>> = inserted.into_iter().collect();
            let new: Vec<bool> = hashes.iter().map(|h| fresh.remove(&h[..])).collect();
            let stored: Vec<&Counted> = counted
                .iter()
                .zip(&new)
                .filter_map(|(c, new)| new.then_some(c))
                .collect();
            rollup::add(&db, &stored).await?;
            let records = insert_records(&db, &records(&messages, &new)?).await?;
            Ok(StoredMessages {
                messages,
                fresh: new,
                records,
            })
        })
        .await
    }

    /// Records what reading some files came to, each with its source id, in one transaction.
    pub async fn record_files(&self, run: i64, files: &[(i64, FileImport)]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        self.write(|db| async move {
            for (source, file) in files {
                db.execute(
                    "INSERT OR REPLACE INTO import_files (run_id, source_id, bytes, sha256, lines, new_messages, \
                     duplicates, rejected, skipped, elapsed_ms, error) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    vec![
                        Value::Integer(run),
                        Value::Integer(*source),
                        Value::Integer(file.bytes as i64),
                        Value::Text(file.sha256.clone()),
                        Value::Integer(file.lines as i64),
                        Value::Integer(file.new_messages as i64),
                        Value::Integer(file.duplicates as i64),
                        Value::Integer(file.rejected as i64),
                        Value::Integer(file.skipped as i64),
                        Value::Integer(file.elapsed_ms as i64),
                        file.error.clone().map_or(Value::Null, Value::Text),
                    ],
                )
                .await?;
                for reject in file.rejects.iter().take(MAX_REJECTS_KEPT) {
                    db.execute(
                        "INSERT OR REPLACE INTO import_rejects (run_id, source_id, line, reason) \
                         VALUES (?1, ?2, ?3, ?4)",
                        vec![
                            Value::Integer(run),
                            Value::Integer(*source),
                            Value::Integer(reject.line as i64),
                            Value::Text(reject.reason.clone()),
                        ],
                    )
                    .await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Records how run `run` ended: its totals from its files, the sessions and records it wrote, and its error.
    pub async fn finish_import(
        &self,
        run: i64,
        sessions: u64,
        records: u64,
        error: Option<String>,
    ) -> Result<()> {
        self.write(|db| async move {
            db.execute(
                "UPDATE import_runs SET finished_at = ?2, status = ?3, error = ?4, sessions = ?5, records = ?6, \
                 (files, bytes, lines, new_messages, duplicates, rejected, skipped) = \
                 (SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(lines), 0), \
                  coalesce(sum(new_messages), 0), coalesce(sum(duplicates), 0), coalesce(sum(rejected), 0), \
                  coalesce(sum(skipped), 0) FROM import_files WHERE run_id = ?1) \
                 WHERE id = ?1",
                vec![
                    Value::Integer(run),
                    Value::Integer(Timestamp::now().as_micros()),
                    Value::Text(if error.is_some() { "failed" } else { "finished" }.into()),
                    error.map_or(Value::Null, Value::Text),
                    Value::Integer(sessions as i64),
                    Value::Integer(records as i64),
                ],
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// The latest `limit` runs, newest first, with their files and rejected lines.
    pub async fn import_runs(&self, limit: u32) -> Result<Vec<ImportRun>> {
        self.read(|db| async move {
            let mut runs = db
                .query_map(
                    "SELECT id, started_at, finished_at, status, bytes, lines, new_messages, duplicates, \
                     rejected, skipped, sessions, records, error FROM import_runs ORDER BY id DESC LIMIT ?1",
                    [limit],
                    |row| {
                        let count = |i: i32| row.get::<i64>(i).db().map(|n| n as u64);
                        Ok(ImportRun {
                            id: row.get(0).db()?,
                            started_at: Timestamp::from_micros(row.get(1).db()?),
                            finished_at: row
                                .get::<Option<i64>>(2)
                                .db()?
                                .map(Timestamp::from_micros),
                            status: row.get(3).db()?,
                            bytes: count(4)?,
                            lines: count(5)?,
                            new_messages: count(6)?,
                            duplicates: count(7)?,
                            rejected: count(8)?,
                            skipped: count(9)?,
                            sessions: count(10)?,
                            records: count(11)?,
                            error: row.get(12).db()?,
                            files: Vec::new(),
                        })
                    },
                )
                .await?;
            for run in &mut runs {
                run.files = run_files(&db, run.id).await?;
            }
            Ok(runs)
        })
        .await
    }

    /// Every message of a session, in order.
    pub async fn session_messages(
        &self,
        project: &str,
        session_id: &str,
    ) -> Result<Vec<SessionMessage>> {
        let params = vec![project.to_string(), session_id.to_string()];
        self.read(|db| async move {
            db.query_map(
                "SELECT m.project, m.session_id, m.at, m.role, m.tool, m.call_id, m.component, m.level, \
                 m.is_error, m.content, m.metadata, s.path, m.line, m.byte_offset \
                 FROM session_messages m JOIN import_sources s ON s.id = m.source_id \
                 WHERE m.session_id = ?2 AND m.project = ?1 ORDER BY m.at, m.id",
                params,
                message_from_row,
            )
            .await
        })
        .await
    }

    /// The episode a session became, if it has one yet.
    pub async fn session_episode_id(
        &self,
        project: &str,
        session_id: &str,
    ) -> Result<Option<EpisodeId>> {
        let params = vec![project.to_string(), session_id.to_string()];
        self.read(|db| async move {
            db.query_first(
                "SELECT episode_id FROM import_sessions WHERE project = ?1 AND session_id = ?2",
                params,
                |row| {
                    let id: String = row.get(0).db()?;
                    id.parse()
                        .map_err(|e| corrupt("import_sessions.episode_id", e))
                },
            )
            .await
        })
        .await
    }

    /// Remembers which episode each session, as (project, session id), became, in one transaction.
    pub async fn set_session_episodes(&self, links: &[(String, String, EpisodeId)]) -> Result<()> {
        self.write(|db| async move {
            for (project, session_id, episode) in links {
                db.execute(
                    "INSERT OR REPLACE INTO import_sessions (project, session_id, episode_id) \
                     VALUES (?1, ?2, ?3)",
                    vec![project.clone(), session_id.clone(), episode.to_string()],
                )
                .await?;
            }
            Ok(())
        })
        .await
    }
}

/// Inserts message rows, returning the hashes of those that were new.
async fn insert_returning(db: &Db, rows: Vec<Vec<Value>>) -> Result<Vec<Vec<u8>>> {
    let mut inserted = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(Insert::CHUNK).collect();
        if chunk.len() == Insert::CHUNK {
            let params: Vec<Value> = chunk.into_iter().flatten().collect();
            inserted.extend(db.query_map(MESSAGES.many(), params, hash_of).await?);
        } else {
            for row in chunk {
                inserted.extend(db.query_map(MESSAGES.one(), row, hash_of).await?);
            }
        }
    }
    Ok(inserted)
}

fn hash_of(row: &libsql::Row) -> Result<Vec<u8>> {
    row.get::<Vec<u8>>(0).db()
}

fn message_params(m: &SessionMessage, hash: &[u8; 32], source: i64, run: i64) -> Vec<Value> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    vec![
        Value::Blob(hash.to_vec()),
        Value::Text(m.project.clone()),
        Value::Text(m.session_id.clone()),
        Value::Integer(m.at.as_micros()),
        Value::Text(m.role.as_str().into()),
        text(&m.tool),
        text(&m.call_id),
        text(&m.component),
        text(&m.level),
        Value::Integer(m.is_error.into()),
        Value::Text(m.content.clone()),
        Value::Text(m.metadata.to_text()),
        Value::Integer(source),
        Value::Integer(m.provenance.line as i64),
        Value::Integer(m.provenance.offset as i64),
        Value::Integer(run),
    ]
}

pub(crate) fn message_from_row(row: &libsql::Row) -> Result<SessionMessage> {
    let role: String = row.get(3).db()?;
    let metadata: String = row.get(10).db()?;
    Ok(SessionMessage {
        project: row.get(0).db()?,
        session_id: row.get(1).db()?,
        at: Timestamp::from_micros(row.get(2).db()?),
        role: Role::parse(&role).ok_or_else(|| corrupt("session_messages.role", &role))?,
        tool: row.get(4).db()?,
        call_id: row.get(5).db()?,
        component: row.get(6).db()?,
        level: row.get(7).db()?,
        is_error: row.get::<i64>(8).db()? != 0,
        content: row.get(9).db()?,
        metadata: Json::from_stored(metadata)
            .map_err(|e| corrupt("session_messages.metadata", e))?,
        provenance: Provenance {
            file: row.get(11).db()?,
            line: row.get::<i64>(12).db()? as u64,
            offset: row.get::<i64>(13).db()? as u64,
        },
    })
}

async fn run_files(db: &Db, run: i64) -> Result<Vec<FileImport>> {
    let mut files = db
        .query_map(
            "SELECT s.path, f.bytes, f.sha256, f.lines, f.new_messages, f.duplicates, f.rejected, f.skipped, \
             f.elapsed_ms, f.error, f.source_id FROM import_files f JOIN import_sources s ON s.id = f.source_id \
             WHERE f.run_id = ?1 ORDER BY s.path",
            [run],
            |row| {
                let count = |i: i32| row.get::<i64>(i).db().map(|n| n as u64);
                Ok((
                    FileImport {
                        path: row.get(0).db()?,
                        bytes: count(1)?,
                        sha256: row.get(2).db()?,
                        lines: count(3)?,
                        new_messages: count(4)?,
                        duplicates: count(5)?,
                        rejected: count(6)?,
                        skipped: count(7)?,
                        elapsed_ms: count(8)?,
                        error: row.get(9).db()?,
                        rejects: Vec::new(),
                    },
                    row.get::<i64>(10).db()?,
                ))
            },
        )
        .await?;
    let mut out = Vec::with_capacity(files.len());
    for (mut file, source) in files.drain(..) {
        file.rejects = db
            .query_map(
                "SELECT line, reason FROM import_rejects WHERE run_id = ?1 AND source_id = ?2 ORDER BY line",
                [run, source],
                |row| {
                    Ok(Reject {
                        line: row.get::<i64>(0).db()? as u64,
                        reason: row.get(1).db()?,
                    })
                },
            )
            .await?;
        out.push(file);
    }
    Ok(out)
}
