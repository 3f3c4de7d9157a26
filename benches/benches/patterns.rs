//! The pattern learner: extraction from one completed episode (and, apart, embedding its candidates), DBSCAN over
//! 10K pattern feature vectors, recommendation at 10K stored patterns, and a learner batch against them.
//!
//! `cargo bench -p memory-benches --bench patterns`. `MEMORY_BENCH_PATTERNS` changes the number of patterns.
//! Besides criterion's figures it prints recommendation p50/p95 over 500 requests and the time of each learner
//! batch of 64 episodes.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{
    Embedder, EpisodeStore, LexicalEmbedder, Pattern, PatternConfig, PatternStore, PatternWrite,
    Patterns, QueryContext, Recommend, Timestamp,
    pattern::{
        DEFAULT_HALF_LIFE_DAYS, ModelVectors,
        cluster::{ClusterParams, dbscan, features},
        extract,
    },
};
use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::{History, HistoryEpisode, Strategy};
use tokio::runtime::Runtime;

fn patterns() -> usize {
    std::env::var("MEMORY_BENCH_PATTERNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A history large enough to give `n` candidates: planted strategies and noise.
fn history(n: usize) -> Vec<HistoryEpisode> {
    let episodes = n / 3 + 100;
    History::new(7).episodes(episodes / 10, episodes / 2)
}

/// At least `n` patterns, one per candidate (no clustering), each with its description's vector.
fn singletons(history: &[HistoryEpisode], n: usize) -> Vec<(Pattern, Vec<f32>)> {
    let embedder = LexicalEmbedder::default();
    let now = Timestamp::now();
    let candidates: Vec<_> = history
        .iter()
        .flat_map(|h| extract(&h.episode))
        .take(n)
        .collect();
    assert_eq!(candidates.len(), n, "the history is too small");
    let texts: Vec<&str> = candidates.iter().map(|c| c.description.as_str()).collect();
    let vectors = embedder.embed(&texts).expect("embed");
    candidates
        .into_iter()
        .zip(vectors)
        .map(|(c, v)| (Pattern::from_candidate(c, now, DEFAULT_HALF_LIFE_DAYS), v))
        .collect()
}

fn extraction(c: &mut Criterion) {
    let history = history(5_000);
    let embedder = LexicalEmbedder::default();
    let mut group = c.benchmark_group("extract");
    let mut i = 0;
    group.bench_function("episode", |b| {
        b.iter(|| {
            i = (i + 1) % history.len();
            extract(&history[i].episode)
        })
    });
    let mut i = 0;
    group.bench_function("episode_with_lexical_embedding", |b| {
        b.iter(|| {
            i = (i + 1) % history.len();
            let found = extract(&history[i].episode);
            let texts: Vec<&str> = found.iter().map(|c| c.description.as_str()).collect();
            embedder.embed(&texts).expect("embed")
        })
    });
    group.finish();
}

fn clustering(c: &mut Criterion) {
    let n = patterns();
    let history = history(n);
    let points: Vec<Vec<f32>> = singletons(&history, n)
        .iter()
        .map(|(p, v)| features(v, &p.signature))
        .collect();
    let rows: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
    let params = ClusterParams {
        eps: PatternConfig::default().eps,
        min_points: 2,
    };
    let labels = dbscan(&rows, params).expect("dbscan");
    let distinct: std::collections::HashSet<Vec<u32>> = rows
        .iter()
        .map(|r| r.iter().map(|x| x.to_bits()).collect())
        .collect();
    eprintln!("{} distinct points of {}", distinct.len(), rows.len());
    let clusters = labels.iter().flatten().max().map_or(0, |m| m + 1);
    let noise = labels.iter().filter(|l| l.is_none()).count();
    eprintln!(
        "dbscan over {} points: {clusters} clusters, {noise} noise points",
        rows.len()
    );
    // The same points, each moved by a small seeded offset (about 0.07 long, well inside eps), so that no two
    // are identical: the worst case, where every point is queried on its own.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let jittered: Vec<Vec<f32>> = points
        .iter()
        .map(|p| p.iter().map(|x| x + 0.03 * next()).collect())
        .collect();
    let distinct_rows: Vec<&[f32]> = jittered.iter().map(Vec::as_slice).collect();
    let labels = dbscan(&distinct_rows, params).expect("dbscan");
    let clusters = labels.iter().flatten().max().map_or(0, |m| m + 1);
    eprintln!(
        "dbscan over {} distinct points: {clusters} clusters",
        distinct_rows.len()
    );
    let mut group = c.benchmark_group("dbscan");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(format!("{}k", rows.len() / 1000), |b| {
        b.iter(|| dbscan(&rows, params).expect("dbscan"))
    });
    group.bench_function(format!("{}k_distinct", rows.len() / 1000), |b| {
        b.iter(|| dbscan(&distinct_rows, params).expect("dbscan"))
    });
    group.finish();
}

/// The request for strategy `s`'s task, in its context.
fn request(s: Strategy) -> Recommend {
    let (task_type, context) = s.context();
    Recommend {
        context: QueryContext {
            domain: Some(context.domain),
            language: context.language,
            framework: context.framework,
            tags: context.tags,
        },
        task_type: Some(task_type),
        ..Recommend::new(s.task())
    }
}

fn recommendation(c: &mut Criterion) {
    let rt = runtime();
    let n = patterns();
    let dir = tempfile::tempdir().expect("tempdir");
    let history = history(n);
    let (store, learner) = rt.block_on(async {
        let store = Arc::new(
            TursoStore::open(&DbConfig::local(dir.path().join("memory.db")))
                .await
                .expect("libSQL"),
        );
        let model = memory_core::EmbeddingModel {
            id: LexicalEmbedder::default().id().to_string(),
            dimension: LexicalEmbedder::default().dimension(),
        };
        let made = singletons(&history, n);
        for chunk in made.chunks(1_000) {
            let write = PatternWrite {
                put: chunk.iter().map(|(p, _)| (p.clone(), None)).collect(),
                vectors: Some(ModelVectors {
                    model: model.clone(),
                    vectors: chunk
                        .iter()
                        .map(|(p, v)| (p.embedding_key(), v.clone()))
                        .collect(),
                }),
                ..Default::default()
            };
            store.write_patterns(&write).await.expect("write patterns");
        }
        let learner = Patterns::new(store.clone());
        let started = Instant::now();
        let count = learner.count().await.expect("load");
        eprintln!("loaded {count} patterns in {:?}", started.elapsed());
        (store, learner)
    });
    let requests: Vec<Recommend> = Strategy::ALL.into_iter().map(request).collect();
    let label = format!("{}k", n / 1000);
    assert!(
        rt.block_on(learner.count()).expect("count") >= n,
        "fewer than {n} patterns"
    );

    let mut latencies = Vec::new();
    rt.block_on(async {
        for i in 0..500 {
            let started = Instant::now();
            let found = learner
                .recommend(&requests[i % requests.len()])
                .await
                .expect("recommend");
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(!found.is_empty());
        }
    });
    latencies.sort_by(f64::total_cmp);
    eprintln!(
        "recommend at {label}: p50 {:.2} ms, p95 {:.2} ms over {} requests",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.len()
    );
    let mut group = c.benchmark_group("recommend");
    let mut i = 0;
    group.bench_function(&label, |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(learner.recommend(&requests[i % requests.len()]))
                .expect("recommend")
        })
    });
    group.finish();

    // Learning against the stored patterns: batches of 64 queued episodes, clustered with the patterns near them.
    let fresh = History::new(99).episodes(40, 440);
    let episodes: Vec<_> = fresh.into_iter().map(|h| h.episode).collect();
    rt.block_on(async {
        store.import_episodes(&episodes).await.expect("import");
        store.queue_unextracted().await.expect("queue");
        let mut took = Vec::new();
        loop {
            let started = Instant::now();
            let Some(done) = learner.extract_batch().await.expect("extract") else {
                break;
            };
            took.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(done.episodes > 0);
        }
        took.sort_by(f64::total_cmp);
        eprintln!(
            "learner at {label}: {} batches of up to 64 episodes, median {:.1} ms, slowest {:.1} ms",
            took.len(),
            percentile(&took, 0.5),
            took.last().copied().unwrap_or(0.0)
        );
    });
}

criterion_group!(benches, extraction, clustering, recommendation);
criterion_main!(benches);
