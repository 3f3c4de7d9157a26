//! The same commands against a real sqld over HTTP.

use test_utils::sqld::{Auth, Sqld};

use crate::support::{Cli, id_of, ids, parse_json, succeeded};

#[test]
fn commands_work_against_sqld() {
    let server = Sqld::start(Auth::None);
    let cli = Cli::new();
    let run = |args: &[&str]| {
        let mut all = vec!["--db-url", server.url.as_str(), "--format", "json"];
        all.extend_from_slice(args);
        parse_json(&succeeded(cli.raw(&all)))
    };
    let id = id_of(&run(&[
        "episode",
        "start",
        "--task",
        "remote task",
        "--domain",
        "d",
        "--tag",
        "remote",
    ]));
    let shown = run(&["episode", "show", &id]);
    assert_eq!(shown["task_description"], "remote task");
    assert_eq!(
        ids(&run(&["episode", "list", "--tag", "remote"])),
        [id.as_str()]
    );

    // A command keeps no cache of a remote database (a server keeps one in the user's cache directory).
    assert!(!cli.path().join("cache/memory").exists());
    assert!(!cli.db.exists(), "no local database was created");

    // Session logs go into the server too, once, and its reports are computed there.
    let sessions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sessions");
    let sessions = sessions.to_str().expect("utf-8");
    let imported = run(&["import", "sessions", sessions]);
    assert_eq!(imported["new_messages"], 18);
    assert_eq!(run(&["import", "sessions", sessions])["duplicates"], 18);
    let tools = run(&["report", "tools"]);
    assert_eq!(tools[0]["name"], "gateway");
    assert_eq!(tools[0]["uses"], 3);
    let session = run(&["report", "session", "shop-0506-b"]);
    assert_eq!(session.as_array().expect("messages").len(), 2);
}

#[test]
fn two_clients_on_one_server_see_each_others_memories() {
    let server = Sqld::start(Auth::None);
    // Two users' machines: separate data and cache directories, one shared database.
    let (alice, bob) = (Cli::new(), Cli::new());
    let run = |cli: &Cli, args: &[&str]| {
        let mut all = vec!["--db-url", server.url.as_str(), "--format", "json"];
        all.extend_from_slice(args);
        parse_json(&succeeded(cli.raw(&all)))
    };
    let stored = run(
        &alice,
        &[
            "memory",
            "store",
            "--scope",
            "team:payments",
            "Settlement retries use the paused tokio clock in tests",
        ],
    );
    for ranking in ["bm25", "vector", "hybrid"] {
        let hits = run(
            &bob,
            &[
                "memory",
                "search",
                "--scope",
                "team:payments",
                "--ranking",
                ranking,
                "paused clock settlement",
            ],
        );
        assert_eq!(
            hits[0]["record"]["id"], stored["id"],
            "{ranking}: bob finds alice's memory"
        );
    }
    let again = run(
        &bob,
        &[
            "memory",
            "store",
            "--scope",
            "team:payments",
            "Settlement retries use the paused tokio clock in tests",
        ],
    );
    assert_eq!(again["duplicate"], true, "dedup holds across clients");
}
