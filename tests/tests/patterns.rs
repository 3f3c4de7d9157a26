//! The pattern learner on a synthetic history with planted strategies, over real libSQL and redb: planted
//! patterns are found, merged across episodes and ranked first for their tasks; they fade after failures and
//! with age; the default clustering parameters are the ones that recover the planted structure.

use std::{collections::HashMap, sync::Arc};

use memory_core::{
    CachedStore, Embedder, EpisodeId, EpisodeStore, Error, ExecutionStep, HeuristicQuery,
    LexicalEmbedder, Memory, NewEpisode, OutcomeKind, Pattern, PatternConfig, PatternFeedback,
    PatternKind, PatternQuery, PatternWorker, Patterns, QueryContext, Recommend, StepResult,
    TaskOutcome, Timestamp,
    pattern::{
        cluster::{ClusterParams, dbscan, features},
        extract,
    },
};
use memory_storage_redb::RedbStore;
use memory_storage_turso::{DbConfig, TursoStore};
use test_utils::{History, HistoryEpisode, Strategy};

pub(crate) type Pair = CachedStore<TursoStore, RedbStore>;

const PER_STRATEGY: usize = 12;
const NOISE: usize = 60;

/// The write-through pair over real libSQL and redb in `dir`.
pub(crate) async fn pair(dir: &tempfile::TempDir) -> Arc<Pair> {
    let primary = TursoStore::open(&DbConfig::local(dir.path().join("memory.db")))
        .await
        .expect("open libSQL");
    let cache = RedbStore::open_cache(dir.path().join("memory.cache.redb"), 1000).expect("cache");
    Arc::new(CachedStore::open(primary, cache).await.expect("pair"))
}

/// The planted kind each strategy is recognised by.
fn planted_kind(s: Strategy) -> PatternKind {
    match s {
        Strategy::GoProfiling | Strategy::PipelineProfiling => PatternKind::ContextPattern,
        _ => PatternKind::ErrorRecovery,
    }
}

/// A history imported, queued and learnt.
async fn learnt(dir: &tempfile::TempDir) -> (Arc<Pair>, Patterns, Vec<HistoryEpisode>) {
    let store = pair(dir).await;
    // Recent, so the outcomes weigh fully: a day ago.
    let start = Timestamp::from_micros(Timestamp::now().as_micros() - 86_400_000_000);
    let history = History::new(42)
        .starting_at(start)
        .episodes(PER_STRATEGY, NOISE);
    let episodes: Vec<_> = history.iter().map(|h| h.episode.clone()).collect();
    store.import_episodes(&episodes).await.expect("import");
    let patterns = Patterns::new(store.clone());
    assert_eq!(
        patterns.queue_unextracted().await.expect("queue"),
        history.len() as u64
    );
    let done = patterns.extract_pending().await.expect("extract");
    assert_eq!(done.episodes as usize, history.len());
    assert_eq!(patterns.pending().await.expect("pending"), 0);
    (store, patterns, history)
}

fn planted_ids(history: &[HistoryEpisode], s: Strategy) -> Vec<EpisodeId> {
    history
        .iter()
        .filter(|h| h.strategy == Some(s))
        .map(|h| h.episode.id)
        .collect()
}

