//! The conformance suite for [`RecordStore`]s: dedup, scope isolation, updates, listing and statistics.

use std::future::Future;

use memory_core::{
    Embedder, Embedding, EmbeddingModel, Error, Json, LexicalEmbedder, MemoryRecord, NewRecord,
    Ranking, RecordId, RecordKind, RecordQuery, RecordStore, RecordUpdate, Records, Scope, Search,
    Stored, Tags,
};
use serde_json::json;

fn scope(name: &str) -> Scope {
    Scope::new(name).expect("valid scope")
}

/// The embedding of a record's text, as `Records::store` computes it.
fn embedding(record: &MemoryRecord) -> Embedding {
    let embedder = LexicalEmbedder::default();
    Embedding {
        model: embedder.id().to_string(),
        vector: embedder
            .embed(&[&record.embedding_text()])
            .expect("embed")
            .remove(0),
    }
}

fn record(scope_name: &str, kind: RecordKind, content: &str, tags: &[&str]) -> MemoryRecord {
    let mut new = NewRecord::new(scope(scope_name), kind, content);
    new.tags = tags.iter().map(|t| t.to_string()).collect();
    new.summary = Some(format!("about {content}"));
    new.context = Some("payments-service".into());
    new.source = Some("session 42, line 7".into());
    new.metadata = Json::new(&json!({ "ticket": "PAY-1", "n": [1, 2] }));
    new.importance = 0.75;
    new.into_record().expect("valid record")
}

/// Runs every [`RecordStore`] case, each on a fresh store from `fresh`.
pub async fn record_conformance<S, F, Fut>(mut fresh: F)
where
    S: RecordStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    dedup_and_isolation(&fresh().await).await;
    updates_and_deletes(&fresh().await).await;
    listing_and_stats(&fresh().await).await;
    feed_and_embeddings(&fresh().await).await;
    batch_duplicates(&fresh().await).await;
    search(fresh().await).await;
}

async fn search(store: impl RecordStore) {
    let records = Records::new(store);
    let flaky = new_record(
        "project:payments",
        RecordKind::Fact,
        "The settlement test is flaky because retries sleep on the wall clock; tokio::time::pause fixes it",
        &["testing"],
    );
    let deploys = new_record(
        "project:payments",
        RecordKind::Note,
        "Deploys go out on Tuesdays after the standup",
        &[],
    );
    let backoff = new_record(
        "project:payments",
        RecordKind::Decision,
        "Use exponential backoff with jitter for webhook retries",
        &[],
    );
    let alice = new_record(
        "user:alice",
        RecordKind::Note,
        "flaky settlement test notes from alice",
        &[],
    );
    let ids: Vec<RecordId> = records
        .store_many(vec![flaky, deploys, backoff, alice])
        .await
        .expect("store")
        .into_iter()
        .map(|s| s.id)
        .collect();
    let (flaky, backoff) = (ids[0], ids[2]);
    let payments = scope("project:payments");
    for ranking in Ranking::ALL {
        let query = |text: &str| Search {
            ranking,
            ..Search::new(payments.clone(), text)
        };
        let hits = records
            .search(&query("Why is the settlement test flaky?"))
            .await
            .expect("search");
        assert_eq!(
            hits.first().map(|h| h.record.id),
            Some(flaky),
            "{ranking:?}: the matching record ranks first"
        );
        assert!(
            hits.iter().all(|h| h.record.scope == payments),
            "search stays in its scope"
        );
        assert!(
            hits.windows(2)
                .all(|w| w[0].score.total >= w[1].score.total),
            "best first"
        );

        let decisions = Search {
            kind: Some(RecordKind::Decision),
            ..query("retries")
        };
        let found: Vec<_> = records
            .search(&decisions)
            .await
            .expect("search")
            .into_iter()
            .map(|h| h.record.id)
            .collect();
        assert_eq!(found, vec![backoff], "{ranking:?}: kind filter");
        let tagged = Search {
            tags: Tags::any(["testing"]),
            ..query("retries clock")
        };
        let found: Vec<_> = records
            .search(&tagged)
            .await
            .expect("search")
            .into_iter()
            .map(|h| h.record.id)
            .collect();
        assert_eq!(found, vec![flaky], "{ranking:?}: tag filter");
    }
    records
        .search(&Search::new(payments.clone(), "AND OR \"* : NEAR("))
        .await
        .expect("operators are searched as words");

    records.delete(&payments, flaky).await.expect("delete");
    let after = records
        .search(&Search::new(payments.clone(), "settlement flaky"))
        .await
        .expect("search");
    assert!(
        after.iter().all(|h| h.record.id != flaky),
        "a deleted record is not found"
    );
}

