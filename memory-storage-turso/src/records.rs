//! [`RecordStore`] for libSQL: memory records with per-scope content deduplication.

use async_trait::async_trait;
use libsql::{Row, Value};
use memory_core::{
    Embedding, Json, MemoryRecord, Ranking, RecordHit, RecordId, RecordKind, RecordQuery,
    RecordSearch, RecordStats, RecordStore, RecordUpdate, Result, Scope, Stored, Timestamp, cosine,
};

use crate::{
    TursoStore,
    db::Db,
    error::{MapErr, corrupt},
};

const COLUMNS: &str = "id, scope, kind, content, summary, context, tags, metadata, importance, source, \
     content_hash, created_at, updated_at";

fn text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::Text)
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

fn record_from_row(row: &Row) -> Result<MemoryRecord> {
    let id: String = row.get(0).db()?;
    let kind: String = row.get(2).db()?;
    Ok(MemoryRecord {
        id: id.parse().map_err(|e| corrupt("record id", e))?,
        scope: Scope::new(row.get::<String>(1).db()?).map_err(|e| corrupt("scope", e))?,
        kind: kind.parse().map_err(|e| corrupt("kind", e))?,
        content: row.get(3).db()?,
        summary: row.get(4).db()?,
        context: row.get(5).db()?,
        tags: serde_json::from_str(&row.get::<String>(6).db()?).map_err(|e| corrupt("tags", e))?,
        metadata: Json::from_stored(row.get(7).db()?).map_err(|e| corrupt("metadata", e))?,
        importance: row.get(8).db()?,
        source: row.get(9).db()?,
        content_hash: row.get(10).db()?,
        created_at: Timestamp::from_micros(row.get(11).db()?),
        updated_at: Timestamp::from_micros(row.get(12).db()?),
    })
}

async fn read(db: &Db, scope: &Scope, id: RecordId) -> Result<Option<MemoryRecord>> {
    const SQL: &str = "SELECT id, scope, kind, content, summary, context, tags, metadata, importance, source, \
         content_hash, created_at, updated_at FROM memory_records WHERE id = ?1 AND scope = ?2";
    db.query_first(
        SQL,
        (id.to_string(), scope.as_str().to_string()),
        record_from_row,
    )
    .await
}

async fn write_tags(db: &Db, id: RecordId, tags: &[String]) -> Result<()> {
    db.execute(
        "DELETE FROM memory_record_tags WHERE record_id = ?1",
        [id.to_string()],
    )
    .await?;
    for tag in tags {
        db.execute(
            "INSERT OR IGNORE INTO memory_record_tags (tag, record_id) VALUES (?1, ?2)",
            (tag.as_str(), id.to_string()),
        )
        .await?;
    }
    Ok(())
}

/// English words too common to tell records apart. BM25 gives them almost no weight anyway, but every record
/// containing one would still be scored, so they are left out of the query (unless the query is nothing else).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "i", "in", "is", "it", "its", "of", "on", "or", "that", "the",
    "their", "there", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why",
    "will", "with", "you",
];

/// Turns plain words into an FTS5 query: every word becomes a quoted term, and the terms are OR-ed so BM25 ranks
/// records by how many of them they contain and how rare those are. Quoting keeps FTS5's operators (`AND`, `*`,
/// `:`, `"`) in user text from being interpreted. `None` when the text has no word at all.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let content: Vec<&String> = words
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect();
    let terms: Vec<String> = if content.is_empty() {
        words.iter().map(|w| format!("\"{w}\"")).collect()
    } else {
        content.iter().map(|w| format!("\"{w}\"")).collect()
    };
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// Appends the optional kind and tag filters to a `WHERE` clause; `table` prefixes the columns (`"r."` or `""`).
fn filter(
    sql: &mut String,
    params: &mut Vec<Value>,
    table: &str,
    kind: Option<RecordKind>,
    tag: Option<&str>,
) {
    if let Some(kind) = kind {
        params.push(Value::Text(kind.as_str().into()));
        sql.push_str(&format!(" AND {table}kind = ?{}", params.len()));
    }
    if let Some(tag) = tag {
        params.push(Value::Text(tag.into()));
        sql.push_str(&format!(
            " AND {table}id IN (SELECT record_id FROM memory_record_tags WHERE tag = ?{})",
            params.len()
        ));
    }
}

