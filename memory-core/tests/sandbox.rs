//! The code sandbox against its threat model, with real wasmtime and the real QuickJS module (built by
//! `scripts/install-sandbox.sh`; `MEMORY_SANDBOX_WASM` names another).
#![cfg(feature = "sandbox")]

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use memory_core::{
    Error,
    sandbox::{Execution, Overrides, Request, Sandbox, SandboxConfig},
};

fn module() -> PathBuf {
    std::env::var_os("MEMORY_SANDBOX_WASM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sandbox/quickjs.wasm"),
        PathBuf::from,
    )
}

/// A config whose compiled module is cached under the target directory, so test runs after the first load it.
fn config() -> SandboxConfig {
    let mut config = SandboxConfig::new(module());
    config.cache_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache"));
    config
}

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::new(config()).unwrap_or_else(|e| {
            panic!("{e} (run scripts/install-sandbox.sh to build the JavaScript engine)")
        })
    })
}

fn run(code: &str) -> Execution {
    sandbox().run_blocking(&Request::javascript(code)).unwrap()
}

fn fails_cleanly(code: &str) -> Execution {
    let done = run(code);
    assert_ne!(done.exit_code, Some(0), "{code} succeeded: {done:?}");
    done
}

#[test]
fn prints_what_the_program_logs() {
    let done = run("console.log(1 + 1)");
    assert_eq!(done.stdout, "2\n");
    assert_eq!(done.stderr, "");
    assert_eq!(done.exit_code, Some(0));
    assert!(!done.timed_out && !done.out_of_fuel && !done.out_of_memory && !done.truncated);
    assert!(done.fuel_used > 0);
    let done =
        run("console.log('a', 1, [1, {b: null}], undefined); console.error('e'); print(2n ** 70n)");
    assert_eq!(
        done.stdout,
        "a 1 [1,{\"b\":null}] undefined\n1180591620717411303424n\n"
    );
    assert_eq!(done.stderr, "e\n");
}

#[test]
fn stdin_reaches_the_program() {
    let request = Request {
        stdin: b"first line\nsecond\n".to_vec(),
        ..Request::javascript(
            "const a = readline(); const b = readline(); \
             console.log(JSON.stringify([a, b, readline(), stdin.length]))",
        )
    };
    let done = sandbox().run_blocking(&request).unwrap();
    assert_eq!(done.stdout, "[\"first line\",\"second\",null,18]\n");
}

#[test]
fn an_uncaught_throw_exits_with_1_and_the_message_on_stderr() {
    let done = run("console.log('before'); throw new TypeError('no such thing')");
    assert_eq!(done.exit_code, Some(1));
    assert_eq!(done.stdout, "before\n");
    assert!(
        done.stderr.contains("TypeError: no such thing"),
        "{}",
        done.stderr
    );
    let done = run("Promise.reject(new Error('later'))");
    assert_eq!(done.exit_code, Some(1));
    assert!(done.stderr.contains("later"), "{}", done.stderr);
    let done = run("syntax error here");
    assert_eq!(done.exit_code, Some(1));
    assert!(done.stderr.contains("SyntaxError"), "{}", done.stderr);
}

#[test]
fn promises_and_async_functions_run_to_completion() {
    let done = run("(async () => { await null; console.log('resolved') })()");
    assert_eq!(done.stdout, "resolved\n");
    assert_eq!(done.exit_code, Some(0));
}

