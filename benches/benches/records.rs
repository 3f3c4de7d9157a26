//! Memory-record benchmarks: storing one memory (embed + persist + index) and searching a scope of 10K memories
//! with each ranking, embedded, with the lexical embedder.
//!
//! `cargo bench -p memory-benches --bench records`. `MEMORY_BENCH_RECORDS` changes the scope size.

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{NewRecord, Ranking, RecordKind, RecordSearch, Records, Scope};
use memory_storage_turso::{DbConfig, TursoStore};
use tokio::runtime::Runtime;

const WORDS: &[&str] = &[
    "settlement",
    "retry",
    "tokio",
    "clock",
    "flaky",
    "webhook",
    "backoff",
    "ledger",
    "invoice",
    "deploy",
    "migration",
    "schema",
    "cache",
    "latency",
    "timeout",
    "payment",
    "refund",
    "currency",
    "parser",
    "queue",
    "worker",
    "lock",
    "index",
    "query",
    "budget",
    "token",
    "session",
    "review",
    "branch",
    "release",
];

fn records() -> u64 {
    std::env::var("MEMORY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// A deterministic sentence of 12 words for memory `i`.
fn sentence(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let words: Vec<&str> = (0..12)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            WORDS[(x % WORDS.len() as u64) as usize]
        })
        .collect();
    format!("memory {i}: {}", words.join(" "))
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let n = records();
    let label = format!("{}k", n / 1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let scope = Scope::new("bench:records").expect("scope");
    let store = rt
        .block_on(TursoStore::open(&DbConfig::local(
            dir.path().join("records.db"),
        )))
        .expect("open");
    let records = Records::new(store);
    rt.block_on(async {
        for i in 0..n {
            records
                .store(NewRecord::new(scope.clone(), RecordKind::Note, sentence(i)))
                .await
                .expect("store");
        }
    });

    let mut group = c.benchmark_group("records");
    let next = AtomicU64::new(n);
    // Stored into a scope of their own, so the searches below see exactly `n` memories.
    let store_scope = Scope::new("bench:store").expect("scope");
    group.bench_function(format!("store/{label}"), |b| {
        b.to_async(&rt).iter(|| {
            let new = NewRecord::new(
                store_scope.clone(),
                RecordKind::Note,
                sentence(next.fetch_add(1, Ordering::Relaxed)),
            );
            let records = &records;
            async move { records.store(new).await.expect("store") }
        })
    });
    for ranking in Ranking::ALL {
        let search = RecordSearch {
            scope: scope.clone(),
            text: "why is the settlement retry flaky with the tokio clock".into(),
            kind: None,
            tag: None,
            limit: 10,
            ranking,
            embedding: None,
        };
        group.bench_function(format!("search_{}/{label}", ranking.as_str()), |b| {
            b.to_async(&rt)
                .iter(|| async { records.search(&search).await.expect("search") })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
