-- The scope an episode was recorded in, for a tenant of a shared server (NULL: the store's own episodes).
ALTER TABLE episodes ADD COLUMN scope TEXT;
CREATE INDEX episodes_by_scope ON episodes (scope, start_time DESC, id DESC) WHERE scope IS NOT NULL;
