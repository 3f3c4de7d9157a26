//! The conformance suite for [`PatternStore`]s: the queue filled by completion, atomic and checked writes, the
//! change feed.

use std::{future::Future, sync::Arc};

use memory_core::{
    EmbeddingModel, EpisodeStore, Error, ExecutionStep, Memory, NewEpisode, Pattern, PatternStore,
    PatternWrite, RecordStore, StepResult, TaskContext, TaskOutcome, TaskType, Timestamp,
    pattern::{DEFAULT_HALF_LIFE_DAYS, ModelVectors, extract},
};

use crate::Workload;

/// Runs every [`PatternStore`] case, each on a fresh store from `fresh`.
pub async fn pattern_conformance<S, F, Fut>(mut fresh: F)
where
    S: EpisodeStore + PatternStore + RecordStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    completion_queues_a_job(Arc::new(fresh().await)).await;
    writes_are_checked_and_atomic(&fresh().await).await;
    unextracted_episodes_are_queued(&fresh().await).await;
}

/// Completes an episode with a failed and a recovered step through the façade; returns its patterns.
async fn complete_one<S: EpisodeStore + PatternStore>(store: Arc<S>) -> Vec<Pattern> {
    let memory = Memory::from_arc(store.clone());
    let context = TaskContext {
        domain: "payments-service".into(),
        language: Some("rust".into()),
        ..Default::default()
    };
    let id = memory
        .start_episode(NewEpisode::new("fix it", TaskType::Debugging, context))
        .await
        .expect("start");
    for result in [
        StepResult::Error {
            message: "timed out".into(),
        },
        StepResult::Success {
            output: "edited".into(),
        },
        StepResult::Success {
            output: "passed".into(),
        },
    ] {
        let tool = if result.is_success() { "edit" } else { "cargo" };
        memory
            .log_step(id, ExecutionStep::new(tool, "test", result))
            .await
            .expect("step");
    }
    let done = memory
        .complete_episode(
            id,
            TaskOutcome::Success {
                verdict: "ok".into(),
                artifacts: vec![],
            },
        )
        .await
        .expect("complete");
    extract(&done)
        .into_iter()
        .map(|c| Pattern::from_candidate(c, Timestamp::now(), DEFAULT_HALF_LIFE_DAYS))
        .collect()
}

async fn completion_queues_a_job<S: EpisodeStore + PatternStore>(store: Arc<S>) {
    assert_eq!(store.pattern_job_count().await.expect("count"), 0);
    let patterns = complete_one(store.clone()).await;
    let jobs = store.pattern_jobs(10).await.expect("jobs");
    assert_eq!(jobs.len(), 1, "completion queues its episode");
    let episode = jobs[0].episode;
    assert!(!jobs[0].extracted);
    assert_eq!(patterns[0].evidence[0].episode, episode);

    let write = PatternWrite {
        put: patterns.iter().map(|p| (p.clone(), None)).collect(),
        extracted: vec![episode],
        ..Default::default()
    };
    let revision = store.write_patterns(&write).await.expect("write");
    assert_eq!(store.pattern_job_count().await.expect("count"), 0);
    assert_eq!(store.pattern_head().await.expect("head"), revision);
    let ids: Vec<_> = patterns.iter().map(|p| p.id).collect();
    let stored = store.get_patterns(&ids).await.expect("get");
    assert_eq!(stored.len(), patterns.len());
    for v in &stored {
        assert_eq!(v.revision, revision);
        let original = patterns.iter().find(|p| p.id == v.value.id).expect("known");
        assert_eq!(&v.value, original, "a pattern reads back as written");
    }

    // Extracting the same episode again is refused, and the refused write leaves nothing behind.
    let again = PatternWrite {
        put: vec![(with_new_id(&patterns[0]), None)],
        extracted: vec![episode],
        ..Default::default()
    };
    match store.write_patterns(&again).await {
        Err(Error::Changed { .. }) => {}
        other => panic!("expected Changed, got {other:?}"),
    }
    assert_eq!(store.pattern_head().await.expect("head"), revision);
    let all = store.scan_patterns(None, 100).await.expect("scan");
    assert_eq!(all.len(), patterns.len());
}

/// A copy of a pattern under a fresh id.
fn with_new_id(pattern: &Pattern) -> Pattern {
    Pattern {
        id: memory_core::PatternId::new(),
        ..pattern.clone()
    }
}

