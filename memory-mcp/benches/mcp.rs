//! memory-mcp end to end, the real binary driven by rmcp's client, on a store of N completed episodes and N
//! memories in one scope (100K by default; `MEMORY_BENCH_RECORDS` changes it), lexical embedder:
//! - `start_to_initialize`: process start until `initialize` is answered;
//! - `get_episode/stdio`: one `get_episode` round trip over stdio;
//! - `query_memory/stdio`: one `query_memory` round trip (episodes and memories, hybrid ranking).
//!
//! It also prints what criterion does not: p50 / p95 of those round trips, the server's resident memory once idle
//! with its index loaded (built, loaded, and serving a scope without the memories), and a load test over
//! streamable HTTP by plain keep-alive clients: `MEMORY_BENCH_CLIENTS` sessions (50) each making
//! `MEMORY_BENCH_CALLS` mixed calls (200), with errors, throughput and p50 / p95.
//!
//! `code` (on an empty store, the engine's compilation cached, as after a first start):
//! - `start_to_execute_code`: process start until a first `execute_code` of `console.log(1+1)` is answered;
//! - `execute_code/stdio`: one `execute_code` round trip of `console.log(1+1)`, with its p50 / p95 printed.
//!
//! `MEMORY_BENCH_DB=PATH` keeps the store at PATH and reuses it on later runs (populated only when missing).
//!
//! `cargo bench -p memory-mcp --bench mcp` (release). A quick run: `MEMORY_BENCH_RECORDS=2000
//! MEMORY_BENCH_CLIENTS=5 MEMORY_BENCH_CALLS=20 cargo bench -p memory-mcp --bench mcp -- --quick`.

