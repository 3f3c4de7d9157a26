//! `execute_code` through the real server: results, limits reported as results, isolation, episode steps, the
//! concurrency bound, and a server that keeps answering while hostile programs run.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Scratch, call, fails, ok, str_of};

async fn run(client: &crate::support::Client, arguments: Value) -> Value {
    ok(client, "execute_code", arguments).await
}

#[tokio::test]
async fn a_program_runs_and_its_output_comes_back() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|t| t.name == "execute_code")
        .expect("execute_code is listed");
    assert!(tool.output_schema.is_some());

    let out = run(
        &client,
        json!({"language": "javascript", "code": "console.log(1+1)"}),
    )
    .await;
    assert_eq!(out["stdout"], "2\n");
    assert_eq!(out["stderr"], "");
    assert_eq!(out["exit_code"], 0);
    for flag in ["timed_out", "out_of_fuel", "out_of_memory", "truncated"] {
        assert_eq!(out[flag], false, "{flag}");
    }
    assert!(out["fuel_used"].as_u64().unwrap() > 0);
    assert!(out["duration_ms"].as_f64().unwrap() > 0.0);

    let out = run(
        &client,
        json!({"code": "console.log(stdin.split('\\n').map(Number).reduce((a, b) => a + b))", "stdin": "1\n2\n39"}),
    )
    .await;
    assert_eq!(out["stdout"], "42\n");

    let out = run(&client, json!({"code": "throw new RangeError('too far')"})).await;
    assert_eq!(out["exit_code"], 1);
    assert!(
        str_of(&out, "stderr").contains("RangeError: too far"),
        "{out}"
    );
}

#[tokio::test]
async fn limits_are_results_that_name_the_limit() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let out = run(&client, json!({"code": "for (;;) {}", "timeout_ms": 200})).await;
    assert_eq!(out["timed_out"], true, "{out}");
    assert_eq!(out["exit_code"], Value::Null);

    let out = run(&client, json!({"code": "for (;;) {}", "timeout_ms": 60000})).await;
    assert_eq!(out["out_of_fuel"], true, "{out}");

    let out = run(
        &client,
        json!({"code": "const a = []; for (;;) a.push(new Float64Array(1 << 16));", "memory_mb": 8}),
    )
    .await;
    assert_eq!(out["out_of_memory"], true, "{out}");
    assert_ne!(out["exit_code"], 0);

    let out = run(
        &client,
        json!({"code": "const f = n => f(n + 1) + 1; f(0)"}),
    )
    .await;
    assert_eq!(out["stack_overflow"], true, "{out}");

    let out = run(
        &client,
        json!({"code": "for (let i = 0; i < 300000; i++) console.log('0123456789')"}),
    )
    .await;
    assert_eq!(out["truncated"], true);
    assert_eq!(str_of(&out, "stdout").len(), 1 << 20);
}

#[tokio::test]
async fn escape_attempts_fail() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    for code in [
        "require('fs').readFileSync('/etc/passwd', 'utf8')",
        "import * as os from 'os'",
        "std.open('/etc/passwd', 'r')",
        "fetch('http://127.0.0.1/')",
        "console.log(process.env)",
    ] {
        let out = run(&client, json!({"code": code})).await;
        assert_eq!(out["exit_code"], 1, "{code}: {out}");
        assert!(!str_of(&out, "stdout").contains("root:"));
    }
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_naming_the_field() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    fails(
        &client,
        "execute_code",
        json!({"code": "1", "timeout_ms": 0}),
        "timeout_ms",
    )
    .await;
    fails(
        &client,
        "execute_code",
        json!({"code": "1", "memory_mb": 100000}),
        "memory_mb",
    )
    .await;
    fails(
        &client,
        "execute_code",
        json!({"code": "1", "language": "cobol"}),
        "language",
    )
    .await;
    fails(&client, "execute_code", json!({}), "code").await;
    fails(
        &client,
        "execute_code",
        json!({"code": "1", "episode_id": "nope"}),
        "episode id",
    )
    .await;
    let huge = "x".repeat((256 << 10) + 1);
    fails(&client, "execute_code", json!({"code": huge}), "code").await;
}

