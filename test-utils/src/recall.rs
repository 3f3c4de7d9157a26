//! How well the index's vector search finds what an exact scan finds: used by the benches.

use memory_core::{Ranking, RecordId, Records, Scope, Search, cosine};

/// Every stored vector of `scope` by the records' embedder, read straight from the store.
pub async fn stored_vectors(records: &Records, scope: &Scope) -> Vec<(RecordId, Vec<f32>)> {
    let store = records.backend();
    let model = records.embedder().id().to_string();
    let (mut out, mut after) = (Vec::new(), None);
    loop {
        let page = store.scan_records(scope, after, 1000).await.expect("scan");
        let Some(last) = page.last() else { break };
        after = Some(last.value.id);
        let keys: Vec<String> = page.iter().map(|v| v.value.embedding_key()).collect();
        let vectors: std::collections::HashMap<String, Vec<f32>> = store
            .embeddings(&model, &keys)
            .await
            .expect("vectors")
            .into_iter()
            .collect();
        for (v, key) in page.iter().zip(&keys) {
            if let Some(vector) = vectors.get(key) {
                out.push((v.value.id, vector.clone()));
            }
        }
    }
    out
}

/// Recall@10 of vector search on `scope` for `queries`, against an exact cosine scan of the stored vectors.
pub async fn vector_recall_at_10(records: &Records, scope: &Scope, queries: &[String]) -> f64 {
    let stored = stored_vectors(records, scope).await;
    let (mut found, mut total) = (0, 0);
    for q in queries {
        let v = records
            .embedder()
            .embed(&[q.as_str()])
            .expect("embed")
            .remove(0);
        let mut exact: Vec<(f32, RecordId)> =
            stored.iter().map(|(id, x)| (cosine(&v, x), *id)).collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let search = Search {
            ranking: Ranking::Vector,
            ..Search::new(scope.clone(), q.clone())
        };
        let got = records.search(&search).await.expect("search");
        total += 10;
        found += exact
            .iter()
            .take(10)
            .filter(|(_, id)| got.iter().any(|h| h.record.id == *id))
            .count();
    }
    found as f64 / total.max(1) as f64
}
