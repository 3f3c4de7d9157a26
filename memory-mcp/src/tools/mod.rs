//! The tools, in two routers that the server adds together.

mod episodes;
mod patterns;
mod records;
