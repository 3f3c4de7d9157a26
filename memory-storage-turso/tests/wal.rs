//! The write-ahead log stays bounded under a stream of writes and reads.

use memory_core::EpisodeStore;
use memory_storage_turso::{DbConfig, TursoStore, WAL_LIMIT_BYTES};
use test_utils::Workload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_while_reads_and_writes_interleave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("memory.db");
    let store = TursoStore::open(&DbConfig::local(&path))
        .await
        .expect("open");
    let w = Workload::new(1);
    let episode = w.new_episode(0);
    store.insert_episode(&episode).await.expect("insert");
    // About 3 WAL frames of 4 KiB per append: 8000 appends would leave ~95 MiB of WAL without checkpoints.
    for n in 1..=8000 {
        store
            .append_step(episode.id, &w.step(0, n))
            .await
            .expect("append");
        if n % 10 == 0 {
            store.get_episode(episode.id).await.expect("get");
        }
    }
    let wal = std::fs::metadata(dir.path().join("memory.db-wal")).map_or(0, |m| m.len());
    assert!(
        wal <= WAL_LIMIT_BYTES + (1 << 20),
        "the WAL grew to {wal} bytes"
    );
}
