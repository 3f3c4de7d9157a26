//! The human format of `list` and `show`.

use crate::support::Cli;

#[test]
fn list_and_show_read_well() {
    let cli = Cli::new();
    let id = cli.start(
        "Add retry with backoff to the webhook sender",
        "notifications",
        &["--type", "code_generation"],
    );
    for args in [
        [
            "--tool",
            "cargo",
            "--action",
            "build",
            "--status",
            "error",
            "--output",
            "error[E0277]: not Debug\nmore",
        ],
        [
            "--tool",
            "cargo",
            "--action",
            "test",
            "--status",
            "success",
            "--output",
            "test result: ok",
        ],
    ] {
        let mut all = vec!["episode", "log-step", &id, "--latency-ms", "1200"];
        all.extend(args);
        cli.text(&all);
    }
    let done = cli.text(&[
        "episode",
        "complete",
        &id,
        "--outcome",
        "partial",
        "--verdict",
        "half",
        "--done",
        "retry",
    ]);
    assert!(
        done.starts_with(&format!("completed episode {id}: partial_success\n")),
        "{done}"
    );
    assert!(
        done.contains("reward ") && done.contains("successes") && done.contains("insights"),
        "{done}"
    );
    let long_task = "Write property tests for the currency parser covering every locale we ship";
    let other = cli.start(long_task, "web", &[]);

    let list = cli.text(&["episode", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID", "STARTED", "TYPE", "DOMAIN", "STEPS", "OUTCOME", "REWARD", "TASK"
        ]
    );
    assert!(lines[1].starts_with(&other), "{list}");
    assert!(
        lines[1].contains(" other ")
            && lines[1].contains(" in_progress ")
            && lines[1].contains(" - ")
    );
    let task_cell = lines[1].split("  ").last().expect("task").trim();
    assert_eq!(
        task_cell.chars().count(),
        50,
        "task truncated to 50 characters: {task_cell:?}"
    );
    assert!(task_cell.ends_with('…'));
    let row = lines[2];
    assert!(row.starts_with(&id), "{list}");
    for cell in [
        "code_generation",
        "notifications",
        " 2 ",
        "partial_success",
        "Add retry with backoff",
    ] {
        assert!(row.contains(cell), "{cell:?} missing from {row:?}");
    }
    // The columns line up: every row's TASK starts where the header's does.
    let task_column = lines[0].find("TASK").expect("TASK column");
    assert!(lines[2][task_column..].starts_with("Add retry"), "{list}");

    let show = cli.text(&["episode", "show", &id]);
    for expected in [
        format!("episode    {id}"),
        "task       Add retry with backoff to the webhook sender".to_string(),
        "type       code_generation".to_string(),
        "context    domain notifications, complexity moderate".to_string(),
        "  #1 cargo build → error (1200 ms) error[E0277]: not Debug more".to_string(),
        "  #2 cargo test → success (1200 ms) test result: ok".to_string(),
        "outcome    partial_success: half".to_string(),
        "done       retry".to_string(),
        "reflection".to_string(),
    ] {
        assert!(
            show.contains(&expected),
            "{expected:?} missing from:\n{show}"
        );
    }
    assert!(
        show.lines()
            .any(|l| l.starts_with("reward     ") && l.contains("× efficiency")),
        "{show}"
    );

    assert_eq!(
        cli.text(&["episode", "delete", &other]),
        format!("deleted episode {other}\n")
    );
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let cli = Cli::new();
    for i in 0..30 {
        cli.start(&format!("task number {i}"), "d", &[]);
    }
    let mut child = cli
        .command()
        .arg("--db")
        .arg(&cli.db)
        .args(["episode", "list", "--limit", "1000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn memory-cli");
    // Close the reading end before the listing is written (`memory-cli episode list | head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
