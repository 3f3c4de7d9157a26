//! Rendering the `pattern` and `heuristic` replies for people (aligned text) or programs (pretty JSON).

use memory_core::{Heuristic, Pattern, Recommendation, Timestamp};
use serde::Serialize;

use crate::{
    output::{Format, json},
    pattern::Reply,
};

/// Longest description shown in a listing.
const DESCRIPTION_CHARS: usize = 80;

#[derive(Serialize)]
struct Shown<'a> {
    pattern: &'a Pattern,
    heuristic: &'a Option<Heuristic>,
}

#[derive(Serialize)]
struct ExtractedOut<'a> {
    queued: u64,
    #[serde(flatten)]
    extracted: &'a memory_core::Extracted,
}

/// Renders `reply` in `format`, ending with a newline.
pub fn render(reply: &Reply, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return match reply {
            Reply::Listed(rows) | Reply::Updated(rows) => json(rows),
            Reply::Shown(pattern, heuristic) => json(&Shown { pattern, heuristic }),
            Reply::Ranked(found) => json(found),
            Reply::Extracted(extracted, queued) => json(&ExtractedOut {
                queued: *queued,
                extracted,
            }),
            Reply::Decayed(decayed) => json(decayed),
            Reply::Heuristics(rows) => json(rows),
        };
    }
    Ok(match reply {
        Reply::Listed(rows) if rows.is_empty() => "no patterns\n".into(),
        Reply::Listed(rows) | Reply::Updated(rows) => rows.iter().map(row).collect(),
        Reply::Shown(pattern, heuristic) => show(pattern, heuristic.as_ref()),
        Reply::Ranked(found) if found.is_empty() => "no matching patterns\n".into(),
        Reply::Ranked(found) => ranked(found),
        Reply::Extracted(e, queued) => {
            let mut text = String::new();
            if *queued > 0 {
                text.push_str(&format!("queued {queued} episode(s)\n"));
            }
            text.push_str(&format!(
                "extracted {} episode(s): {} candidate(s), {} merged into stored patterns, {} new pattern(s), \
                 {} absorbed",
                e.episodes, e.candidates, e.merged, e.created, e.absorbed
            ));
            if e.dropped > 0 {
                text.push_str(&format!(
                    "; {} job(s) dropped (deleted or extracted already)",
                    e.dropped
                ));
            }
            text.push('\n');
            text
        }
        Reply::Decayed(d) => format!(
            "{} of {} pattern score(s) brought to {}\n",
            d.updated, d.patterns, d.now
        ),
        Reply::Heuristics(rows) if rows.is_empty() => "no heuristics\n".into(),
        Reply::Heuristics(rows) => rows.iter().map(heuristic_row).collect(),
    })
}

fn cut(text: &str, chars: usize) -> String {
    let first = text.lines().next().unwrap_or("");
    if first.chars().count() > chars || first.len() < text.len() {
        format!("{}…", first.chars().take(chars).collect::<String>())
    } else {
        first.to_string()
    }
}

fn day(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d").to_string()
}

/// `id  kind  support  successes/failures  score  description`.
fn row(p: &Pattern) -> String {
    let e = &p.effectiveness;
    format!(
        "{}  {:<15}  {:>4} ep  {:>3}/{:<3}  {:.2}  {}\n",
        p.id,
        p.kind.as_str(),
        p.support,
        e.successes,
        e.failures,
        e.score,
        cut(&p.description, DESCRIPTION_CHARS)
    )
}

fn heuristic_row(h: &Heuristic) -> String {
    format!("{:.2}  {}  ({})\n", h.confidence, h.rule, h.pattern)
}

fn ranked(found: &[Recommendation]) -> String {
    let mut out = String::new();
    for (i, r) in found.iter().enumerate() {
        out.push_str(&format!(
            "{:>2}. {:.3}  {}  {}\n    {}\n    why: {}\n",
            i + 1,
            r.score.total,
            r.pattern.id,
            r.pattern.kind.as_str(),
            r.pattern.lesson(),
            r.why
        ));
    }
    out
}

fn show(p: &Pattern, heuristic: Option<&Heuristic>) -> String {
    let e = &p.effectiveness;
    let c = &p.context;
    let mut out = format!(
        "pattern      {}\nkind         {}\nlesson       {}\ndescription  {}\ncondition    {}\naction       {}\n\
         signature    {}\n",
        p.id,
        p.kind.as_str(),
        p.lesson(),
        p.description,
        p.condition,
        p.action,
        p.signature.join(" | ")
    );
    let types: Vec<&str> = c.task_types.iter().map(|t| t.as_str()).collect();
    for (label, values) in [
        (
            "task types",
            types.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ),
        ("domains", c.domains.clone()),
        ("languages", c.languages.clone()),
        ("frameworks", c.frameworks.clone()),
        ("tags", c.tags.clone()),
    ] {
        if !values.is_empty() {
            out.push_str(&format!("{label:<13}{}\n", values.join(", ")));
        }
    }
    for task in &p.tasks {
        out.push_str(&format!("task         {}\n", cut(task, 100)));
    }
    out.push_str(&format!(
        "support      {} episode(s)\nuses         {}\noutcomes     {} went well, {} did not\nscore        {:.3} \
         (as of {})\nlast used    {}\ncreated      {}\nupdated      {}\n",
        p.support,
        e.uses,
        e.successes,
        e.failures,
        e.score,
        e.decayed_at,
        e.last_used,
        p.created_at,
        p.updated_at
    ));
    if let Some(h) = heuristic {
        out.push_str(&format!("confidence   {:.2}\n", h.confidence));
    }
    out.push_str("\nevidence (newest first)\n");
    for ev in p.evidence.iter().rev() {
        out.push_str(&format!(
            "  {}  {:<15}  {}\n",
            ev.episode,
            ev.outcome.as_str(),
            day(ev.at)
        ));
    }
    out
}
