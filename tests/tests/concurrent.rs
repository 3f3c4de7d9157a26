//! Searches at once over one index, on real libSQL: however many run together (and share catch-ups on the change
//! feeds), each finds every write acknowledged before it began, its own process's and another's.

use std::sync::Arc;

use memory_core::{NewRecord, RecordKind, Records, Scope, Search};
use memory_storage_turso::{DbConfig, TursoStore};

const CLIENTS: usize = 8;
const ROUNDS: usize = 12;

async fn records(db: &std::path::Path) -> Records {
    let store = TursoStore::open(&DbConfig::local(db))
        .await
        .expect("open libSQL");
    Records::from_arc(Arc::new(store))
}

/// A word no other note holds, so a search for it finds exactly one note.
fn word(client: usize, round: usize) -> String {
    format!("marker{}q{}", (b'a' + client as u8) as char, round * 7 + 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_search_sees_the_writes_acknowledged_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("memory.db");
    let scope = Scope::new("project:concurrent").expect("scope");
    let here = records(&db).await;
    // Another process on the same file: its writes reach this one's index through the change feed.
    let other = records(&db).await;
    here.store(NewRecord::new(
        scope.clone(),
        RecordKind::Note,
        "a first note",
    ))
    .await
    .expect("seed");

    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (here, other, scope) = (here.clone(), other.clone(), scope.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let word = word(client, round);
                let writer = if round % 3 == 0 { &other } else { &here };
                let content = format!("client {client} round {round} wrote {word}");
                let stored = writer
                    .store(NewRecord::new(scope.clone(), RecordKind::Note, content))
                    .await
                    .expect("store");
                let hits = here
                    .search(&Search::new(scope.clone(), word.clone()))
                    .await
                    .expect("search");
                assert!(
                    hits.iter().any(|h| h.record.id == stored.id),
                    "a search after the write of {word} did not find it"
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    let all = here
        .search(&Search {
            limit: 100,
            ..Search::new(scope.clone(), "wrote")
        })
        .await
        .expect("search");
    // Each write is indexed once, whichever path it came by; the vector side may add the first note.
    let ids: std::collections::HashSet<_> = all.iter().map(|h| h.record.id).collect();
    assert_eq!(ids.len(), all.len(), "a note found twice");
    let written = all
        .iter()
        .filter(|h| h.record.content.contains("wrote"))
        .count();
    assert_eq!(written, CLIENTS * ROUNDS);
}
