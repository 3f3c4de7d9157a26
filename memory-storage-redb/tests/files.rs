//! Files the world hands us: garbage, text, damaged records, other schema versions, a file already open.

use std::path::Path;

use memory_core::{EpisodeCache, EpisodeStore, Error};
use memory_storage_redb::{RedbStore, SCHEMA_VERSION};
use redb::ReadableTable;
use test_utils::Workload;

use crate::{Dir, cache, versioned, with_tables};

/// Deterministic non-redb bytes.
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn foreign_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("garbage", garbage(64 * 1024)),
        ("short garbage", garbage(100)),
        ("text", b"# notes\nthis is not a database\n".repeat(50)),
        ("sqlite", {
            let mut bytes = b"SQLite format 3\0".to_vec();
            bytes.extend(garbage(8192));
            bytes
        }),
    ]
}

/// A cache file holding one episode at revision 5, bound to `db`, checkpointed and closed.
async fn cache_file_with_one_episode(path: &Path) -> memory_core::Episode {
    let ep = Workload::new(30).completed_episode(0, 3);
    let c = cache(path, 10);
    c.bind("db").await.expect("bind");
    assert!(c.put(&versioned(5, &ep), 0).await.expect("put"));
    c.close().await.expect("close");
    ep
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_file_as_cache_is_recreated_empty() {
    let mut dir = Dir::new();
    let ep = Workload::new(31).new_episode(0);
    for (what, bytes) in foreign_files() {
        let path = dir.fresh();
        std::fs::write(&path, &bytes).expect("write");
        let c = RedbStore::open_cache(&path, 10).unwrap_or_else(|e| panic!("{what} as cache: {e}"));
        assert_eq!(c.applied(), 0, "{what}");
        assert_eq!(c.bind("db").await.expect("bind"), 0, "{what}");
        assert!(c.get(ep.id).await.expect("get").is_none(), "{what}");
        assert!(
            c.put(&versioned(1, &ep), 0).await.expect("put"),
            "{what}: the new file works"
        );
        assert!(c.get(ep.id).await.expect("get").is_some(), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_file_as_store_is_refused_and_left_alone() {
    let mut dir = Dir::new();
    for (what, bytes) in foreign_files() {
        let path = dir.fresh();
        std::fs::write(&path, &bytes).expect("write");
        match RedbStore::open_store(&path) {
            Err(Error::NotADatabase {
                path: reported,
                detail,
            }) => {
                assert_eq!(reported, path.display().to_string(), "{what}");
                assert!(!detail.is_empty(), "{what}");
            }
            other => panic!("{what} as store: expected NotADatabase, got {other:?}"),
        }
        assert!(
            std::fs::read(&path).expect("read") == bytes,
            "{what} left byte for byte"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_cache_file_is_recreated() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = cache_file_with_one_episode(&path).await;
    let len = std::fs::metadata(&path).expect("metadata").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(len / 2).expect("truncate");
    drop(file);
    let c = cache(&path, 10);
    assert!(c.get(ep.id).await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_schema_version_clears_a_cache() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = cache_file_with_one_episode(&path).await;
    with_tables(&path, |_, meta| {
        meta.insert(
            "schema_version",
            (SCHEMA_VERSION + 1).to_le_bytes().as_slice(),
        )
        .expect("set version");
    });
    let c = cache(&path, 10);
    assert_eq!(c.applied(), 0);
    assert!(
        c.get(ep.id).await.expect("get").is_none(),
        "the cache was cleared"
    );
    assert_eq!(
        c.bind("db").await.expect("bind"),
        0,
        "the binding went with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_store_is_refused_and_left_alone() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = Workload::new(32).new_episode(0);
    {
        let s = RedbStore::open_store(&path).expect("open");
        s.insert_episode(&ep).await.expect("insert");
    }
    with_tables(&path, |_, meta| {
        meta.insert(
            "schema_version",
            (SCHEMA_VERSION + 1).to_le_bytes().as_slice(),
        )
        .expect("set version");
    });
    let before = std::fs::read(&path).expect("read");
    match RedbStore::open_store(&path) {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!(
                (found, supported),
                (SCHEMA_VERSION as i64 + 1, SCHEMA_VERSION as i64)
            );
        }
        other => panic!("newer store: expected SchemaTooNew, got {other:?}"),
    }
    assert!(
        std::fs::read(&path).expect("read") == before,
        "the file is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_a_cache_miss_and_a_store_error() {
    let mut dir = Dir::new();
    let flip_last_byte = |path: &Path, id: memory_core::EpisodeId| {
        with_tables(path, |episodes, _| {
            let mut record = episodes
                .get(id.as_bytes())
                .expect("get")
                .expect("present")
                .value()
                .to_vec();
            let last = record.len() - 1;
            record[last] ^= 0x01;
            episodes
                .insert(id.as_bytes(), record.as_slice())
                .expect("insert");
        });
    };

    let path = dir.fresh();
    let ep = cache_file_with_one_episode(&path).await;
    flip_last_byte(&path, ep.id);
    let c = cache(&path, 10);
    assert!(
        c.get(ep.id).await.expect("get").is_none(),
        "a damaged record is a miss"
    );
    assert!(c.get(ep.id).await.expect("get").is_none(), "and stays one");
    assert!(
        c.put(&versioned(5, &ep), 0).await.expect("put"),
        "the damaged record was dropped, not kept as newer"
    );
    assert_eq!(c.get(ep.id).await.expect("get"), Some(versioned(5, &ep)));

    let path = dir.fresh();
    {
        let s = RedbStore::open_store(&path).expect("open");
        s.insert_episode(&ep).await.expect("insert");
    }
    flip_last_byte(&path, ep.id);
    let s = RedbStore::open_store(&path).expect("open");
    match s.get_episode(ep.id).await {
        Err(Error::Corrupt(detail)) => assert!(detail.contains(&ep.id.to_string()), "{detail}"),
        other => panic!("damaged record in a store: expected Corrupt, got {other:?}"),
    }
    match s.list_episodes(&Default::default()).await {
        Err(Error::Corrupt(_)) => {}
        other => panic!("listing a damaged store: expected Corrupt, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_the_file_is_never_a_wrong_value() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = cache_file_with_one_episode(&path).await;
    let mut bytes = std::fs::read(&path).expect("read");
    let needle = ep.task_description.as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the description is stored verbatim");
    bytes[at] ^= 0x20;
    std::fs::write(&path, &bytes).expect("write");
    let c = cache(&path, 10);
    assert!(
        c.get(ep.id).await.expect("get").is_none(),
        "damage is a miss, not a wrong value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_open_twice_is_in_use() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let first = cache(&path, 10);
    match RedbStore::open_cache(&path, 10) {
        Err(err @ Error::InUse { .. }) => {
            assert_eq!(
                err.to_string(),
                format!("cache file {} is in use by another process", path.display())
            );
        }
        other => panic!("second open: expected InUse, got {other:?}"),
    }
    drop(first);
    let path = dir.fresh();
    let _store = RedbStore::open_store(&path).expect("open");
    assert!(matches!(
        RedbStore::open_store(&path),
        Err(Error::InUse { what: "store", .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_file_is_never_taken_for_a_cache() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = Workload::new(33).new_episode(0);
    {
        let s = RedbStore::open_store(&path).expect("open");
        s.insert_episode(&ep).await.expect("insert");
    }
    match RedbStore::open_cache(&path, 10) {
        Err(Error::NotADatabase { detail, .. }) => assert!(detail.contains("store"), "{detail}"),
        other => panic!("store file as cache: expected NotADatabase, got {other:?}"),
    }
    let s = RedbStore::open_store(&path).expect("the store is intact");
    assert!(s.get_episode(ep.id).await.expect("get").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_programs_redb_file_is_foreign() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    {
        let db = redb::Database::create(&path).expect("create");
        let txn = db.begin_write().expect("begin write");
        {
            let other: redb::TableDefinition<'_, u64, u64> = redb::TableDefinition::new("other");
            txn.open_table(other)
                .expect("table")
                .insert(1, 2)
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    let before = std::fs::read(&path).expect("read");
    match RedbStore::open_store(&path) {
        Err(Error::NotADatabase { .. }) => {}
        other => panic!("foreign redb file as store: expected NotADatabase, got {other:?}"),
    }
    assert!(
        std::fs::read(&path).expect("read") == before,
        "the foreign file is untouched"
    );
    let c = cache(&path, 10);
    assert_eq!(
        c.bind("db").await.expect("bind"),
        0,
        "as a cache it is replaced by an empty one"
    );
}
