//! The shared state behind a [`crate::RedbStore`]: the database handle, the LRU of cached keys, and the one
//! write path every mutation goes through.

use std::{
    num::NonZeroUsize,
    path::PathBuf,
    sync::{
        Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use memory_core::{Episode, EpisodeId, Error, RecordId, Result, Revision};
use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, Table, WriteTransaction,
};

use crate::{
    hot::Hot,
    lru::{BUDGET_BYTES, Lru},
    record,
    schema::{
        APPLIED_KEY, EPISODES, META, RECORD_APPLIED_KEY, RECORDS, REVISION_KEY, Role, STORE_ID_KEY,
        meta_bytes, meta_u64, storage,
    },
};

/// What a cache entry is: an episode (table `episodes`) or a memory record (table `records`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    Episode(EpisodeId),
    Record(RecordId),
}

/// The size of an entry for the LRU's byte budget.
fn entry_size(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}

/// Locks a mutex, accepting one poisoned by a panic elsewhere (the guarded data stays usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything a [`crate::RedbStore`] shares with the blocking tasks that run its writes.
pub(crate) struct Inner {
    /// The file, for messages.
    pub(crate) path: PathBuf,
    /// Store or cache.
    pub(crate) role: Role,
    /// The database; `None` once closed. Every operation holds the read lock for its duration.
    db: RwLock<Option<Database>>,
    /// Serializes this process's writers, so that the bookkeeping after a commit (LRU, `applied`) happens in
    /// commit order. redb serializes write transactions anyway, so this costs no concurrency.
    writer: Mutex<()>,
    /// The cached keys (caches only). Mutated by writers under `writer`, and by reads to promote a hit.
    lru: Option<Mutex<Lru>>,
    /// Mirror of the `applied` meta entry, updated after each commit that changes it.
    pub(crate) applied: AtomicU64,
    /// Mirror of the `record_applied` meta entry (the record change feed's), updated after each commit.
    pub(crate) record_applied: AtomicU64,
    /// Decoded copies of hot entries (caches only).
    pub(crate) hot: Option<Hot>,
}

/// One mutation to replay on the LRU once the write's own changes are known.
#[derive(Clone, Copy)]
enum Op {
    /// A key and the bytes of its entry.
    Put(Key, u32),
    Remove(Key),
    Clear,
}

/// The tables of one write transaction, with the bookkeeping the write path needs.
pub(crate) struct Writer<'t> {
    role: Role,
    episodes: Table<'t, [u8; 16], &'static [u8]>,
    records: Table<'t, [u8; 16], &'static [u8]>,
    meta: Table<'t, &'static str, &'static [u8]>,
    ops: Vec<Op>,
    revision: Option<Revision>,
    /// `applied` as the write lock was taken.
    applied_before: Revision,
    /// `applied` as set by this transaction.
    applied: Option<Revision>,
    /// `record_applied` as set by this transaction.
    record_applied: Option<Revision>,
    dirty: bool,
}

impl<'t> Writer<'t> {
    fn new(txn: &'t WriteTransaction, role: Role, applied_before: Revision) -> Result<Self> {
        Ok(Writer {
            role,
            episodes: txn.open_table(EPISODES).map_err(storage)?,
            records: txn.open_table(RECORDS).map_err(storage)?,
            meta: txn.open_table(META).map_err(storage)?,
            ops: Vec::new(),
            revision: None,
            applied_before,
            applied: None,
            record_applied: None,
            dirty: false,
        })
    }

    /// True when a record is stored under `id` (whether or not it decodes).
    pub(crate) fn contains(&self, id: EpisodeId) -> Result<bool> {
        Ok(self.episodes.get(id.as_bytes()).map_err(storage)?.is_some())
    }

