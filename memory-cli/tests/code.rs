//! `eval` running programs in the code sandbox (the engine that scripts/install-sandbox.sh builds), beside
//! `eval retrieval`.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use crate::support::{Cli, failed, parse_json, succeeded};

fn module() -> PathBuf {
    let path = std::env::var_os("MEMORY_SANDBOX_WASM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sandbox/quickjs.wasm"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the sandbox's JavaScript engine is not at {}: run scripts/install-sandbox.sh",
        path.display()
    );
    path
}

/// `memory-cli` with the engine named and its compilation cached for all the tests.
fn command(cli: &Cli) -> Command {
    let mut cmd = cli.command();
    cmd.env("MEMORY_SANDBOX_WASM", module()).env(
        "MEMORY_SANDBOX_CACHE",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache"),
    );
    cmd
}

/// Runs `args` with `input` on standard input.
fn with_stdin(mut cmd: Command, args: &[&str], input: &str) -> Output {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run memory-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the program");
    child.wait_with_output().expect("wait")
}

#[test]
fn a_program_from_stdin_prints_its_output() {
    let cli = Cli::new();
    assert_eq!(
        succeeded(with_stdin(
            command(&cli),
            &["eval", "-"],
            "console.log(1+1)"
        )),
        "2\n"
    );
    assert_eq!(
        succeeded(with_stdin(command(&cli), &["eval"], "print('no dash')")),
        "no dash\n"
    );
}

#[test]
fn a_program_from_a_file_reads_its_input_file() {
    let cli = Cli::new();
    let program = cli.path().join("sum.js");
    std::fs::write(
        &program,
        "let t = 0, l; while ((l = readline()) !== null) t += Number(l); console.log(t)",
    )
    .unwrap();
    let input = cli.path().join("numbers.txt");
    std::fs::write(&input, "1\n2\n3\n").unwrap();
    let out = command(&cli)
        .args(["eval", "--file"])
        .arg(&program)
        .arg("--input")
        .arg(&input)
        .output()
        .expect("run");
    assert_eq!(succeeded(out), "6\n");
}

#[test]
fn a_failing_program_fails_the_command_with_its_stderr_and_the_reason() {
    let cli = Cli::new();
    let out = with_stdin(
        command(&cli),
        &["eval", "-"],
        "console.log('partial'); null.x",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "partial\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TypeError"), "{stderr}");
    assert!(
        stderr.ends_with("error: the program exited with status 1\n"),
        "{stderr}"
    );

    let out = with_stdin(
        command(&cli),
        &["eval", "--timeout-ms", "100"],
        "for (;;) {}",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped by the time limit"));
}

#[test]
fn json_output_is_the_execution() {
    let cli = Cli::new();
    let out = with_stdin(
        command(&cli),
        &["--format", "json", "eval", "--memory-mb", "8"],
        "const a = []; for (;;) a.push(new Float64Array(1 << 16))",
    );
    let done = parse_json(&succeeded(out));
    assert_eq!(done["out_of_memory"], true, "{done}");
    assert_ne!(done["exit_code"], 0);
    assert!(done["fuel_used"].as_u64().unwrap() > 0);
}

#[test]
fn bad_options_and_a_missing_engine_are_clear_errors() {
    let cli = Cli::new();
    let out = with_stdin(command(&cli), &["eval", "--timeout-ms", "0"], "1");
    failed(out, "timeout_ms");
    let out = with_stdin(command(&cli), &["eval", "--language", "cobol"], "1");
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let out = command(&cli)
        .args(["eval", "--file", "/nonexistent/x.js"])
        .output()
        .expect("run");
    failed(out, "/nonexistent/x.js");
    let out = command(&cli)
        .args(["eval", "--file", "a.js", "-"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "--file and - conflict");

    let mut cmd = cli.command();
    cmd.env("MEMORY_SANDBOX_WASM", cli.path().join("gone.wasm"));
    failed(with_stdin(cmd, &["eval", "-"], "1"), "gone.wasm");
}

#[test]
fn with_no_engine_named_or_installed_the_built_in_one_runs() {
    let cli = Cli::new();
    let mut cmd = cli.command();
    cmd.current_dir(cli.path()).env(
        "MEMORY_SANDBOX_CACHE",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache"),
    );
    assert_eq!(
        succeeded(with_stdin(cmd, &["eval", "-"], "console.log(6 * 7)")),
        "42\n"
    );
}

/// The engine the binaries carry is the one scripts/install-sandbox.sh builds from the pinned sources.
#[test]
fn the_built_in_engine_is_what_the_install_script_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = root.join(".tools/sandbox/quickjs.wasm");
    assert!(
        std::fs::read(root.join("sandbox/quickjs.wasm")).unwrap() == std::fs::read(&built).unwrap(),
        "sandbox/quickjs.wasm differs from {}: copy the freshly built module over it",
        built.display()
    );
}

#[test]
fn an_engine_in_the_data_directory_is_found() {
    let cli = Cli::new();
    let dir = cli.path().join("data/memory/sandbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(module(), dir.join("quickjs.wasm")).unwrap();
    let mut cmd = cli.command();
    cmd.current_dir(cli.path()).env(
        "MEMORY_SANDBOX_CACHE",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache"),
    );
    assert_eq!(
        succeeded(with_stdin(cmd, &["eval"], "print(typeof stdin)")),
        "string\n"
    );
}
