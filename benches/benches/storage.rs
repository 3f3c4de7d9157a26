//! Storage benchmarks at 100K stored episodes of 10 steps (embedded), plus cache hit vs miss against sqld.
//!
//! `cargo bench -p memory-benches --bench storage`. `MEMORY_BENCH_EPISODES` changes the store size.

use std::{
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use memory_core::{
    CachedStore, EpisodeQuery, EpisodeStore, Memory, NewEpisode, TaskContext, TaskType,
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::{
    Workload,
    sqld::{Auth, Sqld},
};
use tokio::runtime::Runtime;

const STEPS: u32 = 10;
const HOT_SET: u64 = 1_000;

fn episodes() -> u64 {
    std::env::var("MEMORY_BENCH_EPISODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Loads `count` completed episodes of [`STEPS`] steps in chunks of 5000; returns the time the store took
/// (generating the episodes is not timed).
async fn load(store: &impl EpisodeStore, w: &Workload, count: u64) -> Duration {
    const CHUNK: u64 = 5_000;
    let mut took = Duration::ZERO;
    for start in (0..count).step_by(CHUNK as usize) {
        let batch: Vec<_> = (start..(start + CHUNK).min(count))
            .map(|i| w.completed_episode(i, STEPS))
            .collect();
        let started = Instant::now();
        store.import_episodes(&batch).await.expect("import");
        took += started.elapsed();
    }
    took
}

async fn open_pair(dir: &Path, capacity: usize) -> CachedStore<TursoStore, RedbStore> {
    let primary = TursoStore::open(&DbConfig::local(dir.join("memory.db")))
        .await
        .expect("libSQL");
    let cache =
        RedbStore::open_cache(dir.join(format!("cache-{capacity}.redb")), capacity).expect("cache");
    CachedStore::open(primary, cache).await.expect("pair")
}

fn embedded(c: &mut Criterion) {
    let rt = runtime();
    let n = episodes();
    let label = format!("{}k", n / 1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let w = Workload::new(42);
    let pair = rt.block_on(async {
        let pair = open_pair(dir.path(), HOT_SET as usize * 2).await;
        let took = load(pair.primary(), &w, n).await;
        eprintln!("setup: loaded {n} episodes of {STEPS} steps in {took:?}");
        for i in 0..HOT_SET {
            pair.get_episode(w.id(i)).await.expect("warm");
        }
        pair
    });

    let mut group = c.benchmark_group("get");
    let next = AtomicU64::new(0);
    // The default: the change feed is checked before every cached read (one small libSQL query).
    group.bench_function(format!("cache_hit/{label}"), |b| {
        b.to_async(&rt).iter(|| {
            let id = w.id(next.fetch_add(1, Ordering::Relaxed) % HOT_SET);
            let pair = &pair;
            async move { pair.get_episode(id).await.expect("get").expect("present") }
        })
    });
    // With a sync interval the feed is checked at most once per interval: a hit is a redb read alone.
    let pair = pair.with_sync_interval(Duration::from_secs(1));
    group.bench_function(format!("cache_hit_sync_1s/{label}"), |b| {
        b.to_async(&rt).iter(|| {
            let id = w.id(next.fetch_add(1, Ordering::Relaxed) % HOT_SET);
            let pair = &pair;
            async move { pair.get_episode(id).await.expect("get").expect("present") }
        })
    });
    // Reading the whole store in order through a cache that holds 2% of it: every read misses, fills and evicts.
    group.bench_function(format!("cache_miss/{label}"), |b| {
        b.to_async(&rt).iter(|| {
            let id = w.id(HOT_SET + next.fetch_add(1, Ordering::Relaxed) % (n - HOT_SET));
            let pair = &pair;
            async move { pair.get_episode(id).await.expect("get").expect("present") }
        })
    });
    group.finish();

    let memory = Memory::new(rt.block_on(open_pair(dir.path(), HOT_SET as usize * 2 + 1)));
    let mut group = c.benchmark_group("lifecycle");
    let fresh = AtomicU64::new(10 * n);
    group.bench_function(format!("complete_episode/{label}"), |b| {
        b.iter_batched(
            || {
                // An in-progress episode with 10 steps, stored but not timed.
                let mut ep = w.completed_episode(fresh.fetch_add(1, Ordering::Relaxed), STEPS);
                (ep.end_time, ep.outcome, ep.reward, ep.reflection) = (None, None, None, None);
                rt.block_on(memory.store().import_episodes(std::slice::from_ref(&ep)))
                    .expect("setup");
                ep.id
            },
            |id| {
                rt.block_on(memory.complete_episode(id, success()))
                    .expect("complete")
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function(format!("log_step/{label}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                // One episode per 1000 steps; starting them is part of the amortised cost.
                let started = Instant::now();
                let mut id = None;
                for i in 0..iters {
                    if i % 1000 == 0 {
                        let new = NewEpisode::new("bench log_step", TaskType::Testing, context());
                        id = Some(memory.start_episode(new).await.expect("start"));
                    }
                    let step = w.step(i, (i % 1000) as u32 + 1);
                    memory
                        .log_step(id.expect("started"), step)
                        .await
                        .expect("log");
                }
                started.elapsed()
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("list");
    group.bench_function(format!("newest_100/{label}"), |b| {
        let query = EpisodeQuery {
            limit: 100,
            ..Default::default()
        };
        b.to_async(&rt)
            .iter(|| async { memory.list_episodes(&query).await.expect("list") })
    });
    group.finish();
    rt.block_on(memory.close()).expect("close");
}

fn bulk_load(c: &mut Criterion) {
    let rt = runtime();
    let n = episodes();
    let w = Workload::new(7);
    let mut group = c.benchmark_group("bulk_load");
    group.sample_size(10);
    group.bench_function(format!("episodes/{}k", n / 1000), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                total += rt.block_on(async {
                    let pair = open_pair(dir.path(), 1000).await;
                    load(&pair, &w, n).await
                });
            }
            total
        })
    });
    group.finish();
}

fn remote(c: &mut Criterion) {
    let rt = runtime();
    let server = Sqld::start(Auth::None);
    let dir = tempfile::tempdir().expect("tempdir");
    let w = Workload::new(9);
    let count = 200;
    let pair = rt.block_on(async {
        let primary = TursoStore::open(&DbConfig::remote(server.url.clone(), None))
            .await
            .expect("sqld");
        let cache = RedbStore::open_cache(dir.path().join("remote.redb"), 100).expect("cache");
        let pair = CachedStore::open(primary, cache)
            .await
            .expect("pair")
            .with_sync_interval(Duration::from_secs(1));
        load(pair.primary(), &w, count).await;
        for i in 0..50 {
            pair.get_episode(w.id(i)).await.expect("warm");
        }
        pair
    });
    let mut group = c.benchmark_group("sqld_get");
    let next = AtomicU64::new(0);
    group.bench_function("cache_hit", |b| {
        b.to_async(&rt).iter(|| {
            let id = w.id(next.fetch_add(1, Ordering::Relaxed) % 50);
            let pair = &pair;
            async move { pair.get_episode(id).await.expect("get").expect("present") }
        })
    });
    group.bench_function("cache_miss", |b| {
        b.to_async(&rt).iter(|| {
            let id = w.id(50 + next.fetch_add(1, Ordering::Relaxed) % (count - 50));
            let pair = &pair;
            async move { pair.get_episode(id).await.expect("get").expect("present") }
        })
    });
    group.finish();
}

fn context() -> TaskContext {
    TaskContext {
        domain: "bench".into(),
        ..Default::default()
    }
}

fn success() -> memory_core::TaskOutcome {
    memory_core::TaskOutcome::Success {
        verdict: "done".into(),
        artifacts: vec![],
    }
}

criterion_group!(benches, embedded, remote, bulk_load);
criterion_main!(benches);
