//! `memory-cli hook [EVENT]`: an agent's hook, fed the event's JSON on standard input (Claude Code's payload:
//! `hook_event_name`, `session_id`, `cwd`, …). A prompt starts an episode, each tool call becomes a step, the end
//! of the turn completes the episode (and learns from it); a session's start and each prompt get the relevant
//! memory back on standard output. It never fails the agent: whatever goes wrong is logged to the hooks' log file
//! and the hook exits 0 with nothing to add.

mod agents;
mod log;
mod project;
mod recall;
mod state;

use std::{
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context as _, bail};
use clap::Args;
use memory_cli::open::{self, Intent, StoreArgs};
use memory_core::{
    EpisodeId, Memory, NewEpisode, TaskContext,
    capture::{self, Evidence, ToolCall},
    validate::clip,
};
use memory_storage_turso::{DbConfig, TursoStore};
use serde_json::{Map, Value, json};

use self::state::{Locked, Project};

pub use self::log::recent;

/// The largest event read from standard input.
const MAX_EVENT_BYTES: u64 = 16 * 1024 * 1024;

/// Arguments of `hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The event (`SessionStart`, `UserPromptSubmit`, `PostToolUse`, `PostToolUseFailure`, `Stop`,
    /// `PreCompact`, `SessionEnd`); by default the payload's `hook_event_name`.
    event: Option<String>,
    /// Tools whose calls are not recorded (comma-separated names, e.g. `WebFetch,Read`).
    #[arg(long, env = "MEMORY_HOOKS_EXCLUDE_TOOLS", value_delimiter = ',')]
    exclude_tools: Vec<String>,
    /// Paths under which nothing is recorded: a session in one captures nothing, a tool call naming one is not
    /// a step (comma-separated; relative ones are taken from the session's directory).
    #[arg(long, env = "MEMORY_HOOKS_EXCLUDE_PATHS", value_delimiter = ',')]
    exclude_paths: Vec<String>,
}

impl HookArgs {
    /// Whether the settings keep `event` out of the store: its directory, its tool or a path it names is excluded.
    fn excludes(&self, event: &Map<String, Value>) -> Option<String> {
        let cwd = Path::new(field(event, "cwd").unwrap_or(""));
        let paths: Vec<PathBuf> = self
            .exclude_paths
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| cwd.join(p))
            .collect();
        let under = |path: &str| paths.iter().any(|p| cwd.join(path).starts_with(p));
        if paths.iter().any(|p| cwd.starts_with(p)) {
            return Some(format!("{} is excluded", cwd.display()));
        }
        let tool = field(event, "tool_name")?;
        if self.exclude_tools.iter().any(|t| t.trim() == tool) {
            return Some(format!("tool {tool} is excluded"));
        }
        let input = event.get("tool_input")?;
        let named = ["file_path", "path", "notebook_path"]
            .iter()
            .filter_map(|k| input.get(*k).and_then(Value::as_str))
            .any(under);
        let in_command = input
            .get("command")
            .and_then(Value::as_str)
            .is_some_and(|c| {
                c.split_whitespace()
                    .any(|w| under(w.trim_matches(['\'', '"'])))
            });
        (named || in_command).then(|| format!("a path of the {tool} call is excluded"))
    }
}

/// Handles one event; prints what the agent should be given, if anything. Never returns an error.
pub async fn run(args: HookArgs, store: &StoreArgs) {
    let started = Instant::now();
    let dir = open::db_config(store)
        .and_then(|config| hooks_dir(&config))
        .ok();
    let outcome = handle(args, store, dir.as_deref()).await;
    let Some(dir) = dir else { return };
    match outcome {
        Ok((event, said, output)) => {
            if let Some(output) = output {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout
                    .write_all(output.as_bytes())
                    .and_then(|()| stdout.flush());
            }
            log::line(&dir, &event, "ok", &said, started.elapsed());
        }
        Err(err) => log::line(
            &dir,
            "hook",
            "error",
            &memory_cli::one_line(&format!("{err:#}")),
            started.elapsed(),
        ),
    }
}

/// Where the hooks keep their sessions' state and their log: beside the store's cache file.
pub fn hooks_dir(config: &DbConfig) -> anyhow::Result<PathBuf> {
    Ok(open::cache_path(config)?.with_extension("hooks"))
}

/// What one event is: its name, what was done (for the log) and what to print.
type Handled = (String, String, Option<String>);

