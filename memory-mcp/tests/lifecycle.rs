//! The tool list, a whole episode lifecycle, and storing and querying memories.

use serde_json::{Value, json};

use crate::support::{Scratch, ok, str_of};

const TOOLS: [&str; 18] = [
    "add_episode_step",
    "analyze_patterns",
    "complete_episode",
    "create_episode",
    "delete_episode",
    "delete_memory",
    "execute_code",
    "get_episode",
    "get_memory",
    "get_statistics",
    "health_check",
    "list_episodes",
    "query_memory",
    "recommend_patterns",
    "record_pattern_feedback",
    "search_memories",
    "search_patterns",
    "store_memory",
];

#[tokio::test]
async fn tools_are_listed_with_schemas_and_annotations() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let info = client.peer_info().expect("server info");
    let server = info.server_info.clone().expect("server info");
    assert_eq!(server.name, "memory-mcp");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or("")
            .contains("query_memory")
    );
    assert!(info.capabilities.resources.is_some() && info.capabilities.prompts.is_some());

    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, TOOLS);
    for tool in &tools {
        let name = tool.name.as_ref();
        let description = tool.description.as_deref().unwrap_or("");
        assert!(
            description.len() > 60,
            "{name} has a thin description: {description:?}"
        );
        assert!(tool.title.is_some(), "{name} has no title");
        let input = Value::Object((*tool.input_schema).clone());
        assert_eq!(input["type"], "object", "{name}");
        for (field, schema) in input["properties"].as_object().expect("properties") {
            assert!(
                schema["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}.{field} has no description"
            );
        }
        let output =
            Value::Object((*tool.output_schema.clone().expect("an output schema")).clone());
        assert_eq!(output["type"], "object", "{name}");
        let annotations = tool.annotations.clone().expect("annotations");
        let read_only = name.starts_with("get_")
            || name.starts_with("list_")
            || [
                "query_memory",
                "search_memories",
                "health_check",
                "analyze_patterns",
                "search_patterns",
                "recommend_patterns",
            ]
            .contains(&name);
        assert_eq!(annotations.read_only_hint, Some(read_only), "{name}");
        assert_eq!(annotations.open_world_hint, Some(false), "{name}");
        if !read_only {
            let destructive = name.starts_with("delete_");
            assert_eq!(annotations.destructive_hint, Some(destructive), "{name}");
            let idempotent = destructive || name == "store_memory";
            assert_eq!(annotations.idempotent_hint, Some(idempotent), "{name}");
        }
    }
    let create = tools
        .iter()
        .find(|t| t.name == "create_episode")
        .expect("create_episode");
    let input = Value::Object((*create.input_schema).clone());
    assert_eq!(input["required"], json!(["task_description", "domain"]));
    assert_eq!(input["additionalProperties"], json!(false));
}

