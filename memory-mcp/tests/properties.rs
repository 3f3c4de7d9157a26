//! Every tool called with generated arguments (its own field names with values of any shape, and stray fields):
//! each call gets an answer, a result or a JSON-RPC error, and the server goes on serving. `PROPTEST_CASES` sets
//! the calls per tool (32 by default; `scripts/fuzz.sh` runs many more).

use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, TestRunner},
};
use rmcp::ServiceError;
use serde_json::json;
use test_utils::arbitrary;

use crate::support::{Scratch, call, ok};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_answers_arguments_of_any_shape() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    // Something to find, so searches and reads get past "nothing there".
    ok(
        &client,
        "store_memory",
        json!({"content": "the settlement retry uses a paused clock"}),
    )
    .await;
    let created = ok(
        &client,
        "create_episode",
        json!({"task_description": "fix the test", "domain": "payments"}),
    )
    .await;
    ok(
        &client,
        "add_episode_step",
        json!({"episode_id": created["episode_id"], "tool": "cargo", "action": "test"}),
    )
    .await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    for tool in tools {
        let fields: Vec<String> = tool
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let arguments = arbitrary::object_with(fields);
        // Programs run for real in the sandbox: fewer of them.
        let n = if tool.name == "execute_code" {
            cases().min(8)
        } else {
            cases()
        };
        for _ in 0..n {
            let value = arguments.new_tree(&mut runner).expect("a value").current();
            let shown = value.to_string();
            let shown = &shown[..shown.floor_char_boundary(300)];
            match call(&client, &tool.name, value).await {
                Ok(_) | Err(ServiceError::McpError(_)) => {}
                Err(other) => panic!("{}: {other} for {shown}", tool.name),
            }
        }
    }
    ok(&client, "health_check", json!({})).await;
    let listed = ok(&client, "list_episodes", json!({})).await;
    assert!(!listed["episodes"].as_array().expect("episodes").is_empty());
}
