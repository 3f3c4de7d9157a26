//! The options that name the store, and opening it: libSQL, with the redb cache in front unless told otherwise.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context as _, bail};
use clap::Args;
use memory_core::{CachedStore, ChangeFeed, Memory, PatternStore, Patterns, RecordStore, Records};
use memory_storage_redb::{RedbStore, SnapshotDir};
use memory_storage_turso::{DbConfig, TursoStore};

use crate::{embedder::EmbedderArgs, one_line};

/// Entries (episodes and memories) the cache keeps when `MEMORY_CACHE_CAPACITY` is not set.
const DEFAULT_CACHE_CAPACITY: usize = 20_000;

/// Where the store is and how it is opened: `--db`, `--db-url`, `--db-token`, `--no-cache` and the embedder.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct StoreArgs {
    /// The database file [default: the user's data directory, e.g. ~/.local/share/memory/memory.db].
    #[arg(long, global = true, env = "MEMORY_DB", value_name = "PATH")]
    db: Option<OsString>,
    /// A libSQL server (sqld, Turso) to use instead of a file: libsql://, https:// or http://.
    #[arg(long, global = true, env = "MEMORY_DB_URL", value_name = "URL")]
    db_url: Option<String>,
    /// The auth token for --db-url.
    #[arg(
        long,
        global = true,
        env = "MEMORY_DB_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    db_token: Option<String>,
    /// Do not use the local cache: the search index's snapshots beside the database, and a server's redb file.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// The embedder the store's vectors are made with.
    #[command(flatten)]
    pub embedder: EmbedderArgs,
}

// An empty value (`MEMORY_DB= memory-cli ...`) counts as not given, as it does for most Unix tools.
impl StoreArgs {
    /// `--db` / `MEMORY_DB`, if given.
    pub fn db(&self) -> Option<PathBuf> {
        self.db
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// `--db-url` / `MEMORY_DB_URL`, if given.
    pub fn db_url(&self) -> Option<&str> {
        self.db_url.as_deref().filter(|u| !u.trim().is_empty())
    }

    /// `--db-token` / `MEMORY_DB_TOKEN`, if given.
    pub fn db_token(&self) -> Option<&str> {
        self.db_token.as_deref().filter(|t| !t.is_empty())
    }
}

/// The database the options name: `--db-url` when given, else `--db`, else the default file.
pub fn db_config(args: &StoreArgs) -> anyhow::Result<DbConfig> {
    if let Some(url) = args.db_url() {
        return Ok(DbConfig::remote(url, args.db_token().map(String::from)));
    }
    let path = match args.db() {
        Some(path) => path,
        None => default_db_path()?,
    };
    Ok(DbConfig::local(path))
}

/// `<data dir>/memory/memory.db`, e.g. `~/.local/share/memory/memory.db` on Linux.
fn default_db_path() -> anyhow::Result<PathBuf> {
    let dir = dirs::data_dir()
        .context("cannot find the user's data directory; pass --db PATH or set MEMORY_DB")?;
    Ok(dir.join("memory").join("memory.db"))
}

/// What a process opens the store for. A command that only reads fails with [`memory_core::Error::NoStore`]
/// where there is none, and creates nothing (not even a directory). Only a server keeps the redb cache: a command
/// reads once, and a cached read asks libSQL for its head revision first anyway, so opening the cache (and
/// checkpointing it) would only cost a command time, and stop while a server holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// A command that only reads.
    Read,
    /// A command that writes, creating the store if there is none.
    Write,
    /// A long-running server: writes, and keeps the cache in front of the database.
    Serve,
}

impl Intent {
    /// [`Intent::Write`] when `writes`, else [`Intent::Read`].
    pub fn writes(writes: bool) -> Intent {
        if writes { Intent::Write } else { Intent::Read }
    }
}

/// The database alone (no cache), for what only it keeps: backups, exports, keys, imports and their reports.
pub async fn primary(config: &DbConfig, intent: Intent) -> anyhow::Result<TursoStore> {
    let opened = match intent {
        Intent::Write | Intent::Serve => TursoStore::open(config).await,
        Intent::Read => TursoStore::open_existing(config).await,
    };
    // Remote errors come from the HTTP client and do not say which server they were talking to.
    opened.map_err(|err| match (&err, config) {
        (memory_core::Error::NoStore { .. }, _) | (_, DbConfig::Local { .. }) => {
            anyhow::Error::from(err)
        }
        _ => anyhow::Error::from(err).context(config.label()),
    })
}

/// Episodes, memory records and patterns over one store.
fn both<S: ChangeFeed + RecordStore + PatternStore>(store: S) -> (Memory, Records, Patterns) {
    let store = Arc::new(store);
    let records = Records::from_arc(store.clone()).with_episodes(store.clone());
    let patterns = Patterns::new(store.clone());
    (Memory::from_arc(store), records, patterns)
}

/// Opens the database and, unless `--no-cache`, the index snapshots beside it (and, to serve, the cache in front
/// of it): the episodes façade, and the records and retrieval façade over the same store, embedding with the
/// embedder the options choose.
///
/// The cache is an optimisation: when a server cannot open it (most often because another process holds it) it
/// runs on the database alone after one warning line.
pub async fn open_both(
    config: &DbConfig,
    args: &StoreArgs,
    intent: Intent,
) -> anyhow::Result<(Memory, Records)> {
    let opened = open(config, args, intent).await?;
    Ok((opened.memory, opened.records))
}

