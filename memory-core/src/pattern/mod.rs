//! Patterns learnt from completed episodes: what they are ([`Pattern`], [`PatternKind`]), how they are read off
//! one episode ([`extract`]), how well they work ([`Effectiveness`]) and where they are kept ([`PatternStore`]).
//!
//! A pattern is a condition and an action ("when `cargo test` times out" → "edit, then `cargo test`") with the
//! episodes it was seen in. Extraction turns each completed episode into candidates; clustering merges the
//! candidates of different episodes that say the same thing, so a recurring strategy becomes one pattern whose
//! evidence is every episode that used it.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    EpisodeId, Error, OutcomeKind, Result, Scope, TaskType, Timestamp, episode::parse_by_name,
};

pub mod cluster;
mod effect;
mod extract;
pub(crate) mod heuristic;
pub(crate) mod index;
pub(crate) mod learn;
mod lesson;
mod range;
pub(crate) mod recommend;
mod store;
mod worker;

pub use effect::{DEFAULT_HALF_LIFE_DAYS, Effectiveness, wilson_lower_bound};
pub use extract::{Candidate, extract, step_label};
pub use heuristic::{Heuristic, HeuristicQuery};
pub use learn::Extracted;
pub use recommend::{Recommend, Recommendation, RecommendationScore};
pub use store::{ModelVectors, PatternChange, PatternJob, PatternStore, PatternWrite};
pub use worker::{PatternQueue, PatternWorker};

/// Version of the persisted layout of [`Pattern`]; stores keep it beside every pattern and refuse others.
pub const PATTERN_VERSION: u8 = 1;

/// Most evidence entries a pattern keeps (the newest); [`Pattern::support`] counts them all.
pub const MAX_EVIDENCE: usize = 50;

/// Most distinct values a pattern keeps per context feature.
const MAX_CONTEXT_VALUES: usize = 16;

/// Most task descriptions a pattern keeps (the first seen).
pub const MAX_TASKS: usize = 5;

/// Identifies a pattern. UUID v7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PatternId(pub Uuid);

impl PatternId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        PatternId(Uuid::now_v7())
    }
}

impl Default for PatternId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for PatternId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for PatternId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s.trim())
            .map(PatternId)
            .map_err(|_| Error::InvalidId {
                kind: "pattern",
                input: s.to_string(),
            })
    }
}

/// What a pattern describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// The order of the tools that worked, e.g. `cargo test → edit → cargo test`.
    ToolSequence,
    /// What the agent chose to do next after a step failed, whether or not it worked.
    DecisionPoint,
    /// A failed step and the steps that fixed it, ending with the failed tool succeeding.
    ErrorRecovery,
    /// The task's context (type, domain, language, framework, tags) with the approach taken: which contexts go
    /// with success.
    ContextPattern,
    /// What made the difference: the changes made before the last check (test, build, lint) and that check,
    /// normalised, e.g. "add `tokio::time::pause()` to the test, then run `cargo test`".
    Strategy,
}

impl PatternKind {
    /// Every kind, in declaration order.
    pub const ALL: [PatternKind; 5] = [
        PatternKind::ToolSequence,
        PatternKind::DecisionPoint,
        PatternKind::ErrorRecovery,
        PatternKind::ContextPattern,
        PatternKind::Strategy,
    ];

    /// The snake_case name used in JSON, SQL and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::ToolSequence => "tool_sequence",
            PatternKind::DecisionPoint => "decision_point",
            PatternKind::ErrorRecovery => "error_recovery",
            PatternKind::ContextPattern => "context_pattern",
            PatternKind::Strategy => "strategy",
        }
    }
}

parse_by_name!(PatternKind, "kind");

/// The contexts a pattern was seen in: the distinct values of each feature over its evidence, first seen first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PatternContext {
    /// Task types.
    pub task_types: Vec<TaskType>,
    /// Domains.
    pub domains: Vec<String>,
    /// Languages.
    pub languages: Vec<String>,
    /// Frameworks.
    pub frameworks: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
}

impl PatternContext {
    /// Adds the values of `other` that are not here yet (at most 16 per feature).
    pub fn absorb(&mut self, other: &PatternContext) {
        fn union<T: Clone + PartialEq>(into: &mut Vec<T>, from: &[T]) {
            for value in from {
                if into.len() < MAX_CONTEXT_VALUES && !into.contains(value) {
                    into.push(value.clone());
                }
            }
        }
        union(&mut self.task_types, &other.task_types);
        union(&mut self.domains, &other.domains);
        union(&mut self.languages, &other.languages);
        union(&mut self.frameworks, &other.frameworks);
        union(&mut self.tags, &other.tags);
    }
}

/// One episode a pattern was seen in, and how that episode ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The episode.
    pub episode: EpisodeId,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// When it ended.
    pub at: Timestamp,
}

/// Whether an outcome counts for a pattern (`Some(true)`), against it (`Some(false)`) or neither (abstaining
/// says nothing about the approach).
pub fn outcome_counts(outcome: OutcomeKind) -> Option<bool> {
    match outcome {
        OutcomeKind::Success | OutcomeKind::PartialSuccess => Some(true),
        OutcomeKind::Failure => Some(false),
        OutcomeKind::Abstained => None,
    }
}

