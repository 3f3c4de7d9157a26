//! Arguments and result of `execute_code`.

use memory_core::sandbox::{Execution, Language, Overrides, Request};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The languages `execute_code` runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeLanguage {
    /// JavaScript (ECMAScript 2023, QuickJS), run as a script: `console.log`, `readline()` and the string
    /// `stdin` are there; `require`, `import`, `fetch`, files, the network and the environment are not.
    #[default]
    Javascript,
}

/// Arguments of `execute_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteCode {
    /// The language (javascript).
    #[serde(default)]
    pub language: CodeLanguage,
    /// The program (at most 256 KiB).
    pub code: String,
    /// What the program reads as standard input: the string `stdin`, or line by line with `readline()` (at most
    /// 1 MiB).
    #[serde(default)]
    pub stdin: Option<String>,
    /// Wall-clock limit in milliseconds (default 5000, at most 60000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Memory limit in MiB (default 64, 4 to 512).
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Log the execution as a step of this episode (tool `execute_code`): the code as the action, the output
    /// or the error as the result.
    #[serde(default)]
    pub episode_id: Option<String>,
}

impl ExecuteCode {
    /// The sandbox request.
    pub fn request(&self) -> Request {
        Request {
            language: match self.language {
                CodeLanguage::Javascript => Language::JavaScript,
            },
            code: self.code.clone(),
            stdin: self.stdin.clone().unwrap_or_default().into_bytes(),
            overrides: Overrides {
                timeout_ms: self.timeout_ms,
                memory_mb: self.memory_mb,
            },
        }
    }
}

/// What came of running a program. A limit that stopped it is reported here: `exit_code` is then null and the
/// flag of the limit is true.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecutionOut {
    /// Standard output (at most 1 MiB).
    pub stdout: String,
    /// Standard error (at most 1 MiB): an uncaught exception is printed here.
    pub stderr: String,
    /// The exit status: 0 on success, 1 after an uncaught exception; null when a limit or a trap stopped it.
    pub exit_code: Option<i32>,
    /// Stopped by the wall-clock limit.
    pub timed_out: bool,
    /// Stopped by the CPU limit (fuel).
    pub out_of_fuel: bool,
    /// Refused memory beyond its limit.
    pub out_of_memory: bool,
    /// Ran out of call stack.
    pub stack_overflow: bool,
    /// The WebAssembly trap that stopped it, if one did.
    pub trap: Option<String>,
    /// Output beyond the limit was dropped.
    pub truncated: bool,
    /// Wall-clock time in milliseconds.
    pub duration_ms: f64,
    /// CPU used, in fuel units (about one per WebAssembly instruction).
    pub fuel_used: u64,
    /// The step number the execution was logged as, when an episode_id was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_number: Option<u32>,
}

impl From<Execution> for ExecutionOut {
    fn from(e: Execution) -> Self {
        ExecutionOut {
            stdout: e.stdout,
            stderr: e.stderr,
            exit_code: e.exit_code,
            timed_out: e.timed_out,
            out_of_fuel: e.out_of_fuel,
            out_of_memory: e.out_of_memory,
            stack_overflow: e.stack_overflow,
            trap: e.trap,
            truncated: e.truncated,
            duration_ms: e.duration_ms,
            fuel_used: e.fuel_used,
            step_number: None,
        }
    }
}
