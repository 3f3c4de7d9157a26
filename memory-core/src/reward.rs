//! The reward of a completed episode.
//!
//! `total = clamp(base × efficiency × complexity_factor, 0, 1.5)`, where
//!
//! - **base** comes from the outcome: success 1.0; partial success `0.3 + 0.5 × done / (done + not done)`
//!   (0.55 when neither list is given); abstained 0.2 (declining a task is better than breaking something);
//!   failure 0.0.
//! - **efficiency** is the geometric mean of `step_efficiency = clamp(step_baseline / steps, 0.5, 1.25)` and
//!   `time_efficiency = clamp(time_baseline / duration, 0.5, 1.25)`. The baselines depend on the complexity:
//!   simple 5 steps / 2 min, moderate 10 steps / 10 min, complex 20 steps / 30 min. An episode with no steps
//!   counts as one step. The duration is the longer of the wall-clock time from start to completion and the sum
//!   of the steps' latencies (an agent that records its work after the fact still pays for its slow steps);
//!   durations under one second count as one second.
//! - **complexity_factor**: simple 1.0, moderate 1.1, complex 1.2.
//!
//! The computation is a pure function of the episode, so the same episode always gets the same reward.

use crate::{Complexity, Episode, RewardScore, TaskOutcome, Timestamp};

/// Steps a task of this complexity is expected to take.
pub fn step_baseline(complexity: Complexity) -> f64 {
    match complexity {
        Complexity::Simple => 5.0,
        Complexity::Moderate => 10.0,
        Complexity::Complex => 20.0,
    }
}

/// Seconds a task of this complexity is expected to take.
pub fn time_baseline_secs(complexity: Complexity) -> f64 {
    match complexity {
        Complexity::Simple => 120.0,
        Complexity::Moderate => 600.0,
        Complexity::Complex => 1800.0,
    }
}

/// How long the episode took, in seconds: the longer of wall-clock time and the sum of step latencies.
pub fn duration_secs(episode: &Episode, end_time: Timestamp) -> f64 {
    let wall_secs = end_time.micros_since(episode.start_time) as f64 / 1e6;
    let step_secs = episode.steps.iter().map(|s| s.latency_ms).sum::<u64>() as f64 / 1e3;
    wall_secs.max(step_secs)
}

/// The reward of `episode` ended with `outcome` at `end_time`.
pub fn compute(episode: &Episode, outcome: &TaskOutcome, end_time: Timestamp) -> RewardScore {
    let complexity = episode.context.complexity;
    let base = match outcome {
        TaskOutcome::Success { .. } => 1.0,
        TaskOutcome::PartialSuccess {
            completed, failed, ..
        } => {
            let total = completed.len() + failed.len();
            if total == 0 {
                0.55
            } else {
                0.3 + 0.5 * completed.len() as f64 / total as f64
            }
        }
        TaskOutcome::Abstained { .. } => 0.2,
        TaskOutcome::Failure { .. } => 0.0,
    };
    let steps = episode.steps.len().max(1) as f64;
    let step_efficiency = (step_baseline(complexity) / steps).clamp(0.5, 1.25);
    let secs = duration_secs(episode, end_time).max(1.0);
    let time_efficiency = (time_baseline_secs(complexity) / secs).clamp(0.5, 1.25);
    let efficiency = (step_efficiency * time_efficiency).sqrt();
    let complexity_factor = match complexity {
        Complexity::Simple => 1.0,
        Complexity::Moderate => 1.1,
        Complexity::Complex => 1.2,
    };
    RewardScore {
        total: (base * efficiency * complexity_factor).clamp(0.0, 1.5),
        base,
        efficiency,
        step_efficiency,
        time_efficiency,
        complexity_factor,
    }
}

#[cfg(test)]
mod tests;
