//! Reports over imported sessions, computed by SQL inside libSQL: activity per project, a daily timeline, tool
//! and component use with error rates, errors with samples, and one session reconstructed.
//!
//! Activity, timeline and tools read the per-session, per-day counts (`rollup.rs`), so they cover whole UTC days:
//! `since` and `until` are widened to the days that hold them. Errors read the partial index of error messages,
//! and a session its own index; none loads the messages into memory.

use libsql::Value;
use memory_core::{Result, Timestamp};

use crate::{TursoStore, db::Db, error::MapErr as _, rollup::DAY_MICROS};

/// Which messages a report covers: a time range (from `since`, before `until`) and a project.
#[derive(Clone, Debug, Default)]
pub struct ReportFilter {
    /// The first instant covered.
    pub since: Option<Timestamp>,
    /// The first instant not covered.
    pub until: Option<Timestamp>,
    /// Only this project.
    pub project: Option<String>,
}

impl ReportFilter {
    /// Bounds in microseconds, and the project.
    fn params(&self) -> Vec<Value> {
        vec![
            Value::Integer(self.since.map_or(i64::MIN, Timestamp::as_micros)),
            Value::Integer(self.until.map_or(i64::MAX, Timestamp::as_micros)),
            self.project.clone().map_or(Value::Null, Value::Text),
        ]
    }

    /// Bounds in days since the epoch, widened to whole days, and the project.
    fn day_params(&self) -> Vec<Value> {
        let since = self
            .since
            .map_or(i64::MIN, |t| t.as_micros().div_euclid(DAY_MICROS));
        let until = self.until.map_or(i64::MAX, |t| {
            let micros = t.as_micros();
            micros.div_euclid(DAY_MICROS) + i64::from(micros.rem_euclid(DAY_MICROS) != 0)
        });
        vec![
            Value::Integer(since),
            Value::Integer(until),
            self.project.clone().map_or(Value::Null, Value::Text),
        ]
    }
}

/// One value of a report.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Nothing.
    Null,
    /// A count or a number.
    Int(i64),
    /// A rate.
    Real(f64),
    /// Text, and times (RFC 3339).
    Text(String),
}

/// A report's table: named columns and rows of cells.
#[derive(Clone, Debug)]
pub struct Table {
    /// What it shows.
    pub name: &'static str,
    /// The column names.
    pub columns: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

/// How each column of a query becomes a cell.
#[derive(Clone, Copy)]
enum Col {
    Int,
    Real,
    Text,
    /// Microseconds since the epoch, shown as a time.
    Time,
    /// Days since the epoch, shown as a date.
    Day,
}

/// The filter of the queries over the daily counts, bound from [`ReportFilter::day_params`] (a literal, for
/// `concat!`).
macro_rules! days {
    () => {
        "day >= ?1 AND day < ?2 AND (?3 IS NULL OR project = ?3)"
    };
}

impl TursoStore {
    /// Per project: sessions, messages, what the users asked, tool calls, errors, first and last message.
    pub async fn report_activity(&self, filter: &ReportFilter) -> Result<Table> {
        const SQL: &str = concat!(
            "SELECT project, count(DISTINCT session_id), sum(messages), sum(user_messages), sum(tool_calls), \
             sum(errors), min(first_at), max(last_at) FROM session_days WHERE ",
            days!(),
            " GROUP BY project ORDER BY sum(messages) DESC, project"
        );
        self.table(
            "activity",
            SQL,
            filter.day_params(),
            &[
                ("project", Col::Text),
                ("sessions", Col::Int),
                ("messages", Col::Int),
                ("user_messages", Col::Int),
                ("tool_calls", Col::Int),
                ("errors", Col::Int),
                ("first", Col::Time),
                ("last", Col::Time),
            ],
        )
        .await
    }

    /// Per day (UTC): sessions active, messages, tool calls and errors.
    pub async fn report_timeline(&self, filter: &ReportFilter) -> Result<Table> {
        const SQL: &str = concat!(
            "SELECT day, count(DISTINCT session_id), sum(messages), sum(tool_calls), sum(errors) \
             FROM session_days WHERE ",
            days!(),
            " GROUP BY day ORDER BY day"
        );
        self.table(
            "timeline",
            SQL,
            filter.day_params(),
            &[
                ("day", Col::Day),
                ("sessions", Col::Int),
                ("messages", Col::Int),
                ("tool_calls", Col::Int),
                ("errors", Col::Int),
            ],
        )
        .await
    }

    /// Per tool (Claude Code) or component (generic logs): uses, errors and the error rate, most used first.
    pub async fn report_tools(&self, filter: &ReportFilter) -> Result<Table> {
        const SQL: &str = concat!(
            "SELECT name, kind, sum(uses) AS total, sum(errors), \
             round(1.0 * sum(errors) / max(sum(uses), 1), 4), count(DISTINCT session_id) \
             FROM session_day_tools WHERE ",
            days!(),
            " GROUP BY name ORDER BY total DESC, name"
        );
        self.table(
            "tools",
            SQL,
            filter.day_params(),
            &[
                ("name", Col::Text),
                ("kind", Col::Text),
                ("uses", Col::Int),
                ("errors", Col::Int),
                ("error_rate", Col::Real),
                ("sessions", Col::Int),
            ],
        )
        .await
    }

