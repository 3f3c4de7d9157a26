//! The whole store as JSON Lines, for moving it between machines or into a server, and back.
//!
//! The first line is a header (`format`, `schema_version`, `store_id`, and every content table with its columns);
//! then one line per row, `{"table": NAME, "row": [VALUES]}`, the values in the header's column order (`null`, an
//! integer, a string, `{"real": "1.5"}` or `{"blob": HEX}`); the last line, `{"end": …}`, gives every table's row
//! count and digest (see `digest`), so an import can prove it read everything. The rows of one export are read in
//! one transaction: it is a consistent view even while the store is written.

use std::io::{BufRead, Write};

use libsql::{TransactionBehavior, Value};
use memory_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::digest::{self, RowSum, Table, TableDigest, content_digest, quote};
use crate::{SCHEMA_VERSION, TursoStore, db::Db, error::MapErr, store::transaction};

const FORMAT: &str = "memory-export/1";
/// Rows per INSERT statement when importing (one round trip each on a server).
const BATCH_ROWS: usize = 200;

/// The first line of an export.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    schema_version: i64,
    store_id: String,
    tables: Vec<Table>,
}

/// The last line of an export.
#[derive(Debug, Serialize, Deserialize)]
struct End {
    tables: Vec<TableDigest>,
    content_digest: String,
}

/// What an export wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ExportSummary {
    /// Every table's rows and digest.
    pub tables: Vec<TableDigest>,
    /// The digest of all of them.
    pub content_digest: String,
}

/// What an import read and stored.
#[derive(Clone, Debug, Serialize)]
pub struct ImportSummary {
    /// Every table's rows and digest, as stored (equal to the export's).
    pub tables: Vec<TableDigest>,
    /// The digest of all of them.
    pub content_digest: String,
}

impl TursoStore {
    /// Writes the whole store to `out` as JSON Lines, from one consistent view.
    pub async fn export(&self, out: &mut (dyn Write + Send)) -> Result<ExportSummary> {
        let store_id = self.inner.store_id.clone();
        self.read(|db| {
            transaction(db, TransactionBehavior::Deferred, |db| {
                write_all(db, store_id, out)
            })
        })
        .await
    }

    /// Reads an export from `input` (named `source` in messages) into this store, which must hold no content yet.
    ///
    /// Everything is written in one transaction, and committed only when every table's rows and digest, read
    /// back from the store, equal those the export ends with: a truncated, edited or foreign file changes nothing.
    pub async fn import(
        &self,
        input: &mut (dyn BufRead + Send),
        source: &str,
    ) -> Result<ImportSummary> {
        let mut lines = Lines {
            input,
            source,
            number: 0,
            text: String::new(),
        };
        let header: Header = lines.parse("the header")?;
        if header.format != FORMAT {
            return Err(lines.error(format!("format {:?} is not {FORMAT:?}", header.format)));
        }
        if header.schema_version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found: header.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        if header.schema_version != SCHEMA_VERSION {
            return Err(lines.error(format!(
                "the export is of schema {}, this store of schema {SCHEMA_VERSION}: open the exported store with \
                 this version (which migrates it) and export it again",
                header.schema_version
            )));
        }
        self.write(|db| read_all(db, header, lines)).await
    }
}

async fn write_all(
    db: Db,
    store_id: String,
    out: &mut (dyn Write + Send),
) -> Result<ExportSummary> {
    let tables = digest::content_tables(&db.conn).await?;
    let header = Header {
        format: FORMAT.into(),
        schema_version: SCHEMA_VERSION,
        store_id,
        tables,
    };
    emit(
        out,
        &serde_json::to_value(&header).expect("a header serialises"),
    )?;
    let mut digests = Vec::new();
    for table in &header.tables {
        let mut sum = RowSum::default();
        let mut rows = db.conn.query(&digest::select_all(table), ()).await.db()?;
        let mut values = Vec::with_capacity(table.columns.len());
        while let Some(row) = rows.next().await.db()? {
            values.clear();
            for i in 0..table.columns.len() as i32 {
                values.push(row.get_value(i).db()?);
            }
            sum.add(&values);
            let row: Vec<Json> = values.iter().map(to_json).collect();
            emit(out, &json!({ "table": table.name, "row": row }))?;
        }
        digests.push(sum.finish(table.name.clone()));
    }
    let end = End {
        content_digest: content_digest(&digests),
        tables: digests,
    };
    emit(out, &json!({ "end": end }))?;
    out.flush().map_err(export_error)?;
    Ok(ExportSummary {
        tables: end.tables,
        content_digest: end.content_digest,
    })
}

