//! [`PatternStore`] for libSQL: patterns as JSON bodies with their own revision sequence, the extraction queue and
//! the record of extracted episodes.

use async_trait::async_trait;
use libsql::{Row, Value};
use memory_core::{
    EpisodeId, Error, Pattern, PatternChange, PatternId, PatternJob, PatternStore, PatternWrite,
    Result, Revision, Timestamp, Versioned, pattern::PATTERN_VERSION,
};

use crate::{
    TursoStore,
    db::Db,
    error::{MapErr, corrupt},
    rows::placeholders,
    vectors::{claim_model, put_vectors},
};

/// The latest pattern revision: the largest stamp on a pattern or a tombstone.
const HEAD: &str = "SELECT max(coalesce((SELECT max(revision) FROM patterns), 0), \
     coalesce((SELECT max(revision) FROM pattern_tombstones), 0))";

fn pattern_from_row(row: &Row) -> Result<Versioned<Pattern>> {
    let layout: i64 = row.get(0).db()?;
    if layout != i64::from(PATTERN_VERSION) {
        return Err(corrupt(
            "pattern",
            format!("layout {layout}, this build reads {PATTERN_VERSION}"),
        ));
    }
    let body: String = row.get(1).db()?;
    Ok(Versioned {
        value: serde_json::from_str(&body).map_err(|e| corrupt("pattern", e))?,
        revision: row.get::<i64>(2).db()? as Revision,
    })
}

/// The revision a pattern is stored at, if it is.
async fn stored_revision(db: &Db, id: PatternId) -> Result<Option<Revision>> {
    db.query_first(
        "SELECT revision FROM patterns WHERE id = ?1",
        [id.to_string()],
        |row| Ok(row.get::<i64>(0).db()? as Revision),
    )
    .await
}

fn changed(id: impl std::fmt::Display) -> Error {
    Error::Changed {
        kind: "pattern",
        id: id.to_string(),
    }
}

async fn apply(db: &Db, write: &PatternWrite) -> Result<Revision> {
    if let Some(v) = &write.vectors {
        claim_model(db, &v.model).await?;
        put_vectors(db, &v.model.id, &v.vectors).await?;
    }
    let revision = db
        .query_first(HEAD, (), |row| row.get::<i64>(0).db())
        .await?
        .unwrap_or(0) as Revision
        + 1;
    for (pattern, expected) in &write.put {
        if stored_revision(db, pattern.id).await? != *expected {
            return Err(changed(pattern.id));
        }
        let body = serde_json::to_string(pattern).map_err(|e| corrupt("pattern", e))?;
        db.execute(
            "INSERT OR REPLACE INTO patterns (id, kind, support, score, layout, body, created_at, updated_at, \
             revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            vec![
                Value::Text(pattern.id.to_string()),
                Value::Text(pattern.kind.as_str().into()),
                Value::Integer(i64::from(pattern.support)),
                Value::Real(pattern.effectiveness.score),
                Value::Integer(i64::from(PATTERN_VERSION)),
                Value::Text(body),
                Value::Integer(pattern.created_at.as_micros()),
                Value::Integer(pattern.updated_at.as_micros()),
                Value::Integer(revision as i64),
            ],
        )
        .await?;
    }
    for (id, expected) in &write.delete {
        if stored_revision(db, *id).await? != Some(*expected) {
            return Err(changed(id));
        }
        db.execute("DELETE FROM patterns WHERE id = ?1", [id.to_string()])
            .await?;
        db.execute(
            "INSERT OR REPLACE INTO pattern_tombstones (id, revision) VALUES (?1, ?2)",
            (id.to_string(), revision as i64),
        )
        .await?;
    }
    let now = Timestamp::now().as_micros();
    for episode in &write.extracted {
        let added = db
            .execute(
                "INSERT OR IGNORE INTO pattern_extracted (episode_id, extracted_at) VALUES (?1, ?2)",
                (episode.to_string(), now),
            )
            .await?;
        if added == 0 {
            return Err(Error::Changed {
                kind: "extraction of episode",
                id: episode.to_string(),
            });
        }
    }
    for episode in write.extracted.iter().chain(&write.dropped) {
        db.execute(
            "DELETE FROM pattern_jobs WHERE episode_id = ?1",
            [episode.to_string()],
        )
        .await?;
    }
    Ok(revision)
}

