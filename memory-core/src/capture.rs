//! Live capture: what an agent's hook events become in an episode. A prompt gives the task and its kind, a tool
//! call and its response give a step, and the steps seen so far ([`Evidence`]) give the outcome when the turn
//! ends. Pure: the caller reads the events and writes the episode.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    ExecutionStep, Json, StepResult, TaskOutcome, TaskType,
    redact::redact,
    sessions::{self, SECRET_FILE},
    validate::clip,
};

/// What a step keeps of a tool's response.
const RESULT_BYTES: usize = 4 * 1024;
/// The largest tool input kept as a step's parameters; a larger one is summarised by its size.
const PARAMETERS_BYTES: usize = 8 * 1024;
/// What an outcome quotes of an error.
const DETAIL_BYTES: usize = 500;

/// One tool call as a hook reports it: Claude Code's `PostToolUse` (`tool_response`) or `PostToolUseFailure`
/// (`error`).
#[derive(Clone, Copy, Debug)]
pub struct ToolCall<'a> {
    /// The tool's name (`Bash`, `Edit`, an MCP tool's `mcp__server__tool`).
    pub tool: &'a str,
    /// Its input.
    pub input: &'a Value,
    /// What it returned, when it succeeded.
    pub response: Option<&'a Value>,
    /// Why it failed, when it did.
    pub error: Option<&'a str>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
}

/// The step a tool call becomes: the tool, a one-line action (its command, path, pattern, URL or description), the
/// input as parameters and the response trimmed, all with secrets redacted; a response that read a secrets file
/// is not kept.
pub fn step(call: &ToolCall<'_>) -> ExecutionStep {
    let input_text = call.input.to_string();
    let secret = sessions::names_secret_file(&input_text);
    let text = |s: &str| {
        if secret {
            SECRET_FILE.to_string()
        } else {
            clip(&redact(s), RESULT_BYTES).to_string()
        }
    };
    let result = match (call.error, call.response) {
        (Some(error), _) => StepResult::Error {
            message: text(error),
        },
        (None, Some(response)) => match response_text(response) {
            Said::Output(output) => StepResult::Success {
                output: text(&output),
            },
            Said::Failed(message) => StepResult::Error {
                message: text(&message),
            },
            Said::Interrupted(message) => StepResult::Timeout {
                message: text(&message),
            },
        },
        (None, None) => StepResult::Success {
            output: String::new(),
        },
    };
    let parameters = if !call.input.is_object() || input_text.len() > PARAMETERS_BYTES {
        json!({"input_bytes": input_text.len()})
    } else {
        serde_json::from_str(&redact(&input_text)).unwrap_or_else(|_| json!({}))
    };
    let tool = clip(call.tool, crate::validate::MAX_NAME_BYTES);
    let mut step = ExecutionStep::new(tool, redact(&sessions::action(call.input)), result);
    step.parameters = Json::new(&parameters);
    step.latency_ms = call.duration_ms.unwrap_or(0);
    step
}

/// What a tool's response says.
enum Said {
    Output(String),
    Failed(String),
    Interrupted(String),
}

/// A response's text: a string as it is; a shell's `stdout` and `stderr`; a file's content; else its JSON.
fn response_text(response: &Value) -> Said {
    let Value::Object(fields) = response else {
        return match response {
            Value::String(text) => text_said(text),
            Value::Null => Said::Output(String::new()),
            other => Said::Output(other.to_string()),
        };
    };
    let field = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or("");
    if fields.contains_key("stdout") || fields.contains_key("stderr") {
        let output = [field("stdout"), field("stderr")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if fields.get("interrupted") == Some(&Value::Bool(true)) {
            return Said::Interrupted(format!("interrupted\n{output}"));
        }
        let code = ["exit_code", "exitCode", "code"]
            .iter()
            .find_map(|k| fields.get(*k).and_then(Value::as_i64));
        return match code {
            Some(code) if code != 0 => Said::Failed(format!("exit code {code}\n{output}")),
            _ => Said::Output(output),
        };
    }
    if fields.get("is_error") == Some(&Value::Bool(true))
        || fields.get("success") == Some(&Value::Bool(false))
    {
        return Said::Failed(response.to_string());
    }
    let content = fields
        .get("file")
        .and_then(|f| f.get("content"))
        .or_else(|| fields.get("content"))
        .and_then(Value::as_str);
    Said::Output(content.map_or_else(|| response.to_string(), str::to_string))
}

/// A response given as text: a failure when it opens with a non-zero exit code, as a shell tool's output does
/// (Codex: `Exit code: 1`, Claude Code's errors: `Exit code 1`).
fn text_said(text: &str) -> Said {
    let code = text
        .strip_prefix("Exit code")
        .map(|rest| rest.trim_start_matches(':').trim_start())
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit() && c != '-').next())
        .and_then(|code| code.parse::<i64>().ok());
    match code {
        Some(code) if code != 0 => Said::Failed(text.to_string()),
        _ => Said::Output(text.to_string()),
    }
}

