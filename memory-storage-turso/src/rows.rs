//! Encoding episodes and steps to SQL rows and back.

use std::sync::LazyLock;

use libsql::{Row, Value};
use memory_core::{
    Episode, EpisodeId, EpisodeSummary, ExecutionStep, Json, OutcomeKind, Result, Scope,
    StepResult, TaskContext, Timestamp,
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    db::Db,
    error::{MapErr, corrupt},
};

/// The columns of `episodes` that a summary needs, in [`summary_from_row`]'s order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, task_description, task_type, domain, language, framework, complexity, \
     tags, start_time, end_time, outcome_kind, reward_total, \
     (SELECT count(*) FROM steps WHERE steps.episode_id = episodes.id), scope";

fn json_text<T: Serialize>(value: &T) -> String {
    // The domain types serialise to JSON infallibly (no maps with non-string keys, no NaN produced by the code).
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn opt_json<T: Serialize>(value: &Option<T>) -> Value {
    match value {
        Some(v) => Value::Text(json_text(v)),
        None => Value::Null,
    }
}

fn opt_text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::Text)
}

/// Parameters for [`EPISODES`].
pub(crate) fn episode_params(ep: &Episode, revision: u64) -> Vec<Value> {
    vec![
        Value::Text(ep.id.to_string()),
        Value::Integer(revision as i64),
        Value::Text(ep.task_description.clone()),
        Value::Text(ep.task_type.as_str().into()),
        Value::Text(ep.context.domain.clone()),
        opt_text(&ep.context.language),
        opt_text(&ep.context.framework),
        Value::Text(ep.context.complexity.as_str().into()),
        Value::Text(json_text(&ep.context.tags)),
        Value::Integer(ep.start_time.as_micros()),
        ep.end_time
            .map_or(Value::Null, |t| Value::Integer(t.as_micros())),
        ep.outcome
            .as_ref()
            .map_or(Value::Null, |o| Value::Text(o.kind().as_str().into())),
        opt_json(&ep.outcome),
        ep.reward
            .as_ref()
            .map_or(Value::Null, |r| Value::Real(r.total)),
        opt_json(&ep.reward),
        opt_json(&ep.reflection),
        Value::Text(ep.metadata.to_text()),
        ep.scope
            .as_ref()
            .map_or(Value::Null, |s| Value::Text(s.as_str().into())),
    ]
}

/// A multi-row INSERT: the statement for one row and the one for [`Insert::CHUNK`] rows, built once.
pub(crate) struct Insert {
    one: LazyLock<String>,
    many: LazyLock<String>,
}

impl Insert {
    /// Rows per multi-row statement. Binding is per value, but parsing, planning and the call into SQLite are
    /// paid once per statement: in bulk imports that halves the cost of a row.
    pub(crate) const CHUNK: usize = 64;

    pub(crate) const fn new(one: fn() -> String, many: fn() -> String) -> Self {
        Insert {
            one: LazyLock::new(one),
            many: LazyLock::new(many),
        }
    }

    /// The single-row statement.
    pub(crate) fn one(&'static self) -> &'static str {
        self.one.as_str()
    }

    /// The [`Insert::CHUNK`]-row statement.
    pub(crate) fn many(&'static self) -> &'static str {
        self.many.as_str()
    }

    /// Inserts every row: full chunks with the multi-row statement, the rest one by one.
    pub(crate) async fn rows(&'static self, db: &Db, rows: Vec<Vec<Value>>) -> Result<()> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Value>> = rows.by_ref().take(Self::CHUNK).collect();
            if chunk.len() == Self::CHUNK {
                db.execute(
                    self.many.as_str(),
                    chunk.into_iter().flatten().collect::<Vec<_>>(),
                )
                .await?;
            } else {
                for row in chunk {
                    db.execute(self.one.as_str(), row).await?;
                }
            }
        }
        Ok(())
    }
}

/// `?first, ?first+1, …`: `n` numbered placeholders.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `head` followed by `rows` rows of `columns` placeholders.
pub(crate) fn insert_sql(head: &str, columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} {}", vec![row; rows].join(", "))
}

