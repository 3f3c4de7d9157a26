use super::*;
use crate::{Complexity, Episode, ExecutionStep, StepResult, TaskContext, TaskOutcome, TaskType};

const DAY: i64 = 86_400_000_000;

fn step(tool: &str, action: &str, result: StepResult) -> ExecutionStep {
    ExecutionStep::new(tool, action, result)
}

fn ok(text: &str) -> StepResult {
    StepResult::Success {
        output: text.into(),
    }
}

fn err(text: &str) -> StepResult {
    StepResult::Error {
        message: text.into(),
    }
}

/// A flaky-test fix: the test times out, the agent pauses tokio's clock, the test passes.
fn flaky_fix(outcome: TaskOutcome) -> Episode {
    let context = TaskContext {
        domain: "payments-service".into(),
        language: Some("rust".into()),
        framework: Some("tokio".into()),
        complexity: Complexity::Moderate,
        tags: vec!["flaky-test".into()],
    };
    let mut e = Episode::new(
        "Fix the flaky settlement test",
        TaskType::Debugging,
        context,
    );
    e.steps = vec![
        step(
            "cargo",
            "test settle_retries",
            err("settle_retries timed out after 5400 ms\nmore"),
        ),
        step("edit", "src/settle.rs", ok("paused the clock")),
        step("cargo", "test settle_retries", ok("1 passed")),
    ];
    for (i, s) in e.steps.iter_mut().enumerate() {
        s.step_number = i as u32 + 1;
    }
    e.end_time = Some(Timestamp::from_micros(e.start_time.as_micros() + 1000));
    e.outcome = Some(outcome);
    e
}

fn success() -> TaskOutcome {
    TaskOutcome::Success {
        verdict: "fixed".into(),
        artifacts: vec![],
    }
}

fn of_kind(candidates: &[Candidate], kind: PatternKind) -> Vec<&Candidate> {
    candidates.iter().filter(|c| c.kind == kind).collect()
}

#[test]
fn a_recovered_failure_gives_every_kind() {
    let episode = flaky_fix(success());
    let found = extract(&episode);
    let sequence = of_kind(&found, PatternKind::ToolSequence);
    assert_eq!(sequence.len(), 1);
    assert_eq!(sequence[0].action, "`edit` → `cargo test`");
    assert_eq!(sequence[0].condition, "debugging task");

    let decision = of_kind(&found, PatternKind::DecisionPoint);
    assert_eq!(decision.len(), 1);
    assert_eq!(
        decision[0].condition,
        "`cargo test` fails with \"settle_retries timed out after # ms\""
    );
    assert_eq!(decision[0].action, "edit `settle.rs`: paused the clock");

    let recovery = of_kind(&found, PatternKind::ErrorRecovery);
    assert_eq!(recovery.len(), 1);
    assert_eq!(
        recovery[0].action,
        "edit `settle.rs`: paused the clock, then `cargo test`"
    );
    assert!(
        recovery[0]
            .signature
            .contains(&"fail:cargo test".to_string())
    );
    assert!(recovery[0].signature.contains(&"fix:edit".to_string()));
    assert!(
        recovery[0]
            .signature
            .contains(&"then:cargo test".to_string())
    );

    let context = of_kind(&found, PatternKind::ContextPattern);
    assert_eq!(context.len(), 1);
    assert_eq!(
        context[0].condition,
        "debugging task in payments-service (rust, tokio; tags flaky-test)"
    );
    assert_eq!(context[0].context.tags, vec!["flaky-test".to_string()]);
    for c in &found {
        assert_eq!(c.evidence.episode, episode.id);
        assert_eq!(c.evidence.outcome, OutcomeKind::Success);
    }
}

#[test]
fn extraction_is_a_function_of_the_episode() {
    let episode = flaky_fix(success());
    assert_eq!(extract(&episode), extract(&episode.clone()));
}

#[test]
fn an_episode_in_progress_gives_nothing() {
    let mut episode = flaky_fix(success());
    episode.outcome = None;
    episode.end_time = None;
    assert!(extract(&episode).is_empty());
}

#[test]
fn an_unrecovered_failure_is_a_decision_but_no_recovery() {
    let mut episode = flaky_fix(TaskOutcome::Failure {
        reason: "gave up".into(),
        error_details: None,
    });
    episode.steps[1].result = err("edit refused");
    episode.steps[2].result = StepResult::Timeout {
        message: "test exceeded 120 s".into(),
    };
    let found = extract(&episode);
    assert!(of_kind(&found, PatternKind::ErrorRecovery).is_empty());
    assert!(of_kind(&found, PatternKind::ToolSequence).is_empty());
    let decisions = of_kind(&found, PatternKind::DecisionPoint);
    assert_eq!(decisions.len(), 2, "the last failed step has no next step");
    let context = of_kind(&found, PatternKind::ContextPattern);
    assert_eq!(context[0].action, "no step succeeded");
}

