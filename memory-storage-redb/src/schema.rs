//! The file's tables, the `meta` entries and the error mapping shared by every module.

use std::fmt;

use memory_core::{Error, Result};
use redb::{ReadableTable, TableDefinition};

/// Episode id (the UUID's 16 bytes) → record (see `record.rs`).
pub(crate) const EPISODES: TableDefinition<'static, [u8; 16], &[u8]> =
    TableDefinition::new("episodes");

/// Memory record id (the UUID's 16 bytes) → record (see `record.rs`); caches only.
pub(crate) const RECORDS: TableDefinition<'static, [u8; 16], &[u8]> =
    TableDefinition::new("records");

/// Named values describing the file; every value is bytes (u64 values little-endian).
pub(crate) const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");

/// `meta` key of the [`crate::SCHEMA_VERSION`] the file was written with.
pub(crate) const SCHEMA_VERSION_KEY: &str = "schema_version";
/// `meta` key of the file's [`Role`].
pub(crate) const ROLE_KEY: &str = "role";
/// `meta` key of the last revision given to a write.
pub(crate) const REVISION_KEY: &str = "revision";
/// `meta` key of the cache's `applied` revision.
pub(crate) const APPLIED_KEY: &str = "applied";
/// `meta` key of the cache's `record_applied` revision (of the source's record change feed).
pub(crate) const RECORD_APPLIED_KEY: &str = "record_applied";
/// `meta` key of the source database a cache is bound to.
pub(crate) const STORE_ID_KEY: &str = "store_id";

/// What a file is for. Recorded in `meta` so that a store file given as a cache path is refused, not deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The standalone store: durable writes, no eviction, damage is an error.
    Store,
    /// The cache in front of libSQL: bounded, fast commits, damage is a miss.
    Cache,
}

impl Role {
    /// The name stored in `meta`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Store => "store",
            Role::Cache => "cache",
        }
    }
}

/// A redb failure as the workspace's error.
pub(crate) fn storage(err: impl fmt::Display) -> Error {
    Error::Storage {
        backend: "redb",
        detail: err.to_string(),
    }
}

/// Reads a `meta` value as bytes.
pub(crate) fn meta_bytes(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(table.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
}

/// Reads a `meta` value as a u64; a value of the wrong size is [`Error::Corrupt`].
pub(crate) fn meta_u64(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<u64>> {
    match table.get(key).map_err(storage)? {
        None => Ok(None),
        Some(value) => <[u8; 8]>::try_from(value.value())
            .map(|bytes| Some(u64::from_le_bytes(bytes)))
            .map_err(|_| {
                Error::Corrupt(format!(
                    "meta entry {key:?} is {} bytes, expected 8",
                    value.value().len()
                ))
            }),
    }
}
