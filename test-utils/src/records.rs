//! The conformance suite for [`RecordStore`]s: dedup, scope isolation, updates, listing and statistics.

use std::future::Future;

use memory_core::{
    Embedder, Embedding, Json, LexicalEmbedder, MemoryRecord, NewRecord, Ranking, RecordId,
    RecordKind, RecordQuery, RecordSearch, RecordStore, RecordUpdate, Scope, Stored,
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
    search(&fresh().await).await;
}

async fn search(store: &impl RecordStore) {
    let flaky = record(
        "project:payments",
        RecordKind::Fact,
        "The settlement test is flaky because retries sleep on the wall clock; tokio::time::pause fixes it",
        &["testing"],
    );
    let deploys = record(
        "project:payments",
        RecordKind::Note,
        "Deploys go out on Tuesdays after the standup",
        &[],
    );
    let backoff = record(
        "project:payments",
        RecordKind::Decision,
        "Use exponential backoff with jitter for webhook retries",
        &[],
    );
    let alice = record(
        "user:alice",
        RecordKind::Note,
        "flaky settlement test notes from alice",
        &[],
    );
    for r in [&flaky, &deploys, &backoff, &alice] {
        store
            .store_record(r, Some(&embedding(r)))
            .await
            .expect("store");
    }
    let query = |text: &str| RecordSearch {
        scope: flaky.scope.clone(),
        text: text.into(),
        kind: None,
        tag: None,
        limit: 10,
        ranking: Ranking::Bm25,
        embedding: None,
    };
    let hits = store
        .search_records(&query("Why is the settlement test flaky?"))
        .await
        .expect("search");
    assert_eq!(
        hits.first().map(|h| h.record.id),
        Some(flaky.id),
        "the matching record ranks first"
    );
    assert!(
        hits.iter().all(|h| h.record.scope == flaky.scope),
        "search stays in its scope"
    );
    assert!(
        hits.windows(2).all(|w| w[0].bm25 >= w[1].bm25),
        "best first"
    );
    assert_eq!(hits[0].record, flaky);

    let decisions = RecordSearch {
        kind: Some(RecordKind::Decision),
        ..query("retries")
    };
    let found: Vec<_> = store
        .search_records(&decisions)
        .await
        .expect("search")
        .into_iter()
        .map(|h| h.record.id)
        .collect();
    assert_eq!(found, vec![backoff.id], "kind filter");
    let tagged = RecordSearch {
        tag: Some("testing".into()),
        ..query("retries clock")
    };
    let found: Vec<_> = store
        .search_records(&tagged)
        .await
        .expect("search")
        .into_iter()
        .map(|h| h.record.id)
        .collect();
    assert_eq!(found, vec![flaky.id], "tag filter");
    // FTS5 operators in user text are quoted as words: a search for them runs instead of failing to parse.
    store
        .search_records(&query("AND OR \"* : NEAR("))
        .await
        .expect("operators are searched as words");
    assert!(
        store
            .search_records(&query("?!"))
            .await
            .expect("no words")
            .is_empty()
    );

    assert!(
        store
            .delete_record(&flaky.scope, flaky.id)
            .await
            .expect("delete")
    );
    let after = store
        .search_records(&query("settlement flaky"))
        .await
        .expect("search");
    assert!(
        after.iter().all(|h| h.record.id != flaky.id),
        "a deleted record is not found"
    );
}

async fn dedup_and_isolation(store: &impl RecordStore) {
    let a = record(
        "project:payments",
        RecordKind::Fact,
        "Settlement retries use tokio::time::sleep",
        &["async"],
    );
    let stored = store
        .store_record(&a, Some(&embedding(&a)))
        .await
        .expect("store");
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
        .store_record(&again, Some(&embedding(&again)))
        .await
        .expect("store duplicate");
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
        .store_record(&other, Some(&embedding(&other)))
        .await
        .expect("store in another scope");
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
        .store_record(&a, Some(&embedding(&a)))
        .await
        .expect("store");
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
        tag: Some("review".into()),
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
            .store_record(&r, Some(&embedding(&r)))
            .await
            .expect("store");
        stored.push(r);
    }
    let bob = record("user:bob", RecordKind::Note, "elsewhere", &["even"]);
    store
        .store_record(&bob, Some(&embedding(&bob)))
        .await
        .expect("store");
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
            tag: Some("even".into()),
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
