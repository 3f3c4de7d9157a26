//! `memory-cli hooks install | status`: the hooks written into an agent's settings (Claude Code's, for users who
//! prefer settings to the plugin, Codex's or Cursor's), and what they have captured lately.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Subcommand, ValueEnum};
use memory_cli::open::{self, StoreArgs};
use serde_json::{Map, Value, json};

use crate::hook;

/// The events the hooks handle, in the order Claude Code fires them.
pub const EVENTS: [&str; 7] = [
    "SessionStart",
    "UserPromptSubmit",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "PreCompact",
    "SessionEnd",
];

/// Seconds an agent lets a hook run before it gives up on it.
const TIMEOUT_SECONDS: u64 = 10;

/// An agent whose hooks can be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AgentName {
    /// Claude Code: ~/.claude/settings.json (or .claude/settings.json).
    ClaudeCode,
    /// Codex: ~/.codex/hooks.json (or .codex/hooks.json), with `codex_hooks` turned on in ~/.codex/config.toml.
    Codex,
    /// Cursor: ~/.cursor/hooks.json (or .cursor/hooks.json).
    Cursor,
}

impl AgentName {
    const ALL: [AgentName; 3] = [AgentName::ClaudeCode, AgentName::Codex, AgentName::Cursor];

    /// The agent's settings file: the user's, or with `project` this directory's.
    fn settings(self, project: bool) -> anyhow::Result<PathBuf> {
        let (dir, file) = match self {
            AgentName::ClaudeCode => (".claude", "settings.json"),
            AgentName::Codex => (".codex", "hooks.json"),
            AgentName::Cursor => (".cursor", "hooks.json"),
        };
        let base = if project {
            std::env::current_dir()?
        } else {
            dirs::home_dir().context("cannot find the home directory")?
        };
        Ok(base.join(dir).join(file))
    }

    /// The events hooked, as the agent names them.
    fn events(self) -> &'static [&'static str] {
        match self {
            AgentName::ClaudeCode => &EVENTS,
            // The events Codex has (its PreToolUse and PermissionRequest are not needed).
            AgentName::Codex => &["SessionStart", "UserPromptSubmit", "PostToolUse", "Stop"],
            AgentName::Cursor => &[
                "sessionStart",
                "beforeSubmitPrompt",
                "postToolUse",
                "postToolUseFailure",
                "stop",
                "preCompact",
                "sessionEnd",
            ],
        }
    }

    /// The entry that runs `command` for `event`.
    fn entry(self, event: &str, command: &str) -> Value {
        if self == AgentName::Cursor {
            return json!({"command": command, "timeout": TIMEOUT_SECONDS});
        }
        let hook = json!({"type": "command", "command": command, "timeout": TIMEOUT_SECONDS});
        let mut group = json!({"hooks": [hook]});
        if event.starts_with("PostToolUse") {
            group["matcher"] = json!("*");
        }
        group
    }
}

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Add the hooks to an agent's user settings (Claude Code's ~/.claude/settings.json by default), or with
    /// --project to this project's; hooks of memory-cli already there are replaced, others kept.
    Install {
        /// Write the project's settings instead of the user's.
        #[arg(long)]
        project: bool,
        /// The agent whose hooks to write.
        #[arg(long, value_enum, default_value = "claude-code")]
        agent: AgentName,
    },
    /// Where the hooks are installed, the sessions in progress and the last events they handled.
    Status,
}

/// The agent's `hooks` setting running `command` for every event.
fn config(agent: AgentName, command: &str) -> Value {
    let entries = agent
        .events()
        .iter()
        .map(|event| (event.to_string(), json!([agent.entry(event, command)])));
    Value::Object(entries.collect())
}

pub fn run(command: HooksCommand, store: &StoreArgs) -> anyhow::Result<String> {
    match command {
        HooksCommand::Install { project, agent } => {
            let mut said = install(agent, &agent.settings(project)?, store)?;
            if agent == AgentName::Codex {
                said.push_str(&enable_codex_hooks()?);
            }
            Ok(said)
        }
        HooksCommand::Status => status(store),
    }
}

