//! Backups of an embedded store and whole-store exports.
//!
//! A backup is a directory holding `memory.db`, a consistent copy taken with `VACUUM INTO` while the store keeps
//! serving (it reads one snapshot of the WAL), and `manifest.json`: when, from where, the schema version, every
//! file's size and SHA-256, and every content table's row count and order-independent digest ([`digest`]).
//! Verifying re-reads all of it; restoring verifies, copies, checks the copy's checksum and only then moves it in
//! place, keeping the database it replaces beside it.

mod digest;
mod dump;

use std::{
    fs::{self, File},
    io::{self, Read as _, Write as _},
    path::{Path, PathBuf},
};

use libsql::{Builder, Connection, OpenFlags, TransactionBehavior};
use memory_core::{Error, Result, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use digest::{Table, TableDigest, content_digest};
pub use dump::{ExportSummary, ImportSummary};

use crate::{SCHEMA_VERSION, TursoStore, error::MapErr};

/// The manifest's file name in a backup directory.
pub const MANIFEST: &str = "manifest.json";
/// The database's file name in a backup directory.
pub const DATABASE: &str = "memory.db";
/// The manifest format this build writes and reads.
const FORMAT: &str = "memory-backup/1";

/// What a backup holds and how to prove it whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `memory-backup/1`.
    pub format: String,
    /// When the copy was taken.
    pub created_at: Timestamp,
    /// The database it was taken from.
    pub source: String,
    /// The store's id (kept by the copy).
    pub store_id: String,
    /// The schema version of the copy.
    pub schema_version: i64,
    /// Every file of the backup.
    pub files: Vec<FileDigest>,
    /// Every content table: rows and digest.
    pub tables: Vec<TableDigest>,
    /// The digest of all the tables' digests.
    pub content_digest: String,
}

/// A file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Its name in the backup directory.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// What a restore did.
#[derive(Clone, Debug)]
pub struct Restored {
    /// The backup's manifest, verified.
    pub manifest: Manifest,
    /// Where the database that was replaced now is, if there was one.
    pub replaced: Option<PathBuf>,
}

impl TursoStore {
    /// Copies the store into `dir` (created; it must not exist or be empty) and writes the manifest.
    ///
    /// Only an embedded database can be copied this way; a server's store moves with [`TursoStore::export`].
    pub async fn backup(&self, dir: &Path) -> Result<Manifest> {
        if !self.is_local() {
            return Err(backup_error(
                self.label(),
                "a backup copies an embedded database file; export a server's store to JSONL instead \
                 (`memory-cli export`)",
            ));
        }
        prepare_empty_dir(dir)?;
        let result = self.copy_into(dir).await;
        if result.is_err() {
            // Nothing half-written stays behind: the directory was empty or new.
            let _ = fs::remove_file(dir.join(DATABASE));
            let _ = fs::remove_file(dir.join(MANIFEST));
        }
        result
    }

    async fn copy_into(&self, dir: &Path) -> Result<Manifest> {
        let file = dir.join(DATABASE);
        let target = file.to_string_lossy().into_owned();
        self.read(|db| async move {
            db.conn.execute("VACUUM INTO ?1", [target]).await.db()?;
            Ok(())
        })
        .await?;
        let created_at = Timestamp::now();
        // The copy keeps the WAL mode of its source; a backup is one self-contained file.
        let copy = open_file(&file, OpenFlags::SQLITE_OPEN_READ_WRITE).await?;
        copy.query("PRAGMA journal_mode = DELETE", ()).await.db()?;
        drop(copy);
        let (store_id, schema_version, tables) = read_summary(&file).await?;
        let manifest = Manifest {
            format: FORMAT.into(),
            created_at,
            source: self.label().to_string(),
            store_id,
            schema_version,
            files: vec![file_digest(&file)?],
            content_digest: content_digest(&tables),
            tables,
        };
        write_manifest(dir, &manifest)?;
        Ok(manifest)
    }
}

