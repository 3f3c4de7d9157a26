//! Session import and reports at seed 003's scale: 2M messages by default (`MEMORY_BENCH_MESSAGES` changes it),
//! a corpus of Claude Code logs written by `scripts/gen-sessions.py` (or the one in `MEMORY_BENCH_CORPUS`),
//! imported into embedded libSQL with the redb cache in front, through `memory_cli::ingest` as
//! `memory-cli import sessions` runs it, with the built-in lexical embedder.
//!
//! It prints the import rate (messages/s, everything included: reading, gunzip, parsing, hashing, messages,
//! records with their embeddings, episodes), the rate with the all-MiniLM-L6-v2 model on a slice of the corpus
//! when the model is installed, keyword (BM25) search p50/p95 over the imported memories, and the time to back up
//! the store with its size. Criterion measures each report over the whole store.
//!
//! It allocates with mimalloc, as the `memory-cli` binary does.
//!
//! `cargo bench -p memory-benches --bench sessions`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Instant,
};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{BertEmbedder, CachedStore, Embedder, Memory, Ranking, Records, Scope, Search};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore, reports::ReportFilter};
use tokio::runtime::Runtime;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn messages() -> u64 {
    std::env::var("MEMORY_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The corpus directory: `MEMORY_BENCH_CORPUS`, or one generated into `scratch`.
fn corpus(scratch: &Path, messages: u64) -> PathBuf {
    if let Some(dir) = std::env::var_os("MEMORY_BENCH_CORPUS") {
        return PathBuf::from(dir);
    }
    let dir = scratch.join("corpus");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gen-sessions.py");
    let status = Command::new("python3")
        .arg(script)
        .args(["--messages", &messages.to_string(), "--out"])
        .arg(&dir)
        .status()
        .expect("run scripts/gen-sessions.py");
    assert!(status.success(), "scripts/gen-sessions.py failed");
    dir
}

struct Opened {
    primary: TursoStore,
    memory: Memory,
    records: Records,
}

async fn open(path: &Path, embedder: Option<Arc<dyn Embedder>>) -> Opened {
    let config = DbConfig::local(path);
    let primary = TursoStore::open(&config).await.expect("open");
    let cache = RedbStore::open_cache(path.with_extension("cache.redb"), 20_000).expect("cache");
    let pair = Arc::new(
        CachedStore::open(TursoStore::open(&config).await.expect("open"), cache)
            .await
            .expect("pair"),
    );
    let mut records = Records::from_arc(pair.clone());
    if let Some(embedder) = embedder {
        records = records.with_embedder(embedder);
    }
    Opened {
        primary,
        memory: Memory::from_arc(pair),
        records,
    }
}

/// Imports `logs` into a new store at `path`; returns the messages imported and the seconds taken.
async fn import(path: &Path, logs: &[PathBuf], embedder: Option<Arc<dyn Embedder>>) -> (u64, f64) {
    let store = open(path, embedder).await;
    let started = Instant::now();
    let run = memory_cli::ingest::import_sessions(
        &store.primary,
        &store.memory,
        &store.records,
        logs,
        None,
        false,
    )
    .await
    .expect("import");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(run.rejected, 0);
    store.memory.close().await.expect("close");
    (run.new_messages, secs)
}

/// The installed all-MiniLM-L6-v2, if any (`MEMORY_MODELS_DIR` or the repository's `.tools/models`).
fn minilm() -> Option<Arc<dyn Embedder>> {
    let dir = std::env::var_os("MEMORY_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/models"))
        .join("all-MiniLM-L6-v2");
    let model = BertEmbedder::load(&dir).ok()?;
    Some(Arc::new(model))
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let n = messages();
    let scratch = tempfile::tempdir().expect("tempdir");
    let corpus = corpus(scratch.path(), n);
    let logs = memory_cli::ingest::find_logs(&[corpus]).expect("logs");
    let corpus_bytes: u64 = logs
        .iter()
        .map(|p| std::fs::metadata(p).expect("size").len())
        .sum();
    let path = scratch.path().join("sessions.db");
    let (imported, secs) = rt.block_on(import(&path, &logs, None));
    println!(
        "imported {imported} messages from {} files ({:.0} MB) in {secs:.1} s: {:.0} messages/s (lexical embedder)",
        logs.len(),
        corpus_bytes as f64 / 1e6,
        imported as f64 / secs
    );
    if let Some(model) = minilm() {
        let slice = &logs[..logs.len().min(40)];
        let (imported, secs) = rt.block_on(import(
            &scratch.path().join("minilm.db"),
            slice,
            Some(model),
        ));
        println!(
            "imported {imported} messages in {secs:.1} s: {:.0} messages/s (all-MiniLM-L6-v2)",
            imported as f64 / secs
        );
    }

    let store = rt.block_on(open(&path, None));
    let scope = Scope::new("project:payments").expect("scope");
    let queries = [
        "settle retry timeout",
        "ledger ack flaky test",
        "borrow of moved value",
        "connection refused postgres",
        "idempotency key webhook",
        "cache eviction latency",
    ];
    let mut latencies = Vec::new();
    rt.block_on(async {
        let first = Instant::now();
        let search = |text: &str| Search {
            ranking: Ranking::Bm25,
            ..Search::new(scope.clone(), text)
        };
        store
            .records
            .search(&search(queries[0]))
            .await
            .expect("search");
        println!(
            "first keyword search in {scope} (index built or loaded): {:.1} s",
            first.elapsed().as_secs_f64()
        );
        for i in 0..500 {
            let started = Instant::now();
            store
                .records
                .search(&search(queries[i % queries.len()]))
                .await
                .expect("search");
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
    });
    latencies.sort_by(f64::total_cmp);
    let indexed = rt
        .block_on(store.records.stats(Some(&scope)))
        .expect("stats")
        .total;
    println!(
        "keyword search over {indexed} memories of {scope}: p50 {:.2} ms, p95 {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );

    let backup = scratch.path().join("backup");
    let started = Instant::now();
    let manifest = rt.block_on(store.primary.backup(&backup)).expect("backup");
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "backup of a {:.0} MB store in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let all = ReportFilter::default();
    let one_month = ReportFilter {
        since: memory_core::Timestamp::parse("2026-03-01"),
        until: memory_core::Timestamp::parse("2026-04-01"),
        project: Some("payments".into()),
    };
    let mut group = c.benchmark_group("reports");
    group.sample_size(10);
    let primary = &store.primary;
    group.bench_function("activity", |b| {
        b.to_async(&rt).iter(|| primary.report_activity(&all))
    });
    group.bench_function("timeline", |b| {
        b.to_async(&rt).iter(|| primary.report_timeline(&all))
    });
    group.bench_function("tools", |b| {
        b.to_async(&rt).iter(|| primary.report_tools(&all))
    });
    group.bench_function("errors", |b| {
        b.to_async(&rt).iter(|| primary.report_errors(&all, 3))
    });
    group.bench_function("tools_one_project_one_month", |b| {
        b.to_async(&rt).iter(|| primary.report_tools(&one_month))
    });
    // A session with an error, from the error samples (name, at, project, session, …).
    let errors = rt.block_on(primary.report_errors(&all, 1)).expect("errors");
    let Some(memory_storage_turso::reports::Cell::Text(session)) =
        errors[1].rows[0].get(3).cloned()
    else {
        panic!("no session in the error samples");
    };
    group.bench_function("session", |b| {
        b.to_async(&rt)
            .iter(|| primary.report_session(&session, None))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
