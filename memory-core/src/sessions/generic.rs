//! The generic form: one event per line with `content`, `timestamp`, `session_id` and `project`, and optionally
//! `component`, `level` and `metadata`.

use serde_json::{Map, Value};

use super::{Line, Provenance, Role, SessionMessage, kind_of, text_field, timestamp};
use crate::Json;

type Event = Map<String, Value>;

/// Whether `event` looks generic: it has `content` and `session_id`.
pub(super) fn is_event(event: &Event) -> bool {
    event.contains_key("content") && event.contains_key("session_id")
}

pub(super) fn parse(event: &Event, at: Provenance, project: Option<&str>) -> Result<Line, String> {
    let content = match event.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => return Err(format!("`content` is {}, not a string", kind_of(other))),
        None => return Err("`content` is missing".into()),
    };
    let session_id = text_field(event, "session_id")?.to_string();
    let at_time = timestamp(event)?;
    let project = match project {
        Some(project) => project.to_string(),
        None => text_field(event, "project")?.to_string(),
    };
    let component = optional(event, "component")?;
    let level = optional(event, "level")?.map(|l| l.to_ascii_lowercase());
    let metadata = match event.get("metadata") {
        None | Some(Value::Null) => Json::empty_object(),
        Some(value @ Value::Object(_)) => Json::new(value),
        Some(other) => return Err(format!("`metadata` is {}, not an object", kind_of(other))),
    };
    let is_error = matches!(level.as_deref(), Some("error" | "fatal" | "critical"));
    Ok(Line::Messages(vec![SessionMessage {
        project,
        session_id,
        at: at_time,
        role: Role::Event,
        tool: None,
        call_id: None,
        component,
        level,
        is_error,
        content,
        metadata,
        provenance: at,
    }]))
}

fn optional(event: &Event, name: &str) -> Result<Option<String>, String> {
    match event.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text_field(event, name).map(|s| Some(s.to_string())),
    }
}