async fn handle(args: HookArgs, store: &StoreArgs, dir: Option<&Path>) -> anyhow::Result<Handled> {
    let dir = dir.context("no store to capture into")?;
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_EVENT_BYTES)
        .read_to_string(&mut text)
        .context("reading the event from standard input")?;
    let Value::Object(mut event) =
        serde_json::from_str::<Value>(&text).context("the event is not JSON")?
    else {
        bail!("the event is not a JSON object");
    };
    let name = match &args.event {
        Some(name) => name.clone(),
        None => field(&event, "hook_event_name")
            .context("no event named: pass one or send `hook_event_name`")?
            .to_string(),
    };
    let (name, agent) = agents::normalize(&name, &mut event);
    if let Some(why) = args.excludes(&event) {
        return Ok((name, format!("not recorded: {why}"), None));
    }
    let recall = agents::takes_context(agent, &name);
    let session_id = field(&event, "session_id").context("the event has no `session_id`")?;
    let mut locked = Locked::open(dir, session_id)?;
    let config = open::db_config(store)?;
    let (said, output) = match name.as_str() {
        "SessionStart" => session_start(&config, store, &event, &mut locked).await?,
        "UserPromptSubmit" => prompt(&config, store, &event, recall, &mut locked).await?,
        "PostToolUse" | "PostToolUseFailure" => {
            (tool_use(&config, &event, &mut locked).await?, None)
        }
        "Stop" => (stop(&config, store, &event, &mut locked).await?, None),
        "PreCompact" => (close_open(&config, &mut locked).await?, None),
        "SessionEnd" => {
            let said = close_open(&config, &mut locked).await?;
            locked.remove()?;
            return Ok((name, said, None));
        }
        other => (format!("{other}: nothing to do"), None),
    };
    locked.save()?;
    let output = output.and_then(|context| agents::output(agent, &name, &context));
    Ok((name, said, output))
}

fn field<'a>(event: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    event.get(name).and_then(Value::as_str)
}

/// The session's project, found once.
fn project(event: &Map<String, Value>, locked: &mut Locked) -> Project {
    if let Some(project) = &locked.session.project {
        return project.clone();
    }
    let cwd = field(event, "cwd")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CLAUDE_PROJECT_DIR").map(PathBuf::from))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let found = project::detect(&cwd);
    locked.session.project = Some(found.clone());
    found
}

/// A new session (or one resumed or compacted): closes what is open, then gives the project's lessons.
async fn session_start(
    config: &DbConfig,
    store: &StoreArgs,
    event: &Map<String, Value>,
    locked: &mut Locked,
) -> anyhow::Result<(String, Option<String>)> {
    // What was given before a compaction or in an earlier run is no longer in the agent's context.
    locked.session.injected.clear();
    let project = project(event, locked);
    let opened = match open::open(config, store, Intent::Read).await {
        Ok(opened) => opened,
        Err(err) if is_no_store(&err) => return Ok(("no store yet".into(), None)),
        Err(err) => return Err(err),
    };
    let closed = close(&opened.memory, None, locked).await;
    let block = recall::at_start(
        &opened.memory,
        &opened.patterns,
        &project,
        &mut locked.session,
    )
    .await;
    opened.memory.close().await?;
    let (closed, block) = (closed?, block?);
    let said = format!("{closed}; {} for {}", given(&block), project.name);
    Ok((said, block))
}

/// A prompt: closes the turn left open, gives what matches the prompt, and starts its episode.
async fn prompt(
    config: &DbConfig,
    store: &StoreArgs,
    event: &Map<String, Value>,
    recall: bool,
    locked: &mut Locked,
) -> anyhow::Result<(String, Option<String>)> {
    let text = field(event, "prompt").unwrap_or("").trim();
    let session_id = field(event, "session_id").unwrap_or("");
    let project = project(event, locked);
    let opened = open::open(config, store, Intent::Write).await?;
    let work = async {
        let closed = close(&opened.memory, None, locked).await?;
        let block = if text.is_empty() || !recall {
            None
        } else {
            recall::on_prompt(
                &opened.records,
                &project,
                text,
                session_id,
                &mut locked.session,
            )
            .await?
        };
        let id = start_episode(
            &opened.memory,
            &opened.primary,
            event,
            &project,
            text,
            locked,
        )
        .await?;
        anyhow::Ok((format!("{closed}; {}; episode {id}", given(&block)), block))
    };
    let done = work.await;
    opened.memory.close().await?;
    done
}

fn given(block: &Option<String>) -> String {
    match block {
        Some(text) => format!("{} tokens given", memory_core::context::count_tokens(text)),
        None => "nothing given".into(),
    }
}