#[tokio::test]
async fn an_execution_is_logged_as_a_step_of_the_episode() {
    let scratch = Scratch::new();
    let client = scratch.connect().await;
    let created = ok(
        &client,
        "create_episode",
        json!({"task_description": "Check the date parser", "domain": "parsing"}),
    )
    .await;
    let id = str_of(&created, "episode_id");
    let out = run(
        &client,
        json!({"code": "// check\nconsole.log(new Date(0).toISOString())", "episode_id": id}),
    )
    .await;
    assert_eq!(out["step_number"], 1);
    let out = run(
        &client,
        json!({"code": "JSON.parse('{')", "episode_id": id}),
    )
    .await;
    assert_eq!(out["step_number"], 2);

    let episode = ok(&client, "get_episode", json!({"episode_id": id})).await;
    let steps = episode["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{episode}");
    assert_eq!(steps[0]["tool"], "execute_code");
    assert_eq!(steps[0]["action"], "javascript: // check");
    assert_eq!(
        steps[0]["output"], "1970-01-01T00:00:00.000Z\n",
        "{}",
        steps[0]
    );
    assert!(steps[1].to_string().contains("SyntaxError"), "{}", steps[1]);

    let unknown = "0190f5c2-8a3b-7c4d-9e5f-0123456789ab";
    fails(
        &client,
        "execute_code",
        json!({"code": "1", "episode_id": unknown}),
        "not found",
    )
    .await;
}

#[tokio::test]
async fn hostile_programs_never_stop_the_server_from_answering() {
    let scratch = Scratch::new();
    let mut cmd = scratch.command();
    cmd.args(["--sandbox-concurrency", "2"]);
    let (client, _stderr) = scratch.connect_with(cmd).await;
    let client = std::sync::Arc::new(client);
    let hostile = [
        "for (;;) {}",
        "const a = []; for (;;) a.push('x'.repeat(1 << 20));",
        "const f = () => f(); f()",
        "for (;;) console.log('flood')",
    ];
    let mut tasks = Vec::new();
    for (i, code) in hostile.iter().cycle().take(8).enumerate() {
        let client = client.clone();
        let code = code.to_string();
        tasks.push(tokio::spawn(async move {
            let out = run(
                &client,
                json!({"code": code, "timeout_ms": 1500 + 100 * i as u64}),
            )
            .await;
            assert_ne!(out["exit_code"], 0, "{out}");
        }));
    }
    // Other calls are answered while the sandbox's turns are all taken.
    for _ in 0..5 {
        let health = ok(&client, "health_check", json!({})).await;
        assert_eq!(health["status"], "ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in tasks {
        task.await.expect("hostile execution");
    }
    let out = run(&client, json!({"code": "console.log('still here')"})).await;
    assert_eq!(out["stdout"], "still here\n");
}

#[tokio::test]
async fn a_full_queue_is_refused_with_a_retry_message() {
    let scratch = Scratch::new();
    let mut cmd = scratch.command();
    cmd.args(["--sandbox-concurrency", "1"]);
    let (client, _stderr) = scratch.connect_with(cmd).await;
    let client = std::sync::Arc::new(client);
    // One runs and ten wait; the rest are refused at once.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                call(
                    &client,
                    "execute_code",
                    json!({"code": "for (;;) {}", "timeout_ms": 300}),
                )
                .await
                .expect("call")
            })
        })
        .collect();
    let mut busy = 0;
    let mut timed_out = 0;
    for task in tasks {
        let result = task.await.expect("task");
        if result.is_error == Some(true) {
            let message = crate::support::text(&result);
            assert!(
                message.contains("busy") && message.contains("retry"),
                "{message}"
            );
            busy += 1;
        } else {
            assert_eq!(
                result.structured_content.expect("result")["timed_out"],
                true
            );
            timed_out += 1;
        }
    }
    assert_eq!(busy + timed_out, 16);
    assert!(busy >= 5, "{busy} refused");
    assert!(timed_out >= 1);
}

#[tokio::test]
async fn with_no_module_named_or_installed_the_built_in_engine_runs_programs() {
    let scratch = Scratch::new();
    let mut cmd = scratch.command();
    cmd.env_remove("MEMORY_SANDBOX_WASM")
        .current_dir(scratch.path());
    let (client, _stderr) = scratch.connect_with(cmd).await;
    let health = ok(&client, "health_check", json!({})).await;
    assert_eq!(health["sandbox_engine"], "the built-in engine", "{health}");
    let out = run(&client, json!({"code": "console.log(6 * 7)"})).await;
    assert_eq!(out["stdout"], "42\n", "{out}");

    // A module that is named but missing is a configuration error at start.
    let mut cmd = scratch.command();
    cmd.env("MEMORY_SANDBOX_WASM", scratch.path().join("missing.wasm"))
        .stderr(std::process::Stdio::piped());
    let out = cmd.output().await.expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing.wasm") && stderr.contains("install-sandbox.sh"),
        "{stderr}"
    );
}
