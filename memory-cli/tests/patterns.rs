//! The `pattern` and `heuristic` commands: extraction of queued episodes, listing, showing, recommending,
//! feedback, decay and bad input.

use serde_json::Value;

use crate::support::{Cli, failed, succeeded};

/// Records a flaky-test fix: the test times out, an edit, the test passes.
fn flaky_fix(cli: &Cli, n: u32, outcome: &str) -> String {
    let id = cli.start(
        &format!("Fix the flaky async test in module {n}"),
        "payments",
        &[
            "--type",
            "debugging",
            "--language",
            "rust",
            "--framework",
            "tokio",
            "--tag",
            "flaky-test",
        ],
    );
    for step in [
        vec![
            "--tool", "cargo", "--action", "test", "--status", "error", "--output",
        ],
        vec!["--tool", "edit", "--action", "src/settle.rs"],
        vec!["--tool", "cargo", "--action", "test"],
    ] {
        let output = format!("test m{n}_retries timed out after {n}00 ms");
        let mut args = vec!["episode", "log-step", &id];
        args.extend(step.iter().copied());
        if args.last() == Some(&"--output") {
            args.push(&output);
        }
        cli.json(&args);
    }
    let mut complete = vec!["episode", "complete", &id, "--outcome", outcome];
    match outcome {
        "failure" => complete.extend(["--reason", "still flaky"]),
        _ => complete.extend(["--verdict", "deterministic now"]),
    }
    cli.json(&complete);
    id
}

fn recovery(cli: &Cli) -> Value {
    let listed = cli.json(&["pattern", "list", "--kind", "error_recovery"]);
    let rows = listed.as_array().expect("an array");
    assert_eq!(rows.len(), 1, "{listed:#}");
    rows[0].clone()
}

