//! What the pattern learner's façade is asked and what it answers besides patterns.

use crate::{OutcomeKind, Pattern, PatternId, PatternKind, Scope, Timestamp, pattern::Candidate};

/// Which patterns to list: by stored score, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct PatternQuery {
    /// Only this kind.
    pub kind: Option<PatternKind>,
    /// Only patterns seen in at least this many episodes.
    pub min_support: u32,
    /// Rows to skip.
    pub offset: u32,
    /// Rows to return, 1 to [`crate::MAX_LIST_LIMIT`].
    pub limit: u32,
}

impl Default for PatternQuery {
    fn default() -> Self {
        PatternQuery {
            kind: None,
            min_support: 1,
            offset: 0,
            limit: 20,
        }
    }
}

/// An agent's report: it applied these patterns and the task ended this way.
#[derive(Clone, Debug, PartialEq)]
pub struct PatternFeedback {
    /// The patterns applied (1 to 100, no repeats).
    pub patterns: Vec<PatternId>,
    /// How the task ended: success and partial success count for the patterns, failure against; abstaining is
    /// refused (it says nothing about them).
    pub outcome: OutcomeKind,
    /// The scope the patterns must be of (a tenant's report); another scope's pattern is not found.
    pub scope: Option<Scope>,
}

/// What [`super::Patterns::decay`] did.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Decayed {
    /// Patterns stored.
    pub patterns: u32,
    /// Patterns whose stored score was brought to `now`.
    pub updated: u32,
    /// The time the scores are now computed for.
    pub now: Timestamp,
}

/// A pattern read off one episode, and the stored pattern it belongs to.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpisodePattern {
    /// The candidate as extracted from the episode.
    pub candidate: Candidate,
    /// The stored pattern holding it: the one whose evidence names the episode, or else the nearest of its kind
    /// within `eps`.
    pub pattern: Option<Pattern>,
}
