//! The shared conformance suites, on an embedded file and on a real sqld.

use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::sqld::{Auth, Sqld};

async fn local(dir: &tempfile::TempDir) -> TursoStore {
    let path = dir.path().join(format!("{}.db", uuid::Uuid::now_v7()));
    TursoStore::open(&DbConfig::local(path))
        .await
        .expect("open local")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    test_utils::store_conformance(|| local(&dir)).await;
    test_utils::change_feed_conformance(|| local(&dir)).await;
    test_utils::record_conformance(|| local(&dir)).await;
    test_utils::pattern_conformance(|| local(&dir)).await;
    test_utils::retrieval_conformance(|| async {
        let path = dir.path().join(format!("{}.db", uuid::Uuid::now_v7()));
        let open = || async {
            TursoStore::open(&DbConfig::local(&path))
                .await
                .expect("open local")
        };
        (open().await, open().await)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_store_conforms() {
    // Each case needs an empty database, so each gets its own server: sqld starts in ~150 ms.
    let mut servers = Vec::new();
    let mut fresh = || {
        let server = Sqld::start(Auth::None);
        let config = DbConfig::remote(server.url.clone(), None);
        servers.push(server);
        async move { TursoStore::open(&config).await.expect("open remote") }
    };
    test_utils::store_conformance(&mut fresh).await;
    test_utils::change_feed_conformance(&mut fresh).await;
    test_utils::record_conformance(&mut fresh).await;
    test_utils::pattern_conformance(&mut fresh).await;
    test_utils::retrieval_conformance(|| {
        let server = Sqld::start(Auth::None);
        let config = DbConfig::remote(server.url.clone(), None);
        servers.push(server);
        async move {
            let open = || async { TursoStore::open(&config).await.expect("open remote") };
            (open().await, open().await)
        }
    })
    .await;
}
