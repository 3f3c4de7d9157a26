//! Generators of hostile input for property tests (proptest): text with every kind of character, JSON of any
//! shape, and objects that name a type's own fields with values of any shape.

use proptest::{collection, prelude::*};
use serde_json::{Map, Value};

/// Strings as hostile input holds them: empty and blank, control characters, quotes and escapes, any Unicode,
/// long runs, and the shapes fields expect (ids, times, scopes) so that decoding gets past its first check.
pub fn text() -> impl proptest::strategy::Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ \t\r\n]{1,4}",
        "[a-z0-9_./:@-]{1,30}",
        "[\"\\\\{}\\[\\]:,\\x00-\\x1f]{1,12}",
        collection::vec(any::<char>(), 0..48).prop_map(|c| c.into_iter().collect()),
        (1usize..20_000).prop_map(|n| "x".repeat(n)),
        Just("0190f5c2-8a3b-7c4d-9e5f-0123456789ab".to_string()),
        Just("2026-11-23T14:00:00Z".to_string()),
        Just("2026-11-23".to_string()),
        Just("project:payments".to_string()),
    ]
}

/// Numbers at and past every edge: zero, negatives, the integer limits, huge and tiny floats.
fn number() -> impl proptest::strategy::Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(0)),
        (-3i64..300).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |x| x.is_finite())
            .prop_map(Value::from),
        Just(Value::from(u32::MAX as u64 + 1)),
        Just(Value::from(1e300)),
        Just(Value::from(-0.5)),
    ]
}

/// JSON values of any shape, nested a few levels.
pub fn json() -> impl proptest::strategy::Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects naming some of `fields` (and now and then a field of no such name), each of any value: arguments that
/// get past "unknown field" into the decoding of every field.
pub fn object_with(fields: Vec<String>) -> impl proptest::strategy::Strategy<Value = Value> {
    let n = fields.len();
    (
        collection::vec((any::<bool>(), json()), n),
        proptest::option::weighted(0.1, (text(), json())),
    )
        .prop_map(move |(values, stray)| {
            let mut object = Map::new();
            for (field, (present, value)) in fields.iter().zip(values) {
                if present {
                    object.insert(field.clone(), value);
                }
            }
            if let Some((name, value)) = stray {
                object.insert(name, value);
            }
            Value::Object(object)
        })
}
