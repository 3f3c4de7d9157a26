//! Running the real `memory-mcp` binary in an isolated environment and talking to it with rmcp's client.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
};

use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ErrorData},
    service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A client session with a running server.
pub type Client = RunningService<RoleClient, ()>;

/// A scratch directory holding the database (`m.db`) and standing in for the user's data, cache and temp dirs.
pub struct Scratch {
    dir: TempDir,
    /// The database file passed as `--db`.
    pub db: PathBuf,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["data", "cache", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create dir");
        }
        let db = dir.path().join("m.db");
        Scratch { dir, db }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with a clean environment (no MEMORY_* variables, every user directory inside the scratch
    /// directory, the built-in embedder) and `--db`.
    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_memory-mcp"));
        for var in [
            "MEMORY_DB",
            "MEMORY_DB_URL",
            "MEMORY_DB_TOKEN",
            "MEMORY_CACHE_CAPACITY",
            "MEMORY_SCOPE",
            "MEMORY_MODELS_DIR",
            "MEMORY_API_KEY",
            "MEMORY_EMBED_URL",
            "MEMORY_EMBED_MODEL",
            "MEMORY_EMBED_API_KEY",
            "MEMORY_EMBED_DIMENSION",
            "MEMORY_SANDBOX_CONCURRENCY",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        // The code sandbox's engine as the install script builds it, compiled once for all the tests' servers.
        cmd.env("MEMORY_SANDBOX_WASM", sandbox_module()).env(
            "MEMORY_SANDBOX_CACHE",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache"),
        );
        cmd.env("MEMORY_EMBEDDER", "lexical")
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("TMPDIR", self.path().join("tmp"))
            .env("HOME", self.path())
            .arg("--db")
            .arg(&self.db)
            .kill_on_drop(true);
        cmd
    }

    /// Starts the server on stdio and completes the MCP handshake.
    pub async fn connect(&self) -> Client {
        self.connect_with(self.command()).await.0
    }

    /// Starts `cmd` on stdio and completes the handshake; the server's stderr is collected.
    pub async fn connect_with(&self, cmd: tokio::process::Command) -> (Client, Stderr) {
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn memory-mcp");
        let stderr = Stderr::collect(stderr.expect("piped stderr"));
        let client = ().serve(transport).await.expect("MCP handshake");
        (client, stderr)
    }
}

/// The JavaScript engine module: `MEMORY_SANDBOX_WASM`, or the one scripts/install-sandbox.sh builds.
pub fn sandbox_module() -> PathBuf {
    let path = std::env::var_os("MEMORY_SANDBOX_WASM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sandbox/quickjs.wasm"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the sandbox's JavaScript engine is not at {}: run scripts/install-sandbox.sh (or set MEMORY_SANDBOX_WASM)",
        path.display()
    );
    path
}

/// A child's stderr, read into memory as it arrives.
#[derive(Clone)]
pub struct Stderr {
    text: Arc<Mutex<String>>,
    /// Lines read so far, and whether the stream has closed.
    progress: tokio::sync::watch::Receiver<(usize, bool)>,
}

impl Stderr {
    pub fn collect(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let (progress_tx, progress) = tokio::sync::watch::channel((0, false));
        let sink = text.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            let mut count = 0;
            while let Ok(Some(line)) = lines.next_line().await {
                {
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
                count += 1;
                let _ = progress_tx.send((count, false));
            }
            let _ = progress_tx.send((count, true));
        });
        Stderr { text, progress }
    }

    /// What has arrived so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything, once the child has closed its stderr (it exited).
    pub async fn all(&self) -> String {
        let mut progress = self.progress.clone();
        let _ = progress.wait_for(|(_, closed)| *closed).await;
        self.text()
    }

    /// Waits for a line containing `needle` and returns it; panics if stderr closes first.
    pub async fn line_with(&self, needle: &str) -> String {
        let mut progress = self.progress.clone();
        loop {
            let closed = progress.borrow_and_update().1;
            if let Some(line) = self.text().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(!closed, "stderr closed without {needle:?}: {}", self.text());
            let _ = progress.changed().await;
        }
    }
}

/// Calls `tool` with `arguments` (a JSON object).
pub async fn call(
    client: &Client,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object");
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
}

/// Calls `tool`, asserts it succeeded, and returns its structured result.
pub async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert_eq!(
        result.is_error,
        Some(false),
        "{tool} failed: {}",
        text(&result)
    );
    let structured = result
        .structured_content
        .clone()
        .expect("structured content");
    // The text content is the same JSON, for clients that read only text.
    let from_text: Value = serde_json::from_str(&text(&result)).expect("text content is JSON");
    assert_eq!(from_text, structured);
    structured
}

/// Calls `tool`, asserts it failed as a tool result whose message contains `needle`, and returns the message.
pub async fn fails(client: &Client, tool: &str, arguments: Value, needle: &str) -> String {
    let result = call(client, tool, arguments)
        .await
        .unwrap_or_else(|e| panic!("{tool}: expected a tool error, got a protocol error: {e}"));
    let message = text(&result);
    assert_eq!(result.is_error, Some(true), "{tool} succeeded: {message}");
    assert!(result.structured_content.is_none());
    assert!(
        message.contains(needle),
        "{message:?} does not contain {needle:?}"
    );
    message
}

/// The protocol error a call got.
pub fn protocol_error(result: Result<CallToolResult, ServiceError>) -> ErrorData {
    match result {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// The text of a tool result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// A string field of a JSON value.
pub fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {value}"))
}
