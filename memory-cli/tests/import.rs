//! `import sessions | runs | store`, through the binary, on the fixtures in `fixtures/sessions`.

use std::{io::Write as _, path::PathBuf};

use flate2::{Compression, write::GzEncoder};
use serde_json::Value;

use crate::support::{Cli, failed, ids, succeeded};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sessions")
}

fn claude_log() -> PathBuf {
    fixtures().join("claude/-home-dev-payments/7f3c2a10-5b8e-4c1d-9a2f-0e6b8d4c1a77.jsonl")
}

fn import(cli: &Cli, paths: &[&std::path::Path]) -> Value {
    let mut args = vec!["import", "sessions"];
    args.extend(paths.iter().map(|p| p.to_str().expect("utf-8")));
    cli.json(&args)
}

#[test]
fn sessions_become_episodes_and_memories_once() {
    let cli = Cli::new();
    let run = import(&cli, &[&fixtures()]);
    assert_eq!(run["status"], "finished");
    assert_eq!(run["files"].as_array().expect("files").len(), 2);
    // 12 messages from the Claude Code log (text, tool calls, results; the summary line has none), 6 events.
    assert_eq!(
        (run["new_messages"].as_u64(), run["skipped"].as_u64()),
        (Some(18), Some(1))
    );
    assert_eq!(run["rejected"], 0);
    assert_eq!(run["sessions"], 3);
    let sha = &run["files"][0]["sha256"];
    assert_eq!(sha.as_str().expect("sha").len(), 64);

    // The session is an episode whose steps are its tool calls with their results.
    let listing = cli.listing();
    assert_eq!(ids(&listing).len(), 3);
    let payments = listing
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["context"]["domain"] == "payments")
        .expect("the payments session");
    let episode = cli.json(&["episode", "show", payments["id"].as_str().expect("id")]);
    assert!(
        episode["task_description"]
            .as_str()
            .expect("task")
            .starts_with("The settlement retry test in payments is flaky")
    );
    let steps = episode["steps"].as_array().expect("steps");
    let tools: Vec<&str> = steps
        .iter()
        .map(|s| s["tool"].as_str().expect("tool"))
        .collect();
    assert_eq!(tools, ["Bash", "Read", "Edit", "Bash"]);
    assert!(
        steps[0]["result"]["error"]["message"]
            .as_str()
            .expect("error")
            .contains("timed out")
    );
    assert_eq!(steps[0]["latency_ms"], 33425);

    // What was said is found by a query in the project's scope, with where it was read.
    let found = cli.json(&[
        "memory",
        "search",
        "why is the settlement test flaky",
        "--scope",
        "project:payments",
    ]);
    let first = &found.as_array().expect("hits")[0];
    let source = first["record"]["source"].as_str().expect("source");
    assert!(source.ends_with(".jsonl:2"), "{source}");

    // Importing again, or a compressed copy, adds nothing.
    let copy = cli.path().join("copy.jsonl.gz");
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&std::fs::read(claude_log()).expect("read"))
        .expect("gzip");
    std::fs::write(&copy, gz.finish().expect("gzip")).expect("write");
    let again = import(&cli, &[&fixtures(), &copy]);
    assert_eq!(
        (again["new_messages"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(30))
    );
    assert_eq!(
        (again["sessions"].as_u64(), again["records"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(ids(&cli.listing()).len(), 3);

    let runs = cli.json(&["import", "runs"]);
    assert_eq!(runs.as_array().expect("runs").len(), 2);
    assert_eq!(runs[0]["id"], again["id"]);
    assert!(succeeded(cli.run(&["import", "runs"])).contains("18 new, 0 duplicate"));
}

/// A Codex CLI rollout, as Codex writes it under `~/.codex/sessions/YYYY/MM/DD/`.
fn codex_rollout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/codex/2026/11/30/rollout-2026-11-30T09-12-04-0199d6a2-7c1e-7b40-9f3a-5e2d8c41b6a9.jsonl",
    )
}

#[test]
fn a_codex_rollout_becomes_an_episode_of_its_tool_calls() {
    let cli = Cli::new();
    let run = import(&cli, &[&codex_rollout()]);
    assert_eq!(run["rejected"], 0, "{run}");
    // The prompt, 4 calls with their 4 outputs, the answer; the environment, reasoning, the terminal's copies of
    // the messages, token counts and the turn's context carry none.
    assert_eq!(
        (run["new_messages"].as_u64(), run["skipped"].as_u64()),
        (Some(10), Some(9))
    );
    assert_eq!(run["sessions"], 1);

    let listing = cli.listing();
    let id = ids(&listing).pop().expect("the session's episode");
    let episode = cli.json(&["episode", "show", &id]);
    assert!(
        episode["task_description"]
            .as_str()
            .expect("task")
            .starts_with("The balance test in ledger fails with an overflow"),
        "{episode}"
    );
    assert_eq!(episode["context"]["domain"], "ledger");
    let steps = episode["steps"].as_array().expect("steps");
    let tools: Vec<&str> = steps
        .iter()
        .map(|s| s["tool"].as_str().expect("tool"))
        .collect();
    assert_eq!(tools, ["shell", "shell", "apply_patch", "shell"]);
    assert!(
        steps[0]["result"]["error"]["message"]
            .as_str()
            .expect("the failing run is an error")
            .contains("overflow"),
        "{}",
        steps[0]
    );
    assert!(steps[3]["result"]["error"].is_null(), "{}", steps[3]);

    // The same file again adds nothing.
    let again = import(&cli, &[&codex_rollout()]);
    assert_eq!(
        (again["new_messages"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(10))
    );
    assert_eq!(ids(&cli.listing()).len(), 1);
}

#[test]
fn bad_lines_and_broken_files_are_reported_and_lose_nothing() {
    let cli = Cli::new();
    import(&cli, &[&claude_log()]);
    let dir = cli.path().join("bad");
    std::fs::create_dir(&dir).expect("mkdir");
    let good = r#"{"content":"deploy finished","timestamp":"2026-05-07T10:00:00Z","session_id":"d1","project":"ops"}"#;
    let lines = [
        good,
        "{\"content\": \"cut off",
        "not json at all",
        r#"{"kind":"mystery"}"#,
        r#"{"content":"no time","session_id":"d1","project":"ops"}"#,
    ];
    std::fs::write(dir.join("mixed.jsonl"), lines.join("\n") + "\n").expect("write");
    // A gzip file cut in half: what decompresses before the cut is read.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&std::fs::read(claude_log()).expect("read"))
        .expect("gzip");
    let whole = gz.finish().expect("gzip");
    std::fs::write(dir.join("cut.jsonl.gz"), &whole[..whole.len() / 2]).expect("write");
    std::fs::write(dir.join("garbage.jsonl.gz"), b"this is not gzip").expect("write");

    let out = succeeded(cli.run(&["import", "sessions", dir.to_str().expect("utf-8")]));
    assert!(out.contains("mixed.jsonl:2: not JSON"), "{out}");
    assert!(out.contains("mixed.jsonl:3: not JSON"), "{out}");
    assert!(
        out.contains("mixed.jsonl:4: unknown event shape (keys: kind)"),
        "{out}"
    );
    assert!(
        out.contains("mixed.jsonl:5: `timestamp` is missing"),
        "{out}"
    );
    assert!(
        out.contains("garbage.jsonl.gz: unreadable after line 0"),
        "{out}"
    );
    assert!(out.contains("cut.jsonl.gz: unreadable after line"), "{out}");
    let run = &cli.json(&["import", "runs", "--limit", "1"])[0];
    assert_eq!(
        run["new_messages"], 1,
        "the good line; the cut file's lines were there already"
    );
    assert_eq!(run["rejected"], 4);
    // The first import's session is intact, and the good line became an episode.
    assert_eq!(ids(&cli.listing()).len(), 2);
}

#[test]
fn paths_are_checked_before_anything_is_written() {
    let cli = Cli::new();
    failed(
        cli.run(&["import", "sessions", "/no/such/dir"]),
        "cannot read /no/such/dir",
    );
    let notes = cli.path().join("notes.txt");
    std::fs::write(&notes, "hello").expect("write");
    failed(
        cli.run(&["import", "sessions", notes.to_str().expect("utf-8")]),
        "not a session log",
    );
    assert!(!cli.db.exists());
}

#[test]
fn an_export_moves_into_an_empty_store_only() {
    let cli = Cli::new();
    import(&cli, &[&fixtures()]);
    let export = cli.path().join("all.jsonl");
    succeeded(cli.run(&["export", export.to_str().expect("utf-8")]));
    let other = Cli::new();
    let loaded = other.json(&["import", "store", export.to_str().expect("utf-8")]);
    assert_eq!(
        loaded["content_digest"],
        cli.json(&[
            "export",
            cli.path().join("again.jsonl").to_str().expect("utf-8")
        ])["content_digest"]
    );
    assert_eq!(ids(&other.listing()), ids(&cli.listing()));
    assert_eq!(
        other.json(&["import", "runs"]),
        cli.json(&["import", "runs"])
    );
    failed(
        other.run(&["import", "store", export.to_str().expect("utf-8")]),
        "empty",
    );
}

#[test]
fn reports_show_activity_tools_errors_and_whole_sessions() {
    let cli = Cli::new();
    import(&cli, &[&fixtures()]);
    let activity = cli.json(&["report", "activity"]);
    assert_eq!(activity[0]["project"], "payments");
    assert_eq!(
        (
            activity[0]["sessions"].as_i64(),
            activity[0]["tool_calls"].as_i64()
        ),
        (Some(1), Some(4))
    );
    assert_eq!(
        (
            activity[1]["project"].as_str(),
            activity[1]["errors"].as_i64()
        ),
        (Some("shop"), Some(2))
    );
    // Filters: a time range and a project.
    // Importing again counts nothing twice.
    import(&cli, &[&fixtures()]);
    assert_eq!(cli.json(&["report", "activity"]), activity);
    // Reports count whole days: a time within a day covers that day.
    let later = cli.json(&[
        "report",
        "timeline",
        "--since",
        "2026-05-05T12:00:00Z",
        "--project",
        "shop",
    ]);
    let days: Vec<&str> = later
        .as_array()
        .expect("days")
        .iter()
        .map(|d| d["day"].as_str().expect("day"))
        .collect();
    assert_eq!(days, ["2026-05-05", "2026-05-06"]);

    let tools = succeeded(cli.run(&["--format", "csv", "report", "tools"]));
    assert!(
        tools.starts_with("name,kind,uses,errors,error_rate,sessions\r\n"),
        "{tools}"
    );
    assert!(tools.contains("Bash,tool,2,1,0.5,1\r\n"), "{tools}");
    assert!(
        tools.contains("gateway,component,3,1,0.3333,1\r\n"),
        "{tools}"
    );

    let errors = cli.json(&["report", "errors", "--samples", "1"]);
    let bash = &errors["samples"].as_array().expect("samples")[0];
    assert_eq!(bash["name"], "Bash");
    assert!(
        bash["source"]
            .as_str()
            .expect("source")
            .ends_with(".jsonl:4")
    );
    assert!(
        bash["message"]
            .as_str()
            .expect("message")
            .contains("timed out")
    );

    let session = cli.json(&["report", "session", "7f3c2a10-5b8e-4c1d-9a2f-0e6b8d4c1a77"]);
    let roles: Vec<&str> = session
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles.len(), 12);
    assert_eq!(
        &roles[..4],
        ["user", "assistant", "tool_use", "tool_result"]
    );
    failed(
        cli.run(&["report", "session", "nope"]),
        "no imported session \"nope\"",
    );
    failed(
        cli.run(&["report", "activity", "--since", "last week"]),
        "invalid --since",
    );
    failed(
        cli.run(&["--format", "csv", "episode", "list"]),
        "--format csv is for reports",
    );
}

/// Writes a generic log of `n` messages of one session.
fn generic_log(cli: &Cli, name: &str, session: &str, n: usize) -> PathBuf {
    let path = cli.path().join(name);
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            r#"{{"content":"step {i} of {session}","timestamp":"2026-05-07T10:{:02}:{:02}Z","session_id":"{session}","project":"big"}}"#,
            i / 60 % 60,
            i % 60
        ));
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write log");
    path
}

#[test]
fn new_messages_after_many_batches_of_old_ones_get_their_memories() {
    // Memories are made ahead, on the reading thread, while batches are mostly new; after a few batches of
    // messages stored before they are made by the writer, for the new messages only.
    let cli = Cli::new();
    let old = generic_log(&cli, "old.jsonl", "s-old", 6 * 4096);
    let first = import(&cli, &[&old]);
    assert_eq!(first["records"], 6 * 4096);
    let new = generic_log(&cli, "new.jsonl", "s-new", 10);
    let again = import(&cli, &[&old, &new]);
    assert_eq!(
        (again["new_messages"].as_u64(), again["duplicates"].as_u64()),
        (Some(10), Some(6 * 4096))
    );
    assert_eq!(again["records"], 10);
    let found = cli.json(&[
        "memory",
        "search",
        "step 7 of s-new",
        "--scope",
        "project:big",
    ]);
    let first_hit = found[0]["record"]["content"].as_str().expect("a hit");
    assert_eq!(first_hit, "step 7 of s-new");
}
