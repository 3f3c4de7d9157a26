//! Vector search quality and speed with a real sentence model: all-MiniLM-L6-v2 embeddings of N memories (10K by
//! default; `MEMORY_BENCH_RECORDS` changes it) made of the dev dataset's conversation turns, two turns per
//! memory, and its questions as queries.
//!
//! Prints recall@10 of the index's vector search against an exact cosine scan of the stored vectors, then
//! criterion times a hybrid search with the query's embedding included.
//!
//! `cargo bench -p memory-benches --bench recall` (the model comes from `scripts/install-test-deps.sh`).

use std::{path::Path, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{BertEmbedder, NewRecord, RecordKind, Records, Scope, Search};
use memory_storage_turso::{DbConfig, TursoStore};
use tokio::runtime::Runtime;

fn records() -> usize {
    std::env::var("MEMORY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// The turns and questions of the dev dataset.
fn dataset() -> (Vec<String>, Vec<String>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../memory-cli/tests/fixtures/locomo-dev.json");
    let text = std::fs::read_to_string(&path).expect("the dev dataset");
    let data: serde_json::Value = serde_json::from_str(&text).expect("json");
    let (mut turns, mut questions) = (Vec::new(), Vec::new());
    for sample in data.as_array().expect("a list") {
        for (key, session) in sample["conversation"].as_object().expect("conversation") {
            if key.starts_with("session_") && !key.ends_with("date_time") {
                for turn in session.as_array().expect("turns") {
                    turns.push(format!(
                        "{}: {}",
                        turn["speaker"].as_str().unwrap_or(""),
                        turn["text"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        for qa in sample["qa"].as_array().expect("qa") {
            questions.push(qa["question"].as_str().unwrap_or("").to_string());
        }
    }
    (turns, questions)
}

fn bench(c: &mut Criterion) {
    let dir = test_utils::minilm_dir();
    let model = Arc::new(BertEmbedder::load(&dir).unwrap_or_else(|err| {
        panic!("{err}: run scripts/install-test-deps.sh to install all-MiniLM-L6-v2")
    }));
    let (turns, questions) = dataset();
    let n = records();
    // Distinct memories of realistic text: pairs of turns, walked with a stride co-prime to their count.
    let texts: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{}\n{}",
                turns[i % turns.len()],
                turns[(i * 7 + i / turns.len() + 1) % turns.len()]
            )
        })
        .collect();
    let rt = Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("tempdir");
    let scope = Scope::new("bench:recall").expect("scope");
    let records = rt.block_on(async {
        let store = TursoStore::open(&DbConfig::local(tmp.path().join("recall.db")))
            .await
            .expect("open");
        let records = Records::new(store).with_embedder(model.clone());
        let started = std::time::Instant::now();
        for chunk in texts.chunks(256) {
            let batch = chunk
                .iter()
                .map(|t| NewRecord::new(scope.clone(), RecordKind::Conversation, t.clone()));
            records.store_many(batch.collect()).await.expect("store");
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "embedded and stored {n} memories with all-MiniLM-L6-v2 in {secs:.0} s ({:.0}/s)",
            n as f64 / secs
        );
        records
    });

    let queries: Vec<String> = questions.iter().take(200).cloned().collect();
    let recall = rt.block_on(test_utils::recall::vector_recall_at_10(
        &records, &scope, &queries,
    ));
    println!("all-MiniLM-L6-v2, {n} memories: vector recall@10 against an exact scan {recall:.3}");

    let mut group = c.benchmark_group("recall");
    let mut i = 0;
    group.bench_function(format!("search_hybrid_minilm/{}k", n / 1000), |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % questions.len();
            let search = Search::new(scope.clone(), questions[i].clone());
            let records = &records;
            async move { records.search(&search).await.expect("search") }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
