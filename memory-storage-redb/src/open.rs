//! Opening a file: telling a usable file from one in use, damaged, foreign or of another schema version, and
//! initializing a new one.

use std::{io, num::NonZeroUsize, path::Path};

use memory_core::{Error, Result, Revision};
use redb::{Database, DatabaseError, Durability, ReadableDatabase, StorageError, TableError};

use crate::{
    SCHEMA_VERSION,
    inner::{Inner, load_lru},
    lru::BUDGET_BYTES,
    schema::{
        APPLIED_KEY, EPISODES, META, REVISION_KEY, ROLE_KEY, Role, SCHEMA_VERSION_KEY, meta_bytes,
        meta_u64, storage,
    },
};

/// Why a file could not be opened.
enum Failure {
    /// The file is not a database of ours in this schema version: damaged, foreign, another version. A cache
    /// recreates it; a store reports [`Error::NotADatabase`].
    Unusable(String),
    /// Anything else (in use, unreadable, a newer store, a file of the other role): returned as is.
    Error(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Error(err)
    }
}

/// Opens (or creates) the standalone store at `path`.
pub(crate) fn open_store(path: &Path) -> Result<Inner> {
    match try_open(path, Role::Store) {
        Ok((db, applied)) => Ok(Inner::new(
            path.to_path_buf(),
            Role::Store,
            db,
            None,
            applied,
        )),
        Err(Failure::Unusable(detail)) => Err(Error::NotADatabase {
            path: path.display().to_string(),
            detail,
        }),
        Err(Failure::Error(err)) => Err(err),
    }
}

/// Opens (or creates, or recreates) the cache at `path`, keeping at most `capacity` episodes.
pub(crate) fn open_cache(path: &Path, capacity: usize) -> Result<Inner> {
    let capacity = NonZeroUsize::new(capacity)
        .ok_or_else(|| Error::validation("capacity", "must be at least 1"))?;
    let (db, applied) = match try_open(path, Role::Cache) {
        Ok(opened) => opened,
        Err(Failure::Error(err)) => return Err(err),
        Err(Failure::Unusable(detail)) => {
            tracing::warn!(path = %path.display(), %detail, "cache file is unusable; deleting and recreating it");
            std::fs::remove_file(path).map_err(|e| {
                storage(format!(
                    "could not delete the unusable cache file {}: {e}",
                    path.display()
                ))
            })?;
            match try_open(path, Role::Cache) {
                Ok(opened) => opened,
                Err(Failure::Error(err)) => return Err(err),
                Err(Failure::Unusable(detail)) => {
                    return Err(storage(format!(
                        "new cache file {} is unusable: {detail}",
                        path.display()
                    )));
                }
            }
        }
    };
    let (lru, overflow) = load_lru(&db, capacity, BUDGET_BYTES)?;
    let inner = Inner::new(path.to_path_buf(), Role::Cache, db, Some(lru), applied);
    if !overflow.is_empty() {
        // The file holds more than `capacity` (it was opened with a larger one before): trim it now.
        inner.write(Durability::Immediate, |w| {
            overflow
                .into_iter()
                .try_for_each(|key| w.remove_key(key).map(|_| ()))
        })?;
    }
    Ok(inner)
}

/// The size of redb's page cache for a cache file. Verifying the file on open reads every page through it, so
/// whatever this allows stays resident from the start: at 16 MiB, a server idle with a full cache held 15 MiB
/// more. Reads past the decoded hot entries find the tree's inner pages here and the rest in the operating
/// system's page cache.
const CACHE_PAGES_BYTES: usize = 2 << 20;

/// Opens the file, checks it is ours in this role and schema version (initializing an empty one), and returns
/// it with its `applied` revision.
fn try_open(path: &Path, role: Role) -> Result<(Database, Revision), Failure> {
    if role == Role::Store {
        probe_read_only(path)?;
    }
    let mut builder = Database::builder();
    // A cache is small and must never trust a damaged file: verify every page on open, which turns external
    // damage into an error rather than a panic later. A store trusts a cleanly closed file (redb still
    // recovers from crashes) because the check reads the whole file.
    builder.set_check_integrity_on_open(role == Role::Cache);
    if role == Role::Cache {
        // redb's own page cache (1 GiB by default) would keep every page the cache ever read resident; decoded hot
        // entries are kept above it, and the operating system's page cache serves the rest.
        builder.set_cache_size(CACHE_PAGES_BYTES);
    }
    let db = builder
        .create(path)
        .map_err(|err| open_failure(err, path, role))?;
    let applied = match inspect(&db, path, role)? {
        Some(applied) => applied,
        None => {
            initialize(&db, role)?;
            0
        }
    };
    Ok((db, applied))
}

