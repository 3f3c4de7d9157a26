//! `memory-cli hooks install | status`: the hooks written into Claude Code's settings (for users who prefer
//! settings to the plugin), and what they have captured lately.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;
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

/// Seconds Claude Code lets a hook run before it gives up on it.
const TIMEOUT_SECONDS: u64 = 10;

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Add the hooks to Claude Code's user settings (~/.claude/settings.json), or with --project to this
    /// project's (.claude/settings.json); hooks of memory-cli already there are replaced, others kept.
    Install {
        /// Write the project's settings instead of the user's.
        #[arg(long)]
        project: bool,
    },
    /// Where the hooks are installed, the sessions in progress and the last events they handled.
    Status,
}

/// Claude Code's `hooks` setting running `command` for every event.
pub fn hooks_config(command: &str) -> Value {
    let entry = |event: &str| {
        let hook = json!({"type": "command", "command": command, "timeout": TIMEOUT_SECONDS});
        let mut group = json!({"hooks": [hook]});
        if event.starts_with("PostToolUse") {
            group["matcher"] = json!("*");
        }
        (event.to_string(), json!([group]))
    };
    Value::Object(EVENTS.iter().map(|e| entry(e)).collect())
}

pub fn run(command: HooksCommand, store: &StoreArgs) -> anyhow::Result<String> {
    match command {
        HooksCommand::Install { project } => install(&settings_path(project)?, store),
        HooksCommand::Status => status(store),
    }
}

fn settings_path(project: bool) -> anyhow::Result<PathBuf> {
    if project {
        return Ok(std::env::current_dir()?
            .join(".claude")
            .join("settings.json"));
    }
    let home = dirs::home_dir().context("cannot find the home directory")?;
    Ok(home.join(".claude").join("settings.json"))
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

/// Whether a settings hook entry runs this program's hooks.
fn is_ours(group: &Value) -> bool {
    group["hooks"].as_array().is_some_and(|hooks| {
        hooks.iter().any(|h| {
            h["command"]
                .as_str()
                .is_some_and(|c| c.contains("memory-cli") && c.ends_with(" hook"))
        })
    })
}

fn install(path: &Path, store: &StoreArgs) -> anyhow::Result<String> {
    let mut settings = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .with_context(|| format!("{} is not JSON; not changed", path.display()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let Value::Object(settings_map) = &mut settings else {
        bail!("{} is not a JSON object; not changed", path.display());
    };
    let hooks = settings_map
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        bail!(
            "`hooks` in {} is not an object; not changed",
            path.display()
        );
    };
    let Value::Object(ours) = hooks_config(&command(store)?) else {
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
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&settings)? + "\n")?;
    std::fs::rename(&tmp, path)?;
    Ok(format!(
        "hooks for {} installed in {}\n",
        EVENTS.join(", "),
        path.display()
    ))
}

fn status(store: &StoreArgs) -> anyhow::Result<String> {
    let mut out = String::new();
    for project in [false, true] {
        let path = settings_path(project)?;
        let installed = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .map(|settings| {
                EVENTS
                    .iter()
                    .filter(|e| {
                        settings["hooks"][**e]
                            .as_array()
                            .is_some_and(|groups| groups.iter().any(is_ours))
                    })
                    .count()
            })
            .unwrap_or(0);
        out.push_str(&format!(
            "{}: {installed} of {} events hooked\n",
            path.display(),
            EVENTS.len()
        ));
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
