//! `memory-cli demo`: records a handful of realistic coding-agent episodes, lists them, shows the first, and asks
//! a question of what it recorded.
//!
//! It opens the store, writes through the [`Memory`] façade and renders with the same code the `episode`
//! commands use. Unless a database is named explicitly it works in a fresh temporary directory, which it keeps
//! so the result can be inspected with `--db`.

use anyhow::Context as _;
use memory_core::{
    Complexity, EpisodeId, EpisodeQuery, ExecutionStep, Json, Memory, NewEpisode, Records, Scope,
    Search, StepResult, TaskContext, TaskOutcome, TaskType,
};
use memory_storage_turso::DbConfig;
use serde::Serialize;
use serde_json::{Value, json};

use memory_cli::open;

use crate::{
    GlobalArgs,
    episode::Reply,
    output::{self, Format},
};

/// Runs the demo and prints its result.
pub async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    let store = &global.store;
    let (config, temporary) = if store.db().is_some() || store.db_url().is_some() {
        (open::db_config(store)?, false)
    } else {
        let dir = std::env::temp_dir().join(format!("memory-demo-{}", EpisodeId::new()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        (DbConfig::local(dir.join("memory.db")), true)
    };
    let (memory, records) = open::open_both(&config, store, open::Intent::Write)
        .await
        .with_context(|| format!("demo database {}", config.label()))?;
    let text = record_and_render(
        &memory,
        &records,
        &config,
        temporary,
        global.plain_format()?,
    )
    .await;
    crate::finish(&memory, text).await
}

#[derive(Serialize)]
struct DemoJson<'a> {
    database: String,
    temporary: bool,
    episodes: &'a [memory_core::EpisodeSummary],
    first: &'a memory_core::Episode,
    question: &'a str,
    answer: &'a memory_core::context::Context,
}

/// What the demo asks of the experience it recorded.
const QUESTION: &str = "how did we fix the flaky async test in the payments service?";

async fn record_and_render(
    memory: &Memory,
    records: &Records,
    config: &DbConfig,
    temporary: bool,
    format: Format,
) -> anyhow::Result<String> {
    let mut ids = Vec::new();
    for script in scripts() {
        ids.push(record(memory, script).await?);
    }
    let first = *ids.first().context("the demo has no episodes")?;
    let rows = memory.list_episodes(&EpisodeQuery::default()).await?;
    let episode = memory.get_episode(first).await?;
    let query = crate::query::Query::new(
        Search {
            episodes: true,
            limit: 3,
            ..Search::new(Scope::new("default")?, QUESTION)
        },
        600,
    );
    let answer = query.run(records).await?;
    if format == Format::Json {
        return output::json(&DemoJson {
            database: config.label(),
            temporary,
            episodes: &rows,
            first: &episode,
            question: QUESTION,
            answer: &answer,
        });
    }
    let mut text = format!(
        "recorded {} demo episodes in {}\n",
        ids.len(),
        config.label()
    );
    if temporary {
        text.push_str(&format!(
            "inspect them with: memory-cli --db {} episode list\n",
            config.label()
        ));
    }
    text.push('\n');
    text.push_str(&output::render(&Reply::Listed(rows), format)?);
    text.push('\n');
    text.push_str(&output::render(&Reply::Shown(episode), format)?);
    text.push_str(&format!(
        "\nquery \"{QUESTION}\" (the best 3, at most 600 tokens):\n\n"
    ));
    text.push_str(&answer.text);
    Ok(text)
}

/// One scripted episode: how it starts, the steps the agent takes, and how it ends (`None`: still running).
struct Script {
    new: NewEpisode,
    steps: Vec<ExecutionStep>,
    outcome: Option<TaskOutcome>,
}

async fn record(memory: &Memory, script: Script) -> anyhow::Result<EpisodeId> {
    let id = memory.start_episode(script.new).await?;
    for step in script.steps {
        memory.log_step(id, step).await?;
    }
    if let Some(outcome) = script.outcome {
        memory.complete_episode(id, outcome).await?;
    }
    Ok(id)
}

