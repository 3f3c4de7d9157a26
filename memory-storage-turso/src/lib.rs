//! libSQL storage for memory-core: the source of truth, as an embedded file or a remote sqld / Turso server.
//!
//! ```no_run
//! use memory_core::{Memory, NewEpisode, TaskContext, TaskType};
//! use memory_storage_turso::{DbConfig, TursoStore};
//!
//! # async fn run() -> memory_core::Result<()> {
//! let store = TursoStore::open(&DbConfig::local("/tmp/memory.db")).await?;
//! // The same code against a server: DbConfig::remote("http://127.0.0.1:8080", None)
//! let memory = Memory::new(store);
//! let context = TaskContext { domain: "web".into(), ..Default::default() };
//! memory.start_episode(NewEpisode::new("add a login form", TaskType::CodeGeneration, context)).await?;
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod backup;
mod db;
mod episodes;
mod error;
mod patterns;
mod records;
pub mod reports;
mod rollup;
mod rows;
mod schema;
pub mod sessions;
mod sql;
mod store;
mod vectors;

pub use schema::SCHEMA_VERSION;
pub use store::{DbConfig, TursoStore, WAL_LIMIT_BYTES};
