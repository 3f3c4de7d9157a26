//! Input limits, checked at every entry point before anything is written.

use crate::{Episode, Error, ExecutionStep, Result, TaskContext, TaskOutcome};

/// Largest task description, in bytes.
pub const MAX_TASK_DESCRIPTION_BYTES: usize = 10 * 1024;
/// Most tags on one item.
pub const MAX_TAGS: usize = 50;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 50;
/// Largest step parameters (compact JSON) or step result text, in bytes.
pub const MAX_STEP_PAYLOAD_BYTES: usize = 64 * 1024;
/// Most steps in one episode.
pub const MAX_STEPS: usize = 10_000;
/// Longest name (tool, action, domain, language, framework), in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Largest metadata object (compact JSON), in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Largest outcome text (verdict, reason, each listed item), in bytes.
pub const MAX_OUTCOME_TEXT_BYTES: usize = 10 * 1024;
/// Most listed items (artifacts, completed, failed) in an outcome.
pub const MAX_OUTCOME_ITEMS: usize = 100;

/// Largest memory record content, in bytes.
pub const MAX_RECORD_CONTENT_BYTES: usize = 1024 * 1024;
/// Largest record summary, context or source, in bytes.
pub const MAX_RECORD_TEXT_BYTES: usize = 10 * 1024;

/// Checks a record's content: non-empty and at most [`MAX_RECORD_CONTENT_BYTES`].
pub fn record_content(value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation("content", "must not be empty"));
    }
    text("content", value, MAX_RECORD_CONTENT_BYTES)
}

/// Checks a record's summary, context or source: at most [`MAX_RECORD_TEXT_BYTES`].
pub fn record_text(field: &str, value: &str) -> Result<()> {
    text(field, value, MAX_RECORD_TEXT_BYTES)
}

/// Checks an importance: a number from 0 to 1.
pub fn importance(value: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&value) {
        return Err(Error::validation(
            "importance",
            format!("must be from 0 to 1, got {value}"),
        ));
    }
    Ok(())
}

/// Checks a name: non-empty when `required`, at most [`MAX_NAME_BYTES`], no control characters.
pub fn name(field: &str, value: &str, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(Error::validation(
            field,
            format!("is {} bytes; the limit is {MAX_NAME_BYTES}", value.len()),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Error::validation(
            field,
            format!("contains the control character {c:?}"),
        ));
    }
    Ok(())
}

fn text(field: &str, value: &str, limit: usize) -> Result<()> {
    if value.len() > limit {
        return Err(Error::validation(
            field,
            format!("is {} bytes; the limit is {limit}", value.len()),
        ));
    }
    Ok(())
}

/// Checks one tag (a filter's, or `field` of a list): 1 to [`MAX_TAG_CHARS`] characters of `[A-Za-z0-9_.-]`.
pub fn tag(field: &str, tag: &str) -> Result<()> {
    let chars = tag.chars().count();
    if chars == 0 || chars > MAX_TAG_CHARS {
        return Err(Error::validation(
            field,
            format!("must be 1 to {MAX_TAG_CHARS} characters, got {chars}"),
        ));
    }
    if let Some(c) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::validation(
            field,
            format!(
                "{} contains {c:?}; tags allow letters, digits, '-', '_' and '.'",
                quoted(tag)
            ),
        ));
    }
    Ok(())
}

/// Checks what a query says of its task's context, as the names and tags of an episode's context are checked.
pub fn query_context(ctx: &crate::QueryContext) -> Result<()> {
    for (field, value) in [
        ("domain", &ctx.domain),
        ("language", &ctx.language),
        ("framework", &ctx.framework),
    ] {
        if let Some(value) = value {
            name(field, value, false)?;
        }
    }
    tags(&ctx.tags)
}

/// Checks a tag list: at most [`MAX_TAGS`] tags, each 1 to [`MAX_TAG_CHARS`] characters of `[A-Za-z0-9_.-]`.
pub fn tags(tags: &[String]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::validation(
            "tags",
            format!("has {} tags; the limit is {MAX_TAGS}", tags.len()),
        ));
    }
    for (i, value) in tags.iter().enumerate() {
        tag(&format!("tags[{i}]"), value)?;
    }
    Ok(())
}

/// Checks a task context.
pub fn context(ctx: &TaskContext) -> Result<()> {
    name("context.domain", &ctx.domain, true)?;
    name(
        "context.language",
        ctx.language.as_deref().unwrap_or(""),
        false,
    )?;
    name(
        "context.framework",
        ctx.framework.as_deref().unwrap_or(""),
        false,
    )?;
    tags(&ctx.tags)
}

/// Checks a task description: non-empty and at most [`MAX_TASK_DESCRIPTION_BYTES`].
pub fn task_description(value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation("task_description", "must not be empty"));
    }
    text("task_description", value, MAX_TASK_DESCRIPTION_BYTES)
}

/// Checks metadata: a JSON object of at most [`MAX_METADATA_BYTES`].
pub fn metadata(value: &crate::Json) -> Result<()> {
    if !value.is_object() {
        return Err(Error::validation("metadata", "must be a JSON object"));
    }
    text("metadata", &value.to_text(), MAX_METADATA_BYTES)
}

