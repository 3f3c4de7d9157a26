//! `memory-cli report ...`: what the imported sessions show, computed in libSQL (see
//! `memory_storage_turso::reports`), printed as aligned text, JSON or CSV.

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use memory_cli::open::{self, Intent, StoreArgs};
use memory_storage_turso::reports::{Cell, ReportFilter, Table};

use crate::{episode::parse_date, output::FormatArg};

/// `memory-cli report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per project: sessions, messages, user requests, tool calls, errors, first and last activity.
    Activity(FilterArgs),
    /// Per day (UTC): active sessions, messages, tool calls and errors.
    Timeline(FilterArgs),
    /// Per tool (Claude Code) or component (generic logs): uses, errors and error rate.
    Tools(FilterArgs),
    /// Errors per tool or component, with the latest samples and where they were read.
    Errors {
        #[command(flatten)]
        filter: FilterArgs,
        /// Samples shown per tool or component.
        #[arg(long, default_value_t = 3)]
        samples: u32,
    },
    /// The ordered messages of one session: what was asked, said, called and returned.
    Session {
        /// The session id.
        id: String,
        /// The project, if the id is used in several.
        #[arg(long)]
        project: Option<String>,
    },
}

/// The messages a report covers.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// From this time (RFC 3339 or a date, UTC).
    #[arg(long)]
    since: Option<String>,
    /// Before this time (RFC 3339 or a date, UTC).
    #[arg(long)]
    until: Option<String>,
    /// Only this project.
    #[arg(long)]
    project: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> anyhow::Result<ReportFilter> {
        let time = |flag: &str, text: &Option<String>| {
            text.as_deref().map(|t| parse_date(flag, t)).transpose()
        };
        Ok(ReportFilter {
            since: time("--since", &self.since)?,
            until: time("--until", &self.until)?,
            project: self.project.clone(),
        })
    }
}

/// Longest cell shown in the human form.
const CELL_CHARS: usize = 120;

/// Runs a report and renders it.
pub async fn run(
    command: ReportCommand,
    store: &StoreArgs,
    format: FormatArg,
) -> anyhow::Result<String> {
    let config = open::db_config(store)?;
    let filter = match &command {
        ReportCommand::Activity(f) | ReportCommand::Timeline(f) | ReportCommand::Tools(f) => {
            f.filter()?
        }
        ReportCommand::Errors { filter, .. } => filter.filter()?,
        ReportCommand::Session { .. } => ReportFilter::default(),
    };
    let primary = open::primary(&config, Intent::Read).await?;
    let tables = match command {
        ReportCommand::Activity(_) => vec![primary.report_activity(&filter).await?],
        ReportCommand::Timeline(_) => vec![primary.report_timeline(&filter).await?],
        ReportCommand::Tools(_) => vec![primary.report_tools(&filter).await?],
        ReportCommand::Errors { samples, .. } => primary.report_errors(&filter, samples).await?,
        ReportCommand::Session { id, project } => {
            let table = primary.report_session(&id, project.as_deref()).await?;
            if table.rows.is_empty() {
                anyhow::bail!("no imported session {id:?}");
            }
            vec![table]
        }
    };
    render(&tables, format)
}

fn render(tables: &[Table], format: FormatArg) -> anyhow::Result<String> {
    match format {
        FormatArg::Json => json(tables),
        FormatArg::Csv => Ok(tables.iter().map(csv).collect::<Vec<_>>().join("\r\n")),
        FormatArg::Human => Ok(tables.iter().map(human).collect::<Vec<_>>().join("\n")),
    }
}

/// One report: its table's rows as objects; several: an object of them by name.
fn json(tables: &[Table]) -> anyhow::Result<String> {
    let objects = |t: &Table| -> Vec<serde_json::Map<String, serde_json::Value>> {
        t.rows
            .iter()
            .map(|row| {
                t.columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.to_string(), value(v)))
                    .collect()
            })
            .collect()
    };
    match tables {
        [one] => crate::output::json(&objects(one)),
        many => crate::output::json(
            &many
                .iter()
                .map(|t| (t.name, objects(t)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ),
    }
}

fn value(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Null => serde_json::Value::Null,
        Cell::Int(n) => (*n).into(),
        Cell::Real(x) => (*x).into(),
        Cell::Text(s) => s.as_str().into(),
    }
}

fn text(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Int(n) => n.to_string(),
        Cell::Real(x) => format!("{x}"),
        Cell::Text(s) => s.clone(),
    }
}

/// RFC 4180: a header line, then one line per row; fields with commas, quotes or line breaks are quoted.
fn csv(table: &Table) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = table.columns.join(",") + "\r\n";
    for row in &table.rows {
        let fields: Vec<String> = row.iter().map(|c| field(&text(c))).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Aligned columns, each cell on one line and cut to [`CELL_CHARS`].
fn human(table: &Table) -> String {
    if table.rows.is_empty() {
        return format!("{}: nothing in this range\n", table.name);
    }
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|row| row.iter().map(|c| one_line(&text(c))).collect())
        .collect();
    let mut widths: Vec<usize> = table.columns.iter().map(|c| c.len()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |fields: Vec<&str>| {
        let last = fields.len() - 1;
        for (i, (f, w)) in fields.iter().zip(&widths).enumerate() {
            let numeric = f.parse::<f64>().is_ok() && i != 0;
            let _ = match (i == last, numeric) {
                (true, _) => write!(out, "{f}"),
                (false, true) => write!(out, "{f:>w$}  "),
                (false, false) => write!(out, "{f:<w$}  "),
            };
        }
        out.push('\n');
    };
    line(
        table
            .columns
            .iter()
            .map(|c| c.to_uppercase())
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= CELL_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(CELL_CHARS - 1).collect();
    format!("{cut}…")
}