fn new_record(scope_name: &str, kind: RecordKind, content: &str, tags: &[&str]) -> NewRecord {
    let mut new = NewRecord::new(scope(scope_name), kind, content);
    new.tags = tags.iter().map(|t| t.to_string()).collect();
    new
}

/// A batch that repeats a content stores it once; the repeat is reported as its duplicate.
async fn batch_duplicates(store: &impl RecordStore) {
    let a = record("project:payments", RecordKind::Fact, "said twice", &["x"]);
    let again = record("project:payments", RecordKind::Note, "said twice", &[]);
    let elsewhere = record("user:alice", RecordKind::Note, "said twice", &[]);
    let stored = store
        .store_records(&[
            (a.clone(), embedding(&a)),
            (again.clone(), embedding(&again)),
            (elsewhere.clone(), embedding(&elsewhere)),
        ])
        .await
        .expect("store");
    assert_eq!(
        stored,
        vec![
            Stored {
                id: a.id,
                duplicate: false
            },
            Stored {
                id: a.id,
                duplicate: true
            },
            Stored {
                id: elsewhere.id,
                duplicate: false
            },
        ]
    );
    assert_eq!(
        store.get_record(&a.scope, again.id).await.expect("get"),
        None
    );
    assert_eq!(store.record_stats(None).await.expect("stats").total, 2);
}

/// The change feed reports every write and deletion, and vectors are kept per key and model.
async fn feed_and_embeddings(store: &impl RecordStore) {
    assert_eq!(store.record_head().await.expect("head"), 0);
    assert_eq!(store.embedding_model().await.expect("model"), None);
    let a = record("project:payments", RecordKind::Fact, "first", &[]);
    let b = record("project:payments", RecordKind::Fact, "second", &[]);
    store
        .store_records(&[(a.clone(), embedding(&a)), (b.clone(), embedding(&b))])
        .await
        .expect("store");
    let model = store
        .embedding_model()
        .await
        .expect("model")
        .expect("claimed by the first store");
    assert_eq!(model.id, LexicalEmbedder::default().id());
    assert_eq!(model.dimension, LexicalEmbedder::default().dimension());
    let head = store.record_head().await.expect("head");
    let changes = store.record_changes(0).await.expect("changes");
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|c| !c.deleted && c.revision == head && c.scope == a.scope)
    );
    assert_eq!(
        store
            .scan_records(&a.scope, None, 10)
            .await
            .expect("scan")
            .len(),
        2
    );
    let first = store.scan_records(&a.scope, None, 1).await.expect("scan");
    let rest = store
        .scan_records(&a.scope, Some(first[0].value.id), 10)
        .await
        .expect("scan");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].value.id, first[0].value.id);
    assert!(
        store
            .scan_records(&scope("elsewhere"), None, 10)
            .await
            .expect("scan")
            .is_empty()
    );

    store.delete_record(&a.scope, a.id).await.expect("delete");
    store
        .update_record(
            &b.scope,
            b.id,
            &RecordUpdate {
                importance: Some(0.9),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    let changes = store.record_changes(head).await.expect("changes");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes[0].deleted && changes[0].id == a.id);
    assert!(
        !changes[1].deleted && changes[1].id == b.id && changes[1].revision > changes[0].revision
    );
    assert!(
        store
            .record_changes(changes[1].revision)
            .await
            .expect("changes")
            .is_empty()
    );
    let got = store.get_records(&[a.id, b.id]).await.expect("get");
    assert_eq!(got.len(), 1, "the deleted one is gone");
    assert_eq!(got[0].revision, changes[1].revision);
    // Deleting the newest record: its tombstone is newer still, and the head never goes back.
    let newest = changes[1].revision;
    store.delete_record(&b.scope, b.id).await.expect("delete");
    let changes = store.record_changes(newest).await.expect("changes");
    assert!(
        changes.len() == 1 && changes[0].deleted && changes[0].revision > newest,
        "{changes:?}"
    );
    assert_eq!(
        store.record_head().await.expect("head"),
        changes[0].revision
    );

    let key = b.embedding_key();
    let vectors = store
        .embeddings(&model.id, std::slice::from_ref(&key))
        .await
        .expect("vectors");
    assert_eq!(vectors, vec![(key.clone(), embedding(&b).vector)]);
    assert!(
        store
            .embeddings("other", std::slice::from_ref(&key))
            .await
            .expect("vectors")
            .is_empty()
    );

    // Another model's records are refused, whole batch and all.
    let c = record("project:payments", RecordKind::Fact, "third", &[]);
    let other = Embedding {
        model: "other-model".into(),
        vector: vec![1.0, 0.0],
    };
    let err = store
        .store_records(&[(c.clone(), other.clone())])
        .await
        .expect_err("another model");
    assert!(matches!(err, Error::EmbedderMismatch { .. }), "{err}");
    assert!(err.to_string().contains("memory-cli reembed"), "{err}");
    assert_eq!(
        store.get_record(&c.scope, c.id).await.expect("get"),
        None,
        "nothing written"
    );
    // Switching keeps the new model's vectors and drops the rest.
    let next = EmbeddingModel {
        id: "other-model".into(),
        dimension: 2,
    };
    store
        .put_embeddings(&next, &[(key.clone(), vec![1.0, 0.0])])
        .await
        .expect("put");
    assert_eq!(
        store.embedding_model().await.expect("model"),
        Some(model.clone()),
        "put does not switch"
    );
    store.set_embedding_model(&next).await.expect("switch");
    assert_eq!(store.embedding_model().await.expect("model"), Some(next));
    assert!(
        store
            .embeddings(&model.id, std::slice::from_ref(&key))
            .await
            .expect("vectors")
            .is_empty()
    );
    store
        .store_records(&[(c.clone(), other)])
        .await
        .expect("the new model is accepted");
}

