use super::*;
use crate::{StepResult, TaskType};

fn ctx() -> TaskContext {
    TaskContext {
        domain: "payments".into(),
        ..Default::default()
    }
}

#[test]
fn tags_are_limited_in_number_length_and_alphabet() {
    assert!(tags(&["rust".into(), "async-io".into(), "v1.2_x".into()]).is_ok());
    let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    assert!(tags(&many).unwrap_err().to_string().contains("limit is 50"));
    assert!(tags(&["a".repeat(51)]).is_err());
    assert!(tags(&[String::new()]).is_err());
    let err = tags(&["ok".into(), "no space".into()]).unwrap_err();
    assert!(err.to_string().contains("tags[1]"), "{err}");
}

#[test]
fn names_reject_control_characters() {
    assert!(name("tool", "cargo", true).is_ok());
    assert!(name("tool", "car\ngo", true).is_err());
    assert!(name("tool", " ", true).is_err());
    assert!(name("language", "", false).is_ok());
}

#[test]
fn description_is_bounded() {
    assert!(task_description(&"x".repeat(MAX_TASK_DESCRIPTION_BYTES)).is_ok());
    assert!(task_description(&"x".repeat(MAX_TASK_DESCRIPTION_BYTES + 1)).is_err());
    assert!(task_description("  ").is_err());
}

#[test]
fn step_payloads_are_bounded() {
    let mut s = ExecutionStep::new(
        "cargo",
        "test",
        StepResult::Success {
            output: "ok".into(),
        },
    );
    assert!(step(&s).is_ok());
    s.parameters =
        crate::Json::new(&serde_json::json!({ "x": "y".repeat(MAX_STEP_PAYLOAD_BYTES) }));
    let err = step(&s).unwrap_err();
    assert!(err.to_string().contains("parameters"), "{err}");
    s.parameters = crate::Json::empty_object();
    s.result = StepResult::Error {
        message: "e".repeat(MAX_STEP_PAYLOAD_BYTES + 1),
    };
    assert!(step(&s).is_err());
}

#[test]
fn episode_checks_numbering_and_names_the_step() {
    let mut ep = Episode::new("fix it", TaskType::Debugging, ctx());
    let mut s = ExecutionStep::new(
        "cargo",
        "test",
        StepResult::Success {
            output: String::new(),
        },
    );
    s.step_number = 2;
    ep.steps.push(s);
    let err = episode(&ep).unwrap_err();
    assert!(err.to_string().contains("steps[0].step_number"), "{err}");
    ep.steps[0].tool = "bad\ttool".into();
    let err = episode(&ep).unwrap_err();
    assert!(err.to_string().contains("steps[0].tool"), "{err}");
}

#[test]
fn quoted_values_and_clipped_messages_stay_short() {
    assert_eq!(quoted("payments"), "\"payments\"");
    let long = "é".repeat(1 << 20);
    let q = quoted(&long);
    assert!(
        q.starts_with("\"éé") && q.ends_with("… (2097152 bytes)"),
        "{q}"
    );
    assert!(q.len() < 200);
    let message = format!(
        "invalid type: string \"{}\", expected u32",
        "a".repeat(1 << 20)
    );
    let cut = clipped(&message, 300);
    assert!(cut.len() < 400, "{}", cut.len());
    assert!(cut.starts_with("invalid type: string \"aaa"));
    assert!(cut.ends_with("aaa\", expected u32"));
    assert_eq!(clipped("short", 300), "short");
}
