//! The hooks' log: one line per event (when, which, ok or error, what was done, how long it took), in
//! `hooks.log` in the hooks' directory, so that what a hook did is never printed where the agent would see it.

use std::{fs, io::Write as _, path::Path, time::Duration};

/// The log is started afresh past this size (the previous one kept as `hooks.log.1`).
const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// Appends one line; a log that cannot be written is not an error of the hook.
pub fn line(dir: &Path, event: &str, status: &str, said: &str, took: Duration) {
    let path = dir.join("hooks.log");
    if fs::metadata(&path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let _ = fs::rename(&path, dir.join("hooks.log.1"));
    }
    let text = format!(
        "{} {event} {status} {:.1}ms {said}\n",
        memory_core::Timestamp::now(),
        took.as_secs_f64() * 1e3
    );
    let _ = fs::create_dir_all(dir).and_then(|()| {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(text.as_bytes())
    });
}

/// The last `n` lines of the log, oldest first.
pub fn recent(dir: &Path, n: usize) -> Vec<String> {
    let text = fs::read_to_string(dir.join("hooks.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
