//! Every way a call can be wrong gets a precise answer, loses nothing, and leaves the server serving.

use rmcp::model::ErrorCode;
use serde_json::json;

use crate::support::{Client, Scratch, call, fails, ok, protocol_error, str_of};

async fn episode(client: &Client) -> String {
    let created = ok(
        client,
        "create_episode",
        json!({"task_description": "t", "domain": "d"}),
    )
    .await;
    str_of(&created, "episode_id").to_string()
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error_naming_the_tools() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let error = protocol_error(call(&client, "forget_everything", json!({})).await);
    assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    assert!(
        error.message.contains("unknown tool \"forget_everything\""),
        "{}",
        error.message
    );
    assert!(error.message.contains("query_memory"), "{}", error.message);
    ok(&client, "health_check", json!({})).await;
}

#[tokio::test]
async fn invalid_arguments_name_the_field_and_what_was_expected() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let cases = [
        (
            "create_episode",
            json!({"domain": "d"}),
            "invalid arguments: missing field `task_description`",
        ),
        (
            "create_episode",
            json!({"task_description": "t", "domain": "d", "task": "x"}),
            "unknown field `task`, expected one of",
        ),
        (
            "create_episode",
            json!({"task_description": "t", "domain": "d", "task_type": "bugfix"}),
            "invalid argument `task_type`: unknown variant `bugfix`, expected one of `code_generation`",
        ),
        (
            "create_episode",
            json!({"task_description": "t", "domain": "d", "tags": ["ok", 7]}),
            "invalid argument `tags[1]`: invalid type: integer `7`, expected a string",
        ),
        (
            "create_episode",
            json!({"task_description": "t", "domain": "d", "metadata": [1]}),
            "invalid argument `metadata`: invalid type: sequence, expected a map",
        ),
        (
            "list_episodes",
            json!({"limit": "ten"}),
            "invalid argument `limit`: invalid type: string \"ten\", expected u32",
        ),
        (
            "list_episodes",
            json!({"limit": -1}),
            "invalid argument `limit`: invalid value: integer `-1`, expected u32",
        ),
        (
            "query_memory",
            json!({"query": "q", "context": {"tags": "x"}}),
            "invalid argument `context.tags`",
        ),
        (
            "add_episode_step",
            json!({"episode_id": "x", "tool": "t", "status": "ok"}),
            "invalid argument `status`: unknown variant `ok`",
        ),
    ];
    for (tool, arguments, needle) in cases {
        fails(&client, tool, arguments, needle).await;
    }
    let listed = ok(&client, "list_episodes", json!({})).await;
    assert_eq!(listed["episodes"], json!([]), "nothing was written");
}

