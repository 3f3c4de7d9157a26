//! Child process of the pattern crash test: completes episodes with the pattern learner running in the
//! background until it is killed, printing a JSON line after every acknowledged completion.
//!
//! Usage: `pattern-writer DB_PATH CACHE_PATH SEED`

use std::{io::Write, sync::Arc};

use anyhow::{Context, Result};
use memory_core::{
    CachedStore, ExecutionStep, Memory, NewEpisode, PatternWorker, Patterns, StepResult,
    TaskContext, TaskOutcome, TaskType,
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, cache, seed] = args.as_slice() else {
        anyhow::bail!("usage: pattern-writer DB_PATH CACHE_PATH SEED");
    };
    let seed: u64 = seed.parse().context("seed")?;
    let primary = TursoStore::open(&DbConfig::local(db)).await?;
    let pair = Arc::new(CachedStore::open(primary, RedbStore::open_cache(cache, 64)?).await?);
    // The learner starts by draining what the killed process before it left queued.
    let worker = PatternWorker::start(Patterns::new(pair.clone()));
    let memory = Memory::from_arc(pair.clone()).with_patterns(worker.queue());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", json!({ "op": "ready" }))?;
    out.flush()?;
    for n in 0u64.. {
        let k = seed.wrapping_add(n);
        let context = TaskContext {
            domain: format!("domain-{}", k % 3),
            language: Some(["rust", "go"][(k % 2) as usize].into()),
            ..Default::default()
        };
        let id = memory
            .start_episode(NewEpisode::new(
                format!("task {k}"),
                TaskType::Debugging,
                context,
            ))
            .await?;
        for (tool, result) in [
            (
                "cargo",
                StepResult::Error {
                    message: format!("test t{} timed out", k % 5),
                },
            ),
            (
                "edit",
                StepResult::Success {
                    output: "fixed".into(),
                },
            ),
            (
                "cargo",
                StepResult::Success {
                    output: "ok".into(),
                },
            ),
        ] {
            memory
                .log_step(id, ExecutionStep::new(tool, "test", result))
                .await?;
        }
        let outcome = if k % 4 == 0 {
            TaskOutcome::Failure {
                reason: "no".into(),
                error_details: None,
            }
        } else {
            TaskOutcome::Success {
                verdict: "ok".into(),
                artifacts: vec![],
            }
        };
        memory.complete_episode(id, outcome).await?;
        writeln!(out, "{}", json!({ "op": "complete", "id": id }))?;
        out.flush()?;
    }
    worker.shutdown().await?;
    Ok(())
}