/// Starts the turn's episode: the prompt is its task, the project its domain, the session its provenance.
async fn start_episode(
    memory: &Memory,
    primary: &TursoStore,
    event: &Map<String, Value>,
    project: &Project,
    prompt: &str,
    locked: &mut Locked,
) -> anyhow::Result<EpisodeId> {
    let session_id = field(event, "session_id").unwrap_or("");
    let task = if prompt.is_empty() {
        format!("work in {}", project.name)
    } else {
        let task = memory_core::redact::redact(prompt);
        clip(&task, memory_core::validate::MAX_TASK_DESCRIPTION_BYTES).to_string()
    };
    let context = TaskContext {
        domain: project.name.clone(),
        language: project.language.clone(),
        framework: project.framework.clone(),
        tags: vec!["claude-code".into(), "live".into()],
        ..TaskContext::default()
    };
    let mut new = NewEpisode::new(task, capture::task_type(prompt), context);
    new.metadata = memory_core::Json::new(&json!({
        "session_id": session_id,
        "transcript_path": field(event, "transcript_path"),
        "cwd": field(event, "cwd"),
        "project": project.name,
        "captured_by": "hooks",
    }));
    let id = memory.start_episode(new).await?;
    if !locked.session.linked {
        // `import sessions` of this session's transcript then knows its episodes were captured live.
        let key = (project.import_key.clone(), session_id.to_string(), id);
        primary.set_session_episodes(&[key]).await?;
        locked.session.linked = true;
    }
    locked.session.episode = Some(id);
    locked.session.evidence = Evidence::default();
    Ok(id)
}

/// A tool call: a step of the open episode (one is started if the session's prompt was not seen).
async fn tool_use(
    config: &DbConfig,
    event: &Map<String, Value>,
    locked: &mut Locked,
) -> anyhow::Result<String> {
    let tool = field(event, "tool_name").context("the event has no `tool_name`")?;
    let input = event.get("tool_input").unwrap_or(&Value::Null);
    let call = ToolCall {
        tool,
        input,
        response: event.get("tool_response"),
        error: field(event, "error"),
        duration_ms: event.get("duration_ms").and_then(Value::as_u64),
    };
    let step = capture::step(&call);
    let store = open::primary(config, Intent::Write).await?;
    let memory = Memory::new(store.clone());
    let work = async {
        let id = match locked.session.episode {
            Some(id) => id,
            None => {
                let project = project(event, locked);
                start_episode(&memory, &store, event, &project, "", locked).await?
            }
        };
        locked.session.evidence.observe(&step);
        let number = memory.log_step(id, step).await?;
        anyhow::Ok(format!("step {number} of {id}"))
    };
    let done = work.await;
    memory.close().await?;
    done
}

/// The end of a turn: completes its episode and learns from it.
async fn stop(
    config: &DbConfig,
    store: &StoreArgs,
    event: &Map<String, Value>,
    locked: &mut Locked,
) -> anyhow::Result<String> {
    if locked.session.episode.is_none() {
        return Ok(NOTHING_OPEN.into());
    }
    let opened = open::open(config, store, Intent::Write).await?;
    let work = async {
        let closed = close(
            &opened.memory,
            field(event, "last_assistant_message"),
            locked,
        )
        .await?;
        let learnt = opened.patterns.extract_pending().await?;
        anyhow::Ok(format!(
            "{closed}; {} episodes learnt from",
            learnt.episodes
        ))
    };
    let done = work.await;
    opened.memory.close().await?;
    done
}

/// Closes what is open, opening the store only when something is (a compaction, the session's end).
async fn close_open(config: &DbConfig, locked: &mut Locked) -> anyhow::Result<String> {
    if locked.session.episode.is_none() {
        return Ok(NOTHING_OPEN.into());
    }
    let memory = Memory::new(open::primary(config, Intent::Write).await?);
    let closed = close(&memory, None, locked).await;
    memory.close().await?;
    closed
}

const NOTHING_OPEN: &str = "nothing open";

/// Completes the open episode, if any, with the outcome its evidence shows.
async fn close(
    memory: &Memory,
    last_message: Option<&str>,
    locked: &mut Locked,
) -> anyhow::Result<String> {
    let Some(id) = locked.session.episode else {
        return Ok(NOTHING_OPEN.into());
    };
    let outcome = locked.session.evidence.outcome(last_message);
    let kind = outcome.kind().as_str();
    match memory.complete_episode(id, outcome).await {
        // Completed by someone else (an agent through MCP): nothing to add.
        Ok(_)
        | Err(memory_core::Error::AlreadyCompleted { .. } | memory_core::Error::NotFound { .. }) => {
        }
        Err(err) => return Err(err.into()),
    }
    locked.session.episode = None;
    Ok(format!("completed {id} ({kind})"))
}

fn is_no_store(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<memory_core::Error>(),
        Some(memory_core::Error::NoStore { .. })
    )
}
