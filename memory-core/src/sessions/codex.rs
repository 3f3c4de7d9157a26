//! Codex CLI's rollout logs (`~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`): one
//! `{"timestamp", "type", "payload"}` per line. `session_meta` opens the file (the session's id and working
//! directory); `response_item`s hold the conversation: `message`s, tool calls (`function_call`,
//! `custom_tool_call`, `local_shell_call`) and their outputs. `event_msg`s repeat the same messages for the
//! terminal (and count tokens), `turn_context` and `reasoning` carry no message: all are skipped.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Line, Provenance, Role, SessionMessage, kind_of, text_field, timestamp};

type Event = Map<String, Value>;

/// The event types of a rollout line.
const TYPES: [&str; 5] = [
    "session_meta",
    "turn_context",
    "response_item",
    "event_msg",
    "compacted",
];

/// What the lines read so far said about the session.
#[derive(Debug, Default)]
pub(super) struct Session {
    id: Option<String>,
    project: Option<String>,
    tools: HashMap<String, String>,
}

/// Whether `event` is a rollout line: one of its types with an object `payload`.
pub(super) fn is_event(event: &Event) -> bool {
    matches!(event.get("type"), Some(Value::String(t)) if TYPES.contains(&t.as_str()))
        && matches!(event.get("payload"), Some(Value::Object(_)))
}

pub(super) fn parse(
    event: &Event,
    at: Provenance,
    project: Option<&str>,
    session: &mut Session,
) -> Result<Line, String> {
    let Some(Value::Object(payload)) = event.get("payload") else {
        return Err("`payload` is not an object".into());
    };
    match event.get("type").and_then(Value::as_str) {
        Some("session_meta") => {
            session.id = Some(text_field(payload, "id")?.to_string());
            session.project = payload
                .get("cwd")
                .and_then(Value::as_str)
                .and_then(super::last_component);
            return Ok(Line::Skipped);
        }
        Some("turn_context") if session.project.is_none() => {
            session.project = payload
                .get("cwd")
                .and_then(Value::as_str)
                .and_then(super::last_component);
            return Ok(Line::Skipped);
        }
        Some("response_item") => {}
        _ => return Ok(Line::Skipped),
    }
    let Some(item) = item(payload, &mut session.tools)? else {
        return Ok(Line::Skipped);
    };
    let session_id = match &session.id {
        Some(id) => id.clone(),
        None => session_of(&at.file).ok_or(
            "a response item before the `session_meta` line, in a file whose name holds no session id",
        )?,
    };
    let project = project
        .or(session.project.as_deref())
        .ok_or("no working directory in `session_meta`: no project (pass --project)")?
        .to_string();
    let message = SessionMessage::new(
        project,
        session_id,
        timestamp(event)?,
        item.role,
        item.content,
        at,
    );
    Ok(Line::Messages(vec![SessionMessage {
        tool: item.tool,
        call_id: item.call_id,
        is_error: item.is_error,
        ..message
    }]))
}

/// What a response item says: a message, a tool call or a tool's output.
struct Item {
    role: Role,
    content: String,
    tool: Option<String>,
    call_id: Option<String>,
    is_error: bool,
}

impl Item {
    fn new(role: Role, content: String) -> Self {
        Self {
            role,
            content,
            tool: None,
            call_id: None,
            is_error: false,
        }
    }
}

