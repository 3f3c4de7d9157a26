//! Reading pattern candidates off one completed episode. A pure function of the episode: the same episode always
//! gives the same candidates.
//!
//! A step is known by its [`step_label`]. From the steps and the outcome come:
//! - a **tool sequence**: the labels of the steps that succeeded, repeats in a row collapsed (two or more);
//! - per failed step (the first five), a **decision point**: the failure and the step the agent took next;
//! - per failed step that was recovered (the first five), an **error recovery**: the failure, the successful
//!   steps after it, and the step of the same tool that then succeeded (or else the next successful step);
//! - a **context pattern**: the task's type, domain, language, framework and tags with the approach taken;
//! - a **strategy**: what made the difference (`lesson.rs`), the changes before the last check and that check,
//!   in the words of the task and of the error they answered.

use serde::{Deserialize, Serialize};

use super::{
    Evidence, PatternContext, PatternKind,
    lesson::{self, Role},
};
use crate::{Episode, ExecutionStep, Scope, StepResult, TaskContext, TaskType};

/// Most candidates of one kind per episode.
const MAX_PER_KIND: usize = 5;
/// Most labels in an approach.
const MAX_APPROACH: usize = 10;
/// Most labels in a fix.
const MAX_FIX: usize = 4;
/// Longest error class, in characters.
const MAX_CLASS_CHARS: usize = 80;
/// Longest task kept with a candidate, in characters.
const MAX_TASK_CHARS: usize = 300;
/// Most words of the error class in a signature.
const MAX_CLASS_WORDS: usize = 8;
/// Longest task quoted in a strategy's condition, in characters.
const MAX_CONDITION_TASK_CHARS: usize = 100;

/// A pattern as read off one episode, before clustering merges it with the same pattern of other episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// What it describes.
    pub kind: PatternKind,
    /// One readable sentence; also what its embedding is made from.
    pub description: String,
    /// When it applies.
    pub condition: String,
    /// What was done.
    pub action: String,
    /// Its structure as tokens.
    pub signature: Vec<String>,
    /// The episode's context.
    pub context: PatternContext,
    /// The episode's task (its first 300 characters).
    pub task: String,
    /// The episode and how it ended.
    pub evidence: Evidence,
    /// The episode's scope: patterns are learnt within one.
    pub scope: Option<Scope>,
}

/// How a step is known in patterns: a shell's command by its check or subcommand (`Bash` + `cd x && npm test` is
/// `npm test`), another tool with the first word of its action when that is a subcommand (`cargo` + `test
/// --package x` is `cargo test`, `edit` + `src/lib.rs` is `edit`, `pytest` + `-x tests/` is `pytest`).
pub fn step_label(step: &ExecutionStep) -> String {
    lesson::label(step)
}

