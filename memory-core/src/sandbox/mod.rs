//! Runs short JavaScript programs in a WebAssembly sandbox: QuickJS compiled to WASI preview 1, run by wasmtime
//! with no files, no network, no environment, and CPU, memory, time and output bounded by wasmtime itself.
//!
//! A [`Sandbox`] compiles the module once (or loads the compilation it cached earlier) and gives every
//! execution a fresh store and instance, so nothing one execution does is seen by the next. At most
//! [`SandboxConfig::concurrency`] executions run at once, each on a blocking thread; up to
//! [`SandboxConfig::queue`] more wait their turn, and beyond that [`Sandbox::execute`] answers
//! [`Error::Busy`] at once.
//!
//! ```no_run
//! use memory_core::sandbox::{Request, Sandbox, SandboxConfig};
//! # #[tokio::main]
//! # async fn main() -> memory_core::Result<()> {
//! let sandbox = Sandbox::new(SandboxConfig::new(".tools/sandbox/quickjs.wasm"))?;
//! let done = sandbox.execute(Request::javascript("console.log(1 + 1)")).await?;
//! assert_eq!((done.stdout.as_str(), done.exit_code), ("2\n", Some(0)));
//! # Ok(())
//! # }
//! ```

mod engine;
mod limits;
mod run;

use std::{
    path::PathBuf,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::Semaphore;

pub use limits::{Ceilings, Limits, MIN_MEMORY_MB, Overrides};

use crate::{Error, Result};

/// The language of a program. JavaScript is the one this build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// ECMAScript 2023 as QuickJS-NG implements it, run as a classic script.
    #[default]
    JavaScript,
}

impl FromStr for Language {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "javascript" | "js" => Ok(Language::JavaScript),
            other => Err(Error::validation(
                "language",
                format!("{other:?} is not supported: the sandbox runs javascript"),
            )),
        }
    }
}

/// One program to run.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Its language.
    pub language: Language,
    /// The source.
    pub code: String,
    /// What the program reads as standard input (`stdin`, `readline()`).
    pub stdin: Vec<u8>,
    /// Limits this request sets for itself, within the sandbox's ceilings.
    pub overrides: Overrides,
}

impl Request {
    /// A JavaScript program with no input and the default limits.
    pub fn javascript(code: impl Into<String>) -> Self {
        Request {
            code: code.into(),
            ..Request::default()
        }
    }
}

/// What came of an execution. A limit that stopped the program is reported here, not as an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The program's standard output, up to the limit (invalid UTF-8 replaced).
    pub stdout: String,
    /// Its standard error, up to the limit: an uncaught exception is printed here.
    pub stderr: String,
    /// The exit status the program ended with (0 on success, 1 after an uncaught exception), or `None` when it
    /// was stopped (a limit or a trap).
    pub exit_code: Option<i32>,
    /// The wall-clock timeout stopped it.
    pub timed_out: bool,
    /// It ran out of fuel (CPU).
    pub out_of_fuel: bool,
    /// It asked for more memory than its limit and was refused.
    pub out_of_memory: bool,
    /// It exhausted the WebAssembly call stack.
    pub stack_overflow: bool,
    /// The trap that stopped it, as wasmtime words it.
    pub trap: Option<String>,
    /// Standard output or standard error exceeded its limit and was cut.
    pub truncated: bool,
    /// Wall-clock time of the execution, instantiation included, in milliseconds.
    pub duration_ms: f64,
    /// Fuel consumed.
    pub fuel_used: u64,
}

/// Where the JavaScript engine, a WASI preview 1 command module, comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum EngineModule {
    /// A file (`scripts/install-sandbox.sh` builds one).
    File(PathBuf),
    /// Bytes the program carries.
    BuiltIn(&'static [u8]),
}

impl std::fmt::Display for EngineModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineModule::File(path) => write!(f, "{}", path.display()),
            EngineModule::BuiltIn(_) => f.write_str("the built-in engine"),
        }
    }
}

impl std::fmt::Debug for EngineModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineModule::File(path) => f.debug_tuple("File").field(path).finish(),
            EngineModule::BuiltIn(wasm) => write!(f, "BuiltIn({} bytes)", wasm.len()),
        }
    }
}

/// How a [`Sandbox`] is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The JavaScript engine.
    pub module: EngineModule,
    /// Where to keep the compiled module between processes; `None` compiles in every process.
    pub cache_dir: Option<PathBuf>,
    /// Limits of a request that sets none.
    pub limits: Limits,
    /// How far a request may raise its limits.
    pub ceilings: Ceilings,
    /// Executions running at once.
    pub concurrency: usize,
    /// Executions waiting for a turn before more are refused.
    pub queue: usize,
    /// Bytes of native stack WebAssembly may use before trapping.
    pub max_wasm_stack: usize,
}

