//! The wasmtime engine, the JavaScript module compiled for it once per process (or loaded from a cache file this
//! software wrote), and the ticker that drives wall-clock timeouts.

use std::{
    fs,
    hash::Hasher,
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex},
    thread,
    time::Duration,
};

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, ExternType, InstancePre, Linker, Module};
use wasmtime_wasi::p1::WasiP1Ctx;

use super::{EngineModule, run::RunState};
use crate::{Error, Result};

/// The period of the epoch ticker: timeouts are accurate to about this much.
pub(super) const TICK: Duration = Duration::from_millis(5);

/// The WASI preview 1 functions a module may import. Anything else (files by path, sockets, arguments, the
/// environment, polling) makes loading fail: the runner needs none of it, and refusing it at load time keeps a
/// replaced module from even asking.
const ALLOWED_IMPORTS: &[&str] = &[
    "clock_time_get",
    "clock_res_get",
    "fd_close",
    "fd_fdstat_get",
    "fd_read",
    "fd_seek",
    "fd_write",
    "proc_exit",
    "random_get",
    "sched_yield",
];

/// The cache file's trailer: this tag, then the SHA-256 of everything before it.
const CACHE_TAG: &[u8; 16] = b"memory-sandbox-1";

pub(super) fn sandbox_error(detail: impl std::fmt::Display) -> Error {
    Error::Sandbox {
        detail: detail.to_string(),
    }
}

/// The engine settings that are not per execution.
pub(super) fn engine(max_wasm_stack: usize) -> Result<Engine> {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(max_wasm_stack)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&config).map_err(|e| sandbox_error(format!("cannot configure wasmtime: {e:#}")))
}

/// The compiled module, ready to instantiate once per execution.
pub(super) struct Loaded {
    pub pre: InstancePre<RunState>,
    /// Whether it came from the cache rather than from the compiler.
    pub cached: bool,
}

/// Compiles `source` for `engine`, or loads it from `cache_dir` when this process (or an earlier one) cached
/// it there for the same module bytes, wasmtime version and engine settings.
pub(super) fn load(
    engine: &Engine,
    source: &EngineModule,
    cache_dir: Option<&Path>,
) -> Result<Loaded> {
    let wasm: std::borrow::Cow<'_, [u8]> = match source {
        EngineModule::File(path) => fs::read(path)
            .map_err(|e| {
                sandbox_error(format!(
                    "cannot read the JavaScript engine module {}: {e}",
                    path.display()
                ))
            })?
            .into(),
        EngineModule::BuiltIn(wasm) => (*wasm).into(),
    };
    let key = cache_key(engine, &wasm);
    let cache_file = cache_dir.map(|dir| dir.join(format!("quickjs-{key}.cwasm")));
    let mut cached = false;
    let module = match cache_file.as_deref().and_then(|f| read_cache(engine, f)) {
        Some(module) => {
            cached = true;
            module
        }
        None => {
            let module = Module::new(engine, &wasm).map_err(|e| {
                sandbox_error(format!(
                    "{source} is not a usable WebAssembly module: {e:#}"
                ))
            })?;
            if let (Some(dir), Some(file)) = (cache_dir, cache_file.as_deref())
                && let Err(err) = write_cache(&module, dir, file)
            {
                tracing::warn!(
                    "cannot cache the compiled sandbox module in {}: {err}",
                    dir.display()
                );
            }
            module
        }
    };
    check_imports(&module, source)?;
    if module.get_export("_start").is_none() {
        return Err(sandbox_error(format!(
            "{source} is not a WASI command: it exports no _start"
        )));
    }
    let mut linker: Linker<RunState> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut RunState| -> &mut WasiP1Ctx {
        &mut state.wasi
    })
    .map_err(|e| sandbox_error(format!("cannot link WASI: {e:#}")))?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| sandbox_error(format!("{source} cannot be linked: {e:#}")))?;
    Ok(Loaded { pre, cached })
}

fn check_imports(module: &Module, source: &EngineModule) -> Result<()> {
    for import in module.imports() {
        let allowed = import.module() == "wasi_snapshot_preview1"
            && ALLOWED_IMPORTS.contains(&import.name())
            && matches!(import.ty(), ExternType::Func(_));
        if !allowed {
            return Err(sandbox_error(format!(
                "{source} imports {}::{}, which the sandbox does not provide",
                import.module(),
                import.name()
            )));
        }
    }
    Ok(())
}

