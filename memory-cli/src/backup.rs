//! `memory-cli backup create | verify | restore` and `memory-cli export`: copies of the
//! store that prove they are whole (see `memory_storage_turso::backup`).

use std::{
    fmt::Write as _,
    fs::File,
    io::{self, BufWriter},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use memory_cli::open::{self, Intent, StoreArgs};
use memory_core::Error;
use memory_storage_redb::RedbStore;
use memory_storage_turso::{
    DbConfig,
    backup::{self, Manifest, TableDigest},
};
use serde::Serialize;

use crate::output::{Format, json};

/// `memory-cli backup ...`
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Copy the embedded database into DIR (new or empty) while it keeps serving, with a manifest of checksums,
    /// row counts and content digests.
    Create {
        /// Where the backup goes.
        dir: PathBuf,
    },
    /// Check a backup against its manifest: every file's SHA-256, every table's rows and digest.
    Verify {
        /// The backup.
        dir: PathBuf,
    },
    /// Verify a backup and put its database in place of the store's (--db), then rebuild the cache.
    Restore {
        /// The backup.
        dir: PathBuf,
        /// Replace a database that is already there (it is kept beside the restored one).
        #[arg(long)]
        force: bool,
    },
}

/// Arguments of `memory-cli export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write the JSON Lines (`-` or nothing: standard output).
    file: Option<PathBuf>,
}

/// Runs a `backup` command.
pub async fn run(
    command: BackupCommand,
    store: &StoreArgs,
    format: Format,
) -> anyhow::Result<String> {
    let config = open::db_config(store)?;
    match command {
        BackupCommand::Create { dir } => {
            let primary = open::primary(&config, Intent::Read).await?;
            let manifest = primary.backup(&dir).await?;
            render_manifest("backed up", &dir, &manifest, format)
        }
        BackupCommand::Verify { dir } => {
            let manifest = backup::verify(&dir).await?;
            render_manifest("verified", &dir, &manifest, format)
        }
        BackupCommand::Restore { dir, force } => restore(&dir, force, &config, store, format).await,
    }
}

async fn restore(
    dir: &Path,
    force: bool,
    config: &DbConfig,
    store: &StoreArgs,
    format: Format,
) -> anyhow::Result<String> {
    let DbConfig::Local { path } = config else {
        bail!(
            "backup restore puts a database file in place; to load a server's store use `memory-cli import store`"
        );
    };
    let cache = open::cache_path(config)?;
    refuse_if_in_use(&cache).await?;
    let restored = backup::restore(dir, path, force).await?;
    // The cache describes the database that was there before; it is rebuilt from the restored one.
    memory_storage_redb::delete_cache(&cache).context("cannot remove the old cache")?;
    if !store.no_cache {
        let (memory, _) = open::open_both(config, store, Intent::Write).await?;
        memory.close().await?;
    }
    let mut text = render_manifest("restored", dir, &restored.manifest, format)?;
    if format == Format::Human {
        writeln!(text, "into       {}", path.display())?;
        if let Some(aside) = &restored.replaced {
            writeln!(text, "replaced   {} (kept)", aside.display())?;
        }
    }
    Ok(text)
}

/// A process that serves the store holds its cache open; replacing the database under it would lose its writes.
async fn refuse_if_in_use(cache: &Path) -> anyhow::Result<()> {
    if !cache.exists() {
        return Ok(());
    }
    let path = cache.to_path_buf();
    match tokio::task::spawn_blocking(move || RedbStore::open_cache(&path, 1)).await? {
        Err(err @ Error::InUse { .. }) => {
            bail!("the store is in use ({err}): stop the process using it before restoring")
        }
        // A damaged cache is of no use and is rebuilt anyway.
        Ok(_) | Err(_) => Ok(()),
    }
}

/// Runs `memory-cli export`: to a file, then says what it wrote; or to standard output, alone.
pub async fn export(
    args: &ExportArgs,
    store: &StoreArgs,
    format: Format,
) -> anyhow::Result<String> {
    let primary = open::primary(&open::db_config(store)?, Intent::Read).await?;
    let Some(file) = args.file.as_deref().filter(|f| *f != Path::new("-")) else {
        primary.export(&mut BufWriter::new(io::stdout())).await?;
        return Ok(String::new());
    };
    if file.exists() {
        bail!("{} already exists; export into a new file", file.display());
    }
    let created =
        File::create(file).with_context(|| format!("cannot create {}", file.display()))?;
    let summary = match primary.export(&mut BufWriter::new(created)).await {
        Ok(summary) => summary,
        Err(err) => {
            let _ = std::fs::remove_file(file);
            return Err(err.into());
        }
    };
    let what = file.display().to_string();
    render_tables(
        "exported to",
        &what,
        &summary.tables,
        &summary.content_digest,
        format,
    )
}

fn render_manifest(
    verb: &str,
    dir: &Path,
    manifest: &Manifest,
    format: Format,
) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(manifest);
    }
    let mut text = render_tables(
        verb,
        &dir.display().to_string(),
        &manifest.tables,
        &manifest.content_digest,
        format,
    )?;
    writeln!(
        text,
        "taken      {} from {}",
        manifest.created_at, manifest.source
    )?;
    writeln!(
        text,
        "schema     {} (store {})",
        manifest.schema_version, manifest.store_id
    )?;
    for file in &manifest.files {
        writeln!(
            text,
            "file       {} {} bytes sha256 {}",
            file.name, file.bytes, file.sha256
        )?;
    }
    Ok(text)
}

#[derive(Serialize)]
struct Tables<'a> {
    tables: &'a [TableDigest],
    content_digest: &'a str,
}

pub(crate) fn render_tables(
    verb: &str,
    what: &str,
    tables: &[TableDigest],
    content_digest: &str,
    format: Format,
) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(&Tables {
            tables,
            content_digest,
        });
    }
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    let mut text = format!("{verb} {what}: {rows} rows in {} tables\n", tables.len());
    for table in tables.iter().filter(|t| t.rows > 0) {
        writeln!(text, "  {:<26} {:>10}", table.name, table.rows)?;
    }
    writeln!(text, "content    {content_digest}")?;
    Ok(text)
}
