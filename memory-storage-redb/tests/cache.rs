//! Cache behaviour beyond the conformance suite: eviction, persistence, closing.

use memory_core::{
    Change, EpisodeCache, EpisodeId, EpisodeStore, Error, SnapshotStore,
    index::{Collection, Doc, DocKey, DocMeta, snapshot},
};
use memory_storage_redb::{RedbStore, SnapshotDir};
use test_utils::Workload;

use crate::{Dir, cache, stored_ids, versioned};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_keeps_the_most_recently_used() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let c = cache(&path, 10);
    c.bind("db").await.expect("bind");
    let w = Workload::new(20);
    let eps: Vec<_> = (0..25).map(|i| w.completed_episode(i, 2)).collect();
    for (i, ep) in eps[..10].iter().enumerate() {
        assert!(c.put(&versioned(i as u64 + 1, ep), 0).await.expect("put"));
    }
    assert!(
        c.get(eps[0].id).await.expect("get").is_some(),
        "read #0 to make it recent"
    );
    for (i, ep) in eps[10..19].iter().enumerate() {
        assert!(c.put(&versioned(i as u64 + 11, ep), 0).await.expect("put"));
    }
    assert!(
        c.get(eps[0].id).await.expect("get").is_some(),
        "the recently read entry survived"
    );
    for ep in &eps[1..10] {
        assert!(
            c.get(ep.id).await.expect("get").is_none(),
            "least recently used are evicted"
        );
    }
    for (i, ep) in eps[19..].iter().enumerate() {
        assert!(c.put(&versioned(i as u64 + 20, ep), 0).await.expect("put"));
    }
    // Order now (least recent first): 10..=18, 0 read again above, then 19..=24; six puts evicted 10..=15.
    let present: Vec<usize> = present_indices(&c, &eps).await;
    assert_eq!(present, [0, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    drop(c);
    assert_eq!(
        stored_ids(&path).len(),
        10,
        "evicted entries are deleted from the file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_entries_are_evicted_by_their_bytes() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let c = cache(&path, 1_000);
    c.bind("db").await.expect("bind");
    let w = Workload::new(21);
    // 30 episodes of 1 MB each: far below the capacity in entries, above the cache's 16 MiB of entries.
    let big = "x".repeat(1 << 20);
    let eps: Vec<_> = (0..30)
        .map(|i| {
            let mut ep = w.completed_episode(i, 1);
            ep.task_description = format!("{i} {big}");
            ep
        })
        .collect();
    for (i, ep) in eps.iter().enumerate() {
        assert!(c.put(&versioned(i as u64 + 1, ep), 0).await.expect("put"));
    }
    let present = present_indices(&c, &eps).await;
    assert!(
        (12..=16).contains(&present.len()),
        "about 16 MiB kept: {present:?}"
    );
    assert_eq!(present.last(), Some(&29), "the newest stay: {present:?}");
    assert_eq!(
        present.len(),
        30 - present[0],
        "the oldest left: {present:?}"
    );
    drop(c);
    assert_eq!(stored_ids(&path).len(), present.len(), "and left the file");
}

async fn present_indices(c: &RedbStore, eps: &[memory_core::Episode]) -> Vec<usize> {
    let mut present = Vec::new();
    for (i, ep) in eps.iter().enumerate() {
        if c.get(ep.id).await.expect("get").is_some() {
            present.push(i);
        }
    }
    present
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_writes_on_a_cache_file_are_bounded_too() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let c = cache(&path, 10);
    let w = Workload::new(21);
    let eps: Vec<_> = (0..25).map(|i| w.completed_episode(i, 1)).collect();
    c.import_episodes(&eps).await.expect("import");
    assert_eq!(present_indices(&c, &eps).await.len(), 10);
    drop(c);
    assert_eq!(stored_ids(&path).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smaller_capacity_trims_the_file_on_open() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let w = Workload::new(22);
    let eps: Vec<_> = (0..30).map(|i| w.new_episode(i)).collect();
    {
        let c = cache(&path, 100);
        c.bind("db").await.expect("bind");
        for ep in &eps {
            assert!(c.put(&versioned(1, ep), 0).await.expect("put"));
        }
        c.checkpoint().await.expect("checkpoint");
    }
    let c = cache(&path, 8);
    assert_eq!(present_indices(&c, &eps).await.len(), 8);
    drop(c);
    assert_eq!(stored_ids(&path).len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_and_applied_survive_a_reopen_after_checkpoint() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let w = Workload::new(23);
    let (a, b) = (w.completed_episode(0, 4), w.new_episode(1));
    {
        let c = cache(&path, 50);
        assert_eq!(c.bind("db-7").await.expect("bind"), 0);
        assert!(c.put(&versioned(40, &a), 0).await.expect("put"));
        assert!(c.put(&versioned(41, &b), 0).await.expect("put"));
        c.apply(
            &[Change {
                id: b.id,
                revision: 42,
            }],
            42,
        )
        .await
        .expect("apply");
        c.checkpoint().await.expect("checkpoint");
    }
    let c = cache(&path, 50);
    assert_eq!(c.applied(), 42, "applied is loaded on open");
    assert_eq!(c.bind("db-7").await.expect("rebind"), 42);
    assert_eq!(c.get(a.id).await.expect("get"), Some(versioned(40, &a)));
    assert!(
        c.get(b.id).await.expect("get").is_none(),
        "the applied change dropped b"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_writes_survive_a_reopen() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = Workload::new(24).completed_episode(0, 3);
    let revision = {
        let s = RedbStore::open_store(&path).expect("open");
        s.import_episodes(std::slice::from_ref(&ep))
            .await
            .expect("import")
    };
    let s = RedbStore::open_store(&path).expect("reopen");
    assert_eq!(
        s.get_episode(ep.id).await.expect("get"),
        Some(versioned(revision, &ep))
    );
    let next = s
        .delete_episode(ep.id)
        .await
        .expect("delete")
        .expect("existed");
    assert!(next > revision, "the revision counter survives a reopen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_releases_the_file() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let ep = Workload::new(25).new_episode(0);
    let c = cache(&path, 5);
    c.bind("db").await.expect("bind");
    assert!(c.put(&versioned(3, &ep), 0).await.expect("put"));
    c.close().await.expect("close");
    c.close().await.expect("closing twice is harmless");
    match c.get(ep.id).await {
        Err(Error::Unavailable(_)) => {}
        other => panic!("use after close: expected Unavailable, got {other:?}"),
    }
    let again = cache(&path, 5);
    assert_eq!(
        again.get(ep.id).await.expect("get"),
        Some(versioned(3, &ep))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_capacity_is_refused() {
    let mut dir = Dir::new();
    match RedbStore::open_cache(dir.fresh(), 0) {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "capacity"),
        other => panic!("capacity 0: expected Validation, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fills_and_reads_stay_within_capacity() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let c = cache(&path, 16);
    c.bind("db").await.expect("bind");
    let w = Workload::new(26);
    let eps: Vec<_> = (0..60).map(|i| w.completed_episode(i, 1)).collect();
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let (c, eps) = (c.clone(), eps.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..40usize {
                let ep = &eps[(t * 7 + n * 13) % eps.len()];
                c.put(&versioned(1, ep), 0).await.expect("put");
                if let Some(hit) = c.get(eps[(t + n) % eps.len()].id).await.expect("get") {
                    assert_eq!(hit.value.id, eps[(t + n) % eps.len()].id);
                }
                if n % 10 == 0 {
                    c.invalidate(&[ep.id]).await.expect("invalidate");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let present = present_indices(&c, &eps).await.len();
    assert!(present <= 16, "{present} entries cached");
    drop(c);
    assert_eq!(
        stored_ids(&path).len(),
        present,
        "the key list and the file agree"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_snapshots_survive_a_reopen_and_a_damaged_or_foreign_one_is_a_miss() {
    let mut dir = Dir::new();
    let path = dir.fresh();
    let mut collection = Collection::new(8);
    collection.upsert(Doc {
        key: DocKey::Episode(EpisodeId::new()),
        revision: 3,
        fields: vec![("flaky settlement test".into(), 1.0)],
        vector: Some(vec![0.5; 8]),
        meta: DocMeta::default(),
    });
    let ours = SnapshotDir::beside(&path, "db-1");
    assert!(ours.snapshot("episodes").expect("read").is_none());
    let kept = ours
        .put_snapshot("episodes", snapshot::take(&collection, "m", 9))
        .expect("save")
        .expect("the sections, mapped from the file");
    let taken = snapshot::take(&collection, "m", 9);
    let bytes = |s: &memory_core::index::SharedBytes| (**s).as_ref().to_vec();
    assert_eq!(bytes(&kept.slots), bytes(&taken.sections().slots));
    assert_eq!(bytes(&kept.codes), bytes(&taken.sections().codes));
    assert_eq!(bytes(&kept.bits), bytes(&taken.sections().bits));
    assert_eq!(bytes(&kept.postings), bytes(&taken.sections().postings));
    {
        // Another process, the cache file open or not.
        let saved = SnapshotDir::beside(&path, "db-1")
            .snapshot("episodes")
            .expect("read")
            .expect("kept");
        let (loaded, revision) = snapshot::load(saved, "m", 8).expect("sound");
        assert_eq!((loaded.len(), revision), (1, 9));
        // Its codes, read in place from the file, are those saved.
        let hits = loaded.nearest(&[0.5; 8], None, 1);
        assert_eq!(hits, collection.nearest(&[0.5; 8], None, 1));
        let hits = loaded.bm25("settlement", None, 1);
        assert_eq!(hits, collection.bm25("settlement", None, 1));
    }
    // Of another database, or under another collection's name, it is a miss.
    assert!(
        SnapshotDir::beside(&path, "db-2")
            .snapshot("episodes")
            .expect("read")
            .is_none()
    );
    // Snapshots live in files beside the cache, one per name (hex-encoded).
    let name = |n: &str| -> String { n.bytes().map(|b| format!("{b:02x}")).collect() };
    let file = path
        .with_extension("snapshots")
        .join(format!("{}.snapshot", name("episodes")));
    let sound = std::fs::read(&file).expect("the snapshot's file");
    let other = path
        .with_extension("snapshots")
        .join(format!("{}.snapshot", name("records/s")));
    std::fs::write(&other, &sound).expect("copy");
    assert!(ours.snapshot("records/s").expect("read").is_none());
    for damaged in [
        sound[..sound.len() - 1].to_vec(),
        [&sound[..sound.len() - 1], &[sound[sound.len() - 1] ^ 1]].concat(),
        [&sound[..80], &[sound[80] ^ 1], &sound[81..]].concat(),
        b"not a snapshot".to_vec(),
    ] {
        std::fs::write(&file, damaged).expect("damage");
        assert!(
            ours.snapshot("episodes")
                .expect("a damaged snapshot is a miss")
                .is_none()
        );
    }
    ours.put_snapshot("episodes", snapshot::take(&collection, "m", 10))
        .expect("save");
    // They are bound to their database on their own: a cache bound to another leaves them be.
    let c = cache(&path, 5);
    c.bind("another-db").await.expect("bind");
    assert!(ours.snapshot("episodes").expect("read").is_some());
    c.close().await.expect("close");
    memory_storage_redb::delete_cache(&path).expect("delete");
    assert!(!file.exists(), "deleting the cache deletes them");

    // A temporary file left by a process that died while writing goes with the next write, once it is old.
    let dir = path.with_extension("snapshots");
    let (old, recent) = (dir.join("dead.1-0.tmp"), dir.join("writing.2-0.tmp"));
    std::fs::create_dir_all(&dir).expect("snapshot directory");
    for temporary in [&old, &recent] {
        std::fs::write(temporary, b"half a snapshot").expect("write");
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("age the file");
    ours.put_snapshot("episodes", snapshot::take(&collection, "m", 11))
        .expect("save");
    assert!(!old.exists(), "the old temporary file is deleted");
    assert!(recent.exists(), "one that may still be written stays");
}