#[async_trait]
impl PatternStore for TursoStore {
    async fn pattern_jobs(&self, limit: u32) -> Result<Vec<PatternJob>> {
        const SQL: &str = "SELECT j.episode_id, j.queued_at, \
             EXISTS (SELECT 1 FROM pattern_extracted x WHERE x.episode_id = j.episode_id) \
             FROM pattern_jobs j ORDER BY j.queued_at, j.episode_id LIMIT ?1";
        self.read(|db| async move {
            db.query_map(SQL, [i64::from(limit)], |row| {
                let id: String = row.get(0).db()?;
                Ok(PatternJob {
                    episode: id.parse().map_err(|e| corrupt("episode id", e))?,
                    queued_at: Timestamp::from_micros(row.get(1).db()?),
                    extracted: row.get::<i64>(2).db()? != 0,
                })
            })
            .await
        })
        .await
    }

    async fn pattern_job_count(&self) -> Result<u64> {
        self.read(|db| async move {
            Ok(db
                .query_first("SELECT count(*) FROM pattern_jobs", (), |row| {
                    row.get::<i64>(0).db()
                })
                .await?
                .unwrap_or(0)
                .max(0) as u64)
        })
        .await
    }

    async fn queue_pattern_jobs(&self, ids: &[EpisodeId]) -> Result<u64> {
        let now = Timestamp::now().as_micros();
        self.write(|db| async move {
            let mut added = 0;
            for id in ids {
                added += db
                    .execute(
                        "INSERT OR IGNORE INTO pattern_jobs (episode_id, queued_at) VALUES (?1, ?2)",
                        (id.to_string(), now),
                    )
                    .await? as u64;
            }
            Ok(added)
        })
        .await
    }

    async fn queue_unextracted(&self) -> Result<u64> {
        let now = Timestamp::now().as_micros();
        self.write(|db| async move {
            Ok(db
                .execute(
                    "INSERT OR IGNORE INTO pattern_jobs (episode_id, queued_at) SELECT id, ?1 FROM episodes \
                     WHERE end_time IS NOT NULL AND id NOT IN (SELECT episode_id FROM pattern_extracted)",
                    [now],
                )
                .await? as u64)
        })
        .await
    }

    async fn write_patterns(&self, write: &PatternWrite) -> Result<Revision> {
        self.write(|db| async move { apply(&db, write).await })
            .await
    }

    async fn get_patterns(&self, ids: &[PatternId]) -> Result<Vec<Versioned<Pattern>>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT layout, body, revision FROM patterns WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let params: Vec<Value> = chunk.iter().map(|id| Value::Text(id.to_string())).collect();
            let rows = self
                .read(|db| async move {
                    let mut rows = db.conn.query(&sql, params).await.db()?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next().await.db()? {
                        out.push(pattern_from_row(&row)?);
                    }
                    Ok(out)
                })
                .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn scan_patterns(
        &self,
        after: Option<PatternId>,
        limit: u32,
    ) -> Result<Vec<Versioned<Pattern>>> {
        const SQL: &str =
            "SELECT layout, body, revision FROM patterns WHERE id > ?1 ORDER BY id LIMIT ?2";
        let after = after.map_or(String::new(), |id| id.to_string());
        self.read(|db| async move {
            db.query_map(SQL, (after, i64::from(limit)), pattern_from_row)
                .await
        })
        .await
    }

    async fn pattern_head(&self) -> Result<Revision> {
        self.read(|db| async move {
            Ok(db
                .query_first(HEAD, (), |row| row.get::<i64>(0).db())
                .await?
                .unwrap_or(0)
                .max(0) as Revision)
        })
        .await
    }

    async fn pattern_changes(&self, after: Revision) -> Result<Vec<PatternChange>> {
        const SQL: &str = "SELECT id, revision, 0 FROM patterns WHERE revision > ?1 \
             UNION ALL SELECT id, revision, 1 FROM pattern_tombstones WHERE revision > ?1 ORDER BY 2";
        self.read(|db| async move {
            db.query_map(SQL, [after as i64], |row| {
                let id: String = row.get(0).db()?;
                Ok(PatternChange {
                    id: id.parse().map_err(|e| corrupt("pattern id", e))?,
                    revision: row.get::<i64>(1).db()? as Revision,
                    deleted: row.get::<i64>(2).db()? != 0,
                })
            })
            .await
        })
        .await
    }
}
