//! The background learner: a task that extracts patterns off the request path.
//!
//! The queue itself is the store's (`pattern_jobs`, written in the transaction that completes an episode), so the
//! channel only wakes the task: it is bounded, and a notice that does not fit is dropped without losing anything,
//! because the task works from the stored queue until it is empty. At start the task drains what an earlier
//! process left queued; [`PatternWorker::shutdown`] stops it after it has drained the queue once more.

use std::time::Duration;

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use super::learn::Extracted;
use crate::{EpisodeId, Error, Patterns, Result};

/// Notices the channel holds; more are coalesced into the drain already due.
const CHANNEL: usize = 256;
/// How long the task waits before retrying after a failed drain (a database that went away, say).
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Tells the learner that an episode was completed. Cheap to clone; never blocks.
#[derive(Clone, Debug)]
pub struct PatternQueue {
    tx: mpsc::Sender<EpisodeId>,
}

impl PatternQueue {
    /// Wakes the learner. The job is already stored, so a full channel (a drain is due anyway) or a stopped
    /// learner loses nothing.
    pub fn notify(&self, id: EpisodeId) {
        let _ = self.tx.try_send(id);
    }
}

/// The running learner.
pub struct PatternWorker {
    queue: PatternQueue,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Extracted>>,
}

impl PatternWorker {
    /// Starts the learner on the current tokio runtime; it first drains whatever is queued.
    pub fn start(patterns: Patterns) -> PatternWorker {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(patterns, rx, stopped));
        PatternWorker {
            queue: PatternQueue { tx },
            stop,
            task,
        }
    }

    /// The handle that completions notify.
    pub fn queue(&self) -> PatternQueue {
        self.queue.clone()
    }

    /// Stops the learner once it has drained the queue; returns what it extracted over its life, or the error
    /// that kept the last drain from finishing (the jobs it did not finish stay queued).
    pub async fn shutdown(self) -> Result<Extracted> {
        let _ = self.stop.send(());
        self.task.await.map_err(|e| Error::Storage {
            backend: "pattern learner",
            detail: e.to_string(),
        })?
    }
}

async fn drain(patterns: &Patterns, total: &mut Extracted) -> Result<()> {
    let done = patterns.extract_pending().await?;
    if done.episodes + done.dropped > 0 {
        tracing::debug!(?done, "patterns extracted");
    }
    total.add(done);
    Ok(())
}

async fn run(
    patterns: Patterns,
    mut rx: mpsc::Receiver<EpisodeId>,
    mut stop: oneshot::Receiver<()>,
) -> Result<Extracted> {
    let mut total = Extracted::default();
    let mut failing = drain(&patterns, &mut total).await.err();
    loop {
        if let Some(err) = &failing {
            tracing::warn!(%err, "pattern extraction failed; the jobs stay queued");
        }
        let retry = async {
            match failing {
                Some(_) => tokio::time::sleep(RETRY_AFTER).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut stop => break,
            notice = rx.recv() => {
                if notice.is_none() {
                    break;
                }
                while rx.try_recv().is_ok() {}
            }
            () = retry => {}
        }
        failing = drain(&patterns, &mut total).await.err();
    }
    drain(&patterns, &mut total).await.map(|()| total)
}