#[test]
fn an_infinite_loop_is_stopped_by_fuel() {
    let done = fails_cleanly("for (;;) {}");
    assert!(done.out_of_fuel, "{done:?}");
    assert!(!done.timed_out);
    assert_eq!(done.exit_code, None);
    assert_eq!(done.fuel_used, sandbox().config().limits.fuel);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_timeout() {
    let mut config = config();
    config.limits.fuel = u64::MAX / 2;
    let sandbox = Sandbox::new(config).unwrap();
    let request = Request {
        overrides: Overrides {
            timeout_ms: Some(300),
            ..Overrides::default()
        },
        ..Request::javascript("console.log('started'); for (;;) {}")
    };
    let done = sandbox.run_blocking(&request).unwrap();
    assert!(done.timed_out, "{done:?}");
    assert!(!done.out_of_fuel);
    assert_eq!(done.exit_code, None);
    assert_eq!(done.stdout, "started\n", "output before the stop is kept");
}

#[test]
fn a_memory_bomb_is_stopped_by_the_limit() {
    let request = Request {
        overrides: Overrides {
            memory_mb: Some(16),
            ..Overrides::default()
        },
        ..Request::javascript("const a = []; for (;;) a.push(new Array(100000).fill(1.5));")
    };
    let done = sandbox().run_blocking(&request).unwrap();
    assert!(done.out_of_memory, "{done:?}");
    assert_ne!(done.exit_code, Some(0));
    let done = run("const parts = []; for (let i = 0; ; i++) parts.push('x'.repeat(1 << 20) + i);");
    assert!(done.out_of_memory, "{done:?}");
    assert_ne!(done.exit_code, Some(0));
}

#[test]
fn deep_recursion_traps_cleanly() {
    let done = fails_cleanly("function f(n) { return f(n + 1) + 1 } f(0)");
    assert!(done.stack_overflow, "{done:?}");
    assert_eq!(
        done.trap.as_deref(),
        Some("wasm trap: call stack exhausted")
    );
    // Catching the overflow inside the program does not help: the trap ends the instance.
    let done =
        fails_cleanly("const f = () => { try { return f() } catch (e) { return 1 } }; print(f())");
    assert!(done.stack_overflow, "{done:?}");
    assert_eq!(done.exit_code, None);
    // The sandbox is still usable afterwards.
    assert_eq!(run("console.log('fine')").stdout, "fine\n");
}

#[test]
fn output_floods_are_truncated() {
    let done =
        run("const line = 'y'.repeat(1023); for (let i = 0; i < 5000; i++) console.log(line)");
    let limit = sandbox().config().limits.stdout_bytes;
    assert!(done.truncated, "{:?}", done.exit_code);
    assert_eq!(done.stdout.len(), limit);
    assert_eq!(done.exit_code, Some(0));
    // Lines of 5 KB, so the limit is reached in a few hundred calls however fast the machine is.
    let done = run("const line = 'flood'.repeat(1000); for (;;) console.error(line)");
    assert!(done.truncated);
    assert_eq!(done.stderr.len(), sandbox().config().limits.stderr_bytes);
    assert!(done.out_of_fuel || done.timed_out, "{done:?}");
}

#[test]
fn nothing_outside_the_sandbox_can_be_reached() {
    for code in [
        "require('fs').readFileSync('/etc/passwd')",
        "import * as std from 'std'; std.loadFile('/etc/passwd')",
        "import('os').then(os => console.log(os.readdir('/')))",
        "std.loadFile('/etc/passwd')",
        "os.open('/etc/passwd')",
        "fetch('http://127.0.0.1:1/')",
        "new WebSocket('ws://127.0.0.1:1/')",
        "new XMLHttpRequest()",
        "console.log(process.env.HOME)",
        "Deno.readTextFileSync('/etc/passwd')",
        "scriptArgs",
        "__write(1, 'x')",
    ] {
        let done = run(code);
        assert_eq!(done.exit_code, Some(1), "{code}: {done:?}");
        assert!(
            done.stderr.contains("Error") || done.stderr.contains("not defined"),
            "{code}: {}",
            done.stderr
        );
        assert!(!done.stdout.contains("root:"), "{code}");
    }
    // Dynamic import has no module loader to go to, even for a path that exists on the host.
    let done = run(
        "import('/etc/passwd').then(() => console.log('loaded'), e => console.log('refused: ' + e))",
    );
    assert!(done.stdout.starts_with("refused"), "{done:?}");
    // The globals hold the language's own objects and the runner's console, readline and stdin, nothing else.
    let done = run("const own = ['console', 'print', 'readline', 'stdin']; \
         const seen = Object.getOwnPropertyNames(globalThis).filter(n => own.includes(n) || /^(std|os|require|process|fetch|__)/.test(n)); \
         console.log(seen.sort().join(','))");
    assert_eq!(done.stdout, "console,print,readline,stdin\n");
}

#[test]
fn executions_share_nothing() {
    assert_eq!(
        run("globalThis.leak = 42; Object.prototype.polluted = 1; console.log(typeof leak)").stdout,
        "number\n"
    );
    assert_eq!(
        run("console.log(typeof leak, ({}).polluted)").stdout,
        "undefined undefined\n"
    );
}

#[test]
fn bad_requests_are_refused_with_the_field_named() {
    let limits = sandbox().config().limits;
    let big = Request::javascript("x".repeat(limits.code_bytes + 1));
    let err = sandbox().run_blocking(&big).unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "code"),
        "{err}"
    );
    let request = Request {
        overrides: Overrides {
            timeout_ms: Some(0),
            ..Overrides::default()
        },
        ..Request::javascript("1")
    };
    let err = sandbox().run_blocking(&request).unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "timeout_ms"),
        "{err}"
    );
    assert!("python".parse::<memory_core::sandbox::Language>().is_err());
    assert!(
        "JavaScript"
            .parse::<memory_core::sandbox::Language>()
            .is_ok()
    );
}

