//! Child process of the crash-consistency test: writes and updates episodes through the write-through pair
//! until it is killed, printing a JSON line before each write to a known episode and one after every acknowledged write.
//!
//! Usage: `crash-writer DB_PATH CACHE_PATH SEED`

use std::io::Write;

use anyhow::{Context, Result};
use memory_core::{
    CachedStore, EpisodeCache, EpisodeId, EpisodeQuery, EpisodeStore, ExecutionStep, Memory,
    NewEpisode, StepResult, TaskContext, TaskOutcome, TaskType,
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};
use serde_json::json;

/// A small linear congruential generator: the writer needs cheap, seeded choices, not statistical quality.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, cache, seed] = args.as_slice() else {
        anyhow::bail!("usage: crash-writer DB_PATH CACHE_PATH SEED");
    };
    let mut rng = Lcg(seed.parse().context("seed")?);
    let primary = TursoStore::open(&DbConfig::local(db)).await?;
    let cache = RedbStore::open_cache(cache, 64)?;
    let pair = std::sync::Arc::new(CachedStore::open(primary, cache).await?);
    let memory = Memory::from_arc(pair.clone());

    let mut open: Vec<EpisodeId> = memory
        .list_episodes(&EpisodeQuery {
            completed: Some(false),
            limit: 1000,
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut out = std::io::stdout().lock();
    let mut ack = |line: serde_json::Value| -> Result<()> {
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(())
    };
    ack(json!({ "op": "ready" }))?;
    for n in 0u64.. {
        let roll = rng.below(100);
        if open.is_empty() || roll < 25 {
            let context = TaskContext {
                domain: format!("domain-{}", rng.below(4)),
                ..Default::default()
            };
            // The id is only known after the write, so a start in flight at the kill cannot be checked; it is
            // harmless: an unacknowledged episode is simply not in the parent's model.
            let id = memory
                .start_episode(NewEpisode::new(
                    format!("task {n}"),
                    TaskType::Debugging,
                    context,
                ))
                .await?;
            open.push(id);
            ack(json!({ "op": "start", "id": id }))?;
        } else if roll < 75 {
            let id = open[rng.below(open.len() as u64) as usize];
            let result = if rng.below(4) == 0 {
                StepResult::Error {
                    message: format!("failure {n}"),
                }
            } else {
                StepResult::Success {
                    output: format!("output {n}"),
                }
            };
            ack(json!({ "op": "begin", "kind": "step", "id": id }))?;
            let number = memory
                .log_step(id, ExecutionStep::new("cargo", "test", result))
                .await?;
            ack(json!({ "op": "step", "id": id, "steps": number }))?;
        } else if roll < 85 {
            let id = open.swap_remove(rng.below(open.len() as u64) as usize);
            ack(json!({ "op": "begin", "kind": "complete", "id": id }))?;
            let done = memory
                .complete_episode(
                    id,
                    TaskOutcome::Success {
                        verdict: "ok".into(),
                        artifacts: vec![],
                    },
                )
                .await?;
            ack(json!({ "op": "complete", "id": id, "steps": done.steps.len() }))?;
        } else if roll < 90 {
            let id = open.swap_remove(rng.below(open.len() as u64) as usize);
            ack(json!({ "op": "begin", "kind": "delete", "id": id }))?;
            memory.delete_episode(id).await?;
            ack(json!({ "op": "delete", "id": id }))?;
        } else if roll < 97 {
            let id = open[rng.below(open.len() as u64) as usize];
            memory.get_episode(id).await?;
        } else {
            pair.cache().checkpoint().await?;
        }
    }
    pair.close().await?;
    Ok(())
}
