-- Search moves to the in-process index (memory-core's `index`): full text is ranked there, so FTS5 goes.
DROP TRIGGER memory_records_fts_insert;
DROP TRIGGER memory_records_fts_delete;
DROP TRIGGER memory_records_fts_update;
DROP TABLE memory_records_fts;
-- Vectors move to `embeddings`, one per embedding key and model; the old per-row ones are re-made on demand.
DROP INDEX memory_records_by_model;
ALTER TABLE memory_records DROP COLUMN embedding;
ALTER TABLE memory_records DROP COLUMN embedding_model;
-- A rowid table: vectors are kilobytes, too large for a WITHOUT ROWID table's B-tree pages.
CREATE TABLE embeddings (
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE UNIQUE INDEX embeddings_by_key ON embeddings (key, model);
-- The record change feed: every write stamps its revision; deletions leave a tombstone.
ALTER TABLE memory_records ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX memory_records_by_revision ON memory_records (revision);
CREATE INDEX memory_records_by_scope_id ON memory_records (scope, id);
CREATE TABLE memory_record_tombstones (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX memory_record_tombstones_by_revision ON memory_record_tombstones (revision);
