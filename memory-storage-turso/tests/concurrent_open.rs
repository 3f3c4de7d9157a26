//! Processes (here threads, each with its own connections) that open one store at the same moment wait for each
//! other: none fails with "database is locked", whether the file is new or already there.

use std::{path::Path, sync::Barrier};

use memory_core::{ChangeFeed, Result};
use memory_storage_turso::{DbConfig, TursoStore};

/// Opens `path` from `n` threads released at once; returns each open's store id.
fn open_at_once(path: &Path, n: usize) -> Vec<Result<String>> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let opens: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    barrier.wait();
                    runtime.block_on(async {
                        let store = TursoStore::open(&DbConfig::local(path)).await?;
                        store.store_id().await
                    })
                })
            })
            .collect();
        opens
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    })
}

#[test]
fn simultaneous_opens_of_a_new_store_all_succeed_on_one_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..25 {
        let path = dir.path().join(format!("{round}/memory.db"));
        let ids: Vec<String> = open_at_once(&path, 4)
            .into_iter()
            .map(|opened| opened.unwrap_or_else(|err| panic!("round {round}: {err}")))
            .collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "round {round}: {ids:?}");
        // And again on the store that now exists.
        for opened in open_at_once(&path, 4) {
            assert_eq!(opened.expect("reopen"), ids[0], "round {round}");
        }
    }
}
