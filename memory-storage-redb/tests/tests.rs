//! Integration tests of `RedbStore`: the shared conformance suites plus cache- and file-specific cases.

mod cache;
mod files;

use std::path::{Path, PathBuf};

use memory_core::{Episode, EpisodeId, Versioned};
use memory_storage_redb::RedbStore;
use redb::TableDefinition;
use tempfile::TempDir;

/// The layout the crate persists, repeated here so tests can damage files the way the world does.
const EPISODES: TableDefinition<'static, [u8; 16], &[u8]> = TableDefinition::new("episodes");
const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");

/// A temporary directory that hands out fresh file paths.
struct Dir {
    dir: TempDir,
    next: usize,
}

impl Dir {
    fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().expect("tempdir"),
            next: 0,
        }
    }

    fn fresh(&mut self) -> PathBuf {
        self.next += 1;
        self.dir.path().join(format!("file-{}.redb", self.next))
    }
}

fn versioned(revision: u64, value: &Episode) -> Versioned<Episode> {
    Versioned {
        revision,
        value: value.clone(),
    }
}

fn cache(path: &Path, capacity: usize) -> RedbStore {
    RedbStore::open_cache(path, capacity).expect("open cache")
}

/// Runs `f` on the file's tables in one redb write transaction (the store must be closed).
fn with_tables(
    path: &Path,
    f: impl FnOnce(
        &mut redb::Table<'_, [u8; 16], &'static [u8]>,
        &mut redb::Table<'_, &'static str, &'static [u8]>,
    ),
) {
    let db = redb::Database::create(path).expect("open with redb");
    let txn = db.begin_write().expect("begin write");
    {
        let mut episodes = txn.open_table(EPISODES).expect("episodes table");
        let mut meta = txn.open_table(META).expect("meta table");
        f(&mut episodes, &mut meta);
    }
    txn.commit().expect("commit");
}

fn stored_ids(path: &Path) -> Vec<EpisodeId> {
    use redb::{ReadableDatabase, ReadableTable};
    let db = redb::Database::create(path).expect("open with redb");
    let txn = db.begin_read().expect("begin read");
    let table = txn.open_table(EPISODES).expect("episodes table");
    table
        .iter()
        .expect("iter")
        .map(|entry| EpisodeId(uuid::Uuid::from_bytes(entry.expect("entry").0.value())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_conformance_standalone() {
    let mut dir = Dir::new();
    test_utils::store_conformance(|| {
        let path = dir.fresh();
        async move { RedbStore::open_store(path).expect("open store") }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_conformance_on_a_cache_file() {
    let mut dir = Dir::new();
    test_utils::store_conformance(|| {
        let path = dir.fresh();
        async move { RedbStore::open_cache(path, 10_000).expect("open cache") }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_conformance() {
    let mut dir = Dir::new();
    test_utils::cache_conformance(|| {
        let path = dir.fresh();
        async move { RedbStore::open_cache(path, 100).expect("open cache") }
    })
    .await;
}
