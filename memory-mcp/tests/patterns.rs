//! The pattern tools end to end: episodes completed through the server are learnt in the background (and the
//! queue drained when it stops), then analysed, searched, recommended, fed back on and found by query_memory.

use serde_json::{Value, json};

use crate::support::{Client, Scratch, fails, ok, str_of};

/// Records a flaky-test fix through the tools: the test times out, an edit, the test passes.
async fn flaky_fix(client: &Client, n: u32) -> String {
    let created = ok(
        client,
        "create_episode",
        json!({"task_description": format!("Fix the flaky async test in module {n}"),
               "domain": "payments-service", "task_type": "debugging", "language": "rust",
               "framework": "tokio", "tags": ["flaky-test"]}),
    )
    .await;
    let id = str_of(&created, "episode_id").to_string();
    for step in [
        json!({"episode_id": id, "tool": "cargo", "action": "test", "status": "error",
               "output": format!("test m{n}_retries timed out after {n}00 ms")}),
        json!({"episode_id": id, "tool": "edit", "action": "src/settle.rs"}),
        json!({"episode_id": id, "tool": "cargo", "action": "test", "output": "1 passed"}),
    ] {
        ok(client, "add_episode_step", step).await;
    }
    ok(
        client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "success", "verdict": "deterministic now"}),
    )
    .await;
    id
}

fn first(results: &Value) -> &Value {
    &results["results"][0]
}

#[tokio::test]
async fn completed_episodes_become_patterns_that_are_recommended_and_scored() {
    let scratch = Scratch::new();
    let (client, stderr) = scratch.connect_with(scratch.command()).await;
    let mut episodes = Vec::new();
    for n in 1..=3 {
        episodes.push(flaky_fix(&client, n).await);
    }
    // Stopping the server drains the learner's queue before the store closes.
    client.cancel().await.expect("close");
    let logs = stderr.all().await;
    assert!(!logs.contains("jobs left queued"), "{logs}");

    let client = scratch.connect().await;
    let recommended = ok(
        &client,
        "recommend_patterns",
        json!({"task": "the async test is flaky and times out", "task_type": "debugging",
               "context": {"language": "rust", "tags": ["flaky-test"]}, "kind": "error_recovery"}),
    )
    .await;
    let top = first(&recommended);
    assert_eq!(top["pattern"]["kind"], "error_recovery");
    assert_eq!(top["pattern"]["support"], 3);
    assert_eq!(
        top["pattern"]["action"],
        "edit `settle.rs`, then `cargo test`"
    );
    assert!(
        str_of(&top["pattern"], "lesson").ends_with("then `cargo test` (3 of 3 went well)"),
        "{top}"
    );
    assert!(
        str_of(&top["heuristic"], "rule").starts_with("When `cargo test`"),
        "{top}"
    );
    assert_eq!(top["heuristic"]["successes"], 3);
    assert!(
        str_of(top, "why").contains("3 episodes: 3 went well"),
        "{top}"
    );
    let pattern_id = str_of(&top["pattern"], "pattern_id").to_string();

    let searched = ok(
        &client,
        "search_patterns",
        json!({"query": "timed out", "kind": "decision_point"}),
    )
    .await;
    assert_eq!(first(&searched)["pattern"]["kind"], "decision_point");

    let analysed = ok(
        &client,
        "analyze_patterns",
        json!({"episode_id": episodes[0]}),
    )
    .await;
    let kinds: Vec<&str> = analysed["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .map(|p| {
            assert_eq!(p["pattern"]["support"], 3, "{p}");
            p["kind"].as_str().expect("kind")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "tool_sequence",
            "decision_point",
            "error_recovery",
            "context_pattern",
            "strategy"
        ]
    );

    let fed = ok(
        &client,
        "record_pattern_feedback",
        json!({"pattern_ids": [pattern_id], "outcome": "failure"}),
    )
    .await;
    let after = &fed["patterns"][0];
    assert_eq!(
        (after["uses"].clone(), after["failures"].clone()),
        (json!(1), json!(1))
    );
    assert!(
        after["effectiveness"].as_f64() < top["pattern"]["effectiveness"].as_f64(),
        "{after}"
    );

    let queried = ok(
        &client,
        "query_memory",
        json!({"query": "flaky async test times out", "budget_tokens": 2000, "detail": "full"}),
    )
    .await;
    let patterns: Vec<&Value> = queried["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|h| h["type"] == "pattern")
        .collect();
    assert!(!patterns.is_empty(), "{queried:#}");
    assert!(
        patterns
            .iter()
            .any(|h| h["heuristic"]["confidence"].is_number())
    );
    assert!(
        str_of(&queried["context"], "text").contains("<pattern "),
        "{queried:#}"
    );
}

#[tokio::test]
async fn bad_pattern_calls_are_refused_and_record_nothing() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let created = ok(
        &client,
        "create_episode",
        json!({"task_description": "still going", "domain": "payments-service"}),
    )
    .await;
    let open = str_of(&created, "episode_id").to_string();
    fails(
        &client,
        "analyze_patterns",
        json!({"episode_id": open}),
        "is in progress",
    )
    .await;
    fails(
        &client,
        "analyze_patterns",
        json!({"episode_id": "nope"}),
        "invalid episode id",
    )
    .await;
    fails(
        &client,
        "recommend_patterns",
        json!({"task": " "}),
        "must not be empty",
    )
    .await;
    fails(
        &client,
        "search_patterns",
        json!({"query": "x", "limit": 0}),
        "invalid limit",
    )
    .await;
    fails(
        &client,
        "record_pattern_feedback",
        json!({"pattern_ids": ["0190f5c2-8a3b-7c4d-9e5f-0123456789ab", "nope"], "outcome": "success"}),
        "invalid pattern_ids[1]",
    )
    .await;
    fails(
        &client,
        "record_pattern_feedback",
        json!({"pattern_ids": ["0190f5c2-8a3b-7c4d-9e5f-0123456789ab"], "outcome": "success"}),
        "pattern 0190f5c2-8a3b-7c4d-9e5f-0123456789ab not found",
    )
    .await;
    fails(
        &client,
        "record_pattern_feedback",
        json!({"pattern_ids": [], "outcome": "abstained"}),
        "abstaining says nothing",
    )
    .await;
}
