//! A scripted stand-in for the Messages API on loopback: the only part of a Claude Code session that is not real.
//! A request that offers tools gets the script's next tool call (one per tool result already in the
//! conversation), then a closing text with `end_turn`; any other request gets a short text. Every request body is
//! kept for the test to read.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

/// One tool call of the script: the tool's name and its input.
pub type Call = (String, Value);

pub struct Model {
    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Model {
    /// Serves `calls` in order, then `last` as the turn's final answer.
    pub fn start(calls: Vec<Call>, last: &str) -> Model {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new((calls, last.to_string()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, script) = (kept.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &kept, &script));
            }
        });
        Model { url, requests }
    }

    /// The bodies of the requests that offered tools (the agent's own turns), in order.
    pub fn turns(&self) -> Vec<Value> {
        let requests = self.requests.lock().expect("requests");
        requests
            .iter()
            .filter(|body| offers_tools(body))
            .cloned()
            .collect()
    }
}

fn offers_tools(body: &Value) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|tools| !tools.is_empty())
}

/// Answers the requests of one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, requests: &Mutex<Vec<Value>>, script: &(Vec<Call>, String)) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, content_type, payload) = if request_line.starts_with("POST /v1/messages") {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let answer = answer(&body, script);
            requests.lock().expect("requests").push(body);
            ("200 OK", "text/event-stream", answer)
        } else if request_line.starts_with("HEAD") {
            ("200 OK", "text/plain", String::new())
        } else {
            ("404 Not Found", "text/plain", String::new())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        );
        let written = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(payload.as_bytes()))
            .and_then(|()| writer.flush());
        if written.is_err() {
            return;
        }
    }
}

/// The streamed message that answers `body`.
fn answer(body: &Value, (calls, last): &(Vec<Call>, String)) -> String {
    if !offers_tools(body) {
        return stream(
            &[json!({"type": "text", "text": "Fixing the flaky retry test"})],
            "end_turn",
        );
    }
    match calls.get(tool_results(body)) {
        Some((name, input)) => {
            let id = format!("toolu_{:04}", tool_results(body) + 1);
            let block = json!({"type": "tool_use", "id": id, "name": name, "input": input});
            stream(&[block], "tool_use")
        }
        None => stream(&[json!({"type": "text", "text": last})], "end_turn"),
    }
}

/// How many tool results the conversation already holds.
fn tool_results(body: &Value) -> usize {
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    messages
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .count()
}

/// `blocks` as the Messages API streams them (server-sent events).
fn stream(blocks: &[Value], stop_reason: &str) -> String {
    let mut events = vec![json!({"type": "message_start", "message": {
        "id": "msg_scripted", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 100, "output_tokens": 1}}})];
    for (index, block) in blocks.iter().enumerate() {
        let (start, delta) = if block["type"] == "tool_use" {
            let mut start = block.clone();
            start["input"] = json!({});
            let partial = block["input"].to_string();
            (
                start,
                json!({"type": "input_json_delta", "partial_json": partial}),
            )
        } else {
            let text = block["text"].clone();
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": text}),
            )
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 20}}));
    events.push(json!({"type": "message_stop"}));
    events
        .iter()
        .map(|event| {
            format!(
                "event: {}\ndata: {event}\n\n",
                event["type"].as_str().unwrap_or("")
            )
        })
        .collect()
}
