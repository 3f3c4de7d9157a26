//! Running the binary in an isolated environment and checking what it printed.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;
use tempfile::TempDir;

/// A scratch directory holding the database (`m.db`) and standing in for the user's data, cache and temp dirs.
pub struct Cli {
    dir: TempDir,
    /// The database file passed as `--db`.
    pub db: PathBuf,
}

impl Cli {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["data", "cache", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create dir");
        }
        let db = dir.path().join("m.db");
        Cli { dir, db }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with a clean environment: no MEMORY_* variables and every user directory inside the scratch
    /// directory, so no test reads or writes the real user's store.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_memory-cli"));
        for var in [
            "MEMORY_DB",
            "MEMORY_DB_URL",
            "MEMORY_DB_TOKEN",
            "MEMORY_CACHE_CAPACITY",
            "MEMORY_SCOPE",
            "MEMORY_MODELS_DIR",
            "MEMORY_EMBED_URL",
            "MEMORY_EMBED_MODEL",
            "MEMORY_EMBED_API_KEY",
            "MEMORY_EMBED_DIMENSION",
            "RUST_LOG",
            "MEMORY_LOG_FORMAT",
            "MEMORY_SANDBOX_WASM",
            "MEMORY_SANDBOX_CACHE",
            "MEMORY_SANDBOX_CONCURRENCY",
        ] {
            cmd.env_remove(var);
        }
        // The built-in embedder, chosen explicitly: results do not depend on installed models, and nothing is
        // said about the choice on stderr. The model tests set their own.
        cmd.env("MEMORY_EMBEDDER", "lexical");
        cmd.env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("TMPDIR", self.path().join("tmp"))
            .env("HOME", self.path());
        cmd
    }

    /// Runs `args` as given (no `--db` added).
    pub fn raw(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run memory-cli")
    }

    /// Runs `args` against `self.db`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .output()
            .expect("run memory-cli")
    }

    /// Runs `args` against `self.db` in JSON format; asserts success and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        parse_json(&succeeded(self.run(&all)))
    }

    /// Runs `args` against `self.db` in human format; asserts success and returns stdout.
    pub fn text(&self, args: &[&str]) -> String {
        succeeded(self.run(args))
    }

    /// Every episode in the store, as `episode list --format json` prints it.
    pub fn listing(&self) -> Value {
        self.json(&["episode", "list", "--limit", "1000"])
    }

    /// Starts an episode with `extra` arguments and returns its id.
    pub fn start(&self, task: &str, domain: &str, extra: &[&str]) -> String {
        let mut args = vec!["episode", "start", "--task", task, "--domain", domain];
        args.extend_from_slice(extra);
        id_of(&self.json(&args))
    }
}

/// Asserts the run succeeded without a word on stderr and returns its stdout.
pub fn succeeded(out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert!(out.status.success(), "failed with {}: {stderr}", out.status);
    assert_eq!(stderr, "", "unexpected stderr");
    stdout
}

/// Asserts the run exited with 1 and printed exactly one stderr line, `error: ...` containing `needle`.
pub fn failed(out: Output, needle: &str) -> String {
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one stderr line, got {stderr:?}"
    );
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(
        stderr.contains(needle),
        "{stderr:?} does not mention {needle:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

pub fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// The ids of a JSON listing, in order.
pub fn ids(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .expect("an array")
        .iter()
        .map(id_of)
        .collect()
}
