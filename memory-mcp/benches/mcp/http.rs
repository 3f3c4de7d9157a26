//! The HTTP load: plain keep-alive clients (one reqwest connection pool each) speaking MCP's streamable HTTP
//! by hand, as a script or another language's SDK would: `initialize`, `notifications/initialized`, then
//! `tools/call` after `tools/call` on the session.

use std::{
    collections::BTreeMap,
    path::Path,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{KEY, command, env_number};

/// One MCP session over one keep-alive connection.
struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
    next: u64,
}

impl Session {
    async fn open(url: &str) -> Result<Session, String> {
        // reqwest's TLS, unused on plain http, still wants a crypto provider installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        let mut session = Session {
            http,
            url: url.to_string(),
            id: String::new(),
            next: 0,
        };
        let initialize = json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}});
        let response = session.send("initialize", Some(initialize)).await?;
        session.id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .ok_or("no mcp-session-id header")?
            .to_string();
        response.text().await.map_err(|e| e.to_string())?;
        session
            .send("notifications/initialized", None)
            .await?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        Ok(session)
    }

    /// Posts a request (with params) or a notification (without an id when `params` is None).
    async fn send(
        &mut self,
        method: &str,
        params: Option<Value>,
    ) -> Result<reqwest::Response, String> {
        let body = match params {
            Some(params) => {
                self.next += 1;
                json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params})
            }
            None => json!({"jsonrpc": "2.0", "method": method}),
        };
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(KEY)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string());
        if !self.id.is_empty() {
            request = request.header("mcp-session-id", &self.id);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        Ok(response)
    }

    /// Calls a tool and returns its structured result, or the error it answered.
    async fn call(&mut self, tool: &str, arguments: Value) -> Result<Value, String> {
        let response = self
            .send(
                "tools/call",
                Some(json!({"name": tool, "arguments": arguments})),
            )
            .await?;
        let body = response.text().await.map_err(|e| e.to_string())?;
        let message: Value = body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .find_map(|data| serde_json::from_str(data.trim()).ok())
            .or_else(|| serde_json::from_str(&body).ok())
            .ok_or_else(|| format!("no JSON-RPC message in {body:?}"))?;
        let result = &message["result"];
        if result.is_null() || result["isError"] == true {
            return Err(message.to_string());
        }
        Ok(result["structuredContent"].clone())
    }
}

/// Starts `memory-mcp --http` on `db` and returns it with its URL.
async fn serve(dir: &Path, db: &Path) -> (tokio::process::Child, String) {
    let mut cmd = command(dir, db);
    cmd.env("RUST_LOG", "info")
        .env("MEMORY_API_KEY", KEY)
        .arg("--http")
        .arg("127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .expect("stderr")
            .expect("the server's address");
        if let Some(url) = line.split("serving MCP on ").nth(1) {
            break url.trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// Waits until the server's indexes are ready, so the load measures serving, not loading.
async fn wait_ready(session: &mut Session) {
    super::until_ready(async || {
        session
            .call("health_check", json!({}))
            .await
            .expect("health")
    })
    .await;
}

/// Many sessions over HTTP at once, each making a mix of calls; prints errors, throughput and latency.
pub async fn load(dir: &Path, db: &Path, ids: &[String], queries: &[String]) {
    let clients = env_number("MEMORY_BENCH_CLIENTS", 50) as usize;
    let calls = env_number("MEMORY_BENCH_CALLS", 200) as usize;
    let (mut child, url) = serve(dir, db).await;
    wait_ready(&mut Session::open(&url).await.expect("connect")).await;

    let ids = Arc::new(ids.to_vec());
    let queries = Arc::new(queries.to_vec());
    let mut sessions = Vec::new();
    for _ in 0..clients {
        sessions.push(Session::open(&url).await.expect("connect"));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (client_index, mut session) in sessions.into_iter().enumerate() {
        let (ids, queries) = (ids.clone(), queries.clone());
        tasks.push(tokio::spawn(async move {
            let (mut samples, mut errors) = (Vec::with_capacity(calls), 0usize);
            let mut episode: Option<String> = None;
            for i in 0..calls {
                let (tool, arguments) = mixed_call(client_index, i, &ids, &queries, &episode);
                let started = Instant::now();
                match session.call(tool, arguments).await {
                    Ok(value) if tool == "create_episode" => {
                        episode = value["episode_id"].as_str().map(String::from);
                    }
                    Ok(_) => {}
                    Err(_) => errors += 1,
                }
                samples.push((tool, started.elapsed()));
            }
            (samples, errors)
        }));
    }
    let (mut by_tool, mut errors) = (BTreeMap::<&str, Vec<Duration>>::new(), 0);
    for task in tasks {
        let (samples, e) = task.await.expect("client");
        for (tool, sample) in samples {
            by_tool.entry(tool).or_default().push(sample);
        }
        errors += e;
    }
    let elapsed = started.elapsed();
    let all: Vec<Duration> = by_tool.values().flatten().copied().collect();
    println!(
        "mcp: {clients} HTTP clients x {calls} mixed calls: {errors} errors, {:.0} calls/s",
        all.len() as f64 / elapsed.as_secs_f64()
    );
    test_utils::report_latencies("mcp: mixed calls over HTTP", all);
    for (tool, samples) in by_tool {
        test_utils::report_latencies(&format!("mcp:   {tool} over HTTP"), samples);
    }
    let _ = child.kill().await;
}

/// The i-th call of a client: 40% get_episode, 20% query_memory, 10% each of store_memory, an episode write,
/// list_episodes and search_memories.
fn mixed_call<'a>(
    client: usize,
    i: usize,
    ids: &[String],
    queries: &[String],
    episode: &Option<String>,
) -> (&'a str, Value) {
    match i % 10 {
        0..=3 => (
            "get_episode",
            json!({"episode_id": ids[(client + i) % ids.len()]}),
        ),
        4 | 5 => (
            "query_memory",
            json!({"query": queries[(client + i) % queries.len()]}),
        ),
        6 => (
            "store_memory",
            json!({"content": format!("client {client} call {i} note")}),
        ),
        7 => match episode {
            Some(id) => (
                "add_episode_step",
                json!({"episode_id": id, "tool": "cargo", "action": "test"}),
            ),
            None => (
                "create_episode",
                json!({"task_description": format!("load {client}"), "domain": "bench"}),
            ),
        },
        8 => ("list_episodes", json!({"limit": 20})),
        _ => (
            "search_memories",
            json!({"query": queries[i % queries.len()]}),
        ),
    }
}
