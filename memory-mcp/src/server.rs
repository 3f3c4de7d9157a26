//! The MCP server: its state, its tools, resources and prompt, and the guard every tool call runs behind.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, Instant},
};

use memory_core::{
    EpisodeQuery, Memory, Patterns, Records, Scope,
    sandbox::{Sandbox, SandboxConfig},
};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{
        router::{prompt::PromptRouter, tool::ToolRouter},
        tool::ToolCallContext,
    },
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    },
    prompt_handler,
    service::RequestContext,
    tool_handler,
};
use tracing::Instrument as _;

use crate::{
    access::{Access, Finished, Refusal},
    caller::Caller,
    error::ToolError,
    metrics::{Metrics, Observed, Outcome},
    resources,
    shutdown::Gate,
    wire::{DatabaseHealth, EmbedderHealth, HealthOut, HealthStatus, IndexStatus},
};

/// How long a health check waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// Tool calls run at once, at most; the rest wait their turn in the order they came.
///
/// On the embedded store a call is CPU work from start to end (SQLite runs in the process): run fifty at once
/// on two cores and each takes fifty times as long, a search's locks are held for all of it, and the cheap calls
/// overtake the costly ones, which then wait for every other client. Admitted in arrival order, one per core,
/// each call finishes as fast as it can and every call waits about as long as any other. A remote store's calls
/// mostly wait on the network, so more run at once. See [`LONGEST_TURN`] for calls that take long.
fn turns(backend: &str) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    match backend {
        "remote" => cores * 16,
        _ => cores,
    }
}

/// How long a call keeps its turn: one that takes longer (loading an index, a long `execute_code`) goes on
/// beside the calls admitted after it, so slow calls cannot hold up the others for more than this.
const LONGEST_TURN: Duration = Duration::from_millis(100);

