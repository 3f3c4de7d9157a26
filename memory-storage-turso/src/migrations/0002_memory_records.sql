CREATE TABLE memory_records (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    summary TEXT,
    context TEXT,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    importance REAL NOT NULL,
    source TEXT,
    content_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX memory_records_by_hash ON memory_records (scope, content_hash);
CREATE INDEX memory_records_by_created ON memory_records (scope, created_at DESC, id DESC);
CREATE TABLE memory_record_tags (
    tag TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (tag, record_id)
) WITHOUT ROWID;
CREATE INDEX memory_record_tags_by_record ON memory_record_tags (record_id);
