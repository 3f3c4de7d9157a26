//! Running a blocking call (SQLite, redb, a model) from async code without stalling the executor.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `work`, which blocks, from async code.
///
/// On tokio's multi-thread runtime it uses `block_in_place`: the worker hands its other tasks to another thread
/// and runs `work` itself, which costs a few microseconds where a trip through the blocking pool costs about
/// 20 µs on a two-core machine. Storage calls here take 5-100 µs, so the trip would double them. On a
/// current-thread runtime, or outside tokio, `work` runs inline: there is no other worker to keep free.
pub fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
