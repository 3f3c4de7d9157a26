//! Backups (copy, manifest, verify, restore) and whole-store export/import, on real files and a real sqld.

use std::{
    fs,
    io::{BufReader, Cursor},
    path::Path,
};

use memory_core::{EpisodeStore, Error, NewRecord, RecordKind, Records, Scope, Timestamp};
use memory_storage_turso::{
    DbConfig, SCHEMA_VERSION, TursoStore,
    access::{AuditEntry, AuditOutcome, AuditQuery, KeyLimits, NewKey},
    backup::{self, DATABASE, MANIFEST, Manifest},
};
use test_utils::{
    Workload,
    sqld::{Auth, Sqld},
};

/// A store with completed episodes, a deletion (a tombstone), memories with their vectors, an API key and two
/// audit entries.
async fn filled(path: &Path) -> TursoStore {
    let store = TursoStore::open(&DbConfig::local(path))
        .await
        .expect("open");
    let w = Workload::new(7);
    for i in 0..20 {
        store
            .insert_episode(&w.completed_episode(i, 3))
            .await
            .expect("insert");
    }
    store.delete_episode(w.id(3)).await.expect("delete");
    let records = Records::new(store.clone());
    let scope = Scope::new("project:backup").expect("scope");
    for i in 0..30 {
        let text = w.memory_text(i);
        records
            .store(NewRecord::new(scope.clone(), RecordKind::Note, text))
            .await
            .expect("store");
    }
    let (key, _) = store
        .create_key(&NewKey {
            tenant: scope.clone(),
            name: "backup".into(),
            limits: KeyLimits::default(),
        })
        .await
        .expect("key");
    let entry = AuditEntry {
        at: Timestamp::now(),
        key_id: Some(key.id),
        tenant: Some(scope),
        tool: "store_memory".into(),
        target: None,
        outcome: AuditOutcome::Ok,
        write: true,
        detail: String::new(),
    };
    store
        .append_audit(&[entry.clone(), entry])
        .await
        .expect("audit");
    store
}