    /// The stored episode and its revision. A damaged record is [`Error::Corrupt`] in a store; in a cache it is
    /// deleted and reported as absent.
    pub(crate) fn episode(&mut self, id: EpisodeId) -> Result<Option<(Revision, Episode)>> {
        let decoded = match self.episodes.get(id.as_bytes()).map_err(storage)? {
            None => return Ok(None),
            Some(value) => record::decode(value.value(), id.0),
        };
        match decoded {
            Ok(found) => Ok(Some(found)),
            Err(detail) => self.damaged(id, &detail).map(|()| None),
        }
    }

    /// The revision of the stored record (framing and checksum checked, payload not decoded). Damage is
    /// handled as in [`Writer::episode`].
    pub(crate) fn revision_of(&mut self, id: EpisodeId) -> Result<Option<Revision>> {
        let opened = match self.episodes.get(id.as_bytes()).map_err(storage)? {
            None => return Ok(None),
            Some(value) => record::open(value.value()).map(|(revision, _)| revision),
        };
        match opened {
            Ok(revision) => Ok(Some(revision)),
            Err(detail) => self.damaged(id, &detail).map(|()| None),
        }
    }

    fn damaged(&mut self, id: EpisodeId, detail: &str) -> Result<()> {
        match self.role {
            Role::Store => Err(Error::Corrupt(format!("episode {id}: {detail}"))),
            Role::Cache => {
                tracing::warn!(%id, %detail, "dropping a damaged cache record");
                self.remove(id).map(|_| ())
            }
        }
    }

    /// Stores `episode` as written at `revision`, replacing any record under its id.
    pub(crate) fn store(&mut self, revision: Revision, episode: &Episode) -> Result<()> {
        let bytes = record::encode(revision, episode)?;
        self.store_encoded(episode.id, &bytes)
    }

    /// Stores a record made by [`record::encode`] for episode `id`, replacing any record under that id.
    pub(crate) fn store_encoded(&mut self, id: EpisodeId, record: &[u8]) -> Result<()> {
        self.episodes
            .insert(id.as_bytes(), record)
            .map_err(storage)?;
        self.ops.push(Op::Put(Key::Episode(id), entry_size(record)));
        self.dirty = true;
        Ok(())
    }

    /// Deletes the record of `id`; returns whether there was one.
    pub(crate) fn remove(&mut self, id: EpisodeId) -> Result<bool> {
        let existed = self
            .episodes
            .remove(id.as_bytes())
            .map_err(storage)?
            .is_some();
        if existed {
            self.ops.push(Op::Remove(Key::Episode(id)));
            self.dirty = true;
        }
        Ok(existed)
    }

    /// The revision of the cached memory record of `id` (framing and checksum checked); damage is a miss.
    pub(crate) fn record_revision(&mut self, id: RecordId) -> Result<Option<Revision>> {
        let opened = match self.records.get(id.0.as_bytes()).map_err(storage)? {
            None => return Ok(None),
            Some(value) => record::open(value.value()).map(|(revision, _)| revision),
        };
        match opened {
            Ok(revision) => Ok(Some(revision)),
            Err(detail) => {
                tracing::warn!(%id, %detail, "dropping a damaged cached memory");
                self.remove_record(id).map(|_| None)
            }
        }
    }

    /// Caches a memory record made by [`record::encode`].
    pub(crate) fn put_record(&mut self, id: RecordId, bytes: &[u8]) -> Result<()> {
        self.records
            .insert(id.0.as_bytes(), bytes)
            .map_err(storage)?;
        self.ops.push(Op::Put(Key::Record(id), entry_size(bytes)));
        self.dirty = true;
        Ok(())
    }

    /// Drops the cached memory record of `id`; returns whether there was one.
    pub(crate) fn remove_record(&mut self, id: RecordId) -> Result<bool> {
        let existed = self
            .records
            .remove(id.0.as_bytes())
            .map_err(storage)?
            .is_some();
        if existed {
            self.ops.push(Op::Remove(Key::Record(id)));
            self.dirty = true;
        }
        Ok(existed)
    }

