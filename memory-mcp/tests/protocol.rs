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

/// A server on a scratch store, its standard input, and its stdout's JSON-RPC messages as they arrive (every stdout
/// line must be JSON).
fn raw_server(
    scratch: &Scratch,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<Value>,
) {
    let mut child = scratch
        .command()
        .into_std()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdin = child.stdin.take().expect("stdin");
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
    (child, stdin, rx)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Writes `lines` (each followed by a newline) and collects `n` replies: those with an id by id, and how many had
/// none. A generous bound keeps a broken server from hanging the suite.
fn replies(
    stdin: &mut std::process::ChildStdin,
    rx: &std::sync::mpsc::Receiver<Value>,
    lines: &[Vec<u8>],
    n: usize,
) -> (std::collections::HashMap<String, Value>, usize) {
    for line in lines {
        stdin.write_all(line).expect("write");
        stdin.write_all(b"\n").expect("write");
    }
    stdin.flush().expect("flush");
    let (mut by_id, mut without) = (std::collections::HashMap::new(), 0);
    for i in 0..n {
        let message = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("reply {i} of {n} never came"));
        if message["id"].is_null() {
            without += 1;
        } else {
            by_id.insert(message["id"].to_string(), message);
        }
    }
    (by_id, without)
}

#[test]
fn malformed_json_rpc_gets_the_protocol_error_codes() {
    let scratch = Scratch::new();
    let (mut child, mut stdin, rx) = raw_server(&scratch);
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{{"name":"list_episodes","arguments":{{"x":{}{}}}}}}}"#,
        "[".repeat(130),
        "]".repeat(130)
    );
    let mut huge = br#"{"jsonrpc":"2.0","id":16,"method":"ping","pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 17 << 20));
    huge.extend_from_slice(b"\"}");
    let lines: Vec<Vec<u8>> = [
        INITIALIZE,
        INITIALIZED,
        "this is not JSON",
        r#"{"foo":"bar"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"forget"}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_episode","arguments":{"episode_id":7}}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"list_episodes","arguments":{"limit":1e309}}}"#,
        &deep,
        r#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"get_memory","arguments":{"memory_id":"\ud800"}}}"#,
        r#"{"jsonrpc":"2.0","id":15,"method":"ping"}{"jsonrpc":"2.0","id":99,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"list_episodes","arguments":[1]}}"#,
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .chain([huge])
    .collect();
    let (replies, without_id) = replies(&mut stdin, &rx, &lines, 13);
    assert_eq!(replies["1"]["result"]["serverInfo"]["name"], "memory-mcp");
    // Bytes that are not JSON are a parse error and JSON that is not JSON-RPC an invalid request, both naming no
    // request.
    assert_eq!(without_id, 2);
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
    // Lines a JSON parser refuses, answered with the id they carry: a number beyond f64, nesting past the parser's
    // limit, a lone surrogate, two objects on a line; `arguments` that are not an object; a line over 16 MiB.
    for (id, code) in [
        (12, -32700),
        (13, -32700),
        (14, -32700),
        (15, -32700),
        (17, -32602),
        (16, -32600),
    ] {
        assert_eq!(
            replies[&id.to_string()]["error"]["code"],
            code,
            "{id}: {}",
            replies[&id.to_string()]
        );
    }
    drop(stdin);
    assert!(
        child.wait().expect("wait").success(),
        "closing stdin ends the server cleanly"
    );
}

/// A small seeded generator, so a failure names its case.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A line of garbage: JSON's punctuation, words, escapes and raw bytes, never a newline.
    fn line(&mut self) -> Vec<u8> {
        const PIECES: [&[u8]; 16] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"",
            b":",
            b",",
            b"\\u",
            b"\"id\":",
            b"\"jsonrpc\":\"2.0\"",
            b"\"method\":\"ping\"",
            b"1e999",
            b"null",
            b"\xff\xfe",
            b"\x00",
            b"tools/call",
        ];
        let len = 1 + self.next() % 40;
        (0..len)
            .flat_map(|_| PIECES[(self.next() % 16) as usize].to_vec())
            .collect()
    }
}

#[test]
fn every_line_of_garbage_gets_an_answer() {
    let scratch = Scratch::new();
    let (mut child, mut stdin, rx) = raw_server(&scratch);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let garbage: Vec<Vec<u8>> = (0..300).map(|_| noise.line()).collect();
    let mut lines = vec![
        INITIALIZE.as_bytes().to_vec(),
        INITIALIZED.as_bytes().to_vec(),
    ];
    lines.extend(garbage.iter().cloned());
    // Some garbage may be a request or a notification by chance: count what needs an answer.
    let answered = garbage
        .iter()
        .filter(|line| {
            let value: Option<Value> = serde_json::from_slice(line).ok();
            !value.is_some_and(|v| v.get("method").is_some() && v.get("id").is_none())
        })
        .count();
    lines.push(br#"{"jsonrpc":"2.0","id":"last","method":"ping"}"#.to_vec());
    let (replies, _) = replies(&mut stdin, &rx, &lines, 1 + answered + 1);
    assert_eq!(
        replies["\"last\""]["result"],
        json!({}),
        "the server still answers"
    );
    drop(stdin);
    assert!(child.wait().expect("wait").success());
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
