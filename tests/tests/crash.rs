//! The crash invariant: a writer killed with SIGKILL at random points never leaves the cache serving stale or
//! phantom data, and every acknowledged write survives.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use memory_core::{CachedStore, EpisodeId, EpisodeStore};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};
use rand::Rng;
use serde_json::Value;

/// What the writer acknowledged for one episode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Acked {
    steps: u64,
    completed: bool,
    deleted: bool,
}

fn kills() -> usize {
    std::env::var("MEMORY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

#[test]
fn sigkill_never_leaves_the_cache_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("memory.db");
    let cache = dir.path().join("memory.cache.redb");
    let mut model: HashMap<EpisodeId, Acked> = HashMap::new();
    let mut rng = rand::rng();
    let mut total_acks = 0;
    for round in 0..kills() {
        let seed: u64 = rng.random();
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .args([db.as_os_str(), cache.as_os_str(), seed.to_string().as_ref()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn crash-writer");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until the writer is up, then let it run for a random while before the kill.
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("writer ready");
        assert!(ready.contains("ready"), "round {round}: {ready}");
        let run_for = Duration::from_millis(rng.random_range(5..400));
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
        total_acks += lines.len();
        let mut pending = None;
        for line in &lines {
            pending = apply(&mut model, line);
        }
        verify(&db, &cache, &mut model, pending, round, seed);
    }
    assert!(
        total_acks > 100,
        "the writer acknowledged only {total_acks} writes"
    );
}

/// A write that had begun but was not acknowledged when the writer died: it may or may not have landed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pending {
    Step(EpisodeId),
    Complete(EpisodeId),
    Delete(EpisodeId),
}

/// Applies one line of the writer's output; returns the write in flight after it, if any.
fn apply(model: &mut HashMap<EpisodeId, Acked>, line: &str) -> Option<Pending> {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad ack {line:?}: {e}"));
    let id: EpisodeId = v["id"].as_str()?.parse().expect("id");
    if v["op"] == "begin" {
        return Some(match v["kind"].as_str() {
            Some("step") => Pending::Step(id),
            Some("complete") => Pending::Complete(id),
            Some("delete") => Pending::Delete(id),
            other => panic!("unknown kind {other:?}"),
        });
    }
    let entry = model.entry(id).or_default();
    match v["op"].as_str() {
        Some("start") => {}
        Some("step") => entry.steps = v["steps"].as_u64().expect("steps"),
        Some("complete") => {
            entry.completed = true;
            entry.steps = v["steps"].as_u64().expect("steps");
        }
        Some("delete") => entry.deleted = true,
        other => panic!("unknown op {other:?}"),
    }
    None
}

fn verify(
    db: &std::path::Path,
    cache: &std::path::Path,
    model: &mut HashMap<EpisodeId, Acked>,
    pending: Option<Pending>,
    round: usize,
    seed: u64,
) {
    test_utils::block_on(async {
        let primary = TursoStore::open(&DbConfig::local(db))
            .await
            .expect("reopen libSQL");
        let direct = primary.clone();
        let pair = CachedStore::open(
            primary,
            RedbStore::open_cache(cache, 64).expect("reopen cache"),
        )
        .await
        .expect("reopen pair");
        for (id, acked) in model.iter_mut() {
            let through_cache = pair.get_episode(*id).await.expect("get via pair");
            let through_db = direct.get_episode(*id).await.expect("get via libSQL");
            assert_eq!(
                through_cache, through_db,
                "round {round} (seed {seed}): cache and libSQL disagree on {id}"
            );
            // A second read is served by the cache that the first one may have filled.
            assert_eq!(pair.get_episode(*id).await.expect("get"), through_db);
            let ctx = format!(
                "round {round} (seed {seed}), episode {id}, acked {acked:?}, pending {pending:?}"
            );
            let found = match through_db {
                None if acked.deleted || pending == Some(Pending::Delete(*id)) => {
                    acked.deleted = true;
                    continue;
                }
                None => panic!("{ctx}: acknowledged episode lost"),
                Some(found) => found.value,
            };
            assert!(!acked.deleted, "{ctx}: deleted episode came back");
            let steps = found.steps.len() as u64;
            let landed_step = pending == Some(Pending::Step(*id)) && steps == acked.steps + 1;
            assert!(
                steps == acked.steps || landed_step,
                "{ctx}: {steps} steps stored"
            );
            let landed_completion = pending == Some(Pending::Complete(*id)) && found.is_completed();
            assert_eq!(
                found.is_completed(),
                acked.completed || landed_completion,
                "{ctx}: completion"
            );
            for (i, step) in found.steps.iter().enumerate() {
                assert_eq!(step.step_number as usize, i + 1, "{ctx}: step numbering");
            }
            // The write in flight is decided now: carry what landed into the model.
            acked.steps = steps;
            acked.completed = found.is_completed();
        }
        pair.close().await.expect("close");
    });
}
