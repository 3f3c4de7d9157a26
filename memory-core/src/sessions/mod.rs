//! Coding-agent session logs: one message per line of JSON, parsed into [`SessionMessage`]s that keep where they
//! came from, and turned into an episode per session ([`episode`]) and searchable records.
//!
//! Three forms are read, told apart line by line:
//! - **Claude Code**'s project logs: events with `type` (`user`, `assistant`, …), `sessionId`, `timestamp`, `cwd`
//!   and a `message` whose content is text or blocks (`text`, `tool_use`, `tool_result`, `thinking`).
//! - **Codex CLI**'s rollouts: `{"timestamp", "type", "payload"}` lines (`session_meta`, `response_item`, …).
//! - **Generic**: `{"content", "timestamp", "session_id", "project"}` with optional `component`, `level` (`error`
//!   and `fatal` are errors) and `metadata` (an object).

mod claude;
mod codex;
mod episode;
mod generic;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub(crate) use episode::action;
pub use episode::{message_record, project_scope, session_episode};

use crate::{Json, Timestamp, validate::MAX_RECORD_CONTENT_BYTES};

/// Who or what a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// What the user asked or said.
    User,
    /// What the agent said.
    Assistant,
    /// A tool the agent called, with its input.
    ToolUse,
    /// What a tool returned.
    ToolResult,
    /// A line of a generic log.
    Event,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 5] = [
        Role::User,
        Role::Assistant,
        Role::ToolUse,
        Role::ToolResult,
        Role::Event,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::ToolUse => "tool_use",
            Role::ToolResult => "tool_result",
            Role::Event => "event",
        }
    }

    /// Parses a snake_case name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Where a message was read: the file, its line (from 1) and the byte offset of that line (in the decompressed
/// text for `.gz` files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The file, as given or found.
    pub file: String,
    /// The line, from 1.
    pub line: u64,
    /// The byte offset where the line starts.
    pub offset: u64,
}

/// One message of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionMessage {
    /// The project it belongs to.
    pub project: String,
    /// The session it is part of.
    pub session_id: String,
    /// When it was written.
    pub at: Timestamp,
    /// Who or what it is.
    pub role: Role,
    /// The tool called or answering (tool uses and results).
    pub tool: Option<String>,
    /// The id pairing a tool use with its result.
    pub call_id: Option<String>,
    /// The part of the system a generic event is about.
    pub component: Option<String>,
    /// A generic event's level (`info`, `error`, …).
    pub level: Option<String>,
    /// Whether it reports a failure (a tool result marked as an error, an `error` or `fatal` event).
    pub is_error: bool,
    /// Its text (for a tool use, its input as JSON).
    pub content: String,
    /// Whatever else the log said about it (an object).
    pub metadata: Json,
    /// Where it was read.
    pub provenance: Provenance,
}

impl SessionMessage {
    /// A message of `role` saying `content`, with no tool, component, level or metadata, and not an error.
    pub fn new(
        project: String,
        session_id: String,
        at: Timestamp,
        role: Role,
        content: String,
        provenance: Provenance,
    ) -> Self {
        Self {
            project,
            session_id,
            at,
            role,
            tool: None,
            call_id: None,
            component: None,
            level: None,
            is_error: false,
            content,
            metadata: Json::empty_object(),
            provenance,
        }
    }

    /// SHA-256 of what the message is, not where it was read: the same message imported again, from the same
    /// file or a copy, has the same hash.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [
            self.project.as_str(),
            self.session_id.as_str(),
            self.role.as_str(),
            &self.at.as_micros().to_string(),
            self.tool.as_deref().unwrap_or(""),
            self.call_id.as_deref().unwrap_or(""),
            self.component.as_deref().unwrap_or(""),
            self.level.as_deref().unwrap_or(""),
            &self.content,
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().into()
    }
}

/// What one line held.
#[derive(Debug)]
pub enum Line {
    /// Messages (an assistant event may hold text and several tool calls).
    Messages(Vec<SessionMessage>),
    /// An event that carries no message (a summary, a snapshot, a blank line).
    Skipped,
}

/// Reads the lines of one file in order, remembering which tool each call id named so results can say it.
pub struct SessionParser {
    file: String,
    project: Option<String>,
    tools: HashMap<String, String>,
    codex: codex::Session,
    secret_calls: std::collections::HashSet<String>,
}

impl SessionParser {
    /// A parser for `file`; `project`, when given, names the project of every message instead of the log.
    pub fn new(file: impl Into<String>, project: Option<String>) -> Self {
        SessionParser {
            file: file.into(),
            project,
            tools: HashMap::new(),
            codex: codex::Session::default(),
            secret_calls: Default::default(),
        }
    }

