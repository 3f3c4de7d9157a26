//! Retrieval benchmarks on one scope of N memories (100K by default; `MEMORY_BENCH_RECORDS` changes it),
//! embedded libSQL with the redb cache in front (as the CLI and the server open it), with the built-in lexical
//! embedder:
//! - `store`: store one memory and bring the index up to date (embed + persist + index);
//! - `ingest_1000`: store 1000 memories in one batch;
//! - `search_{bm25,vector,hybrid}`: one search, query embedding included.
//!
//! It also prints what criterion does not: hybrid p50/p95 over 500 queries, the time to open the store and
//! answer the first query (once building the index from the store, once loading the snapshot the first open
//! saved), the process's resident memory once the index is loaded, and recall@10 of the quantised vector scan
//! against an exact scan.
//!
//! `cargo bench -p memory-benches --bench records`.

use std::{
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{
    CachedStore, ChangeFeed, NewRecord, Ranking, RecordKind, Records, Scope, Search,
};
use memory_storage_redb::{RedbStore, SnapshotDir};
use memory_storage_turso::{DbConfig, TursoStore};
use tokio::runtime::Runtime;

fn records() -> u64 {
    std::env::var("MEMORY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// A pseudo-random generator with a fixed seed, so every run sees the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word of a 20 000-word vocabulary, drawn with Zipf-like frequencies (rank r has weight ~1/r), as in
    /// natural text.
    fn word(&mut self) -> String {
        const SYLLABLES: &[&str] = &[
            "ka", "lo", "mi", "ser", "tan", "vo", "ri", "den", "pa", "qu", "el", "shu", "ba",
            "nor", "ti", "gra", "fe", "ul", "zo", "ch", "ma", "pre", "is", "ton",
        ];
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        let rank = (20_000f64.powf(u)) as u64; // log-uniform rank: the 1/r law
        let (mut r, mut word) = (rank, String::new());
        loop {
            word.push_str(SYLLABLES[(r % SYLLABLES.len() as u64) as usize]);
            r /= SYLLABLES.len() as u64;
            if r == 0 {
                break word;
            }
        }
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn open(path: &Path) -> Records {
    let store = TursoStore::open(&DbConfig::local(path))
        .await
        .expect("open");
    let cache_file = path.with_extension("cache.redb");
    let snapshots = SnapshotDir::beside(&cache_file, store.store_id().await.expect("store id"));
    let cache = RedbStore::open_cache(&cache_file, 20_000).expect("cache");
    Records::new(CachedStore::open(store, cache).await.expect("pair"))
        .with_snapshots(std::sync::Arc::new(snapshots))
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let n = records();
    let label = format!("{}k", n / 1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("records.db");
    let scope = Scope::new("bench:records").expect("scope");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    rt.block_on(async {
        let records = open(&path).await;
        let started = Instant::now();
        for start in (0..n).step_by(1000) {
            let batch = (start..n.min(start + 1000))
                .map(|_| NewRecord::new(scope.clone(), RecordKind::Note, rng.sentence(16)))
                .collect();
            records.store_many(batch).await.expect("store");
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "loaded {n} memories in {secs:.1} s ({:.0}/s)",
            n as f64 / secs
        );
    });

    let queries: Vec<String> = (0..500).map(|_| rng.sentence(6)).collect();
    let records = rt.block_on(async {
        let mut opened = None;
        for from in ["the store", "the snapshot"] {
            drop(opened.take());
            let started = Instant::now();
            let records = open(&path).await;
            let first = Search::new(scope.clone(), queries[0].clone());
            records.search(&first).await.expect("first query");
            println!(
                "open + first hybrid query at {label}, index from {from}: {:.0} ms; resident memory {:.0} MiB",
                started.elapsed().as_secs_f64() * 1e3,
                rss_mib()
            );
            for info in records.index_info().await {
                let m = info.memory;
                let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
                println!(
                    "  index {}: {:.0} MiB (documents {:.0}, vocabulary {:.0}, postings {:.0}, vectors {:.0})",
                    info.collection,
                    mib(m.total()),
                    mib(m.documents),
                    mib(m.vocabulary),
                    mib(m.postings),
                    mib(m.vectors)
                );
            }
            opened = Some(records);
        }
        let records = opened.expect("opened");
        let mut latencies = Vec::new();
        for q in &queries {
            let started = Instant::now();
            records
                .search(&Search::new(scope.clone(), q.clone()))
                .await
                .expect("search");
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "hybrid at {label}: p50 {:.2} ms, p95 {:.2} ms over {} queries",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.95),
            latencies.len()
        );
        records
    });
    let recall = rt.block_on(test_utils::recall::vector_recall_at_10(
        &records,
        &scope,
        &queries[..50],
    ));
    println!("vector recall@10 against an exact scan: {recall:.3}");

    let mut group = c.benchmark_group("records");
    let store_scope = Scope::new("bench:store").expect("scope");
    let next = AtomicU64::new(0);
    group.bench_function(format!("store/{label}"), |b| {
        b.to_async(&rt).iter(|| {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let new = NewRecord::new(store_scope.clone(), RecordKind::Note, format!("note {i}"));
            let (records, scope) = (&records, &store_scope);
            async move {
                records.store(new).await.expect("store");
                records.sync(scope).await.expect("index");
            }
        })
    });
    group.bench_function("ingest_1000", |b| {
        b.to_async(&rt).iter(|| {
            let start = next.fetch_add(1000, Ordering::Relaxed);
            let batch: Vec<NewRecord> = (start..start + 1000)
                .map(|i| {
                    NewRecord::new(
                        store_scope.clone(),
                        RecordKind::Note,
                        format!("ingested {i}"),
                    )
                })
                .collect();
            let records = &records;
            async move { records.store_many(batch).await.expect("store") }
        })
    });
    for ranking in Ranking::ALL {
        let mut i = 0;
        group.bench_function(format!("search_{}/{label}", ranking.as_str()), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % queries.len();
                let search = Search {
                    ranking,
                    ..Search::new(scope.clone(), queries[i].clone())
                };
                let records = &records;
                async move { records.search(&search).await.expect("search") }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
