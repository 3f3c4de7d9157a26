//! What a command keeps beside the database: the search index's snapshots (skipped with --no-cache), never the
//! server's redb cache, which it leaves alone while a server holds it.

use memory_storage_redb::RedbStore;

use crate::support::{Cli, succeeded};

fn cache_file(cli: &Cli) -> std::path::PathBuf {
    cli.path().join("m.cache.redb")
}

fn snapshots(cli: &Cli) -> std::path::PathBuf {
    cli.path().join("m.cache.snapshots")
}

/// Imports a session of 2,100 messages of project `p`: enough memories in one scope (`project:p`) that their
/// index is worth a snapshot.
fn fill(cli: &Cli) {
    let lines: String = (0..2_100)
        .map(|i| {
            let event = serde_json::json!({
                "content": format!("message {i}: the settlement retry timeout {}", i % 37),
                "timestamp": format!("2026-05-01T10:{:02}:{:02}Z", i / 60 % 60, i % 60),
                "session_id": "s1", "project": "p", "role": "user",
            });
            event.to_string() + "\n"
        })
        .collect();
    let file = cli.path().join("session.jsonl");
    std::fs::write(&file, lines).expect("write");
    succeeded(cli.run(&["import", "sessions", file.to_str().expect("utf-8")]));
}

#[test]
fn a_command_keeps_index_snapshots_and_no_cache_file() {
    let cli = Cli::new();
    let id = cli.start("t", "d", &[]);
    cli.json(&["episode", "log-step", &id, "--tool", "cargo"]);
    assert_eq!(
        cli.json(&["episode", "show", &id])["steps"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    fill(&cli);
    let search = [
        "memory",
        "search",
        "--scope",
        "project:p",
        "settlement retry 17",
    ];
    let first = succeeded(cli.run(&search));
    let saved: Vec<_> = std::fs::read_dir(snapshots(&cli))
        .expect("a snapshot directory")
        .collect();
    assert_eq!(saved.len(), 1, "the scope's index was saved");
    assert_eq!(
        succeeded(cli.run(&search)),
        first,
        "and searches alike once loaded"
    );
    assert!(
        !cache_file(&cli).exists(),
        "a command opened the server's cache"
    );
}

#[test]
fn no_cache_keeps_nothing_beside_the_database() {
    let cli = Cli::new();
    let start = cli.run(&[
        "--no-cache",
        "--format",
        "json",
        "episode",
        "start",
        "--task",
        "t",
        "--domain",
        "d",
    ]);
    let id = crate::support::id_of(&crate::support::parse_json(&succeeded(start)));
    let shown = succeeded(cli.run(&["--no-cache", "episode", "show", &id]));
    assert!(shown.contains(&id));
    succeeded(cli.run(&["--no-cache", "memory", "search", "anything"]));
    assert!(!cache_file(&cli).exists(), "--no-cache created a cache");
    assert!(!snapshots(&cli).exists(), "--no-cache saved snapshots");
}

#[test]
fn a_cache_held_by_a_server_costs_a_command_nothing() {
    let cli = Cli::new();
    let id = cli.start("t", "d", &[]);
    // This process holds the cache file, as a long-running memory-mcp would.
    let held = RedbStore::open_cache(cache_file(&cli), 100).expect("open the cache");
    let shown = succeeded(cli.run(&["episode", "show", &id]));
    assert!(shown.contains(&id), "and not a word on stderr");
    succeeded(cli.run(&["memory", "store", "written while a server runs"]));
    drop(held);
}
