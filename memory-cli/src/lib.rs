//! What `memory-cli` shares with `memory-mcp`, so both binaries open stores and answer queries alike: the
//! options that name the store and the embedder ([`open::StoreArgs`]), opening them ([`open::open_both`]), and
//! query results as a token-budgeted context block ([`block::assemble`]).

pub mod block;
pub mod embedder;
pub mod ingest;
pub mod log;
pub mod open;
pub mod sandbox;

/// Joins the lines of a message, so every diagnostic is exactly one line of stderr.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
