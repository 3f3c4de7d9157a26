//! Shared by tests and benches: a workload generator of realistic coding-agent episodes, and the conformance
//! suites every storage backend must pass.

pub mod arbitrary;
mod conformance;
mod history;
pub mod lessons;
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

/// Prints the p50 and p95 of `samples`, which criterion does not report: `NAME: p50 X ms, p95 Y ms over N calls`.
pub fn report_latencies(name: &str, mut samples: Vec<std::time::Duration>) {
    if samples.is_empty() {
        return;
    }
    samples.sort();
    let at =
        |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{name}: p50 {:.3} ms, p95 {:.3} ms over {} calls",
        at(0.5),
        at(0.95),
        samples.len()
    );
}
