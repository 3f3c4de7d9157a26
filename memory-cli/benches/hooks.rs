//! `memory-cli hook` as Claude Code runs it: a process per event, its JSON on standard input, timed from spawn to
//! exit, on an embedded store of N completed episodes (100,000 by default; `MEMORY_BENCH_EPISODES` changes it),
//! lexical embedder:
//! - `post_tool_use`: a Bash call becomes a step of the open episode (a new prompt every 100 calls, not timed);
//! - `user_prompt_submit`: a prompt of a new session: recall of what matches it, then its episode started;
//! - `session_start`: a new session in the project: its lessons and recent episodes.
//!
//! Criterion's figures are per process; p50 and p95 of every timed process are printed after each group.
//! `MEMORY_BENCH_DIR` keeps the store in that directory (and reuses it) for profiling a single hook afterwards.
//! `cargo bench -p memory-cli --bench hooks` (release).

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use memory_core::{Episode, EpisodeStore};
use memory_storage_turso::{DbConfig, TursoStore};
use serde_json::{Value, json};
use test_utils::Workload;

fn episodes() -> u64 {
    std::env::var("MEMORY_BENCH_EPISODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

async fn populate(db: &Path, n: u64) {
    let store = TursoStore::open(&DbConfig::local(db)).await.expect("open");
    let workload = Workload::new(7);
    for start in (0..n).step_by(10_000) {
        let batch: Vec<Episode> = (start..n.min(start + 10_000))
            .map(|i| workload.completed_episode(i, 5))
            .collect();
        store.import_episodes(&batch).await.expect("import");
    }
    EpisodeStore::close(&store).await.expect("close");
}

/// Runs one hook process with `event` on its standard input; returns its wall time.
fn hook(home: &Path, db: &Path, event: &Value) -> Duration {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_memory-cli"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("MEMORY_EMBEDDER", "lexical")
        .arg("--db")
        .arg(db)
        .arg("hook")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn memory-cli");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(event.to_string().as_bytes())
        .expect("write the event");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let elapsed = started.elapsed();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

const PROMPTS: &[&str] = &[
    "The settlement retry test is flaky on CI: it times out after 30s",
    "Add pagination to the invoices endpoint",
    "cargo build fails with mismatched types in the ledger module",
    "Why does the webhook handler deadlock under load?",
    "Refactor the currency conversion into its own crate",
];

fn bench(c: &mut Criterion) {
    let temp = tempfile::tempdir().expect("tempdir");
    let kept = std::env::var_os("MEMORY_BENCH_DIR").map(std::path::PathBuf::from);
    let home = kept.as_deref().unwrap_or(temp.path());
    let db = home.join("memory.db");
    let project = home.join("payments-service");
    std::fs::create_dir_all(&project).expect("project");
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"payments-service\"\n",
    )
    .expect("manifest");
    let n = episodes();
    if !db.exists() {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(populate(&db, n));
    }
    let event = |session: &str, name: &str, fields: Value| {
        let mut event = json!({
            "session_id": session,
            "transcript_path": project.join(format!("{session}.jsonl")),
            "cwd": project,
            "hook_event_name": name,
        });
        for (k, v) in fields.as_object().expect("fields") {
            event[k] = v.clone();
        }
        event
    };
    let prompt = |session: &str, i: usize| {
        let text = PROMPTS[i % PROMPTS.len()];
        event(session, "UserPromptSubmit", json!({"prompt": text}))
    };

    let mut group = c.benchmark_group(format!("hooks/{n}"));
    group.sample_size(50);
    let mut calls = 0usize;
    let mut samples = Vec::new();
    group.bench_function("post_tool_use", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if calls.is_multiple_of(100) {
                    hook(home, &db, &prompt("tools", calls / 100));
                }
                calls += 1;
                let call = event("tools", "PostToolUse", json!({
                    "tool_name": "Bash",
                    "tool_input": {"command": format!("cargo test settle::retry_{calls}")},
                    "tool_response": {"stdout": "running 1 test\ntest result: ok. 1 passed; 0 failed",
                                      "stderr": "", "interrupted": false},
                    "duration_ms": 812,
                }));
                let took = hook(home, &db, &call);
                samples.push(took);
                total += took;
            }
            total
        })
    });
    test_utils::report_latencies(
        &format!("hooks/{n}/post_tool_use"),
        std::mem::take(&mut samples),
    );

    let mut sessions = 0usize;
    let mut each_session =
        |name: &str, samples: &mut Vec<Duration>, b: &mut criterion::Bencher<'_>| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    sessions += 1;
                    let session = format!("session-{sessions}");
                    let event = match name {
                        "session_start" => {
                            event(&session, "SessionStart", json!({"source": "startup"}))
                        }
                        _ => prompt(&session, sessions),
                    };
                    let took = hook(home, &db, &event);
                    samples.push(took);
                    total += took;
                }
                total
            })
        };
    for name in ["user_prompt_submit", "session_start"] {
        group.bench_function(name, |b| each_session(name, &mut samples, b));
        test_utils::report_latencies(&format!("hooks/{n}/{name}"), std::mem::take(&mut samples));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