    /// Deletes the entry of `key`; returns whether there was one.
    pub(crate) fn remove_key(&mut self, key: Key) -> Result<bool> {
        match key {
            Key::Episode(id) => self.remove(id),
            Key::Record(id) => self.remove_record(id),
        }
    }

    /// The stored `record_applied` revision (of the record change feed).
    pub(crate) fn record_applied(&self) -> Result<Revision> {
        match self.record_applied {
            Some(applied) => Ok(applied),
            None => Ok(meta_u64(&self.meta, RECORD_APPLIED_KEY)?.unwrap_or(0)),
        }
    }

    /// Sets and stores `record_applied`.
    pub(crate) fn set_record_applied(&mut self, applied: Revision) -> Result<()> {
        self.meta
            .insert(RECORD_APPLIED_KEY, applied.to_le_bytes().as_slice())
            .map_err(storage)?;
        self.record_applied = Some(applied);
        self.dirty = true;
        Ok(())
    }

    /// Deletes every episode and memory record.
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.episodes.retain(|_, _| false).map_err(storage)?;
        self.records.retain(|_, _| false).map_err(storage)?;
        self.ops.push(Op::Clear);
        self.dirty = true;
        Ok(())
    }

    /// The revision of this write: the stored counter plus one, allocated once per transaction.
    pub(crate) fn next_revision(&mut self) -> Result<Revision> {
        if let Some(revision) = self.revision {
            return Ok(revision);
        }
        let revision = meta_u64(&self.meta, REVISION_KEY)?
            .unwrap_or(0)
            .saturating_add(1);
        self.meta
            .insert(REVISION_KEY, revision.to_le_bytes().as_slice())
            .map_err(storage)?;
        self.revision = Some(revision);
        self.dirty = true;
        Ok(revision)
    }

    /// The last revision given to a write.
    pub(crate) fn current_revision(&self) -> Result<Revision> {
        Ok(meta_u64(&self.meta, REVISION_KEY)?.unwrap_or(0))
    }

    /// The stored `applied` revision.
    pub(crate) fn applied(&self) -> Result<Revision> {
        Ok(self.applied.unwrap_or(self.applied_before))
    }

    /// Sets `applied`. The in-memory value is the truth (it changes only under the write lock); the file gets it
    /// with the transaction if it commits anyway, and always at a checkpoint. A file holding an older `applied`
    /// than memory is safe: a smaller `applied` only asks for more of the change feed to be applied again.
    pub(crate) fn set_applied(&mut self, applied: Revision) -> Result<()> {
        self.applied = Some(applied);
        Ok(())
    }

    /// Writes the current `applied` to the file, so the transaction commits.
    pub(crate) fn persist_applied(&mut self) -> Result<()> {
        let applied = self.applied()?;
        self.meta
            .insert(APPLIED_KEY, applied.to_le_bytes().as_slice())
            .map_err(storage)?;
        self.dirty = true;
        Ok(())
    }

    /// The id of the source database the cache is bound to.
    pub(crate) fn store_id(&self) -> Result<Option<Vec<u8>>> {
        meta_bytes(&self.meta, STORE_ID_KEY)
    }

    /// Records the id of the source database the cache is bound to.
    pub(crate) fn set_store_id(&mut self, store_id: &str) -> Result<()> {
        self.meta
            .insert(STORE_ID_KEY, store_id.as_bytes())
            .map_err(storage)?;
        self.dirty = true;
        Ok(())
    }
}

impl Inner {
    /// Wraps an open, checked database. `lru` is `Some` exactly for caches.
    pub(crate) fn new(
        path: PathBuf,
        role: Role,
        db: Database,
        lru: Option<Lru>,
        applied: Revision,
    ) -> Self {
        let record_applied = stored_record_applied(&db);
        Inner {
            path,
            role,
            db: RwLock::new(Some(db)),
            writer: Mutex::new(()),
            hot: lru.as_ref().map(|lru| Hot::new(lru.cap())),
            lru: lru.map(Mutex::new),
            applied: AtomicU64::new(applied),
            record_applied: AtomicU64::new(record_applied),
        }
    }

