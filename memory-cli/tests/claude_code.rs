//! The plugin in a real Claude Code: installed with `claude plugin` into a private home, driven by a scripted model
//! (`model.rs`, the only stand-in) through a session of real tool calls. Its hooks capture the session as an
//! episode, the plugin's `memory-mcp` serves the same store at the same time, and the next session is given what
//! the first one did. The CLI comes from `CLAUDE_BIN` or `.tools/claude/claude` (`scripts/install-test-deps.sh`).

mod model;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::{Value, json};
use tempfile::TempDir;

use self::model::{Call, Model};
use crate::support::{parse_json, succeeded};

/// Secrets the session's tools print or read; none may reach the store.
const SECRETS: &[&str] = &[
    "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnly0123",
    "AKIAIOSFODNN7EXAMPLE",
    "sk_live_51HqLyjWDarjtT1zdp7dcXrCbQ0kE",
];

/// A machine with Claude Code, the plugin installed from this repository, and a Rust project whose retry test
/// times out until the clock is paused (`cargo` is a script that checks for the fix).
struct Machine {
    dir: TempDir,
    claude: PathBuf,
}

impl Machine {
    fn new(store: &str) -> Machine {
        let dir = tempfile::tempdir().expect("tempdir");
        let machine = Machine {
            claude: claude_binary(),
            dir,
        };
        let bin = machine.path("bin");
        let project = machine.project();
        for sub in [&bin, &project.join("tests"), &machine.path("home")] {
            std::fs::create_dir_all(sub).expect("create dir");
        }
        let cli = PathBuf::from(env!("CARGO_BIN_EXE_memory-cli"));
        let mcp = cli.with_file_name("memory-mcp");
        assert!(
            mcp.exists(),
            "{} is missing: build the workspace first (`cargo build -p memory-mcp`)",
            mcp.display()
        );
        for exe in [cli, mcp] {
            let name = exe.file_name().expect("file name");
            std::os::unix::fs::symlink(&exe, bin.join(name)).expect("symlink");
        }
        write_executable(&bin.join("cargo"), CARGO);
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"payments\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ntokio = \"1\"\n",
            ),
            (
                "tests/retry.rs",
                "#[tokio::test]\nasync fn retry() {\n    settle_with_backoff().await;\n}\n",
            ),
            (".env", &format!("STRIPE_SECRET_KEY={}\n", SECRETS[2])),
            (
                "deploy.toml",
                &format!(
                    "github_token = \"{}\"\naws_access_key_id = \"{}\"\n",
                    SECRETS[0], SECRETS[1]
                ),
            ),
        ];
        for (name, text) in files {
            std::fs::write(project.join(name), text).expect("write project file");
        }
        std::fs::create_dir_all(machine.store().parent().expect("parent")).expect("store dir");
        if store == "garbage" {
            std::fs::write(machine.store(), "this is not a database\n".repeat(400)).expect("write");
        }
        let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let repository = repository.canonicalize().expect("repository");
        let add = [
            "plugin",
            "marketplace",
            "add",
            repository.to_str().expect("utf-8"),
        ];
        succeeded_claude(machine.claude(&add));
        succeeded_claude(machine.claude(&["plugin", "install", "memory@memory"]));
        machine
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn project(&self) -> PathBuf {
        self.path("payments")
    }

    fn store(&self) -> PathBuf {
        self.path("store/memory.db")
    }

    /// `claude ARGS` in the project, with only this machine's home, tools and store.
    fn claude(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.claude);
        command
            .args(args)
            .current_dir(self.project())
            .env_clear()
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin",
                    self.path("bin").display()
                ),
            )
            .env("HOME", self.path("home"))
            .env("TMPDIR", self.dir.path())
            .env("ANTHROPIC_API_KEY", "sk-ant-scripted-model")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("MEMORY_DB", self.store())
            .env("MEMORY_EMBEDDER", "lexical");
        command
    }

    /// A non-interactive session of `prompt` against `model`; asserts it ended well and returns its events.
    fn session(&self, model: &Model, prompt: &str) -> Vec<Value> {
        let tools = format!("Bash,Read,Edit,{LIST_EPISODES}");
        let args = [
            "-p",
            prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            &tools,
        ];
        let out = self
            .claude(&args)
            .env("ANTHROPIC_BASE_URL", &model.url)
            .output()
            .expect("run claude");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "claude failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events: Vec<Value> = stdout.lines().map(parse_json).collect();
        let result = events.last().expect("a result event");
        assert_eq!(result["subtype"], "success", "{result}");
        for hook in events.iter().filter(|e| e["subtype"] == "hook_response") {
            assert_eq!(hook["exit_code"], 0, "{hook}");
            assert_eq!(hook["stderr"], "", "{hook}");
        }
        events
    }

    /// `memory-cli --format json ARGS` on the machine's store.
    fn memory(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_memory-cli"))
            .env("HOME", self.path("home"))
            .env("MEMORY_EMBEDDER", "lexical")
            .arg("--db")
            .arg(self.store())
            .args(["--format", "json"])
            .args(args)
            .output()
            .expect("run memory-cli");
        parse_json(&succeeded(out))
    }

    fn hooks_log(&self) -> String {
        std::fs::read_to_string(self.path("store/memory.cache.hooks/hooks.log")).unwrap_or_default()
    }
}