/// Runs `work` on a blocking thread, which drives it with the runtime's handle.
async fn blocking<T, F>(work: F) -> T
where
    F: AsyncFnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || handle.block_on(work())).await {
        Ok(value) => value,
        // A panic stays a panic, for the caller's guard to report.
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// What every session of the server shares.
pub struct State {
    memory: Memory,
    records: Records,
    patterns: Patterns,
    scope: Scope,
    backend: &'static str,
    started: Instant,
    index: AtomicU8,
    gate: Gate,
    metrics: Metrics,
    tools: ToolRouter<MemoryServer>,
    prompts: PromptRouter<MemoryServer>,
    sandbox: Option<SandboxSlot>,
    access: Option<Arc<Access>>,
    turns: Arc<tokio::sync::Semaphore>,
}

/// The code sandbox, made once, by the warm-up or by the first `execute_code` call, whichever comes first.
struct SandboxSlot {
    config: SandboxConfig,
    ready: tokio::sync::OnceCell<Result<Sandbox, String>>,
}

/// The MCP server. Cloning is cheap: every clone (one per HTTP session) shares the store and its index.
#[derive(Clone)]
pub struct MemoryServer {
    state: Arc<State>,
}

impl MemoryServer {
    /// A server over `memory`, `records` and `patterns`, whose memory tools default to `scope`; `backend` is
    /// `local` or `remote`. With a `sandbox` configuration it also offers `execute_code`; with `access`, calls
    /// are held to their tenant's limits and audited.
    pub fn new(
        memory: Memory,
        records: Records,
        patterns: Patterns,
        scope: Scope,
        backend: &'static str,
        sandbox: Option<SandboxConfig>,
        access: Option<Arc<Access>>,
    ) -> Self {
        let mut tools = Self::episode_tools() + Self::record_tools() + Self::pattern_tools();
        if sandbox.is_some() {
            tools += Self::code_tools();
        }
        for route in tools.map.values_mut() {
            crate::schema::standardise(&mut route.attr);
        }
        MemoryServer {
            state: Arc::new(State {
                memory,
                records,
                patterns,
                scope,
                backend,
                started: Instant::now(),
                index: AtomicU8::new(IndexStatus::Loading as u8),
                gate: Gate::default(),
                metrics: Metrics::default(),
                tools,
                prompts: Self::prompts(),
                sandbox: sandbox.map(|config| SandboxSlot {
                    config,
                    ready: tokio::sync::OnceCell::new(),
                }),
                access,
                turns: Arc::new(tokio::sync::Semaphore::new(turns(backend))),
            }),
        }
    }

    /// The episodes.
    pub fn memory(&self) -> &Memory {
        &self.state.memory
    }

    /// The memory records and retrieval.
    pub fn records(&self) -> &Records {
        &self.state.records
    }

    /// The scope memory tools use when a call names none.
    pub fn default_scope(&self) -> &Scope {
        &self.state.scope
    }

    /// Runs `work` on the records on a blocking thread, which drives it with the runtime's handle.
    ///
    /// A search is CPU-bound for milliseconds (tens at a million memories) and loading an index for seconds; on
    /// a blocking thread neither holds up the async workers that serve the other sessions' protocol traffic. The
    /// storage calls inside block in place, as they would on a worker.
    pub async fn with_records<T, F>(&self, work: F) -> T
    where
        F: AsyncFnOnce(&Records) -> T + Send + 'static,
        T: Send + 'static,
    {
        let records = self.records().clone();
        blocking(async move || work(&records).await).await
    }

    /// Runs `work` on the pattern learner on a blocking thread, as [`Self::with_records`] does.
    pub async fn with_patterns<T, F>(&self, work: F) -> T
    where
        F: AsyncFnOnce(&Patterns) -> T + Send + 'static,
        T: Send + 'static,
    {
        let patterns = self.state.patterns.clone();
        blocking(async move || work(&patterns).await).await
    }

    /// The code sandbox, made on first use (compiling its engine, or loading the compilation cached by an earlier
    /// run, on a blocking thread). `Err` is what a caller is told when there is none or it could not be made.
    pub async fn sandbox(&self) -> Result<Sandbox, String> {
        let Some(slot) = &self.state.sandbox else {
            return Err("code execution is not enabled on this server".into());
        };
        slot.ready
            .get_or_init(|| async {
                let config = slot.config.clone();
                let started = Instant::now();
                match tokio::task::spawn_blocking(move || Sandbox::new(config)).await {
                    Ok(Ok(sandbox)) => {
                        tracing::info!(
                            elapsed = ?started.elapsed(),
                            cached = sandbox.loaded_from_cache(),
                            "code sandbox ready"
                        );
                        Ok(sandbox)
                    }
                    Ok(Err(err)) => {
                        tracing::error!("the code sandbox cannot start: {err}");
                        Err("the code sandbox could not start; the server's log says why".into())
                    }
                    Err(join) => {
                        tracing::error!("the code sandbox cannot start: {join}");
                        Err("the code sandbox could not start; the server's log says why".into())
                    }
                }
            })
            .await
            .clone()
    }

    /// Loads the search index of the default scope and the episodes, and the embedder's model, so the first
    /// query does not pay for them. Runs beside the protocol, never in front of it.
    pub async fn warm_up(&self) {
        if self.state.sandbox.is_some() {
            // Compiling the JavaScript engine takes seconds; it goes on beside the index.
            let server = self.clone();
            tokio::spawn(async move {
                let _ = server.sandbox().await;
            });
        }
        let started = Instant::now();
        let scope = self.default_scope().clone();
        let result = self
            .with_records(async move |records| {
                records.sync(&scope).await?;
                // A model's weights load on its first embedding: now, rather than in the first query.
                records.embedder().embed(&["warm-up"]).map(|_| ())
            })
            .await;
        match result {
            Ok(()) => {
                // Before saying so, so whoever sees the index ready sees the load's buffers given back.
                crate::heap::release();
                self.set_index(IndexStatus::Ready);
                tracing::info!(elapsed = ?started.elapsed(), "search index loaded");
            }
            Err(err) => {
                self.set_index(IndexStatus::Failed);
                tracing::error!("loading the search index failed (queries will retry it): {err}");
            }
        }
    }

    fn set_index(&self, status: IndexStatus) {
        self.state.index.store(status as u8, Ordering::Relaxed);
    }

    fn index(&self) -> IndexStatus {
        match self.state.index.load(Ordering::Relaxed) {
            x if x == IndexStatus::Ready as u8 => IndexStatus::Ready,
            x if x == IndexStatus::Failed as u8 => IndexStatus::Failed,
            _ => IndexStatus::Loading,
        }
    }

    /// Whether the database answers a read: `Err` says why not.
    pub async fn database_answers(&self) -> Result<(), String> {
        let query = EpisodeQuery {
            limit: 1,
            ..EpisodeQuery::default()
        };
        match tokio::time::timeout(HEALTH_TIMEOUT, self.memory().list_episodes(&query)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                tracing::warn!("health check: the database failed a read: {err}");
                Err("the database failed a read (the server's log says why)".into())
            }
            Err(_) => Err(format!(
                "the database did not answer within {} s",
                HEALTH_TIMEOUT.as_secs()
            )),
        }
    }

    /// The server's health.
    pub async fn health(&self) -> HealthOut {
        let database = self.database_answers().await;
        let index = self.index();
        let embedder = self.records().embedder();
        HealthOut {
            status: if database.is_ok() && index != IndexStatus::Failed {
                HealthStatus::Ok
            } else {
                HealthStatus::Degraded
            },
            server: format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
            database: DatabaseHealth {
                backend: self.state.backend.to_string(),
                reachable: database.is_ok(),
                error: database.err(),
            },
            embedder: EmbedderHealth {
                id: embedder.id().to_string(),
                dimension: embedder.dimension(),
            },
            index,
            sandbox_engine: self
                .state
                .sandbox
                .as_ref()
                .map(|slot| slot.config.module.to_string()),
            uptime_seconds: self.state.started.elapsed().as_secs(),
        }
    }

    /// Waits for the tool calls in flight, then refuses new ones.
    pub async fn drain(&self) {
        self.state.gate.close().await;
    }

    /// Runs a tool call on a task of its own, so that a panic in it fails that call alone, and behind the gate,
    /// so that shutdown waits for it.
    async fn guarded_call(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let name = request.name.to_string();
        let caller = caller_of(&context)?;
        context.extensions.insert(caller.clone());
        if !self.state.tools.has_route(&name) {
            // Not labelled with the name a client made up: that would let clients grow the metrics unboundedly.
            self.state
                .metrics
                .finished("unknown", Outcome::Refused, started.elapsed());
            let known: Vec<String> = self
                .state
                .tools
                .list_all()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {}; the tools are {}",
                    memory_core::validate::quoted(&name),
                    known.join(", ")
                ),
                None,
            ));
        }
        let Some(pass) = self.state.gate.enter().await else {
            self.state
                .metrics
                .finished(&name, Outcome::Refused, started.elapsed());
            return Ok(error_result(
                "the server is shutting down and takes no new calls; retry once it is back",
            ));
        };
        let (write, adds) = self.state.tools.get(&name).map_or((true, true), |tool| {
            let hints = tool.annotations.as_ref();
            let write = !hints.and_then(|a| a.read_only_hint).unwrap_or(false);
            (
                write,
                write && !hints.and_then(|a| a.destructive_hint).unwrap_or(true),
            )
        });
        // Kept for the audit entry, when there is an audit log.
        let arguments = self
            .state
            .access
            .as_ref()
            .and_then(|_| request.arguments.clone());
        if let Some(access) = &self.state.access
            && let Err(Refusal(message)) =
                access.admit(&caller, &name, arguments.as_ref(), adds).await
        {
            self.state
                .metrics
                .finished(&name, Outcome::Refused, started.elapsed());
            return Ok(error_result(&message));
        }
        // Never closed. The sandbox admits its runs itself, refusing what its queue cannot hold: waiting for a
        // turn first would only trickle runs into that queue.
        let turn = match name.as_str() {
            crate::tools::OWN_ADMISSION => None,
            _ => Some(self.state.turns.clone().acquire_owned().await),
        };
        let _in_flight = self.state.metrics.started();
        let server = self.clone();
        let span = tracing::info_span!("tool_call", tool = %name);
        let call = tokio::spawn(
            async move {
                let _pass = pass;
                let call = server
                    .state
                    .tools
                    .call(ToolCallContext::new(&server, request, context));
                tokio::pin!(call);
                tokio::select! {
                    done = &mut call => done,
                    () = tokio::time::sleep(LONGEST_TURN) => {
                        drop(turn);
                        call.await
                    }
                }
            }
            .instrument(span),
        );
        let (result, outcome) = match call.await {
            Ok(Ok(CallToolResponse::Complete(result))) if result.is_error == Some(true) => {
                (Ok(result.into()), Outcome::Error)
            }
            Ok(Ok(response)) => (Ok(response), Outcome::Ok),
            Ok(Err(error)) => (Err(error), Outcome::Error),
            Err(join) => {
                let detail = if join.is_panic() {
                    "the call panicked"
                } else {
                    "the call was cancelled"
                };
                let reply = error_result(&ToolError::internal(&name, &detail).0);
                (Ok(reply), Outcome::Failed)
            }
        };
        if let Some(access) = &self.state.access {
            let reply = match &result {
                Ok(CallToolResponse::Complete(reply)) => Some(reply),
                _ => None,
            };
            let error = match (&result, reply) {
                (Err(error), _) => Some(error.message.to_string()),
                (Ok(_), Some(reply)) if reply.is_error == Some(true) => Some(text_of(reply)),
                _ => None,
            };
            access.finished(Finished {
                caller: &caller,
                tool: &name,
                arguments: arguments.as_ref(),
                result: reply.and_then(|r| r.structured_content.as_ref()),
                error: error.as_deref(),
                write,
                adds,
            });
        }
        let elapsed = started.elapsed();
        self.state.metrics.finished(&name, outcome, elapsed);
        tracing::debug!(tool = %name, ?elapsed, status = ?outcome, "tool call");
        result
    }

    /// The server's metrics as OpenMetrics text, with the cache counters, the learner's queue and the store's
    /// size read now.
    pub async fn metrics(&self) -> String {
        let pattern_queue = self.state.patterns.pending().await;
        let stats = self.records().stats(None).await;
        let observed = Observed {
            cache: memory_core::cache_counts(),
            pattern_queue: pattern_queue
                .inspect_err(|err| {
                    tracing::warn!("metrics: reading the pattern queue failed: {err}")
                })
                .ok(),
            records: stats
                .inspect_err(|err| {
                    tracing::warn!("metrics: reading the record counts failed: {err}")
                })
                .ok()
                .map(|s| (s.by_kind.into_iter().collect(), s.content_bytes)),
        };
        self.state.metrics.render(&observed)
    }
}

