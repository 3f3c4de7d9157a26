//! The redb cache beside the database: used by default, skipped with --no-cache, optional when busy.

use memory_storage_redb::RedbStore;

use crate::support::{Cli, succeeded};

fn cache_file(cli: &Cli) -> std::path::PathBuf {
    cli.path().join("m.cache.redb")
}

#[test]
fn the_cache_is_created_beside_the_database() {
    let cli = Cli::new();
    let id = cli.start("t", "d", &[]);
    assert!(cache_file(&cli).exists(), "m.cache.redb was not created");
    // Served again (now possibly from the cache) after another process wrote.
    cli.json(&["episode", "log-step", &id, "--tool", "cargo"]);
    assert_eq!(
        cli.json(&["episode", "show", &id])["steps"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn no_cache_runs_on_the_database_alone() {
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
    assert!(!cache_file(&cli).exists(), "--no-cache created a cache");
}

#[test]
fn a_busy_cache_costs_one_warning() {
    let cli = Cli::new();
    let id = cli.start("t", "d", &[]);
    // This process holds the cache file, as a long-running memory-mcp would.
    let held = RedbStore::open_cache(cache_file(&cli), 100).expect("open the cache");
    let out = cli.run(&["episode", "show", &id]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("warning: running without the cache: "),
        "{stderr:?}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    drop(held);
}
