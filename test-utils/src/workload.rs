//! Deterministic generator of realistic coding-agent episodes.

use memory_core::{
    Complexity, Episode, EpisodeId, ExecutionStep, Json, StepResult, TaskContext, TaskOutcome,
    TaskType, Timestamp, reflection, reward,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::json;
use uuid::Uuid;

const DOMAINS: &[&str] = &[
    "payments-service",
    "web-frontend",
    "data-pipeline",
    "cli-tools",
    "auth-service",
];
const STACKS: &[(&str, &str)] = &[
    ("rust", "tokio"),
    ("rust", "axum"),
    ("typescript", "react"),
    ("python", "pytest"),
    ("go", "net/http"),
];
const TASKS: &[(&str, TaskType)] = &[
    (
        "Fix the flaky async test in the settlement module",
        TaskType::Debugging,
    ),
    (
        "Add retry with backoff to the webhook sender",
        TaskType::CodeGeneration,
    ),
    (
        "Split the 900-line handler into smaller modules",
        TaskType::Refactoring,
    ),
    (
        "Write property tests for the currency parser",
        TaskType::Testing,
    ),
    (
        "Explain why p95 latency doubled after the last deploy",
        TaskType::Analysis,
    ),
    (
        "Document the public API of the ledger crate",
        TaskType::Documentation,
    ),
    (
        "Review the pull request that changes session expiry",
        TaskType::Review,
    ),
    (
        "Upgrade the HTTP client and fix the breaking changes",
        TaskType::Other,
    ),
];
const TOOLS: &[(&str, &str)] = &[
    ("read_file", "src/lib.rs"),
    ("grep", "fn settle"),
    ("edit", "src/settle.rs"),
    ("cargo", "test"),
    ("cargo", "clippy"),
    ("git", "diff"),
    ("npm", "test"),
    ("pytest", "-x tests/"),
];
const TAGS: &[&str] = &[
    "flaky-test",
    "async",
    "ci",
    "perf",
    "api",
    "security",
    "db",
    "refactor",
    "v2.1",
];

/// A seeded generator: the same seed and index always give the same episode.
#[derive(Clone, Debug)]
pub struct Workload {
    seed: u64,
    /// Start time of episode 0, in microseconds; episode `i` starts `i` minutes later.
    pub epoch_micros: i64,
}

impl Workload {
    /// A generator with this seed, starting on 2026-01-01.
    pub fn new(seed: u64) -> Self {
        Workload {
            seed,
            epoch_micros: 1_767_225_600_000_000,
        }
    }

    fn rng(&self, index: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index)
    }

    /// The id of episode `index`: time-ordered like the real ones, unique per seed and index.
    pub fn id(&self, index: u64) -> EpisodeId {
        let millis = (self.start(index).as_micros() / 1000) as u64;
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..8].copy_from_slice(&(index as u16).to_be_bytes());
        bytes[8..16].copy_from_slice(&(self.seed ^ index.rotate_left(17)).to_be_bytes());
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        bytes[6] = (bytes[6] & 0x0f) | 0x70;
        EpisodeId(Uuid::from_bytes(bytes))
    }

    fn start(&self, index: u64) -> Timestamp {
        Timestamp::from_micros(self.epoch_micros + index as i64 * 60_000_000)
    }

    /// Episode `index`, in progress, with no steps.
    pub fn new_episode(&self, index: u64) -> Episode {
        let mut rng = self.rng(index);
        let (task, task_type) = *TASKS.choose(&mut rng).expect("non-empty");
        let (language, framework) = *STACKS.choose(&mut rng).expect("non-empty");
        let tag_count = rng.random_range(0..4);
        let tags: Vec<String> = TAGS
            .choose_multiple(&mut rng, tag_count)
            .map(|t| t.to_string())
            .collect();
        let context = TaskContext {
            domain: DOMAINS.choose(&mut rng).expect("non-empty").to_string(),
            language: Some(language.into()),
            framework: Some(framework.into()),
            complexity: *Complexity::ALL.choose(&mut rng).expect("non-empty"),
            tags,
        };
        let mut episode = Episode::new(format!("{task} (#{index})"), task_type, context);
        episode.id = self.id(index);
        episode.start_time = self.start(index);
        episode.metadata = Json::new(
            &json!({ "agent": "workload", "index": index, "ticket": format!("PAY-{}", index % 977) }),
        );
        episode
    }

    /// Step `number` (1-based) of episode `index`.
    pub fn step(&self, index: u64, number: u32) -> ExecutionStep {
        let mut rng = self.rng(index ^ (u64::from(number) << 40));
        let (tool, action) = *TOOLS.choose(&mut rng).expect("non-empty");
        let result = match rng.random_range(0..10) {
            0 | 1 => StepResult::Error {
                message: format!(
                    "{tool} {action}: exit status 101\nthread 'settle::retries' panicked"
                ),
            },
            2 => StepResult::Timeout {
                message: format!("{tool} exceeded 120 s"),
            },
            _ => StepResult::Success {
                output: format!("{tool} {action}: ok ({} lines)", rng.random_range(1..400)),
            },
        };
        let mut step = ExecutionStep::new(tool, action, result);
        step.step_number = number;
        step.timestamp =
            Timestamp::from_micros(self.start(index).as_micros() + i64::from(number) * 2_000_000);
        step.parameters =
            Json::new(&json!({ "path": action, "args": ["--quiet"], "attempt": number }));
        step.latency_ms = rng.random_range(5..5000);
        step.tokens = rng.random_bool(0.8).then(|| rng.random_range(50..4000));
        step
    }

    /// Episode `index` completed after `steps` steps, with its reward and reflection computed as the façade does.
    pub fn completed_episode(&self, index: u64, steps: u32) -> Episode {
        let mut episode = self.new_episode(index);
        episode.steps = (1..=steps).map(|n| self.step(index, n)).collect();
        let mut rng = self.rng(!index);
        let outcome = match rng.random_range(0..10) {
            0..=5 => TaskOutcome::Success {
                verdict: "tests pass".into(),
                artifacts: vec!["src/settle.rs".into()],
            },
            6 | 7 => TaskOutcome::PartialSuccess {
                verdict: "fixed the race, one test still flaky".into(),
                completed: vec!["race fixed".into()],
                failed: vec!["timeout test".into()],
            },
            8 => TaskOutcome::Failure {
                reason: "could not reproduce".into(),
                error_details: Some("ran 200 times without failure".into()),
            },
            _ => TaskOutcome::Abstained {
                reason: "needs production credentials".into(),
            },
        };
        let end = Timestamp::from_micros(
            episode.start_time.as_micros() + i64::from(steps + 1) * 2_000_000,
        );
        episode.reward = Some(reward::compute(&episode, &outcome, end));
        episode.reflection = Some(reflection::reflect(&episode, &outcome, end));
        episode.outcome = Some(outcome);
        episode.end_time = Some(end);
        episode
    }

    /// Memory `index`: a note an agent might keep about the same code, with a few words of a 20,000-word
    /// vocabulary drawn by Zipf-like frequencies (as in natural text); the same seed and index always give the same
    /// text, and no two indexes give the same text.
    pub fn memory_text(&self, index: u64) -> String {
        let mut rng = self.rng(index.rotate_left(29) ^ 0x6d65_6d6f);
        let (task, _) = *TASKS.choose(&mut rng).expect("non-empty");
        let (language, framework) = *STACKS.choose(&mut rng).expect("non-empty");
        let domain = *DOMAINS.choose(&mut rng).expect("non-empty");
        let (tool, action) = *TOOLS.choose(&mut rng).expect("non-empty");
        let words: Vec<String> = (0..8).map(|_| vocabulary_word(&mut rng)).collect();
        format!(
            "{domain} ({language}, {framework}): `{tool} {action}` mattered for \"{task}\"; {} (note {index})",
            words.join(" ")
        )
    }
}

/// A word of a 20,000-word made-up vocabulary; rank r is drawn with weight ~1/r.
fn vocabulary_word(rng: &mut StdRng) -> String {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ser", "tan", "vo", "ri", "den", "pa", "qu", "el", "shu", "ba", "nor",
        "ti", "gra", "fe", "ul", "zo", "ch", "ma", "pre", "is", "ton",
    ];
    let rank = 20_000f64.powf(rng.random::<f64>()) as usize;
    let (mut r, mut word) = (rank, String::new());
    loop {
        word.push_str(SYLLABLES[r % SYLLABLES.len()]);
        r /= SYLLABLES.len();
        if r == 0 {
            break word;
        }
    }
}
