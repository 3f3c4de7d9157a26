//! Search-index snapshots beside the redb cache: a new process loads the index instead of rebuilding it, catches up
//! on what other writers did since, and rebuilds when the snapshot is not of its model.

use std::{path::Path, sync::Arc};

use memory_core::{
    CachedStore, ChangeFeed, EpisodeStore, NewRecord, Origin, RecordId, RecordKind, RecordUpdate,
    Records, Scope, Search, SnapshotStore,
    index::{Collection, snapshot},
};
use memory_storage_redb::{RedbStore, SnapshotDir};
use memory_storage_turso::{DbConfig, TursoStore};

type Pair = CachedStore<TursoStore, RedbStore>;

/// The pair over the database `db` and the cache `cache`, and the snapshots beside the cache.
struct Opened {
    pair: Arc<Pair>,
    snapshots: Arc<SnapshotDir>,
}

async fn pair_at(db: &Path, cache: &Path) -> Opened {
    let primary = TursoStore::open(&DbConfig::local(db))
        .await
        .expect("open libSQL");
    let snapshots = Arc::new(SnapshotDir::beside(
        cache,
        primary.store_id().await.expect("id"),
    ));
    let cache = RedbStore::open_cache(cache, 1000).expect("open cache");
    let pair = Arc::new(CachedStore::open(primary, cache).await.expect("open pair"));
    Opened { pair, snapshots }
}

/// Records over the pair, their index kept in the snapshots.
fn records(opened: &Opened) -> Records {
    Records::from_arc(opened.pair.clone()).with_snapshots(opened.snapshots.clone())
}

/// The origin of the one collection loaded.
async fn origin(records: &Records) -> Origin {
    let info = records.index_info().await;
    assert_eq!(info.len(), 1, "{info:?}");
    info[0].origin
}

async fn ids(records: &Records, search: &Search) -> Vec<RecordId> {
    let hits = records.search(search).await.expect("search");
    hits.into_iter().map(|h| h.record.id).collect()
}

const QUERIES: [&str; 4] = [
    "settlement retry timeout",
    "ledger rounding 17",
    "flaky test 1999",
    "refund webhook",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_loads_the_saved_index_and_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    let s = Scope::new("project:payments").expect("scope");
    let topics = [
        "settlement retry",
        "ledger rounding",
        "flaky test",
        "refund webhook",
    ];
    let new: Vec<NewRecord> = (0..2_100)
        .map(|i| {
            let text = format!("note {i}: the {} timeout {}", topics[i % 4], i % 37);
            NewRecord::new(s.clone(), RecordKind::Note, text)
        })
        .collect();
    let stored = {
        let pair = pair_at(&db, &cache).await;
        let first = records(&pair);
        let stored = first.store_many(new).await.expect("store");
        first.sync(&s).await.expect("build");
        assert_eq!(origin(&first).await, Origin::Store);
        assert!(
            pair.snapshots
                .snapshot("records/project:payments")
                .expect("read")
                .is_some()
        );
        pair.pair.close().await.expect("close");
        stored
    };

    // Another writer changes the store while no process with the cache runs.
    let other = Records::new(TursoStore::open(&DbConfig::local(&db)).await.expect("open"));
    let added = other
        .store(NewRecord::new(
            s.clone(),
            RecordKind::Fact,
            "The refund webhook retries with jitter",
        ))
        .await
        .expect("store")
        .id;
    other.delete(&s, stored[1].id).await.expect("delete");
    let tags = RecordUpdate {
        tags: Some(vec!["ledger".into()]),
        ..Default::default()
    };
    other.update(&s, stored[2].id, &tags).await.expect("update");

    let pair = pair_at(&db, &cache).await;
    let second = records(&pair);
    let jitter = Search::new(s.clone(), "webhook jitter");
    assert_eq!(
        ids(&second, &jitter).await.first(),
        Some(&added),
        "sees the later store"
    );
    assert_eq!(origin(&second).await, Origin::Snapshot);
    let tagged = Search {
        tags: memory_core::Tags::any(["ledger"]),
        ..Search::new(s.clone(), "note")
    };
    assert_eq!(
        ids(&second, &tagged).await,
        vec![stored[2].id],
        "sees the update"
    );
    for text in QUERIES {
        let search = Search::new(s.clone(), text);
        let loaded = ids(&second, &search).await;
        assert!(
            !loaded.contains(&stored[1].id),
            "the deleted record is gone"
        );
        assert_eq!(
            loaded,
            ids(&other, &search).await,
            "ranks as a rebuilt index: {text}"
        );
    }
    pair.pair.close().await.expect("close");
    drop((second, pair));

    // A snapshot of another model is not used: the index is rebuilt and ranks the same.
    let pair = pair_at(&db, &cache).await;
    let foreign = snapshot::take(&Collection::new(512), "another-model", u64::MAX);
    pair.snapshots
        .put_snapshot("records/project:payments", foreign)
        .expect("save");
    let third = records(&pair);
    let search = Search::new(s.clone(), QUERIES[0]);
    assert_eq!(ids(&third, &search).await, ids(&other, &search).await);
    assert_eq!(origin(&third).await, Origin::Store);
}

