//! [`EpisodeStore`] and [`ChangeFeed`] for libSQL.

use async_trait::async_trait;
use libsql::Value;
use memory_core::{
    Appended, Change, ChangeFeed, Episode, EpisodeId, EpisodeQuery, EpisodeStore, EpisodeSummary,
    Error, ExecutionStep, Result, Revision, Versioned, validate,
};

use crate::{
    TursoStore,
    db::Db,
    error::{MapErr, corrupt},
    rows::{
        EPISODES, STEPS, SUMMARY_COLUMNS, TAGS, episode_params, read_episode, step_params,
        summary_from_row,
    },
};

/// The latest revision of any write: every write stamps its rows (episode, steps or tombstone) with its
/// revision, and none is ever lowered, so the largest stamp is the head. Three index lookups.
pub(crate) const HEAD: &str = "SELECT max(coalesce((SELECT max(revision) FROM episodes), 0), \
     coalesce((SELECT max(revision) FROM steps), 0), coalesce((SELECT max(revision) FROM episode_tombstones), 0))";

/// The revision for a write; call inside the write transaction, which keeps other writers out until it commits.
async fn next_revision(db: &Db) -> Result<Revision> {
    let head = db
        .query_first(HEAD, (), |row| row.get::<i64>(0).db())
        .await?
        .unwrap_or(0);
    Ok(head as Revision + 1)
}

/// For an append: whether the episode is completed, its step count and the next revision, or `None` if it does
/// not exist. One statement where three would do, because an append is the most frequent write.
async fn append_state(db: &Db, id: EpisodeId) -> Result<Option<(bool, u32, Revision)>> {
    const SQL: &str = "SELECT end_time IS NOT NULL, \
         coalesce((SELECT max(step_number) FROM steps WHERE episode_id = ?1), 0), \
         max(coalesce((SELECT max(revision) FROM episodes), 0), \
         coalesce((SELECT max(revision) FROM steps), 0), \
         coalesce((SELECT max(revision) FROM episode_tombstones), 0)) + 1 \
         FROM episodes WHERE id = ?1";
    db.query_first(SQL, [id.to_string()], |row| {
        Ok((
            row.get::<i64>(0).db()? != 0,
            row.get::<i64>(1).db()? as u32,
            row.get::<i64>(2).db()? as Revision,
        ))
    })
    .await
}

/// Whether the episode is completed, and its step count, if it exists.
async fn state(db: &Db, id: EpisodeId) -> Result<Option<(bool, u32)>> {
    db.query_first(
        "SELECT end_time IS NOT NULL, \
         coalesce((SELECT max(step_number) FROM steps WHERE episode_id = ?1), 0) FROM episodes WHERE id = ?1",
        [id.to_string()],
        |row| Ok((row.get::<i64>(0).db()? != 0, row.get::<i64>(1).db()? as u32)),
    )
    .await
}

/// Writes whole episodes (rows, tags and steps, all stamped `revision`), replacing earlier versions.
async fn write_episodes(db: &Db, episodes: &[Episode], revision: Revision) -> Result<()> {
    for ep in episodes {
        let id = ep.id.to_string();
        let (exists, tombstone) = db
            .query_first(
                "SELECT EXISTS (SELECT 1 FROM episodes WHERE id = ?1), \
                 EXISTS (SELECT 1 FROM episode_tombstones WHERE id = ?1)",
                [id.clone()],
                |row| Ok((row.get::<i64>(0).db()? != 0, row.get::<i64>(1).db()? != 0)),
            )
            .await?
            .unwrap_or((false, false));
        if exists {
            db.execute("DELETE FROM steps WHERE episode_id = ?1", [id.clone()])
                .await?;
            db.execute(
                "DELETE FROM episode_tags WHERE episode_id = ?1",
                [id.clone()],
            )
            .await?;
        }
        if tombstone {
            db.execute("DELETE FROM episode_tombstones WHERE id = ?1", [id])
                .await?;
        }
    }
    let rows = episodes
        .iter()
        .map(|ep| episode_params(ep, revision))
        .collect();
    EPISODES.rows(db, rows).await?;
    let tags = episodes
        .iter()
        .flat_map(|ep| {
            ep.context
                .tags
                .iter()
                .map(|tag| vec![Value::Text(tag.clone()), Value::Text(ep.id.to_string())])
        })
        .collect();
    TAGS.rows(db, tags).await?;
    let steps = episodes
        .iter()
        .flat_map(|ep| {
            ep.steps
                .iter()
                .map(|step| step_params(ep.id, step.step_number, step, revision))
        })
        .collect();
    STEPS.rows(db, steps).await
}

