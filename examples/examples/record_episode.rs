//! Record an agent's episode with memory-core over the embedded libSQL store and its redb cache.
//!
//! Run: `cargo run -p memory-examples --example record_episode [-- DB_PATH]`
//! With a libSQL server instead: `MEMORY_DB_URL=http://127.0.0.1:8080 cargo run ... --example record_episode`

use memory_core::{
    CachedStore, ExecutionStep, Memory, NewEpisode, StepResult, TaskContext, TaskOutcome, TaskType,
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = std::env::args()
        .nth(1)
        .unwrap_or_else(|| dir.path().join("memory.db").display().to_string());
    let config = match std::env::var("MEMORY_DB_URL") {
        Ok(url) => DbConfig::remote(url, std::env::var("MEMORY_DB_TOKEN").ok()),
        Err(_) => DbConfig::local(&db),
    };

    // The ten lines: open the store, start an episode, log what the agent did, complete it.
    let cache = RedbStore::open_cache(dir.path().join("memory.cache.redb"), 10_000)?;
    let memory = Memory::new(CachedStore::open(TursoStore::open(&config).await?, cache).await?);
    let context = TaskContext {
        domain: "payments-service".into(),
        language: Some("rust".into()),
        ..Default::default()
    };
    let id = memory
        .start_episode(NewEpisode::new(
            "Fix the flaky settlement test",
            TaskType::Debugging,
            context,
        ))
        .await?;
    memory
        .log_step(
            id,
            ExecutionStep::new(
                "cargo",
                "test",
                StepResult::Error {
                    message: "settle_retries timed out".into(),
                },
            ),
        )
        .await?;
    memory
        .log_step(
            id,
            ExecutionStep::new(
                "edit",
                "src/settle.rs: use tokio::time::pause",
                StepResult::Success {
                    output: "1 file changed".into(),
                },
            ),
        )
        .await?;
    memory
        .log_step(
            id,
            ExecutionStep::new(
                "cargo",
                "test",
                StepResult::Success {
                    output: "42 passed".into(),
                },
            ),
        )
        .await?;
    let done = memory
        .complete_episode(
            id,
            TaskOutcome::Success {
                verdict: "test is deterministic".into(),
                artifacts: vec!["src/settle.rs".into()],
            },
        )
        .await?;

    let reward = done.reward.as_ref().map_or(0.0, |r| r.total);
    println!(
        "episode {id}: {} steps, reward {reward:.3}",
        done.steps.len()
    );
    for line in done
        .reflection
        .iter()
        .flat_map(|r| r.successes.iter().chain(&r.improvements).chain(&r.insights))
    {
        println!("  - {line}");
    }
    memory.close().await?;
    Ok(())
}
