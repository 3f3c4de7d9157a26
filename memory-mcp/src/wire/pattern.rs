//! Arguments and results of the pattern tools (`analyze_patterns`, `search_patterns`, `recommend_patterns`,
//! `record_pattern_feedback`), and patterns as `query_memory` returns them.

use memory_core::{
    EpisodePattern, Error, Heuristic, Pattern, PatternFeedback, QueryContext, Recommend,
    Recommendation,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{OutcomeKind, QueryContextArg, TaskType, mirror, time};

mirror! {
    /// What a pattern describes.
    PatternKind = memory_core::PatternKind {
        /// The order of the tools that worked.
        ToolSequence,
        /// What was done next after a step failed, whether or not it worked.
        DecisionPoint,
        /// A failed step and the steps that fixed it.
        ErrorRecovery,
        /// A task's context with the approach taken: which contexts go with success.
        ContextPattern,
        /// What made the difference: the changes made before the last check, and that check.
        Strategy,
    }
}

/// The contexts a pattern was seen in.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PatternContextOut {
    /// Kinds of work.
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

/// An episode a pattern was seen in.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EvidenceOut {
    /// The episode (get_episode reads it).
    pub episode_id: String,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// When it ended.
    pub at: String,
}

/// A pattern learnt from past episodes.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PatternOut {
    /// Its id (record_pattern_feedback takes it).
    pub pattern_id: String,
    /// What it describes.
    pub kind: PatternKind,
    /// One readable sentence.
    pub description: String,
    /// When it applies.
    pub condition: String,
    /// What to do.
    pub action: String,
    /// The pattern as a rule to act on, with its outcome counts: "When …, … (18 of 18 went well)" or
    /// "Avoid: …, when … (0 of 6 went well)".
    pub lesson: String,
    /// The contexts it was seen in.
    pub context: PatternContextOut,
    /// Tasks of the episodes it was seen in (a few).
    pub tasks: Vec<String>,
    /// How many episodes it was seen in.
    pub support: u32,
    /// How many times agents reported applying it.
    pub uses: u32,
    /// Outcomes that went well (episodes and applications).
    pub successes: u32,
    /// Outcomes that did not.
    pub failures: u32,
    /// Its stored score, 0 to 1: the Wilson lower bound of its age-weighted success share.
    pub effectiveness: f64,
    /// The time that score is computed for.
    pub scored_at: String,
    /// When it was last seen or applied.
    pub last_used: String,
    /// The newest episodes it was seen in (at most 50), newest first.
    pub evidence: Vec<EvidenceOut>,
}

impl From<&Pattern> for PatternOut {
    fn from(p: &Pattern) -> Self {
        let e = &p.effectiveness;
        let c = &p.context;
        PatternOut {
            pattern_id: p.id.to_string(),
            kind: p.kind.into(),
            description: p.description.clone(),
            condition: p.condition.clone(),
            action: p.action.clone(),
            lesson: p.lesson(),
            context: PatternContextOut {
                task_types: c.task_types.iter().map(|t| (*t).into()).collect(),
                domains: c.domains.clone(),
                languages: c.languages.clone(),
                frameworks: c.frameworks.clone(),
                tags: c.tags.clone(),
            },
            tasks: p.tasks.clone(),
            support: p.support,
            uses: e.uses,
            successes: e.successes,
            failures: e.failures,
            effectiveness: e.score,
            scored_at: time(e.decayed_at),
            last_used: time(e.last_used),
            evidence: p
                .evidence
                .iter()
                .rev()
                .map(|ev| EvidenceOut {
                    episode_id: ev.episode.to_string(),
                    outcome: ev.outcome.into(),
                    at: time(ev.at),
                })
                .collect(),
        }
    }
}

/// A recurring pattern read as a rule.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HeuristicOut {
    /// When it applies.
    pub condition: String,
    /// What to do.
    pub action: String,
    /// The rule in one sentence, with its outcome counts.
    pub rule: String,
    /// The Wilson lower bound (95%) of its success share, 0 to 1.
    pub confidence: f64,
    /// Outcomes that went well.
    pub successes: u32,
    /// Outcomes that did not.
    pub failures: u32,
}

impl From<&Heuristic> for HeuristicOut {
    fn from(h: &Heuristic) -> Self {
        HeuristicOut {
            condition: h.condition.clone(),
            action: h.action.clone(),
            rule: h.rule.clone(),
            confidence: h.confidence,
            successes: h.successes,
            failures: h.failures,
        }
    }
}

/// Arguments of `analyze_patterns`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzePatterns {
    /// A completed episode.
    pub episode_id: String,
}

