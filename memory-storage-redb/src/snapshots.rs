//! Search-index snapshots, kept in files beside the cache (`memory.cache.redb` → `memory.cache.snapshots/`), one
//! per name. They are large and always written whole, so they stay out of the redb file, whose pages a cache
//! verifies on every open: in it they made each start read hundreds of megabytes.
//!
//! A file is `MAGIC`, then the lengths and CRC-32 checksums (u64 LE each) of the postcard payload and of the
//! index's [`Sections`] (the documents' rows, the vectors' codes and sign planes, the posting lists), then the
//! parts, each section at an
//! offset that is a multiple of 8. Reading checks every checksum (the sections where they are mapped), decodes the
//! payload and gives the index the mapped sections, which it reads in place: a search reads a few thousand
//! documents' codes and rows and the lists of its words, so most stays on disk, and the pages read are the kernel's to
//! keep or drop (and shared by every process on the same cache).
//! It is written to a temporary file and renamed over the old one, so a reader sees a whole snapshot or none
//! (and a mapped file is never changed: a new snapshot is a new file); one that is short, foreign or fails a
//! checksum is a miss. A temporary file a process left when it died while
//! writing is deleted by the next write, once it is an hour old (no write takes that long).

use std::{
    fs::File,
    io::{ErrorKind, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use memory_core::{
    Error, Result, SnapshotStore,
    index::{Sections, SharedBytes, snapshot::Snapshot},
};

const MAGIC: &[u8; 8] = b"MSNAPv6\n";
/// The parts of a file: the payload and the sections.
const PARTS: usize = 5;
const HEADER_LEN: usize = MAGIC.len() + 16 * PARTS;

/// The age from which a temporary file is one a dead process left.
const STALE: Duration = Duration::from_secs(3600);

/// The index snapshots of one database, in files beside its cache file (`memory.cache.redb` →
/// `memory.cache.snapshots/`): the [`SnapshotStore`] to give [`memory_core::Records::with_snapshots`]. Any
/// process may read and write them, with the cache file open or not (each file is written whole and renamed into
/// place); a file that is damaged, does not decode, or is of another store or collection is a miss.
#[derive(Clone, Debug)]
pub struct SnapshotDir {
    cache: PathBuf,
    store_id: String,
}

impl SnapshotDir {
    /// The snapshots beside the cache file `cache`, of the database whose store id is `store_id`.
    pub fn beside(cache: impl Into<PathBuf>, store_id: impl Into<String>) -> Self {
        SnapshotDir {
            cache: cache.into(),
            store_id: store_id.into(),
        }
    }
}

impl SnapshotStore for SnapshotDir {
    fn snapshot(&self, name: &str) -> Result<Option<Snapshot>> {
        let Some((bytes, sections)) = read(&self.cache, name)? else {
            return Ok(None);
        };
        let snapshot = match postcard::from_bytes::<Snapshot>(&bytes) {
            Ok(snapshot) => snapshot,
            Err(err) => {
                tracing::warn!(name, %err, "index snapshot does not decode; ignoring it");
                return Ok(None);
            }
        };
        if !snapshot.is_of(&self.store_id, name) {
            tracing::warn!(
                name,
                "index snapshot is of another store or collection; ignoring it"
            );
            return Ok(None);
        }
        Ok(Some(snapshot.with_sections(sections)))
    }

    fn put_snapshot(&self, name: &str, snapshot: Snapshot) -> Result<Option<Sections>> {
        let snapshot = snapshot.bind(&self.store_id, name);
        let bytes = postcard::to_allocvec(&snapshot).map_err(|e| Error::Storage {
            backend: "redb",
            detail: format!("encoding a snapshot: {e}"),
        })?;
        write(&self.cache, name, &bytes, snapshot.sections()).map(Some)
    }
}

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

/// The payload and the sections of snapshot `name`, if one is saved and sound.
fn read(cache: &Path, name: &str) -> Result<Option<(Vec<u8>, Sections)>> {
    let path = file(cache, name);
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(failed("reading", &path, err)),
    };
    let read = sound(&mut f).map_err(|e| failed("reading", &path, e))?;
    let damaged = || {
        tracing::warn!(path = %path.display(), "index snapshot is damaged; ignoring it");
        Ok(None)
    };
    let Some(Sound {
        payload,
        layout,
        sums,
    }) = read
    else {
        return damaged();
    };
    match map(&f, &layout, Some(&sums)).map_err(|e| failed("mapping", &path, e))? {
        Some(sections) => Ok(Some((payload, sections))),
        None => damaged(),
    }
}

/// Where the parts of a snapshot file are: the payload, the rows, the codes, the sign planes and the postings,
/// each as (offset, length).
/// The payload follows the header; each section starts at the next multiple of 8 after the part before, so that
/// its numbers are aligned once mapped.
struct Layout([(u64, u64); PARTS]);

impl Layout {
    fn of(lens: [u64; PARTS]) -> Option<Layout> {
        let mut parts = [(0, 0); PARTS];
        let mut end = HEADER_LEN as u64;
        for (part, len) in parts.iter_mut().zip(lens) {
            let start = end.checked_next_multiple_of(8)?;
            *part = (start, len);
            end = start.checked_add(len)?;
        }
        Some(Layout(parts))
    }

    /// The file's length.
    fn end(&self) -> u64 {
        let (start, len) = self.0[PARTS - 1];
        start + len
    }
}

/// The sections of the snapshot file `f`, mapped; with `sums` (the header's checksums, the payload's first),
/// none if a section's bytes do not have its checksum.
fn map(
    f: &File,
    layout: &Layout,
    sums: Option<&[u64; PARTS]>,
) -> std::io::Result<Option<Sections>> {
    let section = |i: usize, advice| -> std::io::Result<Option<SharedBytes>> {
        let (offset, len) = layout.0[i];
        if len == 0 {
            let empty: SharedBytes = Arc::new(Vec::new());
            let sound = sums.is_none_or(|sums| checksum(&[]) == sums[i]);
            return Ok(sound.then_some(empty));
        }
        // SAFETY: the file is never changed once written: a snapshot is written to a temporary file and renamed
        // into place, replaced by renaming another over it and deleted by unlinking it, none of which changes the
        // pages of a file already mapped. Only a process outside this crate writing into the file could, and the
        // cache directory is this crate's.
        #[allow(unsafe_code)]
        let map = unsafe {
            let mut options = memmap2::MmapOptions::new();
            options.offset(offset).len(len as usize);
            if sums.is_some() {
                // Every byte is read for the checksum: the kernel maps them all at once (MAP_POPULATE) instead of
                // taking a page fault per 4 KiB.
                options.populate();
            }
            options.map(f)?
        };
        if let Some(sums) = sums {
            // Checked in place, read ahead in order; the advice for searching comes after.
            let _ = map.advise(memmap2::Advice::Sequential);
            if checksum(&map) != sums[i] {
                return Ok(None);
            }
        }
        let _ = map.advise(advice);
        Ok(Some(Arc::new(map)))
    };
    let (Some(slots), Some(codes), Some(bits), Some(postings)) = (
        section(1, memmap2::Advice::Normal)?,
        // A search reads codes here and there: read ahead nothing.
        section(2, memmap2::Advice::Random)?,
        section(3, memmap2::Advice::Normal)?,
        section(4, memmap2::Advice::Normal)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(Sections {
        slots,
        codes,
        bits,
        postings,
    }))
}

/// The payload of the snapshot file `f` and where its parts are, if its header and lengths agree and the
/// payload's checksum is right (the sections' are checked where they are mapped, by [`map`]).
fn sound(f: &mut File) -> std::io::Result<Option<Sound>> {
    let size = f.metadata()?.len();
    let mut header = [0u8; HEADER_LEN];
    if size < HEADER_LEN as u64 {
        return Ok(None);
    }
    f.read_exact(&mut header)?;
    let field = |i: usize| {
        let at = MAGIC.len() + 8 * i;
        u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"))
    };
    let Some(layout) = Layout::of(std::array::from_fn(|i| field(2 * i))) else {
        return Ok(None);
    };
    if !header.starts_with(MAGIC) || layout.end() != size {
        return Ok(None);
    }
    let sums: [u64; PARTS] = std::array::from_fn(|i| field(2 * i + 1));
    let (offset, len) = layout.0[0];
    f.seek(SeekFrom::Start(offset))?;
    let mut payload = Vec::new();
    (&mut *f).take(len).read_to_end(&mut payload)?;
    if checksum(&payload) != sums[0] {
        return Ok(None);
    }
    Ok(Some(Sound {
        payload,
        layout,
        sums,
    }))
}

/// A snapshot file whose header and payload are sound: the payload, where the parts are and their checksums.
struct Sound {
    payload: Vec<u8>,
    layout: Layout,
    sums: [u64; PARTS],
}

/// The checksum of a part: CRC-32 (IEEE), as a u64 field of the header.
fn checksum(bytes: &[u8]) -> u64 {
    u64::from(crc32fast::hash(bytes))
}

/// Saves `payload` and `sections` as snapshot `name`, replacing the one before, and gives back the sections as
/// saved, mapped.
fn write(cache: &Path, name: &str, payload: &[u8], sections: &Sections) -> Result<Sections> {
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
    let parts = [
        payload,
        (*sections.slots).as_ref(),
        (*sections.codes).as_ref(),
        (*sections.bits).as_ref(),
        (*sections.postings).as_ref(),
    ];
    let mut header = MAGIC.to_vec();
    for part in parts {
        header.extend_from_slice(&(part.len() as u64).to_le_bytes());
        header.extend_from_slice(&checksum(part).to_le_bytes());
    }
    let layout = Layout::of(parts.map(|p| p.len() as u64)).expect("lengths of parts in memory");
    // Mapped from the file written, before it is renamed: the name may be another process's snapshot by then.
    let mapped = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .and_then(|mut f| {
            f.write_all(&header)?;
            for (part, &(offset, _)) in parts.iter().zip(&layout.0) {
                f.seek(SeekFrom::Start(offset))?;
                f.write_all(part)?;
            }
            map(&f, &layout, None).map(|sections| sections.expect("sections unchecked"))
        });
    let renamed = mapped.and_then(|mapped| std::fs::rename(&temporary, &path).map(|()| mapped));
    renamed.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        failed("writing", &temporary, e)
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
