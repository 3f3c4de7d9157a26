//! A planted history for lessons: coding problems an agent met again and again, each solved by one decisive move
//! and sometimes attempted with one that does not work, logged as an agent logs them through MCP (free-form tools
//! and actions, looking around before and between, an unrelated change now and then, tasks in different words).
//! A learner that reads lessons well recommends, for a new wording of the problem, the move that worked, and never
//! the one that did not above it. Seeded: the same seed gives the same history.

use memory_core::{
    Complexity, Episode, ExecutionStep, StepResult, TaskContext, TaskOutcome, TaskType, Timestamp,
    reflection, reward,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

/// One recurring problem.
#[derive(Clone, Copy, Debug)]
pub struct Problem {
    /// How tasks with this problem were worded in the history.
    pub tasks: &'static [&'static str],
    /// New wordings, never in the history: what the learner is asked with.
    pub queries: &'static [&'static str],
    /// Domain, language, framework, tags.
    pub context: (
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    ),
    /// The check that fails, as the agent ran it, and its error.
    pub check: (&'static str, &'static str, &'static str),
    /// The move that works (its wordings), and the text a recommendation must carry to name it.
    pub works: (&'static [&'static str], &'static str),
    /// A move that does not work, and the text that names it.
    pub fails: (&'static str, &'static str),
}

/// The problems of the history.
pub const PROBLEMS: &[Problem] = &[
    Problem {
        tasks: &[
            "Fix the flaky settlement retry test in payments",
            "The payments retry test fails on CI about one run in five",
            "retry_backoff test is flaky, please make it deterministic",
            "CI keeps timing out in the payments crate's retry tests",
        ],
        queries: &[
            "A flaky async test fails in the payments crate",
            "payments: the backoff test hangs sometimes on CI",
            "make the intermittently failing retry test in payments reliable",
        ],
        context: ("payments", "rust", "tokio", &["flaky-test"]),
        check: (
            "cargo",
            "cargo test payments::retry",
            "test payments::retry::backs_off has been running for over 60 seconds",
        ),
        works: (
            &[
                "add tokio::time::pause() to the test",
                "add tokio::time::pause() to the test",
                "call tokio::time::pause() at the start of the test",
            ],
            "tokio::time::pause()",
        ),
        fails: (
            "raise the test timeout to 120 seconds",
            "raise the test timeout",
        ),
    },
    Problem {
        tasks: &[
            "Add a currency field to the invoice response",
            "Invoice totals should be returned as Decimal",
            "Expose the tax amount on the invoice API",
            "billing-api: include discounts in the invoice payload",
        ],
        queries: &[
            "build breaks with mismatched types after adding an amount to the invoice",
            "return the refund amount from the invoice endpoint",
            "the invoice handler does not compile: expected Decimal, found f64",
        ],
        context: ("billing-api", "rust", "axum", &["api"]),
        check: (
            "Bash",
            "cargo build -p billing-api",
            "error[E0308]: mismatched types: expected `Decimal`, found `f64`",
        ),
        works: (
            &[
                "convert the amount with Decimal::from_f64_retain() where it is computed",
                "convert the amount with Decimal::from_f64_retain() where it is computed",
                "use Decimal::from_f64_retain() to convert the amount",
            ],
            "Decimal::from_f64_retain()",
        ),
        fails: ("change the field type to f64", "field type to f64"),
    },
    Problem {
        tasks: &[
            "Make the repository tests pass with the shared database",
            "accounts tests error out with a missing fixture",
            "Write tests for the account repository",
            "The new test module for accounts cannot find db_session",
        ],
        queries: &[
            "pytest says fixture 'db_session' not found in the accounts service",
            "add tests for the account deletion path",
            "accounts-service test setup fails before any test runs",
        ],
        context: ("accounts-service", "python", "pytest", &["db"]),
        check: (
            "Bash",
            "pytest tests/test_accounts.py",
            "E       fixture 'db_session' not found",
        ),
        works: (
            &[
                "move the db_session fixture into tests/conftest.py",
                "move the db_session fixture into tests/conftest.py",
                "define db_session in tests/conftest.py so every module sees it",
            ],
            "conftest.py",
        ),
        fails: (
            "import db_session from the other test module",
            "from the other test module",
        ),
    },
    Problem {
        tasks: &[
            "The web app's unit tests fail after switching to ES modules",
            "jest cannot run the new TypeScript tests",
            "Migrate the dashboard tests to TypeScript",
            "npm test fails with a syntax error on import",
        ],
        queries: &[
            "SyntaxError: Cannot use import statement outside a module when running jest",
            "get the dashboard's typescript tests running",
            "frontend tests break on the first import line",
        ],
        context: ("dashboard", "typescript", "jest", &["tests"]),
        check: (
            "Bash",
            "npm test",
            "SyntaxError: Cannot use import statement outside a module",
        ),
        works: (
            &[
                "set preset: 'ts-jest' in jest.config.js",
                "set preset: 'ts-jest' in jest.config.js",
                "configure jest.config.js with the ts-jest preset",
            ],
            "ts-jest",
        ),
        fails: ("rename the test files to .mjs", "rename the test files"),
    },
    Problem {
        tasks: &[
            "The order cache test fails under the race detector",
            "go test -race reports a data race in orders",
            "Make the orders cache safe for concurrent requests",
            "orders-service crashes with concurrent map writes",
        ],
        queries: &[
            "fatal error: concurrent map writes in the orders cache",
            "the race detector flags the cache in orders-service",
            "orders cache is not thread safe",
        ],
        context: ("orders-service", "go", "net/http", &["concurrency"]),
        check: (
            "Bash",
            "go test -race ./cache/...",
            "WARNING: DATA RACE Write at 0x00c000120000 by goroutine 7",
        ),
        works: (
            &[
                "guard the cache map with a sync.RWMutex",
                "guard the cache map with a sync.RWMutex",
                "protect the map with sync.RWMutex in Get and Put",
            ],
            "sync.RWMutex",
        ),
        fails: ("add a time.Sleep before the assertion", "time.Sleep"),
    },
    Problem {
        tasks: &[
            "Importing the invoice models fails at startup",
            "ImportError when the billing worker starts",
            "Split the billing models into their own module",
            "the worker cannot import Invoice after the refactor",
        ],
        queries: &[
            "cannot import name 'Invoice' from partially initialized module",
            "circular import between billing models and services",
            "billing worker dies on import after moving the models",
        ],
        context: ("billing-worker", "python", "celery", &["imports"]),
        check: (
            "Bash",
            "python -m pytest tests/test_worker.py",
            "ImportError: cannot import name 'Invoice' from partially initialized module 'billing.models'",
        ),
        works: (
            &[
                "move the import of billing.services inside the function that uses it",
                "move the import of billing.services inside the function that uses it",
                "import billing.services lazily inside the function",
            ],
            "billing.services",
        ),
        fails: (
            "reorder the imports in billing/__init__.py",
            "reorder the imports",
        ),
    },
];