/// Candidates each list contributes to a hybrid search.
const CANDIDATES: u32 = 50;
/// The `k` of reciprocal-rank fusion: a record at rank `r` of a list scores `1 / (k + r)` from it.
const RRF_K: f64 = 60.0;

fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Reciprocal-rank fusion of a lexical and a semantic list, best first, at most `limit`.
fn fuse(lexical: Vec<RecordHit>, semantic: Vec<RecordHit>, limit: usize) -> Vec<RecordHit> {
    let mut fused: Vec<RecordHit> = Vec::new();
    for (list, is_lexical) in [(lexical, true), (semantic, false)] {
        for (rank, hit) in list.into_iter().enumerate() {
            let share = 1.0 / (RRF_K + rank as f64 + 1.0);
            match fused.iter_mut().find(|h| h.record.id == hit.record.id) {
                Some(existing) => {
                    existing.score += share;
                    if is_lexical {
                        existing.bm25 = hit.bm25;
                    } else {
                        existing.cosine = hit.cosine;
                    }
                }
                None => fused.push(RecordHit {
                    score: share,
                    ..hit
                }),
            }
        }
    }
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.record.id.cmp(&b.record.id))
    });
    fused.truncate(limit);
    fused
}

impl TursoStore {
    /// The best `limit` records of the search's scope and filters by BM25.
    async fn bm25(&self, search: &RecordSearch, limit: u32) -> Result<Vec<RecordHit>> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // The inner query ranks and cuts to `limit` reading only what the filters need; the outer one reads the
        // whole rows of the winners alone.
        let mut sql = String::from(
            "SELECT memory_records_fts.rowid AS rid, bm25(memory_records_fts) AS score, r.id AS record_id \
             FROM memory_records_fts JOIN memory_records r ON r.rowid = memory_records_fts.rowid \
             WHERE memory_records_fts MATCH ?1 AND r.scope = ?2",
        );
        let Some(query) = fts_query(&search.text) else {
            return Ok(Vec::new());
        };
        let mut params = vec![Value::Text(query), Value::Text(search.scope.to_string())];
        filter(
            &mut sql,
            &mut params,
            "r.",
            search.kind,
            search.tag.as_deref(),
        );
        params.push(Value::Integer(i64::from(limit)));
        sql.push_str(&format!(
            " ORDER BY score, record_id LIMIT ?{}",
            params.len()
        ));
        let sql = format!(
            "SELECT {columns}, s.score FROM ({sql}) s JOIN memory_records r ON r.rowid = s.rid ORDER BY s.score, r.id"
        );
        self.read(|db| async move {
            let mut rows = db.conn.query(&sql, params).await.db()?;
            let mut hits = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                // SQLite's bm25() is lower for better matches; the hit carries it negated, higher is better.
                let bm25 = -row.get::<f64>(13).db()?;
                hits.push(RecordHit {
                    record: record_from_row(&row)?,
                    score: bm25,
                    bm25: Some(bm25),
                    cosine: None,
                });
            }
            Ok(hits)
        })
        .await
    }

    /// The `limit` records of the search's scope and filters whose embeddings (by the same model) are nearest to
    /// `embedding`. An exact scan: every vector of the scope is compared.
    async fn nearest(
        &self,
        search: &RecordSearch,
        embedding: &Embedding,
        limit: u32,
    ) -> Result<Vec<RecordHit>> {
        let mut sql = String::from(
            "SELECT id, embedding FROM memory_records WHERE scope = ?1 AND embedding_model = ?2",
        );
        let mut params = vec![
            Value::Text(search.scope.to_string()),
            Value::Text(embedding.model.clone()),
        ];
        filter(
            &mut sql,
            &mut params,
            "",
            search.kind,
            search.tag.as_deref(),
        );
        let query = embedding.vector.clone();
        let scope = search.scope.clone();
        self.read(|db| async move {
            let mut rows = db.conn.query(&sql, params).await.db()?;
            let mut scored: Vec<(f64, String)> = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                let vector = vector_from_bytes(&row.get::<Vec<u8>>(1).db()?);
                scored.push((
                    f64::from(cosine(&query, &vector)),
                    row.get::<String>(0).db()?,
                ));
            }
            drop(rows);
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            scored.truncate(limit as usize);
            let mut hits = Vec::with_capacity(scored.len());
            for (similarity, id) in scored {
                let id: RecordId = id.parse().map_err(|e| corrupt("record id", e))?;
                if let Some(record) = read(&db, &scope, id).await? {
                    hits.push(RecordHit {
                        record,
                        score: similarity,
                        bm25: None,
                        cosine: Some(similarity),
                    });
                }
            }
            Ok(hits)
        })
        .await
    }
}

