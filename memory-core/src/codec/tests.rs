use serde_json::json;

use super::*;

#[test]
fn json_text_is_canonical() {
    let a = Json::from_text(r#"{ "b": [1, 2], "a": {"x": null} }"#).expect("valid");
    let b = Json::new(&json!({ "a": { "x": null }, "b": [1, 2] }));
    assert_eq!(a, b);
    assert_eq!(a.as_str(), r#"{"a":{"x":null},"b":[1,2]}"#);
    assert!(a.is_object());
    assert_eq!(a.value()["b"][1], 2);
    assert!(Json::from_text("{not json").is_err());
    assert!(Json::from_stored("[1,".into()).is_err());
}

#[test]
fn json_and_timestamps_have_a_readable_and_a_binary_form() {
    let value = (
        Json::new(&json!({ "k": [true, 1.5] })),
        Timestamp::from_micros(1_795_444_646_328_900),
    );
    let text = serde_json::to_string(&value).expect("json");
    assert_eq!(text, r#"[{"k":[true,1.5]},"2026-11-23T14:37:26.328900Z"]"#);
    assert_eq!(
        serde_json::from_str::<(Json, Timestamp)>(&text).expect("parse"),
        value
    );
    let bytes = postcard::to_allocvec(&value).expect("postcard");
    assert_eq!(
        postcard::from_bytes::<(Json, Timestamp)>(&bytes).expect("decode"),
        value
    );
}

#[test]
fn timestamps_parse_dates_and_rfc3339() {
    assert_eq!(
        Timestamp::parse("1970-01-02").map(Timestamp::as_micros),
        Some(86_400_000_000)
    );
    assert_eq!(
        Timestamp::parse("1970-01-01T00:00:01+01:00").map(Timestamp::as_micros),
        Some(-3_599_000_000)
    );
    assert!(Timestamp::parse("yesterday").is_none());
}