impl SandboxConfig {
    /// The defaults for the engine module at `path`: no cache directory, 20 executions at once, 200 waiting.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SandboxConfig::with_module(EngineModule::File(path.into()))
    }

    /// The defaults for `module`, as [`SandboxConfig::new`] has them.
    pub fn with_module(module: EngineModule) -> Self {
        SandboxConfig {
            module,
            cache_dir: None,
            limits: Limits::default(),
            ceilings: Ceilings::default(),
            concurrency: 20,
            queue: 200,
            max_wasm_stack: 1 << 20,
        }
    }
}

/// The number of executions running and waiting, and the most that ever ran at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLoad {
    /// Running now.
    pub running: usize,
    /// Waiting for a turn now.
    pub waiting: usize,
    /// The most that ran at the same time since the sandbox was made.
    pub peak_running: usize,
}

/// The sandbox: the compiled engine and the bound on executions. Cloning is cheap and shares both.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    loaded: engine::Loaded,
    // Dropped after `loaded`, so the ticker outlives every store of the engine it drives.
    ticker: engine::Ticker,
    config: SandboxConfig,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    running: AtomicUsize,
    peak_running: AtomicUsize,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Loads the engine module: compiles it (seconds), or loads the compilation cached in
    /// [`SandboxConfig::cache_dir`] (milliseconds). Call it off any latency-sensitive path.
    pub fn new(config: SandboxConfig) -> Result<Sandbox> {
        if config.concurrency == 0 {
            return Err(Error::validation("concurrency", "must be at least 1"));
        }
        let engine = engine::engine(config.max_wasm_stack)?;
        let loaded = engine::load(&engine, &config.module, config.cache_dir.as_deref())?;
        tracing::debug!(module = %config.module, cached = loaded.cached, "sandbox ready");
        let ticker = engine::Ticker::start(engine)?;
        Ok(Sandbox {
            inner: Arc::new(Inner {
                loaded,
                ticker,
                permits: Arc::new(Semaphore::new(config.concurrency)),
                config,
                waiting: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                peak_running: AtomicUsize::new(0),
            }),
        })
    }

    /// How the sandbox was set up.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Whether the compiled module came from the cache directory rather than the compiler.
    pub fn loaded_from_cache(&self) -> bool {
        self.inner.loaded.cached
    }

    /// Executions running and waiting now.
    pub fn load(&self) -> SandboxLoad {
        SandboxLoad {
            running: self.inner.running.load(Ordering::SeqCst),
            waiting: self.inner.waiting.load(Ordering::SeqCst),
            peak_running: self.inner.peak_running.load(Ordering::SeqCst),
        }
    }

    /// Checks a request against the limits: its size, its overrides and its language.
    fn prepare(&self, request: &Request) -> Result<Limits> {
        let config = &self.inner.config;
        let limits = config.limits.with(request.overrides, &config.ceilings)?;
        if request.code.len() > limits.code_bytes {
            return Err(Error::validation(
                "code",
                format!(
                    "{} bytes is more than the {} accepted",
                    request.code.len(),
                    limits.code_bytes
                ),
            ));
        }
        if request.stdin.len() > limits.stdin_bytes {
            return Err(Error::validation(
                "stdin",
                format!(
                    "{} bytes is more than the {} accepted",
                    request.stdin.len(),
                    limits.stdin_bytes
                ),
            ));
        }
        Ok(limits)
    }

    /// Runs a program on the calling thread, blocking it, outside the concurrency bound. For programs that own
    /// their thread (a command line, a benchmark); servers use [`Sandbox::execute`].
    pub fn run_blocking(&self, request: &Request) -> Result<Execution> {
        let limits = self.prepare(request)?;
        let _ticking = self.inner.ticker.running();
        let running = Counted::new(&self.inner.running);
        self.inner
            .peak_running
            .fetch_max(running.0, Ordering::SeqCst);
        run::run(&self.inner.loaded, &request.code, &request.stdin, &limits)
    }

    /// Runs a program on a blocking thread once one of the [`SandboxConfig::concurrency`] turns is free;
    /// refuses it with [`Error::Busy`] when [`SandboxConfig::queue`] programs are already waiting.
    pub async fn execute(&self, request: Request) -> Result<Execution> {
        self.prepare(&request)?;
        // Counted until it has a turn, also when the caller gives up waiting (the future is dropped).
        let waiting = Counted::new(&self.inner.waiting);
        let queued = waiting.0 - 1;
        if queued >= self.inner.config.queue && self.inner.permits.available_permits() == 0 {
            return Err(Error::Busy {
                what: "the code sandbox",
                detail: format!(
                    "{} executions are running and {queued} waiting",
                    self.inner.config.concurrency
                ),
            });
        }
        let permit = Arc::clone(&self.inner.permits).acquire_owned().await;
        drop(waiting);
        let permit = permit.map_err(|_| engine::sandbox_error("the sandbox is shutting down"))?;
        let sandbox = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            sandbox.run_blocking(&request)
        });
        match task.await {
            Ok(result) => result,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(_) => Err(engine::sandbox_error("the execution was cancelled")),
        }
    }
}

/// One more in a counter until dropped; holds the count it made.
struct Counted<'a>(usize, &'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        Counted(counter.fetch_add(1, Ordering::SeqCst) + 1, counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.1.fetch_sub(1, Ordering::SeqCst);
    }
}
