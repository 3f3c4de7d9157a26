//! Rendering replies for people (aligned text) or programs (pretty JSON of memory-core's serde forms).

use std::fmt::Write as _;

use clap::ValueEnum;
use memory_core::{
    Episode, EpisodeId, EpisodeSummary, Reflection, RewardScore, TaskOutcome, Timestamp,
};
use serde::Serialize;

use crate::episode::Reply;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for reading.
    Human,
    /// Pretty-printed JSON; the serde form of memory-core's types.
    Json,
}

/// The `--format` option: a [`Format`], or CSV, which only reports print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Aligned text for reading.
    Human,
    /// Pretty-printed JSON; the serde form of memory-core's types.
    Json,
    /// Comma-separated values, one table per report (reports only).
    Csv,
}

impl FormatArg {
    /// The format of a command that is not a report.
    pub fn plain(self) -> anyhow::Result<Format> {
        match self {
            FormatArg::Human => Ok(Format::Human),
            FormatArg::Json => Ok(Format::Json),
            FormatArg::Csv => anyhow::bail!("--format csv is for reports; use human or json here"),
        }
    }
}

/// Longest step text shown on a step's line in `show`.
const STEP_TEXT_CHARS: usize = 72;
/// Longest task description shown in a listing.
const TASK_CHARS: usize = 50;
/// Width of the label column in `show`.
const LABEL: usize = 11;

#[derive(Serialize)]
struct Started {
    id: EpisodeId,
}

#[derive(Serialize)]
struct Logged {
    id: EpisodeId,
    step_number: u32,
}

#[derive(Serialize)]
struct Deleted {
    id: EpisodeId,
    deleted: bool,
}

/// Renders `reply` in `format`, ending with a newline.
pub fn render(reply: &Reply, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Json => match reply {
            Reply::Started(id) => json(&Started { id: *id }),
            Reply::Logged { id, step_number } => json(&Logged {
                id: *id,
                step_number: *step_number,
            }),
            Reply::Completed(episode) | Reply::Shown(episode) => json(episode),
            Reply::Listed(rows) => json(rows),
            Reply::Deleted(id) => json(&Deleted {
                id: *id,
                deleted: true,
            }),
        },
        Format::Human => Ok(match reply {
            Reply::Started(id) => format!("started episode {id}\n"),
            Reply::Logged { id, step_number } => {
                format!("logged step {step_number} of episode {id}\n")
            }
            Reply::Completed(episode) => completed(episode),
            Reply::Shown(episode) => show(episode),
            Reply::Listed(rows) => table(rows),
            Reply::Deleted(id) => format!("deleted episode {id}\n"),
        }),
    }
}

/// Pretty JSON with a trailing newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

fn completed(episode: &Episode) -> String {
    let kind = episode
        .outcome
        .as_ref()
        .map_or("in progress", |o| o.kind().as_str());
    let mut out = format!("completed episode {}: {kind}\n", episode.id);
    if let Some(reward) = &episode.reward {
        field(&mut out, "reward", &reward_line(reward));
    }
    if let Some(reflection) = &episode.reflection {
        reflection_block(&mut out, reflection);
    }
    out
}

