//! [`RecordStore`] for libSQL: memory records with per-scope content deduplication.

use async_trait::async_trait;
use libsql::{Row, Value};
use std::collections::HashMap;

use memory_core::{
    Embedding, EmbeddingModel, Error, Json, MemoryRecord, RecordChange, RecordId, RecordKind,
    RecordQuery, RecordStats, RecordStore, RecordUpdate, Result, Revision, Scope, Stored,
    Timestamp, Versioned,
};

use crate::{
    TursoStore,
    db::Db,
    error::{MapErr, corrupt},
    rows::{Insert, insert_sql, placeholders},
    vectors::{
        VECTORS, claim_model, put_vectors, read_vectors, stored_model, vector_bytes, write_model,
    },
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

/// Sets the tags of record `id`; `replace` drops the ones it had (a new record has none).
async fn write_tags(db: &Db, id: RecordId, tags: &[String], replace: bool) -> Result<()> {
    if replace {
        db.execute(
            "DELETE FROM memory_record_tags WHERE record_id = ?1",
            [id.to_string()],
        )
        .await?;
    }
    for tag in tags {
        db.execute(
            "INSERT OR IGNORE INTO memory_record_tags (tag, record_id) VALUES (?1, ?2)",
            (tag.as_str(), id.to_string()),
        )
        .await?;
    }
    Ok(())
}

/// Appends the optional kind and tag filters to a `WHERE` clause; `table` prefixes the columns (`"r."` or `""`).
fn filter(
    sql: &mut String,
    params: &mut Vec<Value>,
    table: &str,
    kind: Option<RecordKind>,
    tags: &memory_core::Tags,
) {
    if let Some(kind) = kind {
        params.push(Value::Text(kind.as_str().into()));
        sql.push_str(&format!(" AND {table}kind = ?{}", params.len()));
    }
    if !tags.is_empty() {
        let clause = crate::sql::tagged(
            &format!("{table}id"),
            "SELECT record_id FROM memory_record_tags",
            tags,
            params,
        );
        sql.push_str(&format!(" AND {clause}"));
    }
}

/// The revision for a record write; call inside the write transaction.
async fn next_revision(db: &Db) -> Result<Revision> {
    Ok(db
        .query_first(HEAD, (), |row| row.get::<i64>(0).db())
        .await?
        .unwrap_or(0) as Revision
        + 1)
}

/// The latest record revision: the largest stamp on a record or a tombstone.
const HEAD: &str = "SELECT max(coalesce((SELECT max(revision) FROM memory_records), 0), \
     coalesce((SELECT max(revision) FROM memory_record_tombstones), 0))";

const RECORD_HEAD: &str = "INSERT INTO memory_records (id, scope, kind, content, summary, context, tags, metadata, \
     importance, source, content_hash, created_at, updated_at, revision) VALUES";
/// Inserts records; bind with [`record_params`].
static RECORDS: Insert = Insert::new(
    || insert_sql(RECORD_HEAD, 14, 1),
    || insert_sql(RECORD_HEAD, 14, Insert::CHUNK),
);
const RECORD_TAG_HEAD: &str = "INSERT OR IGNORE INTO memory_record_tags (tag, record_id) VALUES";
/// Inserts tags; bind with `(tag, record_id)`.
static RECORD_TAGS: Insert = Insert::new(
    || insert_sql(RECORD_TAG_HEAD, 2, 1),
    || insert_sql(RECORD_TAG_HEAD, 2, Insert::CHUNK),
);
fn record_params(record: &MemoryRecord, revision: Revision) -> Vec<Value> {
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
        Value::Integer(revision as i64),
    ]
}

