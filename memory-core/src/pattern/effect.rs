//! How well a pattern works: counts of the outcomes it was seen with, the same counts decayed by age, and the
//! score ranking uses, the Wilson lower bound of the decayed success share.
//!
//! Every outcome (an evidence episode, or an agent reporting that it applied the pattern) weighs
//! `0.5 ^ (age / half-life)`. The score is the lower bound of the 95% Wilson interval of the weighted successes
//! over the weighted outcomes: few or old outcomes give a low bound however good their share, so a pattern that
//! is no longer seen fades, and one that keeps failing sinks.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Days for an outcome's weight to halve, unless configured otherwise.
pub const DEFAULT_HALF_LIFE_DAYS: f64 = 90.0;

/// z for a 95% interval.
const Z: f64 = 1.96;

/// The lower bound of the Wilson score interval (95%) for `successes` out of `total`; 0 when `total` is 0.
/// Fractional counts (decayed weights) are allowed.
pub fn wilson_lower_bound(successes: f64, total: f64) -> f64 {
    if total <= 0.0 || !total.is_finite() {
        return 0.0;
    }
    let p = (successes / total).clamp(0.0, 1.0);
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * total);
    let margin = Z * (p * (1.0 - p) / total + z2 / (4.0 * total * total)).sqrt();
    // (centre - margin) / (1 + z²/n), multiplied through by (centre + margin): centre² - margin² is p² (1 + z²/n).
    // The subtraction would cancel to rounding noise near p = 0 (a pattern that only failed scored ±1e-17, and
    // decaying it could raise that noise).
    (p * p / (centre + margin)).clamp(0.0, 1.0)
}

/// The weight of an outcome `age_micros` old.
fn weight(age_micros: i64, half_life_days: f64) -> f64 {
    let days = age_micros.max(0) as f64 / 86_400e6;
    0.5f64.powf(days / half_life_days.max(1e-9))
}

/// Uses, outcomes and the decayed score of a pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effectiveness {
    /// How many times agents reported applying it.
    pub uses: u32,
    /// Outcomes that went well: evidence episodes that succeeded (fully or partly) and successful applications.
    pub successes: u32,
    /// Outcomes that did not: failed evidence episodes and failed applications.
    pub failures: u32,
    /// `successes`, each weighted by its age as of `decayed_at`.
    pub weighted_successes: f64,
    /// `failures`, each weighted by its age as of `decayed_at`.
    pub weighted_failures: f64,
    /// The time the weights and the score are computed for.
    pub decayed_at: Timestamp,
    /// The Wilson lower bound of the weighted success share, as of `decayed_at`.
    pub score: f64,
    /// The latest time it was seen in an episode or applied.
    pub last_used: Timestamp,
}

impl Effectiveness {
    /// No outcome yet, as of `now`.
    pub fn new(now: Timestamp) -> Self {
        Effectiveness {
            uses: 0,
            successes: 0,
            failures: 0,
            weighted_successes: 0.0,
            weighted_failures: 0.0,
            decayed_at: now,
            score: 0.0,
            last_used: Timestamp::from_micros(0),
        }
    }

    /// Ages the weights to `now` and recomputes the score (a `now` before `decayed_at` changes nothing).
    pub fn decay_to(&mut self, now: Timestamp, half_life_days: f64) {
        if now > self.decayed_at {
            let factor = weight(
                now.as_micros() - self.decayed_at.as_micros(),
                half_life_days,
            );
            self.weighted_successes *= factor;
            self.weighted_failures *= factor;
            self.decayed_at = now;
        }
        self.rescore();
    }

    /// The score as of `now`, without changing anything.
    pub fn score_at(&self, now: Timestamp, half_life_days: f64) -> f64 {
        let mut aged = self.clone();
        aged.decay_to(now, half_life_days);
        aged.score
    }

    /// Counts an outcome that happened at `at`: `Some(true)` a success, `Some(false)` a failure, `None` neither
    /// (the time still counts as a use).
    pub fn observe(
        &mut self,
        success: Option<bool>,
        at: Timestamp,
        now: Timestamp,
        half_life_days: f64,
    ) {
        self.decay_to(now.max(at), half_life_days);
        let w = weight(self.decayed_at.as_micros() - at.as_micros(), half_life_days);
        match success {
            Some(true) => {
                self.successes = self.successes.saturating_add(1);
                self.weighted_successes += w;
            }
            Some(false) => {
                self.failures = self.failures.saturating_add(1);
                self.weighted_failures += w;
            }
            None => {}
        }
        self.last_used = self.last_used.max(at);
        self.rescore();
    }

    /// Counts an agent's report that it applied the pattern at `now` and the task then succeeded or not.
    pub fn apply(&mut self, success: bool, now: Timestamp, half_life_days: f64) {
        self.uses = self.uses.saturating_add(1);
        self.observe(Some(success), now, now, half_life_days);
    }

    /// Adds everything `other` counted, both aged to the later of their times (and at least `now`).
    pub fn combine(&mut self, other: &Effectiveness, now: Timestamp, half_life_days: f64) {
        let at = now.max(self.decayed_at).max(other.decayed_at);
        let mut other = other.clone();
        other.decay_to(at, half_life_days);
        self.decay_to(at, half_life_days);
        self.uses = self.uses.saturating_add(other.uses);
        self.successes = self.successes.saturating_add(other.successes);
        self.failures = self.failures.saturating_add(other.failures);
        self.weighted_successes += other.weighted_successes;
        self.weighted_failures += other.weighted_failures;
        self.last_used = self.last_used.max(other.last_used);
        self.rescore();
    }

    fn rescore(&mut self) {
        self.score = wilson_lower_bound(
            self.weighted_successes,
            self.weighted_successes + self.weighted_failures,
        );
    }
}
