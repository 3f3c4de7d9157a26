-- Imported session logs. Every import run, and every file it read, is recorded with what came of it.
CREATE TABLE import_runs (
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    -- 'running', 'finished' or 'failed' (with `error`)
    status TEXT NOT NULL,
    files INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    new_messages INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    sessions INTEGER NOT NULL DEFAULT 0,
    records INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
-- The files read, once each, named by the path they were read from.
CREATE TABLE import_sources (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);
CREATE TABLE import_files (
    run_id INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    lines INTEGER NOT NULL,
    new_messages INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    -- why the file could not be read to its end (unreadable, corrupt compression)
    error TEXT,
    PRIMARY KEY (run_id, source_id)
) WITHOUT ROWID;
-- Lines that were not imported, and why (the first 1000 of each file).
CREATE TABLE import_rejects (
    run_id INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (run_id, source_id, line)
) WITHOUT ROWID;
-- One row per message; `hash` (SHA-256 of what the message is, its session and time included) makes importing it
-- again a no-op.
CREATE TABLE session_messages (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    project TEXT NOT NULL,
    session_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    role TEXT NOT NULL,
    tool TEXT,
    call_id TEXT,
    component TEXT,
    level TEXT,
    is_error INTEGER NOT NULL,
    content TEXT NOT NULL,
    metadata TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    -- The deduplication (the hash alone would do) in the order a session's messages arrive, so an import adds to
    -- a few pages of this index rather than to random ones; it also serves session reconstruction.
    UNIQUE (session_id, project, at, hash)
);
-- The error report (by tool or component, with samples).
CREATE INDEX session_messages_errors
    ON session_messages (at, project, coalesce(tool, component, role), session_id) WHERE is_error = 1;
-- What the other reports count, per session and day (days since the epoch, UTC), updated as messages are stored.
CREATE TABLE session_days (
    day INTEGER NOT NULL,
    project TEXT NOT NULL,
    session_id TEXT NOT NULL,
    messages INTEGER NOT NULL,
    user_messages INTEGER NOT NULL,
    tool_calls INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (day, project, session_id)
) WITHOUT ROWID;
-- Uses and errors per session, day and tool (Claude Code) or component (generic logs).
CREATE TABLE session_day_tools (
    day INTEGER NOT NULL,
    project TEXT NOT NULL,
    session_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- 'tool' or 'component'
    kind TEXT NOT NULL,
    uses INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (day, project, session_id, name)
) WITHOUT ROWID;
-- The episode each imported session became.
CREATE TABLE import_sessions (
    project TEXT NOT NULL,
    session_id TEXT NOT NULL,
    episode_id TEXT NOT NULL,
    PRIMARY KEY (project, session_id)
) WITHOUT ROWID;
