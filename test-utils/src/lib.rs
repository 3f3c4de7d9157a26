//! Shared by tests and benches: a workload generator of realistic coding-agent episodes, and the conformance
//! suites every storage backend must pass.

pub mod arbitrary;
mod conformance;
mod history;
mod patterns;
pub mod recall;
mod records;
mod retrieval;
pub mod sqld;
mod workload;

pub use conformance::{cache_conformance, change_feed_conformance, store_conformance};
pub use history::{History, HistoryEpisode, Strategy};
pub use patterns::pattern_conformance;
pub use records::record_conformance;
pub use retrieval::retrieval_conformance;
pub use workload::Workload;

/// Runs a future to completion on a fresh current-thread runtime (for sync test harnesses).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// all-MiniLM-L6-v2 as `scripts/install-test-deps.sh` installs it, under the workspace's `.tools/`; fails with
/// the command to run when it is missing.
pub fn minilm_dir() -> std::path::PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is not installed at {}: run scripts/install-test-deps.sh",
        dir.display()
    );
    dir
}
