//! The one error type of the workspace's library crates.

use std::fmt;

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the memory system, from bad input to an unreachable database.
///
/// Messages are written for the person or agent who sent the request: each names the thing that was wrong
/// and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of a request failed validation.
    #[error("invalid {field}: {message}")]
    Validation {
        /// The field, as the caller named it (`task_description`, `tags[3]`, `steps[2].parameters`, ...).
        field: String,
        /// What was wrong and what is accepted.
        message: String,
    },
    /// An identifier could not be parsed.
    #[error(
        "invalid {kind} id {}: expected a UUID such as 0190f5c2-8a3b-7c4d-9e5f-0123456789ab",
        crate::validate::quoted(.input)
    )]
    InvalidId {
        /// What the id should identify (`episode`, ...).
        kind: &'static str,
        /// The text that was given.
        input: String,
    },
    /// The requested item does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked up (`episode`, ...).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// An item with this id already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// What was inserted.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The episode is already completed, so it can be neither completed again nor given new steps.
    #[error("episode {id} is already completed; start a new episode to record more work")]
    AlreadyCompleted {
        /// The episode id.
        id: String,
    },
    /// Another writer changed the item between this request's read and its write.
    #[error("episode {id} was changed concurrently; retry the request")]
    Conflict {
        /// The episode id.
        id: String,
    },
    /// Another writer changed the item between this request's read and its write (a pattern, or the extraction
    /// state of an episode).
    #[error("{kind} {id} was changed concurrently; retry the request")]
    Changed {
        /// What changed (`pattern`, `extraction of episode`).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The database was written by a newer version of this software.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); upgrade memory-cli / memory-mcp"
    )]
    SchemaTooNew {
        /// The schema version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database's recorded migrations do not match this build's (a migration was edited or the file is foreign).
    #[error("migration {version} recorded in the database does not match this build ({detail})")]
    MigrationMismatch {
        /// The migration version.
        version: i64,
        /// What differs.
        detail: String,
    },
    /// The file given as the database is not a database this software can use.
    #[error("{path} is not a memory database: {detail}")]
    NotADatabase {
        /// The path that was opened.
        path: String,
        /// What the database engine reported.
        detail: String,
    },
    /// A command that only reads found no store where it was told to look; nothing was created.
    #[error("no memory store at {path}: nothing has been recorded there yet")]
    NoStore {
        /// The path or URL that was opened.
        path: String,
    },
    /// A file that only one process can hold at a time (the cache) is held by another.
    #[error("{what} file {path} is in use by another process")]
    InUse {
        /// What the file is (`cache`, `store`).
        what: &'static str,
        /// The file.
        path: String,
    },
    /// The database could not be reached (remote server down, wrong URL, network error).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The remote database refused the credentials.
    #[error("database refused the credentials: {0}; check MEMORY_DB_TOKEN")]
    Unauthorized(String),
    /// Any other storage failure, with the backend's own message.
    #[error("{backend} error: {detail}")]
    Storage {
        /// Which backend failed (`libsql`, `redb`).
        backend: &'static str,
        /// The backend's message.
        detail: String,
    },
    /// The store's vectors were made by another embedding model than the one in use.
    #[error(
        "this store's vectors were made by the embedder `{stored}`, but `{configured}` is in use: run `memory-cli \
         reembed` to re-embed everything with `{configured}`, or select `{stored}` with --embedder"
    )]
    EmbedderMismatch {
        /// The store's model.
        stored: String,
        /// The embedder in use.
        configured: String,
    },
    /// A stored record could not be decoded.
    #[error("stored record could not be decoded: {0}")]
    Corrupt(String),
    /// A backup or an export could not be written, read or proven whole: a file is missing, damaged or does
    /// not match its manifest, or the target refuses it.
    #[error("{path}: {detail}")]
    Backup {
        /// The backup directory, export file or target database.
        path: String,
        /// What is wrong and, where there is one, what to do.
        detail: String,
    },
    /// A local embedding model could not be loaded or run: a file is missing, unreadable or malformed, or the
    /// model is of a kind this build does not support.
    #[error("embedding model {dir}: {detail}")]
    Model {
        /// The model's directory.
        dir: String,
        /// Which file or step failed, and how.
        detail: String,
    },
    /// An embedding service failed: unreachable, an error status, or a response that is not what the
    /// OpenAI embeddings API specifies.
    #[error("embedding service {url}: {detail}")]
    EmbeddingService {
        /// The endpoint that was called.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// An embedding service refused the credentials (HTTP 401 or 403).
    #[error("embedding service {url} refused the credentials (HTTP {status}): check the API key")]
    EmbeddingAuth {
        /// The endpoint that was called.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// An embedder returned vectors of another length than it declared or was configured with.
    #[error(
        "embedder {embedder} returned a vector of {found} dimensions where {expected} were expected"
    )]
    DimensionMismatch {
        /// The embedder (its id, or the endpoint).
        embedder: String,
        /// The length expected.
        expected: usize,
        /// The length returned.
        found: usize,
    },
    /// The code sandbox cannot run: its engine module is missing or unusable, or the host failed.
    #[error("code sandbox: {detail}")]
    Sandbox {
        /// What failed and, where there is one, what to do.
        detail: String,
    },
    /// Too much work is already waiting; the request was not started and can be retried.
    #[error("{what} is busy ({detail}); retry shortly")]
    Busy {
        /// What is busy.
        what: &'static str,
        /// How busy.
        detail: String,
    },
}

impl Error {
    /// Shorthand for a [`Error::Validation`].
    pub fn validation(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Validation {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// Shorthand for an episode [`Error::NotFound`].
    pub fn episode_not_found(id: impl fmt::Display) -> Self {
        Error::NotFound {
            kind: "episode",
            id: id.to_string(),
        }
    }

    /// True for errors caused by the request rather than by the system.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Validation { .. }
                | Error::InvalidId { .. }
                | Error::NotFound { .. }
                | Error::AlreadyExists { .. }
                | Error::AlreadyCompleted { .. }
        )
    }
}

/// An error and its causes on one line, `outer: cause: root cause` (HTTP clients say what actually failed in the
/// causes).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
