//! Opening the store: a command that only reads never creates one, and processes started together on a new
//! path all succeed on one store.

use std::process::Output;

use crate::support::{Cli, failed, succeeded};

/// Every command that only reads, as a user would first try them.
const READS: &[&[&str]] = &[
    &["episode", "list"],
    &["episode", "show", "0190f5c2-8a3b-7c4d-9e5f-0123456789ab"],
    &["memory", "list"],
    &["memory", "search", "anything"],
    &["memory", "stats"],
    &["query", "anything"],
    &["pattern", "list"],
    &["heuristic", "list"],
    &["import", "runs"],
    &["keys", "list"],
    &["audit"],
    &["report", "activity"],
];

#[test]
fn a_read_on_a_missing_store_says_so_and_creates_nothing() {
    let cli = Cli::new();
    let db = cli.path().join("not/yet/there/memory.db");
    for args in READS {
        let mut all = vec!["--db", db.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        failed(cli.raw(&all), "no memory store at");
        assert!(
            !cli.path().join("not").exists(),
            "`{}` created a directory",
            args.join(" ")
        );
    }
    // A directory that exists with no store in it stays empty too.
    let dir = cli.path().join("empty");
    std::fs::create_dir(&dir).expect("mkdir");
    let db = dir.join("memory.db");
    failed(
        cli.raw(&["--db", db.to_str().expect("utf-8"), "episode", "list"]),
        "no memory store at",
    );
    assert_eq!(std::fs::read_dir(&dir).expect("read dir").count(), 0);
}

#[test]
fn writers_started_together_on_a_new_path_all_succeed() {
    let cli = Cli::new();
    for round in 0..6 {
        let db = cli.path().join(format!("new-{round}/memory.db"));
        let children: Vec<_> = (0..4)
            .map(|i| {
                cli.command()
                    .arg("--db")
                    .arg(&db)
                    .args(["memory", "store", &format!("note {i} of round {round}")])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        for out in outputs {
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "round {round}: {stderr}");
            // One process holds the cache; the others say they run without it, and nothing else.
            for line in stderr.lines() {
                assert!(line.contains("running without the cache"), "{line}");
            }
        }
        let stats = succeeded(cli.raw(&[
            "--db",
            db.to_str().expect("utf-8"),
            "--format",
            "json",
            "memory",
            "stats",
        ]));
        let stats: serde_json::Value = serde_json::from_str(&stats).expect("json");
        assert_eq!(stats["total"], 4, "round {round}: {stats}");
    }
}