use std::{
    path::Path,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{Episode, EpisodeStore, NewRecord, RecordKind, Records, Scope};
use memory_storage_turso::{DbConfig, TursoStore};
use rmcp::{
    RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::{Value, json};
use test_utils::Workload;
use tokio::runtime::Runtime;

#[path = "mcp/http.rs"]
mod http;

type Client = RunningService<RoleClient, ()>;

const SCOPE: &str = "project:bench";
const KEY: &str = "bench-key-0123456789abcdef";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fills `db` with `n` completed episodes of five steps and `n` memories in [`SCOPE`].
async fn populate(db: &Path, n: u64) {
    let store = TursoStore::open(&DbConfig::local(db)).await.expect("open");
    let workload = Workload::new(7);
    let indexes: Vec<u64> = (0..n).collect();
    for chunk in indexes.chunks(5_000) {
        let episodes: Vec<Episode> = chunk
            .iter()
            .map(|&i| workload.completed_episode(i, 5))
            .collect();
        store
            .import_episodes(&episodes)
            .await
            .expect("import episodes");
    }
    let records = Records::new(store.clone());
    let scope = Scope::new(SCOPE).expect("scope");
    for chunk in indexes.chunks(1_000) {
        let new = chunk
            .iter()
            .map(|&i| NewRecord::new(scope.clone(), RecordKind::Note, workload.memory_text(i)))
            .collect();
        records.store_many(new).await.expect("store memories");
    }
    EpisodeStore::close(&store).await.expect("close");
}

/// The server binary with a clean environment on `db`.
fn command(dir: &Path, db: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_memory-mcp"));
    for var in [
        "MEMORY_DB_URL",
        "MEMORY_DB_TOKEN",
        "MEMORY_API_KEY",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("MEMORY_EMBEDDER", "lexical")
        .env("MEMORY_SCOPE", SCOPE)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CACHE_HOME", dir)
        .env("RUST_LOG", "warn")
        .arg("--db")
        .arg(db)
        .kill_on_drop(true);
    cmd
}

async fn connect(dir: &Path, db: &Path) -> (Client, u32) {
    connect_in(dir, db, SCOPE).await
}

/// Starts a server on `db` whose default scope is `scope`.
async fn connect_in(dir: &Path, db: &Path, scope: &str) -> (Client, u32) {
    let mut cmd = command(dir, db);
    cmd.env("MEMORY_SCOPE", scope);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = transport.id().expect("pid");
    (().serve(transport).await.expect("handshake"), pid)
}

async fn call(client: &Client, tool: &str, arguments: Value) -> Result<Value, String> {
    let Value::Object(arguments) = arguments else {
        unreachable!("arguments are objects")
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .map_err(|e| e.to_string())?;
    match (result.is_error, result.structured_content) {
        (Some(false), Some(value)) => Ok(value),
        _ => Err(format!("{tool} failed: {:?}", result.content)),
    }
}

/// The number of results and the size of a whole `query_memory` result (as the client receives it) for `query`.
async fn answer_size(client: &Client, query: &str) -> (usize, usize) {
    let arguments = json!({"query": query})
        .as_object()
        .cloned()
        .expect("object");
    let result = client
        .call_tool(CallToolRequestParams::new("query_memory").with_arguments(arguments))
        .await
        .expect("query");
    let results = result
        .structured_content
        .as_ref()
        .map_or(0, |v| v["results"].as_array().map_or(0, Vec::len));
    (results, serde_json::to_string(&result).expect("json").len())
}

/// Waits until the server's search index is loaded.
async fn wait_ready(client: &Client) {
    until_ready(async || {
        call(client, "health_check", json!({}))
            .await
            .expect("health")
    })
    .await;
}

/// Asks `health` until the server's index is loaded.
async fn until_ready(mut health: impl AsyncFnMut() -> Value) {
    loop {
        match health().await["index"].as_str() {
            Some("ready") => return,
            Some("failed") => panic!("the index failed to load"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The process's resident memory, with its anonymous and file-backed parts (the index's mapped snapshot
/// sections are file-backed: the kernel's to keep or drop, and shared with every process mapping them).
fn resident(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    format!(
        "{:.0} MiB (anonymous {:.0}, file-backed {:.0})",
        mib("VmRSS:"),
        mib("RssAnon:"),
        mib("RssFile:")
    )
}

/// Query texts in the corpus's words.
fn queries(workload: &Workload) -> Vec<String> {
    (0..50)
        .map(|i| {
            let text = workload.memory_text(1_000_000 + i);
            text.split(':').next_back().unwrap_or(&text).to_string()
        })
        .collect()
}

/// The JavaScript engine: `MEMORY_SANDBOX_WASM`, or the one scripts/install-sandbox.sh builds.
fn sandbox_module() -> std::path::PathBuf {
    std::env::var_os("MEMORY_SANDBOX_WASM").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/sandbox/quickjs.wasm"),
        Into::into,
    )
}

/// Starts a server on an empty store with the code sandbox, its compilation cached in `dir`.
async fn connect_with_sandbox(dir: &Path) -> Client {
    let mut cmd = command(dir, &dir.join("code.db"));
    cmd.env("MEMORY_SANDBOX_WASM", sandbox_module());
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    ().serve(transport).await.expect("handshake")
}

async fn hello(client: &Client) {
    let out = call(client, "execute_code", json!({"code": "console.log(1+1)"}))
        .await
        .expect("execute_code");
    assert_eq!(out["stdout"], "2\n");
}

fn code_bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    // The first start compiles the engine and caches it; the measured ones load the cache.
    let started = Instant::now();
    let client = rt.block_on(connect_with_sandbox(dir.path()));
    rt.block_on(hello(&client));
    println!(
        "mcp: first start to execute_code answered, compiling the engine: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    rt.block_on(client.cancel()).expect("close");

    let mut group = c.benchmark_group("code");
    group.sample_size(10);
    group.bench_function("start_to_execute_code", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let dir = dir.path().to_path_buf();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let client = connect_with_sandbox(&dir).await;
                    hello(&client).await;
                    total += started.elapsed();
                    client.cancel().await.expect("close");
                }
                total
            }
        })
    });
    let client = rt.block_on(connect_with_sandbox(dir.path()));
    rt.block_on(hello(&client));
    group.sample_size(50);
    group.bench_function("execute_code/stdio", |b| {
        b.to_async(&rt).iter(|| hello(&client))
    });
    group.finish();
    rt.block_on(async {
        let mut samples = Vec::new();
        for _ in 0..1000 {
            let started = Instant::now();
            hello(&client).await;
            samples.push(started.elapsed());
        }
        test_utils::report_latencies("mcp: execute_code console.log(1+1) over stdio", samples);
        let mut samples = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let client = connect_with_sandbox(dir.path()).await;
            hello(&client).await;
            samples.push(started.elapsed());
            client.cancel().await.expect("close");
        }
        test_utils::report_latencies(
            "mcp: process start to first execute_code answered (engine cached)",
            samples,
        );
    });
}

fn bench(c: &mut Criterion) {
    let n = env_number("MEMORY_BENCH_RECORDS", 100_000);
    let rt = Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let db =
        std::env::var_os("MEMORY_BENCH_DB").map_or_else(|| dir.path().join("bench.db"), Into::into);
    if !db.exists() {
        let started = Instant::now();
        rt.block_on(populate(&db, n));
        println!(
            "mcp: {n} episodes and {n} memories stored in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let workload = Workload::new(7);
    let queries = queries(&workload);

    let mut group = c.benchmark_group("mcp");
    group.sample_size(10);
    group.bench_function(format!("start_to_initialize/{n}"), |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (dir, db) = (dir.path().to_path_buf(), db.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let (client, _) = connect(&dir, &db).await;
                    total += started.elapsed();
                    client.cancel().await.expect("close");
                }
                total
            }
        })
    });

    // Without snapshots, the server builds its indexes from libSQL and saves them; the next one loads them.
    let _ = std::fs::remove_dir_all(db.with_extension("cache.snapshots"));
    for from in ["built from libSQL", "loaded from their snapshots"] {
        let (client, pid) = rt.block_on(connect(dir.path(), &db));
        rt.block_on(wait_ready(&client));
        println!(
            "mcp: resident memory idle, indexes {from}: {}",
            resident(pid)
        );
        rt.block_on(client.cancel()).expect("close");
    }
    // The same store served for a scope without memories: its episodes alone.
    let (client, pid) = rt.block_on(connect_in(dir.path(), &db, "project:no-memories"));
    rt.block_on(wait_ready(&client));
    println!(
        "mcp: resident memory idle, {n} episodes and no memories in the scope served: {}",
        resident(pid)
    );
    rt.block_on(client.cancel()).expect("close");
    let (client, pid) = rt.block_on(connect(dir.path(), &db));
    rt.block_on(wait_ready(&client));
    let client = Arc::new(client);
    let ids: Vec<String> = (0..100)
        .map(|i| workload.id(i * (n / 100).max(1) % n).to_string())
        .collect();
    group.sample_size(50);
    let mut next = 0usize;
    group.bench_function(format!("get_episode/stdio/{n}"), |b| {
        b.to_async(&rt).iter(|| {
            next = (next + 1) % ids.len();
            let (client, id) = (client.clone(), ids[next].clone());
            async move {
                call(&client, "get_episode", json!({"episode_id": id}))
                    .await
                    .expect("get")
            }
        })
    });
    group.bench_function(format!("query_memory/stdio/{n}"), |b| {
        b.to_async(&rt).iter(|| {
            next = (next + 1) % queries.len();
            let (client, query) = (client.clone(), queries[next].clone());
            async move {
                call(&client, "query_memory", json!({"query": query}))
                    .await
                    .expect("query")
            }
        })
    });
    group.finish();

    rt.block_on(async {
        let mut samples = Vec::new();
        for i in 0..1000 {
            let started = Instant::now();
            call(
                &client,
                "get_episode",
                json!({"episode_id": ids[i % ids.len()]}),
            )
            .await
            .expect("get");
            samples.push(started.elapsed());
        }
        test_utils::report_latencies(&format!("mcp: get_episode over stdio at {n}"), samples);
        let mut samples = Vec::new();
        for i in 0..200 {
            let started = Instant::now();
            call(
                &client,
                "query_memory",
                json!({"query": queries[i % queries.len()]}),
            )
            .await
            .expect("query");
            samples.push(started.elapsed());
        }
        test_utils::report_latencies(&format!("mcp: query_memory over stdio at {n}"), samples);
        let (results, bytes) = answer_size(&client, &queries[0]).await;
        println!("mcp: query_memory answer for {results} results: {bytes} bytes of JSON (text and structured content)");
        println!(
            "mcp: resident memory after the runs above ({} distinct queries): {}",
            queries.len(),
            resident(pid)
        );
    });
    drop(client);
    rt.block_on(http::load(dir.path(), &db, &ids, &queries));
}

criterion_group!(benches, code_bench, bench);
criterion_main!(benches);
