//! Mapping failures to what a client is told, in one place: precise messages for what the caller can fix, a
//! numbered generic message (and a detailed log line) for what only the operator can.

use std::sync::atomic::{AtomicU64, Ordering};

use memory_core::Error;
use rmcp::model::{ContentBlock, IntoContents};

/// A tool's failure, as the text of a tool result with `isError: true`.
#[derive(Debug)]
pub struct ToolError(pub String);

/// Numbers internal errors, so a message a client saw can be found in the log.
static INCIDENTS: AtomicU64 = AtomicU64::new(1);

impl ToolError {
    /// A failure of the server: logged with its detail, reported by number only.
    pub fn internal(tool: &str, detail: &dyn std::fmt::Display) -> Self {
        let incident = INCIDENTS.fetch_add(1, Ordering::Relaxed);
        tracing::error!(incident, tool, "internal error: {detail}");
        ToolError(format!(
            "internal error #{incident}: the server could not complete {tool}; the server's log has the details \
             under this number"
        ))
    }

    /// What the client is told about `err`, which arose in `tool`.
    pub fn from_core(tool: &str, err: Error) -> Self {
        match err {
            Error::Validation { .. }
            | Error::InvalidId { .. }
            | Error::NotFound { .. }
            | Error::AlreadyExists { .. }
            | Error::AlreadyCompleted { .. }
            | Error::Conflict { .. }
            | Error::Changed { .. }
            | Error::EmbedderMismatch { .. }
            | Error::SchemaTooNew { .. }
            | Error::Busy { .. } => {
                ToolError(memory_core::validate::clipped(&err.to_string(), 1000).into_owned())
            }
            Error::Unavailable(detail) | Error::Unauthorized(detail) => {
                tracing::warn!(tool, "database unavailable: {detail}");
                ToolError(
                    "the database is unavailable right now; retry later (the server's log says why)".into(),
                )
            }
            other => ToolError::internal(tool, &other),
        }
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0)]
    }
}

/// Turns memory-core's errors into what the client of a tool is told.
pub trait InTool<T> {
    /// `self`, with its error mapped by [`ToolError::from_core`] for `tool`.
    fn in_tool(self, tool: &str) -> Result<T, ToolError>;
}

impl<T> InTool<T> for Result<T, Error> {
    fn in_tool(self, tool: &str) -> Result<T, ToolError> {
        self.map_err(|err| ToolError::from_core(tool, err))
    }
}
