//! End-to-end tests of the `memory-cli` binary: each runs the real executable against a fresh database.

mod backup;
mod bad_input;
mod cache;
mod claude_code;
mod code;
mod demo;
mod eval;
mod hooks;
mod human;
mod import;
mod keys;
mod lifecycle;
mod models;
mod opening;
mod patterns;
mod records;
mod reembed;
mod remote;
mod support;
