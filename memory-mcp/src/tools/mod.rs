//! The tools, in routers that the server adds together.

mod code;
mod episodes;
mod patterns;
mod records;

/// The tool that admits its calls itself: the sandbox's queue refuses what it cannot hold.
pub(crate) const OWN_ADMISSION: &str = "execute_code";
