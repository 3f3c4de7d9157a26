//! Episodes and patterns recorded in a scope (a tenant's) over real libSQL and redb: the scope survives the
//! store and the cache, listings and confined queries see only their scope's episodes, and patterns are learnt
//! within a scope and found only by it.

use memory_core::{
    EpisodeQuery, EpisodeStore, Error, Found, Memory, NewEpisode, PatternFeedback, PatternQuery,
    Patterns, Recommend, Records, Scope, Search, TaskContext, TaskOutcome, TaskType, Timestamp,
};
use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::{History, Strategy};

use crate::patterns::pair;

fn scope(name: &str) -> Scope {
    Scope::new(name).expect("scope")
}

async fn completed(memory: &Memory, task: &str, scope: Option<Scope>) -> memory_core::EpisodeId {
    let context = TaskContext {
        domain: "payments".into(),
        ..TaskContext::default()
    };
    let new = NewEpisode {
        scope,
        ..NewEpisode::new(task, TaskType::Debugging, context)
    };
    let id = memory.start_episode(new).await.expect("start");
    let outcome = TaskOutcome::Success {
        verdict: "fixed".into(),
        artifacts: vec![],
    };
    memory
        .complete_episode(id, outcome)
        .await
        .expect("complete");
    id
}

#[tokio::test]
async fn listings_and_confined_queries_see_only_their_scopes_episodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = pair(&dir).await;
    let memory = Memory::from_arc(store.clone());
    let (alice, bob) = (scope("user:alice"), scope("user:bob"));
    // Distinct tasks: near-duplicate results are dropped from a query.
    let of_alice = completed(
        &memory,
        "fix the flaky settlement retry test",
        Some(alice.clone()),
    )
    .await;
    let of_bob = completed(
        &memory,
        "the settlement test is flaky when the ledger is slow",
        Some(bob.clone()),
    )
    .await;
    let shared = completed(&memory, "make the flaky settlement test pass in CI", None).await;

    // The scope is stored in libSQL: a fresh process without the cache reads it back.
    let primary = TursoStore::open(&DbConfig::local(dir.path().join("memory.db")))
        .await
        .expect("reopen");
    let read = primary
        .get_episode(of_alice)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.value.scope, Some(alice.clone()));
    let cached = store
        .get_episode(of_bob)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(cached.value.scope, Some(bob.clone()));

    for (name, lister) in [
        ("libSQL", &primary as &dyn EpisodeStore),
        ("pair", &*store as &dyn EpisodeStore),
    ] {
        let of = |s: Option<Scope>| EpisodeQuery {
            scope: s,
            ..EpisodeQuery::default()
        };
        let ids = |rows: Vec<memory_core::EpisodeSummary>| -> Vec<_> {
            rows.iter().map(|r| r.id).collect()
        };
        let listed = lister
            .list_episodes(&of(Some(alice.clone())))
            .await
            .expect("list");
        assert_eq!(ids(listed.clone()), vec![of_alice], "{name}");
        assert_eq!(listed[0].scope, Some(alice.clone()), "{name}");
        let all = lister.list_episodes(&of(None)).await.expect("list");
        assert_eq!(
            all.len(),
            3,
            "{name}: unconfined listings see every episode"
        );
    }

    let records = Records::from_arc(store.clone()).with_episodes(store.clone());
    let search = |s: &Scope, confined: bool| Search {
        episodes: true,
        confined,
        ..Search::new(s.clone(), "flaky settlement test")
    };
    let found = |hits: Vec<memory_core::Hit>| -> Vec<_> {
        hits.into_iter()
            .filter_map(|h| match h.found {
                Found::Episode { episode } => Some(episode.id),
                _ => None,
            })
            .collect()
    };
    let mine = records.query(&search(&alice, true)).await.expect("query");
    assert_eq!(found(mine), vec![of_alice]);
    let theirs = records.query(&search(&bob, true)).await.expect("query");
    assert_eq!(found(theirs), vec![of_bob]);
    let mut everything = found(records.query(&search(&alice, false)).await.expect("query"));
    everything.sort();
    let mut expected = vec![of_alice, of_bob, shared];
    expected.sort();
    assert_eq!(
        everything, expected,
        "an unconfined query sees every episode"
    );
}

#[tokio::test]
async fn patterns_are_learnt_within_a_scope_and_found_only_by_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = pair(&dir).await;
    let (alice, bob) = (scope("user:alice"), scope("user:bob"));
    let start = Timestamp::from_micros(Timestamp::now().as_micros() - 86_400_000_000);
    // The same strategies in two tenants' histories.
    let mut episodes = Vec::new();
    for (seed, s) in [(7, &alice), (8, &bob)] {
        for h in History::new(seed).starting_at(start).episodes(8, 10) {
            let mut episode = h.episode;
            episode.id = memory_core::EpisodeId::new();
            episode.scope = Some(s.clone());
            episodes.push(episode);
        }
    }
    store.import_episodes(&episodes).await.expect("import");
    let patterns = Patterns::new(store.clone());
    patterns.queue_unextracted().await.expect("queue");
    patterns.extract_pending().await.expect("extract");

    let all = patterns
        .list(&PatternQuery {
            limit: 1000,
            ..PatternQuery::default()
        })
        .await
        .expect("list");
    assert!(!all.is_empty());
    let scope_of = |id: memory_core::EpisodeId| {
        episodes
            .iter()
            .find(|e| e.id == id)
            .and_then(|e| e.scope.clone())
    };
    for p in &all {
        assert!(p.scope.is_some(), "{p:?}");
        for e in &p.evidence {
            assert_eq!(
                scope_of(e.episode),
                p.scope,
                "evidence of another scope in {}",
                p.id
            );
        }
    }
    // Each tenant has its own recurring pattern of the planted strategy.
    for s in [&alice, &bob] {
        let request = Recommend {
            scope: Some(s.clone()),
            ..Recommend::new(Strategy::FlakyAsyncTest.task())
        };
        let top = patterns.recommend(&request).await.expect("recommend");
        assert!(!top.is_empty(), "{s}");
        assert!(
            top.iter().all(|r| r.pattern.scope.as_ref() == Some(s)),
            "{s}"
        );
        assert!(top[0].pattern.support >= 2, "{:?}", top[0].pattern);
        let searched = patterns
            .search("settlement timeout", None, 20, Some(s))
            .await
            .expect("search");
        assert!(searched.iter().all(|r| r.pattern.scope.as_ref() == Some(s)));
    }
    // Feedback confined to one scope does not reach another's pattern, and writes nothing.
    let of_bob = all
        .iter()
        .find(|p| p.scope.as_ref() == Some(&bob))
        .expect("bob's");
    let refused = patterns
        .feedback(&PatternFeedback {
            patterns: vec![of_bob.id],
            outcome: memory_core::OutcomeKind::Success,
            scope: Some(alice.clone()),
        })
        .await;
    assert!(
        matches!(refused, Err(Error::NotFound { .. })),
        "{refused:?}"
    );
    assert_eq!(patterns.get(of_bob.id).await.expect("get"), *of_bob);
}
