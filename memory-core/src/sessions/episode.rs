//! What a session becomes: an episode (the task it started with, its tool calls as steps) and, for what people
//! and agents said, memory records that retrieval finds.

use std::collections::HashMap;

use serde_json::json;

use super::{Role, SessionMessage};
use crate::{
    Episode, EpisodeId, ExecutionStep, Json, NewRecord, RecordKind, Result, Scope, StepResult,
    TaskContext, Timestamp,
    capture::{self, Evidence},
    reflection, reward,
    validate::{MAX_NAME_BYTES, MAX_STEPS, MAX_TASK_DESCRIPTION_BYTES, clip},
};

/// A session with no message for this long has ended: its episode is completed.
pub const SESSION_ENDED_AFTER_MINUTES: u32 = 30;

/// What a step keeps of a tool's result; the whole of it stays in the session's messages (`report session`).
const RESULT_EXCERPT_BYTES: usize = 4 * 1024;
/// The largest tool input kept as a step's parameters; a larger one is summarised by its size.
const PARAMETERS_BYTES: usize = 8 * 1024;

/// The episode of a session from its messages, in order. A session whose last message is at least
/// [`SESSION_ENDED_AFTER_MINUTES`] older than `now` is over: its episode is completed with the outcome its steps
/// show, as the hooks infer it at the end of a turn (the last test, build or lint; an error left unanswered; the
/// agent declining), with its reward and reflection. A newer one stays open, and is rebuilt when it grows.
pub fn session_episode(
    id: EpisodeId,
    messages: &[SessionMessage],
    now: Timestamp,
) -> Option<Episode> {
    let first = messages.first()?;
    let task = messages
        .iter()
        .find(|m| m.role == Role::User && !m.content.trim().is_empty())
        .or_else(|| messages.iter().find(|m| !m.content.trim().is_empty()))
        .map_or_else(
            || format!("session {}", first.session_id),
            |m| clip(m.content.trim(), MAX_TASK_DESCRIPTION_BYTES).to_string(),
        );
    let generic = messages.iter().any(|m| m.role == Role::Event);
    let context = TaskContext {
        domain: clip(&one_line(&first.project), MAX_NAME_BYTES).to_string(),
        tags: vec![
            "imported".into(),
            if generic {
                "session-log"
            } else {
                "claude-code"
            }
            .into(),
        ],
        ..TaskContext::default()
    };
    let mut steps = if generic {
        event_steps(messages)
    } else {
        tool_steps(messages)
    };
    let total_steps = steps.len();
    steps.truncate(MAX_STEPS);
    for (i, step) in steps.iter_mut().enumerate() {
        step.step_number = i as u32 + 1;
    }
    let task_type = capture::task_type(&task);
    let mut episode = Episode::new(task, task_type, context);
    episode.id = id;
    episode.start_time = first.at;
    episode.steps = steps;
    episode.metadata = Json::new(&json!({
        "session_id": first.session_id,
        "project": first.project,
        "messages": messages.len(),
        "tool_calls": total_steps,
        "imported_from": first.provenance.file,
    }));
    let last = messages.last().map_or(first.at, |m| m.at);
    if now.micros_since(last) >= SESSION_ENDED_AFTER_MINUTES as u64 * 60_000_000 {
        let mut evidence = Evidence::default();
        episode.steps.iter().for_each(|step| evidence.observe(step));
        let said = messages
            .iter()
            .rev()
            .find(|m| m.role == Role::Assistant && !m.content.trim().is_empty())
            .map(|m| m.content.as_str());
        let outcome = evidence.outcome(said);
        let end = last.max(episode.start_time);
        episode.reward = Some(reward::compute(&episode, &outcome, end));
        episode.reflection = Some(reflection::reflect(&episode, &outcome, end));
        episode.outcome = Some(outcome);
        episode.end_time = Some(end);
    }
    Some(episode)
}

/// Claude Code: each tool call, with the result that answered it.
fn tool_steps(messages: &[SessionMessage]) -> Vec<ExecutionStep> {
    let results: HashMap<&str, &SessionMessage> = messages
        .iter()
        .filter(|m| m.role == Role::ToolResult)
        .filter_map(|m| Some((m.call_id.as_deref()?, m)))
        .collect();
    messages
        .iter()
        .filter(|m| m.role == Role::ToolUse)
        .map(|call| {
            let answer = call.call_id.as_deref().and_then(|id| results.get(id));
            let result = match answer {
                Some(r) if r.is_error => StepResult::Error {
                    message: clip(&r.content, RESULT_EXCERPT_BYTES).to_string(),
                },
                Some(r) => StepResult::Success {
                    output: clip(&r.content, RESULT_EXCERPT_BYTES).to_string(),
                },
                None => StepResult::Error {
                    message: "the log holds no result for this call".into(),
                },
            };
            // A custom tool's input is its text (Codex's `apply_patch`: the patch).
            let input: serde_json::Value = serde_json::from_str(&call.content)
                .unwrap_or_else(|_| serde_json::Value::String(call.content.clone()));
            let parameters = if !input.is_object() || call.content.len() > PARAMETERS_BYTES {
                json!({"input_bytes": call.content.len()})
            } else {
                input.clone()
            };
            let mut step = ExecutionStep::new(
                call.tool.as_deref().unwrap_or("tool"),
                action(&input),
                result,
            );
            step.timestamp = call.at;
            step.parameters = Json::new(&parameters);
            step.latency_ms = answer.map_or(0, |r| r.at.micros_since(call.at) / 1000);
            step
        })
        .collect()
}

