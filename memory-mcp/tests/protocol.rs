//! The wire itself: malformed JSON-RPC gets the protocol's error codes, stdout carries nothing but protocol, and
//! a signal ends a stdio session cleanly.

use std::{
    io::{BufRead, BufReader, Write},
    pin::Pin,
    process::Stdio,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use rmcp::{
    ServiceExt,
    model::{GetPromptRequestParams, ReadResourceRequestParams},
};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};

use crate::support::{Scratch, Stderr, call, fails, ok, str_of};

/// Replies to requests written as raw lines, keyed by id (the first reply without an id under `null`).
#[test]
fn malformed_json_rpc_gets_the_protocol_error_codes() {
    let scratch = Scratch::new();
    let mut child = scratch
        .command()
        .into_std()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let message: Value = serde_json::from_str(&line).expect("every stdout line is JSON");
            if tx.send(message).is_err() {
                break;
            }
        }
    });
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "this is not JSON",
        r#"{"foo":"bar"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"forget"}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_episode","arguments":{"episode_id":7}}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
    ];
    for line in lines {
        writeln!(stdin, "{line}").expect("write");
    }
    stdin.flush().expect("flush");
    let mut replies = std::collections::HashMap::new();
    // Requests are answered concurrently; wait until the last one is in (a generous bound keeps a broken server
    // from hanging the suite).
    while replies.len() < 6 {
        let message = rx.recv_timeout(Duration::from_secs(60)).expect("a reply");
        replies.insert(message["id"].to_string(), message);
    }
    assert_eq!(replies["1"]["result"]["serverInfo"]["name"], "memory-mcp");
    // Unparsable bytes are skipped without a reply; well-formed JSON that is not JSON-RPC is an invalid request.
    assert_eq!(replies["null"]["error"]["code"], -32600);
    assert_eq!(replies["2"]["error"]["code"], -32601);
    assert_eq!(replies["3"]["error"]["code"], -32602);
    assert_eq!(replies["4"]["result"]["isError"], true);
    let text = replies["4"]["result"]["content"][0]["text"]
        .as_str()
        .expect("text");
    assert!(
        text.contains(
            "invalid argument `episode_id`: invalid type: integer `7`, expected a string"
        ),
        "{text}"
    );
    assert_eq!(replies["5"]["result"], json!({}));
    drop(stdin);
    assert!(
        child.wait().expect("wait").success(),
        "closing stdin ends the server cleanly"
    );
}

/// A reader that keeps a copy of everything read through it.
struct Recorded<R> {
    inner: R,
    copy: Arc<Mutex<Vec<u8>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Recorded<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let fresh = buf.filled()[before..].to_vec();
        self.copy.lock().unwrap().extend_from_slice(&fresh);
        polled
    }
}

#[tokio::test]
async fn stdout_carries_nothing_but_protocol() {
    let scratch = Scratch::new();
    let mut cmd = scratch.command();
    // The default embedder: with no model installed it is the lexical one, which says so on stderr when it
    // first embeds; and info-level logs, so that there is plenty on stderr that must not reach stdout.
    cmd.env_remove("MEMORY_EMBEDDER").env("RUST_LOG", "debug");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = Stderr::collect(child.stderr.take().expect("stderr"));
    let copy = Arc::new(Mutex::new(Vec::new()));
    let stdout = Recorded {
        inner: child.stdout.take().expect("stdout"),
        copy: copy.clone(),
    };
    let client = ().serve((stdout, child.stdin.take().expect("stdin"))).await.expect("handshake");

    let created = ok(
        &client,
        "create_episode",
        json!({"task_description": "fix it", "domain": "d"}),
    )
    .await;
    let id = str_of(&created, "episode_id").to_string();
    ok(
        &client,
        "add_episode_step",
        json!({"episode_id": id, "tool": "cargo", "status": "error", "output": "E0308"}),
    )
    .await;
    ok(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "failure", "reason": "type error"}),
    )
    .await;
    ok(
        &client,
        "store_memory",
        json!({"content": "E0308 means mismatched types"}),
    )
    .await;
    ok(
        &client,
        "query_memory",
        json!({"query": "mismatched types E0308", "budget_tokens": 100}),
    )
    .await;
    fails(
        &client,
        "get_episode",
        json!({"episode_id": "bad"}),
        "invalid episode id",
    )
    .await;
    assert!(call(&client, "no_such_tool", json!({})).await.is_err());
    client.list_all_resources().await.expect("resources/list");
    client
        .read_resource(ReadResourceRequestParams::new(format!(
            "memory://episodes/{id}"
        )))
        .await
        .expect("resources/read");
    client
        .get_prompt(GetPromptRequestParams::new("use_episodic_memory"))
        .await
        .expect("prompts/get");
    client.cancel().await.expect("close");
    assert!(child.wait().await.expect("wait").success());

    let bytes = copy.lock().unwrap().clone();
    let text = String::from_utf8(bytes).expect("stdout is UTF-8");
    let mut messages = 0;
    for line in text.lines() {
        let message: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON-RPC ({e}): {line:?}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        messages += 1;
    }
    // One reply per request: the handshake, seven tool calls, a listing, a read and a prompt.
    assert_eq!(messages, 11, "{text}");
    let logs = stderr.all().await;
    assert!(
        logs.contains("built-in lexical embedder"),
        "the embedder note is on stderr: {logs}"
    );
    assert!(logs.contains("DEBUG"), "logs are on stderr: {logs}");
}

#[tokio::test]
async fn sigterm_ends_a_stdio_session_cleanly() {
    let scratch = Scratch::new();
    let mut child = scratch
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = Stderr::collect(child.stderr.take().expect("stderr"));
    let transport = (
        child.stdout.take().expect("stdout"),
        child.stdin.take().expect("stdin"),
    );
    let client = ().serve(transport).await.expect("handshake");
    ok(
        &client,
        "store_memory",
        json!({"content": "kept across restarts"}),
    )
    .await;
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().await.expect("wait");
    let logs = stderr.all().await;
    assert!(exit.success(), "{exit}: {logs}");
    assert!(
        call(&client, "health_check", json!({})).await.is_err(),
        "the session is over"
    );
    assert!(
        logs.contains("SIGTERM: finishing the calls in flight"),
        "{logs}"
    );

    let client = scratch.connect().await;
    let found = ok(&client, "search_memories", json!({"query": "restarts"})).await;
    assert_eq!(
        found["results"][0]["memory"]["content"],
        "kept across restarts"
    );
}
