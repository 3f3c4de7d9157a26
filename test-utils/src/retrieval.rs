//! The retrieval suite: searches through [`Records`] over two handles on one database, as two servers sharing a
//! store would be, so each must see the other's writes; episodes in queries; context match; embedder checks.

use std::{future::Future, sync::Arc};

use memory_core::{
    ChangeFeed, Error, ExecutionStep, Found, LexicalEmbedder, Memory, NewEpisode, NewRecord,
    OutcomeKind, QueryContext, RecordKind, RecordStore, RecordUpdate, Records, Scope, Search,
    StepResult, TaskContext, TaskOutcome, TaskType,
};

fn scope(name: &str) -> Scope {
    Scope::new(name).expect("valid scope")
}

async fn ids(records: &Records, search: &Search) -> Vec<memory_core::RecordId> {
    let hits = records.search(search).await.expect("search");
    hits.into_iter().map(|h| h.record.id).collect()
}

/// Runs every case on a fresh database; `pair` opens two handles on one new database.
pub async fn retrieval_conformance<S, F, Fut>(mut pair: F)
where
    S: ChangeFeed + RecordStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = (S, S)>,
{
    follows_the_other_writer(pair().await).await;
    episodes_and_context(pair().await).await;
    structured(pair().await).await;
    another_embedder_is_refused(pair().await).await;
}

/// Several tags (any or all), a minimum importance, a time range, newest first, and browsing with no text.
async fn structured<S: ChangeFeed + RecordStore>((a, _): (S, S)) {
    let records = Records::new(a);
    let s = scope("project:payments");
    let mut stored = Vec::new();
    for (text, tags, importance) in [
        (
            "We decided to keep retries at three",
            &["decision", "retries"][..],
            0.9,
        ),
        (
            "Retries back off exponentially from 100 ms",
            &["retries"][..],
            0.4,
        ),
        ("We decided to settle in UTC", &["decision"][..], 0.8),
        ("The settlement job runs hourly", &[][..], 0.2),
    ] {
        let mut new = NewRecord::new(s.clone(), RecordKind::Decision, text);
        new.tags = tags.iter().map(|t| t.to_string()).collect();
        new.importance = importance;
        stored.push(records.store(new).await.expect("store").id);
        // Distinct times, oldest first.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let browse = |search: Search| Search {
        limit: 10,
        ..search
    };
    let newest = ids(&records, &browse(Search::new(s.clone(), ""))).await;
    let mut expected = stored.clone();
    expected.reverse();
    assert_eq!(newest, expected, "no text: the newest first");
    let any = Search {
        tags: memory_core::Tags::any(["decision", "retries"]),
        ..browse(Search::new(s.clone(), ""))
    };
    assert_eq!(
        ids(&records, &any).await,
        vec![stored[2], stored[1], stored[0]]
    );
    let all = Search {
        tags: memory_core::Tags::all(["decision", "retries"]),
        ..any.clone()
    };
    assert_eq!(ids(&records, &all).await, vec![stored[0]]);
    let important = Search {
        min_importance: Some(0.8),
        ..browse(Search::new(s.clone(), ""))
    };
    assert_eq!(ids(&records, &important).await, vec![stored[2], stored[0]]);
    let since = records.get(&s, stored[2]).await.expect("get").created_at;
    let words = |text: &str| Search {
        ranking: memory_core::Ranking::Bm25,
        ..browse(Search::new(s.clone(), text))
    };
    let recent = Search {
        after: Some(since),
        ..words("decided")
    };
    assert_eq!(ids(&records, &recent).await, vec![stored[2]]);
    let relevant = browse(Search::new(s.clone(), "we decided retries three"));
    assert_eq!(ids(&records, &relevant).await.first(), Some(&stored[0]));
    let by_time = Search {
        sort: memory_core::Sort::Newest,
        ..words("decided")
    };
    assert_eq!(
        ids(&records, &by_time).await,
        vec![stored[2], stored[0]],
        "the matches, newest first"
    );
    let bad = Search {
        min_importance: Some(1.5),
        ..browse(Search::new(s.clone(), ""))
    };
    assert!(matches!(
        records.search(&bad).await,
        Err(Error::Validation { .. })
    ));
}

async fn follows_the_other_writer<S: ChangeFeed + RecordStore>((a, b): (S, S)) {
    let (a, b) = (Records::new(a), Records::new(b));
    let s = scope("project:payments");
    let search = |text: &str| Search::new(s.clone(), text);
    let first = a
        .store(NewRecord::new(
            s.clone(),
            RecordKind::Fact,
            "The ledger rounds with banker's rounding",
        ))
        .await
        .expect("store")
        .id;
    assert_eq!(
        ids(&b, &search("ledger rounding")).await,
        vec![first],
        "b loads what a wrote"
    );
    let second = a
        .store(NewRecord::new(
            s.clone(),
            RecordKind::Fact,
            "Refunds post to the ledger the next day",
        ))
        .await
        .expect("store")
        .id;
    let found = ids(&b, &search("refunds ledger")).await;
    assert_eq!(
        found.first(),
        Some(&second),
        "b's loaded index follows a's later write"
    );
    let update = RecordUpdate {
        tags: Some(vec!["accounting".into()]),
        ..Default::default()
    };
    a.update(&s, first, &update).await.expect("update");
    let tagged = Search {
        tags: memory_core::Tags::any(["accounting"]),
        ..search("ledger")
    };
    assert_eq!(ids(&b, &tagged).await, vec![first], "b sees a's update");
    a.delete(&s, first).await.expect("delete");
    assert_eq!(
        ids(&b, &search("ledger")).await,
        vec![second],
        "b drops what a deleted"
    );
    assert!(
        ids(&b, &Search::new(scope("user:alice"), "ledger"))
            .await
            .is_empty(),
        "scopes stay apart"
    );
}