/// Opens as [`open_both`] does, with the pattern learner over the same store and embedder too.
pub async fn open_all(
    config: &DbConfig,
    args: &StoreArgs,
    intent: Intent,
) -> anyhow::Result<(Memory, Records, Patterns)> {
    let opened = open(config, args, intent).await?;
    Ok((opened.memory, opened.records, opened.patterns))
}

/// What [`open`] opens.
pub struct Opened {
    /// The episodes.
    pub memory: Memory,
    /// The memory records and retrieval.
    pub records: Records,
    /// The pattern learner.
    pub patterns: Patterns,
    /// The database itself, for what only it keeps (API keys, the audit log, imports).
    pub primary: TursoStore,
}

/// Opens as [`open_all`] does, and keeps a handle on the database.
pub async fn open(config: &DbConfig, args: &StoreArgs, intent: Intent) -> anyhow::Result<Opened> {
    // Chosen before anything is opened, so a bad --embedder fails without side effects; choosing loads nothing.
    let chosen = crate::embedder::embedder(&args.embedder)?;
    let (primary, (memory, records, patterns)) = open_store(config, args.no_cache, intent).await?;
    let embedder = chosen.for_store(primary.embedding_model().await?.as_ref());
    let patterns = patterns.with_embedder(embedder.clone());
    let mut records = records
        .with_embedder(embedder)
        .with_patterns(patterns.clone());
    if !args.no_cache {
        let snapshots = SnapshotDir::beside(cache_path(config)?, primary.store_id().await?);
        records = records.with_snapshots(Arc::new(snapshots));
    }
    Ok(Opened {
        memory,
        records,
        patterns,
        primary,
    })
}

async fn open_store(
    config: &DbConfig,
    no_cache: bool,
    intent: Intent,
) -> anyhow::Result<(TursoStore, (Memory, Records, Patterns))> {
    // Read before anything is opened, so a bad value fails without side effects.
    let capacity = if no_cache || intent != Intent::Serve {
        None
    } else {
        Some(cache_capacity()?)
    };
    let primary = primary(config, intent).await?;
    let Some(capacity) = capacity else {
        return Ok((primary.clone(), both(primary)));
    };
    let cached = match open_cache(config, capacity).await {
        // `TursoStore` is a handle on shared state, so the clone stays usable if the pair cannot be formed.
        Ok(cache) => CachedStore::open(primary.clone(), cache)
            .await
            .map_err(anyhow::Error::from),
        Err(err) => Err(err),
    };
    match cached {
        Ok(store) => Ok((primary, both(store))),
        Err(err) => {
            eprintln!(
                "warning: running without the cache: {}",
                one_line(&format!("{err:#}"))
            );
            Ok((primary.clone(), both(primary)))
        }
    }
}

fn cache_capacity() -> anyhow::Result<usize> {
    let Some(text) = std::env::var_os("MEMORY_CACHE_CAPACITY") else {
        return Ok(DEFAULT_CACHE_CAPACITY);
    };
    match text.to_str().and_then(|t| t.trim().parse::<usize>().ok()) {
        Some(capacity) if capacity > 0 => Ok(capacity),
        _ => {
            bail!(
                "invalid MEMORY_CACHE_CAPACITY {text:?}: expected a positive number of cache entries"
            )
        }
    }
}

async fn open_cache(config: &DbConfig, capacity: usize) -> anyhow::Result<RedbStore> {
    let path = cache_path(config)?;
    // Opening a redb file does blocking IO; keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        create_parent(&path)?;
        RedbStore::open_cache(&path, capacity).map_err(|err| {
            // Most of redb's messages name the file already; add it where they do not.
            let shown = path.display().to_string();
            if err.to_string().contains(&shown) {
                anyhow::Error::from(err)
            } else {
                anyhow::Error::from(err).context(shown)
            }
        })
    })
    .await?
}

/// Where the cache of `config` lives: beside a local database (`memory.db` → `memory.cache.redb`), or in the
/// user's cache directory for a remote one, named after a stable hash of the URL.
pub fn cache_path(config: &DbConfig) -> anyhow::Result<PathBuf> {
    match config {
        DbConfig::Local { path } => Ok(path.with_extension("cache.redb")),
        DbConfig::Remote { url, .. } => {
            let dir = dirs::cache_dir().context("cannot find the user's cache directory")?;
            let name = format!(
                "remote-{:016x}.redb",
                memory_core::fnv1a64(url.trim().as_bytes())
            );
            Ok(dir.join("memory").join(name))
        }
    }
}

fn create_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_cache_sits_beside_the_database() {
        let path = cache_path(&DbConfig::local("/data/memory.db")).unwrap();
        assert_eq!(path, PathBuf::from("/data/memory.cache.redb"));
        let path = cache_path(&DbConfig::local("/data/memory")).unwrap();
        assert_eq!(path, PathBuf::from("/data/memory.cache.redb"));
    }
}