async fn dedup_and_isolation(store: &impl RecordStore) {
    let a = record(
        "project:payments",
        RecordKind::Fact,
        "Settlement retries use tokio::time::sleep",
        &["async"],
    );
    let stored = store
        .store_records(&[(a.clone(), embedding(&a))])
        .await
        .expect("store")
        .remove(0);
    assert_eq!(
        stored,
        Stored {
            id: a.id,
            duplicate: false
        }
    );
    assert_eq!(
        store.get_record(&a.scope, a.id).await.expect("get"),
        Some(a.clone()),
        "record round trip"
    );

    let again = record(
        "project:payments",
        RecordKind::Note,
        "Settlement retries use tokio::time::sleep",
        &[],
    );
    let dup = store
        .store_records(&[(again.clone(), embedding(&again))])
        .await
        .expect("store duplicate")
        .remove(0);
    assert_eq!(
        dup,
        Stored {
            id: a.id,
            duplicate: true
        },
        "same content, same scope: the existing id"
    );
    assert!(
        store
            .get_record(&a.scope, again.id)
            .await
            .expect("get")
            .is_none(),
        "nothing was written"
    );

    let other = record(
        "user:alice",
        RecordKind::Fact,
        "Settlement retries use tokio::time::sleep",
        &[],
    );
    let stored = store
        .store_records(&[(other.clone(), embedding(&other))])
        .await
        .expect("store in another scope")
        .remove(0);
    assert!(
        !stored.duplicate,
        "the same content in another scope is a new record"
    );

    let alice = scope("user:alice");
    assert!(
        store.get_record(&alice, a.id).await.expect("get").is_none(),
        "reads do not cross scopes"
    );
    let update = RecordUpdate {
        importance: Some(0.1),
        ..Default::default()
    };
    assert!(
        store
            .update_record(&alice, a.id, &update)
            .await
            .expect("update")
            .is_none()
    );
    assert!(
        !store.delete_record(&alice, a.id).await.expect("delete"),
        "deletes do not cross scopes"
    );
    assert_eq!(
        store.get_record(&a.scope, a.id).await.expect("get"),
        Some(a)
    );
}

