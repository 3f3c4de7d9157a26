use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
};

use serde_json::{Value, json};

use super::*;

/// What the test server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: Value,
}

type Handler = dyn Fn(usize, &Seen) -> (u16, String) + Send + Sync;

/// A real HTTP/1.1 server on a loopback port, one request per connection, answering with `handler(n, request)`
/// where `n` counts requests from 1. It stops when dropped.
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(usize, &Seen) -> (u16, String) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (requests, seen, stop) = (requests.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Some(request) = read_request(&stream) {
                        let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
                        seen.lock().unwrap().push(request.clone());
                        let (status, body) = handler(n, &request);
                        respond(stream, status, &body);
                    }
                }
            })
        };
        Server {
            port,
            requests,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_request(stream: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        path,
        authorization,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

fn respond(mut stream: TcpStream, status: u16, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// An embeddings answer for the request's inputs, listed in reverse order: each text becomes
/// `[length, 1, 0, ...]` padded to `dimension`.
fn answer(request: &Seen, dimension: usize) -> String {
    let inputs = request.body["input"].as_array().expect("input array");
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let mut vector = vec![0.0f32; dimension];
            vector[0] = text.as_str().unwrap().len() as f32;
            vector[1] = 1.0;
            json!({ "object": "embedding", "index": index, "embedding": vector })
        })
        .collect();
    data.reverse();
    json!({ "object": "list", "model": request.body["model"], "data": data }).to_string()
}

fn config(server: &Server) -> HttpEmbedderConfig {
    HttpEmbedderConfig::new(server.url(), "test-model").with_retries(3, Duration::from_millis(5))
}

fn unit(v: &[f32]) -> bool {
    (v.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-5
}

#[test]
fn batches_are_sent_in_order_and_vectors_normalised() {
    let server = Server::start(|_, request| (200, answer(request, 3)));
    let embedder = HttpEmbedder::new(
        config(&server)
            .with_batch_size(2)
            .with_api_key("secret-key"),
    )
    .unwrap();
    let texts = ["a", "bb", "  ", "cccc", "ddddd", "e"];
    let vectors = embedder.embed(&texts).expect("embed");
    assert_eq!(server.requests(), 3, "5 non-blank texts in batches of 2");
    assert_eq!(embedder.id(), "http:test-model:3");
    assert_eq!(embedder.dimension(), 3);
    assert_eq!(
        server.requests(),
        3,
        "the dimension was learned, not asked again"
    );
    for (text, vector) in texts.iter().zip(&vectors) {
        if text.trim().is_empty() {
            assert_eq!(vector, &vec![0.0; 3]);
            continue;
        }
        assert!(unit(vector));
        let len = text.len() as f32;
        let norm = (len * len + 1.0).sqrt();
        assert!((vector[0] - len / norm).abs() < 1e-6, "{text}: {vector:?}");
    }
    let seen = server.seen();
    assert!(seen.iter().all(|s| s.path == "/v1/embeddings"));
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer secret-key"))
    );
    assert_eq!(
        seen[0].body,
        json!({ "model": "test-model", "input": ["a", "bb"] })
    );
    assert_eq!(
        seen[2].body["input"],
        json!(["e"]),
        "the blank text is not sent"
    );
}

#[test]
fn a_base_url_ending_in_v1_gets_no_second_v1() {
    let embedder =
        HttpEmbedder::new(HttpEmbedderConfig::new("https://api.example.com/v1/", "m")).unwrap();
    assert_eq!(embedder.url(), "https://api.example.com/v1/embeddings");
    let embedder =
        HttpEmbedder::new(HttpEmbedderConfig::new("http://localhost:11434", "m")).unwrap();
    assert_eq!(embedder.url(), "http://localhost:11434/v1/embeddings");
    let err = HttpEmbedder::new(HttpEmbedderConfig::new("localhost:11434", "m"))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("must start with http:// or https://"),
        "{err}"
    );
}

