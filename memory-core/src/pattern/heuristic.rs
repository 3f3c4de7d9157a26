//! Heuristics: a recurring pattern read as a rule, "when this, do that", with how far its evidence supports it.
//!
//! They are derived from the stored patterns when asked for, never stored, so they are always as current as the
//! patterns. A pattern gives a heuristic once it recurred (support ≥ `min_points`); its confidence is the lower
//! bound of the 95% Wilson interval of its successes over its outcomes (evidence episodes and reported
//! applications, undecayed), so seven episodes of which six went well give 0.49 and one success alone 0.21.

use serde::Serialize;

use super::{Pattern, PatternId, PatternKind, wilson_lower_bound};
use crate::{EpisodeId, Error, MAX_LIST_LIMIT, Result};

/// A rule learnt from a recurring pattern.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Heuristic {
    /// The pattern it reads.
    pub pattern: PatternId,
    /// The pattern's kind.
    pub kind: PatternKind,
    /// When it applies.
    pub condition: String,
    /// What to do.
    pub action: String,
    /// The rule in one sentence ([`Pattern::lesson`]).
    pub rule: String,
    /// The Wilson lower bound (95%) of `successes / (successes + failures)`.
    pub confidence: f64,
    /// Outcomes that went well.
    pub successes: u32,
    /// Outcomes that did not.
    pub failures: u32,
    /// The episodes behind it (the newest, at most 50).
    pub evidence: Vec<EpisodeId>,
}

impl Heuristic {
    /// The heuristic of `pattern`, if it recurred (was seen in at least `min_support` episodes).
    pub fn of(pattern: &Pattern, min_support: u32) -> Option<Heuristic> {
        if pattern.support < min_support {
            return None;
        }
        let e = &pattern.effectiveness;
        Some(Heuristic {
            pattern: pattern.id,
            kind: pattern.kind,
            condition: pattern.condition.clone(),
            action: pattern.action.clone(),
            rule: pattern.lesson(),
            confidence: wilson_lower_bound(
                f64::from(e.successes),
                f64::from(e.successes) + f64::from(e.failures),
            ),
            successes: e.successes,
            failures: e.failures,
            evidence: pattern.evidence.iter().rev().map(|ev| ev.episode).collect(),
        })
    }
}

/// Which heuristics to list: most confident first.
#[derive(Clone, Debug, PartialEq)]
pub struct HeuristicQuery {
    /// Only those of this kind of pattern.
    pub kind: Option<PatternKind>,
    /// Only those at least this confident (0 to 1).
    pub min_confidence: f64,
    /// How many, 1 to [`MAX_LIST_LIMIT`].
    pub limit: u32,
}

impl Default for HeuristicQuery {
    fn default() -> Self {
        HeuristicQuery {
            kind: None,
            min_confidence: 0.0,
            limit: 20,
        }
    }
}

impl HeuristicQuery {
    /// Checks the limit and the confidence.
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_LIST_LIMIT {
            return Err(Error::validation(
                "limit",
                format!("must be 1 to {MAX_LIST_LIMIT}, got {}", self.limit),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(Error::validation(
                "min_confidence",
                format!("must be from 0 to 1, got {}", self.min_confidence),
            ));
        }
        Ok(())
    }
}

/// The heuristics of `patterns` that `query` asks for, most confident first (then the better supported).
pub(crate) fn select<'a>(
    patterns: impl Iterator<Item = &'a Pattern>,
    query: &HeuristicQuery,
    min_support: u32,
) -> Vec<Heuristic> {
    let mut out: Vec<(u32, Heuristic)> = patterns
        .filter(|p| query.kind.is_none_or(|k| p.kind == k))
        .filter_map(|p| Heuristic::of(p, min_support).map(|h| (p.support, h)))
        .filter(|(_, h)| h.confidence >= query.min_confidence)
        .collect();
    out.sort_by(|(sa, a), (sb, b)| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(sb.cmp(sa))
            .then(a.pattern.cmp(&b.pattern))
    });
    out.truncate(query.limit as usize);
    out.into_iter().map(|(_, h)| h).collect()
}
