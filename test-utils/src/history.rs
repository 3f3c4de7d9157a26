//! A synthetic history of completed episodes with planted strategies, for the pattern learner's tests and
//! benches: known tool sequences, known error → fix pairs and known context → success links, mixed with the
//! [`Workload`]'s random episodes as noise. Seeded: the same seed gives the same history.

use memory_core::{
    Complexity, Episode, ExecutionStep, StepResult, TaskContext, TaskOutcome, TaskType, Timestamp,
    reflection, reward,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use crate::Workload;

/// A strategy planted in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Rust/tokio flaky async tests: the test times out, the agent pauses tokio's clock, the test passes. Goes
    /// well 9 times in 10.
    FlakyAsyncTest,
    /// Rust/axum handlers: `cargo build` fails with a mismatched type, the agent edits, the build passes. Goes
    /// well 9 times in 10.
    TypeMismatch,
    /// Python/pytest: a missing fixture, fixed in conftest.py. Goes well 9 times in 10.
    MissingFixture,
    /// A context → success link: slow Go endpoints profiled, then fixed; goes well 9 times in 10 in Go.
    GoProfiling,
    /// The same approach in the Python data pipeline: goes well 1 time in 5.
    PipelineProfiling,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Strategy; 5] = [
        Strategy::FlakyAsyncTest,
        Strategy::TypeMismatch,
        Strategy::MissingFixture,
        Strategy::GoProfiling,
        Strategy::PipelineProfiling,
    ];

    /// The task an agent with this strategy's problem would describe.
    pub fn task(self) -> &'static str {
        match self {
            Strategy::FlakyAsyncTest => {
                "Fix the flaky async test that times out in the settlement module"
            }
            Strategy::TypeMismatch => "Add a currency field to the invoice handler response",
            Strategy::MissingFixture => {
                "Make the repository tests pass with the shared database fixture"
            }
            Strategy::GoProfiling => "Find out why the orders endpoint got slow and fix it",
            Strategy::PipelineProfiling => {
                "Find out why the nightly ingest job got slow and fix it"
            }
        }
    }

    /// The context of its tasks.
    pub fn context(self) -> (TaskType, TaskContext) {
        let ctx = |domain: &str, language: &str, framework: &str, tags: &[&str]| TaskContext {
            domain: domain.into(),
            language: Some(language.into()),
            framework: Some(framework.into()),
            complexity: Complexity::Moderate,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        match self {
            Strategy::FlakyAsyncTest => (
                TaskType::Debugging,
                ctx(
                    "payments-service",
                    "rust",
                    "tokio",
                    &["flaky-test", "async"],
                ),
            ),
            Strategy::TypeMismatch => (
                TaskType::CodeGeneration,
                ctx("billing-api", "rust", "axum", &["api"]),
            ),
            Strategy::MissingFixture => (
                TaskType::Testing,
                ctx("accounts-service", "python", "pytest", &["db"]),
            ),
            Strategy::GoProfiling => (
                TaskType::Analysis,
                ctx("orders-service", "go", "net/http", &["perf"]),
            ),
            Strategy::PipelineProfiling => (
                TaskType::Analysis,
                ctx("data-pipeline", "python", "airflow", &["perf"]),
            ),
        }
    }

    /// How often, out of 10, its episodes go well.
    pub fn successes_in_ten(self) -> u32 {
        match self {
            Strategy::PipelineProfiling => 2,
            _ => 9,
        }
    }
}

/// One episode of the history and the strategy planted in it, if any.
#[derive(Clone, Debug)]
pub struct HistoryEpisode {
    /// The completed episode.
    pub episode: Episode,
    /// The planted strategy, `None` for noise.
    pub strategy: Option<Strategy>,
}

/// A seeded generator of histories.
#[derive(Clone, Debug)]
pub struct History {
    seed: u64,
    noise: Workload,
}

const MODULES: &[&str] = &["settle", "refund", "payout", "ledger", "fees", "chargeback"];

impl History {
    /// A generator with this seed, starting on 2026-01-01.
    pub fn new(seed: u64) -> Self {
        History {
            seed,
            noise: Workload::new(seed ^ 0x5eed),
        }
    }

    /// The same history starting at `start` (the first episode starts then, the others a minute apart).
    pub fn starting_at(mut self, start: Timestamp) -> Self {
        self.noise.epoch_micros = start.as_micros();
        self
    }

