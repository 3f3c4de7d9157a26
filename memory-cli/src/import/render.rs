//! How import runs are printed.

use std::fmt::Write as _;

use memory_storage_turso::sessions::{FileImport, ImportRun};

use crate::output::{Format, json};

/// Rejected lines listed per file in the human form; `import runs --format json` lists all that were kept.
const REJECTS_SHOWN: usize = 20;

/// One run, as an import ends.
pub fn run(run: &ImportRun, format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(run);
    }
    let mut text = summary(run)?;
    for file in &run.files {
        file_lines(&mut text, file)?;
    }
    Ok(text)
}

/// The latest runs, newest first.
pub fn runs(runs: &[ImportRun], format: Format) -> anyhow::Result<String> {
    if format == Format::Json {
        return json(runs);
    }
    if runs.is_empty() {
        return Ok("no import runs\n".into());
    }
    let mut text = String::new();
    for run in runs {
        text.push_str(&summary(run)?);
        for file in &run.files {
            writeln!(
                text,
                "  {} ({} bytes, sha256 {}): {} lines, {} new, {} duplicate, {} rejected",
                file.path,
                file.bytes,
                file.sha256,
                file.lines,
                file.new_messages,
                file.duplicates,
                file.rejected
            )?;
        }
    }
    Ok(text)
}

fn summary(run: &ImportRun) -> anyhow::Result<String> {
    let mut text = String::new();
    let took = run.finished_at.map_or_else(
        || "unfinished".to_string(),
        |end| {
            let secs = end.micros_since(run.started_at) as f64 / 1e6;
            format!("{secs:.1} s")
        },
    );
    writeln!(
        text,
        "run {} {}, started {}, took {took}: {} files, {} bytes, {} lines",
        run.id,
        run.status,
        run.started_at,
        run.files.len(),
        run.bytes,
        run.lines
    )?;
    writeln!(
        text,
        "  messages {} new, {} duplicate; {} lines rejected, {} without a message",
        run.new_messages, run.duplicates, run.rejected, run.skipped
    )?;
    writeln!(
        text,
        "  {} session episodes written, {} new memories",
        run.sessions, run.records
    )?;
    if let Some(error) = &run.error {
        writeln!(text, "  failed: {error}")?;
    }
    Ok(text)
}

fn file_lines(text: &mut String, file: &FileImport) -> anyhow::Result<()> {
    if let Some(error) = &file.error {
        writeln!(text, "{}: {error}", file.path)?;
    }
    for reject in file.rejects.iter().take(REJECTS_SHOWN) {
        writeln!(text, "{}:{}: {}", file.path, reject.line, reject.reason)?;
    }
    if file.rejected as usize > REJECTS_SHOWN {
        writeln!(
            text,
            "{}: {} more rejected lines (`import runs --format json` lists them)",
            file.path,
            file.rejected as usize - REJECTS_SHOWN
        )?;
    }
    Ok(())
}
