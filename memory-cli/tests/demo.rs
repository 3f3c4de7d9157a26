//! `memory-cli demo`.

use crate::support::{Cli, parse_json, succeeded};

/// The rows of the table printed after the header line.
fn table_rows(text: &str) -> usize {
    text.lines()
        .skip_while(|l| !l.starts_with("ID "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .count()
}

#[test]
fn demo_uses_a_fresh_temporary_database() {
    let cli = Cli::new();
    let out = succeeded(cli.raw(&["demo"]));
    assert!(table_rows(&out) >= 5, "{out}");
    assert!(
        out.contains("#1 cargo test"),
        "shows the first episode:\n{out}"
    );
    assert!(out.contains("reflection"), "{out}");
    let tmp = cli.path().join("tmp");
    let dirs: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "one demo directory in TMPDIR");
    let db = dirs[0].join("memory.db");
    assert!(
        out.contains(&db.display().to_string()),
        "prints where it is:\n{out}"
    );
    // The directory is kept and can be inspected.
    let listing = succeeded(cli.raw(&[
        "--db",
        db.to_str().expect("utf-8"),
        "--format",
        "json",
        "episode",
        "list",
    ]));
    assert_eq!(parse_json(&listing).as_array().map(Vec::len), Some(6));
    // It never touched the default store.
    assert!(!cli.path().join("data/memory").exists());
}

#[test]
fn demo_writes_into_an_explicit_database() {
    let cli = Cli::new();
    let out = parse_json(&succeeded(cli.run(&["--format", "json", "demo"])));
    assert_eq!(out["database"], cli.db.display().to_string());
    assert_eq!(out["temporary"], false);
    assert_eq!(out["episodes"].as_array().map(Vec::len), Some(6));
    assert!(out["first"]["reward"]["total"].as_f64().is_some());
    let answer = out["answer"]["text"].as_str().expect("the query's block");
    let first_task = out["first"]["task_description"].as_str().expect("task");
    assert!(
        answer.starts_with("<episode ") && answer.contains(first_task),
        "the flaky-test episode answers the demo's question first: {answer}"
    );
    assert!(out["answer"]["tokens"].as_u64().expect("tokens") <= 600);
    assert_eq!(cli.listing().as_array().map(Vec::len), Some(6));
    assert_eq!(
        std::fs::read_dir(cli.path().join("tmp"))
            .expect("tmp")
            .count(),
        0
    );
}

#[test]
fn empty_database_variables_count_as_unset() {
    let cli = Cli::new();
    let out = cli
        .command()
        .args(["--format", "json", "demo"])
        .env("MEMORY_DB", "")
        .env("MEMORY_DB_URL", "")
        .env("MEMORY_DB_TOKEN", "")
        .output()
        .expect("run memory-cli");
    let out = parse_json(&succeeded(out));
    assert_eq!(out["temporary"], true);
    assert!(
        out["database"]
            .as_str()
            .is_some_and(|d| d.starts_with(&cli.path().join("tmp").display().to_string()))
    );
}
