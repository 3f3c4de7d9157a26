//! Search-index snapshots beside the redb cache: a new process loads the index instead of rebuilding it, catches up
//! on what other writers did since, and rebuilds when the snapshot is not of its model.

use std::{path::Path, sync::Arc};

use memory_core::{
    CachedStore, EpisodeCache, EpisodeStore, NewRecord, Origin, RecordId, RecordKind, RecordStore,
    RecordUpdate, Records, Scope, Search,
    index::{Collection, snapshot},
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};

type Pair = CachedStore<TursoStore, RedbStore>;

async fn pair_at(db: &Path, cache: &Path) -> Arc<Pair> {
    let primary = TursoStore::open(&DbConfig::local(db))
        .await
        .expect("open libSQL");
    let cache = RedbStore::open_cache(cache, 1000).expect("open cache");
    Arc::new(CachedStore::open(primary, cache).await.expect("open pair"))
}

fn records(pair: &Arc<Pair>) -> Records {
    Records::from_arc(pair.clone())
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
            pair.cache()
                .snapshot("records/project:payments")
                .await
                .expect("read")
                .is_some()
        );
        pair.close().await.expect("close");
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
        tag: Some("ledger".into()),
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
    pair.close().await.expect("close");
    drop((second, pair));

    // A snapshot of another model is not used: the index is rebuilt and ranks the same.
    let pair = pair_at(&db, &cache).await;
    let foreign = snapshot::take(&Collection::new(512), "another-model", u64::MAX);
    pair.put_index_snapshot("records/project:payments", foreign)
        .await
        .expect("save");
    let third = records(&pair);
    let search = Search::new(s.clone(), QUERIES[0]);
    assert_eq!(ids(&third, &search).await, ids(&other, &search).await);
    assert_eq!(origin(&third).await, Origin::Store);
}
