//! The [`EpisodeCache`] and [`RecordCache`] sides of [`RedbStore`]: binding, fills, invalidation and the change
//! feeds.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use memory_core::{
    Change, Episode, EpisodeCache, EpisodeId, MemoryRecord, RecordCache, RecordChange, RecordId,
    Result, Revision, Versioned,
};
use redb::Durability;

use crate::{inner::Key, record, store::RedbStore};

#[async_trait]
impl EpisodeCache for RedbStore {
    async fn bind(&self, store_id: &str) -> Result<Revision> {
        let store_id = store_id.to_owned();
        self.write(move |w| {
            if w.store_id()?.as_deref() == Some(store_id.as_bytes()) {
                return w.applied();
            }
            w.clear()?;
            w.set_applied(0)?;
            w.set_record_applied(0)?;
            w.set_store_id(&store_id)?;
            Ok(0)
        })
        .await
    }

    fn applied(&self) -> Revision {
        self.applied_mirror().load(Ordering::SeqCst)
    }

    async fn get(&self, id: EpisodeId) -> Result<Option<Versioned<Episode>>> {
        self.read_episode(id).await
    }

    async fn put(&self, episode: &Versioned<Episode>, seen_applied: Revision) -> Result<bool> {
        let (id, revision) = (episode.value.id, episode.revision);
        // Encoded before the write transaction, so the write lock is held only to store bytes.
        let bytes = record::encode(revision, &episode.value)?;
        self.write(move |w| {
            if w.applied()? > revision.max(seen_applied) {
                return Ok(false);
            }
            if w.revision_of(id)?.is_some_and(|cached| cached > revision) {
                return Ok(false);
            }
            w.store_encoded(id, &bytes)?;
            Ok(true)
        })
        .await
    }

    async fn invalidate(&self, ids: &[EpisodeId]) -> Result<()> {
        // Ids that are not cached need no write transaction.
        let ids: Vec<EpisodeId> = ids
            .iter()
            .copied()
            .filter(|id| self.may_hold(*id))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.write(move |w| ids.into_iter().try_for_each(|id| w.remove(id).map(|_| ())))
            .await
    }

    async fn apply(&self, changes: &[Change], applied: Revision) -> Result<()> {
        let changes = changes.to_vec();
        self.write(move |w| {
            for change in changes {
                if w.revision_of(change.id)?
                    .is_some_and(|cached| cached < change.revision)
                {
                    w.remove(change.id)?;
                }
            }
            w.set_applied(applied)
        })
        .await
    }

    async fn clear(&self, applied: Revision) -> Result<()> {
        self.write(move |w| {
            w.clear()?;
            w.set_applied(applied)
        })
        .await
    }

    async fn checkpoint(&self) -> Result<()> {
        // Rewriting `applied` gives the transaction a change to commit; its immediate durability also makes every
        // earlier non-durable commit durable.
        self.write_with(Durability::Immediate, |w| w.persist_applied())
            .await
    }
}

#[async_trait]
impl RecordCache for RedbStore {
    fn record_applied(&self) -> Revision {
        self.record_applied_mirror().load(Ordering::SeqCst)
    }

    async fn cached_records(&self, ids: &[RecordId]) -> Result<Vec<Versioned<MemoryRecord>>> {
        self.read_records(ids).await
    }

    async fn put_records(
        &self,
        records: &[Versioned<MemoryRecord>],
        seen_applied: Revision,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // Encoded before the write transaction, so the write lock is held only to store bytes.
        let encoded = records
            .iter()
            .map(|v| {
                Ok((
                    v.value.id,
                    v.revision,
                    record::encode(v.revision, &v.value)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.write(move |w| {
            for (id, revision, bytes) in encoded {
                let stale = w.record_applied()? > revision.max(seen_applied);
                if stale
                    || w.record_revision(id)?
                        .is_some_and(|cached| cached > revision)
                {
                    continue;
                }
                w.put_record(id, &bytes)?;
            }
            Ok(())
        })
        .await
    }

    async fn invalidate_records(&self, ids: &[RecordId]) -> Result<()> {
        let ids: Vec<RecordId> = ids
            .iter()
            .copied()
            .filter(|id| self.may_hold_key(Key::Record(*id)))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.write(move |w| {
            ids.into_iter()
                .try_for_each(|id| w.remove_record(id).map(|_| ()))
        })
        .await
    }

    async fn apply_records(&self, changes: &[RecordChange], applied: Revision) -> Result<()> {
        let changes: Vec<(RecordId, Revision)> =
            changes.iter().map(|c| (c.id, c.revision)).collect();
        self.write(move |w| {
            for (id, revision) in changes {
                if w.record_revision(id)?
                    .is_some_and(|cached| cached < revision)
                {
                    w.remove_record(id)?;
                }
            }
            w.set_record_applied(applied)
        })
        .await
    }
}
