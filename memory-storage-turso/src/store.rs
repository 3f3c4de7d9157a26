//! Opening a libSQL database (embedded file or remote server) and running work on its connections.

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use libsql::{Builder, Connection, TransactionBehavior};
use memory_core::{Error, Result};
use tokio::sync::Mutex;

use crate::{
    db::Db,
    error::{MapErr, map},
    schema,
};

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections per embedded database.
const LOCAL_READERS: usize = 4;

/// Where the database lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbConfig {
    /// An embedded database file (created with its parent directories if missing).
    Local {
        /// The file.
        path: PathBuf,
    },
    /// A libSQL server (sqld, Turso) at `libsql://`, `https://` or `http://` URL.
    Remote {
        /// The server URL.
        url: String,
        /// The auth token (a JWT), if the server requires one.
        token: Option<String>,
    },
}

impl DbConfig {
    /// An embedded file.
    pub fn local(path: impl Into<PathBuf>) -> Self {
        DbConfig::Local { path: path.into() }
    }

    /// A remote server.
    pub fn remote(url: impl Into<String>, token: Option<String>) -> Self {
        DbConfig::Remote {
            url: url.into(),
            token,
        }
    }

    /// The path or URL, for messages.
    pub fn label(&self) -> String {
        match self {
            DbConfig::Local { path } => path.display().to_string(),
            DbConfig::Remote { url, .. } => url.clone(),
        }
    }
}

/// The libSQL store: the source of truth for episodes.
///
/// Embedded, it runs SQLite in WAL mode with `synchronous=NORMAL` and calls it through
/// [`memory_core::run_blocking`]; remote, it speaks Hrana over HTTP. Writes are IMMEDIATE transactions on a single writer connection, so
/// concurrent writers (in this process or another) wait for each other instead of failing.
#[derive(Clone)]
pub struct TursoStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    _db: libsql::Database,
    writer: Mutex<Db>,
    readers: Vec<Mutex<Db>>,
    next_reader: AtomicUsize,
    local: bool,
    pub(crate) label: String,
    pub(crate) store_id: String,
}

/// How large the WAL grows before a commit checkpoints it (`wal_autocheckpoint`), and the size it keeps afterwards
/// (`journal_size_limit`). SQLite's 4 MiB default checkpoints after every batch of an import and then truncates and
/// regrows the file; at 64 MiB a page that many batches change (an index's, a report's) is copied once per
/// checkpoint, and the WAL is rewritten from its start over pages already in memory. Imports are 15% faster.
pub const WAL_LIMIT_BYTES: u64 = 64 << 20;

impl TursoStore {
    /// Opens (creating and migrating if needed) the database described by `config`.
    pub async fn open(config: &DbConfig) -> Result<TursoStore> {
        Self::open_with(config, true).await
    }

    /// Opens the database described by `config` (migrating it if needed) only if a store is already there; fails
    /// with [`Error::NoStore`], having created nothing, if not. For commands that only read.
    pub async fn open_existing(config: &DbConfig) -> Result<TursoStore> {
        Self::open_with(config, false).await
    }

    async fn open_with(config: &DbConfig, create: bool) -> Result<TursoStore> {
        let label = config.label();
        let (db, local) = match config {
            DbConfig::Local { path } => {
                if !create && !path.exists() {
                    return Err(Error::NoStore { path: label });
                }
                (open_local(path).await?, true)
            }
            DbConfig::Remote { url, token } => {
                let url = url.trim();
                if !(url.starts_with("libsql://")
                    || url.starts_with("https://")
                    || url.starts_with("http://"))
                {
                    return Err(Error::validation(
                        "database url",
                        format!("{url:?} must start with libsql://, https:// or http://"),
                    ));
                }
                let db = Builder::new_remote(url.to_string(), token.clone().unwrap_or_default())
                    .build()
                    .await
                    .db()?;
                (db, false)
            }
        };
        let writer = connect(&db, local)?;
        // Before any pragma: switching to WAL would already write to a file that is not ours.
        if !schema::check_ownership(&writer, &label).await? && !create {
            return Err(Error::NoStore { path: label });
        }
        configure(&writer, local, &label, true).await?;
        if local {
            // The writer gets 16 MiB of page cache (SQLite's default is 2 MiB): at 100K episodes the indexes that
            // every write touches no longer fit in the default and each write would reread pages.
            writer
                .execute_batch(&format!(
                    "PRAGMA journal_size_limit={WAL_LIMIT_BYTES}; PRAGMA wal_autocheckpoint={}; \
                     PRAGMA cache_size=-16384;",
                    WAL_LIMIT_BYTES / 4096
                ))
                .await
                .db()?;
        }
        let store_id = schema::migrate(&writer, &label).await?;
        let mut readers = Vec::new();
        for _ in 0..if local { LOCAL_READERS } else { 1 } {
            let reader = connect(&db, local)?;
            configure(&reader, local, &label, false).await?;
            if local {
                // Readers get 512 KiB each (SQLite's default is 2 MiB): the operating system's page cache serves
                // them, and a build of the index, which reads every vector, would leave each one's cache full.
                reader.execute("PRAGMA cache_size=-512", ()).await.db()?;
            }
            readers.push(Mutex::new(Db::new(reader, local)));
        }
        Ok(TursoStore {
            inner: Arc::new(Inner {
                _db: db,
                writer: Mutex::new(Db::new(writer, local)),
                readers,
                next_reader: AtomicUsize::new(0),
                local,
                label,
                store_id,
            }),
        })
    }

