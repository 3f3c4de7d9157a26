//! [`EpisodeStore`] and [`ChangeFeed`] for libSQL.

use async_trait::async_trait;
use libsql::{Connection, TransactionBehavior, Value};
use memory_core::{
    Appended, Change, ChangeFeed, Episode, EpisodeId, EpisodeQuery, EpisodeStore, EpisodeSummary,
    Error, ExecutionStep, Result, Revision, Versioned, validate,
};

use crate::{
    TursoStore,
    error::{MapErr, corrupt},
    rows::{
        EPISODE_COLUMNS, EPISODE_INSERT, STEP_INSERT, SUMMARY_COLUMNS, episode_from_row,
        episode_params, read_steps, step_params, summary_from_row,
    },
    store::transaction,
};

/// Takes the next revision; call inside a write transaction.
async fn next_revision(conn: &Connection) -> Result<Revision> {
    let mut rows = conn
        .query(
            "UPDATE revision_counter SET value = value + 1 WHERE id = 0 RETURNING value",
            (),
        )
        .await
        .db()?;
    let row = rows
        .next()
        .await
        .db()?
        .ok_or_else(|| corrupt("revision_counter", "missing row"))?;
    let value: i64 = row.get(0).db()?;
    while rows.next().await.db()?.is_some() {}
    Ok(value as Revision)
}

/// The episode's end time (is it completed?) and step count, if it exists.
async fn state(conn: &Connection, id: EpisodeId) -> Result<Option<(bool, u32)>> {
    let mut rows = conn
        .query(
            "SELECT end_time IS NOT NULL, step_count FROM episodes WHERE id = ?1",
            [id.to_string()],
        )
        .await
        .db()?;
    match rows.next().await.db()? {
        Some(row) => Ok(Some((
            row.get::<i64>(0).db()? != 0,
            row.get::<i64>(1).db()? as u32,
        ))),
        None => Ok(None),
    }
}

/// Writes a whole episode: its row, tags and steps, replacing any earlier version.
async fn write_episode(conn: &Connection, ep: &Episode, revision: Revision) -> Result<()> {
    let id = ep.id.to_string();
    conn.execute("DELETE FROM steps WHERE episode_id = ?1", [id.clone()])
        .await
        .db()?;
    conn.execute(
        "DELETE FROM episode_tags WHERE episode_id = ?1",
        [id.clone()],
    )
    .await
    .db()?;
    conn.execute("DELETE FROM episode_tombstones WHERE id = ?1", [id.clone()])
        .await
        .db()?;
    conn.execute(EPISODE_INSERT, episode_params(ep, revision))
        .await
        .db()?;
    if !ep.context.tags.is_empty() {
        let tags = conn
            .prepare("INSERT OR IGNORE INTO episode_tags (tag, episode_id) VALUES (?1, ?2)")
            .await
            .db()?;
        for tag in &ep.context.tags {
            tags.execute((tag.as_str(), id.as_str())).await.db()?;
            tags.reset();
        }
    }
    if !ep.steps.is_empty() {
        let steps = conn.prepare(STEP_INSERT).await.db()?;
        for step in &ep.steps {
            steps
                .execute(step_params(ep.id, step.step_number, step))
                .await
                .db()?;
            steps.reset();
        }
    }
    Ok(())
}

#[async_trait]
impl EpisodeStore for TursoStore {
    async fn insert_episode(&self, episode: &Episode) -> Result<Revision> {
        validate::episode(episode)?;
        let ep = episode.clone();
        self.write(move |conn| async move {
            if state(&conn, ep.id).await?.is_some() {
                return Err(Error::AlreadyExists {
                    kind: "episode",
                    id: ep.id.to_string(),
                });
            }
            let revision = next_revision(&conn).await?;
            write_episode(&conn, &ep, revision).await?;
            Ok(revision)
        })
        .await
    }

    async fn append_step(&self, id: EpisodeId, step: &ExecutionStep) -> Result<Appended> {
        validate::step(step)?;
        let step = step.clone();
        self.write(move |conn| async move {
            let count = match state(&conn, id).await? {
                None => return Err(Error::episode_not_found(id)),
                Some((true, _)) => return Err(Error::AlreadyCompleted { id: id.to_string() }),
                Some((false, count)) => count,
            };
            if count as usize >= validate::MAX_STEPS {
                return Err(Error::validation(
                    "steps",
                    format!(
                        "episode {id} already has {count} steps; the limit is {}",
                        validate::MAX_STEPS
                    ),
                ));
            }
            let number = count + 1;
            let revision = next_revision(&conn).await?;
            conn.execute(STEP_INSERT, step_params(id, number, &step))
                .await
                .db()?;
            conn.execute(
                "UPDATE episodes SET step_count = ?1, revision = ?2 WHERE id = ?3",
                (i64::from(number), revision as i64, id.to_string()),
            )
            .await
            .db()?;
            Ok(Appended {
                step_number: number,
                revision,
            })
        })
        .await
    }

