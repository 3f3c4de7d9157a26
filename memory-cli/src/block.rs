//! Query results as a context block: each hit rendered as an item, whole items fitted to a token budget.

use memory_core::{
    Episode, Found, Heuristic, Hit, MemoryRecord, Pattern, Result, TaskOutcome,
    context::{self, Context, ContextItem},
};

/// The hits, best first, as a block of at most `budget` cl100k tokens.
pub fn assemble(hits: &[Hit], budget: usize) -> Result<Context> {
    let items: Vec<ContextItem> = hits.iter().map(item).collect();
    context::assemble(&items, budget)
}

fn day(t: memory_core::Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d").to_string()
}

/// One hit as a block item.
pub fn item(hit: &Hit) -> ContextItem {
    let score = ("score", format!("{:.3}", hit.score.total));
    match &hit.found {
        Found::Memory { record } => memory_item(record, score),
        Found::Episode { episode } => episode_item(episode, score),
        Found::Pattern { pattern, heuristic } => pattern_item(pattern, heuristic.as_ref(), score),
    }
}

/// A pattern as what it says, when it applies, what to do, and its record.
fn pattern_item(p: &Pattern, h: Option<&Heuristic>, score: (&'static str, String)) -> ContextItem {
    let e = &p.effectiveness;
    let attributes = vec![
        ("kind", p.kind.as_str().to_string()),
        ("episodes", p.support.to_string()),
        ("went_well", e.successes.to_string()),
        ("did_not", e.failures.to_string()),
        ("effectiveness", format!("{:.2}", e.score)),
        score,
    ];
    let mut body = p.lesson();
    if let Some(h) = h {
        body.push_str(&format!("\nConfidence: {:.2}", h.confidence));
    }
    for task in p.tasks.iter().take(2) {
        body.push_str(&format!("\nSeen in: {task}"));
    }
    ContextItem {
        tag: "pattern",
        id: p.id.to_string(),
        attributes,
        body,
    }
}

fn memory_item(r: &MemoryRecord, score: (&'static str, String)) -> ContextItem {
    let mut attributes = vec![
        ("kind", r.kind.as_str().to_string()),
        ("importance", format!("{:.2}", r.importance)),
        ("stored", day(r.created_at)),
        score,
    ];
    if let Some(source) = &r.source {
        attributes.push(("source", source.clone()));
    }
    ContextItem {
        tag: "memory",
        id: r.id.to_string(),
        attributes,
        body: r.content.clone(),
    }
}

/// An episode as the task, how it ended, what was learnt and the steps taken.
fn episode_item(e: &Episode, score: (&'static str, String)) -> ContextItem {
    let mut attributes = vec![
        ("domain", e.context.domain.clone()),
        ("started", day(e.start_time)),
    ];
    if let Some(outcome) = &e.outcome {
        attributes.push(("outcome", outcome.kind().as_str().to_string()));
    }
    if let Some(reward) = &e.reward {
        attributes.push(("reward", format!("{:.2}", reward.total)));
    }
    attributes.push(score);
    let mut body = format!("Task: {}", e.task_description);
    match &e.outcome {
        Some(
            TaskOutcome::Success { verdict, .. } | TaskOutcome::PartialSuccess { verdict, .. },
        ) => {
            body.push_str(&format!("\nOutcome: {verdict}"));
        }
        Some(TaskOutcome::Failure { reason, .. } | TaskOutcome::Abstained { reason }) => {
            body.push_str(&format!("\nOutcome: {reason}"));
        }
        None => body.push_str("\nOutcome: in progress"),
    }
    if !e.steps.is_empty() {
        let steps: Vec<String> = e
            .steps
            .iter()
            .map(|s| format!("{} {}", s.tool, s.action))
            .collect();
        body.push_str(&format!("\nSteps: {}", steps.join("; ")));
    }
    if let Some(r) = &e.reflection {
        for line in r.successes.iter().chain(&r.improvements).chain(&r.insights) {
            body.push_str(&format!("\n- {line}"));
        }
    }
    ContextItem {
        tag: "episode",
        id: e.id.to_string(),
        attributes,
        body,
    }
}