#[tokio::test]
async fn domain_failures_are_tool_errors_with_actionable_messages() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let id = episode(&client).await;
    let missing = "0190f5c2-8a3b-7c4d-9e5f-0123456789ab";
    fails(
        &client,
        "get_episode",
        json!({"episode_id": "42"}),
        "invalid episode id \"42\": expected a UUID",
    )
    .await;
    fails(
        &client,
        "get_episode",
        json!({"episode_id": missing}),
        &format!("episode {missing} not found"),
    )
    .await;
    fails(
        &client,
        "delete_episode",
        json!({"episode_id": missing}),
        "not found",
    )
    .await;
    fails(
        &client,
        "add_episode_step",
        json!({"episode_id": missing, "tool": "cargo"}),
        "not found",
    )
    .await;
    fails(
        &client,
        "create_episode",
        json!({"task_description": " ", "domain": "d"}),
        "invalid task_description: must not be empty",
    )
    .await;
    fails(
        &client,
        "create_episode",
        json!({"task_description": "t", "domain": ""}),
        "invalid domain: must not be empty",
    )
    .await;
    fails(
        &client,
        "create_episode",
        json!({"task_description": "t", "domain": "d", "tags": ["no space"]}),
        "invalid tags[0]: \"no space\" contains ' '",
    )
    .await;
    fails(
        &client,
        "add_episode_step",
        json!({"episode_id": id, "tool": ""}),
        "invalid tool: must not be empty",
    )
    .await;
    let big = "x".repeat(64 * 1024 + 1);
    fails(
        &client,
        "add_episode_step",
        json!({"episode_id": id, "tool": "t", "output": big}),
        "invalid output: is 65537 bytes; the limit is 65536",
    )
    .await;
    fails(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "success", "reason": "why"}),
        "invalid reason: does not apply to outcome success; it is for failure and abstained",
    )
    .await;
    fails(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "partial_success"}),
        "invalid verdict: is required for outcome partial_success",
    )
    .await;
    fails(
        &client,
        "list_episodes",
        json!({"limit": 0}),
        "invalid limit: must be 1 to 1000, got 0",
    )
    .await;
    fails(
        &client,
        "list_episodes",
        json!({"since": "2026-11-23", "until": "2026-11-01"}),
        "invalid since: must be before `until`",
    )
    .await;
    fails(
        &client,
        "list_episodes",
        json!({"since": "yesterday"}),
        "invalid since: \"yesterday\" is not a time",
    )
    .await;

    // The failed calls changed nothing: the episode is still in progress, without steps, and can be completed once.
    let episode = ok(&client, "get_episode", json!({"episode_id": id})).await;
    assert_eq!(episode["status"], "in_progress");
    assert_eq!(episode["steps"], json!([]));
    ok(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "abstained", "reason": "needs a human"}),
    )
    .await;
    fails(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "failure", "reason": "r"}),
        "is already completed; start a new episode to record more work",
    )
    .await;
    fails(
        &client,
        "add_episode_step",
        json!({"episode_id": id, "tool": "cargo"}),
        "is already completed",
    )
    .await;

    let scope = "project:a";
    let stored = ok(
        &client,
        "store_memory",
        json!({"scope": scope, "content": "kept"}),
    )
    .await;
    let memory = str_of(&stored, "memory_id");
    fails(
        &client,
        "get_memory",
        json!({"memory_id": memory}),
        &format!("memory {memory} in scope default not found"),
    )
    .await;
    fails(
        &client,
        "get_memory",
        json!({"memory_id": memory, "scope": "project:b"}),
        "not found",
    )
    .await;
    fails(
        &client,
        "delete_memory",
        json!({"memory_id": memory, "scope": "project:b"}),
        "not found",
    )
    .await;
    fails(
        &client,
        "get_memory",
        json!({"memory_id": "nope"}),
        "invalid memory id \"nope\"",
    )
    .await;
    fails(
        &client,
        "store_memory",
        json!({"scope": "has space", "content": "c"}),
        "invalid scope: \"has space\" contains ' '",
    )
    .await;
    fails(
        &client,
        "store_memory",
        json!({"content": "  "}),
        "invalid content: must not be empty",
    )
    .await;
    let huge = "y".repeat(1024 * 1024 + 1);
    fails(
        &client,
        "store_memory",
        json!({"content": huge}),
        "invalid content: is 1048577 bytes; the limit is 1048576",
    )
    .await;
    fails(
        &client,
        "store_memory",
        json!({"content": "c", "importance": 2.0}),
        "invalid importance: must be from 0 to 1, got 2",
    )
    .await;
    fails(
        &client,
        "search_memories",
        json!({"query": "", "min_importance": 2.0}),
        "invalid min_importance: must be from 0 to 1, got 2",
    )
    .await;
    fails(
        &client,
        "search_memories",
        json!({"query": "q", "limit": 101}),
        "invalid limit: must be 1 to 100, got 101",
    )
    .await;
    fails(
        &client,
        "query_memory",
        json!({"query": "q", "budget_tokens": 0}),
        "invalid budget: must be 1 to 1000000 tokens, got 0",
    )
    .await;
    fails(
        &client,
        "get_statistics",
        json!({"scope": "a b"}),
        "invalid scope",
    )
    .await;

    // The memory is still there, in its scope.
    let read = ok(
        &client,
        "get_memory",
        json!({"memory_id": memory, "scope": scope}),
    )
    .await;
    assert_eq!(read["content"], "kept");
    let health = ok(&client, "health_check", json!({})).await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn huge_values_are_refused_in_short_messages_that_name_the_field() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let (mib, ten) = ("k".repeat(1 << 20), "x".repeat(10 << 20));
    let cases = [
        (
            "get_episode",
            json!({"episode_id": mib}),
            "invalid episode id",
        ),
        ("get_memory", json!({"memory_id": mib}), "invalid memory id"),
        ("list_episodes", json!({"since": ten}), "invalid since"),
        ("list_episodes", json!({"domain": ten}), "invalid domain"),
        (
            "list_episodes",
            json!({"domain": "pay\u{1}ments"}),
            "invalid domain: contains the control character",
        ),
        ("list_episodes", json!({"tags": [ten]}), "invalid tag:"),
        (
            "list_episodes",
            json!({"task_type": mib}),
            "invalid argument `task_type`: unknown variant",
        ),
        (
            "list_episodes",
            json!({"limit": mib}),
            "invalid argument `limit`",
        ),
        (
            "query_memory",
            json!({"query": "x", "domain": ten}),
            "invalid domain",
        ),
        (
            "query_memory",
            json!({"query": "x", "context": {"language": mib}}),
            "invalid language",
        ),
        ("search_patterns", json!({"query": ten}), "invalid query:"),
        ("recommend_patterns", json!({"task": ten}), "invalid task:"),
        (
            "store_memory",
            json!({"content": "x", "kind": mib}),
            "invalid argument `kind`",
        ),
        ("list_episodes", json!({ mib.clone(): 1 }), "unknown field"),
    ];
    for (tool, arguments, needle) in cases {
        let message = fails(&client, tool, arguments, needle).await;
        assert!(
            message.len() < 1_000,
            "{tool}: a {} byte message",
            message.len()
        );
    }
    ok(&client, "health_check", json!({})).await;
}