    /// Errors per tool or component (most first), and up to `samples` of the latest of each, with where they
    /// were read.
    pub async fn report_errors(&self, filter: &ReportFilter, samples: u32) -> Result<Vec<Table>> {
        const GROUPS: &str = "SELECT coalesce(tool, component, role) AS name, count(*), \
             count(DISTINCT session_id), min(at), max(at) FROM session_messages INDEXED BY session_messages_errors \
             WHERE is_error = 1 AND at >= ?1 AND at < ?2 AND (?3 IS NULL OR project = ?3) \
             GROUP BY name ORDER BY count(*) DESC, name";
        const SAMPLES: &str = concat!(
            "SELECT m.at, m.project, m.session_id, s.path || ':' || m.line, substr(m.content, 1, 300) \
             FROM session_messages m INDEXED BY session_messages_errors \
             JOIN import_sources s ON s.id = m.source_id \
             WHERE m.is_error = 1 AND coalesce(m.tool, m.component, m.role) = ?4 AND ",
            "m.at >= ?1 AND m.at < ?2 AND (?3 IS NULL OR m.project = ?3)",
            " ORDER BY m.at DESC LIMIT ?5"
        );
        let groups = self
            .table(
                "errors",
                GROUPS,
                filter.params(),
                &[
                    ("name", Col::Text),
                    ("errors", Col::Int),
                    ("sessions", Col::Int),
                    ("first", Col::Time),
                    ("last", Col::Time),
                ],
            )
            .await?;
        let columns = [
            ("at", Col::Time),
            ("project", Col::Text),
            ("session_id", Col::Text),
            ("source", Col::Text),
            ("message", Col::Text),
        ];
        let mut sampled = Table {
            name: "samples",
            columns: std::iter::once("name")
                .chain(columns.iter().map(|c| c.0))
                .collect(),
            rows: Vec::new(),
        };
        for group in &groups.rows {
            let name = group[0].clone();
            let mut params = filter.params();
            params.push(match &name {
                Cell::Text(n) => Value::Text(n.clone()),
                _ => Value::Null,
            });
            params.push(Value::Integer(samples.into()));
            let rows = self.table("samples", SAMPLES, params, &columns).await?;
            sampled.rows.extend(
                rows.rows
                    .into_iter()
                    .map(|row| std::iter::once(name.clone()).chain(row).collect()),
            );
        }
        Ok(vec![groups, sampled])
    }

    /// The ordered messages of one session (in `project`, or in any project).
    pub async fn report_session(&self, session_id: &str, project: Option<&str>) -> Result<Table> {
        const SQL: &str = "SELECT m.at, m.project, m.role, coalesce(m.tool, m.component), m.is_error, \
             s.path || ':' || m.line, m.content FROM session_messages m JOIN import_sources s ON s.id = m.source_id \
             WHERE m.session_id = ?1 AND (?2 IS NULL OR m.project = ?2) ORDER BY m.at, m.id";
        let params = vec![
            Value::Text(session_id.to_string()),
            project.map_or(Value::Null, |p| Value::Text(p.to_string())),
        ];
        self.table(
            "session",
            SQL,
            params,
            &[
                ("at", Col::Time),
                ("project", Col::Text),
                ("role", Col::Text),
                ("tool", Col::Text),
                ("error", Col::Int),
                ("source", Col::Text),
                ("content", Col::Text),
            ],
        )
        .await
    }

    async fn table(
        &self,
        name: &'static str,
        sql: &'static str,
        params: Vec<Value>,
        columns: &[(&'static str, Col)],
    ) -> Result<Table> {
        let kinds: Vec<Col> = columns.iter().map(|c| c.1).collect();
        let rows = self
            .read(|db: Db| async move {
                db.query_map(sql, params, |row| {
                    kinds
                        .iter()
                        .enumerate()
                        .map(|(i, kind)| cell(row.get_value(i as i32).db()?, *kind))
                        .collect()
                })
                .await
            })
            .await?;
        Ok(Table {
            name,
            columns: columns.iter().map(|c| c.0).collect(),
            rows,
        })
    }
}

fn cell(value: Value, kind: Col) -> Result<Cell> {
    Ok(match (value, kind) {
        (Value::Null, _) => Cell::Null,
        (Value::Integer(n), Col::Time) => Cell::Text(Timestamp::from_micros(n).to_string()),
        (Value::Integer(n), Col::Day) => Cell::Text(
            Timestamp::from_micros(n.saturating_mul(86_400_000_000))
                .to_datetime()
                .format("%Y-%m-%d")
                .to_string(),
        ),
        (Value::Integer(n), Col::Real) => Cell::Real(n as f64),
        (Value::Integer(n), _) => Cell::Int(n),
        (Value::Real(x), _) => Cell::Real(x),
        (Value::Text(s), _) => Cell::Text(s),
        (Value::Blob(b), _) => Cell::Text(format!("{} bytes", b.len())),
    })
}
