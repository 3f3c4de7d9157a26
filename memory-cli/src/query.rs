//! `memory-cli query`: the best-matching memories of a scope as a context block that fits a token budget.

use clap::Args;
use memory_core::{
    Records, Search,
    context::{self, Context},
};

use crate::{
    output::{Format, json},
    records::{Filters, RankingArg},
};

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What the agent is about to do or wants to know, in plain words; without it, the newest memories and
    /// episodes that pass the filters.
    #[arg(default_value = "")]
    text: String,
    #[command(flatten)]
    filters: Filters,
    #[command(flatten)]
    narrow: crate::records::Narrow,
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
        let search = self.narrow.apply(Search {
            episodes: true,
            ..self.filters.search(self.text, self.limit, &self.ranking)?
        })?;
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
        memory_cli::block::assemble(&hits, self.budget)
    }
}

/// Renders the block (human) or the block with its accounting (JSON).
pub fn render(context: &Context, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Json => json(context),
        Format::Human => Ok(context.text.clone()),
    }
}
