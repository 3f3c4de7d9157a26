//! The `memory` commands: dedup, scope isolation, updates, listing, statistics and bad input.

use std::io::Write as _;

use serde_json::Value;

use crate::support::{Cli, failed};

const NOTE: &str =
    "Settlement tests run on tokio's paused clock; never sleep on the wall clock in tests.";

fn scope_listing(cli: &Cli, scope: &str) -> Value {
    cli.json(&["memory", "list", "--scope", scope, "--limit", "1000"])
}

#[test]
fn memories_are_deduplicated_scoped_updated_and_counted() {
    let cli = Cli::new();
    let stored = cli.json(&[
        "memory",
        "store",
        "--scope",
        "project:payments",
        "--kind",
        "decision",
        "--tag",
        "async",
        "--importance",
        "0.8",
        "--source",
        "review of PR 812",
        "--metadata",
        r#"{"pr": 812}"#,
        NOTE,
    ]);
    assert_eq!(stored["duplicate"], false);
    let id = stored["id"].as_str().expect("id").to_string();

    let again = cli.json(&["memory", "store", "--scope", "project:payments", NOTE]);
    assert_eq!(again, serde_json::json!({ "id": id, "duplicate": true }));
    let elsewhere = cli.json(&["memory", "store", "--scope", "user:alice", NOTE]);
    assert_eq!(
        elsewhere["duplicate"], false,
        "another scope stores its own copy"
    );

    let record = cli.json(&["memory", "get", &id, "--scope", "project:payments"]);
    assert_eq!(record["content"], NOTE);
    assert_eq!(record["kind"], "decision");
    assert_eq!(record["tags"], serde_json::json!(["async"]));
    assert_eq!(record["metadata"], serde_json::json!({ "pr": 812 }));
    assert_eq!(record["source"], "review of PR 812");
    assert_eq!(record["content_hash"].as_str().map(str::len), Some(64));

    failed(
        cli.run(&["memory", "get", &id, "--scope", "user:bob"]),
        "not found",
    );

    let updated = cli.json(&[
        "memory",
        "update",
        &id,
        "--scope",
        "project:payments",
        "--tag",
        "testing",
        "--importance",
        "0.95",
    ]);
    assert_eq!(updated["tags"], serde_json::json!(["testing"]));
    assert_eq!(updated["importance"], 0.95);
    let tagged = cli.json(&[
        "memory",
        "list",
        "--scope",
        "project:payments",
        "--tag",
        "testing",
    ]);
    assert_eq!(tagged.as_array().map(Vec::len), Some(1));

    let stats = cli.json(&["memory", "stats"]);
    assert_eq!(stats["total"], 2);
    assert_eq!(
        stats["by_scope"],
        serde_json::json!({ "project:payments": 1, "user:alice": 1 })
    );
    let scoped = cli.json(&["memory", "stats", "--scope", "project:payments"]);
    assert_eq!(scoped["by_kind"], serde_json::json!({ "decision": 1 }));
    assert_eq!(scoped["content_bytes"], NOTE.len());

    let hits = cli.json(&[
        "memory",
        "search",
        "--ranking",
        "bm25",
        "--scope",
        "project:payments",
        "database migration rollback",
    ]);
    assert_eq!(
        hits.as_array().map(Vec::len),
        Some(0),
        "no word of the query is in the scope"
    );
    let hits = cli.json(&[
        "memory",
        "search",
        "--scope",
        "project:payments",
        "wall clock sleep",
    ]);
    assert_eq!(
        hits[0]["record"]["id"],
        id.as_str(),
        "search finds it by its words"
    );
    assert!(hits[0]["score"]["bm25"].is_number(), "{hits}");
    for ranking in ["vector", "hybrid"] {
        let hits = cli.json(&[
            "memory",
            "search",
            "--scope",
            "project:payments",
            "--ranking",
            ranking,
            "wall clock sleep",
        ]);
        assert_eq!(
            hits[0]["record"]["id"],
            id.as_str(),
            "{ranking} finds it too"
        );
        assert!(
            hits[0]["score"]["cosine"].is_number(),
            "{ranking} reports the cosine"
        );
    }
    let human = cli.text(&[
        "memory",
        "search",
        "--scope",
        "project:payments",
        "paused clock",
    ]);
    assert!(
        human.starts_with("  1.  ") && human.contains(&id),
        "{human}"
    );

    let human = cli.text(&["memory", "list", "--scope", "project:payments"]);
    assert!(human.contains(&id) && human.contains("decision"), "{human}");

    cli.json(&["memory", "delete", &id, "--scope", "project:payments"]);
    assert_eq!(
        scope_listing(&cli, "project:payments"),
        serde_json::json!([])
    );
    assert_eq!(
        scope_listing(&cli, "user:alice").as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn bad_memory_input_is_refused_and_changes_nothing() {
    let cli = Cli::new();
    let id = cli.json(&["memory", "store", "--scope", "s1", "--tag", "keep", NOTE])["id"]
        .as_str()
        .expect("id")
        .to_string();
    let before = (scope_listing(&cli, "s1"), cli.json(&["memory", "stats"]));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["memory", "store", "--scope", "bad scope", "x"],
            "invalid scope",
        ),
        (
            vec!["memory", "store", "--scope", "s1", "--importance", "3", "x"],
            "importance",
        ),
        (
            vec!["memory", "store", "--scope", "s1", "--tag", "no space", "x"],
            "tags[0]",
        ),
        (
            vec!["memory", "store", "--scope", "s1", "--metadata", "[1]", "x"],
            "metadata",
        ),
        (
            vec![
                "memory",
                "store",
                "--scope",
                "s1",
                "--metadata",
                "{nope",
                "x",
            ],
            "not JSON",
        ),
        (vec!["memory", "store", "--scope", "s1", "  "], "content"),
        (
            vec!["memory", "get", "not-an-id", "--scope", "s1"],
            "invalid memory id",
        ),
        (
            vec!["memory", "update", &id, "--scope", "s1"],
            "nothing to change",
        ),
        (
            vec!["memory", "update", &id, "--scope", "s1", "--importance=-1"],
            "importance",
        ),
        (vec!["memory", "delete", &id, "--scope", "s2"], "not found"),
        (
            vec!["memory", "list", "--scope", "s1", "--limit", "0"],
            "limit",
        ),
        (
            vec!["memory", "search", "--scope", "s1", "--min-importance", "2"],
            "invalid min_importance",
        ),
        (
            vec![
                "memory",
                "search",
                "--scope",
                "s1",
                "--since",
                "2026-12-09",
                "--until",
                "2026-12-01",
            ],
            "invalid since: must be before `until`",
        ),
        (
            vec!["memory", "search", "--scope", "s1", "x", "--limit", "101"],
            "limit",
        ),
    ];
    // Content over 1 MiB arrives on standard input (an argument that long is refused by the OS).
    let mut child = cli
        .command()
        .arg("--db")
        .arg(&cli.db)
        .args(["memory", "store", "--scope", "s1", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all("x".repeat(1024 * 1024 + 1).as_bytes())
        .expect("write");
    drop(stdin);
    failed(
        child.wait_with_output().expect("wait"),
        "invalid content: is 1048577 bytes; the limit is 1048576",
    );
    for (args, needle) in cases {
        failed(cli.run(&args), needle);
        assert_eq!(
            (scope_listing(&cli, "s1"), cli.json(&["memory", "stats"])),
            before,
            "{args:?} changed the store"
        );
    }
}

#[test]
fn query_prints_the_best_memories_within_the_budget() {
    let cli = Cli::new();
    for i in 0..12 {
        cli.json(&[
            "memory",
            "store",
            "--scope",
            "project:payments",
            &format!(
                "Settlement note {i}: retries sleep on the wall clock, so the settlement test is flaky; {}",
                (0..i * 10).map(|j| format!("word{i}x{j}")).collect::<Vec<_>>().join(" ")
            ),
        ]);
    }
    cli.json(&[
        "memory",
        "store",
        "--scope",
        "project:web",
        "settlement flaky elsewhere",
    ]);
    for budget in [30, 120, 400, 5000] {
        let ctx = cli.json(&[
            "query",
            "--scope",
            "project:payments",
            "--budget",
            &budget.to_string(),
            "why is the settlement test flaky",
        ]);
        let tokens = ctx["tokens"].as_u64().expect("tokens");
        assert!(
            tokens <= budget,
            "{tokens} tokens over a budget of {budget}"
        );
        let included = ctx["included"].as_array().expect("included").len();
        let omitted = ctx["omitted"].as_array().expect("omitted").len();
        assert_eq!(
            included + omitted,
            12,
            "only the scope's memories are considered"
        );
        assert_eq!(
            ctx["text"].as_str().map(|t| t.matches("<memory ").count()),
            Some(included)
        );
    }
    let text = cli.text(&[
        "query",
        "--scope",
        "project:payments",
        "--budget",
        "5000",
        "settlement flaky",
    ]);
    assert!(text.starts_with("<memory id=\""), "{text}");
    assert!(!text.contains("elsewhere"), "nothing crosses scopes");
    failed(
        cli.run(&["query", "--scope", "project:payments", "--budget", "0", "x"]),
        "invalid budget",
    );
    // No text browses: the newest memories of the scope, here in a tag.
    let newest = cli.json(&["query", "--scope", "project:payments", "--limit", "3"]);
    assert_eq!(
        newest["included"].as_array().map(Vec::len),
        Some(3),
        "{newest:#}"
    );
    failed(
        cli.run(&[
            "query",
            "--scope",
            "project:payments",
            "--since",
            "yesterday",
        ]),
        "invalid --since",
    );
}
