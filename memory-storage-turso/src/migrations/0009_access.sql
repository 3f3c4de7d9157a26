-- API keys, each confining its holder to one tenant scope. The secret is never stored: only its SHA-256.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- a scope name (`user:alice`, `project:payments`)
    tenant TEXT NOT NULL,
    -- lowercase hex SHA-256 of the secret
    key_hash TEXT NOT NULL UNIQUE,
    max_records INTEGER NOT NULL,
    max_daily_writes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
-- What was asked of the server, by which key, and how it ended.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    -- NULL: the server's admin key, or a request without a key
    key_id INTEGER,
    -- NULL: a caller confined to no tenant
    tenant TEXT,
    -- the tool or method called
    tool TEXT NOT NULL,
    -- the episode, memory or pattern the call named, if it named one
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied')),
    -- 1 for a call that writes
    write INTEGER NOT NULL,
    -- why it failed or was denied; empty when it succeeded
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_by_at ON audit_log (at);
-- A tenant's entries in time order: its writes of the day, and the log filtered by tenant.
CREATE INDEX audit_log_by_tenant ON audit_log (tenant, at);
