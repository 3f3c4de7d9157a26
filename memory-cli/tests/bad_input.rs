//! Bad input: a non-zero exit, one stderr line naming the problem, and a store left exactly as it was.

use crate::support::{Cli, failed};

/// A store with one completed and one in-progress episode, and a way to prove it has not changed.
struct Fixture {
    cli: Cli,
    completed: String,
    in_progress: String,
}

impl Fixture {
    fn new() -> Self {
        let cli = Cli::new();
        let completed = cli.start("Fix the flaky test", "payments", &["--tag", "ci"]);
        cli.json(&[
            "episode", "log-step", &completed, "--tool", "cargo", "--action", "test",
        ]);
        cli.json(&[
            "episode",
            "complete",
            &completed,
            "--outcome",
            "success",
            "--verdict",
            "fixed",
        ]);
        let in_progress = cli.start("Add retries", "webhooks", &[]);
        cli.json(&["episode", "log-step", &in_progress, "--tool", "read_file"]);
        Fixture {
            cli,
            completed,
            in_progress,
        }
    }

    fn state(&self) -> Vec<serde_json::Value> {
        vec![
            self.cli.listing(),
            self.cli.json(&["episode", "show", &self.completed]),
            self.cli.json(&["episode", "show", &self.in_progress]),
        ]
    }

    /// Runs `args`, checks it fails naming `needle`, and that the store is unchanged.
    fn rejects(&self, args: &[&str], needle: &str) {
        let before = self.state();
        failed(self.cli.run(args), needle);
        assert_eq!(self.state(), before, "{args:?} changed the store");
    }
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let fx = Fixture::new();
    let unknown = "01900000-0000-7000-8000-000000000000";
    let long_task = "x".repeat(10_241);

    fx.rejects(
        &["episode", "show", "not-a-uuid"],
        "invalid episode id \"not-a-uuid\"",
    );
    fx.rejects(
        &["episode", "log-step", "12345", "--tool", "cargo"],
        "invalid episode id",
    );
    fx.rejects(
        &["episode", "show", unknown],
        &format!("episode {unknown} not found"),
    );
    fx.rejects(&["episode", "delete", unknown], "not found");
    fx.rejects(
        &["episode", "log-step", unknown, "--tool", "cargo"],
        "not found",
    );
    fx.rejects(
        &[
            "episode",
            "complete",
            &fx.completed,
            "--outcome",
            "failure",
            "--reason",
            "again",
        ],
        "already completed",
    );
    fx.rejects(
        &["episode", "log-step", &fx.completed, "--tool", "cargo"],
        "already completed",
    );
    fx.rejects(
        &[
            "episode",
            "start",
            "--task",
            "t",
            "--domain",
            "d",
            "--tag",
            "two words",
        ],
        "tags[0]",
    );
    fx.rejects(
        &["episode", "start", "--task", &long_task, "--domain", "d"],
        "task_description",
    );
    fx.rejects(
        &[
            "episode",
            "start",
            "--task",
            "t",
            "--domain",
            "d",
            "--metadata",
            "[1]",
        ],
        "metadata",
    );
    fx.rejects(
        &[
            "episode",
            "log-step",
            &fx.in_progress,
            "--tool",
            "x",
            "--params",
            "{not json",
        ],
        "--params",
    );
    fx.rejects(
        &[
            "episode",
            "complete",
            &fx.in_progress,
            "--outcome",
            "success",
        ],
        "--verdict",
    );
    fx.rejects(
        &[
            "episode",
            "complete",
            &fx.in_progress,
            "--outcome",
            "abstained",
        ],
        "--reason",
    );
    fx.rejects(
        &[
            "episode",
            "complete",
            &fx.in_progress,
            "--outcome",
            "failure",
            "--reason",
            "r",
            "--done",
            "x",
        ],
        "--done does not apply",
    );
    fx.rejects(&["episode", "list", "--since", "last tuesday"], "--since");
    fx.rejects(&["episode", "list", "--until", "2026-13-01"], "--until");
    fx.rejects(&["episode", "list", "--limit", "0"], "limit");
    fx.rejects(&["episode", "list", "--limit", "1001"], "limit");
}

#[test]
fn a_text_file_is_not_taken_for_a_database() {
    let cli = Cli::new();
    let notes = cli.path().join("notes.txt");
    let content = b"shopping list\n- milk\n- a database that is not this file\n".repeat(200);
    std::fs::write(&notes, &content).expect("write notes");
    let path = notes.to_str().expect("utf-8 path");
    failed(
        cli.raw(&["--db", path, "episode", "list"]),
        "is not a memory database",
    );
    failed(
        cli.raw(&[
            "--db", path, "episode", "start", "--task", "t", "--domain", "d",
        ]),
        "is not a memory database",
    );
    assert_eq!(
        std::fs::read(&notes).expect("read notes"),
        content,
        "the file was modified"
    );
    let mut left: Vec<_> = std::fs::read_dir(cli.path())
        .expect("read dir")
        .map(|e| {
            e.expect("entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["cache", "data", "notes.txt", "tmp"],
        "nothing was created beside the file"
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let cli = Cli::new();
    let out = cli.run(&[
        "episode", "start", "--task", "t", "--domain", "d", "--type", "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("code_generation, debugging"),
        "lists the accepted values: {stderr}"
    );
    assert!(!cli.db.exists(), "a usage error opens no database");
}