/// The candidates of a completed episode (none for one in progress).
pub fn extract(episode: &Episode) -> Vec<Candidate> {
    let (Some(outcome), Some(end)) = (&episode.outcome, episode.end_time) else {
        return Vec::new();
    };
    let evidence = Evidence {
        episode: episode.id,
        outcome: outcome.kind(),
        at: end,
    };
    let context = context_of(episode.task_type, &episode.context);
    let task: String = episode
        .task_description
        .chars()
        .take(MAX_TASK_CHARS)
        .collect();
    let steps = &episode.steps;
    let labels: Vec<String> = steps.iter().map(step_label).collect();
    let roles = lesson::roles(steps);
    let approach = approach(steps, &labels);
    let candidate = |kind, condition: String, action: String, description, signature| Candidate {
        kind,
        description,
        condition,
        action,
        signature,
        context: context.clone(),
        task: task.clone(),
        evidence,
        scope: episode.scope.clone(),
    };
    let mut out = Vec::new();

    if approach.len() >= 2 {
        let action = quoted(&approach).join(" → ");
        let mut signature: Vec<String> = approach.iter().map(|l| format!("seq:{l}")).collect();
        signature.extend(
            approach
                .windows(2)
                .map(|w| format!("then:{}>{}", w[0], w[1])),
        );
        out.push(candidate(
            PatternKind::ToolSequence,
            format!("{} task", episode.task_type),
            action.clone(),
            format!("Tool sequence: {action}"),
            signature,
        ));
    }

    let failures: Vec<usize> = (0..steps.len())
        .filter(|&i| !steps[i].result.is_success())
        .collect();
    for &i in failures.iter().take(MAX_PER_KIND) {
        // What the agent did next, looking around aside.
        let Some(j) = (i + 1..steps.len()).find(|&j| roles[j] != Role::Look) else {
            continue;
        };
        let next = &labels[j];
        let (condition, mut signature) = failure(&steps[i], &labels[i]);
        signature.insert(0, format!("after:{}", labels[i]));
        signature.push(format!("next:{next}"));
        // A change says what it did; clustering compares the steps by their labels.
        let action = match roles[j] == Role::Change {
            true => lesson::change_text(&steps[j]),
            false => format!("`{next}`"),
        };
        out.push(candidate(
            PatternKind::DecisionPoint,
            condition.clone(),
            action,
            format!("When {condition}, the next step was `{next}`"),
            signature,
        ));
    }

    for (i, fixed) in recoveries(steps, &roles).into_iter().take(MAX_PER_KIND) {
        let (condition, mut signature) = failure(&steps[i], &labels[i]);
        signature.insert(0, format!("fail:{}", labels[i]));
        let mut fix: Vec<usize> = Vec::new();
        for j in i + 1..fixed {
            let label = |k: &usize| &labels[*k];
            if steps[j].result.is_success()
                && roles[j] == Role::Change
                && fix.last().map(label) != Some(&labels[j])
            {
                fix.push(j);
            }
        }
        fix.truncate(MAX_FIX);
        signature.extend(fix.iter().map(|&j| format!("fix:{}", labels[j])));
        signature.push(format!("then:{}", labels[fixed]));
        let action = if fix.is_empty() {
            format!("retry `{}`", labels[fixed])
        } else {
            let fix: Vec<String> = fix
                .iter()
                .map(|&j| lesson::change_text(&steps[j]))
                .collect();
            format!("{}, then `{}`", fix.join(", "), labels[fixed])
        };
        out.push(candidate(
            PatternKind::ErrorRecovery,
            condition.clone(),
            action.clone(),
            format!(
                "When {condition}, recover with {}",
                lesson::without_file_names(&action)
            ),
            signature,
        ));
    }

    let condition = context_text(episode.task_type, &episode.context);
    let action = if approach.is_empty() {
        "no step succeeded".to_string()
    } else {
        quoted(&approach).join(" → ")
    };
    let mut signature = context_signature(&context);
    signature.extend(approach.iter().map(|l| format!("seq:{l}")));
    out.push(candidate(
        PatternKind::ContextPattern,
        condition.clone(),
        action.clone(),
        format!("In {} {condition}: {action}", article(&condition)),
        signature,
    ));

    let counts = super::outcome_counts(outcome.kind()).is_some();
    if let Some(decisive) = lesson::decisive(steps, &roles).filter(|_| counts) {
        let task = lesson::normalise(&episode.task_description);
        let mut condition = format!(
            "a task like \"{}\"",
            lesson::clip(&task, MAX_CONDITION_TASK_CHARS)
        );
        // The same move is a lesson of its stack: what works in Go may not in Python.
        let mut signature = decisive.signature();
        signature.extend(context.languages.iter().map(|v| format!("lang:{v}")));
        signature.extend(context.frameworks.iter().map(|v| format!("fw:{v}")));
        if let Some(i) = decisive.answered {
            let (failed, tokens) = failure(&steps[i], &labels[i]);
            condition.push_str(&format!(" and {failed}"));
            signature.extend(tokens.into_iter().filter(|t| t.starts_with("err:")));
        }
        let action = decisive.action();
        let stack: Vec<&str> = context
            .languages
            .iter()
            .chain(&context.frameworks)
            .map(String::as_str)
            .collect();
        let general = lesson::without_file_names(&action);
        let description = match stack.is_empty() {
            true => general,
            false => format!("{general} ({})", stack.join(", ")),
        };
        out.push(candidate(
            PatternKind::Strategy,
            condition,
            action,
            description,
            signature,
        ));
    }
    out
}

/// The labels of the successful steps, repeats in a row collapsed.
fn approach(steps: &[ExecutionStep], labels: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (step, label) in steps.iter().zip(labels) {
        if step.result.is_success() && out.last() != Some(label) {
            out.push(label.clone());
        }
    }
    out.truncate(MAX_APPROACH);
    out
}

fn quoted(labels: &[String]) -> Vec<String> {
    labels.iter().map(|l| format!("`{l}`")).collect()
}

