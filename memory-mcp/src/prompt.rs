//! The prompt that teaches an agent to use episodic memory during a task: query before, log steps during,
//! complete after, store what outlasts the task.

use rmcp::{
    handler::server::wrapper::Parameters,
    model::{PromptMessage, Role},
    prompt, prompt_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::server::MemoryServer;

/// Arguments of the `use_episodic_memory` prompt.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UseMemoryArgs {
    /// The task about to be worked on, in plain words.
    pub task: Option<String>,
    /// The area of work, e.g. "payments-service".
    pub domain: Option<String>,
}

#[prompt_router(router = "prompts", vis = "pub(crate)")]
impl MemoryServer {
    /// How to use episodic memory during a task: query it before starting, record the work as an episode while
    /// doing it, complete the episode when done, and store what is worth remembering.
    #[prompt(
        name = "use_episodic_memory",
        title = "Use episodic memory during a task"
    )]
    async fn use_episodic_memory(
        &self,
        Parameters(args): Parameters<UseMemoryArgs>,
    ) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(
            Role::User,
            instructions(&args, self.default_scope().as_str()),
        )]
    }
}

/// The instructions, made specific to the task when one is given.
fn instructions(args: &UseMemoryArgs, scope: &str) -> String {
    let task = args
        .task
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let domain = args
        .domain
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    let mut text = String::from(
        "You have an episodic memory: the `memory` MCP server. It keeps every task you record as an episode \
         (the task, the steps taken, how it ended, a reward and the lessons drawn) and free-form memories (facts, \
         preferences, decisions, notes). Use it throughout the task:\n\n",
    );
    if let Some(task) = task {
        text.push_str(&format!("The task: {task}\n\n"));
    }
    let query_args = match (task, domain) {
        (Some(t), Some(d)) => format!(
            "{{\"query\": {}, \"context\": {{\"domain\": {}}}, \"budget_tokens\": 1500}}",
            quoted(t),
            quoted(d)
        ),
        (Some(t), None) => format!("{{\"query\": {}, \"budget_tokens\": 1500}}", quoted(t)),
        _ => "{\"query\": \"<the task in plain words>\", \"budget_tokens\": 1500}".to_string(),
    };
    text.push_str(&format!(
        "1. Before you start, call `query_memory` with {query_args}. Read the past episodes it returns (their \
         outcome and reflection say what worked and what did not) and the memories, and follow what applies. \
         `get_episode` shows an episode's steps.\n\
         2. Start recording: call `create_episode` with the task description, the domain{}, the task type \
         (code_generation, debugging, refactoring, testing, analysis, documentation, review or other), and the \
         language, framework and complexity when you know them. Keep the `episode_id` it returns.\n\
         3. While you work, after each significant action (a build, a test run, an edit, a command, especially \
         one that failed) call `add_episode_step` with the tool, what you did with it, its status (success, \
         error or timeout) and its output in brief.\n\
         4. When you are done, call `complete_episode` with the outcome: success (with a one-line verdict and \
         the artifacts), partial_success (verdict, what was completed and what failed), failure (the reason and \
         error details) or abstained (the reason). It returns the reward and a reflection; read them.\n\
         5. Whenever you learn something that outlasts the task (a fact about the code, a preference the user \
         stated, a decision and its reason), store it with `store_memory` in scope \"{scope}\", written so it \
         stands alone. Storing the same content twice is harmless.\n",
        domain.map(|d| format!(" ({d})")).unwrap_or_default(),
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_task_becomes_the_first_query() {
        let args = UseMemoryArgs {
            task: Some("fix the \"flaky\" test".into()),
            domain: Some("payments".into()),
        };
        let text = instructions(&args, "project:payments");
        assert!(text.contains("The task: fix the \"flaky\" test"));
        assert!(text.contains(
            r#"{"query": "fix the \"flaky\" test", "context": {"domain": "payments"}, "budget_tokens": 1500}"#
        ));
        assert!(text.contains("the domain (payments)"));
        assert!(text.contains("scope \"project:payments\""));
        let generic = instructions(&UseMemoryArgs::default(), "default");
        assert!(generic.contains("<the task in plain words>"));
        assert!(!generic.contains("The task:"));
    }
}
