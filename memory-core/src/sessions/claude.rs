//! Claude Code's project logs (`~/.claude/projects/<dir>/<session>.jsonl`).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Line, Provenance, Role, SessionMessage, kind_of, text_field, timestamp};
use crate::Json;

type Event = Map<String, Value>;

/// Whether `event` is one of Claude Code's: a `type` and a `sessionId`, or one of the bookkeeping events that
/// carry neither a session nor a message.
pub(super) fn is_event(event: &Event) -> bool {
    let Some(Value::String(kind)) = event.get("type") else {
        return false;
    };
    event.contains_key("sessionId") || matches!(kind.as_str(), "summary" | "file-history-snapshot")
}

pub(super) fn parse(
    event: &Event,
    at: Provenance,
    project: Option<&str>,
    tools: &mut HashMap<String, String>,
) -> Result<Line, String> {
    let role = match event.get("type").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        // System notices, summaries, snapshots, queue operations: no message.
        _ => return Ok(Line::Skipped),
    };
    let session_id = text_field(event, "sessionId")?;
    let when = timestamp(event)?;
    let project = match project {
        Some(project) => project.to_string(),
        None => project_of(event)?,
    };
    let Some(message) = event.get("message") else {
        return Err("a user or assistant event without `message`".into());
    };
    let Value::Object(message) = message else {
        return Err(format!("`message` is {}, not an object", kind_of(message)));
    };
    let metadata = metadata(event, message);
    let base = SessionMessage {
        metadata,
        ..SessionMessage::new(
            project,
            session_id.to_string(),
            when,
            role,
            String::new(),
            at,
        )
    };
    let messages = match message.get("content") {
        Some(Value::String(text)) => vec![SessionMessage {
            content: text.clone(),
            ..base
        }],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .enumerate()
            .map(|(i, block)| {
                parse_block(block, &base, tools).map_err(|e| format!("block {i}: {e}"))
            })
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`message.content` is {}, not text or blocks",
                kind_of(other)
            ));
        }
        None => return Err("`message.content` is missing".into()),
    };
    Ok(if messages.is_empty() {
        Line::Skipped
    } else {
        Line::Messages(messages)
    })
}

/// One content block: text, a tool call or a tool's result. Reasoning and media blocks are not messages.
fn parse_block(
    block: &Value,
    base: &SessionMessage,
    tools: &mut HashMap<String, String>,
) -> Result<Option<SessionMessage>, String> {
    let Value::Object(block) = block else {
        return Err(format!("{}, not an object", kind_of(block)));
    };
    let message = match block.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = text_field(block, "text")?;
            SessionMessage {
                content: text.to_string(),
                ..base.clone()
            }
        }
        Some("tool_use") => {
            let id = text_field(block, "id")?;
            let name = text_field(block, "name")?;
            tools.insert(id.to_string(), name.to_string());
            let input = block.get("input").cloned().unwrap_or(json!({}));
            SessionMessage {
                role: Role::ToolUse,
                tool: Some(name.to_string()),
                call_id: Some(id.to_string()),
                content: input.to_string(),
                ..base.clone()
            }
        }
        Some("tool_result") => {
            let id = text_field(block, "tool_use_id")?;
            SessionMessage {
                role: Role::ToolResult,
                tool: tools.get(id).cloned(),
                call_id: Some(id.to_string()),
                is_error: block.get("is_error").and_then(Value::as_bool) == Some(true),
                content: result_text(block.get("content"))?,
                ..base.clone()
            }
        }
        Some(_) => return Ok(None),
        None => return Err("a content block without `type`".into()),
    };
    Ok(Some(message))
}

/// A tool result's content: text, or blocks whose text is joined (media become a marker).
fn result_text(content: Option<&Value>) -> Result<String, String> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .map(|part| match part.get("text").and_then(Value::as_str) {
                Some(text) => text.to_string(),
                None => format!(
                    "[{}]",
                    part.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("content")
                ),
            })
            .collect::<Vec<_>>()
            .join("\n")),
        Some(other) => Err(format!(
            "a tool result's `content` is {}, not text or blocks",
            kind_of(other)
        )),
    }
}

/// The project is the last component of the working directory.
fn project_of(event: &Event) -> Result<String, String> {
    let cwd = text_field(event, "cwd").map_err(|e| format!("{e}: no project (pass --project)"))?;
    super::last_component(cwd).ok_or_else(|| {
        format!(
            "`cwd` {} names no directory: no project (pass --project)",
            crate::validate::quoted(cwd)
        )
    })
}

/// What else is worth keeping: the event's ids, the branch, the working directory, the model and its usage.
fn metadata(event: &Event, message: &Map<String, Value>) -> Json {
    let mut kept = Map::new();
    for key in ["uuid", "parentUuid", "gitBranch", "cwd", "version"] {
        if let Some(value) = event.get(key).filter(|v| !v.is_null()) {
            kept.insert(key.to_string(), value.clone());
        }
    }
    for key in ["model", "usage"] {
        if let Some(value) = message.get(key).filter(|v| !v.is_null()) {
            kept.insert(key.to_string(), value.clone());
        }
    }
    Json::new(&Value::Object(kept))
}
