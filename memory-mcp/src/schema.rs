//! Tool schemas in the JSON Schema vocabulary alone. schemars writes Rust's number types as `format` values
//! (`uint32`, `int64`, `double`, ...) that JSON Schema does not define and strict validators warn about: each
//! becomes the range it stands for (`minimum`/`maximum`), and any other unknown format is dropped.

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

/// The formats JSON Schema 2020-12 defines.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The range of values a number `format` of schemars stands for; `None` for a format it does not write.
fn range(format: &str) -> Option<(Option<i64>, Option<u64>)> {
    Some(match format {
        "uint8" => (Some(0), Some(u8::MAX.into())),
        "uint16" => (Some(0), Some(u16::MAX.into())),
        "uint32" => (Some(0), Some(u32::MAX.into())),
        "uint64" | "uint" | "uint128" => (Some(0), None),
        "int8" => (Some(i8::MIN.into()), Some(i8::MAX as u64)),
        "int16" => (Some(i16::MIN.into()), Some(i16::MAX as u64)),
        "int32" => (Some(i32::MIN.into()), Some(i32::MAX as u64)),
        "int64" | "int" | "int128" | "float" | "double" => (None, None),
        _ => return None,
    })
}

/// Rewrites the input and output schemas of `tool`.
pub fn standardise(tool: &mut Tool) {
    standardise_object(std::sync::Arc::make_mut(&mut tool.input_schema));
    if let Some(output) = &mut tool.output_schema {
        standardise_object(std::sync::Arc::make_mut(output));
    }
}

fn standardise_object(schema: &mut JsonObject) {
    if let Some(Value::String(format)) = schema.get("format")
        && !STANDARD_FORMATS.contains(&format.as_str())
    {
        let range = range(format);
        schema.remove("format");
        if let Some((minimum, maximum)) = range {
            if let Some(minimum) = minimum {
                schema.entry("minimum").or_insert(minimum.into());
            }
            if let Some(maximum) = maximum {
                schema.entry("maximum").or_insert(maximum.into());
            }
        }
    }
    for value in schema.values_mut() {
        standardise_value(value);
    }
}

fn standardise_value(value: &mut Value) {
    match value {
        Value::Object(object) => standardise_object(object),
        Value::Array(items) => items.iter_mut().for_each(standardise_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn number_formats_become_ranges_and_standard_formats_stay() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "format": "uint32", "minimum": 1},
                "offset": {"type": ["integer", "null"], "format": "uint64", "minimum": 0},
                "delta": {"type": "integer", "format": "int8"},
                "weight": {"type": "number", "format": "double"},
                "at": {"type": "string", "format": "date-time"},
                "odd": {"type": "string", "format": "colour"},
                "format": {"type": "string"},
            },
            "$defs": {"Page": {"anyOf": [{"type": "integer", "format": "uint16"}]}},
        });
        let Value::Object(object) = &mut schema else {
            unreachable!()
        };
        standardise_object(object);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "minimum": 1, "maximum": 4_294_967_295u64},
                    "offset": {"type": ["integer", "null"], "minimum": 0},
                    "delta": {"type": "integer", "minimum": -128, "maximum": 127},
                    "weight": {"type": "number"},
                    "at": {"type": "string", "format": "date-time"},
                    "odd": {"type": "string"},
                    "format": {"type": "string"},
                },
                "$defs": {"Page": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 65_535}]}},
            })
        );
    }
}
