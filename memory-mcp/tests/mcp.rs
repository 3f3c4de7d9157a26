//! End-to-end tests of the `memory-mcp` binary: each starts the real server on a fresh database and drives it
//! with a real MCP client (rmcp's, over stdio or HTTP; the official Python SDK's, over stdio).

mod code;
mod errors;
mod http;
mod lifecycle;
mod patterns;
mod properties;
mod protocol;
mod python;
mod resources;
mod support;
mod tenants;
