//! Cross-crate integration tests: the write-through pair on real libSQL and redb, crash consistency, and the
//! architecture's dependency boundaries.

mod boundaries;
mod concurrent;
mod crash;
mod lessons;
mod pair;
mod pattern_crash;
mod patterns;
mod scopes;
mod snapshot;