    fn closed(&self) -> Error {
        Error::Unavailable(format!("{} was closed", self.path.display()))
    }

    /// The durability of ordinary writes: none for a cache (it may lose recent writes in a crash, never
    /// consistency), immediate for a store.
    pub(crate) fn durability(&self) -> Durability {
        match self.role {
            Role::Store => Durability::Immediate,
            Role::Cache => Durability::None,
        }
    }

    /// Runs `f` in a read transaction over the `episodes` table.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&ReadOnlyTable<[u8; 16], &'static [u8]>) -> Result<T>,
    ) -> Result<T> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let db = guard.as_ref().ok_or_else(|| self.closed())?;
        let txn = db.begin_read().map_err(storage)?;
        let table = txn.open_table(EPISODES).map_err(storage)?;
        f(&table)
    }

    /// Runs `f` in a read transaction over the `records` table; `None` when the file has none yet.
    pub(crate) fn read_records<T>(
        &self,
        f: impl FnOnce(&ReadOnlyTable<[u8; 16], &'static [u8]>) -> Result<T>,
    ) -> Result<Option<T>> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let db = guard.as_ref().ok_or_else(|| self.closed())?;
        let txn = db.begin_read().map_err(storage)?;
        match txn.open_table(RECORDS) {
            Ok(table) => f(&table).map(Some),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(err) => Err(storage(err)),
        }
    }

    /// Runs `f` in one write transaction and commits it when `f` changed something. In a cache, the keys `f`
    /// wrote become the most recently used and the least recently used beyond capacity are deleted in the same
    /// transaction. Nothing is changed when `f` fails.
    pub(crate) fn write<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let db = guard.as_ref().ok_or_else(|| self.closed())?;
        let _writing = lock(&self.writer);
        let mut txn = db.begin_write().map_err(storage)?;
        txn.set_durability(durability).map_err(storage)?;
        let mut writer = Writer::new(&txn, self.role, self.applied.load(Ordering::SeqCst))?;
        let out = f(&mut writer)?;
        if !writer.dirty {
            let applied = writer.applied;
            drop(writer);
            txn.abort().map_err(storage)?;
            if let Some(applied) = applied {
                self.applied.store(applied, Ordering::SeqCst);
            }
            return Ok(out);
        }
        if writer.applied.is_some() {
            writer.persist_applied()?;
        }
        let lru_changed = self.lru.is_some() && !writer.ops.is_empty();
        let touched: Vec<Op> = writer.ops.clone();
        let evicted = self.evict(&mut writer);
        let (applied, record_applied) = (writer.applied, writer.record_applied);
        drop(writer);
        let victims =
            match evicted.and_then(|victims| txn.commit().map_err(storage).map(|()| victims)) {
                Ok(victims) => victims,
                Err(err) => {
                    if lru_changed {
                        self.reload_lru(db);
                    }
                    return Err(err);
                }
            };
        if let Some(hot) = &self.hot {
            let clear = touched.iter().any(|op| matches!(op, Op::Clear));
            let ids = touched
                .iter()
                .filter_map(|op| match op {
                    Op::Put(Key::Episode(id), _) | Op::Remove(Key::Episode(id)) => Some(*id),
                    Op::Put(Key::Record(_), _) | Op::Remove(Key::Record(_)) => None,
                    Op::Clear => None,
                })
                .chain(victims.iter().filter_map(|key| match key {
                    Key::Episode(id) => Some(*id),
                    Key::Record(_) => None,
                }));
            hot.after_commit(ids, clear);
        }
        if let Some(applied) = applied {
            self.applied.store(applied, Ordering::SeqCst);
        }
        if let Some(applied) = record_applied {
            self.record_applied.store(applied, Ordering::SeqCst);
        }
        Ok(out)
    }

    /// Replays the write's changes on the LRU and deletes the entries it evicted.
    fn evict(&self, writer: &mut Writer<'_>) -> Result<Vec<Key>> {
        let Some(lru) = &self.lru else {
            return Ok(Vec::new());
        };
        let mut victims = Vec::new();
        {
            let mut lru = lock(lru);
            for op in writer.ops.drain(..) {
                match op {
                    Op::Put(id, size) => lru.push(id, size, &mut victims),
                    Op::Remove(id) => {
                        lru.pop(&id);
                    }
                    Op::Clear => lru.clear(),
                }
            }
            // A key evicted and then written again in the same transaction stays.
            victims.retain(|id| !lru.contains(id));
        }
        victims.sort_unstable();
        victims.dedup();
        for key in &victims {
            match key {
                Key::Episode(id) => writer.episodes.remove(id.as_bytes()).map_err(storage)?,
                Key::Record(id) => writer.records.remove(id.0.as_bytes()).map_err(storage)?,
            };
        }
        Ok(victims)
    }

    /// Rebuilds the LRU from the committed table after a failed write left it ahead of the file.
    fn reload_lru(&self, db: &Database) {
        let Some(lru) = &self.lru else { return };
        let capacity = lock(lru).cap();
        match load_lru(db, capacity, BUDGET_BYTES) {
            Ok((fresh, _)) => *lock(lru) = fresh,
            Err(err) => {
                tracing::warn!(%err, path = %self.path.display(), "could not reload the cache's key list")
            }
        }
    }

    /// False when `id` is certainly not cached (a cache's LRU does not know it); always true for a store.
    pub(crate) fn may_hold(&self, key: Key) -> bool {
        self.lru.as_ref().is_none_or(|lru| lock(lru).contains(&key))
    }

    /// Marks `id` as recently used after a cache hit.
    pub(crate) fn promote(&self, key: Key) {
        if let Some(lru) = &self.lru {
            lock(lru).promote(&key);
        }
    }

    /// True once [`Inner::close`] ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Releases the file; later calls fail with [`Error::Unavailable`].
    pub(crate) fn close(&self) -> Result<()> {
        let mut guard = self.db.write().unwrap_or_else(PoisonError::into_inner);
        match guard.take() {
            Some(db) => db.close().map_err(storage),
            None => Ok(()),
        }
    }
}