async fn read_all(db: Db, header: Header, mut lines: Lines<'_>) -> Result<ImportSummary> {
    let mut existing = digest::content_tables(&db.conn).await?;
    let mut expected = header.tables.clone();
    existing.sort_by(|a, b| a.name.cmp(&b.name));
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    if existing != expected {
        let names = |tables: &[Table]| {
            let shown: Vec<String> = tables
                .iter()
                .map(|t| format!("{}({})", t.name, t.columns.join(", ")))
                .collect();
            shown.join(" ")
        };
        return Err(lines.error(format!(
            "its tables differ from this store's, though both are of the same schema: {} against {}",
            names(&expected),
            names(&existing)
        )));
    }
    for summary in digest::summarize(&db.conn).await? {
        if summary.rows > 0 && summary.name != "store_meta" {
            return Err(lines.error(format!(
                "this store already holds data ({} rows in {}): import into a new, empty store",
                summary.rows, summary.name
            )));
        }
    }
    // The store takes the exported store's identity and settings (its id, its embedding model).
    db.conn.execute("DELETE FROM store_meta", ()).await.db()?;
    let mut sums: Vec<RowSum> = header.tables.iter().map(|_| RowSum::default()).collect();
    let mut batch = Batch::default();
    let end: End = loop {
        let line: Json = lines.parse("a row or the end record")?;
        if let Some(end) = line.get("end") {
            break serde_json::from_value(end.clone())
                .map_err(|e| lines.error(format!("the end record is malformed: {e}")))?;
        }
        let (index, values) = decode_row(&header, &line).map_err(|detail| lines.error(detail))?;
        if batch.table != Some(index) {
            batch.flush(&db, &header.tables).await?;
            batch.table = Some(index);
        }
        sums[index].add(&values);
        batch.rows.push(values);
        if batch.rows.len() == BATCH_ROWS {
            batch.flush(&db, &header.tables).await?;
        }
    };
    batch.flush(&db, &header.tables).await?;
    if lines.next_line()? {
        return Err(lines.error("there is more after the end record"));
    }
    let read: Vec<TableDigest> = sums
        .iter()
        .zip(&header.tables)
        .map(|(sum, table)| sum.finish(table.name.clone()))
        .collect();
    if read != end.tables || content_digest(&read) != end.content_digest {
        return Err(
            lines.error("the rows read do not match the counts and digests the export ends with")
        );
    }
    let stored = digest::summarize(&db.conn).await?;
    if stored != end.tables {
        return Err(lines.error("the rows stored do not match the export's counts and digests"));
    }
    Ok(ImportSummary {
        content_digest: content_digest(&stored),
        tables: stored,
    })
}

/// Rows of one table waiting to be inserted.
#[derive(Default)]
struct Batch {
    table: Option<usize>,
    rows: Vec<Vec<Value>>,
}

impl Batch {
    async fn flush(&mut self, db: &Db, tables: &[Table]) -> Result<()> {
        let (Some(index), false) = (self.table, self.rows.is_empty()) else {
            return Ok(());
        };
        let table = &tables[index];
        let one = format!("({})", vec!["?"; table.columns.len()].join(", "));
        let columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            quote(&table.name),
            columns.join(", "),
            vec![one; self.rows.len()].join(", ")
        );
        let values: Vec<Value> = self.rows.drain(..).flatten().collect();
        db.conn.execute(&sql, values).await.db()?;
        Ok(())
    }
}

fn decode_row(header: &Header, line: &Json) -> std::result::Result<(usize, Vec<Value>), String> {
    let name = line
        .get("table")
        .and_then(Json::as_str)
        .ok_or("a row line needs \"table\" and \"row\"")?;
    let index = header
        .tables
        .iter()
        .position(|t| t.name == name)
        .ok_or_else(|| format!("table {name:?} is not in the header"))?;
    let row = line
        .get("row")
        .and_then(Json::as_array)
        .ok_or("a row line needs \"row\": [values]")?;
    let columns = header.tables[index].columns.len();
    if row.len() != columns {
        return Err(format!(
            "a row of {name} has {} values, the table has {columns} columns",
            row.len()
        ));
    }
    let values = row
        .iter()
        .map(from_json)
        .collect::<std::result::Result<_, _>>()?;
    Ok((index, values))
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Integer(i) => json!(i),
        Value::Real(r) => json!({ "real": r.to_string() }),
        Value::Text(t) => json!(t),
        Value::Blob(b) => json!({ "blob": digest::hex(b) }),
    }
}

fn from_json(value: &Json) -> std::result::Result<Value, String> {
    let bad = || {
        format!(
            "{value} is not a value of an export (null, an integer, a string, {{\"real\"}} or {{\"blob\"}})"
        )
    };
    Ok(match value {
        Json::Null => Value::Null,
        Json::Number(n) => Value::Integer(n.as_i64().ok_or_else(bad)?),
        Json::String(s) => Value::Text(s.clone()),
        Json::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((key, Json::String(text))) if key == "real" => {
                Value::Real(text.parse().map_err(|_| bad())?)
            }
            Some((key, Json::String(text))) if key == "blob" => {
                Value::Blob(unhex(text).ok_or_else(bad)?)
            }
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The lines of an import, numbered for messages.
struct Lines<'a> {
    input: &'a mut (dyn BufRead + Send),
    source: &'a str,
    number: u64,
    text: String,
}

impl Lines<'_> {
    /// Reads the next line; false at the end of the input.
    fn next_line(&mut self) -> Result<bool> {
        self.text.clear();
        let read = self
            .input
            .read_line(&mut self.text)
            .map_err(|e| self.error(e))?;
        self.number += 1;
        Ok(read > 0)
    }

    /// Reads and parses the next line as `what`.
    fn parse<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T> {
        if !self.next_line()? {
            return Err(self.error(format!(
                "the export ends before {what} (the file is truncated)"
            )));
        }
        serde_json::from_str(&self.text)
            .map_err(|e| self.error(format!("{what} is not valid: {e}")))
    }

    fn error(&self, detail: impl std::fmt::Display) -> Error {
        Error::Backup {
            path: format!("{}:{}", self.source, self.number),
            detail: detail.to_string(),
        }
    }
}

fn emit(out: &mut (dyn Write + Send), line: &Json) -> Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(export_error)?;
    out.write_all(b"\n").map_err(export_error)
}

fn export_error(err: impl std::fmt::Display) -> Error {
    Error::Backup {
        path: "export".into(),
        detail: err.to_string(),
    }
}