/// Feeds what `Hash` writes into SHA-256, so the key is stable across processes (std's hashers are not).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The module's SHA-256 and the engine's compatibility hash (wasmtime's version and every setting that changes
/// the compiled code), in hex.
fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    use std::hash::Hash as _;
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(Sha256::digest(wasm));
    hex(&hasher.0.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the serialised module with its checksum trailer to a fresh file in a directory only this user can
/// write, then renames it into place, so a reader sees a whole file or none.
fn write_cache(module: &Module, dir: &Path, file: &Path) -> Result<()> {
    let mut bytes = module
        .serialize()
        .map_err(|e| sandbox_error(format!("cannot serialise the module: {e:#}")))?;
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(CACHE_TAG);
    bytes.extend_from_slice(&digest);
    private_dir(dir).map_err(|e| sandbox_error(format!("{}: {e}", dir.display())))?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1
        .write_all(&bytes)
        .and_then(|()| tmp.1.sync_all())
        .and_then(|()| fs::rename(&tmp.0, file))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp.0);
            sandbox_error(format!("{}: {e}", file.display()))
        })
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, fs::File)> {
    let path = dir.join(format!(".quickjs-{}.tmp", uuid::Uuid::now_v7()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .map_err(|e| sandbox_error(format!("{}: {e}", path.display())))?;
    Ok((path, file))
}

/// Creates `dir` (mode 0700) if it is missing.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether only its owner can write `path`.
fn private(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o022 == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The cached module, or `None` when there is none, it is not ours, or it is damaged (the caller compiles).
fn read_cache(engine: &Engine, file: &Path) -> Option<Module> {
    let dir = file.parent()?;
    if !private(dir) || !private(file) {
        return None;
    }
    let bytes = fs::read(file).ok()?;
    let body_len = bytes.len().checked_sub(CACHE_TAG.len() + 32)?;
    let (body, trailer) = bytes.split_at(body_len);
    if &trailer[..CACHE_TAG.len()] != CACHE_TAG
        || trailer[CACHE_TAG.len()..] != Sha256::digest(body)[..]
    {
        tracing::warn!("ignoring the damaged sandbox cache file {}", file.display());
        return None;
    }
    // SAFETY: `Module::deserialize` trusts its input to be wasmtime's own output; arbitrary bytes could make it
    // load arbitrary machine code. These bytes are: the file's name carries the SHA-256 of the engine's
    // compatibility hash and of the module, so only a serialisation of this module for these settings is looked
    // up; the file and its directory are writable by their owner only, the directory having been created by
    // `write_cache`, which is the only writer, so another user cannot have placed or changed it (the owner
    // could, but the owner can as well replace this program); and the trailer's SHA-256 over the whole body
    // proves the file is the complete write `write_cache` made, not a torn or truncated one. wasmtime itself
    // rejects a serialisation from another version or configuration. The bytes are read into memory, so later
    // changes to the file cannot reach the loaded module.
    #[allow(unsafe_code)]
    let module = unsafe { Module::deserialize(engine, body) };
    match module {
        Ok(module) => Some(module),
        Err(err) => {
            tracing::warn!(
                "ignoring the sandbox cache file {}: {err:#}",
                file.display()
            );
            None
        }
    }
}

/// Increments the engine's epoch every [`TICK`] while executions are running, and sleeps otherwise.
pub(super) struct Ticker {
    state: Arc<(Mutex<TickerState>, Condvar)>,
}

#[derive(Default)]
struct TickerState {
    running: usize,
    stop: bool,
}

impl Ticker {
    pub fn start(engine: Engine) -> Result<Ticker> {
        let state = Arc::new((Mutex::new(TickerState::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        thread::Builder::new()
            .name("sandbox-epoch".into())
            .spawn(move || {
                let (lock, wake) = &*shared;
                let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if guard.stop {
                        return;
                    }
                    if guard.running == 0 {
                        guard = wake.wait(guard).unwrap_or_else(|p| p.into_inner());
                        continue;
                    }
                    drop(guard);
                    thread::sleep(TICK);
                    engine.increment_epoch();
                    guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                }
            })
            .map_err(|e| sandbox_error(format!("cannot start the timeout thread: {e}")))?;
        Ok(Ticker { state })
    }

    /// Counts an execution as running until the guard is dropped.
    pub fn running(&self) -> Running<'_> {
        let (lock, wake) = &*self.state;
        lock.lock().unwrap_or_else(|p| p.into_inner()).running += 1;
        wake.notify_one();
        Running(self)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let (lock, wake) = &*self.state;
        lock.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        wake.notify_one();
    }
}

/// An execution the ticker ticks for.
pub(super) struct Running<'a>(&'a Ticker);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let (lock, _) = &*self.0.state;
        lock.lock().unwrap_or_else(|p| p.into_inner()).running -= 1;
    }
}
