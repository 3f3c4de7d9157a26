//! `keys create | list | revoke` and `audit`, through the binary.

use memory_core::{Scope, Timestamp};
use memory_storage_turso::{
    DbConfig, TursoStore,
    access::{AuditEntry, AuditOutcome},
};
use serde_json::Value;

use crate::support::{Cli, failed, succeeded};

/// The secret a human `keys create` printed.
fn secret_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("secret"))
        .expect("a secret line")
        .trim()
        .to_string()
}

#[test]
fn keys_are_created_listed_without_their_secrets_and_revoked() {
    let cli = Cli::new();
    let alice = cli.json(&["keys", "create", "--tenant", "user:alice"]);
    assert_eq!(alice["id"], 1);
    assert_eq!(
        alice["name"], "user:alice",
        "the name defaults to the tenant"
    );
    assert_eq!(alice["tenant"], "user:alice");
    assert_eq!(alice["limits"]["max_records"], 50_000);
    assert_eq!(alice["limits"]["max_daily_writes"], 1_000);
    assert!(alice["revoked_at"].is_null());
    let alice_secret = alice["secret"].as_str().expect("secret").to_string();
    assert!(
        alice_secret.starts_with("mk_") && alice_secret.len() == 67,
        "{alice_secret}"
    );

    let text = cli.text(&[
        "keys",
        "create",
        "--tenant",
        "project:payments",
        "--name",
        "payments CI",
        "--max-records",
        "10",
        "--max-daily-writes",
        "5",
    ]);
    assert!(text.starts_with("created key 2\n"), "{text}");
    assert!(text.contains("tenant     project:payments\n"), "{text}");
    assert!(
        text.contains("limits     10 records, 5 writes a day\n"),
        "{text}"
    );
    assert!(text.contains("shown only this once"), "{text}");
    assert!(text.contains("`Authorization: Bearer <key>`"), "{text}");
    let ci_secret = secret_of(&text);
    assert!(ci_secret.starts_with("mk_") && ci_secret != alice_secret);

    let listed = cli.json(&["keys", "list"]);
    let keys = listed.as_array().expect("an array");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1]["name"], "payments CI");
    assert_eq!(keys[1]["limits"]["max_records"], 10);
    for key in keys {
        assert!(key.get("secret").is_none(), "{key}");
    }
    let table = cli.text(&["keys", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  NAME"), "{table}");
    assert!(
        lines[2].contains("payments CI  project:payments  10"),
        "{table}"
    );
    assert!(
        lines[1].ends_with(" -") && lines[2].ends_with(" -"),
        "{table}"
    );
    // Neither secret is printed again, or written anywhere an export can read.
    let export = cli.text(&["export"]);
    assert!(export.contains("\"api_keys\""), "the export holds the keys");
    for shown in [&table, &listed.to_string(), &export] {
        assert!(!shown.contains(&alice_secret[3..]) && !shown.contains(&ci_secret[3..]));
    }

    let revoked = cli.json(&["keys", "revoke", "1"]);
    let at = revoked["revoked_at"].as_str().expect("revoked").to_string();
    assert_eq!(revoked["name"], "user:alice");
    let said = cli.text(&["keys", "revoke", "1"]);
    assert!(
        said.starts_with("key 1 (\"user:alice\", tenant user:alice) revoked at "),
        "{said}"
    );
    let listed = cli.json(&["keys", "list"]);
    assert_eq!(
        listed[0]["revoked_at"],
        at.as_str(),
        "the first revocation stands"
    );
    assert!(listed[1]["revoked_at"].is_null());
    let table = cli.text(&["keys", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        !lines[1].ends_with(" -") && lines[2].ends_with(" -"),
        "{table}"
    );
}

#[test]
fn bad_arguments_are_refused_before_the_store_is_touched() {
    let cli = Cli::new();
    let cases: [(&[&str], &str); 6] = [
        (&["keys", "create", "--tenant", "user alice"], "--tenant"),
        (
            &[
                "keys",
                "create",
                "--tenant",
                "user:bob",
                "--max-records",
                "0",
            ],
            "--max-records",
        ),
        (
            &[
                "keys",
                "create",
                "--tenant",
                "user:bob",
                "--max-daily-writes",
                "0",
            ],
            "--max-daily-writes",
        ),
        (
            &["keys", "create", "--tenant", "user:bob", "--name", " "],
            "--name",
        ),
        (&["audit", "--since", "yesterday"], "--since"),
        (&["audit", "--tenant", "a b"], "--tenant"),
    ];
    for (args, needle) in cases {
        failed(cli.run(args), needle);
        assert!(!cli.db.exists(), "{args:?} created the database");
    }
    // Values clap checks are usage errors (exit 2) that also touch nothing.
    for args in [
        &["audit", "--outcome", "bad"][..],
        &["audit", "--limit", "0"],
        &["keys", "revoke", "one"],
    ] {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!cli.db.exists(), "{args:?} created the database");
    }

    // An unknown key is named, and nothing changes.
    cli.json(&["keys", "create", "--tenant", "user:bob"]);
    let before = cli.json(&["keys", "list"]);
    failed(cli.run(&["keys", "revoke", "99"]), "API key 99 not found");
    assert_eq!(cli.json(&["keys", "list"]), before);
}

#[test]
fn an_empty_store_has_no_keys_and_no_audit_entries() {
    let cli = Cli::new();
    cli.start("a task", "payments", &[]);
    assert_eq!(cli.text(&["keys", "list"]), "no API keys\n");
    assert_eq!(cli.json(&["keys", "list"]), Value::Array(Vec::new()));
    assert_eq!(cli.text(&["audit"]), "no audit entries\n");
    let filtered = [
        "audit",
        "--tenant",
        "user:alice",
        "--since",
        "2026-01-01",
        "--outcome",
        "denied",
        "--limit",
        "5",
    ];
    assert_eq!(cli.json(&filtered), Value::Array(Vec::new()));
}

#[test]
fn the_audit_log_is_shown_newest_first_and_filtered() {
    let cli = Cli::new();
    let at = |text: &str| Timestamp::parse(text).expect("time");
    let entry =
        |time: &str, tenant: Option<&str>, outcome: AuditOutcome, detail: &str| AuditEntry {
            at: at(time),
            key_id: tenant.map(|_| 1),
            tenant: tenant.map(|t| Scope::new(t).expect("scope")),
            tool: "store_memory".into(),
            target: None,
            outcome,
            write: true,
            detail: detail.into(),
        };
    let mut first = entry(
        "2026-05-01T09:00:00Z",
        Some("user:alice"),
        AuditOutcome::Ok,
        "",
    );
    first.target = Some("0190f5c2-8a3b-7c4d-9e5f-0123456789ab".into());
    let mut read = entry("2026-05-02T09:00:00Z", None, AuditOutcome::Ok, "");
    read.tool = "query_memory".into();
    read.write = false;
    let entries = [
        first,
        read,
        entry(
            "2026-05-03T09:00:00Z",
            Some("user:alice"),
            AuditOutcome::Denied,
            "the daily write limit (1000)\nis reached",
        ),
    ];
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = TursoStore::open(&DbConfig::local(&cli.db))
            .await
            .expect("open");
        store.append_audit(&entries).await.expect("append");
    });

    let table = succeeded(cli.run(&["audit"]));
    assert_eq!(
        table,
        "AT (UTC)             TENANT      KEY  TOOL          TARGET                                OUTCOME  WRITE  DETAIL\n\
         2026-05-03 09:00:00  user:alice  1    store_memory  -                                     denied   yes    the daily write limit (1000) is reached\n\
         2026-05-02 09:00:00  -           -    query_memory  -                                     ok       no\n\
         2026-05-01 09:00:00  user:alice  1    store_memory  0190f5c2-8a3b-7c4d-9e5f-0123456789ab  ok       yes\n"
    );
    let all = cli.json(&["audit"]);
    assert_eq!(all.as_array().expect("an array").len(), 3);
    assert_eq!(all[0]["outcome"], "denied");
    assert_eq!(all[0]["detail"], "the daily write limit (1000)\nis reached");
    assert_eq!(all[2]["target"], "0190f5c2-8a3b-7c4d-9e5f-0123456789ab");
    assert_eq!(all[1]["tenant"], Value::Null);

    let times = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        let listed = cli.json(&all);
        listed
            .as_array()
            .expect("an array")
            .iter()
            .map(|e| e["at"].as_str().expect("at")[..10].to_string())
            .collect()
    };
    assert_eq!(
        times(&["--tenant", "user:alice"]),
        ["2026-05-03", "2026-05-01"]
    );
    assert_eq!(
        times(&["--since", "2026-05-02"]),
        ["2026-05-03", "2026-05-02"]
    );
    assert_eq!(times(&["--outcome", "ok"]), ["2026-05-02", "2026-05-01"]);
    assert_eq!(times(&["--limit", "1"]), ["2026-05-03"]);
    assert_eq!(
        times(&[
            "--tenant",
            "user:alice",
            "--outcome",
            "ok",
            "--since",
            "2026-05-01T10:00:00Z"
        ]),
        Vec::<String>::new()
    );
}
