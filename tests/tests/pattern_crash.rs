//! The extraction queue survives crashes: a process completing episodes with the learner running is killed with
//! SIGKILL at random points; after every restart each acknowledged completion is either queued or extracted,
//! none is extracted twice, and a final drain extracts every one.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use memory_core::{
    EpisodeId, EpisodeQuery, EpisodeStore, PatternKind, PatternQuery, PatternStore, Patterns,
};
use memory_storage_turso::{DbConfig, TursoStore};
use rand::Rng;
use serde_json::Value;

fn kills() -> usize {
    std::env::var("MEMORY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(8, |n: usize| n.div_ceil(4))
}

#[test]
fn sigkill_loses_no_queued_extraction_and_counts_none_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("memory.db");
    let cache = dir.path().join("memory.cache.redb");
    let mut acked: HashSet<EpisodeId> = HashSet::new();
    let mut rng = rand::rng();
    let mut queued_at_a_kill = 0;
    for round in 0..kills() {
        let seed: u64 = rng.random_range(0..1_000_000);
        let mut child = Command::new(env!("CARGO_BIN_EXE_pattern-writer"))
            .args([db.as_os_str(), cache.as_os_str(), seed.to_string().as_ref()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pattern-writer");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("writer ready");
        assert!(ready.contains("ready"), "round {round}: {ready}");
        let run_for = Duration::from_millis(rng.random_range(50..600));
        let started = Instant::now();
        let mut lines = Vec::new();
        while started.elapsed() < run_for {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(1)) {
                lines.push(line);
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        reader.join().expect("reader");
        lines.extend(rx.try_iter());
        for line in &lines {
            let v: Value = serde_json::from_str(line).expect("json line");
            acked.insert(v["id"].as_str().expect("id").parse().expect("episode id"));
        }
        queued_at_a_kill += check(&db, &acked, false, round);
    }
    assert!(acked.len() > 20, "only {} completions", acked.len());
    assert!(queued_at_a_kill > 0, "no kill found jobs queued");
    check(&db, &acked, true, kills());
}

/// Checks that every completed episode is queued or extracted exactly once (after draining the queue when
/// `drain`); returns how many were queued.
fn check(db: &Path, acked: &HashSet<EpisodeId>, drain: bool, round: usize) -> u64 {
    test_utils::block_on(async {
        let store = Arc::new(
            TursoStore::open(&DbConfig::local(db))
                .await
                .expect("reopen"),
        );
        let mut completed = HashSet::new();
        let mut query = EpisodeQuery {
            completed: Some(true),
            limit: 1000,
            ..Default::default()
        };
        loop {
            let page = store.list_episodes(&query).await.expect("list");
            completed.extend(page.iter().map(|s| s.id));
            if page.len() < 1000 {
                break;
            }
            query.offset += 1000;
        }
        let missing: Vec<_> = acked.difference(&completed).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged completions lost: {missing:?}"
        );
        let patterns = Patterns::new(store.clone());
        if drain {
            patterns.extract_pending().await.expect("drain");
        }
        let jobs = store.pattern_jobs(10_000).await.expect("jobs");
        let queued: HashSet<EpisodeId> = jobs
            .iter()
            .filter(|j| !j.extracted)
            .map(|j| j.episode)
            .collect();
        // Every completion gives exactly one context pattern candidate, so the context patterns' support adds
        // up to the episodes extracted: each once.
        let extracted: u32 = patterns
            .list(&PatternQuery {
                kind: Some(PatternKind::ContextPattern),
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("list")
            .iter()
            .map(|p| p.support)
            .sum();
        assert_eq!(
            extracted as usize + queued.len(),
            completed.len(),
            "round {round}: {extracted} extracted and {} queued of {} completed",
            queued.len(),
            completed.len()
        );
        assert!(queued.is_subset(&completed));
        if drain {
            assert!(queued.is_empty());
        }
        queued.len() as u64
    })
}