async fn episode(memory: &Memory, task: &str, domain: &str, outcome: TaskOutcome) {
    let context = TaskContext {
        domain: domain.into(),
        language: Some("rust".into()),
        ..Default::default()
    };
    let id = memory
        .start_episode(NewEpisode::new(task, TaskType::Debugging, context))
        .await
        .expect("start");
    let step = ExecutionStep::new(
        "cargo",
        "test --package settlement",
        StepResult::Success {
            output: "ok".into(),
        },
    );
    memory.log_step(id, step).await.expect("step");
    memory
        .complete_episode(id, outcome)
        .await
        .expect("complete");
}

async fn episodes_and_context<S: ChangeFeed + RecordStore>((a, b): (S, S)) {
    let a = Arc::new(a);
    let memory = Memory::from_arc(a.clone());
    let b = Arc::new(b);
    let records = Records::from_arc(b.clone()).with_episodes(b);
    let s = scope("project:payments");
    let success = || TaskOutcome::Success {
        verdict: "paused the tokio clock in the retry test".into(),
        artifacts: vec![],
    };
    episode(
        &memory,
        "fix the flaky settlement retry test",
        "payments",
        success(),
    )
    .await;
    let query = Search {
        episodes: true,
        ..Search::new(s.clone(), "flaky settlement test")
    };
    let hits = records.query(&query).await.expect("query");
    assert_eq!(hits.len(), 1, "one episode, no records yet");
    let Found::Episode { episode: found } = &hits[0].found else {
        panic!("expected the episode, got {:?}", hits[0].found)
    };
    assert_eq!(
        found.task_description,
        "fix the flaky settlement retry test"
    );
    assert!(
        hits[0].score.bm25.is_some() && hits[0].score.cosine.is_some(),
        "{:?}",
        hits[0].score
    );
    assert!(
        hits[0].score.outcome > 0.5,
        "a successful episode's outcome counts: {:?}",
        hits[0].score
    );

    // Written after b loaded its episodes: b's index must follow.
    episode(
        &memory,
        "fix the flaky settlement retry test",
        "billing",
        TaskOutcome::Failure {
            reason: "could not reproduce the retry test failure".into(),
            error_details: None,
        },
    )
    .await;
    records
        .store(NewRecord::new(
            s.clone(),
            RecordKind::Note,
            "The flaky settlement test needs tokio::time::pause",
        ))
        .await
        .expect("store");
    let hits = records.query(&query).await.expect("query");
    assert_eq!(hits.len(), 3, "two episodes and a memory: {hits:#?}");
    assert!(
        hits.windows(2)
            .all(|w| w[0].score.total >= w[1].score.total)
    );

    let in_billing = Search {
        context: QueryContext {
            domain: Some("billing".into()),
            ..Default::default()
        },
        domain: None,
        ..query.clone()
    };
    let hits = records.query(&in_billing).await.expect("query");
    let first_episode = hits.iter().find_map(|h| match &h.found {
        Found::Episode { episode } => Some((episode.context.domain.clone(), h.score.context)),
        Found::Memory { .. } | Found::Pattern { .. } => None,
    });
    assert_eq!(
        first_episode,
        Some(("billing".to_string(), 1.0)),
        "the context match ranks billing's first"
    );

    let failures = Search {
        outcome: Some(OutcomeKind::Failure),
        ..query.clone()
    };
    let hits = records.query(&failures).await.expect("query");
    assert_eq!(
        hits.len(),
        1,
        "the outcome filter keeps the failed episode alone"
    );
    let memories_only = records
        .query(&Search {
            episodes: false,
            ..query
        })
        .await
        .expect("query");
    assert!(
        memories_only
            .iter()
            .all(|h| matches!(h.found, Found::Memory { .. }))
    );
}

async fn another_embedder_is_refused<S: ChangeFeed + RecordStore>((a, b): (S, S)) {
    let s = scope("project:payments");
    Records::new(a)
        .store(NewRecord::new(
            s.clone(),
            RecordKind::Fact,
            "vectors from the default lexical embedder",
        ))
        .await
        .expect("store");
    let other = Records::new(b).with_embedder(Arc::new(LexicalEmbedder::new(64)));
    let err = other
        .search(&Search::new(s.clone(), "vectors"))
        .await
        .expect_err("another model");
    assert!(matches!(err, Error::EmbedderMismatch { .. }), "{err}");
    let err = other
        .store(NewRecord::new(s.clone(), RecordKind::Fact, "not written"))
        .await
        .expect_err("another model");
    assert!(err.to_string().contains("memory-cli reembed"), "{err}");
    let stats = other.stats(Some(&s)).await.expect("stats");
    assert_eq!(stats.total, 1, "the refused write left nothing behind");
}
