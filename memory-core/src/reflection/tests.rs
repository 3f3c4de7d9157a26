use super::*;
use crate::{Complexity, StepResult, TaskContext, TaskType};

fn step(n: u32, tool: &str, action: &str, ok: bool, text: &str) -> ExecutionStep {
    let result = if ok {
        StepResult::Success {
            output: text.into(),
        }
    } else {
        StepResult::Error {
            message: text.into(),
        }
    };
    let mut s = ExecutionStep::new(tool, action, result);
    s.step_number = n;
    s
}

fn flaky_test_fix() -> Episode {
    let mut ep = Episode::new(
        "fix flaky async test",
        TaskType::Debugging,
        TaskContext {
            domain: "payments".into(),
            language: Some("rust".into()),
            framework: Some("tokio".into()),
            complexity: Complexity::Moderate,
            tags: vec![],
        },
    );
    ep.start_time = Timestamp::from_micros(0);
    ep.steps = vec![
        step(
            1,
            "cargo",
            "test",
            false,
            "test settle_payment failed: timed out\nmore",
        ),
        step(2, "read_file", "src/settle.rs", true, "..."),
        step(3, "edit", "add tokio::time::pause", true, "ok"),
        step(4, "cargo", "test", true, "42 passed"),
    ];
    ep
}

#[test]
fn reflection_names_the_recovery_the_failure_and_the_context() {
    let ep = flaky_test_fix();
    let outcome = TaskOutcome::Success {
        verdict: "fixed".into(),
        artifacts: vec![],
    };
    let r = reflect(&ep, &outcome, Timestamp::from_micros(60_000_000));
    assert!(
        r.successes.iter().any(
            |s| s == "Recovered from a failed `cargo test` (step 1) with `cargo test` (step 4)"
        ),
        "{r:?}"
    );
    assert!(
        r.successes
            .iter()
            .any(|s| s == "Working tool sequence: read_file -> edit -> cargo"),
        "{r:?}"
    );
    assert_eq!(
        r.improvements,
        vec!["Step 1 `cargo test` failed: test settle_payment failed: timed out"]
    );
    assert_eq!(
        r.insights[0],
        "moderate debugging task in payments/rust/tokio: success"
    );
    assert!(r.insights.iter().any(|s| s.contains("recoverable")));
}

#[test]
fn repeated_failures_and_slowness_are_flagged() {
    let mut ep = flaky_test_fix();
    ep.steps = (1..=12)
        .map(|n| step(n, "cargo", "build", false, "error[E0308]"))
        .collect();
    let outcome = TaskOutcome::Failure {
        reason: "could not make it compile".into(),
        error_details: None,
    };
    let r = reflect(&ep, &outcome, Timestamp::from_micros(3_600_000_000));
    assert_eq!(r.improvements[0], "Task failed: could not make it compile");
    assert!(r.improvements.len() <= MAX_LINES);
    let all = r.improvements.join("\n");
    assert_eq!(
        r.improvements[1],
        "`cargo build` failed 12 times in a row; change approach sooner"
    );
    assert!(
        all.contains("Took 12 steps, more than the baseline of 10"),
        "{all}"
    );
    assert!(all.contains("Took 60.0 min"), "{all}");
    assert!(
        all.contains("Step 1 `cargo build` failed: error[E0308]"),
        "{all}"
    );
}

#[test]
fn reflection_is_deterministic() {
    let ep = flaky_test_fix();
    let outcome = TaskOutcome::Abstained {
        reason: "needs a human".into(),
    };
    let end = Timestamp::from_micros(1);
    assert_eq!(reflect(&ep, &outcome, end), reflect(&ep, &outcome, end));
}