const EPISODE_HEAD: &str = "INSERT OR REPLACE INTO episodes (id, revision, task_description, task_type, domain, \
     language, framework, complexity, tags, start_time, end_time, outcome_kind, outcome, reward_total, reward, \
     reflection, metadata, scope) VALUES";
const STEP_HEAD: &str = "INSERT INTO steps (episode_id, step_number, timestamp, tool, action, parameters, \
     result_kind, result_text, latency_ms, tokens, revision) VALUES";
const TAG_HEAD: &str = "INSERT OR IGNORE INTO episode_tags (tag, episode_id) VALUES";

/// Inserts or replaces whole episode rows; bind with [`episode_params`].
pub(crate) static EPISODES: Insert = Insert::new(
    || insert_sql(EPISODE_HEAD, 18, 1),
    || insert_sql(EPISODE_HEAD, 18, Insert::CHUNK),
);
/// Inserts steps; bind with [`step_params`].
pub(crate) static STEPS: Insert = Insert::new(
    || insert_sql(STEP_HEAD, 11, 1),
    || insert_sql(STEP_HEAD, 11, Insert::CHUNK),
);
/// Inserts tags; bind with `(tag, episode_id)`.
pub(crate) static TAGS: Insert = Insert::new(
    || insert_sql(TAG_HEAD, 2, 1),
    || insert_sql(TAG_HEAD, 2, Insert::CHUNK),
);

/// Parameters for [`STEPS`].
pub(crate) fn step_params(
    id: EpisodeId,
    number: u32,
    step: &ExecutionStep,
    revision: u64,
) -> Vec<Value> {
    vec![
        Value::Text(id.to_string()),
        Value::Integer(i64::from(number)),
        Value::Integer(step.timestamp.as_micros()),
        Value::Text(step.tool.clone()),
        Value::Text(step.action.clone()),
        Value::Text(step.parameters.to_text()),
        Value::Text(step.result.kind().into()),
        Value::Text(step.result.text().into()),
        Value::Integer(i64::try_from(step.latency_ms).unwrap_or(i64::MAX)),
        step.tokens.map_or(Value::Null, |t| {
            Value::Integer(i64::try_from(t).unwrap_or(i64::MAX))
        }),
        Value::Integer(revision as i64),
    ]
}

fn text_enum<T: std::str::FromStr>(row: &Row, idx: i32, what: &str) -> Result<T> {
    let text: String = row.get(idx).db()?;
    text.parse()
        .map_err(|_| corrupt(what, format!("unknown value {text:?}")))
}

/// Decodes a row selected with [`SUMMARY_COLUMNS`] (or [`READ_EPISODE`]).
pub(crate) fn summary_from_row(row: &Row) -> Result<EpisodeSummary> {
    let id: String = row.get(0).db()?;
    Ok(EpisodeSummary {
        id: id.parse().map_err(|e| corrupt("episode id", e))?,
        task_description: row.get(1).db()?,
        task_type: text_enum(row, 2, "task_type")?,
        context: TaskContext {
            domain: row.get(3).db()?,
            language: row.get(4).db()?,
            framework: row.get(5).db()?,
            complexity: text_enum(row, 6, "complexity")?,
            tags: from_json("tags", &row.get::<String>(7).db()?)?,
        },
        start_time: Timestamp::from_micros(row.get(8).db()?),
        end_time: row.get::<Option<i64>>(9).db()?.map(Timestamp::from_micros),
        outcome: match row.get::<Option<String>>(10).db()? {
            Some(kind) => Some(
                kind.parse::<OutcomeKind>()
                    .map_err(|e| corrupt("outcome_kind", e))?,
            ),
            None => None,
        },
        reward: row.get(11).db()?,
        step_count: u32::try_from(row.get::<i64>(12).db()?)
            .map_err(|e| corrupt("step_count", e))?,
        scope: row
            .get::<Option<String>>(13)
            .db()?
            .map(|s| Scope::new(s).map_err(|e| corrupt("scope", e)))
            .transpose()?,
    })
}

