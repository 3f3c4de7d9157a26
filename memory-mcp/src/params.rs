//! Tool arguments, deserialised so that an invalid one is reported by the path of the field that is wrong.

use std::borrow::Cow;

use rmcp::{
    ErrorData,
    handler::server::{common::FromContextPart, tool::ToolCallContext},
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A tool's arguments, deserialised into `T`.
///
/// It replaces rmcp's own `Parameters`, whose message for a value of the wrong type does not say which field it
/// was ("invalid type: string, expected u32"); this one says `invalid argument `limit`: …`. It keeps the name
/// because rmcp's `#[tool]` macro takes a tool's input schema from the argument of that name, and it keeps the
/// message prefix by which rmcp turns the failure into a tool result with `isError` (which an agent reads)
/// rather than a JSON-RPC error.
#[derive(Debug)]
pub struct Parameters<T>(pub T);

/// What rmcp looks for to report a failed deserialisation as a tool result.
const PREFIX: &str = "failed to deserialize parameters:";

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        parse(serde_json::Value::Object(arguments))
            .map(Parameters)
            .map_err(|message| ErrorData::invalid_params(format!("{PREFIX} {message}"), None))
    }
}

/// Deserialises `value`, or says which field is wrong and why.
pub fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        // serde quotes the offending value whole.
        let inner = memory_core::validate::clipped(&inner, 300);
        if path == "." || path.is_empty() {
            format!("invalid arguments: {inner}")
        } else {
            format!(
                "invalid argument `{}`: {inner}",
                memory_core::validate::clipped(&path, 100)
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        limit: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn messages_name_the_field() {
        let err = parse::<Args>(json!({"limit": "ten"})).unwrap_err();
        assert!(
            err.starts_with("invalid argument `limit`: invalid type: string \"ten\", expected u32"),
            "{err}"
        );
        let err = parse::<Args>(json!({"limit": 1, "tags": ["a", 2]})).unwrap_err();
        assert!(err.starts_with("invalid argument `tags[1]`:"), "{err}");
        let err = parse::<Args>(json!({})).unwrap_err();
        assert_eq!(err, "invalid arguments: missing field `limit`");
        let err = parse::<Args>(json!({"limit": 1, "limt": 2})).unwrap_err();
        assert!(
            err.contains("unknown field `limt`, expected `limit` or `tags`"),
            "{err}"
        );
    }
}