#[async_trait]
impl EpisodeStore for TursoStore {
    async fn insert_episode(&self, episode: &Episode) -> Result<Revision> {
        validate::episode(episode)?;
        self.write(|db| async move {
            if state(&db, episode.id).await?.is_some() {
                return Err(Error::AlreadyExists {
                    kind: "episode",
                    id: episode.id.to_string(),
                });
            }
            let revision = next_revision(&db).await?;
            write_episodes(&db, std::slice::from_ref(episode), revision).await?;
            Ok(revision)
        })
        .await
    }

    async fn append_step(&self, id: EpisodeId, step: &ExecutionStep) -> Result<Appended> {
        validate::step(step)?;
        self.write(|db| async move {
            let (count, revision) = match append_state(&db, id).await? {
                None => return Err(Error::episode_not_found(id)),
                Some((true, _, _)) => return Err(Error::AlreadyCompleted { id: id.to_string() }),
                Some((false, count, revision)) => (count, revision),
            };
            validate::step_count(id, count as usize)?;
            let number = count + 1;
            // Only the step row is written: it carries the revision, so the episode row stays untouched and a
            // step costs one B-tree insert plus its revision index entry.
            db.execute(STEPS.one(), step_params(id, number, step, revision))
                .await?;
            Ok(Appended {
                step_number: number,
                revision,
            })
        })
        .await
    }

    async fn complete_episode(&self, episode: &Episode) -> Result<Revision> {
        validate::completed_episode(episode)?;
        let ep = episode;
        self.write(|db| async move {
            match state(&db, ep.id).await? {
                None => return Err(Error::episode_not_found(ep.id)),
                Some((true, _)) => return Err(Error::AlreadyCompleted { id: ep.id.to_string() }),
                Some((false, count)) if count as usize != ep.steps.len() => {
                    return Err(Error::Conflict { id: ep.id.to_string() });
                }
                Some(_) => {}
            }
            let revision = next_revision(&db).await?;
            let params = episode_params(ep, revision);
            // Columns 10..16 of `episode_params`: end_time, outcome_kind, outcome, reward_total, reward, reflection.
            let completion: Vec<Value> = params[10..16]
                .iter()
                .cloned()
                .chain([Value::Integer(revision as i64), Value::Text(ep.id.to_string())])
                .collect();
            db.execute(
                "UPDATE episodes SET end_time = ?1, outcome_kind = ?2, outcome = ?3, reward_total = ?4, \
                 reward = ?5, reflection = ?6, revision = ?7 WHERE id = ?8",
                completion,
            )
            .await?;
            // Queued in the same transaction: a completed episode always reaches the pattern learner.
            db.execute(
                "INSERT OR REPLACE INTO pattern_jobs (episode_id, queued_at) VALUES (?1, ?2)",
                (ep.id.to_string(), memory_core::Timestamp::now().as_micros()),
            )
            .await?;
            Ok(revision)
        })
        .await
    }