/// A check an agent ran: tests, a build or a linter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The command, as run.
    pub command: String,
    /// `test`, `build` or `lint`.
    pub kind: String,
    /// Whether it passed.
    pub passed: bool,
    /// The start of what it said when it failed.
    pub detail: String,
}

/// What the steps of a turn showed so far: how many, the last check and its result, and an error no later step
/// of the same tool has answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Steps seen.
    pub steps: u32,
    /// Steps that failed.
    pub failed: u32,
    /// The last check run.
    pub last_check: Option<Check>,
    /// The tool and the error of a failure not yet followed by a success of that tool.
    pub unresolved: Option<(String, String)>,
}

impl Evidence {
    /// Takes `step` into account.
    pub fn observe(&mut self, step: &ExecutionStep) {
        self.steps += 1;
        let passed = step.result.is_success();
        if passed {
            if self
                .unresolved
                .as_ref()
                .is_some_and(|(t, _)| *t == step.tool)
            {
                self.unresolved = None;
            }
        } else {
            self.failed += 1;
            self.unresolved = Some((step.tool.clone(), first_line(step.result.text())));
        }
        if let Some(kind) = check_kind(&step.action) {
            self.last_check = Some(Check {
                command: step.action.clone(),
                kind: kind.to_string(),
                passed,
                detail: if passed {
                    String::new()
                } else {
                    clip(step.result.text(), DETAIL_BYTES).to_string()
                },
            });
            if passed {
                self.unresolved = None;
            }
        }
    }

    /// How the turn ended, from the evidence and the agent's last message: the agent declining is an
    /// abstention; a failing last check is a failure; an error left unanswered is a partial success; a passing
    /// last check is a success, and so is a turn whose steps all worked (its verdict says nothing was checked).
    pub fn outcome(&self, last_message: Option<&str>) -> TaskOutcome {
        let passed = self.last_check.as_ref().is_some_and(|c| c.passed);
        if let Some(message) = last_message.filter(|m| !passed && declines(m)) {
            return TaskOutcome::Abstained {
                reason: clip(&first_line(message), DETAIL_BYTES).to_string(),
            };
        }
        match (&self.last_check, &self.unresolved) {
            (Some(check), _) if !check.passed => TaskOutcome::Failure {
                reason: format!("the last {} failed: `{}`", check.kind, check.command),
                error_details: Some(check.detail.clone()).filter(|d| !d.is_empty()),
            },
            (_, Some((tool, error))) => TaskOutcome::PartialSuccess {
                verdict: format!("ended with an unresolved {tool} error"),
                completed: Vec::new(),
                failed: vec![clip(error, DETAIL_BYTES).to_string()],
            },
            (Some(check), None) => TaskOutcome::Success {
                verdict: format!("the last {} passed: `{}`", check.kind, check.command),
                artifacts: Vec::new(),
            },
            (None, None) if self.steps == 0 => TaskOutcome::Success {
                verdict: "answered without using tools".into(),
                artifacts: Vec::new(),
            },
            (None, None) => TaskOutcome::Success {
                verdict: format!(
                    "finished after {} tool calls with no error left; nothing was tested",
                    self.steps
                ),
                artifacts: Vec::new(),
            },
        }
    }
}

/// Whether the start of an agent's message declines the task.
fn declines(message: &str) -> bool {
    let start = clip(message, 300).to_lowercase().replace('’', "'");
    [
        "i can't",
        "i cannot",
        "i won't",
        "i will not",
        "i'm unable",
        "i am unable",
        "i'm not able",
        "i am not able",
        "i must decline",
    ]
    .iter()
    .any(|p| start.contains(p))
}