    async fn complete_episode(&self, episode: &Episode) -> Result<Revision> {
        validate::episode(episode)?;
        if !episode.is_completed() {
            return Err(Error::validation(
                "outcome",
                "a completed episode needs an outcome",
            ));
        }
        let ep = episode.clone();
        self.write(move |conn| async move {
            match state(&conn, ep.id).await? {
                None => return Err(Error::episode_not_found(ep.id)),
                Some((true, _)) => return Err(Error::AlreadyCompleted { id: ep.id.to_string() }),
                Some((false, count)) if count as usize != ep.steps.len() => {
                    return Err(Error::Conflict { id: ep.id.to_string() });
                }
                Some(_) => {}
            }
            let revision = next_revision(&conn).await?;
            let params = episode_params(&ep, revision);
            // Columns 10..16 of `episode_params`: end_time, outcome_kind, outcome, reward_total, reward, reflection.
            let completion: Vec<Value> = params[10..16]
                .iter()
                .cloned()
                .chain([Value::Integer(revision as i64), Value::Text(ep.id.to_string())])
                .collect();
            conn.execute(
                "UPDATE episodes SET end_time = ?1, outcome_kind = ?2, outcome = ?3, reward_total = ?4, \
                 reward = ?5, reflection = ?6, revision = ?7 WHERE id = ?8",
                completion,
            )
            .await
            .db()?;
            Ok(revision)
        })
        .await
    }

    async fn get_episode(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
        // One read transaction, so the row and its steps come from the same snapshot.
        self.read(move |conn| {
            transaction(
                conn,
                TransactionBehavior::Deferred,
                move |conn| async move { read_episode(&conn, id).await },
            )
        })
        .await
    }

    async fn delete_episode(&self, id: EpisodeId) -> Result<Option<Revision>> {
        self.write(move |conn| async move {
            if state(&conn, id).await?.is_none() {
                return Ok(None);
            }
            let revision = next_revision(&conn).await?;
            let key = id.to_string();
            for sql in [
                "DELETE FROM steps WHERE episode_id = ?1",
                "DELETE FROM episode_tags WHERE episode_id = ?1",
                "DELETE FROM episodes WHERE id = ?1",
            ] {
                conn.execute(sql, [key.clone()]).await.db()?;
            }
            conn.execute(
                "INSERT OR REPLACE INTO episode_tombstones (id, revision) VALUES (?1, ?2)",
                (key, revision as i64),
            )
            .await
            .db()?;
            Ok(Some(revision))
        })
        .await
    }

    async fn list_episodes(&self, query: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        query.validate()?;
        let (sql, params) = list_sql(query);
        self.read(move |conn| async move {
            let mut rows = conn.query(&sql, params).await.db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                out.push(summary_from_row(&row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn import_episodes(&self, episodes: &[Episode]) -> Result<Revision> {
        for (i, ep) in episodes.iter().enumerate() {
            validate::episode(ep).map_err(|e| match e {
                Error::Validation { field, message } => Error::Validation {
                    field: format!("episodes[{i}].{field}"),
                    message,
                },
                other => other,
            })?;
        }
        let episodes = episodes.to_vec();
        self.write(move |conn| async move {
            let revision = next_revision(&conn).await?;
            for ep in &episodes {
                write_episode(&conn, ep, revision).await?;
            }
            Ok(revision)
        })
        .await
    }
}

async fn read_episode(conn: &Connection, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
    let mut rows = conn
        .query(
            &format!("SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = ?1"),
            [id.to_string()],
        )
        .await
        .db()?;
    let Some(row) = rows.next().await.db()? else {
        return Ok(None);
    };
    let (mut episode, revision, count) = episode_from_row(&row)?;
    drop(rows);
    episode.steps = read_steps(conn, id, count).await?;
    Ok(Some(Versioned {
        revision,
        value: episode,
    }))
}

fn list_sql(query: &EpisodeQuery) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut bind = |clause: &str, value: Value| {
        params.push(value);
        clauses.push(clause.replace('?', &format!("?{}", params.len())));
    };
    if let Some(domain) = &query.domain {
        bind("domain = ?", Value::Text(domain.clone()));
    }
    if let Some(task_type) = query.task_type {
        bind("task_type = ?", Value::Text(task_type.as_str().into()));
    }
    if let Some(tag) = &query.tag {
        bind(
            "id IN (SELECT episode_id FROM episode_tags WHERE tag = ?)",
            Value::Text(tag.clone()),
        );
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

    async fn changes_since(&self, after: Revision) -> Result<Vec<Change>> {
        self.read(move |conn| async move {
            let mut rows = conn
                .query(
                    "SELECT id, revision FROM episodes WHERE revision > ?1 \
                     UNION ALL SELECT id, revision FROM episode_tombstones WHERE revision > ?1 \
                     ORDER BY revision",
                    [after as i64],
                )
                .await
                .db()?;
            let mut changes = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                let id: String = row.get(0).db()?;
                changes.push(Change {
                    id: id.parse().map_err(|e| corrupt("episode id", e))?,
                    revision: row.get::<i64>(1).db()? as Revision,
                });
            }
            Ok(changes)
        })
        .await
    }
}
