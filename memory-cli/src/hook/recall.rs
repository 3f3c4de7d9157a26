//! What is given to the agent: at session start, the project's most useful lessons and its recent episodes; on
//! each prompt, the episodes, memories and lessons that match it well enough, each once per session. Every item
//! carries its id (to fetch more through MCP) and one line on why it is there.

use memory_core::{
    EpisodeQuery, Found, Hit, Memory, Patterns, QueryContext, Recommend, Records, Search,
    context::{self, ContextItem},
};

use super::state::{Project, Session};

/// cl100k tokens given at session start.
pub const START_BUDGET: usize = 1500;
/// cl100k tokens given on a prompt.
pub const PROMPT_BUDGET: usize = 600;
/// A hit found by its words is relevant from this cosine on; one found by meaning alone needs [`ALONE`].
const WITH_WORDS: f64 = 0.2;
const ALONE: f64 = 0.45;
/// A lesson is offered at session start from this effectiveness on.
const USEFUL: f64 = 0.5;

fn context_of(project: &Project) -> QueryContext {
    QueryContext {
        domain: Some(project.name.clone()),
        language: project.language.clone(),
        framework: project.framework.clone(),
        tags: Vec::new(),
    }
}

/// The block for a session's start, or `None` when the store knows nothing useful of the project.
pub async fn at_start(
    memory: &Memory,
    patterns: &Patterns,
    project: &Project,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let lessons = patterns
        .recommend(&Recommend {
            context: context_of(project),
            limit: 5,
            ..Recommend::new(format!("work on {}", project.name))
        })
        .await?;
    let mut items: Vec<ContextItem> = lessons
        .into_iter()
        .filter(|r| r.pattern.effectiveness.score >= USEFUL && r.score.context > 0.0)
        .map(|r| {
            let hit = Hit {
                score: memory_core::Score {
                    total: r.score.total,
                    ..Default::default()
                },
                found: Found::Pattern {
                    pattern: Box::new(r.pattern),
                    heuristic: r.heuristic,
                },
            };
            why(&hit, &r.why)
        })
        .collect();
    let recent = memory
        .list_episodes(&EpisodeQuery {
            domain: Some(project.name.clone()),
            completed: Some(true),
            limit: 5,
            ..EpisodeQuery::default()
        })
        .await?;
    for summary in recent {
        let episode = memory.get_episode(summary.id).await?;
        let hit = Hit {
            found: Found::Episode {
                episode: Box::new(episode),
            },
            score: memory_core::Score::default(),
        };
        items.push(why(&hit, "a recent task in this project"));
    }
    block(
        items,
        START_BUDGET,
        session,
        &format!("What memory knows of {}", project.name),
    )
}

/// The block for a prompt, or `None` when nothing matches it well enough.
pub async fn on_prompt(
    records: &Records,
    project: &Project,
    prompt: &str,
    session_id: &str,
    session: &mut Session,
) -> anyhow::Result<Option<String>> {
    let scope = memory_core::sessions::project_scope(&project.name)?;
    let hits = records
        .query(&Search {
            episodes: true,
            limit: 10,
            context: context_of(project),
            ..Search::new(scope, prompt)
        })
        .await?;
    let items = hits
        .iter()
        .filter(|hit| relevant(hit) && !of_session(hit, session_id))
        .map(|hit| why(hit, &hit.score.why()))
        .collect();
    block(
        items,
        PROMPT_BUDGET,
        session,
        "Past work that matches this prompt",
    )
}

/// Whether a hit matches well enough to be worth the agent's attention.
fn relevant(hit: &Hit) -> bool {
    let cosine = hit.score.cosine.unwrap_or(0.0);
    match hit.score.bm25 {
        Some(_) => cosine >= WITH_WORDS,
        None => cosine >= ALONE,
    }
}

/// Whether a hit is an episode of this very session (already in the agent's context).
fn of_session(hit: &Hit, session_id: &str) -> bool {
    let Found::Episode { episode } = &hit.found else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(episode.metadata.as_str())
        .is_ok_and(|metadata| metadata["session_id"] == session_id)
}

/// The item of a hit, with the line saying why it is there.
fn why(hit: &Hit, why: &str) -> ContextItem {
    let mut item = memory_cli::block::item(hit);
    if hit.score.total == 0.0 {
        // Listed, not ranked.
        item.attributes.retain(|(name, _)| *name != "score");
    }
    item.attributes.push(("why", why.to_string()));
    item
}

/// The items not injected yet, within `budget`, under a heading; remembers what was given.
fn block(
    items: Vec<ContextItem>,
    budget: usize,
    session: &mut Session,
    heading: &str,
) -> anyhow::Result<Option<String>> {
    let fresh: Vec<ContextItem> = items
        .into_iter()
        .filter(|item| !session.injected.contains(&item.id))
        .collect();
    if fresh.is_empty() {
        return Ok(None);
    }
    let header = format!(
        "{heading} (from the memory store; fetch any item by its id with the memory MCP tools):\n"
    );
    let header_tokens = context::count_tokens(&header);
    let assembled = context::assemble(&fresh, budget.saturating_sub(header_tokens).max(1))?;
    if assembled.included.is_empty() {
        return Ok(None);
    }
    session.injected.extend(assembled.included.iter().cloned());
    Ok(Some(format!("{header}{}", assembled.text)))
}
