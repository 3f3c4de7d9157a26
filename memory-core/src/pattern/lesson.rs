//! What made the difference in an episode: the changes made before its last check (a test, a build or a lint)
//! and that check, normalised so that the same move in another episode reads the same.
//!
//! A step **looks** (reads a file, searches, lists, runs `git status`, calls an MCP tool), **checks** (runs tests, a
//! build or a linter: [`crate::capture::check`]) or **changes** something (everything else that succeeded).
//! The decisive steps of an episode are the changes after the last failure before its last check (or, when
//! nothing failed, before it), at most two, whether it went well (what worked) or not (what did not). Looking is
//! never decisive.

use crate::{ExecutionStep, StepResult};

/// Most changes in a strategy.
const MAX_CHANGES: usize = 2;
/// Longest normalised step, in characters.
const MAX_STEP_CHARS: usize = 120;
/// Longest step output quoted beside a bare path.
const MAX_OUTPUT_CHARS: usize = 100;

/// The decisive steps of an episode, normalised.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decisive {
    /// The changes, oldest first ("add `tokio::time::pause()` to the test").
    pub changes: Vec<String>,
    /// The last check's command: its label and flags (`cargo test --test-threads=1`).
    pub check: Option<String>,
    /// The failed step the changes answered.
    pub answered: Option<usize>,
}

impl Decisive {
    /// "add `tokio::time::pause()` to the test, then run `cargo test`".
    pub(crate) fn action(&self) -> String {
        let mut parts = self.changes.clone();
        if let Some(check) = &self.check {
            parts.push(format!("run `{check}`"));
        }
        parts.join(", then ")
    }

