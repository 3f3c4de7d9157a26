//! What a store holds, table by table, as row counts and digests that do not depend on row order.
//!
//! A row's digest is the SHA-256 of a canonical encoding of its values (a type tag, then the value; text and blobs
//! length-prefixed). A table's digest is the sum of its rows' digests modulo 2^256, so it is the same whatever order
//! the rows are read or written in, and a row present twice counts twice. The content digest is the SHA-256 of
//! every table's name, row count and digest, in name order.

use libsql::{Connection, Value};
use memory_core::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::MapErr;

/// Tables that describe the schema rather than hold the store's content: a copy has its own.
const SCHEMA_TABLES: [&str; 1] = ["schema_migrations"];

/// One table's rows, summarised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDigest {
    /// The table.
    pub name: String,
    /// Its rows.
    pub rows: u64,
    /// The order-independent digest of its rows (hex).
    pub digest: String,
}

/// A table of the store's content and its columns, in their declared order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The table.
    pub name: String,
    /// Its columns.
    pub columns: Vec<String>,
}

/// The tables that hold the store's content, in the order they were created: every ordinary table but SQLite's
/// and libSQL's own, the migrations record, virtual tables and the tables behind them (an index derived from
/// the others, rebuilt by its triggers). The API keys (their hashes, never their secrets) and the audit log are
/// content: a restored or moved store keeps its server's keys and the record of their use.
pub(crate) async fn content_tables(conn: &Connection) -> Result<Vec<Table>> {
    let mut rows = conn
        .query(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'libsql_%' AND name NOT LIKE '_litestream%' ORDER BY rowid",
            (),
        )
        .await
        .db()?;
    let mut all = Vec::new();
    while let Some(row) = rows.next().await.db()? {
        all.push((row.get::<String>(0).db()?, row.get::<String>(1).db()?));
    }
    let virtual_tables: Vec<&str> = all
        .iter()
        .filter(|(_, sql)| {
            sql.trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL")
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let mut tables = Vec::new();
    for (name, _) in &all {
        let derived = virtual_tables
            .iter()
            .any(|v| name == v || name.starts_with(&format!("{v}_")));
        if derived || SCHEMA_TABLES.contains(&name.as_str()) {
            continue;
        }
        tables.push(Table {
            columns: columns(conn, name).await?,
            name: name.clone(),
        });
    }
    Ok(tables)
}

async fn columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut rows = conn
        .query(
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            [table],
        )
        .await
        .db()?;
    let mut columns = Vec::new();
    while let Some(row) = rows.next().await.db()? {
        // SQLite matches names case-insensitively, and sqld re-spells keywords used as names (`KEY`).
        columns.push(row.get::<String>(0).db()?.to_ascii_lowercase());
    }
    Ok(columns)
}

/// `SELECT` of a table's columns in their declared order.
pub(crate) fn select_all(table: &Table) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
    format!("SELECT {} FROM {}", columns.join(", "), quote(&table.name))
}

/// An SQL identifier, quoted.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Counts and digests every content table, through `conn` (inside a transaction, for a consistent view).
pub(crate) async fn summarize(conn: &Connection) -> Result<Vec<TableDigest>> {
    let mut digests = Vec::new();
    for table in content_tables(conn).await? {
        let mut sum = RowSum::default();
        let mut rows = conn.query(&select_all(&table), ()).await.db()?;
        let width = table.columns.len() as i32;
        let mut values = Vec::with_capacity(table.columns.len());
        while let Some(row) = rows.next().await.db()? {
            values.clear();
            for i in 0..width {
                values.push(row.get_value(i).db()?);
            }
            sum.add(&values);
        }
        digests.push(sum.finish(table.name));
    }
    Ok(digests)
}

/// The digest of a whole store's content from its tables' digests.
pub fn content_digest(tables: &[TableDigest]) -> String {
    let mut sorted: Vec<&TableDigest> = tables.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    for table in sorted {
        for part in [table.name.as_bytes(), table.digest.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.update(table.rows.to_le_bytes());
    }
    hex(&hasher.finalize())
}

/// The running count and order-independent sum of a table's rows.
#[derive(Default)]
pub(crate) struct RowSum {
    rows: u64,
    /// Little-endian 64-bit limbs of a 256-bit number.
    limbs: [u64; 4],
}

impl RowSum {
    /// Adds one row.
    pub(crate) fn add(&mut self, values: &[Value]) {
        let digest = row_digest(values);
        let mut carry = false;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let word = u64::from_le_bytes(digest[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            let (sum, over1) = limb.overflowing_add(word);
            let (sum, over2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = over1 || over2;
        }
        self.rows += 1;
    }

    /// The table's summary.
    pub(crate) fn finish(&self, name: String) -> TableDigest {
        let bytes: Vec<u8> = self.limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
        TableDigest {
            name,
            rows: self.rows,
            digest: hex(&bytes),
        }
    }
}

fn row_digest(values: &[Value]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for value in values {
        match value {
            Value::Null => hasher.update([0]),
            Value::Integer(i) => {
                hasher.update([1]);
                hasher.update(i.to_le_bytes());
            }
            Value::Real(r) => {
                hasher.update([2]);
                hasher.update(r.to_bits().to_le_bytes());
            }
            Value::Text(t) => {
                hasher.update([3]);
                hasher.update((t.len() as u64).to_le_bytes());
                hasher.update(t.as_bytes());
            }
            Value::Blob(b) => {
                hasher.update([4]);
                hasher.update((b.len() as u64).to_le_bytes());
                hasher.update(b);
            }
        }
    }
    hasher.finalize().into()
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(rows: &[Vec<Value>]) -> TableDigest {
        let mut sum = RowSum::default();
        for row in rows {
            sum.add(row);
        }
        sum.finish("t".into())
    }

    #[test]
    fn the_digest_ignores_row_order_but_not_content() {
        let a = vec![Value::Integer(1), Value::Text("a".into())];
        let b = vec![Value::Integer(2), Value::Blob(vec![1, 2])];
        let c = vec![Value::Real(2.0), Value::Blob(vec![1, 2])];
        assert_eq!(sum(&[a.clone(), b.clone()]), sum(&[b.clone(), a.clone()]));
        assert_ne!(sum(&[a.clone(), b.clone()]), sum(&[a.clone(), c]));
        // A repeated row counts each time it occurs.
        assert_ne!(
            sum(std::slice::from_ref(&a)).digest,
            sum(&[a.clone(), a.clone(), a]).digest
        );
    }

    #[test]
    fn values_of_different_types_never_collide() {
        let text = sum(&[vec![Value::Text("ab".into())]]);
        let blob = sum(&[vec![Value::Blob(b"ab".to_vec())]]);
        let split = sum(&[vec![Value::Text("a".into()), Value::Text("b".into())]]);
        assert_ne!(text.digest, blob.digest);
        assert_ne!(text.digest, split.digest);
        assert_ne!(
            sum(&[vec![Value::Integer(1)]]).digest,
            sum(&[vec![Value::Real(1.0)]]).digest
        );
    }
}
