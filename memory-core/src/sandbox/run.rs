//! One execution: a fresh store, WASI context and instance of the compiled module, run under the limits, and
//! what came out of it.

use std::time::Instant;

use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{
    I32Exit, WasiCtxBuilder,
    p1::WasiP1Ctx,
    p2::pipe::{MemoryInputPipe, MemoryOutputPipe},
};

use super::{
    Execution, Limits,
    engine::{TICK, sandbox_error},
};
use crate::Result;

/// What a store carries: the guest's WASI context and its resource limiter.
pub(crate) struct RunState {
    pub(super) wasi: WasiP1Ctx,
    limiter: Limiter,
}

/// Caps linear memory and tables, and remembers whether the guest was refused memory.
struct Limiter {
    memory_bytes: usize,
    refused_memory: bool,
}

/// Table elements a guest may have (QuickJS needs a few thousand for its function pointers).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        if !allowed {
            self.refused_memory = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Runs `code` with `stdin` once, on the calling thread, which it blocks until the guest ends or a limit stops
/// it. Limits hit and traps are part of the [`Execution`]; `Err` is for failures of the host.
pub(super) fn run(
    loaded: &super::engine::Loaded,
    code: &str,
    stdin: &[u8],
    limits: &Limits,
) -> Result<Execution> {
    let started = Instant::now();
    // The runner reads the script's length, a newline, the script, then the script's own input.
    let mut input = Vec::with_capacity(code.len() + stdin.len() + 24);
    input.extend_from_slice(format!("{}\n", code.len()).as_bytes());
    input.extend_from_slice(code.as_bytes());
    input.extend_from_slice(stdin);
    // One byte over the limit: a stream that filled up completely was truncated.
    let stdout = MemoryOutputPipe::new(limits.stdout_bytes + 1);
    let stderr = MemoryOutputPipe::new(limits.stderr_bytes + 1);
    // No preopened directories, no sockets or name lookup, no environment, one argument: the program's name.
    let wasi = WasiCtxBuilder::new()
        .stdin(MemoryInputPipe::new(input))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .arg("quickjs")
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build_p1();
    let engine = loaded.pre.module().engine();
    let mut store = Store::new(
        engine,
        RunState {
            wasi,
            limiter: Limiter {
                memory_bytes: limits.memory_bytes,
                refused_memory: false,
            },
        },
    );
    store.limiter(|state| &mut state.limiter);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| sandbox_error(format!("cannot set fuel: {e:#}")))?;
    let ticks = limits.timeout.as_nanos().div_ceil(TICK.as_nanos()) + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();

    let outcome = loaded
        .pre
        .instantiate(&mut store)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
        .and_then(|start| start.call(&mut store, ()));

    let fuel_used = limits.fuel - store.get_fuel().unwrap_or(limits.fuel);
    let refused_memory = store.data().limiter.refused_memory;
    drop(store);
    let mut execution = Execution {
        exit_code: None,
        timed_out: false,
        out_of_fuel: false,
        out_of_memory: refused_memory,
        stack_overflow: false,
        trap: None,
        truncated: false,
        stdout: String::new(),
        stderr: String::new(),
        duration_ms: 0.0,
        fuel_used,
    };
    match outcome {
        Ok(()) => execution.exit_code = Some(0),
        Err(err) => {
            if let Some(exit) = err.downcast_ref::<I32Exit>() {
                execution.exit_code = Some(exit.0);
            } else if let Some(trap) = err.downcast_ref::<Trap>() {
                match trap {
                    Trap::Interrupt => execution.timed_out = true,
                    Trap::OutOfFuel => execution.out_of_fuel = true,
                    Trap::StackOverflow => execution.stack_overflow = true,
                    _ => {}
                }
                execution.trap = Some(trap.to_string());
            } else {
                execution.trap = Some(format!("{err:#}"));
            }
        }
    }
    let (out, out_truncated) = take(&stdout, limits.stdout_bytes);
    let (err, err_truncated) = take(&stderr, limits.stderr_bytes);
    execution.stdout = out;
    execution.stderr = err;
    execution.truncated = out_truncated || err_truncated;
    execution.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(execution)
}

/// The first `limit` bytes written to `pipe` as text (invalid UTF-8 replaced), and whether there were more.
fn take(pipe: &MemoryOutputPipe, limit: usize) -> (String, bool) {
    let bytes = pipe.contents();
    let truncated = bytes.len() > limit;
    let kept = &bytes[..bytes.len().min(limit)];
    (String::from_utf8_lossy(kept).into_owned(), truncated)
}
