use super::*;
use crate::{ExecutionStep, StepResult, TaskContext, TaskType};

fn episode(steps: usize, complexity: Complexity) -> Episode {
    let mut ep = Episode::new(
        "task",
        TaskType::Debugging,
        TaskContext {
            domain: "d".into(),
            complexity,
            ..Default::default()
        },
    );
    ep.start_time = Timestamp::from_micros(0);
    for i in 0..steps {
        let mut s = ExecutionStep::new(
            "t",
            "a",
            StepResult::Success {
                output: String::new(),
            },
        );
        s.step_number = i as u32 + 1;
        ep.steps.push(s);
    }
    ep
}

fn success() -> TaskOutcome {
    TaskOutcome::Success {
        verdict: "done".into(),
        artifacts: vec![],
    }
}

#[test]
fn baseline_success_is_base_times_complexity() {
    let ep = episode(10, Complexity::Moderate);
    let r = compute(&ep, &success(), Timestamp::from_micros(600_000_000));
    assert_eq!(r.step_efficiency, 1.0);
    assert_eq!(r.time_efficiency, 1.0);
    assert!((r.total - 1.1).abs() < 1e-12);
}

#[test]
fn fewer_steps_and_less_time_raise_the_reward_within_bounds() {
    let fast = compute(
        &episode(2, Complexity::Moderate),
        &success(),
        Timestamp::from_micros(1),
    );
    assert_eq!(fast.step_efficiency, 1.25);
    assert_eq!(fast.time_efficiency, 1.25);
    let slow = compute(
        &episode(100, Complexity::Moderate),
        &success(),
        Timestamp::from_micros(10_000_000_000),
    );
    assert_eq!(slow.step_efficiency, 0.5);
    assert!(fast.total > slow.total);
    assert!(fast.total <= 1.5);
}

#[test]
fn outcomes_order_the_base() {
    let ep = episode(10, Complexity::Simple);
    let end = Timestamp::from_micros(120_000_000);
    let partial = TaskOutcome::PartialSuccess {
        verdict: "half".into(),
        completed: vec!["a".into()],
        failed: vec!["b".into()],
    };
    let failure = TaskOutcome::Failure {
        reason: "no".into(),
        error_details: None,
    };
    let abstained = TaskOutcome::Abstained {
        reason: "unsafe".into(),
    };
    let bases: Vec<f64> = [success(), partial, abstained, failure]
        .iter()
        .map(|o| compute(&ep, o, end).base)
        .collect();
    assert_eq!(bases, vec![1.0, 0.55, 0.2, 0.0]);
}

#[test]
fn slow_steps_count_even_when_recorded_quickly() {
    let mut ep = episode(10, Complexity::Moderate);
    for step in &mut ep.steps {
        step.latency_ms = 120_000;
    }
    // Recorded within a second, but the steps took 20 minutes: twice the 10-minute baseline.
    let r = compute(&ep, &success(), Timestamp::from_micros(1));
    assert_eq!(r.time_efficiency, 0.5);
}

#[test]
fn same_input_same_reward() {
    let ep = episode(7, Complexity::Complex);
    let end = Timestamp::from_micros(42_000_000);
    assert_eq!(compute(&ep, &success(), end), compute(&ep, &success(), end));
}