/// The stored pattern of `kind` holding the most episodes of `s`.
fn pattern_of<'a>(
    all: &'a [Pattern],
    history: &[HistoryEpisode],
    s: Strategy,
    kind: PatternKind,
) -> &'a Pattern {
    let ids = planted_ids(history, s);
    all.iter()
        .filter(|p| p.kind == kind)
        .max_by_key(|p| {
            p.evidence
                .iter()
                .filter(|e| ids.contains(&e.episode))
                .count()
        })
        .expect("a pattern")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_strategies_are_found_merged_and_ranked_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, patterns, history) = learnt(&dir).await;
    let all = patterns
        .list(&PatternQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("list");
    for s in Strategy::ALL {
        let ids = planted_ids(&history, s);
        let found = pattern_of(&all, &history, s, planted_kind(s));
        let evidence: Vec<EpisodeId> = found.evidence.iter().map(|e| e.episode).collect();
        for id in &ids {
            assert!(
                evidence.contains(id),
                "{s:?}: episode {id} not merged into {found:#?}"
            );
        }
        assert_eq!(
            found.support as usize,
            ids.len(),
            "{s:?}: the pattern holds exactly the planted episodes: {found:#?}"
        );
    }
    // The context → success link: the same approach goes well in Go and badly in the pipeline.
    let rate = |s| {
        let p = pattern_of(&all, &history, s, PatternKind::ContextPattern);
        let e = &p.effectiveness;
        f64::from(e.successes) / f64::from(e.successes + e.failures)
    };
    assert!(rate(Strategy::GoProfiling) > 0.7);
    assert!(rate(Strategy::PipelineProfiling) < 0.5);

    // Strategies that work come first for their tasks.
    for s in Strategy::ALL
        .into_iter()
        .filter(|s| s.successes_in_ten() > 5)
    {
        let top = patterns.recommend(&request(s)).await.expect("recommend");
        let ids = planted_ids(&history, s);
        let first = &top[0];
        assert!(
            first
                .pattern
                .evidence
                .iter()
                .all(|e| ids.contains(&e.episode)),
            "{s:?}: the first recommendation is not the planted pattern: {first:#?}"
        );
        assert!(first.pattern.support as usize >= PER_STRATEGY / 2);
        assert!(first.why.contains("episodes"), "{}", first.why);
    }
    // The one that does not is shown for its task with its record, below what worked elsewhere.
    let top = patterns
        .recommend(&request(Strategy::PipelineProfiling))
        .await
        .expect("recommend");
    let ids = planted_ids(&history, Strategy::PipelineProfiling);
    let (rank, own) = top
        .iter()
        .enumerate()
        .find(|(_, r)| {
            r.pattern.kind == PatternKind::ContextPattern
                && r.pattern.evidence.iter().all(|e| ids.contains(&e.episode))
        })
        .expect("the pipeline's own context pattern is recommended");
    assert!(rank > 0, "{own:#?}");
    assert!(own.pattern.effectiveness.failures > own.pattern.effectiveness.successes);
    assert!(own.score.effectiveness < 0.3, "{own:#?}");

    let heuristics = patterns
        .heuristics(&HeuristicQuery {
            kind: Some(PatternKind::ErrorRecovery),
            ..Default::default()
        })
        .await
        .expect("heuristics");
    let flaky = planted_ids(&history, Strategy::FlakyAsyncTest);
    let rule = heuristics
        .iter()
        .find(|h| h.evidence.iter().all(|e| flaky.contains(e)) && h.evidence.len() == flaky.len())
        .expect("the flaky-test recovery as a heuristic");
    assert!(rule.condition.contains("timed out"), "{rule:?}");
    // The fix says what the edit did, the module it was made in aside.
    assert!(
        rule.action.starts_with("edit `")
            && rule
                .action
                .ends_with(": `tokio::time::pause()` before the retries, then `cargo test`"),
        "{rule:?}"
    );
    assert!(rule.confidence > 0.5, "{rule:?}");
}

/// How well clustering at `params` recovers the planted structure: the share of planted candidates merged into
/// their strategy's cluster (recall) and the share of those clusters' members that belong there (purity), the
/// worst over the strategies.
fn recovery(history: &[HistoryEpisode], params: ClusterParams) -> (f64, f64) {
    let embedder = LexicalEmbedder::default();
    let mut recall: f64 = 1.0;
    let mut purity: f64 = 1.0;
    for kind in PatternKind::ALL {
        let candidates: Vec<(Option<Strategy>, Vec<f32>)> = history
            .iter()
            .flat_map(|h| {
                extract(&h.episode)
                    .into_iter()
                    .map(move |c| (h.strategy, c))
            })
            .filter(|(_, c)| c.kind == kind)
            .map(|(s, c)| {
                let vector = embedder.embed(&[&c.description]).expect("embed").remove(0);
                (s, features(&vector, &c.signature))
            })
            .collect();
        let points: Vec<&[f32]> = candidates.iter().map(|(_, f)| f.as_slice()).collect();
        let labels = dbscan(&points, params).expect("dbscan");
        for s in Strategy::ALL
            .into_iter()
            .filter(|s| planted_kind(*s) == kind)
        {
            let mine: Vec<Option<usize>> = candidates
                .iter()
                .zip(&labels)
                .filter(|((owner, _), _)| *owner == Some(s))
                .map(|(_, l)| *l)
                .collect();
            let mut sizes: HashMap<usize, usize> = HashMap::new();
            for label in mine.iter().flatten() {
                *sizes.entry(*label).or_default() += 1;
            }
            let Some((&label, &size)) = sizes.iter().max_by_key(|(_, n)| **n) else {
                recall = 0.0;
                continue;
            };
            recall = recall.min(size as f64 / mine.len() as f64);
            let members = labels.iter().filter(|l| **l == Some(label)).count();
            purity = purity.min(size as f64 / members as f64);
        }
    }
    (recall, purity)
}

