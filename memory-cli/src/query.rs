//! `memory-cli query`: the best-matching memories of a scope as a context block that fits a token budget.

use clap::Args;
use memory_core::{
    Episode, Found, Hit, MemoryRecord, Records, Search, TaskOutcome,
    context::{self, Context, ContextItem},
};

use crate::{
    output::{Format, json},
    records::{Filters, RankingArg},
};

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What the agent is about to do or wants to know, in plain words.
    text: String,
    #[command(flatten)]
    filters: Filters,
    #[command(flatten)]
    ranking: RankingArg,
    /// Most cl100k tokens the block may take.
    #[arg(long, value_name = "TOKENS", default_value_t = 2000)]
    budget: usize,
    /// Most memories to consider (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u32,
}

/// A checked query.
#[derive(Debug)]
pub struct Query {
    search: Search,
    budget: usize,
}

impl QueryArgs {
    /// Parses and checks every argument, without touching the store.
    pub fn plan(self) -> anyhow::Result<Query> {
        let search = Search {
            episodes: true,
            ..self.filters.search(self.text, self.limit, &self.ranking)?
        };
        // An empty item list still checks the budget's range.
        context::assemble(&[], self.budget)?;
        Ok(Query {
            search,
            budget: self.budget,
        })
    }
}

impl Query {
    /// A query of `search`, assembled within `budget` tokens.
    pub fn new(search: Search, budget: usize) -> Self {
        Query { search, budget }
    }

    /// Searches episodes and memories and assembles the block.
    pub async fn run(self, records: &Records) -> memory_core::Result<Context> {
        let hits = records.query(&self.search).await?;
        let items: Vec<ContextItem> = hits.into_iter().map(item).collect();
        context::assemble(&items, self.budget)
    }
}

fn day(t: memory_core::Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d").to_string()
}

/// One hit as a block item.
fn item(hit: Hit) -> ContextItem {
    let score = ("score", format!("{:.3}", hit.score.total));
    match hit.found {
        Found::Memory { record } => memory_item(*record, score),
        Found::Episode { episode } => episode_item(*episode, score),
    }
}

fn memory_item(r: MemoryRecord, score: (&'static str, String)) -> ContextItem {
    let mut attributes = vec![
        ("kind", r.kind.as_str().to_string()),
        ("importance", format!("{:.2}", r.importance)),
        ("stored", day(r.created_at)),
        score,
    ];
    if let Some(source) = r.source {
        attributes.push(("source", source));
    }
    ContextItem {
        tag: "memory",
        id: r.id.to_string(),
        attributes,
        body: r.content,
    }
}

/// An episode as the task, how it ended, what was learnt and the steps taken.
fn episode_item(e: Episode, score: (&'static str, String)) -> ContextItem {
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

/// Renders the block (human) or the block with its accounting (JSON).
pub fn render(context: &Context, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Json => json(context),
        Format::Human => Ok(context.text.clone()),
    }
}
