//! Architecture boundaries, checked from `cargo metadata` rather than hoped for.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// Crates that memory-core must never depend on, directly or through another crate. (wasmtime comes in only with
/// the `sandbox` feature: see `OPTIONAL_ONLY`.)
const FORBIDDEN_IN_CORE: &[&str] = &["libsql", "redb", "rmcp", "clap", "axum", "postcard"];

/// The host's target triple, from `rustc -vV`.
fn host() -> String {
    let output = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("a host line")
        .to_string()
}

/// The dependency graph for this host: other platforms' crates are not downloaded by a build, and offline
/// metadata would ask for them.
fn metadata() -> Value {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("metadata json")
}

/// Names of every crate `root` depends on at build or run time (dev-dependencies excluded), transitively.
fn normal_dependencies(meta: &Value, root: &str) -> HashSet<String> {
    normal_dependencies_outside(meta, root, &[])
}

/// [`normal_dependencies`], not looking inside the crates named in `opaque` (which are listed themselves).
fn normal_dependencies_outside(meta: &Value, root: &str, opaque: &[&str]) -> HashSet<String> {
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let name_of = |id: &str| -> String {
        meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let root_id = nodes
        .keys()
        .find(|id| name_of(id) == root)
        .copied()
        .expect("root package");
    let mut seen = HashSet::new();
    let mut stack = vec![root_id];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            let dep_id = dep["pkg"].as_str().expect("pkg");
            let name = name_of(dep_id);
            if normal && seen.insert(name.clone()) && !opaque.contains(&name.as_str()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn memory_core_depends_on_no_storage_protocol_or_cli_crate() {
    let meta = metadata();
    // wasmtime and wasmtime-wasi (the `sandbox` feature) serialise compiled code with postcard inside themselves:
    // that is not memory-core persisting anything, so their own dependencies are not looked into.
    let deps = normal_dependencies_outside(&meta, "memory-core", &["wasmtime", "wasmtime-wasi"]);
    assert!(
        deps.contains("serde"),
        "the walk found memory-core's real dependencies: {deps:?}"
    );
    let forbidden: Vec<_> = FORBIDDEN_IN_CORE
        .iter()
        .filter(|c| deps.contains(**c))
        .collect();
    assert!(forbidden.is_empty(), "memory-core depends on {forbidden:?}");
}

#[test]
fn storage_crates_do_not_depend_on_each_other() {
    let meta = metadata();
    assert!(!normal_dependencies(&meta, "memory-storage-turso").contains("redb"));
    assert!(!normal_dependencies(&meta, "memory-storage-redb").contains("libsql"));
}

/// Crates only memory-core's optional features may bring in: the model runtime and the HTTP stack (the
/// embedders), and the WebAssembly runtime (the code sandbox).
const OPTIONAL_ONLY: &[&str] = &[
    "candle-core",
    "candle-transformers",
    "tokenizers",
    "reqwest",
    "hyper",
    "rustls",
    "wasmtime",
    "wasmtime-wasi",
];

#[test]
fn without_its_optional_features_memory_core_needs_no_model_runtime_http_client_or_wasm_runtime() {
    let tree = |features: &[&str]| -> String {
        let output = std::process::Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "--package",
                "memory-core",
                "--edges",
                "normal",
                "--prefix",
                "none",
                "--no-default-features",
            ])
            .args(features)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let has = |tree: &str, name: &str| tree.lines().any(|l| l.starts_with(&format!("{name} v")));
    let bare = tree(&[]);
    assert!(
        has(&bare, "serde"),
        "the tree lists real dependencies: {bare}"
    );
    let present: Vec<_> = OPTIONAL_ONLY.iter().filter(|c| has(&bare, c)).collect();
    assert!(
        present.is_empty(),
        "memory-core without features depends on {present:?}"
    );
    let full = tree(&["--features", "local-model,http-embedder,sandbox"]);
    let absent: Vec<_> = OPTIONAL_ONLY.iter().filter(|c| !has(&full, c)).collect();
    assert!(
        absent.is_empty(),
        "the features no longer bring in {absent:?}"
    );
}