/// What a response item holds, if it is part of the conversation.
fn item(payload: &Event, tools: &mut HashMap<String, String>) -> Result<Option<Item>, String> {
    Ok(Some(match payload.get("type").and_then(Value::as_str) {
        Some("message") => {
            let role = match payload.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                // Developer and system instructions are the harness's, not the conversation's.
                _ => return Ok(None),
            };
            let text = message_text(payload.get("content"))?;
            // Codex sends its environment and the user's instructions file as user messages.
            if text.trim().is_empty() || is_harness_text(&text) {
                return Ok(None);
            }
            Item::new(role, text)
        }
        Some(kind @ ("function_call" | "custom_tool_call" | "local_shell_call")) => {
            let call_id = text_field(payload, "call_id")?.to_string();
            let (name, input) = match kind {
                "function_call" => (
                    text_field(payload, "name")?.to_string(),
                    string_or_json(payload.get("arguments")),
                ),
                "custom_tool_call" => (
                    text_field(payload, "name")?.to_string(),
                    string_or_json(payload.get("input")),
                ),
                _ => ("shell".to_string(), string_or_json(payload.get("action"))),
            };
            tools.insert(call_id.clone(), name.clone());
            Item {
                tool: Some(name),
                call_id: Some(call_id),
                ..Item::new(Role::ToolUse, input)
            }
        }
        Some("function_call_output" | "custom_tool_call_output") => {
            let call_id = text_field(payload, "call_id")?.to_string();
            let (content, is_error) = output(payload.get("output"))?;
            Item {
                tool: tools.get(&call_id).cloned(),
                call_id: Some(call_id),
                is_error,
                ..Item::new(Role::ToolResult, content)
            }
        }
        // Reasoning (often encrypted), web searches and whatever comes next: not messages.
        Some(_) => return Ok(None),
        None => return Err("a response item without `type`".into()),
    }))
}

/// A message's text: its `input_text` / `output_text` parts, joined.
fn message_text(content: Option<&Value>) -> Result<String, String> {
    match content {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")),
        Some(other) => Err(format!(
            "a message's `content` is {}, not text or parts",
            kind_of(other)
        )),
        None => Err("a message without `content`".into()),
    }
}

/// Whether a user message is one Codex wrote itself: the environment, the instructions files.
fn is_harness_text(text: &str) -> bool {
    let text = text.trim_start();
    [
        "<environment_context>",
        "<user_instructions>",
        "# AGENTS.md instructions",
    ]
    .iter()
    .any(|tag| text.starts_with(tag))
}

/// A tool's input as text: a string as it is, anything else as JSON.
fn string_or_json(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A tool's output and whether it failed. Outputs are text (`Exit code: N` on its first line for commands),
/// JSON text (`{"output", "metadata": {"exit_code"}}`), or an object with `content` and `success`.
fn output(value: Option<&Value>) -> Result<(String, bool), String> {
    let object = match value {
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) if object.contains_key("output") => object,
            _ => return Ok((text.clone(), exit_code_line(text).is_some_and(|c| c != 0))),
        },
        Some(Value::Object(object)) => object.clone(),
        None | Some(Value::Null) => return Ok((String::new(), false)),
        Some(other) => {
            return Err(format!(
                "a tool output is {}, not text or an object",
                kind_of(other)
            ));
        }
    };
    let text = ["output", "content"]
        .iter()
        .find_map(|key| object.get(*key))
        .map(|v| match v {
            Value::String(text) => text.clone(),
            other => message_text(Some(other)).unwrap_or_else(|_| other.to_string()),
        })
        .unwrap_or_default();
    let exit_code = object
        .get("metadata")
        .and_then(|m| m.get("exit_code"))
        .and_then(Value::as_i64);
    let failed = object.get("success").and_then(Value::as_bool) == Some(false)
        || exit_code.is_some_and(|c| c != 0)
        || (exit_code.is_none() && exit_code_line(&text).is_some_and(|c| c != 0));
    Ok((text, failed))
}

/// The code of an `Exit code: N` first line.
fn exit_code_line(text: &str) -> Option<i64> {
    text.lines()
        .next()?
        .trim()
        .strip_prefix("Exit code:")?
        .trim()
        .parse()
        .ok()
}

/// The session id in a rollout file's name: the UUID that ends `rollout-<time>-<uuid>.jsonl`.
fn session_of(file: &str) -> Option<String> {
    let name = file.rsplit(['/', '\\']).next()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let stem = stem.strip_suffix(".jsonl")?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    let uuid_shaped = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    uuid_shaped.then(|| id.to_string())
}