/// Turns on Codex's hooks (`[features] codex_hooks = true` in ~/.codex/config.toml), unless the file says already.
fn enable_codex_hooks() -> anyhow::Result<String> {
    let home = dirs::home_dir().context("cannot find the home directory")?;
    let path = home.join(".codex").join("config.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("codex_hooks"))
    {
        return Ok(format!(
            "codex_hooks is set in {} already\n",
            path.display()
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    let text = match lines.iter().position(|l| l.trim() == "[features]") {
        Some(at) => {
            let mut lines = lines.clone();
            lines.insert(at + 1, "codex_hooks = true");
            lines.join("\n") + "\n"
        }
        None if text.is_empty() => "[features]\ncodex_hooks = true\n".to_string(),
        None => format!("{}\n\n[features]\ncodex_hooks = true\n", text.trim_end()),
    };
    write_atomically(&path, &text)?;
    Ok(format!("codex_hooks turned on in {}\n", path.display()))
}

fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The command the hooks run: this binary, by its full path, with the store it was told to use.
fn command(store: &StoreArgs) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut command = shell_word(&exe.to_string_lossy());
    if let Some(db) = store.db() {
        let db = std::path::absolute(&db)?;
        command.push_str(&format!(" --db {}", shell_word(&db.to_string_lossy())));
    }
    if let Some(url) = store.db_url() {
        command.push_str(&format!(" --db-url {}", shell_word(url)));
    }
    command.push_str(" hook");
    Ok(command)
}

fn shell_word(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:@+=".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Whether a settings hook entry runs this program's hooks (a Claude Code or Codex group, or a Cursor entry).
fn is_ours(entry: &Value) -> bool {
    let ours = |hook: &Value| {
        hook["command"]
            .as_str()
            .is_some_and(|c| c.contains("memory-cli") && c.ends_with(" hook"))
    };
    ours(entry)
        || entry["hooks"]
            .as_array()
            .is_some_and(|hooks| hooks.iter().any(ours))
}

fn install(agent: AgentName, path: &Path, store: &StoreArgs) -> anyhow::Result<String> {
    let mut settings = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .with_context(|| format!("{} is not JSON; not changed", path.display()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let Value::Object(settings_map) = &mut settings else {
        bail!("{} is not a JSON object; not changed", path.display());
    };
    if agent == AgentName::Cursor {
        settings_map.entry("version").or_insert(json!(1));
    }
    let hooks = settings_map
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        bail!(
            "`hooks` in {} is not an object; not changed",
            path.display()
        );
    };
    let Value::Object(ours) = config(agent, &command(store)?) else {
        unreachable!("hooks_config builds an object");
    };
    for (event, groups) in ours {
        let list = hooks.entry(event).or_insert_with(|| json!([]));
        let Value::Array(list) = list else {
            bail!(
                "a hook event in {} is not a list; not changed",
                path.display()
            );
        };
        list.retain(|group| !is_ours(group));
        list.extend(groups.as_array().into_iter().flatten().cloned());
    }
    write_atomically(path, &(serde_json::to_string_pretty(&settings)? + "\n"))?;
    Ok(format!(
        "hooks for {} installed in {}\n",
        agent.events().join(", "),
        path.display()
    ))
}

fn status(store: &StoreArgs) -> anyhow::Result<String> {
    let mut out = String::new();
    for agent in AgentName::ALL {
        for project in [false, true] {
            let path = agent.settings(project)?;
            let Some(settings) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            else {
                continue;
            };
            let hooked = agent
                .events()
                .iter()
                .filter(|e| {
                    settings["hooks"][**e]
                        .as_array()
                        .is_some_and(|entries| entries.iter().any(is_ours))
                })
                .count();
            out.push_str(&format!(
                "{}: {hooked} of {} events hooked\n",
                path.display(),
                agent.events().len()
            ));
        }
    }
    if out.is_empty() {
        out.push_str("no agent's settings hook memory-cli: run `memory-cli hooks install`\n");
    }
    let dir = hook::hooks_dir(&open::db_config(store)?)?;
    let sessions = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0);
    out.push_str(&format!(
        "state and log: {} ({sessions} sessions in progress)\n",
        dir.display()
    ));
    let recent = hook::recent(&dir, 10);
    if recent.is_empty() {
        out.push_str("no events handled yet\n");
    } else {
        out.push_str("last events:\n");
        for line in recent {
            out.push_str(&format!("  {line}\n"));
        }
    }
    Ok(out)
}
