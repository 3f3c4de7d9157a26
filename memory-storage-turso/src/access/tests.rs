//! The access queries run over the indexes made for them, and secrets have their documented form.

use super::*;
use crate::DbConfig;

/// SQLite's plan for `sql`, one step per line.
async fn plan(store: &TursoStore, sql: &'static str) -> String {
    store
        .read(|db| async move {
            let mut rows = db
                .conn
                .query(&format!("EXPLAIN QUERY PLAN {sql}"), ())
                .await
                .db()?;
            let mut steps = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                steps.push(row.get::<String>(3).db()?);
            }
            Ok(steps.join("\n"))
        })
        .await
        .expect("plan")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_count_queries_search_their_indexes_without_sorting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = TursoStore::open(&DbConfig::local(dir.path().join("m.db")))
        .await
        .expect("open");
    for (sql, index) in [
        (AUDIT_ALL, "USING INDEX audit_log_by_at (at>?)"),
        (
            AUDIT_TENANT,
            "USING INDEX audit_log_by_tenant (tenant=? AND at>?)",
        ),
        (
            WRITES_SINCE,
            "USING INDEX audit_log_by_tenant (tenant=? AND at>?)",
        ),
        (RECORD_COUNT, "(scope=?)"),
    ] {
        let plan = plan(&store, sql).await;
        assert!(plan.starts_with("SEARCH"), "{sql}\n{plan}");
        assert!(plan.contains(index), "{sql}\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
    }
}

#[test]
fn a_secret_is_the_prefix_and_256_random_bits_in_hex() {
    let a = new_secret().expect("secret");
    let b = new_secret().expect("secret");
    assert_ne!(a, b);
    let digits = a.strip_prefix(SECRET_PREFIX).expect("prefix");
    assert_eq!(digits.len(), 64);
    assert!(
        digits
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // The stored hash is of the whole secret, and never the secret itself.
    assert_eq!(secret_hash(&a).len(), 64);
    assert_ne!(secret_hash(&a), digits);
    // SHA-256 of "abc", from FIPS 180-2.
    assert_eq!(
        secret_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn outcomes_parse_from_their_names_only() {
    for outcome in AuditOutcome::ALL {
        assert_eq!(
            outcome.as_str().parse::<AuditOutcome>().expect("parse"),
            outcome
        );
    }
    let err = "OK".parse::<AuditOutcome>().expect_err("case");
    assert!(err.to_string().contains("ok, error or denied"), "{err}");
}