/// What a call did, in a line: its command, path, pattern, URL or description; an edit's path with the first line
/// it adds (`src/retry.rs: + tokio::time::pause();`).
pub(crate) fn action(input: &serde_json::Value) -> String {
    let said = [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "query",
        "description",
    ]
    .iter()
    .find_map(|key| input.get(key).and_then(|v| v.as_str()))
    .map(str::to_string)
    .or_else(|| {
        // A command as a list of words (Codex's `["bash", "-lc", "cargo test"]`): the script it runs.
        let words: Vec<&str> = input
            .get("command")?
            .as_array()?
            .iter()
            .filter_map(|w| w.as_str())
            .collect();
        match words.as_slice() {
            [shell, flag, script] if shell.ends_with("sh") && flag.starts_with('-') => {
                Some(script.to_string())
            }
            _ => Some(words.join(" ")),
        }
    })
    .unwrap_or_default();
    if let Some(patch) = input.as_str() {
        return clip(&patch_line(patch), 200).to_string();
    }
    let mut line = one_line(&said);
    if let Some(added) = added_line(input) {
        line = format!("{line}: + {added}");
    }
    clip(&line, 200).to_string()
}

/// A patch in a line: its first file and the first line it adds (`src/balance.rs: + pub fn total(…) -> u64 {`);
/// any other text, its first line.
fn patch_line(patch: &str) -> String {
    let file = patch.lines().find_map(|l| {
        ["*** Update File: ", "*** Add File: ", "+++ b/", "+++ "]
            .iter()
            .find_map(|p| l.strip_prefix(p))
    });
    let added = patch
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| l[1..].trim())
        .find(|l| !l.is_empty());
    match (file, added) {
        (Some(file), Some(added)) => format!("{}: + {}", file.trim(), clip(added, 100)),
        (Some(file), None) => file.trim().to_string(),
        _ => one_line(patch),
    }
}

/// The first line an edit adds that the text it replaces did not have: of `new_string` (Claude Code's `Edit`) or
/// of each of `edits` (`MultiEdit`).
fn added_line(input: &serde_json::Value) -> Option<String> {
    let edits: Vec<&serde_json::Value> = match input.get("edits").and_then(|e| e.as_array()) {
        Some(edits) => edits.iter().collect(),
        None => vec![input],
    };
    edits.into_iter().find_map(|edit| {
        let new = edit.get("new_string")?.as_str()?;
        let old = edit
            .get("old_string")
            .and_then(|o| o.as_str())
            .unwrap_or("");
        let before: std::collections::HashSet<&str> = old.lines().map(str::trim).collect();
        new.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !before.contains(l))
            .map(|l| clip(l, 100).to_string())
    })
}

/// A generic log: each event about a component.
fn event_steps(messages: &[SessionMessage]) -> Vec<ExecutionStep> {
    messages
        .iter()
        .filter_map(|m| {
            let component = m.component.as_deref()?;
            let text = clip(&m.content, RESULT_EXCERPT_BYTES).to_string();
            let result = if m.is_error {
                StepResult::Error { message: text }
            } else {
                StepResult::Success { output: text }
            };
            let tool = clip(&one_line(component), MAX_NAME_BYTES).to_string();
            let mut step = ExecutionStep::new(tool, m.level.as_deref().unwrap_or("event"), result);
            step.timestamp = m.at;
            Some(step)
        })
        .collect()
}

/// The memory record of what a person or an agent said (user and assistant text, generic events), in the scope
/// `project:<project>`; tool calls and results are the episode's steps instead.
pub fn message_record(message: &SessionMessage) -> Result<Option<NewRecord>> {
    if matches!(message.role, Role::ToolUse | Role::ToolResult) || message.content.trim().is_empty()
    {
        return Ok(None);
    }
    let scope = project_scope(&message.project)?;
    let mut record = NewRecord::new(scope, RecordKind::Conversation, message.content.clone());
    record.tags = vec!["imported".into(), message.role.as_str().replace('_', "-")];
    let p = &message.provenance;
    record.source = Some(format!("{}:{}", p.file, p.line));
    record.context = Some(format!("session {}", message.session_id));
    record.metadata = Json::new(&json!({
        "session_id": message.session_id,
        "role": message.role.as_str(),
        "at": message.at.to_string(),
        "byte_offset": p.offset,
        "component": message.component,
        "level": message.level,
    }));
    record.created_at = Some(message.at);
    record.importance = if message.is_error { 0.7 } else { 0.5 };
    Ok(Some(record))
}

/// The scope of a project's conversations and lessons: `project:<name>`.
pub fn project_scope(project: &str) -> Result<Scope> {
    Scope::new(format!("project:{}", scope_name(project)))
}

/// A project name as a scope allows it: letters, digits and `-_.:/@`, at most 92 characters.
fn scope_name(project: &str) -> String {
    project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.:/@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(92)
        .collect()
}

fn one_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}