/// A recurring way of working, learnt from episodes: a condition, an action, the contexts and episodes it was
/// seen in, and how well it works.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    /// Its id.
    pub id: PatternId,
    /// What it describes.
    pub kind: PatternKind,
    /// One readable sentence.
    pub description: String,
    /// When it applies, e.g. "`cargo test` fails: thread panicked".
    pub condition: String,
    /// What to do, e.g. "edit, then `cargo test`".
    pub action: String,
    /// Its structure as tokens (`fail:cargo test`, `fix:edit`, …): what clustering compares besides the text.
    pub signature: Vec<String>,
    /// The contexts it was seen in.
    pub context: PatternContext,
    /// The tasks of its first episodes (at most [`MAX_TASKS`], distinct): what searches for a task match.
    pub tasks: Vec<String>,
    /// The newest episodes it was seen in (at most [`MAX_EVIDENCE`]).
    pub evidence: Vec<Evidence>,
    /// How many episodes it was seen in.
    pub support: u32,
    /// Uses, successes, failures and the decayed score.
    pub effectiveness: Effectiveness,
    /// When it was first learnt.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The scope of the episodes it was learnt from (see [`crate::Episode::scope`]): patterns of different
    /// scopes are never merged, and a confined caller sees only its scope's.
    #[serde(default)]
    pub scope: Option<Scope>,
}

impl Pattern {
    /// A pattern of one episode: the candidate as it was extracted, seen once, scored as of `now`.
    pub fn from_candidate(candidate: Candidate, now: Timestamp, half_life_days: f64) -> Pattern {
        let mut effectiveness = Effectiveness::new(now);
        effectiveness.observe(
            outcome_counts(candidate.evidence.outcome),
            candidate.evidence.at,
            now,
            half_life_days,
        );
        Pattern {
            id: PatternId::new(),
            kind: candidate.kind,
            description: candidate.description,
            condition: candidate.condition,
            action: candidate.action,
            signature: candidate.signature,
            context: candidate.context,
            tasks: vec![candidate.task],
            evidence: vec![candidate.evidence],
            support: 1,
            effectiveness,
            created_at: now,
            updated_at: now,
            scope: candidate.scope,
        }
    }

    /// Adds the episode of `candidate` (of the same pattern) to the evidence. An episode already among the
    /// evidence is not counted twice.
    pub fn add_evidence(&mut self, candidate: &Candidate, now: Timestamp, half_life_days: f64) {
        let evidence = candidate.evidence;
        if self.evidence.iter().any(|e| e.episode == evidence.episode) {
            return;
        }
        self.effectiveness.observe(
            outcome_counts(evidence.outcome),
            evidence.at,
            now,
            half_life_days,
        );
        self.context.absorb(&candidate.context);
        self.add_tasks(std::slice::from_ref(&candidate.task));
        self.push_evidence(evidence);
        self.support = self.support.saturating_add(1);
        self.updated_at = now.max(self.updated_at);
        self.refresh_condition();
    }

    /// Takes in everything `other` holds (its evidence, counts, uses and contexts): `other` said the same thing.
    pub fn absorb(&mut self, other: &Pattern, now: Timestamp, half_life_days: f64) {
        self.context.absorb(&other.context);
        self.add_tasks(&other.tasks);
        for evidence in &other.evidence {
            if !self.evidence.iter().any(|e| e.episode == evidence.episode) {
                self.push_evidence(*evidence);
            }
        }
        self.support = self.support.saturating_add(other.support);
        self.effectiveness
            .combine(&other.effectiveness, now, half_life_days);
        self.created_at = self.created_at.min(other.created_at);
        self.updated_at = now.max(self.updated_at);
        self.refresh_condition();
    }

    /// A tool sequence applies to the task types it was seen in; its condition names them all.
    fn refresh_condition(&mut self) {
        if self.kind == PatternKind::ToolSequence {
            let types: Vec<&str> = self.context.task_types.iter().map(|t| t.as_str()).collect();
            self.condition = format!("{} task", types.join(" or "));
        }
    }

    fn add_tasks(&mut self, tasks: &[String]) {
        for task in tasks {
            if self.tasks.len() < MAX_TASKS && !self.tasks.contains(task) {
                self.tasks.push(task.clone());
            }
        }
    }

    fn push_evidence(&mut self, evidence: Evidence) {
        let at = self.evidence.partition_point(|e| e.at <= evidence.at);
        self.evidence.insert(at, evidence);
        if self.evidence.len() > MAX_EVIDENCE {
            self.evidence.remove(0);
        }
    }

    /// The pattern as a rule to act on: "When <condition>, <action> (18 of 18 went well)", or, when more of its
    /// outcomes went badly than well, "Avoid: <action>, when <condition> (0 of 6 went well)".
    pub fn lesson(&self) -> String {
        let e = &self.effectiveness;
        let outcomes = e.successes + e.failures;
        let counts = if outcomes == 0 {
            "no outcome yet".to_string()
        } else {
            format!("{} of {outcomes} went well", e.successes)
        };
        // A tool sequence's or a context pattern's condition is a kind of task ("debugging task in payments").
        let when = match self.kind {
            PatternKind::ToolSequence | PatternKind::ContextPattern => {
                format!(
                    "in {} {}",
                    extract::article(&self.condition),
                    self.condition
                )
            }
            _ => format!("when {}", self.condition),
        };
        if e.failures > e.successes {
            format!("Avoid: {}, {when} ({counts})", self.action)
        } else {
            let mut when = when;
            when[..1].make_ascii_uppercase();
            format!("{when}, {} ({counts})", self.action)
        }
    }

    /// The key its vector is stored under: the SHA-256 of its description, which its embedding is made from.
    pub fn embedding_key(&self) -> String {
        crate::content_hash(&self.description)
    }
}

#[cfg(test)]
mod tests;
