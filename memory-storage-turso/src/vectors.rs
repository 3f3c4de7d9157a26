//! Vectors and the store's embedding model: `embeddings` rows (key, model, little-endian f32 bytes) and the
//! `embedding_model` / `embedding_dimension` entries of `store_meta`.

use libsql::Value;
use memory_core::{EmbeddingModel, Error, Result};

use crate::{
    db::Db,
    error::{MapErr, corrupt},
    rows::{Insert, insert_sql, placeholders},
};

pub(crate) fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub(crate) async fn stored_model(db: &Db) -> Result<Option<EmbeddingModel>> {
    let rows = db
        .query_map(
            "SELECT key, value FROM store_meta WHERE key IN ('embedding_model', 'embedding_dimension')",
            (),
            |row| Ok((row.get::<String>(0).db()?, row.get::<String>(1).db()?)),
        )
        .await?;
    let get = |k: &str| {
        rows.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    match (get("embedding_model"), get("embedding_dimension")) {
        (Some(id), Some(dimension)) => Ok(Some(EmbeddingModel {
            id,
            dimension: dimension
                .parse()
                .map_err(|e| corrupt("embedding_dimension", e))?,
        })),
        _ => Ok(None),
    }
}

/// Records `model` as the store's model unless it has one; fails if it has another.
pub(crate) async fn claim_model(db: &Db, model: &EmbeddingModel) -> Result<()> {
    match stored_model(db).await? {
        Some(stored) if stored.id != model.id => Err(Error::EmbedderMismatch {
            stored: stored.id,
            configured: model.id.clone(),
        }),
        Some(_) => Ok(()),
        None => write_model(db, model).await,
    }
}

pub(crate) async fn write_model(db: &Db, model: &EmbeddingModel) -> Result<()> {
    db.execute(
        "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('embedding_model', ?1), ('embedding_dimension', ?2)",
        (model.id.clone(), model.dimension.to_string()),
    )
    .await?;
    Ok(())
}

pub(crate) async fn put_vectors(
    db: &Db,
    model: &str,
    vectors: &[(String, Vec<f32>)],
) -> Result<()> {
    let rows = vectors
        .iter()
        .map(|(key, vector)| {
            vec![
                Value::Text(key.clone()),
                Value::Text(model.to_string()),
                Value::Blob(vector_bytes(vector)),
            ]
        })
        .collect();
    VECTORS.rows(db, rows).await
}

const VECTOR_HEAD: &str = "INSERT OR IGNORE INTO embeddings (key, model, vector) VALUES";
/// Inserts vectors unless their key and model have one; bind with `(key, model, vector)`.
pub(crate) static VECTORS: Insert = Insert::new(
    || insert_sql(VECTOR_HEAD, 3, 1),
    || insert_sql(VECTOR_HEAD, 3, Insert::CHUNK),
);

/// The stored vectors of `model` for `keys` (at most 999 of them), as `(key, vector)`.
pub(crate) async fn read_vectors(
    db: &Db,
    model: &str,
    keys: &[String],
) -> Result<Vec<(String, Vec<f32>)>> {
    let sql = format!(
        "SELECT key, vector FROM embeddings WHERE model = ?1 AND key IN ({})",
        placeholders(2, keys.len())
    );
    let mut params = vec![Value::Text(model.to_string())];
    params.extend(keys.iter().map(|k| Value::Text(k.clone())));
    let mut rows = db.conn.query(&sql, params).await.db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.db()? {
        out.push((
            row.get::<String>(0).db()?,
            vector_from_bytes(&row.get::<Vec<u8>>(1).db()?),
        ));
    }
    Ok(out)
}
