//! API keys and the audit log on a real embedded database: what is stored, what is refused, what is counted.

use std::path::Path;

use memory_core::{Error, NewRecord, RecordKind, Records, Scope, Timestamp};
use memory_storage_turso::{
    DbConfig, TursoStore,
    access::{AuditEntry, AuditOutcome, AuditQuery, KeyInfo, KeyLimits, NewKey},
};
use sha2::{Digest as _, Sha256};

async fn open(path: &Path) -> TursoStore {
    TursoStore::open(&DbConfig::local(path))
        .await
        .expect("open")
}

fn scope(name: &str) -> Scope {
    Scope::new(name).expect("scope")
}

fn new_key(tenant: &str, name: &str) -> NewKey {
    NewKey {
        tenant: scope(tenant),
        name: name.into(),
        limits: KeyLimits::default(),
    }
}

/// Every value of every row of `table`, as text, read through a connection of its own.
async fn raw_values(path: &Path, table: &str) -> Vec<String> {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    let mut rows = conn
        .query(&format!("SELECT * FROM {table}"), ())
        .await
        .expect("select");
    let mut values = Vec::new();
    while let Some(row) = rows.next().await.expect("row") {
        for i in 0..row.column_count() {
            values.push(format!("{:?}", row.get_value(i).expect("value")));
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_listed_found_by_their_secret_and_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.db");
    let store = open(&path).await;
    let limits = KeyLimits {
        max_records: 10,
        max_daily_writes: 3,
    };
    let (alice, secret) = store
        .create_key(&NewKey {
            limits,
            ..new_key("user:alice", "alice's laptop")
        })
        .await
        .expect("create");
    let (payments, other_secret) = store
        .create_key(&new_key("project:payments", "ci"))
        .await
        .expect("create");
    assert_eq!(alice.tenant, scope("user:alice"));
    assert_eq!(alice.limits, limits);
    assert_eq!(payments.limits, KeyLimits::default());
    assert!(alice.revoked_at.is_none());
    assert!(alice.id < payments.id);
    assert_ne!(secret, other_secret);
    assert!(secret.starts_with("mk_") && secret.len() == 67, "{secret}");

    assert_eq!(
        store.api_keys().await.expect("list"),
        vec![alice.clone(), payments.clone()]
    );
    assert_eq!(
        store.key_for_secret(&secret).await.expect("lookup"),
        Some(alice.clone())
    );
    assert_eq!(
        store.key_for_secret(&other_secret).await.expect("lookup"),
        Some(payments.clone())
    );
    let mut altered = secret.clone();
    altered.replace_range(10..11, if &secret[10..11] == "0" { "1" } else { "0" });
    assert_eq!(store.key_for_secret(&altered).await.expect("lookup"), None);
    assert_eq!(store.key_for_secret("").await.expect("lookup"), None);

    // The file holds the secret's SHA-256, never the secret or its digits.
    let stored = raw_values(&path, "api_keys").await;
    let hash: String = Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(stored.iter().any(|v| v.contains(&hash)), "{stored:?}");
    let digits = &secret["mk_".len()..];
    for value in &stored {
        assert!(!value.contains(digits), "{value} holds the secret");
    }
    for file in ["m.db", "m.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(64).any(|w| w == digits.as_bytes()),
            "{file} holds the secret"
        );
    }

    let revoked = store.revoke_key(alice.id).await.expect("revoke");
    let at = revoked.revoked_at.expect("revoked");
    assert_eq!(
        revoked,
        KeyInfo {
            revoked_at: Some(at),
            ..alice.clone()
        },
        "revoking changes nothing else"
    );
    // Revoking again keeps the first time.
    let again = store.revoke_key(alice.id).await.expect("revoke again");
    assert_eq!(again.revoked_at, Some(at));
    // A revoked key is still found, so its holder can be told it was revoked.
    assert_eq!(
        store.key_for_secret(&secret).await.expect("lookup"),
        Some(again.clone())
    );
    assert_eq!(store.api_keys().await.expect("list"), vec![again, payments]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_and_bad_input_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("m.db")).await;
    match store.revoke_key(42).await {
        Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("API key", "42")),
        other => panic!("expected NotFound, got {other:?}"),
    }

    let zero_records = NewKey {
        limits: KeyLimits {
            max_records: 0,
            ..KeyLimits::default()
        },
        ..new_key("user:bob", "bob")
    };
    let zero_writes = NewKey {
        limits: KeyLimits {
            max_daily_writes: 0,
            ..KeyLimits::default()
        },
        ..new_key("user:bob", "bob")
    };
    let too_large = NewKey {
        limits: KeyLimits {
            max_records: u64::MAX,
            ..KeyLimits::default()
        },
        ..new_key("user:bob", "bob")
    };
    let cases = [
        (zero_records, "max_records"),
        (zero_writes, "max_daily_writes"),
        (too_large, "max_records"),
        (new_key("user:bob", ""), "name"),
        (new_key("user:bob", "   "), "name"),
        (new_key("user:bob", &"n".repeat(101)), "name"),
        (new_key("user:bob", "bob\nmallory"), "name"),
    ];
    for (key, expected) in cases {
        match store.create_key(&key).await {
            Err(Error::Validation { field, message }) => {
                assert_eq!(field, expected, "{message}")
            }
            other => panic!("{expected}: expected a validation error, got {other:?}"),
        }
    }
    assert_eq!(store.api_keys().await.expect("list"), Vec::new());
    // The longest name is accepted.
    store
        .create_key(&new_key("user:bob", &"n".repeat(100)))
        .await
        .expect("100 characters");

    // One bad entry refuses the whole batch.
    let good = entry(1, Some("user:bob"), AuditOutcome::Ok, true);
    let nameless = AuditEntry {
        tool: String::new(),
        ..good.clone()
    };
    match store.append_audit(&[good.clone(), nameless]).await {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "entries[1].tool"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    let everything = store
        .audit_log(&AuditQuery::default())
        .await
        .expect("audit");
    assert!(everything.is_empty(), "{everything:?}");
    match store
        .audit_log(&AuditQuery {
            limit: 0,
            ..AuditQuery::default()
        })
        .await
    {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "limit"),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// An audit entry at `second` seconds after the epoch.
fn entry(second: i64, tenant: Option<&str>, outcome: AuditOutcome, write: bool) -> AuditEntry {
    AuditEntry {
        at: Timestamp::from_micros(second * 1_000_000),
        key_id: tenant.map(|_| 1),
        tenant: tenant.map(scope),
        tool: if write {
            "store_memory"
        } else {
            "query_memory"
        }
        .into(),
        target: None,
        outcome,
        write,
        detail: match outcome {
            AuditOutcome::Ok => String::new(),
            AuditOutcome::Error => "invalid content: must not be empty".into(),
            AuditOutcome::Denied => "the daily write limit (3) is reached".into(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_read_newest_first_filtered_and_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("m.db")).await;
    let mut first = entry(10, Some("user:alice"), AuditOutcome::Ok, true);
    first.target = Some("0190f5c2-8a3b-7c4d-9e5f-0123456789ab".into());
    let entries = [
        first,
        entry(20, Some("project:payments"), AuditOutcome::Denied, true),
        entry(30, None, AuditOutcome::Ok, false),
        entry(40, Some("user:alice"), AuditOutcome::Error, true),
        // Two at the same time: the one appended later is the newer.
        entry(50, Some("user:alice"), AuditOutcome::Ok, false),
        entry(50, Some("user:alice"), AuditOutcome::Denied, false),
    ];
    store.append_audit(&entries[..2]).await.expect("append");
    store.append_audit(&entries[2..]).await.expect("append");
    store.append_audit(&[]).await.expect("nothing to append");

    let read = |query: AuditQuery| {
        let store = store.clone();
        async move { store.audit_log(&query).await.expect("audit") }
    };
    let newest_first: Vec<AuditEntry> = entries.iter().rev().cloned().collect();
    assert_eq!(read(AuditQuery::default()).await, newest_first);
    assert_eq!(
        read(AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        })
        .await,
        newest_first[..2]
    );
    let alice = read(AuditQuery {
        tenant: Some(scope("user:alice")),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(
        alice,
        vec![
            entries[5].clone(),
            entries[4].clone(),
            entries[3].clone(),
            entries[0].clone()
        ]
    );
    let since = read(AuditQuery {
        since: Some(Timestamp::from_micros(30_000_000)),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(since, newest_first[..4], "from the time given, inclusive");
    let denied = read(AuditQuery {
        outcome: Some(AuditOutcome::Denied),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(denied, vec![entries[5].clone(), entries[1].clone()]);
    let all_filters = read(AuditQuery {
        tenant: Some(scope("user:alice")),
        since: Some(Timestamp::from_micros(15_000_000)),
        outcome: Some(AuditOutcome::Error),
        limit: 10,
    })
    .await;
    assert_eq!(all_filters, vec![entries[3].clone()]);
    let nobody = read(AuditQuery {
        tenant: Some(scope("user:nobody")),
        ..AuditQuery::default()
    })
    .await;
    assert!(nobody.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_since_counts_the_tenants_successful_writes_from_then_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("m.db")).await;
    let alice = Some("user:alice");
    store
        .append_audit(&[
            entry(99, alice, AuditOutcome::Ok, true),
            entry(100, alice, AuditOutcome::Ok, true),
            entry(150, alice, AuditOutcome::Ok, true),
            entry(160, alice, AuditOutcome::Ok, false),
            entry(170, alice, AuditOutcome::Error, true),
            entry(180, alice, AuditOutcome::Denied, true),
            entry(190, Some("user:alice2"), AuditOutcome::Ok, true),
            entry(200, None, AuditOutcome::Ok, true),
        ])
        .await
        .expect("append");
    let since = |second: i64| Timestamp::from_micros(second * 1_000_000);
    let tenant = scope("user:alice");
    assert_eq!(
        store
            .writes_since(&tenant, since(100))
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        store.writes_since(&tenant, since(0)).await.expect("count"),
        3
    );
    assert_eq!(
        store
            .writes_since(&tenant, since(151))
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        store
            .writes_since(&scope("user:alice2"), since(0))
            .await
            .expect("count"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_count_counts_the_memories_of_one_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("m.db")).await;
    let records = Records::new(store.clone());
    for (name, n) in [("user:alice", 3), ("user:bob", 2)] {
        for i in 0..n {
            records
                .store(NewRecord::new(
                    scope(name),
                    RecordKind::Fact,
                    format!("{name} fact number {i}"),
                ))
                .await
                .expect("store");
        }
    }
    // A duplicate is not stored again, so it is not counted again.
    records
        .store(NewRecord::new(
            scope("user:alice"),
            RecordKind::Fact,
            "user:alice fact number 0",
        ))
        .await
        .expect("store");
    assert_eq!(
        store
            .record_count(&scope("user:alice"))
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        store.record_count(&scope("user:bob")).await.expect("count"),
        2
    );
    assert_eq!(
        store
            .record_count(&scope("user:carol"))
            .await
            .expect("count"),
        0
    );
}
