//! The index's lock, which lets searches that arrive together share one catch-up on the change feeds.

use std::{
    ops::{Deref, DerefMut},
    sync::atomic::{AtomicU64, Ordering},
};

use tokio::sync::{Mutex, MutexGuard};

/// A state behind a lock, and a count of the catch-ups on the change feeds begun so far.
///
/// Searches that arrive together share one catch-up: a catch-up begun after a search arrived has read every write
/// acknowledged before it, so once it has completed the search need not read the feed again. Under load this turns
/// one feed query per search into one per wave of searches.
pub(crate) struct Index<S> {
    state: Mutex<S>,
    catch_ups: AtomicU64,
}

impl<S: Default> Default for Index<S> {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            catch_ups: AtomicU64::new(0),
        }
    }
}

impl<S> Index<S> {
    /// The state, for a caller arriving now.
    pub(crate) async fn lock(&self) -> Locked<'_, S> {
        let arrived = self.catch_ups.load(Ordering::SeqCst);
        Locked {
            state: self.state.lock().await,
            arrived,
            catch_ups: &self.catch_ups,
        }
    }
}

/// The locked state, with when its holder arrived.
pub(crate) struct Locked<'a, S> {
    state: MutexGuard<'a, S>,
    arrived: u64,
    catch_ups: &'a AtomicU64,
}

impl<S> Locked<'_, S> {
    /// Whether a feed last caught up by catch-up `done` may miss writes acknowledged before the holder arrived.
    pub(crate) fn behind(&self, done: u64) -> bool {
        done <= self.arrived
    }

    /// Numbers a catch-up about to read a feed.
    pub(crate) fn begin(&self) -> u64 {
        self.catch_ups.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl<S> Deref for Locked<'_, S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S> DerefMut for Locked<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state
    }
}
