//! `memory-cli keys create | list | revoke` and `memory-cli audit`: the API keys of a store, each confined to one
//! tenant scope, and the log of the calls made with them (see `memory_storage_turso::access`).

use std::fmt::Write as _;

use anyhow::{Context as _, anyhow};
use clap::{Args, Subcommand};
use memory_cli::open::{self, Intent, StoreArgs};
use memory_core::{Error, Scope, Timestamp};
use memory_storage_turso::access::{
    AuditEntry, AuditOutcome, AuditQuery, KeyInfo, KeyLimits, NewKey,
};
use serde::Serialize;

use crate::{
    episode::parse_date,
    output::{Format, json},
};

/// Longest detail shown in the human form of `audit`; `--format json` shows all of it.
const DETAIL_CHARS: usize = 80;

/// `memory-cli keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key confined to one tenant scope; its secret is printed this once and never stored.
    Create(CreateArgs),
    /// List every key, revoked ones included (never their secrets).
    List,
    /// Revoke a key; it stays listed, with the time it was revoked.
    Revoke {
        /// The key's number, as `keys list` shows it.
        id: i64,
    },
}

/// Arguments of `keys create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The scope the key is confined to, e.g. user:alice or project:payments.
    #[arg(long)]
    tenant: String,
    /// What to call the key (default: the tenant).
    #[arg(long)]
    name: Option<String>,
    /// Memory records the tenant may hold.
    #[arg(long, default_value_t = KeyLimits::default().max_records)]
    max_records: u64,
    /// Writes the tenant may make in a day.
    #[arg(long, default_value_t = KeyLimits::default().max_daily_writes)]
    max_daily_writes: u64,
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the calls of this tenant scope.
    #[arg(long)]
    tenant: Option<String>,
    /// From this time (RFC 3339 or a date, UTC).
    #[arg(long)]
    since: Option<String>,
    /// Only the calls that ended so: ok, error or denied.
    #[arg(long, value_parser = |s: &str| s.parse::<AuditOutcome>())]
    outcome: Option<AuditOutcome>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = AuditQuery::default().limit, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
}

impl CreateArgs {
    /// Checks every argument, without touching the store.
    fn plan(self) -> anyhow::Result<NewKey> {
        let tenant = Scope::new(self.tenant.trim()).context("--tenant")?;
        let new = NewKey {
            name: self.name.unwrap_or_else(|| tenant.to_string()),
            tenant,
            limits: KeyLimits {
                max_records: self.max_records,
                max_daily_writes: self.max_daily_writes,
            },
        };
        // The storage names a field as its type does; here it is named as the flag that sets it.
        new.validate().map_err(|err| match err {
            Error::Validation { field, message } => {
                anyhow!("invalid --{}: {message}", field.replace('_', "-"))
            }
            other => other.into(),
        })?;
        Ok(new)
    }
}

impl AuditArgs {
    /// Checks every argument, without touching the store.
    fn plan(self) -> anyhow::Result<AuditQuery> {
        Ok(AuditQuery {
            tenant: self
                .tenant
                .map(|t| Scope::new(t.trim()).context("--tenant"))
                .transpose()?,
            since: self.since.map(|t| parse_date("--since", &t)).transpose()?,
            outcome: self.outcome,
            limit: self.limit,
        })
    }
}

/// Runs a `keys` command.
pub async fn run(
    command: KeysCommand,
    store: &StoreArgs,
    format: Format,
) -> anyhow::Result<String> {
    let config = open::db_config(store)?;
    match command {
        KeysCommand::Create(args) => {
            let new = args.plan()?;
            let (key, secret) = open::primary(&config, Intent::Write)
                .await?
                .create_key(&new)
                .await?;
            created(&key, &secret, format)
        }
        KeysCommand::List => listing(
            &open::primary(&config, Intent::Read)
                .await?
                .api_keys()
                .await?,
            format,
        ),
        KeysCommand::Revoke { id } => {
            let key = open::primary(&config, Intent::Write)
                .await?
                .revoke_key(id)
                .await?;
            if format == Format::Json {
                return json(&key);
            }
            let at = key.revoked_at.map_or_else(String::new, time);
            Ok(format!(
                "key {} ({:?}, tenant {}) revoked at {at} UTC\n",
                key.id, key.name, key.tenant
            ))
        }
    }
}

/// Runs `audit`.
pub async fn audit(args: AuditArgs, store: &StoreArgs, format: Format) -> anyhow::Result<String> {
    let query = args.plan()?;
    let entries = open::primary(&open::db_config(store)?, Intent::Read)
        .await?
        .audit_log(&query)
        .await?;
    if format == Format::Json {
        return json(&entries);
    }
    if entries.is_empty() {
        return Ok("no audit entries\n".into());
    }
    let header = [
        "AT (UTC)", "TENANT", "KEY", "TOOL", "TARGET", "OUTCOME", "WRITE", "DETAIL",
    ];
    let rows: Vec<Vec<String>> = entries.iter().map(audit_row).collect();
    Ok(aligned(&header, &rows))
}

/// A new key with its secret, as `--format json` prints it.
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    key: &'a KeyInfo,
    secret: &'a str,
}

fn created(key: &KeyInfo, secret: &str, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(&Created { key, secret });
    }
    let mut text = format!("created key {}\n", key.id);
    writeln!(text, "name       {}", key.name)?;
    writeln!(text, "tenant     {}", key.tenant)?;
    writeln!(
        text,
        "limits     {} records, {} writes a day",
        key.limits.max_records, key.limits.max_daily_writes
    )?;
    writeln!(text, "secret     {secret}")?;
    writeln!(
        text,
        "The secret is shown only this once (the store keeps its hash alone): keep it now. Clients send it as \
         `Authorization: Bearer <key>`."
    )?;
    Ok(text)
}

fn listing(keys: &[KeyInfo], format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(keys);
    }
    if keys.is_empty() {
        return Ok("no API keys\n".into());
    }
    let header = [
        "ID",
        "NAME",
        "TENANT",
        "MAX RECORDS",
        "MAX DAILY WRITES",
        "CREATED (UTC)",
        "REVOKED (UTC)",
    ];
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            vec![
                key.id.to_string(),
                key.name.clone(),
                key.tenant.to_string(),
                key.limits.max_records.to_string(),
                key.limits.max_daily_writes.to_string(),
                time(key.created_at),
                key.revoked_at.map_or_else(|| "-".into(), time),
            ]
        })
        .collect();
    Ok(aligned(&header, &rows))
}

fn audit_row(entry: &AuditEntry) -> Vec<String> {
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "-".into());
    vec![
        time(entry.at),
        or_dash(entry.tenant.as_ref().map(Scope::to_string)),
        or_dash(entry.key_id.map(|id| id.to_string())),
        one_line(&entry.tool, DETAIL_CHARS),
        or_dash(entry.target.as_deref().map(|t| one_line(t, DETAIL_CHARS))),
        entry.outcome.to_string(),
        if entry.write { "yes" } else { "no" }.into(),
        one_line(&entry.detail, DETAIL_CHARS),
    ]
}

fn time(at: Timestamp) -> String {
    at.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `text` on one line (control characters as spaces), cut to `max` characters with `…`.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Columns padded to their widest cell, two spaces apart; the last one is not padded.
fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