#[test]
fn the_default_eps_recovers_the_planted_structure_and_its_neighbours_do_not() {
    let history = History::new(7).episodes(PER_STRATEGY, NOISE);
    let defaults = PatternConfig::default();
    let at = |eps: f32| {
        recovery(
            &history,
            ClusterParams {
                eps,
                min_points: defaults.min_points,
            },
        )
    };
    // The default sits in the middle of the band that recovers every planted strategy exactly (measured: 0.4
    // to 0.65 on this history)...
    for eps in [defaults.eps - 0.1, defaults.eps, defaults.eps + 0.1] {
        assert_eq!(at(eps), (1.0, 1.0), "eps {eps}");
    }
    // ...and outside it the structure is lost: too small splits strategies whose episodes differ in details
    // (the module a test is in), too large merges different strategies.
    let (recall, _) = at(defaults.eps / 2.0);
    assert!(recall < 1.0, "eps {}: recall {recall}", defaults.eps / 2.0);
    let (_, purity) = at(defaults.eps * 1.5);
    assert!(purity < 1.0, "eps {}: purity {purity}", defaults.eps * 1.5);
}

/// The recommendation request for strategy `s`'s task and context.
fn request(s: Strategy) -> Recommend {
    let (task_type, context) = s.context();
    Recommend {
        context: QueryContext {
            domain: Some(context.domain.clone()),
            language: context.language.clone(),
            framework: context.framework.clone(),
            tags: context.tags.clone(),
        },
        task_type: Some(task_type),
        ..Recommend::new(s.task())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_fades_after_repeated_failures_and_rises_with_successes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, patterns, _history) = learnt(&dir).await;
    let req = request(Strategy::FlakyAsyncTest);
    let before = patterns.recommend(&req).await.expect("recommend");
    let top = before[0].pattern.clone();
    for _ in 0..12 {
        patterns
            .feedback(&PatternFeedback {
                patterns: vec![top.id],
                outcome: OutcomeKind::Failure,
                scope: None,
            })
            .await
            .expect("feedback");
    }
    let faded = patterns.get(top.id).await.expect("get");
    assert_eq!(faded.effectiveness.uses, 12);
    assert_eq!(
        faded.effectiveness.failures,
        top.effectiveness.failures + 12
    );
    assert!(faded.effectiveness.score < top.effectiveness.score / 2.0);
    let after = patterns.recommend(&req).await.expect("recommend");
    assert_ne!(
        after[0].pattern.id, top.id,
        "a failing pattern no longer leads"
    );
    let rank =
        |list: &[memory_core::Recommendation]| list.iter().position(|r| r.pattern.id == top.id);
    assert!(rank(&after) > rank(&before));

    // Another agent reports it helped, many times: it rises again.
    for _ in 0..40 {
        patterns
            .feedback(&PatternFeedback {
                patterns: vec![top.id],
                outcome: OutcomeKind::Success,
                scope: None,
            })
            .await
            .expect("feedback");
    }
    let risen = patterns.get(top.id).await.expect("get");
    assert!(risen.effectiveness.score > faded.effectiveness.score);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decay_really_updates_the_stored_scores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, patterns, _history) = learnt(&dir).await;
    let query = PatternQuery {
        limit: 1000,
        ..Default::default()
    };
    let before: HashMap<_, _> = patterns
        .list(&query)
        .await
        .expect("list")
        .into_iter()
        .map(|p| (p.id, p.effectiveness.score))
        .collect();
    let later = Timestamp::from_micros(Timestamp::now().as_micros() + 365 * 86_400_000_000);
    let decayed = patterns.decay(later).await.expect("decay");
    assert_eq!(decayed.patterns as usize, before.len());
    assert_eq!(decayed.updated, decayed.patterns);
    // A fresh façade reads the scores from the store, not from the one that decayed them.
    let reread = Patterns::new(store.clone());
    for p in reread.list(&query).await.expect("list") {
        assert_eq!(p.effectiveness.decayed_at, later);
        let was = before[&p.id];
        assert!(
            p.effectiveness.score < was || was == 0.0,
            "{}: {} then {}",
            p.id,
            was,
            p.effectiveness.score
        );
    }
    // Decaying to the same time again changes nothing.
    assert_eq!(reread.decay(later).await.expect("decay").updated, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_feedback_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, patterns, _history) = learnt(&dir).await;
    let known = patterns
        .list(&PatternQuery::default())
        .await
        .expect("list")
        .remove(0);
    let unknown = memory_core::PatternId::new();
    let err = patterns
        .feedback(&PatternFeedback {
            patterns: vec![known.id, unknown],
            outcome: OutcomeKind::Success,
            scope: None,
        })
        .await
        .expect_err("an unknown pattern");
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: "pattern",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(patterns.get(known.id).await.expect("get"), known);
    for bad in [
        PatternFeedback {
            patterns: vec![known.id],
            outcome: OutcomeKind::Abstained,
            scope: None,
        },
        PatternFeedback {
            patterns: vec![],
            outcome: OutcomeKind::Success,
            scope: None,
        },
        PatternFeedback {
            patterns: vec![known.id, known.id],
            outcome: OutcomeKind::Success,
            scope: None,
        },
    ] {
        let err = patterns.feedback(&bad).await.expect_err("refused");
        assert!(matches!(err, Error::Validation { .. }), "{err}");
    }
    assert_eq!(patterns.get(known.id).await.expect("get"), known);
}

