//! The storage conformance suites: the same checks against every backend.
//!
//! Each case gets a fresh store from the caller's factory and panics with the case's name on failure.

use std::future::Future;

use memory_core::{
    Change, ChangeFeed, Episode, EpisodeCache, EpisodeId, EpisodeQuery, EpisodeStore, Error, Json,
    OutcomeKind, StepResult, TaskType, Timestamp, Versioned, validate,
};
use serde_json::json;

use crate::Workload;

/// Runs every [`EpisodeStore`] case, each on a fresh store from `fresh`.
pub async fn store_conformance<S, F, Fut>(mut fresh: F)
where
    S: EpisodeStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    round_trip_in_progress(&fresh().await).await;
    round_trip_at_the_limits(&fresh().await).await;
    steps_are_numbered_and_round_trip(&fresh().await).await;
    lifecycle_errors(&fresh().await).await;
    completion_round_trips(&fresh().await).await;
    deletes(&fresh().await).await;
    listing_filters_and_pages(&fresh().await).await;
    import_round_trips_and_replaces(&fresh().await).await;
    failed_import_changes_nothing(&fresh().await).await;
    revisions_increase(&fresh().await).await;
}

async fn get(store: &impl EpisodeStore, id: EpisodeId) -> Episode {
    store
        .get_episode(id)
        .await
        .expect("get_episode")
        .unwrap_or_else(|| panic!("episode {id} missing"))
        .value
}

async fn round_trip_in_progress(store: &impl EpisodeStore) {
    let mut ep = Workload::new(1).new_episode(0);
    ep.task_description = "Fix «the» flaky test 🚀 in ledger\n\twith tabs and \"quotes\"".into();
    ep.metadata =
        Json::new(&json!({ "nested": { "list": [1, 2.5, null, true], "s": "ü" }, "n": -7 }));
    ep.context.language = None;
    store.insert_episode(&ep).await.expect("insert");
    assert_eq!(get(store, ep.id).await, ep, "round_trip_in_progress");
    assert!(
        store
            .get_episode(EpisodeId::new())
            .await
            .expect("get unknown")
            .is_none()
    );
    match store.insert_episode(&ep).await {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("duplicate insert: expected AlreadyExists, got {other:?}"),
    }
}

async fn round_trip_at_the_limits(store: &impl EpisodeStore) {
    let w = Workload::new(2);
    let mut ep = w.new_episode(0);
    ep.task_description = "d".repeat(validate::MAX_TASK_DESCRIPTION_BYTES);
    ep.context.tags = (0..validate::MAX_TAGS)
        .map(|i| format!("{i:0>50}"))
        .collect();
    store.insert_episode(&ep).await.expect("insert at limits");
    let mut step = w.step(0, 1);
    let filler = "p".repeat(validate::MAX_STEP_PAYLOAD_BYTES - 20);
    step.parameters = Json::new(&json!({ "blob": filler }));
    step.result = StepResult::Success {
        output: "r".repeat(validate::MAX_STEP_PAYLOAD_BYTES),
    };
    validate::step(&step).expect("step at limits is valid");
    store
        .append_step(ep.id, &step)
        .await
        .expect("append at limits");
    ep.steps.push(step);
    assert_eq!(get(store, ep.id).await, ep, "round_trip_at_the_limits");
}

async fn steps_are_numbered_and_round_trip(store: &impl EpisodeStore) {
    let w = Workload::new(3);
    let mut ep = w.new_episode(0);
    store.insert_episode(&ep).await.expect("insert");
    for n in 1..=12 {
        let mut step = w.step(0, n);
        step.step_number = 999;
        let appended = store.append_step(ep.id, &step).await.expect("append");
        assert_eq!(appended.step_number, n, "steps are numbered 1, 2, 3, ...");
        step.step_number = n;
        ep.steps.push(step);
    }
    assert_eq!(
        get(store, ep.id).await,
        ep,
        "steps_are_numbered_and_round_trip"
    );
}

