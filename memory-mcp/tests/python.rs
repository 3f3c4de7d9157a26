//! The official MCP Python SDK (`mcp`, installed by scripts/install-test-deps.sh) drives the server over stdio.

use std::{path::PathBuf, process::Command};

use crate::support::Scratch;

/// The Python with the SDK: `MEMORY_MCP_PYTHON`, or the virtual environment the install script makes.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("MEMORY_MCP_PYTHON") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/mcp-python/bin/python");
    assert!(
        path.is_file(),
        "the MCP Python SDK is not installed at {}: run scripts/install-test-deps.sh (or set MEMORY_MCP_PYTHON)",
        path.display()
    );
    path
}

#[test]
fn the_python_sdk_runs_a_whole_session() {
    let scratch = Scratch::new();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let out = Command::new(python())
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_memory-mcp"))
        .arg(&scratch.db)
        .env("HOME", scratch.path())
        .env("XDG_DATA_HOME", scratch.path().join("data"))
        .env("XDG_CACHE_HOME", scratch.path().join("cache"))
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python client failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.trim(), "ok");
}