/// Starts, logs and completes an episode of strategy `s` through the façade.
async fn work_through(memory: &Memory, s: Strategy, n: usize) -> EpisodeId {
    let (task_type, context) = s.context();
    let id = memory
        .start_episode(NewEpisode::new(
            format!("{} #{n}", s.task()),
            task_type,
            context,
        ))
        .await
        .expect("start");
    for (tool, result) in [
        (
            "cargo",
            StepResult::Error {
                message: format!("test t{n} timed out after 50{n} ms"),
            },
        ),
        (
            "edit",
            StepResult::Success {
                output: "paused".into(),
            },
        ),
        (
            "cargo",
            StepResult::Success {
                output: "ok".into(),
            },
        ),
    ] {
        memory
            .log_step(id, ExecutionStep::new(tool, "test", result))
            .await
            .expect("step");
    }
    memory
        .complete_episode(
            id,
            TaskOutcome::Success {
                verdict: "done".into(),
                artifacts: vec![],
            },
        )
        .await
        .expect("complete");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_learns_off_the_request_path_and_drains_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = pair(&dir).await;
    // One completion before the worker exists: it is queued and waits for the next learner.
    let memory = Memory::from_arc(store.clone());
    let early = work_through(&memory, Strategy::FlakyAsyncTest, 0).await;
    let patterns = Patterns::new(store.clone());
    assert_eq!(patterns.pending().await.expect("pending"), 1);

    let worker = PatternWorker::start(patterns.clone());
    let memory = memory.with_patterns(worker.queue());
    let mut ids = vec![early];
    for n in 1..8 {
        ids.push(work_through(&memory, Strategy::FlakyAsyncTest, n).await);
    }
    let done = worker.shutdown().await.expect("shutdown");
    assert_eq!(done.episodes, 8, "{done:?}");
    assert_eq!(patterns.pending().await.expect("pending"), 0);
    let recovery = patterns
        .list(&PatternQuery {
            kind: Some(PatternKind::ErrorRecovery),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(recovery.len(), 1, "{recovery:#?}");
    assert_eq!(recovery[0].support, 8);
    let of_first = patterns.of_episode(early).await.expect("of episode");
    assert!(of_first.iter().all(|p| {
        p.pattern
            .as_ref()
            .is_some_and(|p| p.evidence.iter().any(|e| e.episode == early))
    }));
    // A second learner finds nothing left and counts nothing twice.
    assert!(patterns.queue(early).await.expect("queue again"));
    let again = patterns.extract_pending().await.expect("extract");
    assert_eq!((again.episodes, again.dropped), (0, 1));
    assert_eq!(patterns.get(recovery[0].id).await.expect("get").support, 8);
}
