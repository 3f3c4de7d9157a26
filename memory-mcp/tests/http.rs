//! Streamable HTTP: sessions with the API key, 401 without it, health endpoints, refusing an open address
//! without a key, many sessions at once, and a graceful shutdown.

use std::{collections::HashSet, process::Stdio, sync::Arc};

use rmcp::{
    ServiceExt,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use tokio::process::Child;

use crate::support::{Client, Scratch, Stderr, call, fails, ok, str_of, text};

pub const KEY: &str = "a-long-random-test-key-0123456789";

/// A server on HTTP, killed when dropped.
pub struct Http {
    child: Child,
    pub stderr: Stderr,
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
}

impl Http {
    pub async fn start(scratch: &Scratch, addr: &str, key: Option<&str>) -> Http {
        // reqwest (rmcp's client and the raw requests here) is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut cmd = scratch.command();
        cmd.arg("--http")
            .arg(addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(key) = key {
            cmd.env("MEMORY_API_KEY", key);
        }
        let mut child = cmd.spawn().expect("spawn");
        let stderr = Stderr::collect(child.stderr.take().expect("stderr"));
        let line = stderr.line_with("serving MCP on http://").await;
        let url = line
            .split("serving MCP on ")
            .nth(1)
            .expect("a URL")
            .trim()
            .to_string();
        // A wildcard address is reached on loopback.
        let url = url.replace("0.0.0.0", "127.0.0.1");
        Http { child, stderr, url }
    }

    fn base(&self) -> String {
        self.url.trim_end_matches("/mcp").to_string()
    }

    pub async fn client(&self, key: &str) -> Result<Client, String> {
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url.as_str()).auth_header(key);
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .map_err(|e| e.to_string())
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub async fn stop(mut self) {
        self.signal("-TERM");
        let status = self.child.wait().await.expect("wait");
        assert!(status.success(), "{status}: {}", self.stderr.text());
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

#[tokio::test]
async fn sessions_with_the_key_work_and_health_endpoints_answer() {
    let scratch = Scratch::new();
    let server = Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await;
    let client = server.client(KEY).await.expect("connect");
    assert_eq!(
        client
            .peer_info()
            .expect("info")
            .server_info
            .clone()
            .expect("server info")
            .name,
        "memory-mcp"
    );
    assert_eq!(client.list_all_tools().await.expect("tools").len(), 18);
    let created = ok(
        &client,
        "create_episode",
        json!({"task_description": "Rotate the signing key", "domain": "auth"}),
    )
    .await;
    let id = str_of(&created, "episode_id");
    ok(
        &client,
        "add_episode_step",
        json!({"episode_id": id, "tool": "vault", "action": "rotate"}),
    )
    .await;
    ok(
        &client,
        "complete_episode",
        json!({"episode_id": id, "outcome": "success", "verdict": "rotated"}),
    )
    .await;
    ok(
        &client,
        "store_memory",
        json!({"content": "Signing keys rotate every 90 days."}),
    )
    .await;
    let found = ok(
        &client,
        "query_memory",
        json!({"query": "rotate signing key"}),
    )
    .await;
    // The episode and the memory; patterns learnt from the episode in the background may be found too.
    let kinds: Vec<&str> = found["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|hit| hit["type"].as_str())
        .filter(|kind| *kind != "pattern")
        .collect();
    assert_eq!(kinds.len(), 2, "{found}");

    let http = reqwest::Client::new();
    let live = http
        .get(format!("{}/health/live", server.base()))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status(), 200);
    assert_eq!(
        live.json::<Value>().await.expect("json"),
        json!({"status": "live"})
    );
    let ready = http
        .get(format!("{}/health/ready", server.base()))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["health"]["database"],
        json!({"backend": "local", "reachable": true})
    );

    // Metrics need no key and count the calls just made, by tool and outcome.
    fails(
        &client,
        "get_episode",
        json!({"episode_id": "not-a-uuid"}),
        "episode id",
    )
    .await;
    let metrics = http
        .get(format!("{}/metrics", server.base()))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    let metrics = metrics.text().await.expect("text");
    for line in [
        r#"memory_tool_calls_total{tool="create_episode",status="ok"} 1"#,
        r#"memory_tool_calls_total{tool="store_memory",status="ok"} 1"#,
        r#"memory_tool_calls_total{tool="get_episode",status="error"} 1"#,
        r#"memory_tool_call_duration_seconds_count{tool="query_memory"} 1"#,
        r#"memory_records{kind="note"} 1"#,
        "# EOF",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    client.cancel().await.expect("close");
}

/// Posts one JSON-RPC message to the MCP endpoint and returns the response's status and its JSON-RPC messages.
pub async fn post(
    server: &Http,
    key: Option<&str>,
    session: Option<&str>,
    body: Value,
) -> (u16, Vec<Value>, reqwest::header::HeaderMap) {
    let mut request = reqwest::Client::new()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    // A JSON body, or server-sent events whose data lines are JSON-RPC messages.
    let messages = match serde_json::from_str::<Value>(&body) {
        Ok(value) => vec![value],
        Err(_) => body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect(),
    };
    (status, messages, headers)
}

#[tokio::test]
async fn a_wrong_or_missing_key_gets_401_and_touches_nothing() {
    let scratch = Scratch::new();
    let server = Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    for key in [None, Some("wrong"), Some(&KEY[1..])] {
        let (status, messages, headers) = post(&server, key, None, initialize.clone()).await;
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert!(
            messages[0]["error"]
                .as_str()
                .expect("an error")
                .contains("API key")
        );
    }
    assert!(
        server.client("wrong").await.is_err(),
        "rmcp's client is refused too"
    );

    // A session opened with the key, then a write sent in it with a wrong key: refused before the store.
    let (status, messages, headers) = post(&server, Some(KEY), None, initialize).await;
    assert_eq!(status, 200, "{messages:?}");
    let session = headers["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let (status, _, _) = post(
        &server,
        Some(KEY),
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert!((200..300).contains(&status), "{status}");
    let store = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "store_memory", "arguments": {"content": "written only with the key"}}});
    let (status, _, _) = post(&server, Some("wrong"), Some(&session), store.clone()).await;
    assert_eq!(status, 401);
    let client = server.client(KEY).await.expect("connect");
    let stats = ok(&client, "get_statistics", json!({})).await;
    assert_eq!(stats["total"], 0, "the refused call wrote nothing");
    // The same request with the key goes through, so the key was all that stopped it.
    let (status, messages, _) = post(&server, Some(KEY), Some(&session), store).await;
    assert_eq!(status, 200);
    assert_eq!(messages[0]["result"]["isError"], false, "{messages:?}");
    let stats = ok(&client, "get_statistics", json!({})).await;
    assert_eq!(stats["total"], 1);
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn an_open_address_needs_a_key() {
    let scratch = Scratch::new();
    let out = scratch
        .command()
        .arg("--http")
        .arg("0.0.0.0:0")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing to serve on 0.0.0.0:0 without an API key: set MEMORY_API_KEY"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(!scratch.db.exists(), "nothing was opened");

    let server = Http::start(&scratch, "0.0.0.0:0", Some(KEY)).await;
    assert!(server.client("").await.is_err());
    let client = server.client(KEY).await.expect("connect with the key");
    ok(&client, "health_check", json!({})).await;
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn many_sessions_work_at_once_against_one_store() {
    let scratch = Scratch::new();
    let server = Arc::new(Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await);
    const SESSIONS: usize = 16;
    const ROUNDS: usize = 5;
    let mut tasks = Vec::new();
    for session in 0..SESSIONS {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let client = server.client(KEY).await.expect("connect");
            for round in 0..ROUNDS {
                let content = format!("session {session} round {round}: cache invalidation note");
                ok(&client, "store_memory", json!({"content": content, "scope": "project:load"})).await;
                let created = ok(&client, "create_episode",
                    json!({"task_description": format!("task {session}/{round}"), "domain": "load"})).await;
                let id = str_of(&created, "episode_id").to_string();
                ok(&client, "add_episode_step", json!({"episode_id": id, "tool": "cargo"})).await;
                ok(&client, "complete_episode", json!({"episode_id": id, "outcome": "success", "verdict": "v"})).await;
                let found = ok(&client, "search_memories",
                    json!({"query": "cache invalidation", "scope": "project:load"})).await;
                assert!(!found["results"].as_array().expect("results").is_empty());
                ok(&client, "get_episode", json!({"episode_id": id})).await;
            }
            client.cancel().await.expect("close");
        }));
    }
    for task in tasks {
        task.await.expect("a session failed");
    }
    let client = server.client(KEY).await.expect("connect");
    let stats = ok(&client, "get_statistics", json!({"scope": "project:load"})).await;
    assert_eq!(stats["total"], (SESSIONS * ROUNDS) as u64);
    let listed = ok(
        &client,
        "list_episodes",
        json!({"status": "completed", "limit": 1000}),
    )
    .await;
    assert_eq!(
        listed["episodes"].as_array().expect("episodes").len(),
        SESSIONS * ROUNDS
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn sigterm_finishes_the_calls_in_flight_and_keeps_what_was_acknowledged() {
    let scratch = Scratch::new();
    let mut server = Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await;
    const WRITERS: usize = 6;
    // Each writer stores memories until the server turns it away, and reports what was acknowledged.
    let started = Arc::new(tokio::sync::Barrier::new(WRITERS + 1));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = server.client(KEY).await.expect("connect");
        let started = started.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let content = format!("writer {writer} note {n}");
                // A call the stopping server never answers is not acknowledged (nor left to hang the test).
                let answer = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    call(&client, "store_memory", json!({"content": content})),
                )
                .await;
                match answer {
                    Ok(Ok(result)) if result.is_error == Some(false) => {
                        let value = result.structured_content.expect("structured");
                        acknowledged.push(str_of(&value, "memory_id").to_string());
                    }
                    Ok(Ok(result)) => {
                        assert!(text(&result).contains("shutting down"), "{}", text(&result));
                        break;
                    }
                    Ok(Err(_)) | Err(_) => break,
                }
                if n == 2 {
                    started.wait().await;
                }
            }
            acknowledged
        }));
    }
    // Every writer has had three calls acknowledged and keeps going.
    started.wait().await;
    server.signal("-TERM");
    let exit = server.child.wait().await.expect("wait");
    let logs = server.stderr.all().await;
    assert!(exit.success(), "{exit}: {logs}");
    assert!(
        logs.contains("SIGTERM: finishing the calls in flight"),
        "{logs}"
    );
    let mut acknowledged = HashSet::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert!(acknowledged.len() >= WRITERS * 3);

    // Everything acknowledged is in the store. A call that finished as the connections closed is kept too,
    // though its answer may not have reached its writer: at most one such call per writer.
    let client = scratch.connect().await;
    let stats = ok(&client, "get_statistics", json!({})).await;
    let total = stats["total"].as_u64().expect("total") as usize;
    assert!(
        (acknowledged.len()..=acknowledged.len() + WRITERS).contains(&total),
        "{total} stored, {} acknowledged",
        acknowledged.len()
    );
    for id in &acknowledged {
        ok(&client, "get_memory", json!({"memory_id": id})).await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_message_gets_a_json_rpc_error() {
    let scratch = Scratch::new();
    let server = Http::start(&scratch, "127.0.0.1:0", Some(KEY)).await;
    let raw = async |body: Vec<u8>| {
        let response = reqwest::Client::new()
            .post(&server.url)
            .bearer_auth(KEY)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        let answer: Value = serde_json::from_str(&response.text().await.expect("body"))
            .expect("a JSON-RPC error as JSON");
        (
            status,
            answer["id"].clone(),
            answer["error"]["code"].clone(),
        )
    };
    let cases: [(&[u8], u16, Value, i64); 4] = [
        (b"this is not JSON", 400, Value::Null, -32700),
        (br#"{"foo":"bar"}"#, 400, Value::Null, -32600),
        (
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_episodes","arguments":{"limit":1e309}}}"#,
            400,
            json!(7),
            -32700,
        ),
        (
            br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_episodes","arguments":[1]}}"#,
            400,
            json!(8),
            -32602,
        ),
    ];
    for (body, status, id, code) in cases {
        assert_eq!(
            raw(body.to_vec()).await,
            (status, id, json!(code)),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let huge = [
        br#"{"jsonrpc":"2.0","id":9,"method":"ping","pad":""#.to_vec(),
        vec![b'a'; 17 << 20],
        b"\"}".to_vec(),
    ]
    .concat();
    assert_eq!(raw(huge).await, (413, Value::Null, json!(-32600)));
    // The server goes on serving sessions.
    let client = server.client(KEY).await.expect("connect");
    ok(&client, "list_episodes", json!({})).await;
    client.cancel().await.expect("close");
    server.stop().await;
}
