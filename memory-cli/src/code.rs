//! `memory-cli eval [--file F | -]`: runs a JavaScript program in the code sandbox, as MCP's `execute_code`
//! does, and prints what it wrote.

use std::{io::Read as _, path::PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use memory_cli::sandbox::SandboxArgs;
use memory_core::sandbox::{Execution, Language, Overrides, Request, Sandbox};
use serde::Serialize;

use crate::output::{Format, json};

/// Arguments of `eval` when it runs a program.
#[derive(Debug, Args)]
pub struct CodeArgs {
    /// `-` reads the program from standard input (the default when --file is not given).
    #[arg(value_name = "-", conflicts_with = "file", value_parser = ["-"])]
    pub dash: Option<String>,
    /// Read the program from this file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The program's language (javascript).
    #[arg(long, default_value = "javascript", value_parser = |s: &str| s.parse::<Language>())]
    pub language: Language,
    /// A file the program reads as its standard input (`stdin`, `readline()`); none by default.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Wall-clock limit in milliseconds [default: 5000; at most 60000].
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Memory limit in MiB [default: 64; 4 to 512].
    #[arg(long, value_name = "MB")]
    pub memory_mb: Option<u64>,
    /// The code sandbox's engine and cache.
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// What `--format json` prints: the execution, as `execute_code` returns it.
#[derive(Serialize)]
struct ExecutionJson<'a> {
    stdout: &'a str,
    stderr: &'a str,
    exit_code: Option<i32>,
    timed_out: bool,
    out_of_fuel: bool,
    out_of_memory: bool,
    stack_overflow: bool,
    trap: Option<&'a str>,
    truncated: bool,
    duration_ms: f64,
    fuel_used: u64,
}

/// Reads the program and its input, runs it, and prints the result. In human format the program's standard
/// output and error are copied to ours, and a program that did not exit with 0 is an error naming why.
pub async fn run(args: CodeArgs, format: Format) -> anyhow::Result<()> {
    let code = match &args.file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the program {}", path.display()))?,
        None => {
            let mut code = String::new();
            std::io::stdin()
                .read_to_string(&mut code)
                .context("cannot read the program from standard input")?;
            code
        }
    };
    let stdin = match &args.input {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read the input {}", path.display()))?,
        None => Vec::new(),
    };
    let request = Request {
        language: args.language,
        code,
        stdin,
        overrides: Overrides {
            timeout_ms: args.timeout_ms,
            memory_mb: args.memory_mb,
        },
    };
    let config = args.sandbox.config(args.sandbox.module()?);
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::new(config))
        .await
        .context("starting the code sandbox")??;
    let done = sandbox.execute(request).await?;
    match format {
        Format::Json => crate::print(json(&ExecutionJson {
            stdout: &done.stdout,
            stderr: &done.stderr,
            exit_code: done.exit_code,
            timed_out: done.timed_out,
            out_of_fuel: done.out_of_fuel,
            out_of_memory: done.out_of_memory,
            stack_overflow: done.stack_overflow,
            trap: done.trap.as_deref(),
            truncated: done.truncated,
            duration_ms: done.duration_ms,
            fuel_used: done.fuel_used,
        })?),
        Format::Human => {
            crate::print(done.stdout.clone())?;
            eprint!("{}", done.stderr);
            match why_not_ok(&done) {
                Some(reason) => bail!("{reason}"),
                None => Ok(()),
            }
        }
    }
}

/// Why an execution did not succeed, in words, or `None` when it exited with 0 and nothing was cut.
fn why_not_ok(done: &Execution) -> Option<String> {
    let mut reasons = Vec::new();
    if done.timed_out {
        reasons.push(format!(
            "stopped by the time limit after {:.0} ms",
            done.duration_ms
        ));
    }
    if done.out_of_fuel {
        reasons.push(format!(
            "stopped by the CPU limit after {} units of fuel",
            done.fuel_used
        ));
    }
    if done.out_of_memory {
        reasons.push("refused memory beyond its limit".to_string());
    }
    if let Some(trap) = done
        .trap
        .as_deref()
        .filter(|_| !done.timed_out && !done.out_of_fuel)
    {
        reasons.push(format!("stopped by a trap ({trap})"));
    }
    match done.exit_code {
        Some(0) | None => {}
        Some(code) => reasons.push(format!("the program exited with status {code}")),
    }
    if done.truncated {
        reasons.push("its output was cut at the limit".to_string());
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
