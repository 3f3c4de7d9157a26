//! `memory-mcp`: the episodic memory store as an MCP server, over stdio (the default) or streamable HTTP.
//!
//! Standard output carries nothing but the protocol; logs go to standard error.

mod access;
mod audit;
mod caller;
mod error;
mod heap;
mod http;
mod jsonrpc;
mod metrics;
mod params;
mod prompt;
mod resources;
mod schema;
mod server;
mod shutdown;
mod stdio;
mod tools;
mod wire;

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use anyhow::Context as _;
use clap::Parser;
use memory_cli::{
    log::LogFormat,
    one_line,
    open::{self, StoreArgs},
    sandbox::SandboxArgs,
};
use memory_core::{PatternWorker, Scope};
use memory_storage_turso::DbConfig;
use rmcp::ServiceExt;

use crate::server::MemoryServer;

/// Serve the episodic memory store to AI agents over the Model Context Protocol.
#[derive(Debug, Parser)]
#[command(name = "memory-mcp", version, about)]
struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The scope memory tools use when a call names none (letters, digits and - _ . : / @).
    #[arg(long, env = "MEMORY_SCOPE", default_value = "default")]
    scope: String,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8080) instead of stdio; the MCP endpoint is
    /// /mcp. A non-loopback address needs an API key in MEMORY_API_KEY, which clients send as a bearer token.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// How log lines on standard error are written (levels: RUST_LOG).
    #[arg(long, env = "MEMORY_LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
    /// The code sandbox behind `execute_code`, which is offered when its engine is installed.
    #[command(flatten)]
    sandbox: SandboxArgs,
}

fn main() -> ExitCode {
    heap::tune();
    let args = Args::parse();
    memory_cli::log::init(args.log_format, "warn,memory_mcp=info");
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            let result = runtime.block_on(run(args));
            // The store is closed by now. Reading stdin blocks a thread of the runtime's own until input arrives,
            // so a server stopped by a signal must not wait for it.
            runtime.shutdown_background();
            result
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Checks the options, opens the store, serves until the client leaves or a signal arrives, and closes the store.
async fn run(args: Args) -> anyhow::Result<()> {
    let stop = shutdown::signal();
    let scope = Scope::new(args.scope.trim())?;
    let key = args.http.map(http::api_key).transpose()?.flatten();
    let sandbox = Some(args.sandbox.config(args.sandbox.module()?));
    let config = open::db_config(&args.store)?;
    let backend = match config {
        DbConfig::Local { .. } => "local",
        DbConfig::Remote { .. } => "remote",
    };
    let open::Opened {
        memory,
        records,
        patterns,
        primary,
    } = open::open(&config, &args.store, open::Intent::Serve)
        .await
        .with_context(|| format!("opening {}", config.label()))?;
    // Patterns are learnt off the request path: completing an episode wakes the learner, which first drains what
    // an earlier run left queued.
    let learner = PatternWorker::start(patterns.clone());
    let memory = memory.with_patterns(learner.queue());
    // Keys, limits and the audit log apply to HTTP; a stdio client is the operator's own agent.
    let access = args
        .http
        .map(|_| Arc::new(access::Access::new(primary, key)));
    let server = MemoryServer::new(
        memory.clone(),
        records,
        patterns,
        scope,
        backend,
        sandbox,
        access.clone(),
    );
    tokio::spawn({
        let server = server.clone();
        async move { server.warm_up().await }
    });
    let served = match (args.http, access) {
        (Some(addr), Some(access)) => http::serve(server, addr, access, stop).await,
        _ => serve_stdio(server, stop).await,
    };
    // The calls are answered; the learner finishes what is queued before the store closes.
    if let Err(err) = learner.shutdown().await {
        tracing::warn!(
            "pattern extraction stopped with jobs left queued (the next start resumes them): {err}"
        );
    }
    let closed = memory.close().await.context("closing the store");
    served.and(closed)
}

/// Serves one client on standard input and output until it closes them, or until SIGTERM or SIGINT, after which
/// the calls in flight finish and are answered.
async fn serve_stdio(
    server: MemoryServer,
    stop_signal: impl Future<Output = &'static str>,
) -> anyhow::Result<()> {
    let running = server
        .clone()
        .serve(stdio::transport())
        .await
        .context("the client did not complete the MCP handshake")?;
    let stop = running.cancellation_token();
    let mut session = tokio::spawn(running.waiting());
    tokio::select! {
        ended = &mut session => {
            let reason = ended.context("the session failed")?.context("the session failed")?;
            tracing::info!(?reason, "the client closed the session");
        }
        name = stop_signal => {
            tracing::info!("{name}: finishing the calls in flight");
            server.drain().await;
            stop.cancel();
            let _ = session.await;
        }
    }
    Ok(())
}
