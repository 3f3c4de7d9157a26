-- The extraction queue: completing an episode queues it in the same transaction, so a crash never loses a job.
CREATE TABLE pattern_jobs (
    episode_id TEXT PRIMARY KEY,
    queued_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pattern_jobs_by_time ON pattern_jobs (queued_at);
-- Episodes whose patterns were extracted: a second extraction of one is refused, so none is counted twice.
CREATE TABLE pattern_extracted (
    episode_id TEXT PRIMARY KEY,
    extracted_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Patterns: the columns listings filter and sort on, and the whole pattern as JSON (`layout` is its version).
-- A rowid table: a body of 50 evidence entries is several kilobytes.
CREATE TABLE patterns (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    support INTEGER NOT NULL,
    score REAL NOT NULL,
    layout INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL
);
CREATE INDEX patterns_by_revision ON patterns (revision);
-- The pattern change feed's deletions (patterns merged into others).
CREATE TABLE pattern_tombstones (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pattern_tombstones_by_revision ON pattern_tombstones (revision);
