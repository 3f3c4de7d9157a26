//! Versioned, forward-only migrations, recorded with checksums in `schema_migrations`.

use libsql::{Connection, TransactionBehavior};
use memory_core::{Error, Result, Timestamp};
use sha2::{Digest, Sha256};

use crate::{
    db::Db,
    error::MapErr,
    store::{not_a_database, transaction},
};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Released migrations are never edited: a change is a new migration.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "episodes",
        sql: include_str!("migrations/0001_episodes.sql"),
    },
    Migration {
        version: 2,
        name: "memory_records",
        sql: include_str!("migrations/0002_memory_records.sql"),
    },
    Migration {
        version: 3,
        name: "memory_records_fts",
        sql: include_str!("migrations/0003_memory_records_fts.sql"),
    },
    Migration {
        version: 4,
        name: "memory_record_embeddings",
        sql: include_str!("migrations/0004_memory_record_embeddings.sql"),
    },
    Migration {
        version: 5,
        name: "record_index_feed",
        sql: include_str!("migrations/0005_record_index_feed.sql"),
    },
    Migration {
        version: 6,
        name: "patterns",
        sql: include_str!("migrations/0006_patterns.sql"),
    },
    Migration {
        version: 7,
        name: "sessions",
        sql: include_str!("migrations/0007_sessions.sql"),
    },
    Migration {
        version: 8,
        name: "episode_scope",
        sql: include_str!("migrations/0008_episode_scope.sql"),
    },
    Migration {
        version: 9,
        name: "access",
        sql: include_str!("migrations/0009_access.sql"),
    },
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Refuses, by reading only, a file that is not SQLite or a SQLite database of another application. Returns
/// whether a store is there (false for an empty database).
pub(crate) async fn check_ownership(conn: &Connection, label: &str) -> Result<bool> {
    let tables = table_names(conn, label).await?;
    if !tables.is_empty() && !tables.iter().any(|t| t == "schema_migrations") {
        return Err(Error::NotADatabase {
            path: label.to_string(),
            detail: format!(
                "it is a SQLite database of another application (tables: {})",
                tables.join(", ")
            ),
        });
    }
    Ok(!tables.is_empty())
}

/// Brings the database to [`SCHEMA_VERSION`] and returns its store id.
///
/// Refuses, rolling back, a database written by a newer schema and one whose recorded migrations differ from
/// this build's.
pub(crate) async fn migrate(conn: &Connection, label: &str) -> Result<String> {
    let label = label.to_string();
    transaction(Db::new(conn.clone(), false), TransactionBehavior::Immediate, move |db| async move {
        let conn = db.conn;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at INTEGER NOT NULL
            )",
            (),
        )
        .await
        .db()?;
        let mut applied = Vec::new();
        let mut rows = conn
            .query("SELECT version, checksum FROM schema_migrations ORDER BY version", ())
            .await
            .db()?;
        while let Some(row) = rows.next().await.db()? {
            applied.push((row.get::<i64>(0).db()?, row.get::<String>(1).db()?));
        }
        if let Some((newest, _)) = applied.last()
            && *newest > SCHEMA_VERSION
        {
            return Err(Error::SchemaTooNew {
                found: *newest,
                supported: SCHEMA_VERSION,
            });
        }
        for (version, recorded) in &applied {
            let known = MIGRATIONS.iter().find(|m| m.version == *version).ok_or_else(|| {
                Error::MigrationMismatch {
                    version: *version,
                    detail: "this build has no such migration".into(),
                }
            })?;
            if *recorded != checksum(known.sql) {
                return Err(Error::MigrationMismatch {
                    version: *version,
                    detail: format!("checksum {recorded} differs from {}", checksum(known.sql)),
                });
            }
        }
        for migration in MIGRATIONS.iter().filter(|m| !applied.iter().any(|(v, _)| *v == m.version)) {
            tracing::info!(version = migration.version, name = migration.name, db = %label, "applying migration");
            conn.execute_batch(migration.sql).await.db()?;
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                (
                    migration.version,
                    migration.name,
                    checksum(migration.sql),
                    Timestamp::now().as_micros(),
                ),
            )
            .await
            .db()?;
        }
        conn.execute(
            "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('store_id', ?1)",
            [uuid::Uuid::now_v7().to_string()],
        )
        .await
        .db()?;
        let mut rows = conn
            .query("SELECT value FROM store_meta WHERE key = 'store_id'", ())
            .await
            .db()?;
        match rows.next().await.db()? {
            Some(row) => row.get::<String>(0).db(),
            None => Err(Error::Corrupt("store_meta has no store_id".into())),
        }
    })
    .await
}

async fn table_names(conn: &Connection, label: &str) -> Result<Vec<String>> {
    let mut rows = conn
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'libsql_%' AND name NOT LIKE '_litestream%' ORDER BY name",
            (),
        )
        .await
        .map_err(|e| not_a_database(label, e))?;
    let mut names = Vec::new();
    while let Some(row) = rows.next().await.db()? {
        names.push(row.get::<String>(0).db()?);
    }
    Ok(names)
}