#[async_trait]
impl RecordStore for TursoStore {
    async fn store_record(
        &self,
        record: &MemoryRecord,
        embedding: Option<&Embedding>,
    ) -> Result<Stored> {
        self.write(|db| async move {
            let existing = db
                .query_first(
                    "SELECT id FROM memory_records WHERE scope = ?1 AND content_hash = ?2",
                    (record.scope.to_string(), record.content_hash.clone()),
                    |row| row.get::<String>(0).db(),
                )
                .await?;
            if let Some(id) = existing {
                return Ok(Stored {
                    id: id.parse().map_err(|e| corrupt("record id", e))?,
                    duplicate: true,
                });
            }
            db.execute(
                "INSERT INTO memory_records (id, scope, kind, content, summary, context, tags, metadata, \
                 importance, source, content_hash, created_at, updated_at, embedding, embedding_model) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                vec![
                    Value::Text(record.id.to_string()),
                    Value::Text(record.scope.to_string()),
                    Value::Text(record.kind.as_str().into()),
                    Value::Text(record.content.clone()),
                    text(&record.summary),
                    text(&record.context),
                    Value::Text(tags_json(&record.tags)),
                    Value::Text(record.metadata.to_text()),
                    Value::Real(record.importance),
                    text(&record.source),
                    Value::Text(record.content_hash.clone()),
                    Value::Integer(record.created_at.as_micros()),
                    Value::Integer(record.updated_at.as_micros()),
                    embedding.map_or(Value::Null, |e| Value::Blob(vector_bytes(&e.vector))),
                    embedding.map_or(Value::Null, |e| Value::Text(e.model.clone())),
                ],
            )
            .await?;
            write_tags(&db, record.id, &record.tags).await?;
            Ok(Stored {
                id: record.id,
                duplicate: false,
            })
        })
        .await
    }

    async fn get_record(&self, scope: &Scope, id: RecordId) -> Result<Option<MemoryRecord>> {
        self.read(|db| async move { read(&db, scope, id).await })
            .await
    }

    async fn update_record(
        &self,
        scope: &Scope,
        id: RecordId,
        update: &RecordUpdate,
    ) -> Result<Option<MemoryRecord>> {
        self.write(|db| async move {
            let Some(mut record) = read(&db, scope, id).await? else {
                return Ok(None);
            };
            if let Some(tags) = &update.tags {
                record.tags = tags.clone();
                write_tags(&db, id, tags).await?;
            }
            if let Some(importance) = update.importance {
                record.importance = importance;
            }
            if let Some(metadata) = &update.metadata {
                record.metadata = metadata.clone();
            }
            record.updated_at = Timestamp::now().max(record.updated_at);
            db.execute(
                "UPDATE memory_records SET tags = ?1, importance = ?2, metadata = ?3, updated_at = ?4 WHERE id = ?5",
                vec![
                    Value::Text(tags_json(&record.tags)),
                    Value::Real(record.importance),
                    Value::Text(record.metadata.to_text()),
                    Value::Integer(record.updated_at.as_micros()),
                    Value::Text(id.to_string()),
                ],
            )
            .await?;
            Ok(Some(record))
        })
        .await
    }

    async fn delete_record(&self, scope: &Scope, id: RecordId) -> Result<bool> {
        self.write(|db| async move {
            let deleted = db
                .execute(
                    "DELETE FROM memory_records WHERE id = ?1 AND scope = ?2",
                    (id.to_string(), scope.to_string()),
                )
                .await?;
            if deleted > 0 {
                db.execute(
                    "DELETE FROM memory_record_tags WHERE record_id = ?1",
                    [id.to_string()],
                )
                .await?;
            }
            Ok(deleted > 0)
        })
        .await
    }

    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<MemoryRecord>> {
        query.validate()?;
        let mut sql = format!("SELECT {COLUMNS} FROM memory_records WHERE scope = ?1");
        let mut params = vec![Value::Text(query.scope.to_string())];
        filter(&mut sql, &mut params, "", query.kind, query.tag.as_deref());
        params.push(Value::Integer(i64::from(query.limit)));
        params.push(Value::Integer(i64::from(query.offset)));
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT ?{} OFFSET ?{}",
            params.len() - 1,
            params.len()
        ));
        self.read(|db| async move {
            let mut rows = db.conn.query(&sql, params).await.db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().await.db()? {
                out.push(record_from_row(&row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn search_records(&self, search: &RecordSearch) -> Result<Vec<RecordHit>> {
        search.validate()?;
        let candidates = search.limit.max(CANDIDATES);
        match (search.ranking, &search.embedding) {
            (Ranking::Bm25, _) | (_, None) => self.bm25(search, search.limit).await,
            (Ranking::Vector, Some(embedding)) => {
                self.nearest(search, embedding, search.limit).await
            }
            (Ranking::Hybrid, Some(embedding)) => {
                let lexical = self.bm25(search, candidates).await?;
                let semantic = self.nearest(search, embedding, candidates).await?;
                Ok(fuse(lexical, semantic, search.limit as usize))
            }
        }
    }

    async fn record_stats(&self, scope: Option<&Scope>) -> Result<RecordStats> {
        let filter = scope.map_or(Value::Null, |s| Value::Text(s.to_string()));
        self.read(|db| async move {
            let mut stats = RecordStats {
                scope: scope.map(Scope::to_string),
                ..Default::default()
            };
            let totals = db
                .query_first(
                    "SELECT count(*), coalesce(sum(length(CAST(content AS BLOB))), 0), min(created_at), \
                     max(created_at) FROM memory_records WHERE ?1 IS NULL OR scope = ?1",
                    [filter.clone()],
                    |row| {
                        Ok((
                            row.get::<i64>(0).db()?,
                            row.get::<i64>(1).db()?,
                            row.get::<Option<i64>>(2).db()?,
                            row.get::<Option<i64>>(3).db()?,
                        ))
                    },
                )
                .await?
                .unwrap_or((0, 0, None, None));
            stats.total = totals.0.max(0) as u64;
            stats.content_bytes = totals.1.max(0) as u64;
            stats.oldest = totals.2.map(Timestamp::from_micros);
            stats.newest = totals.3.map(Timestamp::from_micros);
            let count = |row: &Row| Ok((row.get::<String>(0).db()?, row.get::<i64>(1).db()?.max(0) as u64));
            stats.by_kind = db
                .query_map(
                    "SELECT kind, count(*) FROM memory_records WHERE ?1 IS NULL OR scope = ?1 GROUP BY kind",
                    [filter.clone()],
                    count,
                )
                .await?
                .into_iter()
                .collect();
            stats.by_scope = db
                .query_map(
                    "SELECT scope, count(*) FROM memory_records WHERE ?1 IS NULL OR scope = ?1 GROUP BY scope",
                    [filter.clone()],
                    count,
                )
                .await?
                .into_iter()
                .collect();
            stats.by_tag = db
                .query_map(
                    "SELECT t.tag, count(*) FROM memory_record_tags t JOIN memory_records r ON r.id = t.record_id \
                     WHERE ?1 IS NULL OR r.scope = ?1 GROUP BY t.tag",
                    [filter],
                    count,
                )
                .await?
                .into_iter()
                .collect();
            Ok(stats)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_text_becomes_quoted_or_terms() {
        assert_eq!(
            fts_query("Why is the *settlement* test \"flaky\"?").as_deref(),
            Some(r#""settlement" OR "test" OR "flaky""#)
        );
        assert_eq!(
            fts_query("Who was it?").as_deref(),
            Some(r#""who" OR "was" OR "it""#),
            "only stopwords: kept"
        );
        assert_eq!(
            fts_query("tokio::time::pause").as_deref(),
            Some(r#""tokio" OR "time" OR "pause""#)
        );
        assert_eq!(
            fts_query("NEAR(x b) AND c").as_deref(),
            Some(r#""near" OR "x" OR "b" OR "c""#)
        );
        assert_eq!(fts_query("?! -- :"), None);
    }
}