#[test]
fn a_missing_or_foreign_module_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Sandbox::new(SandboxConfig::new(dir.path().join("absent.wasm"))).unwrap_err();
    assert!(err.to_string().contains("absent.wasm"), "{err}");
    let path = dir.path().join("sockets.wat");
    std::fs::write(
        &path,
        r#"(module (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
           (memory (export "memory") 1) (func (export "_start")))"#,
    )
    .unwrap();
    let err = Sandbox::new(SandboxConfig::new(&path)).unwrap_err();
    assert!(err.to_string().contains("sock_accept"), "{err}");
}

#[test]
fn the_compiled_module_is_cached_and_a_damaged_cache_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.cache_dir = Some(dir.path().join("cache"));
    let first = Sandbox::new(config.clone()).unwrap();
    assert!(!first.loaded_from_cache());
    let second = Sandbox::new(config.clone()).unwrap();
    assert!(second.loaded_from_cache());
    assert_eq!(
        second
            .run_blocking(&Request::javascript("print(6 * 7)"))
            .unwrap()
            .stdout,
        "42\n"
    );
    for entry in std::fs::read_dir(dir.path().join("cache")).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let third = Sandbox::new(config).unwrap();
    assert!(
        !third.loaded_from_cache(),
        "a damaged cache file is recompiled, not loaded"
    );
    assert_eq!(
        third
            .run_blocking(&Request::javascript("print(1)"))
            .unwrap()
            .stdout,
        "1\n"
    );
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_parallel_executions_stay_within_the_bound_and_leave_no_memory_behind() {
    let mut config = config();
    config.concurrency = 4;
    let sandbox = Sandbox::new(config).unwrap();
    let round = async || {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let sandbox = sandbox.clone();
                tokio::spawn(async move {
                    sandbox
                        .execute(Request::javascript(format!("console.log({i} * 2)")))
                        .await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let done = task.await.unwrap().unwrap();
            assert_eq!(done.stdout, format!("{}\n", i * 2));
        }
    };
    round().await;
    let after_first = resident_bytes();
    round().await;
    round().await;
    let after_third = resident_bytes();
    let load = sandbox.load();
    assert_eq!(load.peak_running, 4, "{load:?}");
    assert_eq!((load.running, load.waiting), (0, 0));
    let growth = after_third.saturating_sub(after_first);
    assert!(
        growth < 32 << 20,
        "resident memory grew by {growth} bytes over 400 executions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_at_once_and_the_sandbox_recovers() {
    let mut config = config();
    config.concurrency = 1;
    config.queue = 1;
    config.limits.fuel = u64::MAX / 2;
    let sandbox = Sandbox::new(config).unwrap();
    let slow = || Request {
        overrides: Overrides {
            timeout_ms: Some(500),
            ..Overrides::default()
        },
        ..Request::javascript("for (;;) {}")
    };
    let running = tokio::spawn({
        let sandbox = sandbox.clone();
        let request = slow();
        async move { sandbox.execute(request).await }
    });
    while sandbox.load().running == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiting = tokio::spawn({
        let sandbox = sandbox.clone();
        let request = slow();
        async move { sandbox.execute(request).await }
    });
    while sandbox.load().waiting == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = sandbox.execute(Request::javascript("1")).await.unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    assert!(err.to_string().contains("retry"), "{err}");
    // A caller that stops waiting leaves the queue.
    let mut config = self::config();
    config.concurrency = 1;
    let single = Sandbox::new(config).unwrap();
    let blocker = tokio::spawn({
        let single = single.clone();
        let request = slow();
        async move { single.execute(request).await }
    });
    while single.load().running == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        single.execute(Request::javascript("1")),
    )
    .await;
    assert!(gave_up.is_err(), "it had to wait");
    assert_eq!(single.load().waiting, 0);
    blocker.await.unwrap().unwrap();
    let first = running.await.unwrap().unwrap();
    assert!(first.timed_out, "{first:?}");
    assert!(waiting.await.unwrap().unwrap().timed_out);
    let done = sandbox
        .execute(Request::javascript("print('again')"))
        .await
        .unwrap();
    assert_eq!(done.stdout, "again\n");
}