/// One pattern of an episode.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodePatternOut {
    /// What it describes.
    pub kind: PatternKind,
    /// One readable sentence, as read off this episode.
    pub description: String,
    /// When it applies.
    pub condition: String,
    /// What was done.
    pub action: String,
    /// The stored pattern it belongs to, with the other episodes it was seen in; absent until the episode's
    /// patterns are extracted (shortly after completion) when nothing similar was seen before.
    pub pattern: Option<PatternOut>,
}

impl From<&EpisodePattern> for EpisodePatternOut {
    fn from(p: &EpisodePattern) -> Self {
        let c = &p.candidate;
        EpisodePatternOut {
            kind: c.kind.into(),
            description: c.description.clone(),
            condition: c.condition.clone(),
            action: c.action.clone(),
            pattern: p.pattern.as_ref().map(PatternOut::from),
        }
    }
}

/// Result of `analyze_patterns`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EpisodePatterns {
    /// The episode.
    pub episode_id: String,
    /// Its patterns.
    pub patterns: Vec<EpisodePatternOut>,
}

/// Arguments of `search_patterns`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchPatterns {
    /// What to look for, in plain words, e.g. "test times out".
    pub query: String,
    /// Only patterns of this kind.
    pub kind: Option<PatternKind>,
    /// Most results, 1 to 100 [default: 10].
    #[serde(default = "super::default_search_limit")]
    pub limit: u32,
}

/// Arguments of `recommend_patterns`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendPatterns {
    /// The task, in plain words, e.g. "fix the flaky async test in the settlement module".
    pub task: String,
    /// Where the task happens: patterns seen in the same domain, language, framework or tags rank higher.
    pub context: Option<QueryContextArg>,
    /// The kind of work.
    pub task_type: Option<TaskType>,
    /// Only patterns of this kind.
    pub kind: Option<PatternKind>,
    /// Most results, 1 to 100 [default: 5].
    #[serde(default = "five")]
    pub limit: u32,
}

fn five() -> u32 {
    5
}

impl RecommendPatterns {
    /// The request this describes.
    pub fn request(&self) -> Recommend {
        let context = self
            .context
            .as_ref()
            .map_or_else(QueryContext::default, |c| QueryContext {
                domain: c.domain.clone(),
                language: c.language.clone(),
                framework: c.framework.clone(),
                tags: c.tags.clone(),
            });
        Recommend {
            task: self.task.clone(),
            context,
            task_type: self.task_type.map(Into::into),
            kind: self.kind.map(Into::into),
            limit: self.limit,
            scope: None,
        }
    }
}

/// Why a pattern ranked where it did; each component is 0 to 1.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PatternScoreOut {
    /// What the results are ordered by.
    pub total: f64,
    /// How well its text and meaning fit.
    pub relevance: f64,
    /// The share of the task's context it was seen in (recommend_patterns).
    pub context: f64,
    /// Its effectiveness as of now.
    pub effectiveness: f64,
    /// How recently it was seen or applied.
    pub recency: f64,
}

/// A ranked pattern.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RankedPattern {
    /// The pattern.
    pub pattern: PatternOut,
    /// Its rule, when it recurred (was seen in two episodes or more).
    pub heuristic: Option<HeuristicOut>,
    /// Its score components.
    pub score: PatternScoreOut,
    /// The ranking in one sentence.
    pub why: String,
}

impl From<&Recommendation> for RankedPattern {
    fn from(r: &Recommendation) -> Self {
        let s = &r.score;
        RankedPattern {
            pattern: (&r.pattern).into(),
            heuristic: r.heuristic.as_ref().map(HeuristicOut::from),
            score: PatternScoreOut {
                total: s.total,
                relevance: s.relevance,
                context: s.context,
                effectiveness: s.effectiveness,
                recency: s.recency,
            },
            why: r.why.clone(),
        }
    }
}

/// Result of `search_patterns` and `recommend_patterns`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PatternResults {
    /// Best first.
    pub results: Vec<RankedPattern>,
}

/// Arguments of `record_pattern_feedback`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatternFeedback {
    /// The patterns you applied (ids from recommend_patterns or search_patterns), 1 to 100.
    pub pattern_ids: Vec<String>,
    /// How the task went after applying them: success and partial_success count for them, failure against.
    pub outcome: OutcomeKind,
}

impl RecordPatternFeedback {
    /// The feedback this describes; an id that is not one is reported by its position.
    pub fn feedback(&self) -> Result<PatternFeedback, Error> {
        let patterns = self
            .pattern_ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                id.parse().map_err(|e: Error| {
                    Error::validation(format!("pattern_ids[{i}]"), e.to_string())
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(PatternFeedback {
            patterns,
            outcome: self.outcome.into(),
            scope: None,
        })
    }
}

/// Result of `record_pattern_feedback`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FeedbackRecorded {
    /// The patterns as they are now.
    pub patterns: Vec<PatternOut>,
}