const LIST_EPISODES: &str = "mcp__plugin_memory_memory__list_episodes";

/// `cargo test` as the project would answer it: a timeout until the test pauses tokio's clock.
const CARGO: &str = "#!/bin/sh
if grep -q 'time::pause()' tests/retry.rs; then
  echo 'running 1 test'; echo 'test retry ... ok'; echo 'test result: ok. 1 passed; 0 failed'; exit 0
fi
echo 'running 1 test'; echo \"thread 'retry' panicked at tests/retry.rs:3:5: timed out after 30s\"
echo 'test retry ... FAILED'; echo 'test result: FAILED. 0 passed; 1 failed'; exit 101
";

fn claude_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CLAUDE_BIN") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/claude/claude");
    assert!(
        path.exists(),
        "the Claude Code CLI is missing: run scripts/install-test-deps.sh or set CLAUDE_BIN"
    );
    path
}

fn succeeded_claude(mut command: Command) {
    let out = command.output().expect("run claude");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn bash(command: &str) -> Call {
    (
        "Bash".into(),
        json!({"command": command, "description": command}),
    )
}

/// The session: a failing test, a look at the test and the configuration, the fix, the store asked through MCP
/// what is in progress, and the passing test.
fn fixing_session(project: &Path) -> Vec<Call> {
    let test = project.join("tests/retry.rs");
    vec![
        bash("cargo test retry"),
        ("Read".into(), json!({"file_path": test})),
        ("Read".into(), json!({"file_path": project.join(".env")})),
        bash("cat deploy.toml"),
        (
            "Edit".into(),
            json!({"file_path": test, "old_string": "async fn retry() {\n",
            "new_string": "async fn retry() {\n    tokio::time::pause();\n"}),
        ),
        (LIST_EPISODES.into(), json!({})),
        bash("cargo test retry"),
    ]
}

const PROMPT: &str = "The retry test in payments times out: fix it";

/// The text of the tool result answering call `n` (from 1) in the model's last request.
fn tool_result(model: &Model, n: usize) -> String {
    let turns = model.turns();
    let id = format!("toolu_{n:04}");
    let last = turns.last().expect("a turn");
    let block = last["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["tool_use_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no result for {id}"));
    block["content"].to_string()
}

#[test]
fn a_session_in_claude_code_becomes_an_episode_that_the_next_session_is_given() {
    let machine = Machine::new("empty");
    let model = Model::start(
        fixing_session(&machine.project()),
        "Fixed: the test now pauses tokio's clock with `tokio::time::pause()`, and `cargo test retry` passes.",
    );
    let events = machine.session(&model, PROMPT);
    let session_id = events.last().expect("result")["session_id"]
        .as_str()
        .expect("id")
        .to_string();

    // The episode: the prompt as its task, every tool call a step, the passing test its outcome.
    let listing = machine.memory(&["episode", "list"]);
    let episodes = listing.as_array().expect("episodes");
    assert_eq!(episodes.len(), 1, "{listing}");
    let id = episodes[0]["id"].as_str().expect("id").to_string();
    let episode = machine.memory(&["episode", "show", &id]);
    assert_eq!(episode["task_description"], PROMPT, "{episode}");
    assert_eq!(episode["context"]["domain"], "payments", "{episode}");
    assert_eq!(episode["context"]["language"], "rust", "{episode}");
    assert!(episode["outcome"]["success"].is_object(), "{episode}");
    let steps = episode["steps"].as_array().expect("steps");
    let tools: Vec<&str> = steps
        .iter()
        .map(|s| s["tool"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        tools,
        [
            "Bash",
            "Read",
            "Read",
            "Bash",
            "Edit",
            LIST_EPISODES,
            "Bash"
        ]
    );
    assert!(steps[0]["result"]["error"].is_object(), "{}", steps[0]);
    assert!(steps[0].to_string().contains("timed out"), "{}", steps[0]);
    assert!(steps[6].to_string().contains("1 passed"), "{}", steps[6]);
    let metadata = &episode["metadata"];
    assert_eq!(metadata["session_id"], session_id.as_str(), "{episode}");
    let transcript = metadata["transcript_path"].as_str().expect("transcript");
    assert!(Path::new(transcript).exists(), "{transcript}");

    // The plugin's memory-mcp, started with the session, saw the hooks' writes as they were made.
    let listed = tool_result(&model, 6);
    assert!(listed.contains(&id), "{listed}");
    assert!(
        listed.contains("in_progress") && listed.contains(r#"\"step_count\":5"#),
        "{listed}"
    );

    // No secret reached the store's files.
    for name in ["memory.db", "memory.db-wal"] {
        let Ok(bytes) = std::fs::read(machine.path("store").join(name)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} is in {name}");
        }
    }

    // The next session's first request carries the episode, with its id.
    let next = Model::start(vec![], "The clock is already paused in tests/retry.rs.");
    machine.session(&next, "The payments retry test timed out again in CI");
    let first = next.turns().first().expect("a turn").to_string();
    assert!(first.contains(&id), "the first request does not carry {id}");
    assert!(
        machine.hooks_log().lines().all(|l| !l.contains(" error ")),
        "{}",
        machine.hooks_log()
    );
}

#[test]
fn a_hook_that_cannot_open_its_store_leaves_the_session_working() {
    let machine = Machine::new("garbage");
    let model = Model::start(
        vec![bash("cargo test retry")],
        "The test fails: it times out.",
    );
    let events = machine.session(&model, PROMPT);
    assert_eq!(
        events.last().expect("result")["result"],
        "The test fails: it times out."
    );
    let log = machine.hooks_log();
    assert!(log.lines().any(|l| l.contains(" error ")), "{log}");
}

/// `claude mcp list` connects to the server added by hand and prints no warning: strict validators such as Claude Code's complain of every schema `format` outside JSON Schema (`uint32`, `int64`).
#[test]
fn claude_lists_the_server_connected_without_a_warning() {
    let machine = Machine::new("empty");
    succeeded_claude(machine.claude(&["mcp", "add", "memory-by-hand", "--", "memory-mcp"]));
    let out = machine
        .claude(&["mcp", "list"])
        .output()
        .expect("run claude");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    let connected = |name: &str| {
        printed
            .lines()
            .any(|l| l.contains(name) && l.contains("Connected"))
    };
    assert!(connected("memory-by-hand"), "{printed}");
    assert!(
        !printed.contains("format") && !printed.to_lowercase().contains("warn"),
        "{printed}"
    );
}