/// A store refuses a file without writing to it: even a clean writable open updates redb's header. So an
/// existing file is first inspected read-only. A file the read-only open cannot take (one left by a crash needs
/// the writable open's recovery, and damaged ones fail that open too) is left to the writable open.
fn probe_read_only(path: &Path) -> Result<(), Failure> {
    let exists = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    if !exists {
        return Ok(());
    }
    match Database::builder().open_read_only(path) {
        Ok(db) => inspect(&db, path, Role::Store).map(|_| ()),
        Err(err @ (DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch)) => {
            Err(open_failure(err, path, Role::Store))
        }
        Err(_) => Ok(()),
    }
}

fn open_failure(err: DatabaseError, path: &Path, role: Role) -> Failure {
    match err {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            Failure::Error(Error::InUse {
                what: role.as_str(),
                path: path.display().to_string(),
            })
        }
        DatabaseError::UpgradeRequired(_) | DatabaseError::RepairAborted => {
            Failure::Unusable(err.to_string())
        }
        DatabaseError::Storage(err) => storage_failure(err),
        other => Failure::Error(storage(format!(
            "could not open {}: {other}",
            path.display()
        ))),
    }
}

fn storage_failure(err: StorageError) -> Failure {
    match err {
        StorageError::Corrupted(_) | StorageError::ValueTooLarge(_) => {
            Failure::Unusable(err.to_string())
        }
        StorageError::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
            ) =>
        {
            Failure::Unusable(format!("I/O error: {io}"))
        }
        other => Failure::Error(storage(other)),
    }
}

fn table_failure(err: TableError) -> Failure {
    match err {
        TableError::Storage(err) => storage_failure(err),
        other => Failure::Unusable(other.to_string()),
    }
}

/// Validates the meta entries. Returns `applied`, or `None` for a database with no tables (a new file).
fn inspect(
    db: &impl ReadableDatabase,
    path: &Path,
    role: Role,
) -> Result<Option<Revision>, Failure> {
    let txn = db.begin_read().map_err(|e| Failure::Error(storage(e)))?;
    let empty = txn.list_tables().map_err(storage_failure)?.next().is_none()
        && txn
            .list_multimap_tables()
            .map_err(storage_failure)?
            .next()
            .is_none();
    if empty {
        return Ok(None);
    }
    let meta = txn.open_table(META).map_err(table_failure)?;
    let unusable = |err: Error| Failure::Unusable(err.to_string());
    let version = meta_u64(&meta, SCHEMA_VERSION_KEY)
        .map_err(unusable)?
        .ok_or_else(|| Failure::Unusable("it has no schema version".into()))?;
    if version > SCHEMA_VERSION && role == Role::Store {
        return Err(Failure::Error(Error::SchemaTooNew {
            found: i64::try_from(version).unwrap_or(i64::MAX),
            supported: i64::try_from(SCHEMA_VERSION).unwrap_or(i64::MAX),
        }));
    }
    if version != SCHEMA_VERSION {
        return Err(Failure::Unusable(format!(
            "its schema version is {version}, this build reads {SCHEMA_VERSION}"
        )));
    }
    let found_role = meta_bytes(&meta, ROLE_KEY).map_err(unusable)?;
    if found_role.as_deref() != Some(role.as_str().as_bytes()) {
        let found = found_role.map(|r| String::from_utf8_lossy(&r).into_owned());
        return match found.as_deref() {
            // A file of the other role is a user's mistake, not damage: never delete it.
            Some(other @ ("store" | "cache")) => Err(Failure::Error(Error::NotADatabase {
                path: path.display().to_string(),
                detail: format!("it is a memory {other} file, not a {}", role.as_str()),
            })),
            _ => Err(Failure::Unusable(format!("its role is {found:?}"))),
        };
    }
    meta_u64(&meta, REVISION_KEY).map_err(unusable)?;
    let applied = meta_u64(&meta, APPLIED_KEY).map_err(unusable)?.unwrap_or(0);
    txn.open_table(EPISODES).map_err(table_failure)?;
    Ok(Some(applied))
}

/// Creates the tables and meta entries of a new file, durably.
fn initialize(db: &Database, role: Role) -> Result<()> {
    let txn = db.begin_write().map_err(storage)?;
    {
        txn.open_table(EPISODES).map_err(storage)?;
        let mut meta = txn.open_table(META).map_err(storage)?;
        let entries: [(&str, &[u8]); 4] = [
            (SCHEMA_VERSION_KEY, &SCHEMA_VERSION.to_le_bytes()),
            (ROLE_KEY, role.as_str().as_bytes()),
            (REVISION_KEY, &0u64.to_le_bytes()),
            (APPLIED_KEY, &0u64.to_le_bytes()),
        ];
        for (key, value) in entries {
            meta.insert(key, value).map_err(storage)?;
        }
    }
    txn.commit().map_err(storage)
}