/// The caller of a request: over HTTP, the one the HTTP layer resolved from the request's key; over stdio, the
/// operator. An HTTP request without one never reaches a tool.
pub fn caller_of(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    match context.extensions.get::<axum::http::request::Parts>() {
        None => Ok(Caller::Operator),
        Some(parts) => parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!("an HTTP request reached the MCP service without a resolved caller");
            ErrorData::internal_error("the request was not authenticated", None)
        }),
    }
}

/// The text of a tool result's first content block.
fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

fn error_result(message: &str) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message)]).into()
}

/// Tells a client what the server is for and how to use it, at initialisation.
const INSTRUCTIONS: &str = "Episodic memory for coding agents. Before a task, call query_memory with the task in \
plain words to learn from past episodes and stored memories. Record the task with create_episode, log each \
significant action with add_episode_step, and finish with complete_episode, which scores the episode and draws its \
lessons. Keep lasting facts, preferences and decisions with store_memory. The use_episodic_memory prompt spells \
this out.";

#[tool_handler(router = self.state.tools)]
#[prompt_handler(router = self.state.prompts)]
impl ServerHandler for MemoryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                .with_title("Episodic memory")
                .with_description(env!("CARGO_PKG_DESCRIPTION")),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.guarded_call(request, context).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        resources::list(self, &caller_of(&context)?).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(self, &caller_of(&context)?, &request.uri)
            .await
            .map(Into::into)
    }
}
