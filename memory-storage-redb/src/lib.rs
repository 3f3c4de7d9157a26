//! A single-file episode store on redb with postcard records: the cache in front of libSQL, or a standalone store.
//!
//! [`RedbStore`] implements [`memory_core::EpisodeStore`] and [`memory_core::EpisodeCache`] over one redb file
//! with three tables:
//!
//! - `episodes` (and `records`, for memory records, alike): the 16 bytes of the UUID → a record
//!   `[RECORD_VERSION: u8][revision: u64 LE][checksum: u64 LE][postcard payload]`, where the checksum is the
//!   FNV-1a 64 hash of the version, the revision and the payload. A record that fails any of these checks is a miss in a cache and
//!   [`memory_core::Error::Corrupt`] in a store; it is never returned as a value.
//! - `meta`: the schema version ([`SCHEMA_VERSION`]), the role (`store` or `cache`), the revision counter, and, for
//!   caches, the `applied` revision and the id of the source database the cache is bound to.
//!
//! Beside a cache, [`SnapshotDir`] keeps the search index's snapshots, in files (`memory.cache.redb` →
//! `memory.cache.snapshots/`), each with its own length and checksum and bound to one database, deleted with the
//! cache ([`delete_cache`]).
//!
//! Opened with [`RedbStore::open_cache`] it keeps at most `capacity` entries and 16 MiB of them (least recently
//! used are evicted), commits without fsync, recreates a file it cannot trust, and keeps decoded copies of the most
//! recently read entries in memory so hot reads skip the lookup and the decode. Opened with
//! [`RedbStore::open_store`] every write is durable and an unusable file is reported, never overwritten.
//!
//! ```
//! use memory_core::{Episode, EpisodeQuery, EpisodeStore, TaskContext, TaskType};
//! use memory_storage_redb::RedbStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = RedbStore::open_store(dir.path().join("memory.redb"))?;
//! let context = TaskContext { domain: "payments".into(), ..Default::default() };
//! let episode = Episode::new("fix the flaky settle test", TaskType::Debugging, context);
//! let revision = store.insert_episode(&episode).await?;
//! let read = store.get_episode(episode.id).await?.ok_or("episode missing")?;
//! assert_eq!((read.revision, &read.value), (revision, &episode));
//! assert_eq!(store.list_episodes(&EpisodeQuery::default()).await?.len(), 1);
//! store.close().await?;
//! # Ok(())
//! # }
//! ```

mod cache;
mod hot;
mod inner;
mod lru;
mod open;
mod record;
mod schema;
mod snapshots;
mod store;

pub use snapshots::SnapshotDir;
pub use store::RedbStore;

/// Deletes the cache file at `path` and its snapshots, if they exist (the cache must not be open).
pub fn delete_cache(path: &std::path::Path) -> memory_core::Result<()> {
    snapshots::clear(path)?;
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(snapshots::failed("deleting", path, err))
        }
        _ => Ok(()),
    }
}

/// Version of the file's layout (tables, meta entries, record framing).
///
/// A cache whose file has another version deletes and recreates it; a store refuses a newer version with
/// [`memory_core::Error::SchemaTooNew`]. Version 2: episodes carry their scope. Version 3: search-index
/// snapshots moved out of the file, into `<file>.snapshots/`.
pub const SCHEMA_VERSION: u64 = 3;
