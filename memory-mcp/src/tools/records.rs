//! The memory tools: store, get, search and delete memories, count them, query memories and episodes together,
//! and the health check.

use memory_core::Scope;
use rmcp::{Json, handler::server::tool::Extension, tool, tool_router};

use crate::{
    caller::Caller,
    error::{InTool, ToolError},
    params::Parameters,
    server::MemoryServer,
    wire::{
        ContextBlock, MemoryDeleted, MemoryHit, MemoryOut, MemoryRef, MemoryStored, QueryHit,
        QueryMemory, QueryResults, SearchMemories, SearchResults, Statistics, StatisticsOut,
        StoreMemory,
    },
};

impl MemoryServer {
    /// The scope a call of `caller` works in (see [`Caller::scope`]).
    fn scope(&self, caller: &Caller, given: Option<&str>, tool: &str) -> Result<Scope, ToolError> {
        caller.scope(given, self.default_scope()).in_tool(tool)
    }
}

#[tool_router(router = record_tools, vis = "pub(crate)")]
impl MemoryServer {
    /// Store something worth remembering beyond this task: a fact about the code or system, a preference, a
    /// decision and its reason, a note. Write it so it stands alone. Storing the same content again in the same
    /// scope writes nothing and returns the existing id with `duplicate: true`.
    #[tool(
        title = "Store a memory",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn store_memory(
        &self,
        Parameters(args): Parameters<StoreMemory>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<MemoryStored>, ToolError> {
        const TOOL: &str = "store_memory";
        let scope = self.scope(&caller, args.scope.as_deref(), TOOL)?;
        let stored = self
            .records()
            .store(args.into_new(scope.clone()))
            .await
            .in_tool(TOOL)?;
        Ok(Json(MemoryStored {
            memory_id: stored.id.to_string(),
            scope: scope.to_string(),
            duplicate: stored.duplicate,
        }))
    }

    /// Read one memory by id, in its scope: one that query_memory or search_memories returned, or one to check
    /// before storing a correction of it.
    #[tool(
        title = "Get a memory",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_memory(
        &self,
        Parameters(args): Parameters<MemoryRef>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<MemoryOut>, ToolError> {
        const TOOL: &str = "get_memory";
        let scope = self.scope(&caller, args.scope.as_deref(), TOOL)?;
        let id = args.memory_id.parse().in_tool(TOOL)?;
        let record = self.records().get(&scope, id).await.in_tool(TOOL)?;
        Ok(Json((&record).into()))
    }

    /// Search one scope's memories by words and meaning, best first, with each result's score components. To
    /// search past episodes too, or to get the results as a context block, use query_memory.
    #[tool(
        title = "Search memories",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_memories(
        &self,
        Parameters(args): Parameters<SearchMemories>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<SearchResults>, ToolError> {
        const TOOL: &str = "search_memories";
        let scope = self.scope(&caller, args.scope.as_deref(), TOOL)?;
        let search = args.search(scope).in_tool(TOOL)?;
        let hits = self
            .with_records(async move |records| records.search(&search).await)
            .await
            .in_tool(TOOL)?;
        Ok(Json(SearchResults {
            results: hits.iter().map(MemoryHit::from).collect(),
        }))
    }

    /// Delete a memory for good: one that turned out wrong or outdated (store the corrected one as well).
    #[tool(
        title = "Delete a memory",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_memory(
        &self,
        Parameters(args): Parameters<MemoryRef>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<MemoryDeleted>, ToolError> {
        const TOOL: &str = "delete_memory";
        let scope = self.scope(&caller, args.scope.as_deref(), TOOL)?;
        let id = args.memory_id.parse().in_tool(TOOL)?;
        self.records().delete(&scope, id).await.in_tool(TOOL)?;
        Ok(Json(MemoryDeleted {
            memory_id: args.memory_id.trim().to_string(),
            scope: scope.to_string(),
            deleted: true,
        }))
    }

    /// Count the stored memories of one scope, or of every scope: by kind, tag and scope, with their size and
    /// the oldest and newest.
    #[tool(
        title = "Memory statistics",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_statistics(
        &self,
        Parameters(args): Parameters<Statistics>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<StatisticsOut>, ToolError> {
        const TOOL: &str = "get_statistics";
        let scope = match (caller.confined_to(), args.scope.as_deref()) {
            (Some(own), _) => Some(own.clone()),
            (None, given) => given
                .map(|s| Scope::new(s.trim()))
                .transpose()
                .in_tool(TOOL)?,
        };
        let stats = self.records().stats(scope.as_ref()).await.in_tool(TOOL)?;
        Ok(Json(stats.into()))
    }

    /// Ask memory what is known about a task before starting it (and whenever you are stuck): past episodes
    /// (how similar tasks went and their lessons), stored memories of the scope and learnt patterns, ranked
    /// together. Each result is compact: a summary line, how an episode went, why it ranked, and its id (fetch
    /// the rest with get_episode or get_memory); `detail: full` returns every field and score component. Give
    /// `budget_tokens` to also get the results as one block of text that fits that many tokens, ready to read as
    /// context.
    #[tool(
        title = "Query memory",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn query_memory(
        &self,
        Parameters(args): Parameters<QueryMemory>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<QueryResults>, ToolError> {
        const TOOL: &str = "query_memory";
        let scope = self.scope(&caller, args.scope.as_deref(), TOOL)?;
        let mut search = args.search(scope).in_tool(TOOL)?;
        search.confined = caller.confined_to().is_some();
        // Checked before searching, so a bad budget costs nothing.
        if let Some(budget) = args.budget_tokens {
            memory_core::context::assemble(&[], budget).in_tool(TOOL)?;
        }
        let hits = self
            .with_records(async move |records| records.query(&search).await)
            .await
            .in_tool(TOOL)?;
        let context = match args.budget_tokens {
            Some(budget) => Some(ContextBlock::from(
                memory_cli::block::assemble(&hits, budget).in_tool(TOOL)?,
            )),
            None => None,
        };
        Ok(Json(QueryResults {
            results: hits.iter().map(|h| QueryHit::of(h, args.detail)).collect(),
            context,
        }))
    }

    /// Check that the server, its database and its search index work: the status, the database's state, the
    /// embedder in use, whether the index is loaded, and the uptime.
    #[tool(
        title = "Health check",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn health_check(&self) -> Result<Json<crate::wire::HealthOut>, ToolError> {
        Ok(Json(self.health().await))
    }
}
