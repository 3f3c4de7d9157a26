//! Databases that must be refused with a precise error, and left exactly as they were.

use memory_core::{EpisodeStore, Error};
use memory_storage_turso::{DbConfig, SCHEMA_VERSION, TursoStore};
use test_utils::{
    Workload,
    sqld::{Auth, Sqld, foreign_token, free_port, valid_token},
};

async fn open(path: &std::path::Path) -> Result<TursoStore, Error> {
    TursoStore::open(&DbConfig::local(path)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_file_is_not_a_database_and_is_not_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).expect("write");
    match open(&path).await {
        Err(Error::NotADatabase { path: p, .. }) => assert!(p.ends_with("notes.txt")),
        Err(other) => panic!("expected NotADatabase, got {other}"),
        Ok(_) => panic!("a text file opened as a database"),
    }
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_applications_database_is_refused_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    {
        let db = libsql::Builder::new_local(&path).build().await.expect("db");
        let conn = db.connect().expect("conn");
        conn.execute(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)",
            (),
        )
        .await
        .expect("create");
    }
    let before = std::fs::read(&path).expect("read");
    let err = open(&path).await.err().expect("refused");
    assert!(
        err.to_string()
            .contains("another application (tables: invoices)"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_data_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("memory.db");
    let episode = Workload::new(1).completed_episode(0, 3);
    {
        let store = open(&path).await.expect("open");
        store
            .import_episodes(std::slice::from_ref(&episode))
            .await
            .expect("import");
    }
    {
        let db = libsql::Builder::new_local(&path).build().await.expect("db");
        let conn = db.connect().expect("conn");
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, 'future', 'x', 0)",
            [SCHEMA_VERSION + 1],
        )
        .await
        .expect("insert");
    }
    match open(&path).await {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
    {
        let db = libsql::Builder::new_local(&path).build().await.expect("db");
        let conn = db.connect().expect("conn");
        conn.execute(
            "DELETE FROM schema_migrations WHERE version > ?1",
            [SCHEMA_VERSION],
        )
        .await
        .expect("delete");
    }
    let store = open(&path).await.expect("reopen");
    let read = store
        .get_episode(episode.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(read.value, episode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("memory.db");
    let first = open(&path).await.expect("open").inner_store_id().await;
    let second = open(&path).await.expect("reopen").inner_store_id().await;
    assert_eq!(
        first, second,
        "reopening keeps the store id and applies nothing twice"
    );
    {
        let db = libsql::Builder::new_local(&path).build().await.expect("db");
        let conn = db.connect().expect("conn");
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            (),
        )
        .await
        .expect("update");
    }
    match open(&path).await {
        Err(Error::MigrationMismatch { version: 1, .. }) => {}
        Err(other) => panic!("expected MigrationMismatch, got {other}"),
        Ok(_) => panic!("an edited migration was accepted"),
    }
}

trait StoreId {
    async fn inner_store_id(&self) -> String;
}

impl StoreId for TursoStore {
    async fn inner_store_id(&self) -> String {
        memory_core::ChangeFeed::store_id(self)
            .await
            .expect("store id")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_file_wait_instead_of_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("memory.db");
    let a = open(&path).await.expect("open a");
    let b = open(&path).await.expect("open b");
    let w = Workload::new(2);
    let mut tasks = Vec::new();
    for (k, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40u64 {
                let index = k as u64 * 1000 + i;
                store.insert_episode(&w.new_episode(index)).await?;
                store.append_step(w.id(index), &w.step(index, 1)).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("no write failed");
    }
    let all = a
        .list_episodes(&memory_core::EpisodeQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 80);
    assert!(all.iter().all(|s| s.step_count == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    let url = format!("http://127.0.0.1:{}", free_port());
    match TursoStore::open(&DbConfig::remote(url, None)).await {
        Err(Error::Unavailable(detail)) => assert!(!detail.is_empty()),
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("opened a server that does not exist"),
    }
    match TursoStore::open(&DbConfig::remote("ftp://example", None)).await {
        Err(Error::Validation { .. }) => {}
        Err(other) => panic!("expected Validation, got {other:?}"),
        Ok(_) => panic!("opened an ftp url"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_unauthorized_and_a_right_one_works() {
    let server = Sqld::start(Auth::Jwt);
    for token in [None, Some(foreign_token())] {
        match TursoStore::open(&DbConfig::remote(server.url.clone(), token)).await {
            Err(Error::Unauthorized(_)) => {}
            Err(other) => panic!("expected Unauthorized, got {other:?}"),
            Ok(_) => panic!("a bad token was accepted"),
        }
    }
    let store = TursoStore::open(&DbConfig::remote(server.url.clone(), Some(valid_token())))
        .await
        .expect("valid token");
    let episode = Workload::new(3).new_episode(0);
    store.insert_episode(&episode).await.expect("insert");
    assert_eq!(
        store
            .get_episode(episode.id)
            .await
            .expect("get")
            .expect("present")
            .value,
        episode
    );
}
