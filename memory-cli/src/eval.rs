//! `memory-cli eval retrieval`: how well memory search finds the evidence of questions, on LoCoMo-format data.
//! (`memory-cli eval` without a subcommand runs a program: `code.rs`.)
//!
//! Every turn of every conversation is stored as a memory (`"{speaker}: {text}"`, dated by its session) in the
//! conversation's own scope; every question of categories 1-4 is asked in that scope; a question's recall@k is
//! the share of its evidence turns among the top k results.

use std::{collections::BTreeMap, path::PathBuf, time::Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use memory_core::{NewRecord, Ranking, RecordId, RecordKind, Records, Scope, Search, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::output::{Format, json};

/// Results retrieved per question.
const TOP_K: u32 = 10;

/// `memory-cli eval [--file F | -]` runs a program in the code sandbox; `memory-cli eval retrieval ...` measures
/// retrieval.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    /// What to evaluate instead of a program.
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// The program to run.
    #[command(flatten)]
    pub code: crate::code::CodeArgs,
}

/// `memory-cli eval ...`
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Recall@1/5/10, MRR, nDCG@10 and latency of search on a LoCoMo-format dataset.
    Retrieval(RetrievalArgs),
}

/// Arguments of `eval retrieval`.
#[derive(Debug, Args)]
pub struct RetrievalArgs {
    /// The dataset: a JSON list of conversations with `conversation` and `qa`, as LoCoMo publishes it.
    #[arg(long, value_name = "FILE")]
    pub dataset: PathBuf,
    /// bm25, vector or hybrid.
    #[arg(long, default_value = "hybrid", value_parser = |s: &str| s.parse::<Ranking>())]
    pub ranking: Ranking,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    sample_id: Option<String>,
    conversation: serde_json::Map<String, Value>,
    qa: Vec<Qa>,
}

#[derive(Deserialize)]
struct Turn {
    speaker: String,
    dia_id: String,
    text: String,
}

#[derive(Deserialize)]
struct Qa {
    question: String,
    #[serde(default)]
    evidence: Vec<String>,
    category: u8,
}

/// A conversation ready to store: its turns with their session dates, and its questions.
pub struct Conversation {
    name: String,
    turns: Vec<(Turn, Option<Timestamp>)>,
    qa: Vec<Qa>,
}

/// Reads and checks a dataset.
pub fn load(path: &PathBuf) -> anyhow::Result<Vec<Conversation>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let samples: Vec<Sample> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a LoCoMo-format dataset", path.display()))?;
    let mut conversations = Vec::new();
    for (i, sample) in samples.into_iter().enumerate() {
        let name = sample
            .sample_id
            .unwrap_or_else(|| format!("conversation-{}", i + 1));
        let mut sessions: Vec<(u32, Vec<Turn>, Option<Timestamp>)> = Vec::new();
        for (key, value) in &sample.conversation {
            let Some(n) = key
                .strip_prefix("session_")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let turns: Vec<Turn> = serde_json::from_value(value.clone())
                .with_context(|| format!("{name}: {key} is not a list of turns"))?;
            let date = sample
                .conversation
                .get(&format!("session_{n}_date_time"))
                .and_then(Value::as_str)
                .and_then(parse_session_date);
            sessions.push((n, turns, date));
        }
        if sessions.is_empty() {
            bail!("{name}: the conversation has no session_N turns");
        }
        sessions.sort_by_key(|(n, _, _)| *n);
        let turns = sessions
            .into_iter()
            .flat_map(|(_, turns, date)| turns.into_iter().map(move |t| (t, date)))
            .collect();
        conversations.push(Conversation {
            name,
            turns,
            qa: sample.qa,
        });
    }
    Ok(conversations)
}

/// LoCoMo writes session dates as `1:56 pm on 8 May, 2023`.
fn parse_session_date(text: &str) -> Option<Timestamp> {
    let text = text.trim().replace(" am ", " AM ").replace(" pm ", " PM ");
    chrono::NaiveDateTime::parse_from_str(&text, "%I:%M %p on %d %B, %Y")
        .ok()
        .map(|dt| Timestamp::from(dt.and_utc()))
}

