//! Properties of the session-log parser on generated lines: whatever a line holds, parsing it returns messages
//! or a short reason, never panics, and never keeps a message over the size limit. `PROPTEST_CASES` sets how many
//! lines run (256 by default; `scripts/fuzz.sh` runs many more).

use memory_core::{
    sessions::{Line, SessionParser},
    validate::MAX_RECORD_CONTENT_BYTES,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use test_utils::arbitrary;

fn check(parser: &mut SessionParser, line: &str) -> Result<(), TestCaseError> {
    match parser.parse(line, 7, 100) {
        Ok(Line::Messages(messages)) => {
            for m in messages {
                prop_assert!(m.content.len() <= MAX_RECORD_CONTENT_BYTES);
                prop_assert_eq!(m.provenance.line, 7);
            }
        }
        Ok(Line::Skipped) => {}
        Err(why) => prop_assert!(why.len() < 2_000, "a {} byte reason", why.len()),
    }
    Ok(())
}

/// Lines shaped like the events the parser knows, with any value in any field.
fn event() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just("user"),
        Just("assistant"),
        Just("system"),
        Just("summary"),
        Just("file-history-snapshot"),
        Just("progress"),
    ];
    let any = || arbitrary::json();
    let content = prop_oneof![
        arbitrary::text().prop_map(Value::from),
        proptest::collection::vec(
            (prop_oneof![Just("text"), Just("tool_use"), Just("tool_result"), Just("thinking"), Just("image")], any(), any(), any()),
            0..4
        )
        .prop_map(|blocks| {
            Value::Array(
                blocks
                    .into_iter()
                    .map(|(t, a, b, c)| json!({"type": t, "text": a, "id": b, "tool_use_id": b, "name": c, "input": a, "content": c, "is_error": b}))
                    .collect(),
            )
        }),
        any(),
    ];
    prop_oneof![
        (kind, any(), any(), any(), content.clone()).prop_map(|(k, session, time, cwd, content)| {
            json!({"type": k, "sessionId": session, "timestamp": time, "cwd": cwd, "uuid": "u1",
                   "message": {"role": k, "content": content}})
        }),
        (any(), any(), any(), any(), any()).prop_map(|(content, session, time, project, role)| {
            json!({"content": content, "session_id": session, "timestamp": time, "project": project, "role": role})
        }),
        any(),
    ]
}

proptest! {
    #[test]
    fn any_text_is_parsed_or_refused_without_a_panic(line in arbitrary::text()) {
        check(&mut SessionParser::new("s.jsonl", None), &line)?;
    }

    #[test]
    fn event_shaped_lines_are_parsed_or_refused_without_a_panic(events in proptest::collection::vec(event(), 1..6)) {
        // One parser over several lines, as a log is read: a tool call is remembered for its result.
        let mut parser = SessionParser::new("s.jsonl", Some("payments".into()));
        for event in events {
            check(&mut parser, &event.to_string())?;
        }
    }
}