/// Checks one step.
pub fn step(step: &ExecutionStep) -> Result<()> {
    name("tool", &step.tool, true)?;
    name("action", &step.action, false)?;
    let params = step.parameters.encoded_len();
    if params > MAX_STEP_PAYLOAD_BYTES {
        return Err(Error::validation(
            "parameters",
            format!("is {params} bytes of JSON; the limit is {MAX_STEP_PAYLOAD_BYTES}"),
        ));
    }
    text("result", step.result.text(), MAX_STEP_PAYLOAD_BYTES)
}

/// An outcome's named texts and named lists.
type OutcomeFields<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a [String])>);

/// Checks an outcome's texts and lists.
pub fn outcome(outcome: &TaskOutcome) -> Result<()> {
    let (texts, lists): OutcomeFields<'_> = match outcome {
        TaskOutcome::Success { verdict, artifacts } => {
            (vec![("verdict", verdict)], vec![("artifacts", artifacts)])
        }
        TaskOutcome::PartialSuccess {
            verdict,
            completed,
            failed,
        } => (
            vec![("verdict", verdict)],
            vec![("completed", completed), ("failed", failed)],
        ),
        TaskOutcome::Failure {
            reason,
            error_details,
        } => (
            vec![
                ("reason", reason),
                ("error_details", error_details.as_deref().unwrap_or("")),
            ],
            vec![],
        ),
        TaskOutcome::Abstained { reason } => (vec![("reason", reason)], vec![]),
    };
    for (field, value) in texts {
        text(&format!("outcome.{field}"), value, MAX_OUTCOME_TEXT_BYTES)?;
    }
    for (field, items) in lists {
        if items.len() > MAX_OUTCOME_ITEMS {
            return Err(Error::validation(
                format!("outcome.{field}"),
                format!(
                    "has {} items; the limit is {MAX_OUTCOME_ITEMS}",
                    items.len()
                ),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            text(
                &format!("outcome.{field}[{i}]"),
                item,
                MAX_OUTCOME_TEXT_BYTES,
            )?;
        }
    }
    Ok(())
}

/// Checks a whole episode, as stores do before a bulk import.
pub fn episode(ep: &Episode) -> Result<()> {
    task_description(&ep.task_description)?;
    context(&ep.context)?;
    metadata(&ep.metadata)?;
    if ep.steps.len() > MAX_STEPS {
        return Err(Error::validation(
            "steps",
            format!("has {} steps; the limit is {MAX_STEPS}", ep.steps.len()),
        ));
    }
    for (i, s) in ep.steps.iter().enumerate() {
        step(s).map_err(|e| prefix(e, &format!("steps[{i}].")))?;
        if s.step_number as usize != i + 1 {
            return Err(Error::validation(
                format!("steps[{i}].step_number"),
                format!("is {}; steps are numbered 1, 2, 3, ...", s.step_number),
            ));
        }
    }
    if let Some(o) = &ep.outcome {
        outcome(o)?;
    }
    if ep.end_time.is_some() != ep.outcome.is_some() {
        return Err(Error::validation(
            "outcome",
            "an episode has an outcome exactly when it has an end time",
        ));
    }
    Ok(())
}

/// Checks an episode given to `complete_episode`: valid, with an end time and an outcome.
pub fn completed_episode(ep: &Episode) -> Result<()> {
    episode(ep)?;
    if !ep.is_completed() {
        return Err(Error::validation(
            "outcome",
            "a completed episode needs an end time and an outcome",
        ));
    }
    Ok(())
}

/// Checks every episode of a bulk import; the field of an error names the episode (`episodes[3].tags[0]`).
pub fn episodes(eps: &[Episode]) -> Result<()> {
    for (i, ep) in eps.iter().enumerate() {
        episode(ep).map_err(|e| prefix(e, &format!("episodes[{i}].")))?;
    }
    Ok(())
}

/// Checks the step count an append would reach.
pub fn step_count(id: impl std::fmt::Display, existing: usize) -> Result<()> {
    if existing >= MAX_STEPS {
        return Err(Error::validation(
            "steps",
            format!("episode {id} already has {existing} steps; the limit is {MAX_STEPS}"),
        ));
    }
    Ok(())
}

fn prefix(err: Error, prefix: &str) -> Error {
    match err {
        Error::Validation { field, message } => Error::Validation {
            field: format!("{prefix}{field}"),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests;

/// The most characters of an offending value a message quotes.
pub const QUOTED_CHARS: usize = 64;

/// `value` as a message quotes it: escaped, in double quotes, and cut after [`QUOTED_CHARS`] characters with its
/// length said, so that a message about a huge value stays short.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &value[..cut], value.len()),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// `message` cut to about `max` bytes, keeping its start and its end (where a message says what was expected),
/// for messages that quote values this crate did not format (a parser's).
pub fn clipped(message: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if message.len() <= max {
        return message.into();
    }
    let head = message.floor_char_boundary(max * 2 / 3);
    let tail = message.ceil_char_boundary(message.len() - max / 3);
    format!(
        "{}…[{} bytes]…{}",
        &message[..head],
        tail - head,
        &message[tail..]
    )
    .into()
}
