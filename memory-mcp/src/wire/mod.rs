//! The tools' arguments and results as they travel: serde and JSON Schema types of this crate, converted to and
//! from memory-core's types here. Doc comments become the schema descriptions an agent reads.

mod code;
mod episode;
mod episode_out;
mod pattern;
mod query;
mod record;

pub use code::*;
pub use episode::*;
pub use episode_out::*;
pub use pattern::*;
pub use query::*;
pub use record::*;

use memory_core::{Error, Timestamp};
use serde_json::{Map, Value};

/// Declares a wire enum that mirrors a memory-core enum variant for variant, with conversions both ways.
macro_rules! mirror {
    ($(#[$meta:meta])* $name:ident = $core:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$name> for $core {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => <$core>::$variant),+
                }
            }
        }

        impl From<$core> for $name {
            fn from(value: $core) -> Self {
                match value {
                    $(<$core>::$variant => $name::$variant),+
                }
            }
        }
    };
}
pub(crate) use mirror;

/// A JSON object (free metadata).
pub type Object = Map<String, Value>;

/// An RFC 3339 timestamp in UTC with microseconds, as every result writes times.
pub fn time(t: Timestamp) -> String {
    t.to_string()
}

/// Parses an argument that is a time: RFC 3339 or a plain date (midnight UTC).
pub fn parse_time(field: &str, text: &str) -> Result<Timestamp, Error> {
    Timestamp::parse(text.trim()).ok_or_else(|| {
        Error::validation(
            field,
            format!(
                "{} is not a time; expected RFC 3339 (2026-11-23T14:00:00Z) or a date (2026-11-23)",
                memory_core::validate::quoted(text)
            ),
        )
    })
}

/// `err` with its field named as the tool's arguments name it: memory-core's validation names fields as its
/// types do (`context.domain`, `outcome.verdict`, `result`), and each `(from, to)` renames a prefix.
pub fn argument_names(err: Error, renames: &[(&str, &str)]) -> Error {
    match err {
        Error::Validation { field, message } => {
            let field = renames
                .iter()
                .find_map(|(from, to)| field.strip_prefix(from).map(|rest| format!("{to}{rest}")))
                .unwrap_or(field);
            Error::Validation { field, message }
        }
        other => other,
    }
}