fn show(episode: &Episode) -> String {
    let mut out = String::new();
    field(&mut out, "episode", &episode.id.to_string());
    field(&mut out, "task", &episode.task_description);
    field(&mut out, "type", episode.task_type.as_str());
    field(&mut out, "context", &context_line(episode));
    field(&mut out, "started", &time(episode.start_time));
    let ended = match episode.end_time {
        Some(end) => format!(
            "{} (after {})",
            time(end),
            duration(end.micros_since(episode.start_time))
        ),
        None => "in progress".to_string(),
    };
    field(&mut out, "ended", &ended);
    if episode.metadata.as_str() != "{}" {
        field(&mut out, "metadata", &episode.metadata.to_text());
    }
    field(&mut out, "steps", &episode.steps.len().to_string());
    for step in &episode.steps {
        let mut line = format!("  #{} {}", step.step_number, step.tool);
        if !step.action.is_empty() {
            let _ = write!(line, " {}", flatten(&step.action));
        }
        let _ = write!(line, " → {} ({} ms)", step.result.kind(), step.latency_ms);
        let text = truncate(step.result.text(), STEP_TEXT_CHARS);
        if !text.is_empty() {
            let _ = write!(line, " {text}");
        }
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(outcome) = &episode.outcome {
        outcome_block(&mut out, outcome);
    }
    if let Some(reward) = &episode.reward {
        field(&mut out, "reward", &reward_line(reward));
    }
    if let Some(reflection) = &episode.reflection {
        reflection_block(&mut out, reflection);
    }
    out
}

/// The listing as an aligned table, one episode a row.
fn table(rows: &[EpisodeSummary]) -> String {
    if rows.is_empty() {
        return "no episodes\n".to_string();
    }
    let header = [
        "ID", "STARTED", "TYPE", "DOMAIN", "STEPS", "OUTCOME", "REWARD", "TASK",
    ]
    .map(String::from);
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|row| {
            [
                row.id.to_string(),
                row.start_time
                    .to_datetime()
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                row.task_type.as_str().to_string(),
                row.context.domain.clone(),
                row.step_count.to_string(),
                row.outcome
                    .map_or("in_progress", |o| o.as_str())
                    .to_string(),
                row.reward
                    .map_or_else(|| "-".to_string(), |r| format!("{r:.2}")),
                truncate(&row.task_description, TASK_CHARS),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Writes `label` padded to the label column, then `value`; continuation lines are indented under the value.
fn field(out: &mut String, label: &str, value: &str) {
    let mut lines = value.lines();
    let _ = writeln!(out, "{label:<LABEL$}{}", lines.next().unwrap_or(""));
    for line in lines {
        let _ = writeln!(out, "{:LABEL$}{line}", "");
    }
}

fn context_line(episode: &Episode) -> String {
    let context = &episode.context;
    let mut parts = vec![format!("domain {}", context.domain)];
    if let Some(language) = &context.language {
        parts.push(format!("language {language}"));
    }
    if let Some(framework) = &context.framework {
        parts.push(format!("framework {framework}"));
    }
    parts.push(format!("complexity {}", context.complexity));
    if !context.tags.is_empty() {
        parts.push(format!("tags {}", context.tags.join(" ")));
    }
    parts.join(", ")
}

fn outcome_block(out: &mut String, outcome: &TaskOutcome) {
    let kind = outcome.kind().as_str();
    match outcome {
        TaskOutcome::Success { verdict, artifacts } => {
            field(out, "outcome", &format!("{kind}: {verdict}"));
            list_field(out, "artifacts", artifacts);
        }
        TaskOutcome::PartialSuccess {
            verdict,
            completed,
            failed,
        } => {
            field(out, "outcome", &format!("{kind}: {verdict}"));
            list_field(out, "done", completed);
            list_field(out, "not done", failed);
        }
        TaskOutcome::Failure {
            reason,
            error_details,
        } => {
            field(out, "outcome", &format!("{kind}: {reason}"));
            if let Some(details) = error_details {
                field(out, "details", details);
            }
        }
        TaskOutcome::Abstained { reason } => field(out, "outcome", &format!("{kind}: {reason}")),
    }
}

fn list_field(out: &mut String, label: &str, items: &[String]) {
    if !items.is_empty() {
        field(out, label, &items.join("\n"));
    }
}

fn reward_line(reward: &RewardScore) -> String {
    format!(
        "{:.2} = base {:.2} × efficiency {:.2} (steps {:.2}, time {:.2}) × complexity {:.2}",
        reward.total,
        reward.base,
        reward.efficiency,
        reward.step_efficiency,
        reward.time_efficiency,
        reward.complexity_factor
    )
}

fn reflection_block(out: &mut String, reflection: &Reflection) {
    out.push_str("reflection\n");
    for (title, items) in [
        ("successes", &reflection.successes),
        ("improvements", &reflection.improvements),
        ("insights", &reflection.insights),
    ] {
        let _ = writeln!(out, "  {title}");
        if items.is_empty() {
            out.push_str("    (none)\n");
        }
        for item in items {
            let _ = writeln!(out, "    - {}", flatten(item));
        }
    }
}

fn time(at: Timestamp) -> String {
    at.to_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn duration(micros: u64) -> String {
    let millis = micros / 1000;
    let secs = millis / 1000;
    match secs {
        0 => format!("{millis} ms"),
        1..60 => format!("{}.{} s", secs, (millis % 1000) / 100),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Collapses runs of whitespace (newlines included) into single spaces.
fn flatten(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`flatten`]s `text` and cuts it to at most `max` characters, marking a cut with `…`.
fn truncate(text: &str, max: usize) -> String {
    let flat = flatten(text);
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_marks_the_cut_and_keeps_the_limit() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("a  b\nc", 10), "a b c");
        let cut = truncate(&"é".repeat(60), 50);
        assert_eq!(cut.chars().count(), 50);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850_000), "850 ms");
        assert_eq!(duration(12_345_000), "12.3 s");
        assert_eq!(duration(190_000_000), "3m 10s");
        assert_eq!(duration(7_500_000_000), "2h 05m");
    }
}