/// `n` notes in `scope`, each naming `topic` and a number.
fn notes(scope: &Scope, topic: &str, n: usize) -> Vec<NewRecord> {
    (0..n)
        .map(|i| {
            let text = format!("note {i}: the {topic} timeout {}", i % 37);
            NewRecord::new(scope.clone(), RecordKind::Note, text)
        })
        .collect()
}

/// The snapshot file of `name` beside the cache at `cache`.
fn snapshot_file(cache: &Path, name: &str) -> std::path::PathBuf {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    cache
        .with_extension("snapshots")
        .join(format!("{hex}.snapshot"))
}

/// The ids a search finds through the pair at (`db`, `cache`), its collection's origin, and what the database
/// alone answers.
async fn searched(
    db: &Path,
    cache: &Path,
    search: &Search,
) -> (Vec<RecordId>, Origin, Vec<RecordId>) {
    let pair = pair_at(db, cache).await;
    let cached = records(&pair);
    let found = ids(&cached, search).await;
    let origin = origin(&cached).await;
    pair.pair.close().await.expect("close");
    let alone = Records::new(TursoStore::open(&DbConfig::local(db)).await.expect("open"));
    (found, origin, ids(&alone, search).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_store_or_collection_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let at = |name: &str| {
        (
            dir.path().join(format!("{name}.db")),
            dir.path().join(format!("{name}.redb")),
        )
    };
    let (payments, ledger) = (
        Scope::new("project:payments").expect("scope"),
        Scope::new("project:ledger").expect("scope"),
    );
    let name = |s: &Scope| format!("records/{s}");
    // Store A: payments notes about settlement. Store B: the same scope about refunds, and a ledger scope.
    let (a_db, a_cache) = at("a");
    let (b_db, b_cache) = at("b");
    for (db, cache, scopes) in [
        (&a_db, &a_cache, vec![(&payments, "settlement retry")]),
        (
            &b_db,
            &b_cache,
            vec![(&payments, "refund webhook"), (&ledger, "ledger rounding")],
        ),
    ] {
        let pair = pair_at(db, cache).await;
        let r = records(&pair);
        for (scope, topic) in scopes {
            r.store_many(notes(scope, topic, 2_100))
                .await
                .expect("store");
            r.sync(scope).await.expect("build and save");
            assert!(snapshot_file(cache, &name(scope)).is_file());
        }
        pair.pair.close().await.expect("close");
    }
    let refunds = Search::new(payments.clone(), "refund webhook timeout");
    let rounding = Search::new(ledger.clone(), "ledger rounding timeout");

    // A's snapshot of the same scope copied into B's cache: B rebuilds and answers from its own records.
    std::fs::copy(
        snapshot_file(&a_cache, &name(&payments)),
        snapshot_file(&b_cache, &name(&payments)),
    )
    .expect("copy");
    let (found, origin, alone) = searched(&b_db, &b_cache, &refunds).await;
    assert!(!found.is_empty());
    assert_eq!((found, origin), (alone, Origin::Store));
    // The rebuilt index was saved over the copy: the next process loads B's own.
    let (found, origin, alone) = searched(&b_db, &b_cache, &refunds).await;
    assert_eq!((found, origin), (alone, Origin::Snapshot));

    // Two of B's snapshots swapped: each scope is rebuilt from its own records.
    let (p, l) = (
        snapshot_file(&b_cache, &name(&payments)),
        snapshot_file(&b_cache, &name(&ledger)),
    );
    let swap = dir.path().join("swap");
    std::fs::rename(&p, &swap).expect("swap");
    std::fs::rename(&l, &p).expect("swap");
    std::fs::rename(&swap, &l).expect("swap");
    for search in [&refunds, &rounding] {
        let (found, origin, alone) = searched(&b_db, &b_cache, search).await;
        assert!(!found.is_empty());
        assert_eq!((found, origin), (alone, Origin::Store), "{}", search.text);
    }

    // A snapshot that claims a revision the store's feed never reached is of another history.
    let pair = pair_at(&b_db, &b_cache).await;
    let embedder = records(&pair).embedder().clone();
    let ahead = snapshot::take(
        &Collection::new(embedder.dimension()),
        embedder.id(),
        u64::MAX,
    );
    pair.snapshots
        .put_snapshot(&name(&payments), ahead)
        .expect("save");
    pair.pair.close().await.expect("close");
    drop(pair);
    let (found, origin, alone) = searched(&b_db, &b_cache, &refunds).await;
    assert!(!found.is_empty());
    assert_eq!((found, origin), (alone, Origin::Store));
}

/// A snapshot file damaged at random (cut short, bytes changed, another snapshot's bytes spliced in): a new
/// process never panics on it and answers as the database alone does. `PROPTEST_CASES` sets how many damages run
/// (12 by default; each opens the store and may rebuild its index).
#[test]
fn a_damaged_snapshot_never_gives_a_wrong_answer() {
    use proptest::{
        prelude::*,
        test_runner::{Config, TestRunner},
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    let (payments, ledger) = (
        Scope::new("project:payments").expect("scope"),
        Scope::new("project:ledger").expect("scope"),
    );
    let file = snapshot_file(&cache, &format!("records/{payments}"));
    let (original, other) = test_utils::block_on(async {
        let pair = pair_at(&db, &cache).await;
        let r = records(&pair);
        for (scope, topic) in [
            (&ledger, "ledger rounding"),
            (&payments, "settlement retry"),
        ] {
            r.store_many(notes(scope, topic, 2_100))
                .await
                .expect("store");
            r.sync(scope).await.expect("build and save");
        }
        pair.pair.close().await.expect("close");
        let other =
            std::fs::read(snapshot_file(&cache, &format!("records/{ledger}"))).expect("read");
        (std::fs::read(&file).expect("read"), other)
    });
    let search = Search::new(payments.clone(), "settlement retry timeout 17");
    let alone = test_utils::block_on(async {
        let alone = Records::new(TursoStore::open(&DbConfig::local(&db)).await.expect("open"));
        ids(&alone, &search).await
    });
    assert!(!alone.is_empty());
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let damage = prop_oneof![
        (0..original.len()).prop_map(|at| (Some(at), vec![], None)),
        proptest::collection::vec((0..original.len(), 1u8..), 1..8)
            .prop_map(|flips| (None, flips, None)),
        (0..original.len(), 0..other.len()).prop_map(|(at, from)| (None, vec![], Some((at, from)))),
    ];
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&damage, |(cut, flips, splice)| {
            let mut bytes = original.clone();
            if let Some(at) = cut {
                bytes.truncate(at);
            }
            for (at, flip) in flips {
                bytes[at] ^= flip;
            }
            if let Some((at, from)) = splice {
                let n = (other.len() - from).min(bytes.len() - at);
                bytes[at..at + n].copy_from_slice(&other[from..from + n]);
            }
            std::fs::write(&file, &bytes).expect("write");
            let found = test_utils::block_on(async {
                let pair = pair_at(&db, &cache).await;
                let found = ids(&records(&pair), &search).await;
                pair.pair.close().await.expect("close");
                found
            });
            prop_assert_eq!(&found, &alone);
            Ok(())
        })
        .expect("every damaged snapshot answers as the database does");
}