/// Episodes per problem with the move that works, and with the one that does not.
pub const WORKING: usize = 12;
/// See [`WORKING`].
pub const FAILING: usize = 5;

/// Looking around, as agents do between the steps that matter.
const LOOKS: &[(&str, &str)] = &[
    ("Read", "src/lib.rs"),
    ("Grep", "rg -n 'TODO' src/"),
    ("Bash", "git status"),
    ("Bash", "ls tests/"),
    ("Read", "README.md"),
    ("Glob", "**/*.toml"),
    ("Bash", "git diff"),
];
/// Unrelated changes made before the problem showed.
const ASIDES: &[&str] = &[
    "update the changelog",
    "rename a local variable for clarity",
    "bump the version in the manifest",
];

/// The history: every problem's episodes (the working and the failing move), shuffled, a minute apart, all
/// ending within the last day.
pub fn lesson_history(seed: u64) -> Vec<Episode> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan: Vec<(usize, bool)> = (0..PROBLEMS.len())
        .flat_map(|p| {
            std::iter::repeat_n((p, true), WORKING).chain(std::iter::repeat_n((p, false), FAILING))
        })
        .collect();
    for i in (1..plan.len()).rev() {
        plan.swap(i, rng.random_range(0..=i));
    }
    let start = Timestamp::now().as_micros() - 86_400_000_000;
    plan.into_iter()
        .enumerate()
        .map(|(i, (p, works))| {
            episode(&PROBLEMS[p], works, &mut rng, start + i as i64 * 60_000_000)
        })
        .collect()
}

fn episode(problem: &Problem, works: bool, rng: &mut StdRng, start: i64) -> Episode {
    let (domain, language, framework, tags) = problem.context;
    let context = TaskContext {
        domain: domain.into(),
        language: Some(language.into()),
        framework: Some(framework.into()),
        complexity: Complexity::Moderate,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    let task = *problem.tasks.choose(rng).expect("tasks");
    let mut episode = Episode::new(task, TaskType::Debugging, context);
    episode.start_time = Timestamp::from_micros(start);
    let ok = |text: &str| StepResult::Success {
        output: text.to_string(),
    };
    let mut steps = Vec::new();
    let look = |steps: &mut Vec<ExecutionStep>, rng: &mut StdRng| {
        for _ in 0..rng.random_range(0..3) {
            let (tool, action) = *LOOKS.choose(rng).expect("looks");
            steps.push(ExecutionStep::new(tool, action, ok("(contents)")));
        }
    };
    look(&mut steps, rng);
    if rng.random_bool(0.25) {
        let aside = *ASIDES.choose(rng).expect("asides");
        steps.push(ExecutionStep::new("Edit", aside, ok("done")));
    }
    let (tool, command, error) = problem.check;
    let failed = || {
        ExecutionStep::new(
            tool,
            command,
            StepResult::Error {
                message: error.to_string(),
            },
        )
    };
    steps.push(failed());
    look(&mut steps, rng);
    let change = if works {
        *problem.works.0.choose(rng).expect("wordings")
    } else {
        problem.fails.0
    };
    steps.push(ExecutionStep::new("Edit", change, ok("applied")));
    // Most working moves pass at once; the failing one fails again, or seems to pass and the task fails later.
    let passes = if works {
        rng.random_range(0..10) < 9
    } else {
        rng.random_bool(0.3)
    };
    if passes {
        steps.push(ExecutionStep::new(tool, command, ok("test result: ok")));
    } else {
        steps.push(failed());
    }
    for (i, step) in steps.iter_mut().enumerate() {
        step.step_number = i as u32 + 1;
        step.timestamp = Timestamp::from_micros(start + (i as i64 + 1) * 1_000_000);
        step.latency_ms = rng.random_range(100..5000);
    }
    episode.steps = steps;
    let outcome = if works && passes {
        TaskOutcome::Success {
            verdict: "the check passes".into(),
            artifacts: Vec::new(),
        }
    } else {
        TaskOutcome::Failure {
            reason: "the problem came back".into(),
            error_details: None,
        }
    };
    let end = Timestamp::from_micros(start + (episode.steps.len() as i64 + 2) * 1_000_000);
    episode.reward = Some(reward::compute(&episode, &outcome, end));
    episode.reflection = Some(reflection::reflect(&episode, &outcome, end));
    episode.outcome = Some(outcome);
    episode.end_time = Some(end);
    episode
}