/// Stores `records` with their vectors in the transaction open on `db`, at one new revision, skipping those whose
/// content their scope holds already (reported as duplicates). Every vector must be of one model, the store's.
pub(crate) async fn insert_records(
    db: &Db,
    records: &[(MemoryRecord, Embedding)],
) -> Result<Vec<Stored>> {
    let Some((_, first)) = records.first() else {
        return Ok(Vec::new());
    };
    if records.iter().any(|(_, e)| e.model != first.model) {
        return Err(Error::validation(
            "embedding",
            "every record of a batch must be embedded by one model",
        ));
    }
    let model = EmbeddingModel {
        id: first.model.clone(),
        dimension: first.vector.len(),
    };
    claim_model(db, &model).await?;
    let revision = next_revision(db).await?;
    let mut known = existing(db, records).await?;
    let (mut stored, mut rows, mut tags, mut vectors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (record, embedding) in records {
        let hash = (record.scope.to_string(), record.content_hash.clone());
        if let Some(&id) = known.get(&hash) {
            stored.push(Stored {
                id,
                duplicate: true,
            });
            continue;
        }
        known.insert(hash, record.id);
        rows.push(record_params(record, revision));
        for tag in &record.tags {
            tags.push(vec![
                Value::Text(tag.clone()),
                Value::Text(record.id.to_string()),
            ]);
        }
        vectors.push(vec![
            Value::Text(record.embedding_key()),
            Value::Text(model.id.clone()),
            Value::Blob(vector_bytes(&embedding.vector)),
        ]);
        stored.push(Stored {
            id: record.id,
            duplicate: false,
        });
    }
    RECORDS.rows(db, rows).await?;
    RECORD_TAGS.rows(db, tags).await?;
    VECTORS.rows(db, vectors).await?;
    Ok(stored)
}

/// The ids of the records already stored under the batch's `(scope, content hash)` pairs.
async fn existing(
    db: &Db,
    records: &[(MemoryRecord, Embedding)],
) -> Result<HashMap<(String, String), RecordId>> {
    let mut by_scope: HashMap<&Scope, Vec<&str>> = HashMap::new();
    for (r, _) in records {
        by_scope.entry(&r.scope).or_default().push(&r.content_hash);
    }
    let mut known = HashMap::new();
    for (scope, hashes) in by_scope {
        for chunk in hashes.chunks(500) {
            let sql = format!(
                "SELECT content_hash, id FROM memory_records WHERE scope = ?1 AND content_hash IN ({})",
                placeholders(2, chunk.len())
            );
            let mut params = vec![Value::Text(scope.to_string())];
            params.extend(chunk.iter().map(|h| Value::Text(h.to_string())));
            let mut rows = db.conn.query(&sql, params).await.db()?;
            while let Some(row) = rows.next().await.db()? {
                let id: String = row.get(1).db()?;
                let id = id.parse().map_err(|e| corrupt("record id", e))?;
                known.insert((scope.to_string(), row.get::<String>(0).db()?), id);
            }
        }
    }
    Ok(known)
}

const VERSIONED_COLUMNS: &str = "id, scope, kind, content, summary, context, tags, metadata, importance, source, \
     content_hash, created_at, updated_at, revision";

fn versioned_from_row(row: &Row) -> Result<Versioned<MemoryRecord>> {
    Ok(Versioned {
        value: record_from_row(row)?,
        revision: row.get::<i64>(13).db()? as Revision,
    })
}

#[async_trait]
impl RecordStore for TursoStore {
    async fn store_records(&self, records: &[(MemoryRecord, Embedding)]) -> Result<Vec<Stored>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|db| async move { insert_records(&db, records).await })
            .await
    }

    async fn get_records(&self, ids: &[RecordId]) -> Result<Vec<Versioned<MemoryRecord>>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT {VERSIONED_COLUMNS} FROM memory_records WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let params: Vec<Value> = chunk.iter().map(|id| Value::Text(id.to_string())).collect();
            let rows = self
                .read(|db| async move {
                    let mut rows = db.conn.query(&sql, params).await.db()?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next().await.db()? {
                        out.push(versioned_from_row(&row)?);
                    }
                    Ok(out)
                })
                .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn scan_records(
        &self,
        scope: &Scope,
        after: Option<RecordId>,
        limit: u32,
    ) -> Result<Vec<Versioned<MemoryRecord>>> {
        const SQL: &str = "SELECT id, scope, kind, content, summary, context, tags, metadata, importance, \
             source, content_hash, created_at, updated_at, revision FROM memory_records \
             WHERE scope = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
        let after = after.map_or(String::new(), |id| id.to_string());
        self.read(|db| async move {
            db.query_map(
                SQL,
                (scope.to_string(), after, i64::from(limit)),
                versioned_from_row,
            )
            .await
        })
        .await
    }

    async fn record_head(&self) -> Result<Revision> {
        self.read(|db| async move {
            Ok(db
                .query_first(HEAD, (), |row| row.get::<i64>(0).db())
                .await?
                .unwrap_or(0) as Revision)
        })
        .await
    }

    async fn record_changes(&self, after: Revision) -> Result<Vec<RecordChange>> {
        const SQL: &str = "SELECT id, scope, revision, 0 FROM memory_records WHERE revision > ?1 \
             UNION ALL SELECT id, scope, revision, 1 FROM memory_record_tombstones WHERE revision > ?1 \
             ORDER BY 3";
        self.read(|db| async move {
            db.query_map(SQL, [after as i64], |row| {
                Ok(RecordChange {
                    id: row
                        .get::<String>(0)
                        .db()?
                        .parse()
                        .map_err(|e| corrupt("record id", e))?,
                    scope: Scope::new(row.get::<String>(1).db()?)
                        .map_err(|e| corrupt("scope", e))?,
                    revision: row.get::<i64>(2).db()? as Revision,
                    deleted: row.get::<i64>(3).db()? != 0,
                })
            })
            .await
        })
        .await
    }

    async fn embedding_model(&self) -> Result<Option<EmbeddingModel>> {
        self.read(|db| async move { stored_model(&db).await }).await
    }

    async fn embeddings(&self, model: &str, keys: &[String]) -> Result<Vec<(String, Vec<f32>)>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            out.extend(
                self.read(|db| async move { read_vectors(&db, model, chunk).await })
                    .await?,
            );
        }
        Ok(out)
    }

    async fn put_embeddings(
        &self,
        model: &EmbeddingModel,
        vectors: &[(String, Vec<f32>)],
    ) -> Result<()> {
        self.write(|db| async move {
            if stored_model(&db).await?.is_none() {
                write_model(&db, model).await?;
            }
            put_vectors(&db, &model.id, vectors).await
        })
        .await
    }

    async fn set_embedding_model(&self, model: &EmbeddingModel) -> Result<()> {
        self.write(|db| async move {
            write_model(&db, model).await?;
            db.execute(
                "DELETE FROM embeddings WHERE model <> ?1",
                [model.id.clone()],
            )
            .await?;
            Ok(())
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
                write_tags(&db, id, tags, true).await?;
            }
            if let Some(importance) = update.importance {
                record.importance = importance;
            }
            if let Some(metadata) = &update.metadata {
                record.metadata = metadata.clone();
            }
            record.updated_at = Timestamp::now().max(record.updated_at);
            let revision = next_revision(&db).await?;
            db.execute(
                "UPDATE memory_records SET tags = ?1, importance = ?2, metadata = ?3, updated_at = ?4, \
                 revision = ?5 WHERE id = ?6",
                vec![
                    Value::Text(tags_json(&record.tags)),
                    Value::Real(record.importance),
                    Value::Text(record.metadata.to_text()),
                    Value::Integer(record.updated_at.as_micros()),
                    Value::Integer(revision as i64),
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
            // Taken before the row goes: were it the newest, the head would drop and the tombstone's stamp
            // could fall below the record's own, so followers would never apply the deletion.
            let revision = next_revision(&db).await?;
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
                db.execute(
                    "INSERT OR REPLACE INTO memory_record_tombstones (id, scope, revision) VALUES (?1, ?2, ?3)",
                    (id.to_string(), scope.to_string(), revision as i64),
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
        filter(&mut sql, &mut params, "", query.kind, &query.tags);
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