#[test]
fn a_503_is_retried_then_succeeds() {
    let server = Server::start(|n, request| match n {
        1 => (503, r#"{"error": "loading model"}"#.into()),
        2 => (429, "slow down".into()),
        _ => (200, answer(request, 4)),
    });
    let embedder = HttpEmbedder::new(config(&server).with_dimension(4)).unwrap();
    let vectors = embedder.embed(&["hello"]).expect("embed after retries");
    assert_eq!(server.requests(), 3);
    assert_eq!(vectors[0].len(), 4);
    assert!(unit(&vectors[0]));

    let server = Server::start(|_, _| (500, "boom".into()));
    let embedder =
        HttpEmbedder::new(config(&server).with_retries(2, Duration::from_millis(1))).unwrap();
    let err = embedder.embed(&["hello"]).unwrap_err().to_string();
    assert_eq!(server.requests(), 3, "one attempt and two retries");
    assert!(err.contains(&server.url()), "{err}");
    assert!(
        err.contains("HTTP 500 Internal Server Error: boom (after 3 attempts)"),
        "{err}"
    );
}

#[test]
fn refused_credentials_are_an_auth_error_naming_the_url() {
    for status in [401, 403] {
        let server = Server::start(move |_, _| (status, r#"{"error": "bad key"}"#.into()));
        let embedder = HttpEmbedder::new(config(&server).with_api_key("wrong")).unwrap();
        let err = embedder.embed(&["hello"]).unwrap_err();
        assert!(
            matches!(&err, Error::EmbeddingAuth { status: s, .. } if *s == status),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("{}/v1/embeddings", server.url())),
            "{message}"
        );
        assert!(message.contains("refused the credentials"), "{message}");
        assert_eq!(server.requests(), 1, "credentials are not retried");
    }
}

#[test]
fn vectors_of_the_wrong_dimension_are_refused() {
    let server = Server::start(|_, request| (200, answer(request, 3)));
    let embedder = HttpEmbedder::new(config(&server).with_dimension(384)).unwrap();
    let err = embedder.embed(&["hello"]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DimensionMismatch {
                expected: 384,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("3 dimensions where 384 were expected"),
        "{err}"
    );

    // A learned dimension binds later answers too.
    let server = Server::start(|n, request| (200, answer(request, if n == 1 { 3 } else { 5 })));
    let embedder = HttpEmbedder::new(config(&server)).unwrap();
    embedder.embed(&["first"]).expect("learns 3");
    let err = embedder.embed(&["second"]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DimensionMismatch {
                expected: 3,
                found: 5,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_unreachable_service_is_named_in_the_error() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let embedder = HttpEmbedder::new(
        HttpEmbedderConfig::new(&url, "m").with_retries(1, Duration::from_millis(1)),
    )
    .unwrap();
    let err = embedder.embed(&["hello"]).unwrap_err();
    assert!(matches!(err, Error::EmbeddingService { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{url}/v1/embeddings")),
        "{message}"
    );
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.contains("(after 2 attempts)"), "{message}");
    assert_eq!(embedder.dimension(), 0, "unknown, and said so");
    assert_eq!(embedder.id(), "http:m:unknown");

    let once =
        HttpEmbedder::new(HttpEmbedderConfig::new(&url, "m").with_retries(0, Duration::ZERO))
            .unwrap();
    let message = once.embed(&["hello"]).unwrap_err().to_string();
    assert!(message.ends_with("(after 1 attempt)"), "{message}");
}

#[test]
fn malformed_responses_are_described() {
    let cases: [(&str, &str); 5] = [
        ("not json", "the response is not an embeddings response"),
        (
            r#"{"data": "x"}"#,
            "the response is not an embeddings response",
        ),
        (r#"{"data": []}"#, "the response has 0 vectors for 1 texts"),
        (
            r#"{"data": [{"embedding": [1.0], "index": 4}]}"#,
            "the response has index 4 for 1 texts",
        ),
        (
            r#"{"data": [{"embedding": [], "index": 0}]}"#,
            "the response has an empty vector",
        ),
    ];
    for (body, expected) in cases {
        let server = Server::start(move |_, _| (200, body.to_string()));
        let embedder = HttpEmbedder::new(config(&server)).unwrap();
        let err = embedder.embed(&["hello"]).unwrap_err().to_string();
        assert!(err.contains(expected), "{body}: {err}");
        assert_eq!(server.requests(), 1, "a malformed answer is not retried");
    }
    let server = Server::start(|_, _| (400, r#"{"error": "input too long"}"#.into()));
    let embedder = HttpEmbedder::new(config(&server)).unwrap();
    let err = embedder.embed(&["hello"]).unwrap_err().to_string();
    assert!(
        err.contains(r#"HTTP 400 Bad Request: {"error": "input too long"}"#),
        "{err}"
    );
}

#[test]
fn an_unknown_dimension_is_asked_for_once() {
    let server = Server::start(|_, request| (200, answer(request, 6)));
    let embedder = HttpEmbedder::new(config(&server)).unwrap();
    assert_eq!(embedder.dimension(), 6);
    assert_eq!(embedder.id(), "http:test-model:6");
    assert_eq!(server.requests(), 1);
    assert_eq!(embedder.embed(&[""]).unwrap(), vec![vec![0.0; 6]]);
    assert_eq!(server.requests(), 1, "blank texts are not sent");
}

#[test]
fn works_from_async_code_built_used_and_dropped_on_the_runtime() {
    let server = Server::start(|_, request| (200, answer(request, 3)));
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let embedder = Arc::new(HttpEmbedder::new(HttpEmbedderConfig::new(url, "m")).unwrap());
        let vectors = crate::run_blocking(|| embedder.embed(&["from a worker"])).unwrap();
        assert_eq!(vectors[0].len(), 3);
        let task = {
            let embedder = embedder.clone();
            tokio::spawn(async move { crate::run_blocking(|| embedder.embed(&["spawned"])) })
        };
        assert_eq!(task.await.unwrap().unwrap()[0].len(), 3);
        // Called directly on the worker, without run_blocking, it still must not panic.
        assert_eq!(embedder.embed(&["directly"]).unwrap()[0].len(), 3);
        drop(embedder);
    });
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = server.url();
    current.block_on(async move {
        let embedder = HttpEmbedder::new(HttpEmbedderConfig::new(url, "m")).unwrap();
        assert_eq!(
            crate::run_blocking(|| embedder.embed(&["current thread"])).unwrap()[0].len(),
            3
        );
    });
    assert_eq!(server.requests(), 4);
}