#[tokio::test]
async fn an_episode_is_recorded_completed_found_and_deleted() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let created = ok(
        &client,
        "create_episode",
        json!({
            "task_description": "Fix the flaky settlement test",
            "domain": "payments-service",
            "task_type": "debugging",
            "language": "rust",
            "framework": "tokio",
            "complexity": "moderate",
            "tags": ["flaky-test"],
            "metadata": {"ticket": "PAY-812"}
        }),
    )
    .await;
    let id = str_of(&created, "episode_id").to_string();

    let steps = [
        json!({"episode_id": id, "tool": "cargo", "action": "test", "status": "error",
               "output": "settle_retries timed out", "latency_ms": 5400}),
        json!({"episode_id": id, "tool": "edit", "action": "src/settle.rs",
               "parameters": {"change": "tokio::time::pause"}}),
        json!({"episode_id": id, "tool": "cargo", "action": "test", "output": "42 passed", "tokens": 310}),
    ];
    for (n, step) in steps.into_iter().enumerate() {
        let added = ok(&client, "add_episode_step", step).await;
        assert_eq!(added, json!({"episode_id": id, "step_number": n + 1}));
    }

    let episode = ok(&client, "get_episode", json!({"episode_id": id})).await;
    assert_eq!(episode["status"], "in_progress");
    assert_eq!(episode["task_type"], "debugging");
    assert_eq!(episode["context"]["tags"], json!(["flaky-test"]));
    assert_eq!(episode["metadata"], json!({"ticket": "PAY-812"}));
    assert_eq!(episode["steps"].as_array().expect("steps").len(), 3);
    assert_eq!(episode["steps"][0]["status"], "error");
    assert_eq!(
        episode["steps"][1]["parameters"],
        json!({"change": "tokio::time::pause"})
    );
    assert_eq!(episode["steps"][2]["tokens"], 310);
    assert!(episode["outcome"].is_null() && episode["reward"].is_null());

    let done = ok(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "success", "verdict": "test is deterministic",
               "artifacts": ["src/settle.rs"]}),
    )
    .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["outcome"],
        json!({"kind": "success", "verdict": "test is deterministic",
                                       "artifacts": ["src/settle.rs"]})
    );
    let reward = done["reward"]["total"].as_f64().expect("reward");
    assert!(reward > 1.0 && reward <= 1.5, "{reward}");
    let successes = done["reflection"]["successes"]
        .as_array()
        .expect("successes");
    assert!(
        successes
            .iter()
            .any(|s| s.as_str().unwrap_or("").contains("Recovered")),
        "{successes:?}"
    );

    let listed = ok(
        &client,
        "list_episodes",
        json!({"status": "completed", "domain": "payments-service"}),
    )
    .await;
    assert_eq!(listed["episodes"][0]["episode_id"], id);
    assert_eq!(listed["episodes"][0]["step_count"], 3);
    assert_eq!(listed["episodes"][0]["outcome"], "success");
    assert!(listed.get("next_offset").is_none());
    let none = ok(&client, "list_episodes", json!({"status": "in_progress"})).await;
    assert_eq!(none["episodes"], json!([]));

    let query = json!({"query": "flaky settlement test", "context": {"domain": "payments-service", "language": "rust"}});
    let episode_hit = |found: &Value| {
        // The learner may already have patterns of this episode: they rank beside it, so look for the episode.
        found["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|h| h["type"] == "episode")
            .expect("the episode is found")
            .clone()
    };
    // Compact by default: what it is, how it went and why it ranked, and the id to fetch the rest.
    let found = ok(&client, "query_memory", query.clone()).await;
    let hit = episode_hit(&found);
    assert_eq!(hit["id"], id);
    assert_eq!(hit["outcome"], "success");
    assert!(hit["score"].is_number());
    assert!(
        str_of(&hit, "summary").starts_with("Fix the flaky settlement test"),
        "{hit}"
    );
    assert!(
        str_of(&hit, "why").contains("100% of the context shared"),
        "{hit}"
    );
    for full_only in ["episode", "components"] {
        assert!(hit.get(full_only).is_none(), "{hit}");
    }
    let mut full = query.clone();
    full["detail"] = json!("full");
    let hit = episode_hit(&ok(&client, "query_memory", full).await);
    assert_eq!(hit["episode"]["outcome"]["kind"], "success");
    assert_eq!(hit["episode"]["step_count"], 3);
    let score = &hit["components"];
    for component in [
        "total",
        "text",
        "semantic",
        "recency",
        "importance",
        "context",
        "outcome",
    ] {
        assert!(
            score[component].is_number(),
            "{component} missing from {score}"
        );
    }
    assert_eq!(score["context"], 1.0, "domain and language both match");
    assert!(found.get("context").is_none(), "no budget, no block");

    let deleted = ok(&client, "delete_episode", json!({"episode_id": id})).await;
    assert_eq!(deleted, json!({"episode_id": id, "deleted": true}));
    let listed = ok(&client, "list_episodes", json!({})).await;
    assert_eq!(listed["episodes"], json!([]));
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn memories_are_stored_deduplicated_searched_queried_and_counted() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let scope = "project:payments";
    let contents = [
        (
            "decision",
            "Settlement tests run on tokio's paused clock; never sleep on the wall clock.",
        ),
        (
            "fact",
            "The settlement service retries a failed transfer three times with exponential backoff.",
        ),
        (
            "preference",
            "Alice wants every migration reviewed by the data team before it merges.",
        ),
    ];
    let mut ids = Vec::new();
    for (kind, content) in contents {
        let stored = ok(
            &client,
            "store_memory",
            json!({"scope": scope, "kind": kind, "content": content, "tags": ["payments"],
                   "importance": 0.8, "source": "review of PR 812"}),
        )
        .await;
        assert_eq!(stored["duplicate"], false);
        assert_eq!(stored["scope"], scope);
        ids.push(str_of(&stored, "memory_id").to_string());
    }
    let again = ok(
        &client,
        "store_memory",
        json!({"scope": scope, "content": contents[0].1}),
    )
    .await;
    assert_eq!(
        again,
        json!({"memory_id": ids[0], "scope": scope, "duplicate": true})
    );

    let memory = ok(
        &client,
        "get_memory",
        json!({"memory_id": ids[1], "scope": scope}),
    )
    .await;
    assert_eq!(memory["kind"], "fact");
    assert_eq!(memory["content"], contents[1].1);
    assert_eq!(memory["source"], "review of PR 812");
    assert_eq!(memory["importance"], 0.8);

    let found = ok(
        &client,
        "search_memories",
        json!({"scope": scope, "query": "why is the settlement test flaky? wall clock", "limit": 2}),
    )
    .await;
    let results = found["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["memory"]["memory_id"], ids[0]);
    assert!(results[0]["score"]["total"].as_f64() >= results[1]["score"]["total"].as_f64());
    let bm25 = ok(
        &client,
        "search_memories",
        json!({"scope": scope, "query": "migration reviewed", "ranking": "bm25", "kind": "preference"}),
    )
    .await;
    assert_eq!(bm25["results"][0]["memory"]["memory_id"], ids[2]);
    assert!(bm25["results"][0]["score"]["cosine"].is_null());

    // Structured recall: no query browses the newest; tags (any or all), a time range, importance and order.
    let newest = ok(
        &client,
        "search_memories",
        json!({"scope": scope, "limit": 10}),
    )
    .await;
    let browsed: Vec<&str> = newest["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| str_of(&r["memory"], "memory_id"))
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(browsed, expected, "newest first");
    let count = |value: &Value| value["results"].as_array().map_or(0, Vec::len);
    let tagged = json!({"scope": scope, "tags": ["payments", "nowhere"]});
    assert_eq!(
        count(&ok(&client, "search_memories", tagged).await),
        ids.len()
    );
    let every = json!({"scope": scope, "tags": ["payments", "nowhere"], "all_tags": true});
    assert_eq!(count(&ok(&client, "search_memories", every).await), 0);
    let important = json!({"scope": scope, "min_importance": 0.9});
    assert_eq!(count(&ok(&client, "search_memories", important).await), 0);
    let future = json!({"scope": scope, "since": "2999-01-01"});
    assert_eq!(count(&ok(&client, "search_memories", future).await), 0);
    let by_time = ok(
        &client,
        "query_memory",
        json!({"scope": scope, "include_episodes": false, "sort": "newest", "tags": ["payments"]}),
    )
    .await;
    assert_eq!(count(&by_time), ids.len(), "{by_time}");

    let budget = 150;
    let answer = ok(
        &client,
        "query_memory",
        json!({"scope": scope, "query": "settlement clock retries", "budget_tokens": budget}),
    )
    .await;
    assert_eq!(answer["results"][0]["type"], "memory");
    let block = &answer["context"];
    let tokens = block["tokens"].as_u64().expect("tokens");
    assert!(tokens > 0 && tokens <= budget, "{tokens}");
    assert_eq!(block["budget"], budget);
    let text = block["text"].as_str().expect("text");
    let first = block["included"][0].as_str().expect("an item fitted");
    assert!(text.contains(&format!("<memory id=\"{first}\"")), "{text}");
    let listed =
        block["included"].as_array().unwrap().len() + block["omitted"].as_array().unwrap().len();
    assert_eq!(listed, answer["results"].as_array().unwrap().len());

    let stats = ok(&client, "get_statistics", json!({"scope": scope})).await;
    assert_eq!(stats["total"], 3);
    assert_eq!(
        stats["by_kind"],
        json!({"decision": 1, "fact": 1, "preference": 1})
    );
    assert_eq!(stats["by_tag"], json!({"payments": 3}));
    let everywhere = ok(&client, "get_statistics", json!({})).await;
    assert!(everywhere["scope"].is_null());
    assert_eq!(everywhere["by_scope"], json!({scope: 3}));

    let deleted = ok(
        &client,
        "delete_memory",
        json!({"memory_id": ids[2], "scope": scope}),
    )
    .await;
    assert_eq!(
        deleted,
        json!({"memory_id": ids[2], "scope": scope, "deleted": true})
    );
    let stats = ok(&client, "get_statistics", json!({"scope": scope})).await;
    assert_eq!(stats["total"], 2);

    let health = ok(&client, "health_check", json!({})).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["database"],
        json!({"backend": "local", "reachable": true})
    );
    assert_eq!(health["embedder"]["id"], "lexical-v1-384");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn memory_tools_default_to_the_server_scope() {
    let scratch = Scratch::new();
    let mut cmd = scratch.command();
    cmd.env("MEMORY_SCOPE", "user:alice");
    let (client, _stderr) = scratch.connect_with(cmd).await;
    let stored = ok(
        &client,
        "store_memory",
        json!({"content": "Alice reviews on Fridays."}),
    )
    .await;
    assert_eq!(stored["scope"], "user:alice");
    let id = str_of(&stored, "memory_id");
    let memory = ok(&client, "get_memory", json!({"memory_id": id})).await;
    assert_eq!(memory["scope"], "user:alice");
    let found = ok(
        &client,
        "search_memories",
        json!({"query": "when does Alice review?"}),
    )
    .await;
    assert_eq!(found["results"][0]["memory"]["memory_id"], id);
    client.cancel().await.expect("close");
}