#[test]
fn labels_keep_subcommands_and_drop_paths_and_flags() {
    let label = |tool: &str, action: &str| step_label(&step(tool, action, ok("")));
    assert_eq!(label("cargo", "test --package x"), "cargo test");
    assert_eq!(label("edit", "src/lib.rs"), "edit");
    assert_eq!(label("pytest", "-x tests/"), "pytest");
    assert_eq!(label("git", "diff"), "git diff");
    assert_eq!(label("read_file", ""), "read_file");
}

#[test]
fn evidence_of_one_episode_counts_once() {
    let episode = flaky_fix(success());
    let candidate = extract(&episode).remove(0);
    let now = Timestamp::now();
    let mut pattern = Pattern::from_candidate(candidate.clone(), now, DEFAULT_HALF_LIFE_DAYS);
    pattern.add_evidence(&candidate, now, DEFAULT_HALF_LIFE_DAYS);
    assert_eq!(pattern.support, 1);
    assert_eq!(pattern.effectiveness.successes, 1);
}

#[test]
fn wilson_bound_matches_known_values() {
    assert_eq!(wilson_lower_bound(0.0, 0.0), 0.0);
    assert!((wilson_lower_bound(1.0, 1.0) - 0.2065).abs() < 1e-3);
    assert!((wilson_lower_bound(6.0, 7.0) - 0.4869).abs() < 1e-3);
    assert!((wilson_lower_bound(20.0, 20.0) - 0.8389).abs() < 1e-3);
    assert!(wilson_lower_bound(6.0, 7.0) < wilson_lower_bound(60.0, 70.0));
    // No successes is exactly 0 at any (fractional, decayed) total, not rounding noise.
    for total in [0.001, 0.37, 1.0, 3.3, 1e6] {
        assert_eq!(wilson_lower_bound(0.0, total), 0.0, "{total}");
    }
}

#[test]
fn weights_halve_every_half_life_and_the_score_fades() {
    let start = Timestamp::from_micros(1_000 * DAY);
    let mut e = Effectiveness::new(start);
    for _ in 0..6 {
        e.observe(Some(true), start, start, 30.0);
    }
    let fresh = e.score;
    let later = Timestamp::from_micros(start.as_micros() + 30 * DAY);
    assert!((e.score_at(later, 30.0) - wilson_lower_bound(3.0, 3.0)).abs() < 1e-9);
    e.decay_to(later, 30.0);
    assert!((e.weighted_successes - 3.0).abs() < 1e-9);
    assert!(e.score < fresh);
    assert_eq!(e.successes, 6, "raw counts never decay");
}

#[test]
fn repeated_failures_sink_a_pattern() {
    let now = Timestamp::from_micros(1_000 * DAY);
    let mut e = Effectiveness::new(now);
    for _ in 0..6 {
        e.observe(Some(true), now, now, DEFAULT_HALF_LIFE_DAYS);
    }
    let before = e.score;
    for _ in 0..6 {
        e.apply(false, now, DEFAULT_HALF_LIFE_DAYS);
    }
    assert_eq!((e.uses, e.successes, e.failures), (6, 6, 6));
    assert!(e.score < before / 2.0, "{} vs {before}", e.score);
}

#[test]
fn old_evidence_weighs_less_than_new() {
    let now = Timestamp::from_micros(1_000 * DAY);
    let old = Timestamp::from_micros(now.as_micros() - 90 * DAY);
    let mut e = Effectiveness::new(now);
    e.observe(Some(true), old, now, 90.0);
    assert!((e.weighted_successes - 0.5).abs() < 1e-9);
    assert_eq!(e.last_used, old);
}

#[test]
fn absorbing_adds_evidence_counts_and_contexts() {
    let now = Timestamp::now();
    let a = flaky_fix(success());
    let mut b = flaky_fix(TaskOutcome::Failure {
        reason: "no".into(),
        error_details: None,
    });
    b.context.language = Some("go".into());
    let pick = |e: &Episode| {
        extract(e)
            .into_iter()
            .find(|c| c.kind == PatternKind::ToolSequence)
            .expect("a tool sequence")
    };
    let mut first = Pattern::from_candidate(pick(&a), now, DEFAULT_HALF_LIFE_DAYS);
    let second = Pattern::from_candidate(pick(&b), now, DEFAULT_HALF_LIFE_DAYS);
    first.absorb(&second, now, DEFAULT_HALF_LIFE_DAYS);
    assert_eq!(first.support, 2);
    assert_eq!(first.evidence.len(), 2);
    assert_eq!(
        (first.effectiveness.successes, first.effectiveness.failures),
        (1, 1)
    );
    assert_eq!(first.context.languages, vec!["rust", "go"]);
}
