//! libSQL store tests: the conformance suite embedded and against a real sqld, and the bad-database cases.

mod backup;
mod bad_input;
mod conformance;
mod wal;
