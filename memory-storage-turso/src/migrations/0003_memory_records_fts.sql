CREATE VIRTUAL TABLE memory_records_fts USING fts5(
    content, summary, context, tags,
    content = 'memory_records', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER memory_records_fts_insert AFTER INSERT ON memory_records BEGIN
    INSERT INTO memory_records_fts (rowid, content, summary, context, tags)
    VALUES (new.rowid, new.content, new.summary, new.context, new.tags);
END;
CREATE TRIGGER memory_records_fts_delete AFTER DELETE ON memory_records BEGIN
    INSERT INTO memory_records_fts (memory_records_fts, rowid, content, summary, context, tags)
    VALUES ('delete', old.rowid, old.content, old.summary, old.context, old.tags);
END;
CREATE TRIGGER memory_records_fts_update AFTER UPDATE ON memory_records BEGIN
    INSERT INTO memory_records_fts (memory_records_fts, rowid, content, summary, context, tags)
    VALUES ('delete', old.rowid, old.content, old.summary, old.context, old.tags);
    INSERT INTO memory_records_fts (rowid, content, summary, context, tags)
    VALUES (new.rowid, new.content, new.summary, new.context, new.tags);
END;
