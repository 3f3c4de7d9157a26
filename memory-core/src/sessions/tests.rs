use super::*;
use crate::{EpisodeId, StepResult};

fn parse_all(lines: &[&str]) -> Vec<Result<Line, String>> {
    let mut parser = SessionParser::new("s.jsonl", None);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| parser.parse(l, i as u64 + 1, 0))
        .collect()
}

fn messages(line: Result<Line, String>) -> Vec<SessionMessage> {
    match line.expect("parsed") {
        Line::Messages(m) => m,
        Line::Skipped => panic!("skipped"),
    }
}

const USER: &str = r#"{"type":"user","sessionId":"s1","timestamp":"2026-05-01T10:00:00Z","cwd":"/home/dev/payments","uuid":"u1","message":{"role":"user","content":"Fix the flaky settlement test"}}"#;
const CALL: &str = r#"{"type":"assistant","sessionId":"s1","timestamp":"2026-05-01T10:00:02Z","cwd":"/home/dev/payments","message":{"role":"assistant","model":"m","content":[{"type":"thinking","thinking":"hm"},{"type":"text","text":"Running the tests."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cargo test settle\n--quiet"}}]}}"#;
const RESULT: &str = r#"{"type":"user","sessionId":"s1","timestamp":"2026-05-01T10:00:05.5Z","cwd":"/home/dev/payments","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":[{"type":"text","text":"settle_retries timed out"}]}]}}"#;

#[test]
fn claude_code_events_become_messages_with_their_tools() {
    let mut parsed = parse_all(&[USER, CALL, RESULT]).into_iter();
    let user = messages(parsed.next().unwrap());
    assert_eq!(user.len(), 1);
    assert_eq!(user[0].project, "payments");
    assert_eq!(user[0].role, Role::User);
    let said = messages(parsed.next().unwrap());
    assert_eq!(
        said.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::Assistant, Role::ToolUse]
    );
    assert_eq!(said[1].tool.as_deref(), Some("Bash"));
    let result = messages(parsed.next().unwrap());
    assert_eq!(result[0].role, Role::ToolResult);
    assert_eq!(result[0].tool.as_deref(), Some("Bash"), "named by its call");
    assert!(result[0].is_error);
    assert_eq!(result[0].content, "settle_retries timed out");
    assert_eq!(result[0].provenance.line, 3);
}

#[test]
fn a_session_becomes_an_episode_with_its_calls_as_steps() {
    let all: Vec<SessionMessage> = parse_all(&[USER, CALL, RESULT])
        .into_iter()
        .flat_map(messages)
        .collect();
    let episode = session_episode(EpisodeId::new(), &all).expect("an episode");
    assert_eq!(episode.task_description, "Fix the flaky settlement test");
    assert_eq!(episode.context.domain, "payments");
    assert_eq!(episode.steps.len(), 1);
    let step = &episode.steps[0];
    assert_eq!(
        (step.tool.as_str(), step.action.as_str()),
        ("Bash", "cargo test settle")
    );
    assert_eq!(step.latency_ms, 3500);
    assert!(
        matches!(&step.result, StepResult::Error { message } if message == "settle_retries timed out")
    );
    crate::validate::episode(&episode).expect("valid");
    // What was said is searchable; the calls are steps.
    let records: Vec<_> = all
        .iter()
        .filter_map(|m| message_record(m).expect("valid"))
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].scope.as_str(), "project:payments");
    assert_eq!(records[0].source.as_deref(), Some("s.jsonl:1"));
}

#[test]
fn generic_events_are_read_and_bad_lines_say_why() {
    let parsed = parse_all(&[
        r#"{"content":"payment gateway timeout","timestamp":"2026-05-01T10:00:00Z","session_id":"g1","project":"shop","component":"gateway","level":"ERROR"}"#,
        r#"{"type":"summary","summary":"Flaky test","leafUuid":"x"}"#,
        "",
        "{not json",
        "[1,2]",
        r#"{"hello":"world"}"#,
        r#"{"content":"x","timestamp":"yesterday","session_id":"g1","project":"shop"}"#,
        r#"{"type":"user","sessionId":"s1","timestamp":"2026-05-01T10:00:00Z","message":{"content":"no cwd"}}"#,
    ]);
    let mut parsed = parsed.into_iter();
    let event = messages(parsed.next().unwrap());
    assert_eq!(event[0].level.as_deref(), Some("error"));
    assert!(event[0].is_error);
    assert!(matches!(parsed.next().unwrap(), Ok(Line::Skipped)));
    assert!(matches!(parsed.next().unwrap(), Ok(Line::Skipped)));
    let errors: Vec<String> = parsed.map(|p| p.expect_err("rejected")).collect();
    assert!(errors[0].starts_with("not JSON"), "{}", errors[0]);
    assert_eq!(errors[1], "not a JSON object");
    assert!(
        errors[2].starts_with("unknown event shape (keys: hello)"),
        "{}",
        errors[2]
    );
    assert!(errors[3].contains("not an RFC 3339 time"), "{}", errors[3]);
    assert!(errors[4].contains("--project"), "{}", errors[4]);
}

#[test]
fn the_hash_ignores_where_a_message_was_read() {
    let mut a = messages(parse_all(&[USER]).remove(0)).remove(0);
    let b = a.clone();
    a.provenance.file = "copy.jsonl".into();
    assert_eq!(a.hash(), b.hash());
    a.content.push('!');
    assert_ne!(a.hash(), b.hash());
}
