//! Lessons an agent can act on, on the planted history of `test_utils::lessons` over real libSQL and redb: for a
//! new wording of a problem, the first recommendation names the move that worked, reads as a rule with its
//! counts, and the move that failed is never above it.

use memory_core::{EpisodeStore, Patterns, QueryContext, Recommend, Recommendation, TaskType};
use test_utils::lessons::{self, PROBLEMS, Problem};

use crate::patterns::pair;

/// Where the first recommendation naming `text` ranks.
fn rank_of(found: &[Recommendation], text: &str) -> Option<usize> {
    found.iter().position(|r| r.pattern.lesson().contains(text))
}

fn request(problem: &Problem, query: &str, with_context: bool) -> Recommend {
    let (domain, language, framework, _) = problem.context;
    let mut request = Recommend::new(query);
    request.limit = 10;
    if with_context {
        request.context = QueryContext {
            domain: Some(domain.into()),
            language: Some(language.into()),
            framework: Some(framework.into()),
            tags: Vec::new(),
        };
        request.task_type = Some(TaskType::Debugging);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_recommendation_names_the_move_that_worked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = pair(&dir).await;
    let history = lessons::lesson_history(7);
    store.import_episodes(&history).await.expect("import");
    let patterns = Patterns::new(store.clone());
    patterns.queue_unextracted().await.expect("queue");
    patterns.extract_pending().await.expect("extract");

    let (mut asked, mut hits) = (0, 0);
    let mut misses = Vec::new();
    for problem in PROBLEMS {
        for query in problem.queries {
            for with_context in [true, false] {
                let found = patterns
                    .recommend(&request(problem, query, with_context))
                    .await
                    .expect("recommend");
                asked += 1;
                let works = rank_of(&found, problem.works.1);
                if works == Some(0) {
                    hits += 1;
                } else {
                    let first = found.first().map(|r| r.pattern.lesson());
                    misses.push(format!("{query} (context {with_context}): {first:?}"));
                }
                if let Some(fails) = rank_of(&found, problem.fails.1) {
                    assert!(
                        works.is_some_and(|w| w < fails),
                        "{query}: the failing move ranks {fails}, the working one {works:?}"
                    );
                }
            }
        }
    }
    let rate = f64::from(hits) / f64::from(asked);
    println!(
        "lessons: {hits} of {asked} first recommendations name the move that worked ({rate:.2})"
    );
    assert!(
        rate >= 0.9,
        "hit rate {rate:.2}; misses:\n{}",
        misses.join("\n")
    );

    // The lesson reads as a rule with its counts, and the failing move as something to avoid.
    let found = patterns
        .recommend(&request(&PROBLEMS[0], PROBLEMS[0].queries[0], true))
        .await
        .expect("recommend");
    let lesson = found[0].pattern.lesson();
    assert!(lesson.starts_with("When "), "{lesson}");
    assert!(lesson.contains("`tokio::time::pause()`"), "{lesson}");
    assert!(lesson.contains(" went well)"), "{lesson}");
    let all = patterns
        .list(&memory_core::PatternQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("list");
    let avoid = all
        .iter()
        .find(|p| {
            p.kind == memory_core::PatternKind::Strategy
                && p.action.contains("raise the test timeout")
        })
        .expect("the failing move is a pattern");
    assert!(avoid.lesson().starts_with("Avoid: "), "{}", avoid.lesson());
}
