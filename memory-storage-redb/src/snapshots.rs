//! Search-index snapshots, kept in files beside the cache (`memory.cache.redb` → `memory.cache.snapshots/`), one
//! per name. They are large and always written whole, so they stay out of the redb file, whose pages a cache
//! verifies on every open: in it they made each start read hundreds of megabytes.
//!
//! A file is `MAGIC`, the payload's length (u64 LE), its FNV-1a 64 checksum (u64 LE) and the postcard payload.
//! It is written to a temporary file and renamed over the old one, so a reader sees a whole snapshot or none;
//! one that is short, foreign or fails its checksum is a miss. A temporary file a process left when it died while
//! writing is deleted by the next write, once it is an hour old (no write takes that long).

use std::{
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use memory_core::{Error, Result, fnv1a64};

const MAGIC: &[u8; 8] = b"MSNAPv1\n";
const HEADER_LEN: usize = MAGIC.len() + 16;

/// The age from which a temporary file is one a dead process left.
const STALE: Duration = Duration::from_secs(3600);

/// The snapshot directory of the cache at `cache`.
pub(crate) fn dir(cache: &Path) -> PathBuf {
    cache.with_extension("snapshots")
}

/// The file of snapshot `name` (names are hex-encoded: they may hold any character).
fn file(cache: &Path, name: &str) -> PathBuf {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    dir(cache).join(format!("{hex}.snapshot"))
}

/// A file operation's failure as a storage error naming the file.
pub(crate) fn failed(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::Storage {
        backend: "redb",
        detail: format!("{what} {}: {err}", path.display()),
    }
}

/// The payload of snapshot `name`, if one is saved and sound.
pub(crate) fn read(cache: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let path = file(cache, name);
    let mut bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(failed("reading", &path, err)),
    };
    let sound = bytes.len() >= HEADER_LEN && bytes.starts_with(MAGIC) && {
        let field = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let (len, checksum) = (field(MAGIC.len()), field(MAGIC.len() + 8));
        len == (bytes.len() - HEADER_LEN) as u64 && checksum == fnv1a64(&bytes[HEADER_LEN..])
    };
    if !sound {
        tracing::warn!(path = %path.display(), "index snapshot is damaged; ignoring it");
        return Ok(None);
    }
    bytes.drain(..HEADER_LEN);
    Ok(Some(bytes))
}

/// Saves `payload` as snapshot `name`, replacing the one before.
pub(crate) fn write(cache: &Path, name: &str, payload: &[u8]) -> Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = file(cache, name);
    let dir = dir(cache);
    std::fs::create_dir_all(&dir).map_err(|e| failed("creating", &dir, e))?;
    remove_stale(&dir);
    let temporary = path.with_extension(format!(
        "{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&fnv1a64(payload).to_le_bytes());
    std::fs::File::create(&temporary)
        .and_then(|mut f| f.write_all(&header).and_then(|()| f.write_all(payload)))
        .map_err(|e| failed("writing", &temporary, e))?;
    std::fs::rename(&temporary, &path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        failed("renaming", &temporary, e)
    })
}

/// Deletes the temporary files in `dir` older than [`STALE`]; one that cannot be read or deleted stays.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let age = entry.metadata().and_then(|m| m.modified()).ok();
        let stale = age
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if stale && path.extension().is_some_and(|e| e == "tmp") {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Deletes every snapshot of the cache at `cache`.
pub(crate) fn clear(cache: &Path) -> Result<()> {
    let dir = dir(cache);
    match std::fs::remove_dir_all(&dir) {
        Err(err) if err.kind() != ErrorKind::NotFound => Err(failed("deleting", &dir, err)),
        _ => Ok(()),
    }
}
