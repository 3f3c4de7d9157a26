//! `memory-cli` as a process, start to exit, on an embedded store of N completed episodes of five steps and N
//! memories in one scope (1,000 by default; `MEMORY_BENCH_RECORDS` changes it), lexical embedder:
//! - `episode_list`: `episode list` (the newest 20);
//! - `episode_show`: `episode show ID`;
//! - `memory_search`: `memory search` of the scope, the index loaded from its snapshot where one is saved;
//! - `memory_store`: `memory store` of a new memory (a write).
//!
//! It lives in memory-cli because Cargo builds a package's binary only for that package's own tests and benches.
//! `cargo bench -p memory-cli --bench cli` (release).

use std::{path::Path, process::Command};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{Episode, EpisodeStore, NewRecord, RecordKind, Records, Scope};
use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::Workload;

const SCOPE: &str = "project:bench";

fn records() -> u64 {
    std::env::var("MEMORY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// Fills `db` with `n` completed episodes and `n` memories; returns an episode's id.
async fn populate(db: &Path, n: u64) -> String {
    let store = TursoStore::open(&DbConfig::local(db)).await.expect("open");
    let workload = Workload::new(7);
    let episodes: Vec<Episode> = (0..n).map(|i| workload.completed_episode(i, 5)).collect();
    store.import_episodes(&episodes).await.expect("import");
    let records = Records::new(store.clone());
    let scope = Scope::new(SCOPE).expect("scope");
    let new = (0..n)
        .map(|i| NewRecord::new(scope.clone(), RecordKind::Note, workload.memory_text(i)))
        .collect();
    records.store_many(new).await.expect("store");
    EpisodeStore::close(&store).await.expect("close");
    episodes[episodes.len() / 2].id.to_string()
}

fn run(dir: &Path, db: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_memory-cli"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("MEMORY_EMBEDDER", "lexical")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run memory-cli");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("memory.db");
    let n = records();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let id = runtime.block_on(populate(&db, n));
    drop(runtime);
    let search = [
        "memory",
        "search",
        "--scope",
        SCOPE,
        "flaky settlement test timeout",
    ];
    // A first search builds the index (and saves it, from 2,000 memories); the measured ones load it.
    run(dir.path(), &db, &search);
    let mut group = c.benchmark_group(format!("cli/{n}"));
    group.sample_size(50);
    group.bench_function("episode_list", |b| {
        b.iter(|| run(dir.path(), &db, &["episode", "list"]))
    });
    group.bench_function("episode_show", |b| {
        b.iter(|| run(dir.path(), &db, &["episode", "show", &id]))
    });
    group.bench_function("memory_search", |b| {
        b.iter(|| run(dir.path(), &db, &search))
    });
    let mut i = 0u64;
    group.bench_function("memory_store", |b| {
        b.iter(|| {
            i += 1;
            run(
                dir.path(),
                &db,
                &[
                    "memory",
                    "store",
                    "--scope",
                    SCOPE,
                    &format!("bench note {i}"),
                ],
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
