//! Mapping libSQL's errors onto memory-core's, in one place.

use memory_core::Error;

/// Converts a libSQL error into the workspace error, classifying the ones a user can act on.
pub(crate) fn map(err: libsql::Error) -> Error {
    // libSQL wraps remote errors in layers of "Hrana: `…`" quoting; the message reads better without them.
    let text = err
        .to_string()
        .replace("Hrana: ", "")
        .replace('`', "")
        .trim()
        .to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("401") || lower.contains("unauthorized") || lower.contains("authentication") {
        return Error::Unauthorized(text);
    }
    if lower.contains("403") || lower.contains("forbidden") {
        return Error::Unauthorized(text);
    }
    if lower.contains("connect")
        || lower.contains("dns")
        || lower.contains("connection refused")
        || lower.contains("timed out")
        || lower.contains("broken pipe")
        || lower.contains("connection reset")
    {
        return Error::Unavailable(text);
    }
    if lower.contains("malformed") || lower.contains("not a database") {
        return Error::Corrupt(text);
    }
    Error::Storage {
        backend: "libsql",
        detail: text,
    }
}

/// Extension to map libSQL results.
pub(crate) trait MapErr<T> {
    /// Maps the error with [`map`].
    fn db(self) -> Result<T, Error>;
}

impl<T> MapErr<T> for Result<T, libsql::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(map)
    }
}

/// A stored value that cannot be decoded.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{what}: {detail}"))
}
