//! libSQL store tests: the conformance suite embedded and against a real sqld, the bad-database cases, backups,
//! and API keys with the audit log.

mod access;
mod backup;
mod bad_input;
mod concurrent_open;
mod conformance;
mod sessions;
mod wal;
