//! `memory-cli hook`: a Claude Code session's events, fed to the binary as Claude Code feeds them, become an
//! episode with its steps and outcome; later sessions get it back; bad input never fails the agent.

use std::{io::Write as _, process::Stdio};

use serde_json::{Value, json};

use crate::support::{Cli, parse_json, succeeded};

/// Runs `memory-cli hook` with `input` on its standard input.
fn feed(cli: &Cli, input: &str) -> std::process::Output {
    feed_with(cli, input, &[])
}

/// The same, with the variables `env` set.
fn feed_with(cli: &Cli, input: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut child = cli
        .command()
        .envs(env.iter().copied())
        .arg("--db")
        .arg(&cli.db)
        .arg("hook")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

/// Runs one hook event; asserts it exits 0 and prints nothing on stderr; returns stdout.
fn hook(cli: &Cli, event: &Value) -> String {
    let out = feed(cli, &event.to_string());
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn event(cli: &Cli, session: &str, name: &str, fields: Value) -> Value {
    let mut event = json!({
        "session_id": session,
        "transcript_path": cli.path().join("transcript.jsonl"),
        "cwd": cli.path().join("payments"),
        "hook_event_name": name,
    });
    for (k, v) in fields.as_object().expect("fields") {
        event[k] = v.clone();
    }
    event
}

/// One turn: a failing test, the fix, the passing test.
fn session(cli: &Cli, id: &str, prompt: &str) -> String {
    hook(
        cli,
        &event(cli, id, "SessionStart", json!({"source": "startup"})),
    );
    let given = hook(
        cli,
        &event(cli, id, "UserPromptSubmit", json!({"prompt": prompt})),
    );
    let calls = [
        json!({"hook_event_name": "PostToolUseFailure", "tool_name": "Bash",
               "tool_input": {"command": "cargo test retry"},
               "error": "Exit code 101\nthread 'retry' panicked: timed out"}),
        json!({"tool_name": "Edit",
               "tool_input": {"file_path": "tests/retry.rs", "old_string": "#[tokio::test]",
                              "new_string": "#[tokio::test]\nasync fn retry() { tokio::time::pause();"},
               "tool_response": {"filePath": "tests/retry.rs"}, "duration_ms": 4}),
        json!({"tool_name": "Bash", "tool_input": {"command": "cargo test retry"},
               "tool_response": {"stdout": "test result: ok. 1 passed; token=ghp_0123456789abcdefghijABCDEFGHIJ0123456789",
                                 "stderr": "", "interrupted": false},
               "duration_ms": 812}),
    ];
    for call in calls {
        let name = call["hook_event_name"]
            .as_str()
            .unwrap_or("PostToolUse")
            .to_string();
        assert_eq!(hook(cli, &event(cli, id, &name, call)), "");
    }
    hook(
        cli,
        &event(
            cli,
            id,
            "Stop",
            json!({"stop_hook_active": false, "last_assistant_message": "Fixed: the test pauses the clock."}),
        ),
    );
    hook(
        cli,
        &event(cli, id, "SessionEnd", json!({"reason": "exit"})),
    );
    given
}

#[test]
fn a_session_becomes_an_episode_and_the_next_session_is_given_it() {
    let cli = Cli::new();
    std::fs::create_dir(cli.path().join("payments")).expect("project dir");
    session(&cli, "session-one", "Fix the flaky retry test in payments");

    let listing = cli.listing();
    let episodes = listing.as_array().expect("list");
    assert_eq!(episodes.len(), 1, "{listing}");
    let id = episodes[0]["id"].as_str().expect("id");
    let episode = cli.json(&["episode", "show", id]);
    assert_eq!(
        episode["task_description"],
        "Fix the flaky retry test in payments"
    );
    assert_eq!(episode["context"]["domain"], "payments");
    assert!(episode["outcome"]["success"].is_object(), "{episode}");
    assert_eq!(episode["metadata"]["session_id"], "session-one");
    let steps = episode["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 3);
    assert!(steps[0]["result"]["error"].is_object());
    assert_eq!(steps[2]["latency_ms"], 812);
    assert!(
        !episode.to_string().contains("ghp_0123456789"),
        "a token reached the store"
    );

    // The next session starts with it, and its prompt is not given it twice.
    let start = hook(
        &cli,
        &event(
            &cli,
            "session-two",
            "SessionStart",
            json!({"source": "startup"}),
        ),
    );
    let start: Value = parse_json(&start);
    let context = start["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .expect("context");
    assert!(context.contains(id), "{context}");
    assert!(context.contains("why="), "{context}");
    let again = hook(
        &cli,
        &event(
            &cli,
            "session-two",
            "UserPromptSubmit",
            json!({"prompt": "the retry test is flaky again"}),
        ),
    );
    assert!(!again.contains(id), "{again}");
}

#[test]
fn a_prompt_is_given_matching_past_work_and_not_noise() {
    let cli = Cli::new();
    std::fs::create_dir(cli.path().join("payments")).expect("project dir");
    session(&cli, "session-one", "Fix the flaky retry test in payments");
    let listing = cli.listing();
    let id = listing[0]["id"].as_str().expect("id").to_string();
    let matching = hook(
        &cli,
        &event(
            &cli,
            "s2",
            "UserPromptSubmit",
            json!({"prompt": "The retry test in payments is flaky"}),
        ),
    );
    assert!(matching.contains(&id), "{matching}");
    let unrelated = hook(
        &cli,
        &event(
            &cli,
            "s3",
            "UserPromptSubmit",
            json!({"prompt": "Write a haiku about autumn leaves"}),
        ),
    );
    assert_eq!(unrelated, "");
}

#[test]
fn garbage_and_missing_fields_exit_zero_and_are_logged() {
    let cli = Cli::new();
    for input in [
        "not json",
        "[1,2]",
        "{}",
        r#"{"session_id":"x","hook_event_name":"PostToolUse"}"#,
    ] {
        let out = feed(&cli, input);
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "{input}: {out:?}"
        );
    }
    let log = std::fs::read_to_string(cli.db.with_extension("cache.hooks").join("hooks.log"))
        .expect("log");
    assert_eq!(
        log.lines().filter(|l| l.contains(" error ")).count(),
        4,
        "{log}"
    );
    let status = succeeded(cli.run(&["hooks", "status"]));
    assert!(status.contains("last events"), "{status}");
}

#[test]
fn an_import_of_a_captured_session_adds_no_episode() {
    let cli = Cli::new();
    std::fs::create_dir(cli.path().join("payments")).expect("project dir");
    session(
        &cli,
        "0b7c6f1e-1111-4c2b-9a3e-5d2f8c41b6a9",
        "Fix the flaky retry test in payments",
    );
    let cwd = cli.path().join("payments");
    let lines = [
        json!({"type": "user", "sessionId": "0b7c6f1e-1111-4c2b-9a3e-5d2f8c41b6a9", "timestamp": "2026-12-01T10:00:00Z",
               "cwd": cwd, "message": {"role": "user", "content": "Fix the flaky retry test in payments"}}),
        json!({"type": "assistant", "sessionId": "0b7c6f1e-1111-4c2b-9a3e-5d2f8c41b6a9", "timestamp": "2026-12-01T10:00:05Z",
               "cwd": cwd, "message": {"role": "assistant", "content": [{"type": "text", "text": "Fixed."}]}}),
    ];
    let file = cli.path().join("transcript.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).expect("write transcript");
    succeeded(cli.run(&["import", "sessions", file.to_str().expect("utf-8")]));
    assert_eq!(cli.listing().as_array().expect("list").len(), 1);
}

#[test]
fn the_plugin_runs_the_hooks_install_writes() {
    let plugin: Value = parse_json(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../plugin/hooks/hooks.json"
        ))
        .expect("hooks.json"),
    );
    let cli = Cli::new();
    succeeded(cli.raw(&["hooks", "install"]));
    let settings: Value = parse_json(
        &std::fs::read_to_string(cli.path().join(".claude/settings.json")).expect("settings"),
    );
    let events: Vec<&String> = plugin["hooks"].as_object().expect("hooks").keys().collect();
    let installed: Vec<&String> = settings["hooks"]
        .as_object()
        .expect("hooks")
        .keys()
        .collect();
    assert_eq!(events, installed);
    for event in events {
        let (a, b) = (&plugin["hooks"][event][0], &settings["hooks"][event][0]);
        assert_eq!(a["matcher"], b["matcher"]);
        assert!(
            b["hooks"][0]["command"]
                .as_str()
                .expect("command")
                .ends_with("memory-cli hook")
        );
        assert_eq!(a["hooks"][0]["command"], "memory-cli hook");
    }
    // Installing again replaces ours and keeps the rest.
    succeeded(cli.raw(&["hooks", "install"]));
    let again: Value = parse_json(
        &std::fs::read_to_string(cli.path().join(".claude/settings.json")).expect("settings"),
    );
    assert_eq!(again["hooks"]["Stop"].as_array().expect("stop").len(), 1);
}

#[test]
fn codex_and_cursor_hooks_install_beside_the_users_own() {
    let cli = Cli::new();
    std::fs::create_dir_all(cli.path().join(".codex")).expect("dir");
    std::fs::write(
        cli.path().join(".codex/config.toml"),
        "model = \"gpt-5\"\n\n[features]\nweb_search = true\n",
    )
    .expect("config");
    succeeded(cli.raw(&["hooks", "install", "--agent", "codex"]));
    let codex: Value = parse_json(
        &std::fs::read_to_string(cli.path().join(".codex/hooks.json")).expect("hooks.json"),
    );
    let events: Vec<&String> = codex["hooks"].as_object().expect("hooks").keys().collect();
    assert_eq!(
        events,
        ["PostToolUse", "SessionStart", "Stop", "UserPromptSubmit"]
    );
    let config = std::fs::read_to_string(cli.path().join(".codex/config.toml")).expect("config");
    assert_eq!(
        config,
        "model = \"gpt-5\"\n\n[features]\ncodex_hooks = true\nweb_search = true\n"
    );
    succeeded(cli.raw(&["hooks", "install", "--agent", "codex"]));
    let again = std::fs::read_to_string(cli.path().join(".codex/config.toml")).expect("config");
    assert_eq!(again, config);

    let path = cli.path().join(".cursor/hooks.json");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    std::fs::write(
        &path,
        r#"{"version": 1, "hooks": {"stop": [{"command": "./notify.sh"}]}}"#,
    )
    .expect("write");
    succeeded(cli.raw(&["hooks", "install", "--agent", "cursor"]));
    let cursor: Value = parse_json(&std::fs::read_to_string(&path).expect("hooks.json"));
    assert_eq!(cursor["version"], 1);
    let stop = cursor["hooks"]["stop"].as_array().expect("stop");
    assert_eq!(stop.len(), 2, "{cursor}");
    assert_eq!(stop[0]["command"], "./notify.sh");
    assert!(
        stop[1]["command"]
            .as_str()
            .expect("command")
            .ends_with(" hook")
    );
    let status = succeeded(cli.run(&["hooks", "status"]));
    assert!(
        status.contains("hooks.json: 4 of 4 events hooked"),
        "{status}"
    );
    assert!(
        status.contains("hooks.json: 7 of 7 events hooked"),
        "{status}"
    );
}

#[test]
fn cursor_events_become_an_episode_and_its_session_start_is_given_it() {
    let cli = Cli::new();
    let project = cli.path().join("payments");
    std::fs::create_dir_all(&project).expect("project");
    let cursor = |name: &str, conversation: &str, fields: Value| {
        let mut event = json!({
            "hook_event_name": name, "conversation_id": conversation,
            "generation_id": "g-1", "workspace_roots": [project], "cursor_version": "1.7.0",
        });
        for (k, v) in fields.as_object().expect("fields") {
            event[k] = v.clone();
        }
        hook(&cli, &event)
    };
    assert_eq!(cursor("sessionStart", "c-1", json!({})), "");
    let prompt = json!({"prompt": "The retry test in payments times out"});
    assert_eq!(cursor("beforeSubmitPrompt", "c-1", prompt), "");
    cursor(
        "postToolUseFailure",
        "c-1",
        json!({"tool_name": "Shell", "tool_input": {"command": "cargo test retry"},
               "error_message": "Exit code 101: test retry timed out"}),
    );
    cursor(
        "postToolUse",
        "c-1",
        json!({"tool_name": "Shell", "tool_input": {"command": "cargo test retry"},
               "tool_output": "test result: ok. 1 passed"}),
    );
    cursor(
        "stop",
        "c-1",
        json!({"status": "completed", "loop_count": 0}),
    );
    let listing = cli.listing();
    let episodes = listing.as_array().expect("episodes");
    assert_eq!(episodes.len(), 1, "{listing}");
    let id = episodes[0]["id"].as_str().expect("id");
    let episode = cli.json(&["episode", "show", id]);
    assert_eq!(
        episode["task_description"],
        "The retry test in payments times out"
    );
    assert_eq!(episode["steps"].as_array().expect("steps").len(), 2);
    assert!(
        episode["steps"][0]["result"]["error"].is_object(),
        "{episode}"
    );
    assert!(episode["outcome"]["success"].is_object(), "{episode}");
    assert_eq!(episode["metadata"]["session_id"], "c-1");
    let given = parse_json(&cursor("sessionStart", "c-2", json!({})));
    assert!(
        given["additional_context"]
            .as_str()
            .expect("context")
            .contains(id),
        "{given}"
    );
}

#[test]
fn excluded_tools_and_paths_are_not_recorded() {
    let cli = Cli::new();
    let private = cli.path().join("private");
    let exclude = format!("secrets,{}", private.display());
    let env = [
        ("MEMORY_HOOKS_EXCLUDE_TOOLS", "WebFetch"),
        ("MEMORY_HOOKS_EXCLUDE_PATHS", exclude.as_str()),
    ];
    let run = |session: &str, cwd: &std::path::Path, name: &str, fields: Value| {
        let mut event = json!({"session_id": session, "cwd": cwd, "hook_event_name": name});
        for (k, v) in fields.as_object().expect("fields") {
            event[k] = v.clone();
        }
        let out = feed_with(&cli, &event.to_string(), &env);
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    };
    let project = cli.path().join("payments");
    run(
        "s1",
        &project,
        "UserPromptSubmit",
        json!({"prompt": "Rotate the API keys"}),
    );
    let calls = [
        json!({"tool_name": "Read", "tool_input": {"file_path": project.join("secrets/keys.txt")}}),
        json!({"tool_name": "Bash", "tool_input": {"command": "cat secrets/keys.txt"}}),
        json!({"tool_name": "WebFetch", "tool_input": {"url": "https://example.com"}}),
        json!({"tool_name": "Bash", "tool_input": {"command": "cargo test keys"},
               "tool_response": {"stdout": "test result: ok", "stderr": ""}}),
    ];
    for call in calls {
        run("s1", &project, "PostToolUse", call);
    }
    run("s1", &project, "Stop", json!({}));
    run(
        "s2",
        &private,
        "UserPromptSubmit",
        json!({"prompt": "Private work"}),
    );
    run(
        "s2",
        &private,
        "PostToolUse",
        json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
    );
    let listing = cli.listing();
    let episodes = listing.as_array().expect("episodes");
    assert_eq!(episodes.len(), 1, "{listing}");
    let episode = cli.json(&["episode", "show", episodes[0]["id"].as_str().expect("id")]);
    let steps = episode["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 1, "{episode}");
    assert_eq!(steps[0]["action"], "cargo test keys");
}
