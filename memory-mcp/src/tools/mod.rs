//! The tools, in routers that the server adds together.

mod code;
mod episodes;
mod patterns;
mod records;