fn rows(manifest: &Manifest, table: &str) -> u64 {
    manifest
        .tables
        .iter()
        .find(|t| t.name == table)
        .map_or(0, |t| t.rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_verified_and_restored_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(&dir.path().join("memory.db")).await;
    let copy = dir.path().join("backup");
    let manifest = store.backup(&copy).await.expect("backup");
    assert_eq!(manifest.schema_version, SCHEMA_VERSION);
    assert_eq!(rows(&manifest, "episodes"), 19);
    assert_eq!(rows(&manifest, "episode_tombstones"), 1);
    assert_eq!(rows(&manifest, "memory_records"), 30);
    assert!(rows(&manifest, "embeddings") > 0);
    // The server's keys and audit log are part of the store.
    assert_eq!(rows(&manifest, "api_keys"), 1);
    assert_eq!(rows(&manifest, "audit_log"), 2);
    assert!(
        manifest
            .tables
            .iter()
            .all(|t| t.name != "schema_migrations")
    );
    assert_eq!(backup::verify(&copy).await.expect("verify"), manifest);

    // The store keeps changing after the copy; the copy does not.
    store
        .delete_episode(Workload::new(7).id(4))
        .await
        .expect("delete");
    let target = dir.path().join("restored").join("memory.db");
    let restored = backup::restore(&copy, &target, false)
        .await
        .expect("restore");
    assert!(restored.replaced.is_none());
    let reopened = TursoStore::open(&DbConfig::local(&target))
        .await
        .expect("open restored");
    assert!(
        reopened
            .get_episode(Workload::new(7).id(4))
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        reopened
            .get_episode(Workload::new(7).id(3))
            .await
            .expect("get")
            .is_none()
    );
    // The restored database holds exactly what the manifest describes.
    let mut back = Vec::new();
    reopened.export(&mut back).await.expect("export restored");
    assert_eq!(summary_digest(&back), manifest.content_digest);
    let mut source = Vec::new();
    store.export(&mut source).await.expect("export source");
    assert_ne!(
        summary_digest(&source),
        manifest.content_digest,
        "the source changed after the backup"
    );
}

/// The content digest an export ends with.
fn summary_digest(export: &[u8]) -> String {
    let last = export
        .split(|b| *b == b'\n')
        .rfind(|l| !l.is_empty())
        .expect("lines");
    let end: serde_json::Value = serde_json::from_slice(last).expect("json");
    end["end"]["content_digest"]
        .as_str()
        .expect("digest")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(&dir.path().join("memory.db")).await;
    let copy = dir.path().join("backup");
    store.backup(&copy).await.expect("backup");
    let database = copy.join(DATABASE);
    let pristine = fs::read(&database).expect("read");
    let manifest_text = fs::read_to_string(copy.join(MANIFEST)).expect("manifest");

    // A backup goes only into a new or empty directory.
    let err = store.backup(&copy).await.expect_err("not empty");
    assert!(err.to_string().contains("not empty"), "{err}");

    let mut damaged = pristine.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    fs::write(&database, &damaged).expect("write");
    let err = backup::verify(&copy).await.expect_err("damaged");
    assert!(err.to_string().contains("SHA-256"), "{err}");

    fs::remove_file(&database).expect("remove");
    let err = backup::verify(&copy).await.expect_err("missing");
    assert!(err.to_string().contains(DATABASE), "{err}");
    fs::write(&database, &pristine).expect("write");

    // A manifest that lies about a table's rows is caught by recounting, even with the file's checksum intact.
    let mut manifest: Manifest = serde_json::from_str(&manifest_text).expect("parse");
    manifest.tables[0].rows += 1;
    fs::write(
        copy.join(MANIFEST),
        serde_json::to_string(&manifest).expect("json"),
    )
    .expect("write");
    let err = backup::verify(&copy).await.expect_err("lying manifest");
    assert!(err.to_string().contains("the manifest says"), "{err}");

    let mut manifest: Manifest = serde_json::from_str(&manifest_text).expect("parse");
    manifest.schema_version = SCHEMA_VERSION + 1;
    fs::write(
        copy.join(MANIFEST),
        serde_json::to_string(&manifest).expect("json"),
    )
    .expect("write");
    let err = backup::verify(&copy).await.expect_err("newer schema");
    assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");

    fs::write(copy.join(MANIFEST), "{ not json").expect("write");
    let err = backup::verify(&copy).await.expect_err("garbage");
    assert!(err.to_string().contains("not a backup manifest"), "{err}");

    // Nothing is restored from a damaged backup, and a restore onto a store needs --force.
    let target = dir.path().join("memory.db");
    let before = fs::read(&target).expect("read");
    let err = backup::restore(&copy, &target, true)
        .await
        .expect_err("damaged");
    assert!(err.to_string().contains("not a backup manifest"), "{err}");
    fs::write(copy.join(MANIFEST), &manifest_text).expect("write");
    let err = backup::restore(&copy, &target, false)
        .await
        .expect_err("exists");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(fs::read(&target).expect("read"), before);
    let restored = backup::restore(&copy, &target, true).await.expect("forced");
    let aside = restored.replaced.expect("the replaced store is kept");
    assert_eq!(fs::read(&aside).expect("read"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_moves_a_store_into_a_server_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(&dir.path().join("memory.db")).await;
    let (key, secret) = store
        .create_key(&NewKey {
            tenant: Scope::new("user:alice").expect("scope"),
            name: "alice".into(),
            limits: KeyLimits::default(),
        })
        .await
        .expect("key");
    let mut export = Vec::new();
    let exported = store.export(&mut export).await.expect("export");

    let server = Sqld::start(Auth::None);
    let remote = TursoStore::open(&DbConfig::remote(server.url.clone(), None))
        .await
        .expect("remote");
    let err = remote
        .backup(&dir.path().join("b"))
        .await
        .expect_err("server");
    assert!(err.to_string().contains("export"), "{err}");
    let imported = remote
        .import(&mut BufReader::new(Cursor::new(&export)), "export.jsonl")
        .await
        .expect("import");
    assert_eq!(imported.content_digest, exported.content_digest);
    let w = Workload::new(7);
    let episode = remote
        .get_episode(w.id(5))
        .await
        .expect("get")
        .expect("imported");
    assert_eq!(
        episode.value,
        store
            .get_episode(w.id(5))
            .await
            .expect("get")
            .expect("source")
            .value
    );
    // The keys move with the store: the secret given before the export opens the server's copy.
    assert_eq!(
        remote.key_for_secret(&secret).await.expect("lookup"),
        Some(key.clone())
    );
    assert_eq!(
        remote
            .audit_log(&AuditQuery::default())
            .await
            .expect("audit"),
        store
            .audit_log(&AuditQuery::default())
            .await
            .expect("audit")
    );

    // Back into a fresh file: the same content again.
    let mut again = Vec::new();
    remote.export(&mut again).await.expect("export remote");
    let local = TursoStore::open(&DbConfig::local(dir.path().join("copy.db")))
        .await
        .expect("open");
    let back = local
        .import(&mut BufReader::new(Cursor::new(&again)), "again.jsonl")
        .await
        .expect("import");
    assert_eq!(back.content_digest, exported.content_digest);
    // Keys are made and revoked on the server as on a file; revoking there changes its copy alone.
    let (made, made_secret) = remote
        .create_key(&NewKey {
            tenant: Scope::new("user:bob").expect("scope"),
            name: "bob".into(),
            limits: KeyLimits::default(),
        })
        .await
        .expect("key on the server");
    assert!(made.id > key.id);
    assert_eq!(
        remote.key_for_secret(&made_secret).await.expect("lookup"),
        Some(made)
    );
    let revoked = remote.revoke_key(key.id).await.expect("revoke");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        remote.key_for_secret(&secret).await.expect("lookup"),
        Some(revoked)
    );
    assert_eq!(
        local.key_for_secret(&secret).await.expect("lookup"),
        Some(key)
    );

    // A store that holds data is refused, and keeps what it holds.
    let err = local
        .import(&mut BufReader::new(Cursor::new(&export)), "export.jsonl")
        .await
        .expect_err("not empty");
    assert!(err.to_string().contains("empty store"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_export_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(&dir.path().join("memory.db")).await;
    let mut export = Vec::new();
    store.export(&mut export).await.expect("export");
    let text = String::from_utf8(export).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();

    let truncated = lines[..lines.len() - 1].join("\n");
    let edited = text.replacen("project:backup", "project:edited", 1);
    let not_json = format!("{}\nnot json\n{}", lines[0], lines[1..].join("\n"));
    let cases = [
        (truncated, "truncated"),
        (edited, "digests"),
        (not_json, ":2:"),
        ("".to_string(), "truncated"),
    ];
    for (input, expected) in cases {
        let target = TursoStore::open(&DbConfig::local(
            dir.path().join(format!("{}.db", uuid::Uuid::now_v7())),
        ))
        .await
        .expect("open");
        let err = target
            .import(
                &mut BufReader::new(Cursor::new(input.as_bytes())),
                "export.jsonl",
            )
            .await
            .expect_err("bad export");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
        let mut left = Vec::new();
        let summary = target.export(&mut left).await.expect("export");
        let rows: u64 = summary
            .tables
            .iter()
            .filter(|t| t.name != "store_meta")
            .map(|t| t.rows)
            .sum();
        assert_eq!(rows, 0, "{expected}: the failed import left rows behind");
    }
}