async fn lifecycle_errors(store: &impl EpisodeStore) {
    let w = Workload::new(4);
    let unknown = EpisodeId::new();
    match store.append_step(unknown, &w.step(0, 1)).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("append to unknown: expected NotFound, got {other:?}"),
    }
    let done = w.completed_episode(1, 0);
    match store.complete_episode(&done).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("complete unknown: expected NotFound, got {other:?}"),
    }
    let mut ep = w.new_episode(1);
    store.insert_episode(&ep).await.expect("insert");
    let mut stale = w.completed_episode(1, 1);
    match store.complete_episode(&stale).await {
        Err(Error::Conflict { .. }) => {}
        other => panic!("complete with unknown steps: expected Conflict, got {other:?}"),
    }
    stale.steps.clear();
    store.complete_episode(&stale).await.expect("complete");
    match store.complete_episode(&stale).await {
        Err(Error::AlreadyCompleted { .. }) => {}
        other => panic!("complete twice: expected AlreadyCompleted, got {other:?}"),
    }
    match store.append_step(ep.id, &w.step(1, 1)).await {
        Err(Error::AlreadyCompleted { .. }) => {}
        other => panic!("append to completed: expected AlreadyCompleted, got {other:?}"),
    }
    ep = get(store, ep.id).await;
    assert_eq!(
        ep, stale,
        "failed writes left the completed episode unchanged"
    );
}

async fn completion_round_trips(store: &impl EpisodeStore) {
    let w = Workload::new(5);
    for index in 0..8 {
        let done = w.completed_episode(index, (index % 4) as u32 * 3);
        let mut new = done.clone();
        new.end_time = None;
        new.outcome = None;
        new.reward = None;
        new.reflection = None;
        new.steps.clear();
        store.insert_episode(&new).await.expect("insert");
        for step in &done.steps {
            store.append_step(done.id, step).await.expect("append");
        }
        store.complete_episode(&done).await.expect("complete");
        assert_eq!(
            get(store, done.id).await,
            done,
            "completion_round_trips #{index}"
        );
    }
}

async fn deletes(store: &impl EpisodeStore) {
    let w = Workload::new(6);
    let keep = w.completed_episode(0, 3);
    let gone = w.completed_episode(1, 3);
    store
        .import_episodes(&[keep.clone(), gone.clone()])
        .await
        .expect("import");
    assert!(
        store
            .delete_episode(gone.id)
            .await
            .expect("delete")
            .is_some()
    );
    assert!(store.get_episode(gone.id).await.expect("get").is_none());
    assert!(
        store
            .delete_episode(gone.id)
            .await
            .expect("delete again")
            .is_none()
    );
    match store.append_step(gone.id, &w.step(1, 4)).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("append to deleted: expected NotFound, got {other:?}"),
    }
    assert_eq!(
        get(store, keep.id).await,
        keep,
        "delete touched only its episode"
    );
    let all = store
        .list_episodes(&EpisodeQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 1, "deleted episode is not listed");
    // The deleted id can be used again.
    let mut again = w.new_episode(1);
    again.id = gone.id;
    store.insert_episode(&again).await.expect("reinsert");
    assert_eq!(get(store, gone.id).await, again);
}

