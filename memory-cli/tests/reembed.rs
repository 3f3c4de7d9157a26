//! A store embedded by one model, opened with another: a clear error, then `reembed` migrates it.

use crate::{
    models::minilm_dir,
    support::{Cli, failed, succeeded},
};

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
