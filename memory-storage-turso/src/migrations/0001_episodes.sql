CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE episodes (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    task_description TEXT NOT NULL,
    task_type TEXT NOT NULL,
    domain TEXT NOT NULL,
    language TEXT,
    framework TEXT,
    complexity TEXT NOT NULL,
    tags TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    outcome_kind TEXT,
    outcome TEXT,
    reward_total REAL,
    reward TEXT,
    reflection TEXT,
    metadata TEXT NOT NULL
);
CREATE INDEX episodes_by_start ON episodes (start_time DESC, id DESC);
CREATE INDEX episodes_by_domain ON episodes (domain, start_time DESC);
CREATE INDEX episodes_by_revision ON episodes (revision);
CREATE TABLE episode_tags (
    tag TEXT NOT NULL,
    episode_id TEXT NOT NULL,
    PRIMARY KEY (tag, episode_id)
) WITHOUT ROWID;
CREATE INDEX episode_tags_by_episode ON episode_tags (episode_id);
CREATE TABLE steps (
    episode_id TEXT NOT NULL,
    step_number INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    parameters TEXT NOT NULL,
    result_kind TEXT NOT NULL,
    result_text TEXT NOT NULL,
    latency_ms INTEGER NOT NULL,
    tokens INTEGER,
    revision INTEGER NOT NULL,
    PRIMARY KEY (episode_id, step_number)
) WITHOUT ROWID;
CREATE INDEX steps_by_revision ON steps (revision);
CREATE TABLE episode_tombstones (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);
CREATE INDEX episode_tombstones_by_revision ON episode_tombstones (revision);