async fn updates_and_deletes(store: &impl RecordStore) {
    let a = record(
        "project:web",
        RecordKind::Preference,
        "Prefer small pull requests",
        &["review"],
    );
    store
        .store_records(&[(a.clone(), embedding(&a))])
        .await
        .expect("store")
        .remove(0);
    let update = RecordUpdate {
        tags: Some(vec!["process".into(), "review-size".into()]),
        importance: Some(0.9),
        metadata: Some(Json::new(&json!({ "agreed": "2026-11-20" }))),
    };
    let updated = store
        .update_record(&a.scope, a.id, &update)
        .await
        .expect("update")
        .expect("present");
    assert_eq!(updated.tags, vec!["process", "review-size"]);
    assert_eq!(updated.importance, 0.9);
    assert_eq!(
        updated.metadata,
        Json::new(&json!({ "agreed": "2026-11-20" }))
    );
    assert_eq!(updated.content, a.content, "content is not updatable");
    assert!(updated.updated_at >= a.updated_at);
    assert_eq!(
        store.get_record(&a.scope, a.id).await.expect("get"),
        Some(updated)
    );
    let by_old_tag = RecordQuery {
        tags: Tags::any(["review"]),
        ..RecordQuery::new(a.scope.clone())
    };
    assert!(
        store
            .list_records(&by_old_tag)
            .await
            .expect("list")
            .is_empty(),
        "old tags are gone"
    );

    assert!(store.delete_record(&a.scope, a.id).await.expect("delete"));
    assert!(
        store
            .get_record(&a.scope, a.id)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        !store
            .delete_record(&a.scope, a.id)
            .await
            .expect("delete again")
    );
    assert!(
        store
            .update_record(&a.scope, RecordId::new(), &update)
            .await
            .expect("update")
            .is_none(),
        "updating an unknown id finds nothing"
    );
}

async fn listing_and_stats(store: &impl RecordStore) {
    let kinds = [RecordKind::Fact, RecordKind::Decision, RecordKind::Note];
    let mut stored = Vec::new();
    for i in 0..12 {
        let tags: &[&str] = if i % 2 == 0 { &["even"] } else { &[] };
        let r = record(
            "project:cli",
            kinds[i % 3],
            &format!("memory number {i}"),
            tags,
        );
        store
            .store_records(&[(r.clone(), embedding(&r))])
            .await
            .expect("store")
            .remove(0);
        stored.push(r);
    }
    let bob = record("user:bob", RecordKind::Note, "elsewhere", &["even"]);
    store
        .store_records(&[(bob.clone(), embedding(&bob))])
        .await
        .expect("store")
        .remove(0);
    let scope = scope("project:cli");
    stored.reverse();
    let all = store
        .list_records(&RecordQuery {
            limit: 100,
            ..RecordQuery::new(scope.clone())
        })
        .await
        .expect("list");
    assert_eq!(all, stored, "newest first, only this scope");
    let decisions = store
        .list_records(&RecordQuery {
            kind: Some(RecordKind::Decision),
            ..RecordQuery::new(scope.clone())
        })
        .await
        .expect("list");
    assert_eq!(decisions.len(), 4);
    let page = store
        .list_records(&RecordQuery {
            tags: Tags::any(["even"]),
            offset: 2,
            limit: 3,
            ..RecordQuery::new(scope.clone())
        })
        .await
        .expect("list");
    let even: Vec<_> = stored
        .iter()
        .filter(|r| r.tags.contains(&"even".to_string()))
        .cloned()
        .collect();
    assert_eq!(page, even[2..5].to_vec(), "tag filter with paging");
    // Several tags: any of them, or all of them.
    let tagged = [
        (Tags::any(["even", "nowhere"]), &even[..]),
        (Tags::all(["even", "nowhere"]), &[][..]),
        (Tags::all(["even"]), &even[..]),
    ];
    for (tags, expected) in tagged {
        let query = RecordQuery {
            limit: 100,
            ..RecordQuery::new(scope.clone())
        };
        let found = store.list_records(&RecordQuery { tags, ..query }).await;
        assert_eq!(found.expect("list"), expected);
    }

    let stats = store.record_stats(Some(&scope)).await.expect("stats");
    assert_eq!(stats.total, 12);
    assert_eq!(stats.by_kind.get("decision"), Some(&4));
    assert_eq!(stats.by_tag.get("even"), Some(&6));
    assert_eq!(stats.by_scope.len(), 1);
    let bytes: usize = stored.iter().map(|r| r.content.len()).sum();
    assert_eq!(stats.content_bytes, bytes as u64);
    assert_eq!(stats.oldest, stored.iter().map(|r| r.created_at).min());
    assert_eq!(stats.newest, stored.iter().map(|r| r.created_at).max());
    let everything = store.record_stats(None).await.expect("stats");
    assert_eq!(everything.total, 13);
    assert_eq!(everything.by_scope.get("user:bob"), Some(&1));
    assert_eq!(everything.by_tag.get("even"), Some(&7));
}
