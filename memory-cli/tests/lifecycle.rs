//! A whole episode lifecycle in JSON: start, log steps, complete, show, list with every filter, delete.

use serde_json::json;

use crate::support::{Cli, failed, ids};

#[test]
fn lifecycle_in_json() {
    let cli = Cli::new();
    let started = cli.json(&[
        "episode",
        "start",
        "--task",
        "Fix the flaky settle test",
        "--domain",
        "payments",
        "--type",
        "debugging",
        "--language",
        "rust",
        "--framework",
        "tokio",
        "--complexity",
        "complex",
        "--tag",
        "flaky-test",
        "--tag",
        "ci",
        "--metadata",
        r#"{"ticket":"PAY-1"}"#,
    ]);
    let object = started.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["id"]);
    let id = started["id"].as_str().expect("id").to_string();

    let steps = [
        vec![
            "--tool",
            "cargo",
            "--action",
            "test",
            "--status",
            "error",
            "--output",
            "1 failed",
            "--latency-ms",
            "1500",
            "--tokens",
            "300",
        ],
        vec![
            "--tool",
            "edit",
            "--action",
            "src/settle.rs",
            "--params",
            r#"{"line":88}"#,
        ],
        vec![
            "--tool",
            "cargo",
            "--action",
            "test",
            "--status",
            "timeout",
            "--output",
            "ran out of time",
        ],
    ];
    for (i, step) in steps.iter().enumerate() {
        let mut args = vec!["episode", "log-step", &id];
        args.extend(step.iter().copied());
        assert_eq!(cli.json(&args), json!({"id": id, "step_number": i + 1}));
    }

    let done = cli.json(&[
        "episode",
        "complete",
        &id,
        "--outcome",
        "success",
        "--verdict",
        "uses the paused clock",
        "--artifact",
        "src/settle.rs",
    ]);
    assert_eq!(
        done["outcome"],
        json!({"success": {"verdict": "uses the paused clock", "artifacts": ["src/settle.rs"]}})
    );
    assert!(done["reward"]["total"].as_f64().expect("reward") > 0.0);
    for section in ["successes", "improvements", "insights"] {
        assert!(done["reflection"][section].is_array(), "{section}");
    }

    let shown = cli.json(&["episode", "show", &id]);
    assert_eq!(shown, done, "show returns what complete returned");
    assert_eq!(shown["task_description"], "Fix the flaky settle test");
    assert_eq!(shown["task_type"], "debugging");
    assert_eq!(
        shown["context"],
        json!({"domain": "payments", "language": "rust", "framework": "tokio", "complexity": "complex",
               "tags": ["flaky-test", "ci"]})
    );
    assert_eq!(shown["metadata"], json!({"ticket": "PAY-1"}));
    let step_list = shown["steps"].as_array().expect("steps");
    assert_eq!(step_list.len(), 3);
    assert_eq!(
        step_list[0]["result"],
        json!({"error": {"message": "1 failed"}})
    );
    assert_eq!(step_list[0]["latency_ms"], 1500);
    assert_eq!(step_list[0]["tokens"], 300);
    assert_eq!(step_list[1]["parameters"], json!({"line": 88}));
    assert_eq!(step_list[1]["result"], json!({"success": {"output": ""}}));
    assert_eq!(
        step_list[2]["result"],
        json!({"timeout": {"message": "ran out of time"}})
    );
    let start_time = shown["start_time"]
        .as_str()
        .expect("start time")
        .to_string();
    assert!(
        start_time.ends_with('Z') && start_time.contains('T'),
        "RFC 3339: {start_time}"
    );

    // A second, in-progress episode that differs in every filtered field.
    let other = cli.start(
        "Document the ledger",
        "ledger",
        &["--type", "documentation", "--tag", "docs"],
    );
    let other_start = cli.json(&["episode", "show", &other])["start_time"]
        .as_str()
        .expect("start")
        .to_string();

    let list = |args: &[&str]| {
        let mut all = vec!["episode", "list"];
        all.extend_from_slice(args);
        ids(&cli.json(&all))
    };
    assert_eq!(list(&[]), [other.as_str(), id.as_str()], "newest first");
    let listing = cli.json(&["episode", "list"]);
    assert_eq!(listing[1]["step_count"], 3);
    assert_eq!(listing[1]["outcome"], "success");
    assert_eq!(listing[0]["outcome"], json!(null));
    assert_eq!(listing[0]["reward"], json!(null));
    assert_eq!(list(&["--domain", "payments"]), [id.as_str()]);
    assert_eq!(list(&["--type", "documentation"]), [other.as_str()]);
    assert_eq!(list(&["--tag", "ci"]), [id.as_str()]);
    assert_eq!(list(&["--outcome", "success"]), [id.as_str()]);
    assert!(list(&["--outcome", "failure"]).is_empty());
    assert_eq!(list(&["--status", "completed"]), [id.as_str()]);
    assert_eq!(list(&["--status", "in-progress"]), [other.as_str()]);
    assert_eq!(list(&["--since", &other_start]), [other.as_str()]);
    assert_eq!(list(&["--until", &other_start]), [id.as_str()]);
    assert_eq!(
        list(&["--since", "2000-01-01", "--until", "2999-01-01"]).len(),
        2
    );
    assert!(list(&["--since", "2999-01-01"]).is_empty());
    assert_eq!(list(&["--limit", "1"]), [other.as_str()]);
    assert_eq!(list(&["--limit", "1", "--offset", "1"]), [id.as_str()]);

    assert_eq!(
        cli.json(&["episode", "delete", &id]),
        json!({"id": id, "deleted": true})
    );
    failed(cli.run(&["episode", "show", &id]), "not found");
    assert_eq!(list(&[]), [other.as_str()]);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let cli = Cli::new();
    let out = cli
        .command()
        .env("RUST_LOG", "info")
        .args(["--log-format", "json", "--db"])
        .arg(&cli.db)
        .args(["memory", "store", "a first note"])
        .output()
        .expect("run memory-cli");
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    // A new store applies its migrations, and says so.
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let migration = events
        .iter()
        .find(|e| e["fields"]["message"] == "applying migration")
        .unwrap_or_else(|| panic!("no migration event in {stderr}"));
    assert_eq!(migration["level"], "INFO");
    assert_eq!(migration["fields"]["version"], 1);
}
