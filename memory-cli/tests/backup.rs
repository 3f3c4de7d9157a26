//! `backup create | verify | restore` and `export`, through the binary.

use memory_storage_redb::RedbStore;

use crate::support::{Cli, failed, ids, succeeded};

#[test]
fn a_store_is_backed_up_verified_and_restored() {
    let cli = Cli::new();
    let kept = cli.start("fix the flaky payments test", "payments", &[]);
    let backup = cli.path().join("backup");
    let backup_arg = backup.to_str().expect("utf-8");
    let manifest = cli.json(&["backup", "create", backup_arg]);
    assert_eq!(manifest["format"], "memory-backup/1");
    let episodes = manifest["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == "episodes")
        .expect("episodes");
    assert_eq!(episodes["rows"], 1);
    assert!(succeeded(cli.run(&["backup", "verify", backup_arg])).contains("verified"));

    // Work after the backup: restoring brings the store back to the copy, and the cache follows.
    let later = cli.start("a later task", "payments", &[]);
    succeeded(cli.run(&["episode", "delete", &kept]));
    let refused = failed(cli.run(&["backup", "restore", backup_arg]), "--force");
    assert!(refused.contains("already there"), "{refused}");
    let restored = succeeded(cli.run(&["backup", "restore", backup_arg, "--force"]));
    assert!(restored.contains("replaced"), "{restored}");
    assert_eq!(ids(&cli.listing()), vec![kept.clone()]);
    assert!(!ids(&cli.listing()).contains(&later));

    // A damaged backup is refused and the store stays as it is.
    let database = backup.join("memory.db");
    let mut bytes = std::fs::read(&database).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&database, bytes).expect("write");
    failed(cli.run(&["backup", "verify", backup_arg]), "SHA-256");
    failed(
        cli.run(&["backup", "restore", backup_arg, "--force"]),
        "SHA-256",
    );
    assert_eq!(ids(&cli.listing()), vec![kept]);
}

#[test]
fn a_store_in_use_is_not_restored_over() {
    let cli = Cli::new();
    cli.start("a task", "web", &[]);
    let backup = cli.path().join("backup");
    let backup_arg = backup.to_str().expect("utf-8");
    succeeded(cli.run(&["backup", "create", backup_arg]));
    // Another process serving the store holds its cache.
    let held = RedbStore::open_cache(cli.path().join("m.cache.redb"), 10).expect("hold the cache");
    failed(
        cli.run(&["backup", "restore", backup_arg, "--force"]),
        "in use",
    );
    drop(held);
    succeeded(cli.run(&["backup", "restore", backup_arg, "--force"]));
}

#[test]
fn backups_need_a_new_directory_and_an_embedded_store() {
    let cli = Cli::new();
    cli.start("a task", "web", &[]);
    let full = cli.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("other"), "x").expect("write");
    failed(
        cli.run(&["backup", "create", full.to_str().expect("utf-8")]),
        "not empty",
    );
    failed(
        cli.run(&[
            "backup",
            "verify",
            cli.path().join("nothing").to_str().expect("utf-8"),
        ]),
        "manifest.json",
    );
    failed(
        cli.raw(&["--db-url", "http://127.0.0.1:9", "backup", "restore", "x"]),
        "import store",
    );
}

#[test]
fn an_export_is_one_json_line_per_row_ending_with_digests() {
    let cli = Cli::new();
    let id = cli.start("a task", "web", &["--tag", "one"]);
    let file = cli.path().join("store.jsonl");
    let file_arg = file.to_str().expect("utf-8");
    let said = succeeded(cli.run(&["export", file_arg]));
    assert!(said.contains("content"), "{said}");
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines[0]["format"], "memory-export/1");
    assert!(
        lines
            .iter()
            .any(|l| l["table"] == "episodes" && l["row"][0] == id.as_str())
    );
    assert!(lines.last().expect("end")["end"]["content_digest"].is_string());
    // An export never overwrites a file.
    failed(cli.run(&["export", file_arg]), "already exists");
    // To standard output.
    let piped = succeeded(cli.run(&["export"]));
    assert_eq!(piped.lines().count(), lines.len());
}
