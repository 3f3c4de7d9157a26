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
fn a_session_quiet_for_half_an_hour_is_completed_with_the_outcome_its_steps_show() {
    let all: Vec<SessionMessage> = parse_all(&[USER, CALL, RESULT])
        .into_iter()
        .flat_map(messages)
        .collect();
    let last = all.last().expect("messages").at;
    let later = crate::Timestamp::from_micros(last.as_micros() + 31 * 60_000_000);
    let episode = session_episode(EpisodeId::new(), &all, later).expect("an episode");
    // Its only check, `cargo test settle`, failed.
    assert!(
        matches!(&episode.outcome, Some(crate::TaskOutcome::Failure { reason, .. }) if reason.contains("cargo test settle")),
        "{:?}",
        episode.outcome
    );
    assert_eq!(episode.end_time, Some(last));
    assert!(episode.reward.is_some() && episode.reflection.is_some());
    assert_eq!(episode.task_type, crate::TaskType::Debugging);
    crate::validate::episode(&episode).expect("valid");
}

#[test]
fn a_session_becomes_an_episode_with_its_calls_as_steps() {
    let all: Vec<SessionMessage> = parse_all(&[USER, CALL, RESULT])
        .into_iter()
        .flat_map(messages)
        .collect();
    let episode = session_episode(EpisodeId::new(), &all, all[0].at).expect("an episode");
    assert!(episode.outcome.is_none(), "a session just seen may go on");
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

const CODEX_META: &str = r#"{"timestamp":"2026-11-30T09:12:04.211Z","type":"session_meta","payload":{"id":"0199d6a2-7c1e-7b40-9f3a-5e2d8c41b6a9","cwd":"/home/dev/ledger","cli_version":"0.63.0"}}"#;
const CODEX_ENV: &str = r#"{"timestamp":"2026-11-30T09:12:04.213Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n<cwd>/home/dev/ledger</cwd>\n</environment_context>"}]}}"#;
const CODEX_PROMPT: &str = r#"{"timestamp":"2026-11-30T09:12:09.540Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"Fix the overflow"}]}}"#;
const CODEX_ECHO: &str = r#"{"timestamp":"2026-11-30T09:12:09.541Z","type":"event_msg","payload":{"type":"user_message","message":"Fix the overflow","images":[]}}"#;
const CODEX_CALL: &str = r#"{"timestamp":"2026-11-30T09:12:12.410Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{\"command\":[\"cargo\",\"test\"]}","call_id":"c1"}}"#;
const CODEX_TEXT_OUTPUT: &str = r#"{"timestamp":"2026-11-30T09:12:19.877Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"Exit code: 101\nWall time: 7.4 seconds\nOutput:\nattempt to add with overflow"}}"#;
const CODEX_JSON_OUTPUT: &str = r#"{"timestamp":"2026-11-30T09:12:19.877Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"{\"output\":\"test result: ok\",\"metadata\":{\"exit_code\":0}}"}}"#;

#[test]
fn codex_rollouts_become_messages_without_the_harness_text() {
    let parsed = parse_all(&[
        CODEX_META,
        CODEX_ENV,
        CODEX_PROMPT,
        CODEX_ECHO,
        CODEX_CALL,
        CODEX_TEXT_OUTPUT,
        CODEX_JSON_OUTPUT,
    ]);
    let mut parsed = parsed.into_iter();
    for skipped in 0..2 {
        assert!(
            matches!(parsed.next(), Some(Ok(Line::Skipped))),
            "line {skipped}"
        );
    }
    let prompt = messages(parsed.next().unwrap());
    assert_eq!(
        (prompt[0].role, prompt[0].project.as_str()),
        (Role::User, "ledger")
    );
    assert_eq!(prompt[0].session_id, "0199d6a2-7c1e-7b40-9f3a-5e2d8c41b6a9");
    assert!(matches!(parsed.next(), Some(Ok(Line::Skipped))), "the echo");
    let call = messages(parsed.next().unwrap());
    assert_eq!(
        (call[0].role, call[0].tool.as_deref()),
        (Role::ToolUse, Some("shell"))
    );
    let failed = messages(parsed.next().unwrap());
    assert_eq!(
        failed[0].tool.as_deref(),
        Some("shell"),
        "named by its call"
    );
    assert!(failed[0].is_error, "exit code 101");
    let passed = messages(parsed.next().unwrap());
    assert!(!passed[0].is_error);
    assert_eq!(passed[0].content, "test result: ok");
}

#[test]
fn a_codex_rollout_without_its_meta_line_takes_the_session_from_its_name() {
    let file = "sessions/2026/11/30/rollout-2026-11-30T09-12-04-0199d6a2-7c1e-7b40-9f3a-5e2d8c41b6a9.jsonl";
    let mut parser = SessionParser::new(file, Some("ledger".into()));
    let prompt = messages(parser.parse(CODEX_PROMPT, 1, 0));
    assert_eq!(prompt[0].session_id, "0199d6a2-7c1e-7b40-9f3a-5e2d8c41b6a9");
    let mut parser = SessionParser::new("notes.jsonl", Some("ledger".into()));
    let err = parser.parse(CODEX_PROMPT, 1, 0).expect_err("no session");
    assert!(err.contains("session_meta"), "{err}");
}

#[test]
fn secrets_and_secret_files_never_leave_the_parser() {
    let read_env = r#"{"type":"assistant","sessionId":"s1","timestamp":"2026-05-01T10:00:02Z","cwd":"/home/dev/payments","message":{"role":"assistant","content":[{"type":"tool_use","id":"t9","name":"Read","input":{"file_path":"/home/dev/payments/.env"}}]}}"#;
    let env_contents = r#"{"type":"user","sessionId":"s1","timestamp":"2026-05-01T10:00:03Z","cwd":"/home/dev/payments","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t9","content":"STRIPE_WEBHOOK=whsec_plainvalue\nDEBUG=1"}]}}"#;
    let leaked = r#"{"type":"user","sessionId":"s1","timestamp":"2026-05-01T10:00:04Z","cwd":"/home/dev/payments","message":{"role":"user","content":"use the key AKIAIOSFODNN7EXAMPLE <private>and my phone 555-0100</private> please"}}"#;
    let all: Vec<SessionMessage> = parse_all(&[read_env, env_contents, leaked])
        .into_iter()
        .flat_map(messages)
        .collect();
    assert_eq!(all[1].content, SECRET_FILE);
    assert!(!all[2].content.contains("AKIA"), "{}", all[2].content);
    assert!(!all[2].content.contains("555-0100"), "{}", all[2].content);
    assert!(names_secret_file(
        r#"{"command":["bash","-lc","cat config/.env.production"]}"#
    ));
    assert!(!names_secret_file(r#"{"command":"cargo test"}"#));
}
