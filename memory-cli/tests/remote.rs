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

    // The remote database's cache lives in the user's cache directory, named after the URL.
    let caches: Vec<String> = std::fs::read_dir(cli.path().join("cache/memory"))
        .expect("cache dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(caches.len(), 1, "{caches:?}");
    assert!(
        caches[0].starts_with("remote-") && caches[0].ends_with(".redb") && caches[0].len() == 28,
        "{caches:?}"
    );
    assert!(!cli.db.exists(), "no local database was created");
}
