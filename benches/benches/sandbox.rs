//! The code sandbox through the Rust API (release), with the compiled engine loaded from its cache:
//! - `sandbox/console_log`: one `console.log(1+1)` end to end (fresh store, WASI context and instance, run,
//!   output collected);
//! - `sandbox/load_cached`: making a `Sandbox` whose compiled module is cached (what a process pays at start).
//!
//! It also prints p50 / p95 of `console.log(1+1)` over 2000 runs, the time to compile the engine without a
//! cache, and executions per second through `Sandbox::execute` with one execution per core at once.
//!
//! `cargo bench -p memory-benches --bench sandbox` (the engine from scripts/install-sandbox.sh, or
//! `MEMORY_SANDBOX_WASM`).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::sandbox::{Request, Sandbox, SandboxConfig};

fn module() -> PathBuf {
    std::env::var_os("MEMORY_SANDBOX_WASM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sandbox/quickjs.wasm"),
        PathBuf::from,
    )
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

fn bench(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut config = SandboxConfig::new(module());
    config.cache_dir = Some(cache.path().to_path_buf());
    let started = Instant::now();
    let sandbox = Sandbox::new(config.clone()).expect("the engine (scripts/install-sandbox.sh)");
    println!(
        "sandbox: engine compiled in {:.2} s (no cache)",
        started.elapsed().as_secs_f64()
    );
    let hello = Request::javascript("console.log(1+1)");
    assert_eq!(sandbox.run_blocking(&hello).expect("run").stdout, "2\n");

    let mut group = c.benchmark_group("sandbox");
    group.bench_function("console_log", |b| {
        b.iter(|| sandbox.run_blocking(&hello).expect("run"))
    });
    group.sample_size(20);
    group.bench_function("load_cached", |b| {
        b.iter(|| {
            let loaded = Sandbox::new(config.clone()).expect("load");
            assert!(loaded.loaded_from_cache());
            loaded
        })
    });
    group.finish();

    let mut samples: Vec<Duration> = (0..2000)
        .map(|_| {
            let started = Instant::now();
            sandbox.run_blocking(&hello).expect("run");
            started.elapsed()
        })
        .collect();
    samples.sort();
    println!(
        "sandbox: console.log(1+1) p50 {:.3} ms, p95 {:.3} ms over {} runs",
        percentile(&samples, 0.5),
        percentile(&samples, 0.95),
        samples.len()
    );

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    config.concurrency = cores;
    config.queue = 100_000;
    let sandbox = Sandbox::new(config).expect("load");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .build()
        .expect("runtime");
    let runs = 5000;
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..runs)
            .map(|_| {
                let sandbox = sandbox.clone();
                tokio::spawn(async move {
                    sandbox
                        .execute(Request::javascript("console.log(1+1)"))
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task").expect("run").stdout, "2\n");
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sandbox: {:.0} executions/s through Sandbox::execute on {cores} cores ({runs} runs, {cores} at once)",
        runs as f64 / elapsed
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