/// A failed step as a condition ("`cargo test` fails with "timed out after #s"") and its signature tokens.
fn failure(step: &ExecutionStep, label: &str) -> (String, Vec<String>) {
    let verb = match step.result {
        StepResult::Timeout { .. } => "times out",
        _ => "fails",
    };
    let class = error_class(step.result.text());
    let signature = std::iter::once(format!("verb:{verb}"))
        .chain(
            class
                .split(|c: char| !c.is_alphanumeric() && c != '#')
                .filter(|w| w.len() > 1)
                .take(MAX_CLASS_WORDS)
                .map(|w| format!("err:{w}")),
        )
        .collect();
    let condition = if class.is_empty() {
        format!("`{label}` {verb}")
    } else {
        format!("`{label}` {verb} with \"{class}\"")
    };
    (condition, signature)
}

/// What kind of error a message reports: its first line that says so (an error, a panic, a failure, a time-out…),
/// else its first non-blank line, lowercased, each run of digits as `#`, whitespace collapsed, at most 80
/// characters. "Timed out after 5400 ms" and "timed out after 12 ms" are one class.
fn error_class(text: &str) -> String {
    const SAYS_ERROR: &[&str] = &[
        "error",
        "panic",
        "fail",
        "timed out",
        "timeout",
        "exception",
        "not found",
        "cannot",
        "denied",
        "refused",
        "race",
        "fatal",
        "invalid",
        "mismatch",
        "undefined",
        "overflow",
    ];
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    let line = lines()
        .find(|l| {
            let l = l.to_lowercase();
            SAYS_ERROR.iter().any(|w| l.contains(w))
        })
        .or_else(|| lines().next())
        .unwrap_or("");
    let mut out = String::new();
    let mut last = ' ';
    for c in line.chars().flat_map(char::to_lowercase) {
        let c = if c.is_whitespace() { ' ' } else { c };
        let digit = c.is_ascii_digit();
        if (digit && last == '#') || (c == ' ' && last == ' ') {
            continue;
        }
        last = if digit { '#' } else { c };
        out.push(last);
        if out.chars().count() >= MAX_CLASS_CHARS {
            break;
        }
    }
    out.trim().to_string()
}

/// Each failed step (by index) that was recovered, with the index of the step that recovered it: the next
/// successful step of the same tool, or else the next successful step (looking around is no recovery).
fn recoveries(steps: &[ExecutionStep], roles: &[Role]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        if steps[i].result.is_success() {
            i += 1;
            continue;
        }
        let after = i + 1;
        let done = |j: &usize| steps[*j].result.is_success() && roles[*j] != Role::Look;
        let same_tool = (after..steps.len())
            .filter(done)
            .find(|&j| steps[j].tool == steps[i].tool);
        let any = (after..steps.len()).find(done);
        match same_tool.or(any) {
            Some(fixed) => {
                out.push((i, fixed));
                i = fixed + 1;
            }
            None => break,
        }
    }
    out
}

fn context_of(task_type: TaskType, c: &TaskContext) -> PatternContext {
    let some = |v: &Option<String>| v.iter().filter(|s| !s.is_empty()).cloned().collect();
    PatternContext {
        task_types: vec![task_type],
        domains: [c.domain.clone()]
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect(),
        languages: some(&c.language),
        frameworks: some(&c.framework),
        tags: c.tags.clone(),
    }
}

/// "debugging task in payments-service (rust, tokio; tags flaky-test)"; a task of no known type is a "task".
fn context_text(task_type: TaskType, c: &TaskContext) -> String {
    let mut text = match task_type {
        TaskType::Other => "task".to_string(),
        _ => format!("{task_type} task"),
    };
    if !c.domain.is_empty() {
        text.push_str(&format!(" in {}", c.domain));
    }
    let stack: Vec<&str> = [&c.language, &c.framework]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let mut inner = stack.join(", ");
    if !c.tags.is_empty() {
        if !inner.is_empty() {
            inner.push_str("; ");
        }
        inner.push_str(&format!("tags {}", c.tags.join(", ")));
    }
    if !inner.is_empty() {
        text.push_str(&format!(" ({inner})"));
    }
    text
}

/// "a" or "an", as the word it comes before is said.
pub(crate) fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn context_signature(c: &PatternContext) -> Vec<String> {
    let mut out: Vec<String> = c.task_types.iter().map(|t| format!("type:{t}")).collect();
    out.extend(c.domains.iter().map(|v| format!("domain:{v}")));
    out.extend(c.languages.iter().map(|v| format!("lang:{v}")));
    out.extend(c.frameworks.iter().map(|v| format!("fw:{v}")));
    out.extend(c.tags.iter().map(|v| format!("tag:{v}")));
    out
}