/// Decodes the episode columns of a [`READ_EPISODE`] row; returns the episode without steps and the revision of
/// its row.
fn episode_from_row(row: &Row) -> Result<(Episode, u64)> {
    let summary = summary_from_row(row)?;
    let revision = row.get::<i64>(14).db()? as u64;
    let opt = |idx: i32| row.get::<Option<String>>(idx).db();
    let episode = Episode {
        id: summary.id,
        task_description: summary.task_description,
        task_type: summary.task_type,
        context: summary.context,
        start_time: summary.start_time,
        end_time: summary.end_time,
        steps: Vec::new(),
        outcome: opt(15)?.map(|t| from_json("outcome", &t)).transpose()?,
        reward: opt(16)?.map(|t| from_json("reward", &t)).transpose()?,
        reflection: opt(17)?.map(|t| from_json("reflection", &t)).transpose()?,
        metadata: Json::from_stored(row.get::<String>(18).db()?)
            .map_err(|e| corrupt("metadata", e))?,
        scope: summary.scope,
    };
    Ok((episode, revision))
}

/// Reads an episode with its steps in one statement, so the row and its steps come from one snapshot.
pub(crate) async fn read_episode(db: &Db, id: EpisodeId) -> Result<Option<(Episode, u64)>> {
    let mut head: Option<(Episode, u64)> = None;
    let mut steps = Vec::new();
    db.query_map(READ_EPISODE, [id.to_string()], |row| {
        if head.is_none() {
            head = Some(episode_from_row(row)?);
        }
        if let Some(number) = row.get::<Option<i64>>(STEP_OFFSET).db()? {
            steps.push(step_from_row(row, number)?);
            // The episode's revision is that of its latest write: its row's or its newest step's.
            let step_revision = row.get::<i64>(STEP_OFFSET + 9).db()? as u64;
            if let Some((_, revision)) = &mut head {
                *revision = (*revision).max(step_revision);
            }
        }
        Ok(())
    })
    .await?;
    let Some((mut episode, revision)) = head else {
        return Ok(None);
    };
    if let Some((i, step)) = steps
        .iter()
        .enumerate()
        .find(|(i, s)| s.step_number as usize != i + 1)
    {
        return Err(corrupt(
            "steps",
            format!(
                "episode {id}: step {} is stored where step {} belongs",
                step.step_number,
                i + 1
            ),
        ));
    }
    episode.steps = steps;
    Ok(Some((episode, revision)))
}

/// Index of the first step column in [`READ_EPISODE`].
const STEP_OFFSET: i32 = 19;

const READ_EPISODE: &str = "SELECT e.id, e.task_description, e.task_type, e.domain, e.language, e.framework, \
     e.complexity, e.tags, e.start_time, e.end_time, e.outcome_kind, e.reward_total, 0, e.scope, e.revision, \
     e.outcome, e.reward, e.reflection, e.metadata, \
     s.step_number, s.timestamp, s.tool, s.action, s.parameters, s.result_kind, s.result_text, s.latency_ms, s.tokens, \
     s.revision \
     FROM episodes e LEFT JOIN steps s ON s.episode_id = e.id \
     WHERE e.id = ?1 ORDER BY s.step_number";

fn step_from_row(row: &Row, number: i64) -> Result<ExecutionStep> {
    let at = |i: i32| STEP_OFFSET + i;
    let kind: String = row.get(at(5)).db()?;
    let text: String = row.get(at(6)).db()?;
    Ok(ExecutionStep {
        step_number: u32::try_from(number).map_err(|e| corrupt("step_number", e))?,
        timestamp: Timestamp::from_micros(row.get(at(1)).db()?),
        tool: row.get(at(2)).db()?,
        action: row.get(at(3)).db()?,
        parameters: Json::from_stored(row.get::<String>(at(4)).db()?)
            .map_err(|e| corrupt("parameters", e))?,
        result: StepResult::from_parts(&kind, text)
            .ok_or_else(|| corrupt("result_kind", format!("unknown value {kind:?}")))?,
        latency_ms: row.get::<i64>(at(7)).db()?.max(0) as u64,
        tokens: row.get::<Option<i64>>(at(8)).db()?.map(|t| t.max(0) as u64),
    })
}