fn new_episode(
    task: &str,
    task_type: TaskType,
    (domain, language, framework): (&str, &str, &str),
    complexity: Complexity,
    tags: &[&str],
    metadata: Value,
) -> NewEpisode {
    let context = TaskContext {
        domain: domain.into(),
        language: Some(language.into()),
        framework: Some(framework.into()),
        complexity,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    let mut new = NewEpisode::new(task, task_type, context);
    new.metadata = Json::new(&metadata);
    new
}

fn step(
    tool: &str,
    action: &str,
    params: Value,
    result: StepResult,
    latency_ms: u64,
    tokens: u64,
) -> ExecutionStep {
    let mut step = ExecutionStep::new(tool, action, result);
    step.parameters = Json::new(&params);
    step.latency_ms = latency_ms;
    step.tokens = Some(tokens);
    step
}

fn ok(text: &str) -> StepResult {
    StepResult::Success {
        output: text.into(),
    }
}

fn err(text: &str) -> StepResult {
    StepResult::Error {
        message: text.into(),
    }
}

fn timeout(text: &str) -> StepResult {
    StepResult::Timeout {
        message: text.into(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn scripts() -> Vec<Script> {
    vec![
        Script {
            new: new_episode(
                "Fix the flaky async test settle_retries_on_timeout in the payments service",
                TaskType::Debugging,
                ("payments-service", "rust", "tokio"),
                Complexity::Moderate,
                &["flaky-test", "async", "ci"],
                json!({"ticket": "PAY-412", "ci_failure_rate": "3 of 20 runs"}),
            ),
            steps: vec![
                step("cargo", "test -p payments settle_retries_on_timeout", json!({"runs": 5}),
                    err("test settle::tests::settle_retries_on_timeout ... FAILED\nassertion failed: elapsed < Duration::from_secs(5) (2 of 5 runs)"), 48_200, 900),
                step("grep", "tokio::time::sleep", json!({"path": "crates/payments/src"}),
                    ok("settle.rs:88, settle.rs:141 and retry.rs:22 sleep on the wall clock"), 40, 350),
                step("read_file", "crates/payments/src/settle.rs", json!({"lines": "70-150"}),
                    ok("settle() retries three times with a real 2 s sleep; the test measures wall-clock time"), 15, 2_100),
                step("edit", "crates/payments/src/settle.rs", json!({"change": "start_paused test runtime, advance the clock"}),
                    ok("#[tokio::test(start_paused = true)] and tokio::time::advance in the test"), 120, 1_400),
                step("cargo", "test -p payments settle_retries_on_timeout", json!({"runs": 50}),
                    ok("test result: ok. 1 passed; 0 failed (50 of 50 runs, 0.02 s each)"), 9_800, 300),
                step("cargo", "test -p payments", json!({}), ok("test result: ok. 214 passed; 0 failed; 0 ignored"), 61_500, 250),
            ],
            outcome: Some(TaskOutcome::Success {
                verdict: "The test runs on tokio's paused clock and passed 50 of 50 runs".into(),
                artifacts: strings(&["crates/payments/src/settle.rs", "commit 3f9c2ab"]),
            }),
        },
        Script {
            new: new_episode(
                "Add retry with exponential backoff to the webhook sender",
                TaskType::CodeGeneration,
                ("notifications-service", "rust", "reqwest"),
                Complexity::Moderate,
                &["webhooks", "reliability"],
                json!({"ticket": "NOTIF-88"}),
            ),
            steps: vec![
                step("read_file", "src/webhook/sender.rs", json!({}), ok("send() posts once and logs failures"), 12, 1_800),
                step("grep", "WebhookSender::send", json!({"path": "src"}), ok("4 call sites: dispatcher.rs, replay.rs, tests/webhook.rs (2)"), 35, 300),
                step("edit", "src/webhook/retry.rs", json!({"max_attempts": 5, "base_ms": 250, "cap_ms": 8000}),
                    ok("RetryPolicy with jittered exponential backoff"), 210, 2_600),
                step("cargo", "build", json!({}), err("error[E0277]: `RetryPolicy` doesn't implement `Debug`"), 14_300, 400),
                step("edit", "src/webhook/retry.rs", json!({"change": "derive Debug"}), ok("added #[derive(Debug, Clone)]"), 30, 200),
                step("cargo", "test webhook", json!({}), ok("test result: ok. 37 passed; 0 failed"), 22_900, 300),
                step("cargo", "clippy -- -D warnings", json!({}), ok("no warnings"), 18_400, 150),
            ],
            outcome: Some(TaskOutcome::Success {
                verdict: "Webhook delivery retries 5 times with jittered backoff from 250 ms to 8 s".into(),
                artifacts: strings(&["src/webhook/retry.rs", "src/webhook/sender.rs"]),
            }),
        },
        Script {
            new: new_episode(
                "Migrate the orders table from integer ids to UUIDs",
                TaskType::Other,
                ("orders-db", "rust", "sqlx"),
                Complexity::Complex,
                &["db", "migration"],
                json!({"ticket": "ORD-301"}),
            ),
            steps: vec![
                step("read_file", "migrations/", json!({}), ok("42 migrations; orders.id is BIGSERIAL, referenced by 4 tables"), 20, 1_200),
                step("edit", "migrations/0043_orders_uuid.sql", json!({}), ok("add uuid column, backfill, swap primary key"), 340, 3_100),
                step("sqlx", "migrate run", json!({"database": "staging"}),
                    err("error: cannot drop constraint orders_pkey because other objects depend on it (payments_order_id_fkey)"), 2_900, 500),
                step("edit", "migrations/0043_orders_uuid.sql", json!({}), ok("drop and recreate the 4 foreign keys around the swap"), 410, 2_400),
                step("sqlx", "migrate run", json!({"database": "staging"}),
                    timeout("lock on table orders not acquired after 30 s: a reporting query holds it"), 30_000, 200),
            ],
            outcome: Some(TaskOutcome::Failure {
                reason: "The swap needs an exclusive lock on orders that reporting queries never release".into(),
                error_details: Some("lock timeout after 30 s on staging; needs a maintenance window".into()),
            }),
        },
        Script {
            new: new_episode(
                "Split the 900-line HTTP handler module into one module per resource",
                TaskType::Refactoring,
                ("web-api", "rust", "axum"),
                Complexity::Moderate,
                &["refactor", "tech-debt"],
                json!({}),
            ),
            steps: vec![
                step("read_file", "src/http/handlers.rs", json!({}), ok("912 lines: users, orders and admin handlers"), 18, 6_500),
                step("edit", "src/http/users.rs", json!({}), ok("moved 7 user handlers"), 260, 2_900),
                step("edit", "src/http/orders.rs", json!({}), ok("moved 9 order handlers"), 290, 3_300),
                step("cargo", "test", json!({}), ok("test result: ok. 128 passed; 0 failed"), 41_000, 300),
                step("edit", "src/http/admin.rs", json!({}), ok("moved 5 admin handlers"), 230, 2_200),
                step("cargo", "check", json!({}), err("error[E0603]: struct `SessionState` is private"), 9_700, 350),
            ],
            outcome: Some(TaskOutcome::PartialSuccess {
                verdict: "users and orders have their own modules; admin stays in handlers.rs".into(),
                completed: strings(&["src/http/users.rs", "src/http/orders.rs"]),
                failed: strings(&["admin handlers share private session state with the middleware"]),
            }),
        },
        Script {
            new: new_episode(
                "Rotate the Stripe API key in production and redeploy the payments service",
                TaskType::Other,
                ("payments-service", "yaml", "kubernetes"),
                Complexity::Simple,
                &["security", "production"],
                json!({"ticket": "SEC-19"}),
            ),
            steps: vec![
                step("read_file", "deploy/README.md", json!({}), ok("keys live in the payments-prod secret; rotation needs the on-call role"), 10, 900),
                step("kubectl", "get secret stripe -n payments-prod", json!({}),
                    err("Forbidden: User \"agent-ci\" cannot get resource \"secrets\" in namespace \"payments-prod\""), 640, 200),
            ],
            outcome: Some(TaskOutcome::Abstained {
                reason: "Needs production credentials and a human on call; wrote the rotation steps into the ticket".into(),
            }),
        },
        Script {
            new: new_episode(
                "Explain why p95 latency of /checkout doubled after Tuesday's deploy",
                TaskType::Analysis,
                ("checkout", "go", "net-http"),
                Complexity::Complex,
                &["perf", "latency"],
                json!({"dashboard": "checkout-latency"}),
            ),
            steps: vec![
                step("git", "log --since=tuesday -- services/checkout", json!({}), ok("3 commits: connection pool size, tracing, JSON encoder"), 80, 700),
                step("grep", "MaxIdleConns", json!({"path": "services/checkout"}), ok("client.go:41 MaxIdleConns: 2 (was 100)"), 30, 250),
                step("read_file", "services/checkout/client.go", json!({}), ok("the pool shrank in the tracing commit"), 14, 1_600),
            ],
            outcome: None,
        },
    ]
}