/// Re-reads a backup: the manifest, every file's size and SHA-256, the schema version, and every table's rows
/// and digest. Returns the manifest when all of it matches.
pub async fn verify(dir: &Path) -> Result<Manifest> {
    let manifest = read_manifest(dir)?;
    for file in &manifest.files {
        check_file(dir, file)?;
    }
    if manifest.schema_version > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found: manifest.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    let database = dir.join(DATABASE);
    if !manifest.files.iter().any(|f| f.name == DATABASE) {
        return Err(backup_error(
            dir,
            format!("the manifest lists no {DATABASE}"),
        ));
    }
    let (store_id, schema_version, tables) = read_summary(&database).await?;
    if store_id != manifest.store_id || schema_version != manifest.schema_version {
        return Err(backup_error(
            &database,
            format!(
                "holds store {store_id} at schema {schema_version}, the manifest says store {} at schema {}",
                manifest.store_id, manifest.schema_version
            ),
        ));
    }
    for listed in &manifest.tables {
        match tables.iter().find(|t| t.name == listed.name) {
            None => {
                return Err(backup_error(
                    &database,
                    format!("table {} is missing", listed.name),
                ));
            }
            Some(found) if found != listed => {
                return Err(backup_error(
                    &database,
                    format!(
                        "table {} has {} rows (digest {}), the manifest says {} rows (digest {})",
                        listed.name, found.rows, found.digest, listed.rows, listed.digest
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = tables
        .iter()
        .find(|t| !manifest.tables.iter().any(|l| l.name == t.name))
    {
        return Err(backup_error(
            &database,
            format!("table {} is not in the manifest", extra.name),
        ));
    }
    if content_digest(&tables) != manifest.content_digest {
        return Err(backup_error(
            dir,
            "the manifest's content digest does not match its tables",
        ));
    }
    Ok(manifest)
}

/// Verifies the backup in `dir` and puts its database at `target`.
///
/// A database already at `target` is replaced only with `force`, and then kept beside it as
/// `<target>.replaced-<time>` (with its WAL). The copy is checked against the manifest before it is moved in;
/// if anything fails, `target` is as it was. The caller must make sure no process has `target` open.
pub async fn restore(dir: &Path, target: &Path, force: bool) -> Result<Restored> {
    let manifest = verify(dir).await?;
    let exists = target.exists();
    if exists && !force {
        return Err(backup_error(
            target,
            "a database is already there; pass --force to replace it (it is kept beside the restored one)",
        ));
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let staged = with_suffix(target, ".restoring");
    let expected = manifest
        .files
        .iter()
        .find(|f| f.name == DATABASE)
        .expect("verify checked the manifest lists the database");
    let copied = copy_checked(&dir.join(DATABASE), &staged, expected);
    if let Err(err) = copied {
        let _ = fs::remove_file(&staged);
        return Err(err);
    }
    let replaced = if exists {
        let aside = with_suffix(
            target,
            &format!(".replaced-{}", Timestamp::now().as_micros()),
        );
        for suffix in ["-wal", "-shm"] {
            let side = with_suffix(target, suffix);
            if side.exists() {
                fs::rename(&side, with_suffix(&aside, suffix)).map_err(|e| io_error(&side, e))?;
            }
        }
        fs::rename(target, &aside).map_err(|e| io_error(target, e))?;
        Some(aside)
    } else {
        None
    };
    fs::rename(&staged, target).map_err(|e| io_error(target, e))?;
    sync_parent(target);
    Ok(Restored { manifest, replaced })
}

/// The store id, schema version and table digests of a database file, read in one transaction without
/// writing to it.
async fn read_summary(file: &Path) -> Result<(String, i64, Vec<TableDigest>)> {
    let conn = open_file(file, OpenFlags::SQLITE_OPEN_READ_ONLY).await?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .await
        .db()?;
    let store_id = single_text(&tx, "SELECT value FROM store_meta WHERE key = 'store_id'").await;
    let version = single_text(
        &tx,
        "SELECT CAST(max(version) AS TEXT) FROM schema_migrations",
    )
    .await;
    let (Ok(store_id), Ok(version)) = (store_id, version) else {
        return Err(backup_error(
            file,
            "not a database of this software (no store id or schema version)",
        ));
    };
    let version = version
        .parse::<i64>()
        .map_err(|_| backup_error(file, format!("schema version {version:?} is not a number")))?;
    let tables = digest::summarize(&tx).await?;
    tx.rollback().await.db()?;
    Ok((store_id, version, tables))
}

async fn single_text(conn: &Connection, sql: &str) -> Result<String> {
    let mut rows = conn.query(sql, ()).await.db()?;
    match rows.next().await.db()? {
        Some(row) => row.get::<String>(0).db(),
        None => Err(Error::Corrupt(format!("no row for {sql}"))),
    }
}

async fn open_file(file: &Path, flags: OpenFlags) -> Result<Connection> {
    if !file.is_file() {
        return Err(backup_error(file, "no such file"));
    }
    let db = Builder::new_local(file)
        .flags(flags)
        .build()
        .await
        .map_err(|e| backup_error(file, e))?;
    db.connect().map_err(|e| backup_error(file, e))
}

fn prepare_empty_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
        if entries.next().is_some() {
            return Err(backup_error(
                dir,
                "is not empty; back up into a new or empty directory",
            ));
        }
    }
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| backup_error(&path, format!("is not a backup manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(backup_error(
            &path,
            format!(
                "format {:?} is not {FORMAT:?}, the format this build reads",
                manifest.format
            ),
        ));
    }
    Ok(manifest)
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest).expect("a manifest serialises");
    let mut file = File::create(&path).map_err(|e| io_error(&path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(&path, e))?;
    sync_parent(&path);
    Ok(())
}

fn check_file(dir: &Path, expected: &FileDigest) -> Result<()> {
    if expected.name.contains(['/', '\\']) || expected.name.starts_with('.') {
        return Err(backup_error(
            dir,
            format!("the manifest names a file outside it: {:?}", expected.name),
        ));
    }
    let found = file_digest(&dir.join(&expected.name))?;
    if found.bytes != expected.bytes || found.sha256 != expected.sha256 {
        return Err(backup_error(
            dir.join(&expected.name),
            format!(
                "is {} bytes with SHA-256 {}, the manifest says {} bytes with SHA-256 {}: the file is damaged or \
                 was changed",
                found.bytes, found.sha256, expected.bytes, expected.sha256
            ),
        ));
    }
    Ok(())
}

fn file_digest(path: &Path) -> Result<FileDigest> {
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut bytes = 0;
    loop {
        let n = file.read(&mut buffer).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok(FileDigest {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        sha256: digest::hex(&hasher.finalize()),
    })
}

/// Copies `from` to `to`, flushes it to disk and checks it against `expected`.
fn copy_checked(from: &Path, to: &Path, expected: &FileDigest) -> Result<()> {
    fs::copy(from, to).map_err(|e| io_error(to, e))?;
    File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(to, e))?;
    let copied = file_digest(to)?;
    if copied.bytes != expected.bytes || copied.sha256 != expected.sha256 {
        return Err(backup_error(
            to,
            "the copy differs from the backup (disk full or failing?)",
        ));
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes a rename or a new file in `path`'s directory durable; best effort (not every platform allows it).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = File::open(parent).and_then(|d| d.sync_all());
    }
}

fn backup_error(path: impl AsRef<Path>, detail: impl std::fmt::Display) -> Error {
    Error::Backup {
        path: path.as_ref().display().to_string(),
        detail: detail.to_string(),
    }
}

fn io_error(path: &Path, err: io::Error) -> Error {
    backup_error(path, err)
}