    async fn get_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
        self.read(|db| async move {
            Ok(read_episode(&db, id)
                .await?
                .map(|(value, revision)| Versioned { revision, value }))
        })
        .await
    }

    async fn delete_episode(&self, id: EpisodeId) -> Result<Option<Revision>> {
        self.write(|db| async move {
            if state(&db, id).await?.is_none() {
                return Ok(None);
            }
            let revision = next_revision(&db).await?;
            let key = id.to_string();
            db.execute("DELETE FROM steps WHERE episode_id = ?1", [key.clone()])
                .await?;
            db.execute(
                "DELETE FROM episode_tags WHERE episode_id = ?1",
                [key.clone()],
            )
            .await?;
            db.execute("DELETE FROM episodes WHERE id = ?1", [key.clone()])
                .await?;
            db.execute(
                "INSERT OR REPLACE INTO episode_tombstones (id, revision) VALUES (?1, ?2)",
                (key, revision as i64),
            )
            .await?;
            Ok(Some(revision))
        })
        .await
    }

    async fn list_episodes(&self, query: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        query.validate()?;
        let (sql, params) = list_sql(query);
        self.read(|db| async move {
            let mut rows = db.conn.query(&sql, params).await.db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                out.push(summary_from_row(&row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn import_episodes(&self, episodes: &[Episode]) -> Result<Revision> {
        validate::episodes(episodes)?;
        if episodes.is_empty() {
            return self.head_revision().await;
        }
        self.write(|db| async move {
            let revision = next_revision(&db).await?;
            write_episodes(&db, episodes, revision).await?;
            Ok(revision)
        })
        .await
    }
}

fn list_sql(query: &EpisodeQuery) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut bind = |clause: &str, value: Value| {
        params.push(value);
        clauses.push(clause.replace('?', &format!("?{}", params.len())));
    };
    if let Some(scope) = &query.scope {
        bind("scope = ?", Value::Text(scope.as_str().into()));
    }
    if let Some(domain) = &query.domain {
        bind("domain = ?", Value::Text(domain.clone()));
    }
    if let Some(task_type) = query.task_type {
        bind("task_type = ?", Value::Text(task_type.as_str().into()));
    }
    if let Some(outcome) = query.outcome {
        bind("outcome_kind = ?", Value::Text(outcome.as_str().into()));
    }
    if let Some(after) = query.started_after {
        bind("start_time >= ?", Value::Integer(after.as_micros()));
    }
    if let Some(before) = query.started_before {
        bind("start_time < ?", Value::Integer(before.as_micros()));
    }
    if !query.tags.is_empty() {
        clauses.push(crate::sql::tagged(
            "id",
            "SELECT episode_id FROM episode_tags",
            &query.tags,
            &mut params,
        ));
    }
    match query.completed {
        Some(true) => clauses.push("end_time IS NOT NULL".into()),
        Some(false) => clauses.push("end_time IS NULL".into()),
        None => {}
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let n = params.len();
    params.push(Value::Integer(i64::from(query.limit)));
    params.push(Value::Integer(i64::from(query.offset)));
    (
        format!(
            "SELECT {SUMMARY_COLUMNS} FROM episodes {filter} ORDER BY start_time DESC, id DESC LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        ),
        params,
    )
}

#[async_trait]
impl ChangeFeed for TursoStore {
    async fn store_id(&self) -> Result<String> {
        Ok(self.inner.store_id.clone())
    }

    async fn head(&self) -> Result<Revision> {
        self.head_revision().await
    }

    async fn changes_since(&self, after: Revision) -> Result<Vec<Change>> {
        self.read(|db| async move {
            db.query_map(
                "SELECT id, max(revision) FROM (\
                 SELECT id, revision FROM episodes WHERE revision > ?1 \
                 UNION ALL SELECT episode_id, revision FROM steps WHERE revision > ?1 \
                 UNION ALL SELECT id, revision FROM episode_tombstones WHERE revision > ?1) \
                 GROUP BY id ORDER BY 2",
                [after as i64],
                |row| {
                    let id: String = row.get(0).db()?;
                    Ok(Change {
                        id: id.parse().map_err(|e| corrupt("episode id", e))?,
                        revision: row.get::<i64>(1).db()? as Revision,
                    })
                },
            )
            .await
        })
        .await
    }
}
