//! Rule-based reflection: what worked, what to improve and what to remember, read off the steps and outcome.
//!
//! The rules are deterministic (no model, no randomness), so a reflection can be recomputed and compared.

use crate::{Episode, ExecutionStep, Reflection, TaskOutcome, Timestamp, reward};

/// Most lines in each section.
const MAX_LINES: usize = 6;
/// Longest quoted error message.
const MAX_QUOTE_CHARS: usize = 120;

/// The reflection of `episode` ended with `outcome` at `end_time`.
pub fn reflect(episode: &Episode, outcome: &TaskOutcome, end_time: Timestamp) -> Reflection {
    let steps = &episode.steps;
    let complexity = episode.context.complexity;
    let step_baseline = reward::step_baseline(complexity) as usize;
    let minutes = reward::duration_secs(episode, end_time) / 60.0;
    let minutes_baseline = reward::time_baseline_secs(complexity) / 60.0;
    let succeeded = matches!(
        outcome,
        TaskOutcome::Success { .. } | TaskOutcome::PartialSuccess { .. }
    );

    let mut r = Reflection::default();

    if succeeded {
        if steps.len() <= step_baseline {
            r.successes.push(format!(
                "Finished in {} steps, within the baseline of {step_baseline} for a {complexity} task",
                steps.len()
            ));
        }
        let sequence = successful_tool_sequence(steps);
        if !sequence.is_empty() {
            r.successes
                .push(format!("Working tool sequence: {}", sequence.join(" -> ")));
        }
    }
    for (failed, fixed) in recoveries(steps) {
        r.successes.push(format!(
            "Recovered from a failed `{}` (step {}) with `{}` (step {})",
            label(failed),
            failed.step_number,
            label(fixed),
            fixed.step_number
        ));
    }
    if let TaskOutcome::PartialSuccess { completed, .. } = outcome {
        for item in completed {
            r.successes.push(format!("Done: {item}"));
        }
    }

    match outcome {
        TaskOutcome::Failure { reason, .. } => r
            .improvements
            .push(format!("Task failed: {}", quote(reason))),
        TaskOutcome::PartialSuccess { failed, .. } => {
            for item in failed {
                r.improvements.push(format!("Not done: {item}"));
            }
        }
        TaskOutcome::Abstained { reason } => {
            r.improvements.push(format!("Abstained: {}", quote(reason)))
        }
        TaskOutcome::Success { .. } => {}
    }
    if let Some((step, run)) = longest_failure_run(steps).filter(|(_, run)| *run >= 3) {
        r.improvements.push(format!(
            "`{}` failed {run} times in a row; change approach sooner",
            label(step)
        ));
    }
    if steps.len() > step_baseline {
        r.improvements.push(format!(
            "Took {} steps, more than the baseline of {step_baseline} for a {complexity} task",
            steps.len()
        ));
    }
    if minutes > minutes_baseline {
        r.improvements.push(format!(
            "Took {minutes:.1} min, longer than the baseline of {minutes_baseline:.0} min"
        ));
    }

    for step in steps.iter().filter(|s| !s.result.is_success()) {
        r.improvements.push(format!(
            "Step {} `{}` {}: {}",
            step.step_number,
            label(step),
            if step.result.kind() == "timeout" {
                "timed out"
            } else {
                "failed"
            },
            quote(step.result.text())
        ));
    }
    let ctx = &episode.context;
    let place = [
        Some(ctx.domain.as_str()),
        ctx.language.as_deref(),
        ctx.framework.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("/");
    r.insights.push(format!(
        "{} {} task in {place}: {}",
        complexity,
        episode.task_type,
        outcome.kind().as_str().replace('_', " ")
    ));
    if let Some((tool, count)) =
        most_used_tool(steps).filter(|(_, c)| steps.len() >= 3 && *c * 2 >= steps.len())
    {
        r.insights.push(format!(
            "`{tool}` carried the work: {count} of {} steps",
            steps.len()
        ));
    }
    let tokens: u64 = steps.iter().filter_map(|s| s.tokens).sum();
    if tokens > 0 {
        r.insights
            .push(format!("Spent {tokens} tokens over {} steps", steps.len()));
    }
    let errors = steps.iter().filter(|s| !s.result.is_success()).count();
    if errors > 0 && succeeded {
        r.insights.push(format!(
            "Succeeded despite {errors} failed step(s): errors here were recoverable"
        ));
    }

    for section in [&mut r.successes, &mut r.improvements, &mut r.insights] {
        section.truncate(MAX_LINES);
    }
    r
}

fn label(step: &ExecutionStep) -> String {
    if step.action.is_empty() {
        step.tool.clone()
    } else {
        format!("{} {}", step.tool, step.action)
    }
}

fn quote(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > MAX_QUOTE_CHARS {
        let cut: String = line.chars().take(MAX_QUOTE_CHARS).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// The tools of successful steps, consecutive repeats collapsed.
fn successful_tool_sequence(steps: &[ExecutionStep]) -> Vec<&str> {
    let mut seq: Vec<&str> = Vec::new();
    for step in steps.iter().filter(|s| s.result.is_success()) {
        if seq.last() != Some(&step.tool.as_str()) {
            seq.push(&step.tool);
        }
    }
    seq.truncate(8);
    seq
}

/// Each failed step paired with the next successful step of the same tool, or else the next successful step.
fn recoveries(steps: &[ExecutionStep]) -> Vec<(&ExecutionStep, &ExecutionStep)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        if steps[i].result.is_success() {
            i += 1;
            continue;
        }
        let rest = &steps[i + 1..];
        let fix = rest
            .iter()
            .find(|s| s.result.is_success() && s.tool == steps[i].tool)
            .or_else(|| rest.iter().find(|s| s.result.is_success()));
        match fix {
            Some(fix) => {
                out.push((&steps[i], fix));
                i = fix.step_number as usize;
            }
            None => break,
        }
    }
    out
}

fn longest_failure_run(steps: &[ExecutionStep]) -> Option<(&ExecutionStep, usize)> {
    let mut best: Option<(&ExecutionStep, usize)> = None;
    let mut run = 0;
    for (i, step) in steps.iter().enumerate() {
        let continues = i > 0
            && !steps[i - 1].result.is_success()
            && steps[i - 1].tool == step.tool
            && steps[i - 1].action == step.action;
        run = match (step.result.is_success(), continues) {
            (true, _) => 0,
            (false, true) => run + 1,
            (false, false) => 1,
        };
        if run > best.map_or(0, |(_, r)| r) {
            best = Some((step, run));
        }
    }
    best
}

fn most_used_tool(steps: &[ExecutionStep]) -> Option<(&str, usize)> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for step in steps {
        match counts.iter_mut().find(|(t, _)| *t == step.tool) {
            Some((_, c)) => *c += 1,
            None => counts.push((&step.tool, 1)),
        }
    }
    // Ties go to the tool used first, which keeps the result deterministic.
    counts.into_iter().rev().max_by_key(|(_, c)| *c)
}

#[cfg(test)]
mod tests;