#[test]
fn episodes_are_queued_extracted_recommended_and_scored() {
    let cli = Cli::new();
    let episodes: Vec<String> = (1..=4).map(|n| flaky_fix(&cli, n, "success")).collect();

    // Completion queued them; reads say so until they are extracted.
    let out = cli.run(&["pattern", "list"]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        stderr.contains("4 completed episode(s) wait for extraction"),
        "{stderr}"
    );
    let extracted = cli.json(&["pattern", "extract"]);
    assert_eq!(extracted["episodes"], 4);
    assert_eq!(
        extracted["created"], 5,
        "one pattern per kind: {extracted:#}"
    );
    assert_eq!(cli.json(&["pattern", "extract"])["episodes"], 0);

    let pattern = recovery(&cli);
    let id = pattern["id"].as_str().expect("id").to_string();
    assert_eq!(pattern["support"], 4);
    assert_eq!(pattern["action"], "edit `settle.rs`, then `cargo test`");
    let evidence: Vec<&str> = pattern["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e["episode"].as_str().expect("episode"))
        .collect();
    for episode in &episodes {
        assert!(evidence.contains(&episode.as_str()));
    }

    let shown = cli.text(&["pattern", "show", &id]);
    assert!(shown.contains("support      4 episode(s)"), "{shown}");
    assert!(
        shown.contains("lesson       When `cargo test` fails"),
        "{shown}"
    );
    assert!(shown.contains("(4 of 4 went well)"), "{shown}");

    let found = cli.json(&[
        "pattern",
        "recommend",
        "the async test is flaky and times out",
        "--language",
        "rust",
        "--tag",
        "flaky-test",
        "--kind",
        "error_recovery",
    ]);
    assert_eq!(found[0]["pattern"]["id"], id.as_str());
    assert!(
        found[0]["why"]
            .as_str()
            .expect("why")
            .contains("4 episodes: 4 went well")
    );
    let human = cli.text(&["pattern", "recommend", "flaky async test", "--limit", "1"]);
    assert!(human.starts_with(" 1. "), "{human}");
    assert!(human.contains("why: fits the task"), "{human}");
    let searched = cli.json(&["pattern", "search", "timed out", "--kind", "decision_point"]);
    assert_eq!(searched.as_array().expect("array").len(), 1);

    // `query` finds patterns with the episodes and memories, and renders them with their heuristic.
    let block = cli.json(&["query", "flaky async test times out", "--budget", "4000"]);
    let text = block["text"].as_str().expect("text");
    assert!(text.contains("<pattern id="), "{text}");
    assert!(text.contains("Confidence: "), "{text}");

    let heuristics = cli.json(&["heuristic", "list", "--kind", "error_recovery"]);
    assert_eq!(heuristics[0]["pattern"], id.as_str());
    assert_eq!(heuristics[0]["successes"], 4);

    // Failures reported by agents lower the score; decay stores scores as of now.
    let before = pattern["effectiveness"]["score"].as_f64().expect("score");
    let updated = cli.json(&["pattern", "feedback", "--outcome", "failure", &id]);
    assert_eq!(updated[0]["effectiveness"]["uses"], 1);
    let after = recovery(&cli)["effectiveness"]["score"]
        .as_f64()
        .expect("score");
    assert!(after < before, "{after} < {before}");
    let decayed = cli.json(&["pattern", "decay"]);
    assert_eq!(decayed["patterns"], 5);
    let text = cli.text(&["pattern", "decay"]);
    assert!(text.contains("of 5 pattern score(s) brought to"), "{text}");

    // A new failure of the same kind joins the pattern.
    flaky_fix(&cli, 5, "failure");
    let extracted = cli.json(&["pattern", "extract"]);
    assert_eq!(extracted["merged"], 5, "{extracted:#}");
    let grown = recovery(&cli);
    assert_eq!(grown["support"], 5);
    assert_eq!(grown["effectiveness"]["failures"], 2);
}

#[test]
fn bad_pattern_requests_are_refused_and_change_nothing() {
    let cli = Cli::new();
    let done = flaky_fix(&cli, 1, "success");
    flaky_fix(&cli, 2, "success");
    cli.json(&["pattern", "extract"]);
    let before = cli.json(&["pattern", "list"]);
    failed(
        cli.run(&["pattern", "show", "nope"]),
        "invalid pattern id \"nope\"",
    );
    failed(
        cli.run(&["pattern", "show", "0190f5c2-8a3b-7c4d-9e5f-0123456789ab"]),
        "pattern 0190f5c2-8a3b-7c4d-9e5f-0123456789ab not found",
    );
    failed(cli.run(&["pattern", "recommend", " "]), "must not be empty");
    failed(
        cli.run(&["pattern", "list", "--limit", "0"]),
        "invalid limit",
    );
    failed(cli.run(&["pattern", "--eps", "5", "list"]), "invalid eps");
    failed(
        cli.run(&["pattern", "list", "--min-points", "1"]),
        "invalid min_points",
    );
    failed(
        cli.run(&["heuristic", "list", "--min-confidence", "2"]),
        "invalid min_confidence",
    );
    let id = before[0]["id"].as_str().expect("id");
    failed(
        cli.run(&["pattern", "feedback", "--outcome", "abstained", id]),
        "abstaining says nothing",
    );
    failed(
        cli.run(&[
            "pattern",
            "feedback",
            "--outcome",
            "success",
            id,
            "0190f5c2-8a3b-7c4d-9e5f-0123456789ab",
        ]),
        "not found",
    );
    let open = cli.start("still working", "payments", &[]);
    failed(
        cli.run(&["pattern", "extract", "--episode", &open]),
        "is in progress",
    );
    assert_eq!(cli.json(&["pattern", "list"]), before, "nothing changed");
    // Extracting one episode again is refused by the queue, not counted twice.
    let again = cli.json(&["pattern", "extract", "--episode", &done]);
    assert_eq!(
        (again["queued"].clone(), again["dropped"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(cli.json(&["pattern", "list"]), before);
    succeeded(cli.run(&["heuristic", "list"]));
}