    /// Its structure as tokens: the words and code of the changes, and the check.
    pub(crate) fn signature(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for change in &self.changes {
            for token in change.split_whitespace() {
                let token = token.trim_matches(|c: char| c == '`' || c == ',' || c == ':');
                let entry = if is_code(token) {
                    format!("code:{token}")
                } else if token.len() >= 3 && token.chars().all(char::is_alphabetic) {
                    format!("do:{}", token.to_lowercase())
                } else {
                    continue;
                };
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        out.extend(self.check.iter().map(|c| format!("check:{c}")));
        out
    }
}

/// What a step does for a lesson.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// It read, searched or listed.
    Look,
    /// It ran tests, a build or a linter.
    Check,
    /// Anything else.
    Change,
}

/// Tools that only read.
const LOOK_TOOLS: &[&str] = &[
    "read",
    "read_file",
    "view",
    "cat",
    "grep",
    "rg",
    "glob",
    "ls",
    "list",
    "list_dir",
    "find",
    "search",
    "websearch",
    "web_search",
    "webfetch",
    "web_fetch",
    "fetch",
    "todowrite",
    "todoread",
    "notebookread",
    "open",
    "browse",
    "codebase_search",
    "file_search",
    "grep_search",
];
/// Tools whose action is a shell command.
const SHELL_TOOLS: &[&str] = &[
    "bash",
    "shell",
    "sh",
    "terminal",
    "exec",
    "exec_command",
    "run",
    "run_command",
    "command",
    "local_shell",
    "shell_command",
    "run_terminal_cmd",
];
/// Shell commands that only read.
const LOOK_COMMANDS: &[&str] = &[
    "cat",
    "less",
    "head",
    "tail",
    "ls",
    "rg",
    "grep",
    "find",
    "fd",
    "tree",
    "pwd",
    "echo",
    "which",
    "wc",
    "file",
    "stat",
    "du",
    "git status",
    "git diff",
    "git log",
    "git show",
    "git blame",
    "sed -n",
    "awk",
    "jq",
];

/// The command a step ran: a shell tool's action, else the tool and its action (`cargo` + `test x`).
fn command(step: &ExecutionStep) -> String {
    if is_shell(step) {
        step.action.trim().to_string()
    } else {
        format!("{} {}", step.tool.trim(), step.action.trim())
    }
}

fn is_shell(step: &ExecutionStep) -> bool {
    SHELL_TOOLS.contains(&step.tool.trim().to_ascii_lowercase().as_str())
}

/// What each step does, in order.
pub(crate) fn roles(steps: &[ExecutionStep]) -> Vec<Role> {
    steps.iter().map(role).collect()
}

fn role(step: &ExecutionStep) -> Role {
    let tool = step.tool.trim().to_ascii_lowercase();
    if tool.starts_with("mcp__") || LOOK_TOOLS.contains(&tool.as_str()) {
        return Role::Look;
    }
    let command = command(step);
    if crate::capture::check(&command).is_some() {
        return Role::Check;
    }
    let last = last_part(&command);
    let looks = LOOK_COMMANDS
        .iter()
        .any(|c| last == *c || last.starts_with(&format!("{c} ")));
    if is_shell(step) && looks {
        Role::Look
    } else {
        Role::Change
    }
}

/// The decisive steps of an episode: the changes after the last failure before its last check (or, when nothing
/// failed or nothing changed since, all its changes), the last two; `None` when it changed and checked nothing.
pub(crate) fn decisive(steps: &[ExecutionStep], roles: &[Role]) -> Option<Decisive> {
    let check = (0..steps.len()).rev().find(|&i| roles[i] == Role::Check);
    let end = check.unwrap_or(steps.len());
    let changed = |from: usize| -> Vec<usize> {
        (from..end)
            .filter(|&i| roles[i] == Role::Change && steps[i].result.is_success())
            .collect()
    };
    let failed = (0..end).rev().find(|&i| !steps[i].result.is_success());
    let after = failed.map(|f| (changed(f + 1), f));
    let (mut changes, answered) = match after {
        Some((after, f)) if !after.is_empty() => (after, Some(f)),
        _ => (changed(0), None),
    };
    if changes.len() > MAX_CHANGES {
        changes.drain(..changes.len() - MAX_CHANGES);
    }
    let mut texts: Vec<String> = Vec::new();
    for &i in &changes {
        let text = change_text(&steps[i]);
        if !text.is_empty() && !texts.contains(&text) {
            texts.push(text);
        }
    }
    let check = check.map(|i| check_text(&steps[i]));
    if texts.is_empty() && check.is_none() {
        return None;
    }
    Some(Decisive {
        changes: texts,
        check,
        answered,
    })
}

/// A change in words: a sentence the agent wrote as it is; a command in backticks; a bare path as "edit `file`",
/// with the step's output when it is a short line ("edit `settle.rs`: tokio::time::pause() before the retries").
pub(crate) fn change_text(step: &ExecutionStep) -> String {
    let action = normalise(step.action.trim());
    if is_shell(step) {
        return format!("`{}`", clip(&action, MAX_STEP_CHARS));
    }
    let words: Vec<&str> = action.split_whitespace().collect();
    if is_sentence(&words) {
        return quote_code(&clip(&action, MAX_STEP_CHARS));
    }
    let tool = step.tool.trim().to_lowercase();
    // An edit as live capture records it: `src/retry.rs: + tokio::time::pause();`.
    if let Some((file, rest)) = action.split_once(": ")
        && !file.contains(' ')
        && (is_path(file) || file.contains('.'))
    {
        let what = match rest.strip_prefix("+ ") {
            Some(added) => format!("add `{}`", added.trim()),
            None => quote_code(rest),
        };
        return clip(&format!("{tool} `{file}`: {what}"), MAX_STEP_CHARS);
    }
    let mut text = match words.as_slice() {
        [] => return tool,
        [one] if is_path(step.action.trim()) => format!("{tool} `{one}`"),
        _ => return clip(&format!("{tool} `{action}`"), MAX_STEP_CHARS),
    };
    // What an edit of a bare path did, when its output says it in a line.
    if let StepResult::Success { output } = &step.result {
        let line = output.lines().next().unwrap_or("").trim();
        let said = line.chars().count() <= MAX_OUTPUT_CHARS
            && line.split_whitespace().count() >= 2
            && !line.starts_with(['{', '[']);
        if said && output.trim() == line {
            text.push_str(&format!(": {}", quote_code(&normalise(line))));
        }
    }
    clip(&text, MAX_STEP_CHARS)
}

/// A check as its label and flags: `cargo test settle -- --test-threads=1` is `cargo test --test-threads=1`.
fn check_text(step: &ExecutionStep) -> String {
    let command = command(step);
    let part = last_part(&command);
    let label = command_label(part);
    // Long flags say how it ran (`--test-threads=1`); a short one's value, if it takes one, is not known.
    let flags = part
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(normalise);
    let words: Vec<String> = std::iter::once(label).chain(flags).collect();
    clip(&words.join(" "), MAX_STEP_CHARS)
}

/// The part of a command line that matters: the last that runs a check (`for f in a b; do cargo test; done` is
/// `do cargo test`), else the last (`cd x && make` is `make`).
fn last_part(command: &str) -> &str {
    let parts = || {
        command
            .split(['&', ';', '|', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
    };
    parts()
        .rfind(|p| crate::capture::check(p).is_some())
        .or_else(|| parts().next_back())
        .unwrap_or("")
}

/// How a command is known: the check it runs (`python -m pytest`), else its first word and subcommand
/// (`git status`).
fn command_label(part: &str) -> String {
    if let Some((_, known)) = crate::capture::check(part) {
        return known.to_string();
    }
    let mut words = crate::capture::command_words(part);
    let first = words.next().unwrap_or("");
    match words.next() {
        Some(sub) if is_subcommand(sub) => format!("{first} {sub}"),
        _ => first.to_string(),
    }
}

/// Whether words read as a sentence an agent wrote ("move the fixture into `conftest.py`"), not as a command's
/// arguments: three or more, the first a lowercase word, at least half of them plain words.
fn is_sentence(words: &[&str]) -> bool {
    let plain = |w: &&str| {
        let w = w.trim_end_matches([',', '.', ';', ':']);
        !w.is_empty() && w.chars().all(char::is_alphabetic)
    };
    words.len() >= 3
        && words[0].len() >= 2
        && words[0].chars().all(|c| c.is_ascii_lowercase())
        && !words.iter().any(|w| w.starts_with('-'))
        && words.iter().filter(|w| plain(w) && w.len() >= 2).count() * 2 >= words.len()
}

/// A plain word of three to 24 lowercase letters (`test`, `status`, `run-all`).
fn is_subcommand(word: &str) -> bool {
    (3..=24).contains(&word.len())
        && !word.starts_with('-')
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
}

/// How a step is known in patterns: a shell's command as [`command_label`] gives it (`Bash` + `cd x && npm test`
/// is `npm test`); another tool with the first word of its action when that is a subcommand and the action is
/// not a sentence (`cargo` + `test --package x` is `cargo test`, `edit` + `src/lib.rs` is `edit`, `Edit` +
/// `move the fixture` is `Edit`).
pub(crate) fn label(step: &ExecutionStep) -> String {
    if is_shell(step) {
        let label = command_label(last_part(&step.action));
        if !label.is_empty() {
            return label;
        }
    }
    let tool = step.tool.trim();
    let words: Vec<&str> = step.action.split_whitespace().collect();
    match words.first() {
        Some(word) if is_subcommand(word) && !is_sentence(&words) => format!("{tool} {word}"),
        _ => tool.to_string(),
    }
}

/// Paths to their file name, ids to `<id>`, numbers of three digits and more to `#`.
pub(crate) fn normalise(text: &str) -> String {
    text.split_whitespace()
        .map(|token| {
            if is_id(token) {
                "<id>".to_string()
            } else if is_path(token) {
                let trimmed = token.trim_end_matches('/');
                trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
            } else {
                long_numbers(token)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text with every file name as its extension (`settle.rs` is `*.rs`): what clustering compares, so that the
/// same move in another file reads the same.
pub(crate) fn without_file_names(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| matches!(c, '`' | ',' | ':' | ';' | '(' | ')'));
            match core.rsplit_once('.') {
                Some((name, ext))
                    if !name.is_empty()
                        && !name.contains("::")
                        && !core.contains('(')
                        && (1..=5).contains(&ext.len())
                        && ext.chars().all(|c| c.is_ascii_lowercase()) =>
                {
                    word.replace(core, &format!("*.{ext}"))
                }
                _ => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_path(token: &str) -> bool {
    token.contains('/') && !token.contains("://") && !token.contains("::") && token.len() > 1
}

fn is_id(token: &str) -> bool {
    let t = token.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let hex = t.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    hex && t.len() >= 8
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars().any(|c| c.is_ascii_alphabetic())
}

fn long_numbers(token: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in token.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 3 {
            out.push('#');
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != ' ' {
            out.push(c);
        }
    }
    out
}

/// Whether a token reads as code: a path, a call, a flag, `a::b`, `snake_case`, `file.ext`.
fn is_code(token: &str) -> bool {
    let token = token.trim_end_matches([',', '.', ';', ':']);
    token.len() >= 3
        && !token.starts_with('<')
        && (token.contains("::")
            || token.contains('(')
            || token.contains('=')
            || token.contains('_')
            || token.starts_with("--")
            || token.contains('/')
            || token.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && b.chars().all(|c| c.is_ascii_alphanumeric())
            }))
}

/// Puts the code-like words of a sentence in backticks (none inside text already quoted).
fn quote_code(text: &str) -> String {
    if text.contains('`') {
        return text.to_string();
    }
    text.split(' ')
        .map(|word| {
            let core = word.trim_end_matches([',', '.', ';', ':']);
            if is_code(core) {
                format!("`{core}`{}", &word[core.len()..])
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first `chars` characters of `text`, with an ellipsis when cut.
pub(crate) fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(chars - 1).collect();
    out.push('…');
    out
}