    /// The path or URL this store was opened with.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// True for an embedded file, false for a remote server.
    pub fn is_local(&self) -> bool {
        self.inner.local
    }

    /// Runs `work` on a reader connection.
    pub(crate) async fn read<T, F, Fut>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(Db) -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let i = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % self.inner.readers.len();
        let db = self.inner.readers[i].lock().await;
        self.run(db.clone(), work).await
    }

    /// Runs `work` inside an IMMEDIATE transaction on the writer connection; commits if it succeeds and rolls
    /// back otherwise, so a failed write leaves the database as it was.
    pub(crate) async fn write<T, F, Fut>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(Db) -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let db = self.inner.writer.lock().await;
        let result = self
            .run(db.clone(), move |db| {
                transaction(db, TransactionBehavior::Immediate, work)
            })
            .await;
        drop(db);
        result
    }

    /// Embedded SQLite calls block the calling thread, so they run through [`memory_core::run_blocking`];
    /// remote calls are real async IO and run in place.
    async fn run<T, F, Fut>(&self, db: Db, work: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(Db) -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if self.inner.local && multi_thread {
            memory_core::run_blocking(|| tokio::runtime::Handle::current().block_on(work(db)))
        } else {
            work(db).await
        }
    }

    /// The latest revision given to any write.
    pub(crate) async fn head_revision(&self) -> Result<u64> {
        self.read(|db| async move {
            let head = db
                .query_first(crate::episodes::HEAD, (), |row| row.get::<i64>(0).db())
                .await?;
            Ok(head.unwrap_or(0).max(0) as u64)
        })
        .await
    }
}

/// Runs `work` in a transaction of the given behaviour, on the transaction's own connection (remotely that is
/// the stream holding the transaction); commits on success, rolls back on failure.
pub(crate) async fn transaction<T, F, Fut>(
    db: Db,
    behavior: TransactionBehavior,
    work: F,
) -> Result<T>
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let tx = db.conn.transaction_with_behavior(behavior).await.db()?;
    match work(db.with_conn((*tx).clone())).await {
        Ok(value) => {
            tx.commit().await.db()?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(%rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

async fn open_local(path: &Path) -> Result<libsql::Database> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::Storage {
            backend: "libsql",
            detail: format!("cannot create {}: {e}", parent.display()),
        })?;
    }
    if path.is_dir() {
        return Err(Error::NotADatabase {
            path: path.display().to_string(),
            detail: "it is a directory".into(),
        });
    }
    Builder::new_local(path).build().await.db()
}

/// A new connection; an embedded one waits for other processes' locks (up to [`BUSY_TIMEOUT`]) from its first
/// statement on, so two processes opening (and creating) one file at once wait for each other.
fn connect(db: &libsql::Database, local: bool) -> Result<Connection> {
    let conn = db.connect().db()?;
    if local {
        conn.busy_timeout(BUSY_TIMEOUT).db()?;
    }
    Ok(conn)
}

/// Puts a new connection in the mode this store runs in. Embedded, `wal` also switches the file to WAL (kept in
/// the file, so only the writer asks).
async fn configure(conn: &Connection, local: bool, label: &str, wal: bool) -> Result<()> {
    if local {
        if wal {
            journal_mode_wal(conn, label).await?;
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;")
            .await
            .db()?;
    } else {
        // One round trip proves the server is reachable and accepts the token.
        let mut rows = conn.query("SELECT 1", ()).await.db()?;
        while rows.next().await.db()?.is_some() {}
    }
    Ok(())
}

/// `PRAGMA journal_mode=WAL`. SQLite answers it with `SQLITE_BUSY` at once, without its busy handler, while another
/// process opens or switches the same file, so it is retried here for up to [`BUSY_TIMEOUT`].
async fn journal_mode_wal(conn: &Connection, label: &str) -> Result<()> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        // `journal_mode` returns a row, so it goes through `query`. On a file that is not SQLite this is the first
        // statement to touch it, and it fails before anything is written.
        let switched = match conn.query("PRAGMA journal_mode=WAL", ()).await {
            Ok(mut rows) => loop {
                match rows.next().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break Ok(()),
                    Err(err) => break Err(err),
                }
            },
            Err(err) => Err(err),
        };
        match switched {
            Ok(()) => return Ok(()),
            Err(err) if is_busy(&err) && started.elapsed() < BUSY_TIMEOUT => {
                // Another process, not this one, holds the lock: blocking this thread cannot keep it from letting go.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(err) => return Err(not_a_database(label, err)),
        }
    }
}

/// Whether `err` is SQLite's `SQLITE_BUSY` (another connection holds the lock).
fn is_busy(err: &libsql::Error) -> bool {
    const SQLITE_BUSY: std::ffi::c_int = 5;
    matches!(err, libsql::Error::SqliteFailure(code, _) if code & 0xff == SQLITE_BUSY)
}

pub(crate) fn not_a_database(label: &str, err: libsql::Error) -> Error {
    let text = err.to_string();
    if text.contains("not a database") || text.contains("malformed") || text.contains("encrypted") {
        Error::NotADatabase {
            path: label.to_string(),
            detail: text,
        }
    } else {
        map(err)
    }
}
