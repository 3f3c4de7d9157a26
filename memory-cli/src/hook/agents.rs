//! The agents whose hooks feed `memory-cli hook`, and how each one's payloads read as Claude Code's.
//! - Claude Code: the reference shape (`hook_event_name`, `session_id`, `cwd`, `tool_response`, …).
//! - Codex: the same events and fields (its hooks follow Claude Code's); `SessionStart`, `UserPromptSubmit`,
//!   `PostToolUse` (Bash) and `Stop` exist, and the first two take `hookSpecificOutput.additionalContext`.
//! - Cursor (`hooks.json` version 1): camel-case events (`sessionStart`, `beforeSubmitPrompt`, `postToolUse`,
//!   `postToolUseFailure`, `stop`, `sessionEnd`, `preCompact`), `conversation_id` for the session,
//!   `workspace_roots` for the directory, `tool_output` for the response; `sessionStart` takes
//!   `additional_context`, and `beforeSubmitPrompt` can only let the prompt through, so a prompt gets nothing.

use serde_json::{Map, Value, json};

/// Whose hook sent an event, as far as its shape tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// Claude Code, Codex, or any agent with their payloads.
    ClaudeCode,
    Cursor,
}

/// The event's name as Claude Code spells it, and whose it is; fills in the fields under Claude Code's names.
pub fn normalize(name: &str, event: &mut Map<String, Value>) -> (String, Agent) {
    const CURSOR: [(&str, &str); 7] = [
        ("sessionStart", "SessionStart"),
        ("beforeSubmitPrompt", "UserPromptSubmit"),
        ("postToolUse", "PostToolUse"),
        ("postToolUseFailure", "PostToolUseFailure"),
        ("stop", "Stop"),
        ("preCompact", "PreCompact"),
        ("sessionEnd", "SessionEnd"),
    ];
    let Some(&(_, canonical)) = CURSOR.iter().find(|(cursor, _)| *cursor == name) else {
        return (name.to_string(), Agent::ClaudeCode);
    };
    let root = event
        .get("workspace_roots")
        .and_then(|roots| roots.get(0))
        .cloned();
    let aliases = [
        ("session_id", event.get("conversation_id").cloned()),
        ("cwd", root),
        ("tool_response", event.get("tool_output").cloned()),
        ("error", event.get("error_message").cloned()),
    ];
    for (to, value) in aliases {
        if let Some(value) = value.filter(|_| !event.contains_key(to)) {
            event.insert(to.to_string(), value);
        }
    }
    (canonical.to_string(), Agent::Cursor)
}

/// What the agent is given back for `event` (Claude Code's name), in the form it reads; `None` when it takes
/// nothing.
pub fn output(agent: Agent, event: &str, context: &str) -> Option<String> {
    let output = match agent {
        Agent::ClaudeCode => {
            json!({"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}})
        }
        Agent::Cursor if event == "SessionStart" => json!({"additional_context": context}),
        Agent::Cursor => return None,
    };
    Some(output.to_string())
}

/// Whether the agent can be given anything on `event`.
pub fn takes_context(agent: Agent, event: &str) -> bool {
    match agent {
        Agent::ClaudeCode => matches!(event, "SessionStart" | "UserPromptSubmit"),
        Agent::Cursor => event == "SessionStart",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_events_read_as_claude_codes() {
        let mut event = json!({
            "hook_event_name": "postToolUse", "conversation_id": "c-1",
            "workspace_roots": ["/work/payments"], "tool_name": "Shell",
            "tool_input": {"command": "cargo test"}, "tool_output": "test result: ok",
        });
        let map = event.as_object_mut().unwrap();
        assert_eq!(
            normalize("postToolUse", map),
            ("PostToolUse".into(), Agent::Cursor)
        );
        assert_eq!(map["session_id"], "c-1");
        assert_eq!(map["cwd"], "/work/payments");
        assert_eq!(map["tool_response"], "test result: ok");
        let mut claude = json!({"session_id": "s", "cwd": "/x"});
        let map = claude.as_object_mut().unwrap();
        assert_eq!(normalize("Stop", map), ("Stop".into(), Agent::ClaudeCode));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn each_agent_is_given_context_in_its_own_form() {
        let claude = output(Agent::ClaudeCode, "UserPromptSubmit", "x").unwrap();
        assert!(claude.contains(r#""additionalContext":"x""#));
        assert_eq!(
            output(Agent::Cursor, "SessionStart", "x").unwrap(),
            r#"{"additional_context":"x"}"#
        );
        assert_eq!(output(Agent::Cursor, "UserPromptSubmit", "x"), None);
        assert!(!takes_context(Agent::Cursor, "UserPromptSubmit"));
    }
}
