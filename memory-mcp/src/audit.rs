//! The audit log's writer: calls queue their entries and go on; a task writes them to the store in batches.

use std::time::Duration;

use memory_storage_turso::{TursoStore, access::AuditEntry};
use tokio::{sync::mpsc, task::JoinHandle};

/// Entries a batch holds at most.
const BATCH: usize = 512;
/// Entries that may wait; a call that finds the queue full waits for room (entries are never dropped).
const QUEUE: usize = 8192;
/// Tries of a batch before its entries are written to the log instead.
const ATTEMPTS: u32 = 5;

/// The queue into the audit log and its writer.
pub struct AuditLog {
    queue: std::sync::Mutex<Option<mpsc::Sender<AuditEntry>>>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl AuditLog {
    /// Starts the writer over `store`.
    pub fn start(store: TursoStore) -> Self {
        let (queue, entries) = mpsc::channel(QUEUE);
        AuditLog {
            queue: std::sync::Mutex::new(Some(queue)),
            writer: tokio::sync::Mutex::new(Some(tokio::spawn(write(store, entries)))),
        }
    }

    /// Queues `entry`. Once closed, the entry goes to the log instead.
    pub fn record(&self, entry: AuditEntry) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(queue) = queue else {
            tracing::warn!(?entry, "audit entry after the audit log closed");
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(entry)) = queue.try_send(entry) {
            // Rare: the store is slower than the calls. Waiting keeps the entry; the call's answer is already made.
            tokio::spawn(async move {
                if let Err(lost) = queue.send(entry).await {
                    tracing::warn!(entry = ?lost.0, "audit entry after the audit log closed");
                }
            });
        }
    }

    /// Stops taking entries and waits until those queued are written.
    pub async fn close(&self) {
        drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(writer) = self.writer.lock().await.take()
            && let Err(err) = writer.await
        {
            tracing::error!("the audit log's writer failed: {err}");
        }
    }
}

/// Writes batches until the queue is closed and empty.
async fn write(store: TursoStore, mut entries: mpsc::Receiver<AuditEntry>) {
    let mut batch = Vec::with_capacity(BATCH);
    while entries.recv_many(&mut batch, BATCH).await > 0 {
        let mut attempt = 1;
        loop {
            match store.append_audit(&batch).await {
                Ok(()) => break,
                Err(err) if attempt < ATTEMPTS => {
                    tracing::warn!(attempt, "writing the audit log failed, retrying: {err}");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                Err(err) => {
                    tracing::error!(entries = ?batch, "writing the audit log failed: {err}");
                    break;
                }
            }
        }
        batch.clear();
    }
}