async fn listing_filters_and_pages(store: &impl EpisodeStore) {
    let w = Workload::new(7);
    let mut all: Vec<Episode> = (0..70)
        .map(|i| {
            if i % 3 == 0 {
                w.new_episode(i)
            } else {
                w.completed_episode(i, (i % 5) as u32)
            }
        })
        .collect();
    store.import_episodes(&all).await.expect("import");
    all.sort_by(|a, b| b.start_time.cmp(&a.start_time).then(b.id.cmp(&a.id)));
    let summaries: Vec<_> = all.iter().map(Episode::summary).collect();

    let probe = &all[7];
    let queries = vec![
        EpisodeQuery::default(),
        EpisodeQuery {
            domain: Some(probe.context.domain.clone()),
            ..Default::default()
        },
        EpisodeQuery {
            task_type: Some(TaskType::Debugging),
            ..Default::default()
        },
        EpisodeQuery {
            tags: memory_core::Tags::any(["async"]),
            ..Default::default()
        },
        EpisodeQuery {
            tags: memory_core::Tags::any(["async", "ci"]),
            limit: 100,
            ..Default::default()
        },
        EpisodeQuery {
            tags: memory_core::Tags::all(["async", "ci"]),
            limit: 100,
            ..Default::default()
        },
        EpisodeQuery {
            outcome: Some(OutcomeKind::Success),
            limit: 100,
            ..Default::default()
        },
        EpisodeQuery {
            completed: Some(false),
            ..Default::default()
        },
        EpisodeQuery {
            started_after: Some(all[40].start_time),
            started_before: Some(all[10].start_time),
            limit: 100,
            ..Default::default()
        },
        EpisodeQuery {
            domain: Some(probe.context.domain.clone()),
            outcome: Some(OutcomeKind::Failure),
            started_after: Some(Timestamp::from_micros(0)),
            ..Default::default()
        },
        EpisodeQuery {
            domain: Some("no-such-domain".into()),
            ..Default::default()
        },
    ];
    for query in queries {
        let expected: Vec<_> = summaries
            .iter()
            .filter(|s| query.matches(s))
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .cloned()
            .collect();
        let got = store.list_episodes(&query).await.expect("list");
        assert_eq!(got, expected, "listing with {query:?}");
    }

    let mut paged = Vec::new();
    for page in 0.. {
        let rows = store
            .list_episodes(&EpisodeQuery {
                offset: page * 7,
                limit: 7,
                ..Default::default()
            })
            .await
            .expect("page");
        if rows.is_empty() {
            break;
        }
        paged.extend(rows);
    }
    assert_eq!(
        paged, summaries,
        "pages cover every episode once, newest first"
    );
}

