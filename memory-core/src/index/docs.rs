//! What of a record or an episode is indexed: its text fields with their weights, the text its vector is made
//! from, and its metadata.

use crate::{Episode, MemoryRecord, Revision, TaskOutcome, content_hash};

use super::{Doc, DocKey, DocMeta, Labels};

/// Weight of a record's `context` field: it says where a memory came up (for a conversation turn, the turns
/// around it), which helps find it but is weaker evidence than its own words.
pub const CONTEXT_WEIGHT: f32 = 0.3;

/// A record as a document (without its vector).
pub fn record(record: &MemoryRecord, revision: Revision) -> Doc {
    let mut fields = vec![(record.content.clone(), 1.0)];
    if let Some(summary) = &record.summary {
        fields.push((summary.clone(), 1.0));
    }
    if !record.tags.is_empty() {
        fields.push((record.tags.join(" "), 1.0));
    }
    if let Some(context) = &record.context {
        fields.push((context.clone(), CONTEXT_WEIGHT));
    }
    Doc {
        key: DocKey::Record(record.id),
        revision,
        fields,
        vector: None,
        meta: DocMeta {
            time: record.created_at,
            importance: record.importance as f32,
            reward: None,
            labels: Labels {
                kind: Some(record.kind),
                tags: record.tags.clone(),
                ..Labels::default()
            },
        },
    }
}

/// What an episode's outcome says in words.
fn outcome_text(outcome: &TaskOutcome) -> String {
    match outcome {
        TaskOutcome::Success { verdict, .. } => verdict.clone(),
        TaskOutcome::PartialSuccess {
            verdict,
            completed,
            failed,
        } => format!("{verdict}\n{}\n{}", completed.join("\n"), failed.join("\n")),
        TaskOutcome::Failure {
            reason,
            error_details,
        } => format!("{reason}\n{}", error_details.as_deref().unwrap_or("")),
        TaskOutcome::Abstained { reason } => reason.clone(),
    }
}

/// The text an episode's vector is made from: its task, its context and how it ended.
pub fn episode_text(episode: &Episode) -> String {
    let c = &episode.context;
    let mut text = format!("{}\n{}", episode.task_description, c.domain);
    for part in [&c.language, &c.framework].into_iter().flatten() {
        text.push(' ');
        text.push_str(part);
    }
    if let Some(outcome) = &episode.outcome {
        text.push('\n');
        text.push_str(&outcome_text(outcome));
    }
    text
}

/// The key an episode's vector is stored under.
pub fn episode_key(episode: &Episode) -> String {
    content_hash(&episode_text(episode))
}

/// An episode as a document (without its vector): the task weighs most; context, outcome, reflection and the
/// tools used weigh less.
pub fn episode(episode: &Episode, revision: Revision) -> Doc {
    let c = &episode.context;
    let mut context = vec![c.domain.clone()];
    context.extend(c.language.iter().chain(&c.framework).cloned());
    context.extend(c.tags.iter().cloned());
    let mut fields = vec![
        (episode.task_description.clone(), 1.0),
        (context.join(" "), 0.5),
    ];
    if let Some(outcome) = &episode.outcome {
        fields.push((outcome_text(outcome), 0.5));
    }
    if let Some(r) = &episode.reflection {
        let lines = r.successes.iter().chain(&r.improvements).chain(&r.insights);
        fields.push((lines.cloned().collect::<Vec<_>>().join("\n"), 0.3));
    }
    let steps: Vec<String> = episode
        .steps
        .iter()
        .map(|s| format!("{} {}", s.tool, s.action))
        .collect();
    if !steps.is_empty() {
        fields.push((steps.join("\n"), 0.3));
    }
    Doc {
        key: DocKey::Episode(episode.id),
        revision,
        fields,
        vector: None,
        meta: DocMeta {
            time: episode.start_time,
            importance: 0.5,
            reward: episode.reward.as_ref().map(|r| r.total as f32),
            labels: Labels {
                kind: None,
                tags: c.tags.clone(),
                domain: Some(c.domain.clone()),
                language: c.language.clone(),
                framework: c.framework.clone(),
                task_type: Some(episode.task_type),
                outcome: episode.outcome.as_ref().map(TaskOutcome::kind),
                scope: episode.scope.as_ref().map(|s| s.as_str().to_string()),
            },
        },
    }
}
