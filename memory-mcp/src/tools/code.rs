//! The code tool: run a short JavaScript program in the sandbox, optionally logged as a step of an episode.

use memory_core::{
    ExecutionStep, Json as StoredJson, StepResult,
    sandbox::Execution,
    validate::{MAX_NAME_BYTES, MAX_STEP_PAYLOAD_BYTES},
};
use rmcp::{Json, handler::server::tool::Extension, tool, tool_router};
use serde_json::json;

use crate::{
    caller::Caller,
    error::{InTool, ToolError},
    params::Parameters,
    server::MemoryServer,
    wire::{ExecuteCode, ExecutionOut, episode_id},
};

#[tool_router(router = code_tools, vis = "pub(crate)")]
impl MemoryServer {
    /// Run a short JavaScript program in an isolated sandbox and get its stdout, stderr, exit code and cost: to
    /// test an idea, parse or transform text or JSON (for example what query_memory returned), or check an
    /// algorithm. The program cannot touch files, the network or the environment; it is stopped by a CPU
    /// limit, a wall-clock limit (default 5 s), a memory limit (default 64 MiB) and an output limit (1 MiB each),
    /// and a limit hit is reported in the result, not as an error. `console.log` prints; `stdin` holds the
    /// input, which `readline()` also reads line by line. Pass episode_id to log the run as a step.
    #[tool(
        title = "Execute code",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn execute_code(
        &self,
        Parameters(args): Parameters<ExecuteCode>,
        Extension(caller): Extension<Caller>,
    ) -> Result<Json<ExecutionOut>, ToolError> {
        const TOOL: &str = super::OWN_ADMISSION;
        let episode = args
            .episode_id
            .as_deref()
            .map(episode_id)
            .transpose()
            .in_tool(TOOL)?;
        if let Some(id) = episode {
            self.check_episode(&caller, id, TOOL).await?;
        }
        let request = args.request();
        let sandbox = self.sandbox().await.map_err(ToolError)?;
        let execution = sandbox.execute(request).await.in_tool(TOOL)?;
        let step = episode.map(|_| step(&args, &execution));
        let mut out = ExecutionOut::from(execution);
        if let (Some(id), Some(step)) = (episode, step) {
            out.step_number = Some(self.memory().log_step(id, step).await.in_tool(TOOL)?);
        }
        Ok(Json(out))
    }
}

/// The episode step an execution is logged as: the language and the code's first line as the action, the code
/// and limits as parameters, the output (success), the error output or trap (error), or the limit (timeout) as
/// the result.
fn step(args: &ExecuteCode, execution: &Execution) -> ExecutionStep {
    let first_line = args
        .code
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let action: String = format!("javascript: {}", first_line.trim())
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let result = if execution.timed_out {
        StepResult::Timeout {
            message: format!("stopped after {:.0} ms", execution.duration_ms),
        }
    } else if execution.exit_code == Some(0) {
        StepResult::Success {
            output: cut(&execution.stdout, MAX_STEP_PAYLOAD_BYTES).to_string(),
        }
    } else {
        let mut message = execution.stderr.clone();
        if let Some(trap) = &execution.trap {
            message.push_str(trap);
        }
        StepResult::Error {
            message: cut(&message, MAX_STEP_PAYLOAD_BYTES).to_string(),
        }
    };
    let mut step = ExecutionStep::new("execute_code", cut(&action, MAX_NAME_BYTES), result);
    step.parameters = StoredJson::from(json!({
        "language": "javascript",
        "code": cut(&args.code, MAX_STEP_PAYLOAD_BYTES / 2),
        "code_bytes": args.code.len(),
        "timeout_ms": args.timeout_ms,
        "memory_mb": args.memory_mb,
        "exit_code": execution.exit_code,
        "fuel_used": execution.fuel_used,
    }));
    step.latency_ms = execution.duration_ms.round() as u64;
    step
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
