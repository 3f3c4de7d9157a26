ALTER TABLE memory_records ADD COLUMN embedding BLOB;
ALTER TABLE memory_records ADD COLUMN embedding_model TEXT;
CREATE INDEX memory_records_by_model ON memory_records (scope, embedding_model);
