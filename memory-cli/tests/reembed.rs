//! A store embedded by one model, opened with another: a clear error, then `reembed` migrates it.

use test_utils::minilm_dir;

use crate::support::{Cli, failed, succeeded};

#[test]
fn another_embedder_is_refused_until_reembed_migrates_the_store() {
    let cli = Cli::new();
    let model = minilm_dir();
    let model = model.to_str().expect("utf-8 path");
    let with = |embedder: &str, args: &[&str]| {
        let mut cmd = cli.command();
        cmd.arg("--db")
            .arg(&cli.db)
            .env("MEMORY_EMBEDDER", embedder)
            .args(args);
        cmd.output().expect("run memory-cli")
    };
    let store = ["memory", "store", "--scope", "project:payments"];
    for note in [
        "The settlement test is flaky because retries sleep on the wall clock",
        "Deploys go out on Tuesdays after the standup",
    ] {
        succeeded(with("lexical", &[&store[..], &[note]].concat()));
    }
    let search = [
        "--format",
        "json",
        "memory",
        "search",
        "--scope",
        "project:payments",
        "why do the tests fail at random",
    ];
    failed(with(model, &search), "memory-cli reembed");
    failed(
        with(model, &[&store[..], &["not written"]].concat()),
        "memory-cli reembed",
    );

    let done: serde_json::Value =
        serde_json::from_str(&succeeded(with(model, &["--format", "json", "reembed"])))
            .expect("json");
    assert_eq!(done["model"]["id"], "bert:all-MiniLM-L6-v2:384");
    assert_eq!(done["texts"], 2);
    assert_eq!(done["embedded"], 2);
    let hits: serde_json::Value =
        serde_json::from_str(&succeeded(with(model, &search))).expect("json");
    let first = hits[0]["record"]["content"].as_str().expect("a hit");
    assert!(
        first.contains("flaky"),
        "the model finds the flaky test by meaning: {hits}"
    );
    failed(with("lexical", &search), "memory-cli reembed");
    let again: serde_json::Value =
        serde_json::from_str(&succeeded(with(model, &["--format", "json", "reembed"])))
            .expect("json");
    assert_eq!(again["embedded"], 0, "a rerun has nothing left to do");
}

#[test]
fn a_failed_embedding_writes_nothing() {
    let cli = Cli::new();
    let url = format!("http://127.0.0.1:{}", test_utils::sqld::free_port());
    let out = cli
        .command()
        .env("MEMORY_EMBEDDER", "http")
        .env("MEMORY_EMBED_URL", &url)
        .env("MEMORY_EMBED_MODEL", "tiny")
        .env("MEMORY_EMBED_DIMENSION", "3")
        .arg("--db")
        .arg(&cli.db)
        .args(["memory", "store", "--scope", "s", "never stored"])
        .output()
        .expect("run memory-cli");
    // Each retry is logged as a warning; the error is the last line.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: embedding service ") && last.contains(&url),
        "{stderr}"
    );
    let stats: serde_json::Value = serde_json::from_str(&succeeded(
        cli.command()
            .arg("--db")
            .arg(&cli.db)
            .args(["--format", "json", "memory", "stats"])
            .output()
            .expect("run memory-cli"),
    ))
    .expect("json");
    assert_eq!(stats["total"], 0, "the failed store left nothing: {stats}");
}

#[test]
fn a_store_of_512_bucket_lexical_vectors_is_searched_without_reembed() {
    use memory_core::{LexicalEmbedder, NewRecord, RecordKind, Records, Scope};
    use memory_storage_turso::{DbConfig, TursoStore};
    use std::sync::Arc;

    let cli = Cli::new();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = TursoStore::open(&DbConfig::local(&cli.db))
            .await
            .expect("open");
        let records = Records::new(store).with_embedder(Arc::new(LexicalEmbedder::new(512)));
        let scope = Scope::new("project:payments").expect("scope");
        let note = "The settlement test is flaky because retries sleep on the wall clock";
        records
            .store(NewRecord::new(scope, RecordKind::Note, note))
            .await
            .expect("store");
    });
    let run = |args: &[&str]| {
        let mut cmd = cli.command();
        cmd.arg("--db").arg(&cli.db).args(args);
        cmd.output().expect("run memory-cli")
    };
    let scoped = ["--scope", "project:payments"];
    // Embedding with the default 384 buckets would be refused as another model.
    succeeded(run(&[
        &["memory", "store"],
        &scoped[..],
        &["Deploys go out on Tuesdays"],
    ]
    .concat()));
    let hits: serde_json::Value = serde_json::from_str(&succeeded(run(&[
        &["--format", "json", "memory", "search"],
        &scoped[..],
        &["flaky settlement test"],
    ]
    .concat())))
    .expect("json");
    let first = hits[0]["record"]["content"].as_str().expect("a hit");
    assert!(first.contains("flaky"), "{hits}");
}