async fn import_round_trips_and_replaces(store: &impl EpisodeStore) {
    let w = Workload::new(8);
    let batch: Vec<Episode> = (0..40)
        .map(|i| w.completed_episode(i, (i % 11) as u32))
        .collect();
    store.import_episodes(&batch).await.expect("import");
    for ep in &batch {
        assert_eq!(&get(store, ep.id).await, ep, "import round trip");
    }
    let mut changed = batch[3].clone();
    changed.steps.truncate(2);
    changed.task_description = "rewritten by a second import".into();
    changed.context.tags = vec!["reimported".into()];
    store
        .import_episodes(std::slice::from_ref(&changed))
        .await
        .expect("reimport");
    assert_eq!(
        get(store, changed.id).await,
        changed,
        "import replaces the whole episode"
    );
    let tagged = store
        .list_episodes(&EpisodeQuery {
            tags: memory_core::Tags::any(["reimported"]),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(tagged, vec![changed.summary()], "replaced tags are indexed");
}

async fn failed_import_changes_nothing(store: &impl EpisodeStore) {
    let w = Workload::new(9);
    let good = w.completed_episode(0, 2);
    let mut bad = w.completed_episode(1, 2);
    bad.context.tags = vec!["no spaces allowed".into()];
    match store.import_episodes(&[good.clone(), bad]).await {
        Err(Error::Validation { .. }) => {}
        other => panic!("import of an invalid episode: expected Validation, got {other:?}"),
    }
    assert!(
        store.get_episode(good.id).await.expect("get").is_none(),
        "a failed import wrote nothing"
    );
}

async fn revisions_increase(store: &impl EpisodeStore) {
    let w = Workload::new(10);
    let ep = w.new_episode(0);
    let mut last = store.insert_episode(&ep).await.expect("insert");
    for n in 1..=3 {
        let next = store
            .append_step(ep.id, &w.step(0, n))
            .await
            .expect("append")
            .revision;
        assert!(next > last, "revision {next} after {last}");
        last = next;
    }
    let read = store
        .get_episode(ep.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        read.revision, last,
        "a read carries the revision of the last write"
    );
    let deleted = store
        .delete_episode(ep.id)
        .await
        .expect("delete")
        .expect("existed");
    assert!(deleted > last);
}

/// Runs the [`ChangeFeed`] cases on a fresh store from `fresh`.
pub async fn change_feed_conformance<S, F, Fut>(mut fresh: F)
where
    S: ChangeFeed,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let store = fresh().await;
    let id = store.store_id().await.expect("store_id");
    assert!(!id.is_empty());
    assert_eq!(
        store.store_id().await.expect("store_id"),
        id,
        "store id is stable"
    );
    assert_ne!(
        fresh().await.store_id().await.expect("store_id"),
        id,
        "store ids differ"
    );

    assert_eq!(
        store.head().await.expect("head"),
        0,
        "a new database is at revision 0"
    );
    let w = Workload::new(11);
    let a = w.new_episode(0);
    let b = w.new_episode(1);
    let r_a = store.insert_episode(&a).await.expect("insert a");
    let r_b = store.insert_episode(&b).await.expect("insert b");
    let r_a2 = store
        .append_step(a.id, &w.step(0, 1))
        .await
        .expect("append")
        .revision;
    let r_del = store
        .delete_episode(b.id)
        .await
        .expect("delete")
        .expect("existed");
    let all = store.changes_since(0).await.expect("changes");
    assert_eq!(
        all,
        vec![
            Change {
                id: a.id,
                revision: r_a2
            },
            Change {
                id: b.id,
                revision: r_del
            },
        ],
        "the latest change of each episode, deletes included, in revision order"
    );
    assert!(r_a < r_b);
    assert_eq!(
        store.head().await.expect("head"),
        r_del,
        "head is the latest revision"
    );
    assert_eq!(store.changes_since(r_del).await.expect("changes"), vec![]);
    assert_eq!(
        store.changes_since(r_a2).await.expect("changes"),
        vec![Change {
            id: b.id,
            revision: r_del
        }]
    );
}

/// Runs the [`EpisodeCache`] cases on a fresh cache from `fresh`.
pub async fn cache_conformance<C, F, Fut>(mut fresh: F)
where
    C: EpisodeCache,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let w = Workload::new(12);
    let cache = fresh().await;
    assert_eq!(cache.bind("db-1").await.expect("bind"), 0);
    let v = |revision, value: &Episode| Versioned {
        revision,
        value: value.clone(),
    };
    let a = w.completed_episode(0, 3);
    let b = w.new_episode(1);
    assert!(cache.put(&v(5, &a), 0).await.expect("put"));
    assert_eq!(
        cache.get(a.id).await.expect("get"),
        Some(v(5, &a)),
        "cache round trip"
    );
    assert!(
        !cache
            .put(&v(4, &b.clone_with_id(a.id)), 0)
            .await
            .expect("put older"),
        "an older copy never replaces a newer one"
    );
    assert_eq!(
        cache.get(a.id).await.expect("get").map(|e| e.revision),
        Some(5)
    );

    cache
        .apply(
            &[Change {
                id: a.id,
                revision: 7,
            }],
            8,
        )
        .await
        .expect("apply");
    assert_eq!(cache.applied(), 8);
    assert!(
        cache.get(a.id).await.expect("get").is_none(),
        "a newer change drops the entry"
    );

    assert!(
        !cache.put(&v(6, &a), 7).await.expect("put"),
        "a fill read before the last apply is refused"
    );
    assert!(
        cache.put(&v(6, &a), 8).await.expect("put"),
        "a fill read after the last apply is kept"
    );
    assert!(
        cache.put(&v(9, &b), 0).await.expect("put"),
        "a write newer than applied is kept"
    );
    cache
        .apply(
            &[
                Change {
                    id: a.id,
                    revision: 6,
                },
                Change {
                    id: b.id,
                    revision: 9,
                },
            ],
            9,
        )
        .await
        .expect("apply");
    assert!(
        cache.get(a.id).await.expect("get").is_some(),
        "a change the entry already has keeps it"
    );
    assert!(cache.get(b.id).await.expect("get").is_some());

    cache.invalidate(&[a.id]).await.expect("invalidate");
    assert!(cache.get(a.id).await.expect("get").is_none());
    cache.checkpoint().await.expect("checkpoint");

    assert_eq!(
        cache.bind("db-1").await.expect("rebind"),
        9,
        "binding to the same store keeps the cache"
    );
    assert_eq!(
        cache.bind("db-2").await.expect("bind other"),
        0,
        "binding to another store clears it"
    );
    assert!(cache.get(b.id).await.expect("get").is_none());
    cache.clear(3).await.expect("clear");
    assert_eq!(cache.applied(), 3);
}

trait CloneWithId {
    fn clone_with_id(&self, id: EpisodeId) -> Episode;
}

impl CloneWithId for Episode {
    fn clone_with_id(&self, id: EpisodeId) -> Episode {
        let mut e = self.clone();
        e.id = id;
        e
    }
}