/// Metrics of one group of questions.
#[derive(Debug, Default, Serialize)]
pub struct Metrics {
    /// Questions asked.
    pub questions: usize,
    /// Mean recall among the top 1, 5 and 10.
    pub recall_at_1: f64,
    /// Mean recall@5.
    pub recall_at_5: f64,
    /// Mean recall@10.
    pub recall_at_10: f64,
    /// Mean reciprocal rank of the first evidence turn (0 when none is in the top 10).
    pub mrr: f64,
    /// Mean nDCG@10 with binary relevance.
    pub ndcg_at_10: f64,
    /// Median search latency, milliseconds.
    pub latency_p50_ms: f64,
    /// 95th-percentile search latency, milliseconds.
    pub latency_p95_ms: f64,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Conversations loaded.
    pub conversations: usize,
    /// Turns stored as memories.
    pub turns: usize,
    /// Metrics per LoCoMo category (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop).
    pub by_category: BTreeMap<u8, Metrics>,
    /// Metrics over every question.
    pub overall: Metrics,
    /// How results were ranked.
    pub ranking: String,
}

/// Scores of one question.
struct Scored {
    category: u8,
    recall: [f64; 3],
    reciprocal_rank: f64,
    ndcg: f64,
    latency_ms: f64,
}

/// Stores every turn, asks every question of categories 1-4, and measures.
pub async fn run(
    records: &Records,
    conversations: Vec<Conversation>,
    ranking: Ranking,
) -> anyhow::Result<Report> {
    let total_turns: usize = conversations.iter().map(|c| c.turns.len()).sum();
    let questions: usize = conversations
        .iter()
        .flat_map(|c| &c.qa)
        .filter(|q| asked(q))
        .count();
    let bar = indicatif::ProgressBar::new((total_turns + questions) as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg:12} {bar:40} {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut scored = Vec::new();
    for (i, conversation) in conversations.iter().enumerate() {
        let scope = Scope::new(format!("eval:{}:{}", i + 1, slug(&conversation.name)))?;
        bar.set_message("storing");
        let turns = &conversation.turns;
        let new: Vec<NewRecord> = turns
            .iter()
            .enumerate()
            .map(|(i, (turn, date))| {
                let mut new = NewRecord::new(
                    scope.clone(),
                    RecordKind::Conversation,
                    format!("{}: {}", turn.speaker, turn.text),
                );
                new.source = Some(turn.dia_id.clone());
                new.created_at = *date;
                new.context = Some(neighbours(turns, i));
                new
            })
            .collect();
        let stored = records
            .store_many(new)
            .await
            .with_context(|| format!("storing {}", conversation.name))?;
        let ids: BTreeMap<&str, RecordId> = turns
            .iter()
            .zip(&stored)
            .map(|((turn, _), stored)| (turn.dia_id.as_str(), stored.id))
            .collect();
        bar.inc(turns.len() as u64);
        bar.set_message("searching");
        for qa in conversation.qa.iter().filter(|q| asked(q)) {
            let relevant: Vec<RecordId> = qa
                .evidence
                .iter()
                .filter_map(|d| ids.get(d.as_str()).copied())
                .collect();
            let search = Search {
                limit: TOP_K,
                ranking,
                ..Search::new(scope.clone(), qa.question.clone())
            };
            let started = Instant::now();
            let hits = records.search(&search).await?;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            let ranked: Vec<RecordId> = hits.iter().map(|h| h.record.id).collect();
            scored.push(score(qa.category, &ranked, &relevant, latency_ms));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let mut by_category = BTreeMap::new();
    for category in 1..=4 {
        let group: Vec<&Scored> = scored.iter().filter(|s| s.category == category).collect();
        if !group.is_empty() {
            by_category.insert(category, metrics(&group));
        }
    }
    Ok(Report {
        conversations: conversations.len(),
        turns: total_turns,
        by_category,
        overall: metrics(&scored.iter().collect::<Vec<_>>()),
        ranking: match ranking {
            Ranking::Bm25 => "bm25".to_string(),
            _ => format!("{} with {}", ranking.as_str(), records.embedder().id()),
        },
    })
}

/// The context a turn is stored with: the turns just before and after it in its session, which say what a
/// short reply ("yes, in March!") is about.
fn neighbours(turns: &[(Turn, Option<Timestamp>)], i: usize) -> String {
    let session = |j: usize| turns[j].0.dia_id.split(':').next();
    let around = [i.checked_sub(1), Some(i + 1)];
    around
        .into_iter()
        .flatten()
        .filter(|&j| j < turns.len() && session(j) == session(i))
        .map(|j| format!("{}: {}", turns[j].0.speaker, turns[j].0.text))
        .collect::<Vec<_>>()
        .join("\n")
}

fn asked(qa: &Qa) -> bool {
    (1..=4).contains(&qa.category) && !qa.evidence.is_empty()
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect()
}

fn score(category: u8, ranked: &[RecordId], relevant: &[RecordId], latency_ms: f64) -> Scored {
    let found_in = |k: usize| {
        let hits = relevant
            .iter()
            .filter(|r| ranked.iter().take(k).any(|x| x == *r))
            .count();
        if relevant.is_empty() {
            0.0
        } else {
            hits as f64 / relevant.len() as f64
        }
    };
    let first = ranked.iter().position(|id| relevant.contains(id));
    let dcg: f64 = ranked
        .iter()
        .enumerate()
        .filter(|(_, id)| relevant.contains(id))
        .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(TOP_K as usize))
        .map(|i| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    Scored {
        category,
        recall: [found_in(1), found_in(5), found_in(10)],
        reciprocal_rank: first.map_or(0.0, |i| 1.0 / (i as f64 + 1.0)),
        ndcg: if ideal > 0.0 { dcg / ideal } else { 0.0 },
        latency_ms,
    }
}

fn metrics(group: &[&Scored]) -> Metrics {
    let n = group.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Scored) -> f64| group.iter().map(|s| f(s)).sum::<f64>() / n;
    let mut latencies: Vec<f64> = group.iter().map(|s| s.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            latencies[((latencies.len() - 1) as f64 * p).round() as usize]
        }
    };
    Metrics {
        questions: group.len(),
        recall_at_1: mean(&|s| s.recall[0]),
        recall_at_5: mean(&|s| s.recall[1]),
        recall_at_10: mean(&|s| s.recall[2]),
        mrr: mean(&|s| s.reciprocal_rank),
        ndcg_at_10: mean(&|s| s.ndcg),
        latency_p50_ms: percentile(0.5),
        latency_p95_ms: percentile(0.95),
    }
}

/// Renders the report as a table (human) or JSON.
pub fn render(report: &Report, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(report);
    }
    let names = [
        (1, "multi-hop"),
        (2, "temporal"),
        (3, "open-domain"),
        (4, "single-hop"),
    ];
    let mut out = format!(
        "{} conversations, {} turns stored; ranking: {}\n\n{:<14}{:>9}{:>10}{:>10}{:>11}{:>8}{:>9}{:>9}{:>9}\n",
        report.conversations,
        report.turns,
        report.ranking,
        "category",
        "questions",
        "recall@1",
        "recall@5",
        "recall@10",
        "MRR",
        "nDCG@10",
        "p50 ms",
        "p95 ms"
    );
    let rows = names
        .iter()
        .filter_map(|(n, name)| {
            report
                .by_category
                .get(n)
                .map(|m| (format!("{n} {name}"), m))
        })
        .chain([("overall".to_string(), &report.overall)]);
    for (label, m) in rows {
        out.push_str(&format!(
            "{label:<14}{:>9}{:>10.3}{:>10.3}{:>11.3}{:>8.3}{:>9.3}{:>9.2}{:>9.2}\n",
            m.questions,
            m.recall_at_1,
            m.recall_at_5,
            m.recall_at_10,
            m.mrr,
            m.ndcg_at_10,
            m.latency_p50_ms,
            m.latency_p95_ms
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_their_definitions() {
        let [a, b, c] = [RecordId::new(), RecordId::new(), RecordId::new()];
        let s = score(1, &[a, b, c], &[b], 2.0);
        assert_eq!(s.recall, [0.0, 1.0, 1.0]);
        assert_eq!(s.reciprocal_rank, 0.5);
        assert!((s.ndcg - 1.0 / 3f64.log2()).abs() < 1e-12);
        let missed = score(1, &[a], &[b, c], 1.0);
        assert_eq!(
            (missed.recall, missed.reciprocal_rank, missed.ndcg),
            ([0.0; 3], 0.0, 0.0)
        );
        let half = score(1, &[b, a], &[b, c], 1.0);
        assert_eq!(half.recall, [0.5, 0.5, 0.5]);
    }

    #[test]
    fn locomo_session_dates_parse() {
        let t = parse_session_date("1:56 pm on 8 May, 2023").expect("parses");
        assert_eq!(t.to_string(), "2023-05-08T13:56:00.000000Z");
        assert!(parse_session_date("sometime in May").is_none());
    }
}
