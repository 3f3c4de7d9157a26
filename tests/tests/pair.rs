//! The write-through pair on real libSQL and redb: conformance, coherence with other writers, restarts.

use std::{path::Path, sync::Arc, time::Duration};

use memory_core::{
    CachedStore, EpisodeCache, EpisodeStore, NewRecord, RecordCache, RecordKind, RecordUpdate,
    Records, Scope,
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::{
    Workload,
    sqld::{Auth, Sqld},
};

type Pair = CachedStore<TursoStore, RedbStore>;

async fn pair_at(db: &Path, cache: &Path) -> Pair {
    let primary = TursoStore::open(&DbConfig::local(db))
        .await
        .expect("open libSQL");
    CachedStore::open(
        primary,
        RedbStore::open_cache(cache, 1000).expect("open cache"),
    )
    .await
    .expect("open pair")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_pair_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        let (db, cache) = (
            dir.path().join(format!("{n}.db")),
            dir.path().join(format!("{n}.redb")),
        );
        async move { pair_at(&db, &cache).await }
    };
    test_utils::store_conformance(&mut fresh).await;
    test_utils::record_conformance(&mut fresh).await;
    test_utils::pattern_conformance(&mut fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_pair_conforms_and_serves_hits_from_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut servers = Vec::new();
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        let server = Sqld::start(Auth::None);
        let config = DbConfig::remote(server.url.clone(), None);
        servers.push(server);
        let cache = dir.path().join(format!("{n}.redb"));
        async move {
            let primary = TursoStore::open(&config).await.expect("open remote");
            CachedStore::open(primary, RedbStore::open_cache(&cache, 1000).expect("cache"))
                .await
                .expect("pair")
                .with_sync_interval(Duration::from_secs(3600))
        }
    };
    test_utils::store_conformance(&mut fresh).await;

    let pair = fresh().await;
    let episode = Workload::new(1).completed_episode(0, 10);
    pair.import_episodes(std::slice::from_ref(&episode))
        .await
        .expect("import");
    let first = pair
        .get_episode(episode.id)
        .await
        .expect("miss")
        .expect("present");
    let cached = pair
        .cache()
        .get(episode.id)
        .await
        .expect("cache get")
        .expect("filled on miss");
    assert_eq!(cached, first);
    assert_eq!(
        pair.get_episode(episode.id).await.expect("hit"),
        Some(first)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_by_another_process_are_seen_through_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    let pair = pair_at(&db, &cache).await;
    let other = TursoStore::open(&DbConfig::local(&db))
        .await
        .expect("second writer");
    let w = Workload::new(2);
    let episode = w.new_episode(0);
    pair.insert_episode(&episode).await.expect("insert");
    assert!(
        pair.cache().get(episode.id).await.expect("get").is_some(),
        "written through"
    );

    other
        .append_step(episode.id, &w.step(0, 1))
        .await
        .expect("other appends");
    let seen = pair
        .get_episode(episode.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        seen.value.steps.len(),
        1,
        "the change feed dropped the stale entry"
    );

    other
        .delete_episode(episode.id)
        .await
        .expect("other deletes");
    assert!(
        pair.get_episode(episode.id).await.expect("get").is_none(),
        "no phantom after a delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_interval_bounds_staleness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    let pair = pair_at(&db, &cache)
        .await
        .with_sync_interval(Duration::from_secs(3600));
    let other = TursoStore::open(&DbConfig::local(&db))
        .await
        .expect("second writer");
    let w = Workload::new(3);
    let episode = w.new_episode(0);
    pair.insert_episode(&episode).await.expect("insert");
    pair.get_episode(episode.id).await.expect("get");
    other
        .append_step(episode.id, &w.step(0, 1))
        .await
        .expect("append");
    let before = pair
        .get_episode(episode.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        before.value.steps.len(),
        0,
        "within the interval the cached copy is served"
    );
    pair.sync().await.expect("sync");
    let after = pair
        .get_episode(episode.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        after.value.steps.len(),
        1,
        "after a sync the change is seen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_survives_a_clean_restart_and_is_dropped_for_another_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    let episode = Workload::new(4).completed_episode(0, 4);
    {
        let pair = pair_at(&db, &cache).await;
        pair.import_episodes(std::slice::from_ref(&episode))
            .await
            .expect("import");
        pair.get_episode(episode.id).await.expect("fill");
        pair.close().await.expect("close");
    }
    {
        let pair = pair_at(&db, &cache).await;
        let hit = pair.cache().get(episode.id).await.expect("get");
        assert_eq!(
            hit.map(|v| v.value),
            Some(episode.clone()),
            "entry kept across a clean restart"
        );
        pair.close().await.expect("close");
    }
    let other_db = dir.path().join("other.db");
    let pair = pair_at(&other_db, &cache).await;
    assert!(
        pair.cache().get(episode.id).await.expect("get").is_none(),
        "a cache bound to another database is cleared"
    );
    assert!(pair.get_episode(episode.id).await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cache_file_is_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    std::fs::write(&cache, b"definitely not a redb file").expect("write");
    let pair = pair_at(&db, &cache).await;
    let episode = Workload::new(5).new_episode(0);
    pair.insert_episode(&episode).await.expect("insert");
    assert_eq!(
        pair.get_episode(episode.id)
            .await
            .expect("get")
            .map(|v| v.value),
        Some(episode)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_records_are_read_through_the_cache_and_follow_other_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (dir.path().join("m.db"), dir.path().join("m.redb"));
    let pair = Arc::new(pair_at(&db, &cache).await);
    let records = Records::from_arc(pair.clone());
    let other = Records::new(
        TursoStore::open(&DbConfig::local(&db))
            .await
            .expect("second writer"),
    );
    let s = Scope::new("project:payments").expect("scope");
    let id = records
        .store(NewRecord::new(
            s.clone(),
            RecordKind::Fact,
            "Refunds settle the next day",
        ))
        .await
        .expect("store")
        .id;
    let cached = |pair: Arc<Pair>| async move {
        let hits = pair
            .cache()
            .cached_records(&[id])
            .await
            .expect("cache read");
        hits.into_iter().next().map(|v| v.value)
    };
    assert!(
        cached(pair.clone()).await.is_none(),
        "a write does not fill"
    );
    let first = records.get(&s, id).await.expect("get");
    assert_eq!(
        cached(pair.clone()).await,
        Some(first.clone()),
        "a miss fills"
    );
    let other_scope = Scope::new("project:other").expect("scope");
    assert!(
        records.get(&other_scope, id).await.is_err(),
        "a hit stays in its scope"
    );

    let tags = RecordUpdate {
        tags: Some(vec!["ledger".into()]),
        ..Default::default()
    };
    other.update(&s, id, &tags).await.expect("other updates");
    assert_eq!(
        records.get(&s, id).await.expect("get").tags,
        vec!["ledger".to_string()],
        "the record change feed dropped the stale entry"
    );
    records
        .update(
            &s,
            id,
            &RecordUpdate {
                importance: Some(0.9),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert!(
        cached(pair.clone()).await.is_none(),
        "an update through the pair invalidates"
    );
    assert_eq!(records.get(&s, id).await.expect("get").importance, 0.9);
    other.delete(&s, id).await.expect("other deletes");
    assert!(
        records.get(&s, id).await.is_err(),
        "a deletion elsewhere is seen"
    );
    assert!(cached(pair).await.is_none());
}