    /// `per_strategy` episodes of each strategy and `noise` random episodes, interleaved, one minute apart.
    pub fn episodes(&self, per_strategy: usize, noise: usize) -> Vec<HistoryEpisode> {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut plan: Vec<Option<Strategy>> = Strategy::ALL
            .iter()
            .flat_map(|&s| std::iter::repeat_n(Some(s), per_strategy))
            .chain(std::iter::repeat_n(None, noise))
            .collect();
        // A seeded shuffle (Fisher-Yates), so strategies are spread over the history.
        for i in (1..plan.len()).rev() {
            plan.swap(i, rng.random_range(0..=i));
        }
        plan.into_iter()
            .enumerate()
            .map(|(i, strategy)| {
                let mut episode = match strategy {
                    Some(s) => self.planted(s, &mut rng),
                    None => self
                        .noise
                        .completed_episode(i as u64, rng.random_range(2..8)),
                };
                episode.id = self.noise.id(i as u64);
                retime(
                    &mut episode,
                    self.noise.epoch_micros + i as i64 * 60_000_000,
                );
                HistoryEpisode { episode, strategy }
            })
            .collect()
    }

    /// One episode of strategy `s`, its details drawn from `rng`.
    pub fn planted(&self, s: Strategy, rng: &mut StdRng) -> Episode {
        let module = *MODULES.choose(rng).expect("modules");
        let (task_type, context) = s.context();
        let mut episode = Episode::new(format!("{} ({module})", s.task()), task_type, context);
        let ok = |text: String| StepResult::Success { output: text };
        let err = |text: String| StepResult::Error { message: text };
        let ms = rng.random_range(1000..9000);
        let mut steps: Vec<ExecutionStep> = Vec::new();
        if rng.random_bool(0.3) {
            steps.push(step(
                "read_file",
                &format!("src/{module}.rs"),
                ok("read".into()),
            ));
        }
        match s {
            Strategy::FlakyAsyncTest => {
                steps.push(step(
                    "cargo",
                    &format!("test {module}_retries -- --test-threads=1"),
                    err(format!("test {module}_retries timed out after {ms} ms")),
                ));
                steps.push(step(
                    "edit",
                    &format!("src/{module}.rs"),
                    ok("tokio::time::pause() before the retries".into()),
                ));
                steps.push(step(
                    "cargo",
                    &format!("test {module}_retries"),
                    ok("1 passed".into()),
                ));
            }
            Strategy::TypeMismatch => {
                steps.push(step(
                    "cargo",
                    "build",
                    err(format!(
                        "error[E0308]: mismatched types: expected `Decimal`, found `f64` in src/{module}.rs:{}",
                        rng.random_range(10..400)
                    )),
                ));
                steps.push(step(
                    "edit",
                    &format!("src/{module}.rs"),
                    ok("converted".into()),
                ));
                steps.push(step("cargo", "build", ok("finished".into())));
            }
            Strategy::MissingFixture => {
                steps.push(step(
                    "pytest",
                    &format!("tests/test_{module}.py"),
                    err("fixture 'db_session' not found".into()),
                ));
                steps.push(step(
                    "edit",
                    "tests/conftest.py",
                    ok("added db_session".into()),
                ));
                steps.push(step(
                    "pytest",
                    &format!("tests/test_{module}.py"),
                    ok("passed".into()),
                ));
            }
            Strategy::GoProfiling | Strategy::PipelineProfiling => {
                steps.push(step("profile", "cpu 30s", ok(format!("{ms} samples"))));
                steps.push(step(
                    "edit",
                    &format!("{module}/query"),
                    ok("batched the lookups".into()),
                ));
                steps.push(step("benchmark", "run", ok(format!("p95 {ms} us"))));
            }
        }
        for (i, step) in steps.iter_mut().enumerate() {
            step.step_number = i as u32 + 1;
            step.latency_ms = rng.random_range(100..5000);
        }
        episode.steps = steps;
        let outcome = if rng.random_range(0..10) < s.successes_in_ten() {
            TaskOutcome::Success {
                verdict: "done".into(),
                artifacts: vec![format!("src/{module}.rs")],
            }
        } else {
            TaskOutcome::Failure {
                reason: "the change did not hold".into(),
                error_details: None,
            }
        };
        complete(&mut episode, outcome);
        episode
    }
}

fn step(tool: &str, action: &str, result: StepResult) -> ExecutionStep {
    ExecutionStep::new(tool, action, result)
}

/// Records the outcome with its reward and reflection, as the façade does.
fn complete(episode: &mut Episode, outcome: TaskOutcome) {
    let end = Timestamp::from_micros(
        episode.start_time.as_micros() + (episode.steps.len() as i64 + 1) * 2_000_000,
    );
    episode.reward = Some(reward::compute(episode, &outcome, end));
    episode.reflection = Some(reflection::reflect(episode, &outcome, end));
    episode.outcome = Some(outcome);
    episode.end_time = Some(end);
}

/// Moves an episode to start at `start` micros, keeping its steps' and end's offsets.
fn retime(episode: &mut Episode, start: i64) {
    let shift = start - episode.start_time.as_micros();
    let move_by = |t: Timestamp| Timestamp::from_micros(t.as_micros() + shift);
    episode.start_time = move_by(episode.start_time);
    episode.end_time = episode.end_time.map(move_by);
    for step in &mut episode.steps {
        step.timestamp = move_by(step.timestamp);
    }
}