    /// Parses line `line` (from 1), which starts at byte `offset`. An error says why the line was rejected.
    pub fn parse(&mut self, text: &str, line: u64, offset: u64) -> Result<Line, String> {
        if text.trim().is_empty() {
            return Ok(Line::Skipped);
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let serde_json::Value::Object(event) = value else {
            return Err("not a JSON object".into());
        };
        let at = Provenance {
            file: self.file.clone(),
            line,
            offset,
        };
        let line = if codex::is_event(&event) {
            codex::parse(&event, at, self.project.as_deref(), &mut self.codex)?
        } else if claude::is_event(&event) {
            claude::parse(&event, at, self.project.as_deref(), &mut self.tools)?
        } else if generic::is_event(&event) {
            generic::parse(&event, at, self.project.as_deref())?
        } else {
            let mut keys: Vec<String> = event
                .keys()
                .take(8)
                .map(|k| match k.char_indices().nth(40) {
                    Some((cut, _)) => format!("{}…", &k[..cut]),
                    None => k.clone(),
                })
                .collect();
            keys.sort_unstable();
            return Err(format!(
                "unknown event shape (keys: {}): neither a Claude Code event (type, sessionId), a Codex one \
                 (timestamp, type, payload) nor a generic one (content, timestamp, session_id, project)",
                keys.join(", ")
            ));
        };
        let mut line = line;
        if let Line::Messages(messages) = &mut line {
            for message in messages.iter_mut() {
                self.keep_secrets_out(message);
            }
        }
        if let Line::Messages(messages) = &line
            && let Some(long) = messages
                .iter()
                .find(|m| m.content.len() > MAX_RECORD_CONTENT_BYTES)
        {
            return Err(format!(
                "a {} message of {} bytes is longer than the limit of {MAX_RECORD_CONTENT_BYTES}",
                long.role.as_str(),
                long.content.len()
            ));
        }
        Ok(line)
    }
}

impl SessionParser {
    /// Redacts a message's secrets ([`crate::redact`]); the result of a call that read a secret file (`.env`,
    /// keys) keeps none of its contents.
    fn keep_secrets_out(&mut self, message: &mut SessionMessage) {
        match (message.role, &message.call_id) {
            (Role::ToolUse, Some(id)) if names_secret_file(&message.content) => {
                self.secret_calls.insert(id.clone());
            }
            (Role::ToolResult, Some(id)) if self.secret_calls.contains(id) => {
                message.content = SECRET_FILE.into();
                return;
            }
            _ => {}
        }
        if let std::borrow::Cow::Owned(redacted) = crate::redact::redact(&message.content) {
            message.content = redacted;
        }
    }
}

/// What is kept of a secret file's contents.
pub const SECRET_FILE: &str = "[the contents of a secret file are not kept]";

/// Whether a tool's input (JSON, or a command line) names a secret file in any of its words.
pub fn names_secret_file(input: &str) -> bool {
    fn texts<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::String(text) => out.push(text),
            serde_json::Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
            serde_json::Value::Object(fields) => fields.values().for_each(|v| texts(v, out)),
            _ => {}
        }
    }
    let parsed = serde_json::from_str::<serde_json::Value>(input).ok();
    let mut found = Vec::new();
    match &parsed {
        Some(value) => texts(value, &mut found),
        None => found.push(input),
    }
    found
        .iter()
        .flat_map(|text| text.split_whitespace())
        .any(|word| {
            crate::redact::is_secret_file(word.trim_matches(|c: char| "\"'`;|&()<>".contains(c)))
        })
}

/// A required string field of an event.
fn text_field<'a>(
    event: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, String> {
    match event.get(name) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(serde_json::Value::String(_)) => Err(format!("`{name}` is empty")),
        Some(other) => Err(format!("`{name}` is not a string: {}", kind_of(other))),
        None => Err(format!("`{name}` is missing")),
    }
}

/// An event's `timestamp` (RFC 3339).
fn timestamp(event: &serde_json::Map<String, serde_json::Value>) -> Result<Timestamp, String> {
    let text = text_field(event, "timestamp")?;
    Timestamp::parse(text).ok_or_else(|| {
        format!(
            "`timestamp` {} is not an RFC 3339 time",
            crate::validate::quoted(text)
        )
    })
}

/// The last component of a working directory: the project's name.
/// The last directory name of a path: the project a working directory names.
pub fn last_component(cwd: &str) -> Option<String> {
    cwd.trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .filter(|name| !name.is_empty())
        .map(str::to_string)
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