async fn writes_are_checked_and_atomic<S: EpisodeStore + PatternStore + RecordStore>(store: &S) {
    let workload = Workload::new(7);
    let episode = workload.completed_episode(0, 6);
    let mut patterns: Vec<Pattern> = extract(&episode)
        .into_iter()
        .map(|c| Pattern::from_candidate(c, Timestamp::now(), DEFAULT_HALF_LIFE_DAYS))
        .collect();
    let first = store
        .write_patterns(&PatternWrite {
            put: patterns.iter().map(|p| (p.clone(), None)).collect(),
            ..Default::default()
        })
        .await
        .expect("first write");

    // A stale revision fails the whole write: the other change in it is not applied either.
    patterns[0].description = "changed".into();
    let stale = PatternWrite {
        put: vec![(patterns[0].clone(), Some(first + 100))],
        delete: vec![(patterns[1].id, first)],
        ..Default::default()
    };
    assert!(matches!(
        store.write_patterns(&stale).await,
        Err(Error::Changed { .. })
    ));
    assert_eq!(store.pattern_head().await.expect("head"), first);
    // A new pattern whose id exists already is a conflict too.
    let exists = PatternWrite {
        put: vec![(patterns[0].clone(), None)],
        ..Default::default()
    };
    assert!(matches!(
        store.write_patterns(&exists).await,
        Err(Error::Changed { .. })
    ));

    let second = store
        .write_patterns(&PatternWrite {
            put: vec![(patterns[0].clone(), Some(first))],
            delete: vec![(patterns[1].id, first)],
            ..Default::default()
        })
        .await
        .expect("second write");
    assert!(second > first);
    let read = store
        .get_patterns(&[patterns[0].id, patterns[1].id])
        .await
        .expect("get");
    assert_eq!(read.len(), 1, "the deleted pattern is gone");
    assert_eq!(read[0].value.description, "changed");
    let changes = store.pattern_changes(first).await.expect("changes");
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .any(|c| c.id == patterns[1].id && c.deleted && c.revision == second)
    );
    assert!(
        changes
            .iter()
            .any(|c| c.id == patterns[0].id && !c.deleted && c.revision == second)
    );

    // Vectors of another model than the store's are refused, with everything else in the write.
    store
        .put_embeddings(
            &EmbeddingModel {
                id: "model-a".into(),
                dimension: 2,
            },
            &[("k".into(), vec![1.0, 0.0])],
        )
        .await
        .expect("claim a model");
    patterns[2].description = "with vectors".into();
    let foreign = PatternWrite {
        put: vec![(patterns[2].clone(), Some(first))],
        vectors: Some(ModelVectors {
            model: EmbeddingModel {
                id: "model-b".into(),
                dimension: 2,
            },
            vectors: vec![("k2".into(), vec![0.0, 1.0])],
        }),
        ..Default::default()
    };
    assert!(matches!(
        store.write_patterns(&foreign).await,
        Err(Error::EmbedderMismatch { .. })
    ));
    let read = store.get_patterns(&[patterns[2].id]).await.expect("get");
    assert_ne!(read[0].value.description, "with vectors");
}

async fn unextracted_episodes_are_queued<S: EpisodeStore + PatternStore>(store: &S) {
    let workload = Workload::new(8);
    let episodes: Vec<_> = (0..3).map(|i| workload.completed_episode(i, 4)).collect();
    let mut open = workload.new_episode(9);
    open.id = workload.id(9);
    store.import_episodes(&episodes).await.expect("import");
    store
        .insert_episode(&open)
        .await
        .expect("an episode in progress");
    assert_eq!(
        store.pattern_job_count().await.expect("count"),
        0,
        "imports queue nothing"
    );
    assert_eq!(store.queue_unextracted().await.expect("queue"), 3);
    assert_eq!(
        store.queue_unextracted().await.expect("queue again"),
        0,
        "queued already"
    );
    // One is extracted, one dropped; queueing again brings back only the dropped one.
    store
        .write_patterns(&PatternWrite {
            extracted: vec![episodes[0].id],
            dropped: vec![episodes[1].id],
            ..Default::default()
        })
        .await
        .expect("write");
    assert_eq!(store.pattern_job_count().await.expect("count"), 1);
    assert_eq!(store.queue_unextracted().await.expect("queue"), 1);
    assert_eq!(
        store
            .queue_pattern_jobs(&[episodes[0].id])
            .await
            .expect("queue by id"),
        1
    );
    let jobs = store.pattern_jobs(10).await.expect("jobs");
    assert_eq!(jobs.len(), 3);
    let extracted = jobs
        .iter()
        .find(|j| j.episode == episodes[0].id)
        .expect("queued by id");
    assert!(extracted.extracted, "the job says it was extracted already");
}