/// Words a shell line puts before the command it runs.
const SHELL_WORDS: &[&str] = &[
    "do", "then", "else", "time", "sudo", "exec", "nice", "command", "env", "!", "{", "(",
];

/// The words of one part of a shell line from the command it runs on: assignments and the shell's own words
/// before it left out (`RUST_LOG=debug cargo test`, `do cargo test`, `time make`).
pub(crate) fn command_words(part: &str) -> impl Iterator<Item = &str> {
    part.split_whitespace()
        .skip_while(|w| (w.contains('=') && !w.starts_with('-')) || SHELL_WORDS.contains(w))
}

/// Whether a command runs tests, a build or a linter: the kind of its last part that does (`cd x && cargo test`
/// is a test; `cargo build && cargo test` too).
pub fn check_kind(command: &str) -> Option<&'static str> {
    check(command).map(|(kind, _)| kind)
}

/// The kind of check a command runs (its last part that runs one) and the command as known (`cargo test`,
/// `python -m pytest`).
pub fn check(command: &str) -> Option<(&'static str, &'static str)> {
    const KINDS: &[(&str, &[&str])] = &[
        (
            "test",
            &[
                "cargo test",
                "cargo nextest",
                "npm test",
                "npm run test",
                "yarn test",
                "pnpm test",
                "pnpm run test",
                "bun test",
                "deno test",
                "pytest",
                "python -m pytest",
                "python3 -m pytest",
                "go test",
                "jest",
                "vitest",
                "npx jest",
                "npx vitest",
                "mvn test",
                "gradle test",
                "./gradlew test",
                "make test",
                "make check",
                "rspec",
                "phpunit",
                "ctest",
                "tox",
                "mix test",
                "dotnet test",
                "swift test",
            ],
        ),
        (
            "lint",
            &[
                "cargo clippy",
                "cargo fmt --check",
                "cargo fmt -- --check",
                "eslint",
                "npx eslint",
                "npm run lint",
                "yarn lint",
                "pnpm lint",
                "ruff",
                "mypy",
                "flake8",
                "pylint",
                "golangci-lint",
                "go vet",
                "tsc --noEmit",
                "npx tsc --noEmit",
            ],
        ),
        (
            "build",
            &[
                "cargo build",
                "cargo check",
                "npm run build",
                "yarn build",
                "pnpm build",
                "go build",
                "make",
                "tsc",
                "npx tsc",
                "mvn package",
                "mvn compile",
                "gradle build",
                "./gradlew build",
                "cmake --build",
                "dotnet build",
                "swift build",
            ],
        ),
    ];
    command
        .split(['&', ';', '|', '\n'])
        .filter_map(|part| {
            let part = command_words(part).collect::<Vec<_>>().join(" ");
            KINDS.iter().find_map(|(kind, starts)| {
                starts
                    .iter()
                    .find(|s| part == **s || part.starts_with(&format!("{s} ")))
                    .map(|s| (*kind, *s))
            })
        })
        .next_back()
}

/// The kind of work a prompt asks for, from its words; [`TaskType::Other`] when they say nothing clear.
pub fn task_type(prompt: &str) -> TaskType {
    let text = prompt.to_lowercase();
    let has = |words: &[&str]| {
        text.split(|c: char| !c.is_alphanumeric())
            .any(|w| words.contains(&w))
    };
    if has(&[
        "fix", "bug", "broken", "crash", "fails", "failing", "error", "debug", "panic",
    ]) {
        TaskType::Debugging
    } else if has(&["test", "tests", "coverage", "flaky"]) {
        TaskType::Testing
    } else if has(&[
        "refactor",
        "rename",
        "extract",
        "simplify",
        "cleanup",
        "restructure",
    ]) {
        TaskType::Refactoring
    } else if has(&["review"]) {
        TaskType::Review
    } else if has(&[
        "document",
        "docs",
        "readme",
        "docstring",
        "comment",
        "comments",
    ]) {
        TaskType::Documentation
    } else if has(&[
        "explain",
        "why",
        "how",
        "what",
        "where",
        "analyse",
        "analyze",
        "understand",
    ]) {
        TaskType::Analysis
    } else if has(&[
        "add",
        "implement",
        "create",
        "write",
        "build",
        "support",
        "new",
    ]) {
        TaskType::CodeGeneration
    } else {
        TaskType::Other
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests;
