use serde_json::json;

use super::*;

fn call<'a>(tool: &'a str, input: &'a Value, response: &'a Value) -> ToolCall<'a> {
    ToolCall {
        tool,
        input,
        response: Some(response),
        error: None,
        duration_ms: Some(12),
    }
}

#[test]
fn a_shell_call_keeps_its_command_output_and_time() {
    let input = json!({"command": "cargo test -p payments", "description": "run the tests"});
    let response =
        json!({"stdout": "test result: ok. 3 passed", "stderr": "", "interrupted": false});
    let step = step(&call("Bash", &input, &response));
    assert_eq!(step.tool, "Bash");
    assert_eq!(step.action, "cargo test -p payments");
    assert_eq!(step.result.text(), "test result: ok. 3 passed");
    assert!(step.result.is_success());
    assert_eq!(step.latency_ms, 12);
}

#[test]
fn failures_exit_codes_and_interruptions_are_not_successes() {
    let input = json!({"command": "cargo build"});
    let failed = ToolCall {
        error: Some("Exit code 101\nerror[E0308]: mismatched types"),
        response: None,
        ..call("Bash", &input, &Value::Null)
    };
    assert_eq!(step(&failed).result.kind(), "error");
    let code = json!({"stdout": "", "stderr": "boom", "exit_code": 2});
    assert_eq!(step(&call("Bash", &input, &code)).result.kind(), "error");
    let cut = json!({"stdout": "", "stderr": "", "interrupted": true});
    assert_eq!(step(&call("Bash", &input, &cut)).result.kind(), "timeout");
    // Codex gives a shell call's response as text.
    let codex = json!("Exit code: 101\nWall time: 2.1 seconds\nOutput:\nerror: could not compile");
    assert_eq!(step(&call("Bash", &input, &codex)).result.kind(), "error");
    let passed = json!("Exit code: 0\nWall time: 0.4 seconds\nOutput:\ntest result: ok");
    assert_eq!(
        step(&call("Bash", &input, &passed)).result.kind(),
        "success"
    );
}

#[test]
fn secrets_in_commands_and_output_are_redacted_and_secret_files_dropped() {
    let key = "sk-ant-api03-Xq9vT2mLk8RfZ3wNc7HbJ5pYd1sAe6Gu4Ko0IiMnBvCxQrWtEyUo-AbCdEfAA";
    let input = json!({"command": format!("curl -H 'x-api-key: {key}' https://api.example.com")});
    let response = json!({"stdout": format!("echo {key}"), "stderr": ""});
    let step_ = step(&call("Bash", &input, &response));
    for text in [
        step_.action.as_str(),
        step_.result.text(),
        step_.parameters.as_str(),
    ] {
        assert!(!text.contains(key), "{text}");
    }
    let input = json!({"file_path": "/repo/.env"});
    let response = json!({"type": "text", "file": {"filePath": "/repo/.env", "content": "DB_PASSWORD=hunter2"}});
    let read = step(&call("Read", &input, &response));
    assert_eq!(read.result.text(), SECRET_FILE);
}

#[test]
fn checks_are_recognised_in_compound_commands() {
    assert_eq!(
        check_kind("cd crates/pay && cargo test retry"),
        Some("test")
    );
    assert_eq!(
        check_kind("RUST_LOG=debug cargo build --release"),
        Some("build")
    );
    assert_eq!(
        check_kind("cargo build && cargo clippy -- -D warnings"),
        Some("lint")
    );
    assert_eq!(check_kind("npx vitest run"), Some("test"));
    assert_eq!(check_kind("rg -n flaky tests/"), None);
    assert_eq!(check_kind("makefile-gen"), None);
}

fn observed(steps: &[(&str, &str, bool)]) -> Evidence {
    let mut evidence = Evidence::default();
    for (tool, action, ok) in steps {
        let result = if *ok {
            StepResult::Success {
                output: "ok".into(),
            }
        } else {
            StepResult::Error {
                message: "error: failed".into(),
            }
        };
        evidence.observe(&ExecutionStep::new(*tool, *action, result));
    }
    evidence
}

#[test]
fn the_outcome_follows_the_last_check_and_unanswered_errors() {
    let fixed = observed(&[
        ("Bash", "cargo test", false),
        ("Edit", "src/lib.rs", true),
        ("Bash", "cargo test", true),
    ]);
    assert!(
        matches!(fixed.outcome(None), TaskOutcome::Success { verdict, .. } if verdict.contains("cargo test"))
    );
    let broken = observed(&[("Edit", "src/lib.rs", true), ("Bash", "cargo test", false)]);
    assert!(matches!(broken.outcome(None), TaskOutcome::Failure { .. }));
    let left = observed(&[("Edit", "src/lib.rs", false), ("Read", "src/lib.rs", true)]);
    assert!(matches!(
        left.outcome(None),
        TaskOutcome::PartialSuccess { .. }
    ));
    let answered = observed(&[("Edit", "src/lib.rs", false), ("Edit", "src/lib.rs", true)]);
    assert!(matches!(
        answered.outcome(None),
        TaskOutcome::Success { .. }
    ));
    let declined = observed(&[]).outcome(Some("I can't delete the production database."));
    assert!(matches!(declined, TaskOutcome::Abstained { .. }));
}

#[test]
fn prompts_give_task_types() {
    assert_eq!(task_type("Fix the failing retry test"), TaskType::Debugging);
    assert_eq!(
        task_type("Refactor the payment module"),
        TaskType::Refactoring
    );
    assert_eq!(task_type("Add a CSV export"), TaskType::CodeGeneration);
    assert_eq!(task_type("lorem ipsum"), TaskType::Other);
}