/// The `record_applied` entry of `db` (0 when absent or unreadable: a smaller value only asks for more of the
/// record change feed to be applied again).
fn stored_record_applied(db: &Database) -> Revision {
    let read = || -> Result<Option<Revision>> {
        let txn = db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        meta_u64(&meta, RECORD_APPLIED_KEY)
    };
    read().ok().flatten().unwrap_or(0)
}

/// Reads the keys of `db`'s episodes and memory records into an LRU of `capacity` entries and `budget` bytes,
/// oldest ids least recent within each table (ids are UUID v7, so key order is creation order; records count as
/// more recent). Also returns the keys beyond those bounds, which the caller should delete.
pub(crate) fn load_lru(
    db: &Database,
    capacity: NonZeroUsize,
    budget: u64,
) -> Result<(Lru, Vec<Key>)> {
    let txn = db.begin_read().map_err(storage)?;
    let mut lru = Lru::new(capacity, budget);
    let mut overflow = Vec::new();
    for (table, make) in [
        (
            EPISODES,
            (|u| Key::Episode(EpisodeId(u))) as fn(uuid::Uuid) -> Key,
        ),
        (RECORDS, |u| Key::Record(RecordId(u))),
    ] {
        let table = match txn.open_table(table) {
            Ok(table) => table,
            // A file from before memory records were cached.
            Err(redb::TableError::TableDoesNotExist(_)) => continue,
            Err(err) => return Err(storage(err)),
        };
        for entry in table.iter().map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            let key = make(uuid::Uuid::from_bytes(key.value()));
            lru.push(key, entry_size(value.value()), &mut overflow);
        }
    }
    Ok((lru, overflow))
}
