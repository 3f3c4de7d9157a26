//! Where the code sandbox's JavaScript engine is found, and the sandbox's settings, shared by `memory-cli eval`
//! and memory-mcp's `execute_code`.

use std::{ffi::OsString, path::PathBuf};

use clap::Args;
use memory_core::sandbox::{EngineModule, SandboxConfig};

/// The engine module's file name in each place it is looked for.
const MODULE: &str = "quickjs.wasm";

/// The engine this program carries: `sandbox/quickjs.wasm`, QuickJS-NG around `sandbox/runner.c`, as
/// scripts/install-sandbox.sh builds it (a test checks that the two are the same bytes).
const BUILT_IN: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sandbox/quickjs.wasm"
));

/// The options of the code sandbox.
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// The JavaScript engine module [default: the first of ./.tools/sandbox/quickjs.wasm and the user's data
    /// directory's memory/sandbox/quickjs.wasm that exists, else the built-in engine].
    #[arg(long, global = true, env = "MEMORY_SANDBOX_WASM", value_name = "PATH")]
    sandbox_wasm: Option<OsString>,
    /// Where the compiled engine is cached between runs [default: the user's cache directory's memory/sandbox].
    #[arg(long, global = true, env = "MEMORY_SANDBOX_CACHE", value_name = "DIR")]
    sandbox_cache: Option<OsString>,
    /// Code executions that run at once; more wait in a queue.
    #[arg(long, global = true, env = "MEMORY_SANDBOX_CONCURRENCY", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub sandbox_concurrency: u16,
}

impl SandboxArgs {
    /// The engine module to use: the one named, else the first that exists of `.tools/sandbox/quickjs.wasm`
    /// under the working directory and `memory/sandbox/quickjs.wasm` under the user's data directory, else the
    /// built-in engine. A module named but missing is an error.
    pub fn module(&self) -> anyhow::Result<EngineModule> {
        if let Some(path) = self.sandbox_wasm.as_ref().filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            anyhow::ensure!(
                path.is_file(),
                "the code sandbox's engine {} does not exist: name an existing module with --sandbox-wasm / \
                 MEMORY_SANDBOX_WASM, or none for the built-in engine (scripts/install-sandbox.sh builds it into \
                 .tools/sandbox/quickjs.wasm)",
                path.display()
            );
            return Ok(EngineModule::File(path));
        }
        let mut candidates = vec![PathBuf::from(".tools/sandbox").join(MODULE)];
        if let Some(data) = dirs::data_dir() {
            candidates.push(data.join("memory/sandbox").join(MODULE));
        }
        Ok(candidates
            .into_iter()
            .find(|p| p.is_file())
            .map_or(EngineModule::BuiltIn(BUILT_IN), EngineModule::File))
    }

    /// The sandbox's settings for `module`: the default limits, the concurrency asked for (and ten times as
    /// many waiting), and the compiled module cached in `--sandbox-cache` or the user's cache directory.
    pub fn config(&self, module: EngineModule) -> SandboxConfig {
        let mut config = SandboxConfig::with_module(module);
        config.concurrency = usize::from(self.sandbox_concurrency);
        config.queue = config.concurrency * 10;
        config.cache_dir = match self.sandbox_cache.as_ref().filter(|p| !p.is_empty()) {
            Some(dir) => Some(PathBuf::from(dir)),
            None => dirs::cache_dir().map(|dir| dir.join("memory/sandbox")),
        };
        config
    }
}
