//! What the reports count, per session and day (UTC), kept up to date in the transaction that stores the
//! messages: `session_days` (messages, requests, tool calls, errors, first and last message) and
//! `session_day_tools` (uses and errors per tool or component). A report reads a few rows per session instead of
//! every message.

use std::collections::BTreeMap;

use libsql::Value;
use memory_core::{
    Result,
    sessions::{Role, SessionMessage},
};

use crate::db::Db;

/// Microseconds in a day.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// What a stored message adds to the counts.
pub(crate) struct Counted {
    day: i64,
    project: String,
    session_id: String,
    role: Role,
    /// The tool or component, and which of the two it is.
    name: Option<(String, &'static str)>,
    is_error: bool,
    at: i64,
}

impl Counted {
    pub(crate) fn of(m: &SessionMessage) -> Self {
        let name = match (&m.tool, &m.component) {
            (Some(tool), _) => Some((tool.clone(), "tool")),
            (None, Some(component)) => Some((component.clone(), "component")),
            (None, None) => None,
        };
        let at = m.at.as_micros();
        Counted {
            day: at.div_euclid(DAY_MICROS),
            project: m.project.clone(),
            session_id: m.session_id.clone(),
            role: m.role,
            name,
            is_error: m.is_error,
            at,
        }
    }
}

/// Uses and errors of a tool or component in a session's day, and which of the two it is.
struct Tool<'a> {
    kind: &'a str,
    uses: i64,
    errors: i64,
}

/// (day, project, session, tool or component)
type ToolKey<'a> = (i64, &'a str, &'a str, &'a str);

#[derive(Default)]
struct Day {
    messages: i64,
    user_messages: i64,
    tool_calls: i64,
    errors: i64,
    first_at: i64,
    last_at: i64,
}

/// Adds `messages` (the ones just stored) to the counts.
pub(crate) async fn add(db: &Db, messages: &[&Counted]) -> Result<()> {
    let mut days: BTreeMap<(i64, &str, &str), Day> = BTreeMap::new();
    let mut tools: BTreeMap<ToolKey<'_>, Tool<'_>> = BTreeMap::new();
    for m in messages {
        let day = days
            .entry((m.day, &m.project, &m.session_id))
            .or_insert_with(|| Day {
                first_at: m.at,
                last_at: m.at,
                ..Day::default()
            });
        day.messages += 1;
        day.user_messages += i64::from(m.role == Role::User);
        day.tool_calls += i64::from(m.role == Role::ToolUse);
        day.errors += i64::from(m.is_error);
        day.first_at = day.first_at.min(m.at);
        day.last_at = day.last_at.max(m.at);
        if let Some((name, kind)) = &m.name {
            let tool = tools
                .entry((m.day, &m.project, &m.session_id, name))
                .or_insert(Tool {
                    kind,
                    uses: 0,
                    errors: 0,
                });
            tool.uses += i64::from(matches!(m.role, Role::ToolUse | Role::Event));
            tool.errors += i64::from(m.is_error);
        }
    }
    for ((day, project, session), n) in days {
        db.execute(
            "INSERT INTO session_days (day, project, session_id, messages, user_messages, tool_calls, errors, \
             first_at, last_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (day, project, session_id) DO UPDATE SET messages = messages + excluded.messages, \
             user_messages = user_messages + excluded.user_messages, \
             tool_calls = tool_calls + excluded.tool_calls, errors = errors + excluded.errors, \
             first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)",
            vec![
                Value::Integer(day),
                Value::Text(project.into()),
                Value::Text(session.into()),
                Value::Integer(n.messages),
                Value::Integer(n.user_messages),
                Value::Integer(n.tool_calls),
                Value::Integer(n.errors),
                Value::Integer(n.first_at),
                Value::Integer(n.last_at),
            ],
        )
        .await?;
    }
    for ((day, project, session, name), tool) in tools {
        db.execute(
            "INSERT INTO session_day_tools (day, project, session_id, name, kind, uses, errors) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (day, project, session_id, name) DO UPDATE SET uses = uses + excluded.uses, \
             errors = errors + excluded.errors",
            vec![
                Value::Integer(day),
                Value::Text(project.into()),
                Value::Text(session.into()),
                Value::Text(name.into()),
                Value::Text(tool.kind.into()),
                Value::Integer(tool.uses),
                Value::Integer(tool.errors),
            ],
        )
        .await?;
    }
    Ok(())
}
