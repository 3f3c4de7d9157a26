//! Embedding models: `model install` from a directory and from a URL, `model list`, and `--embedder` choosing
//! what `memory store` and `memory search` embed with.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::Output,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use serde_json::{Value, json};

use test_utils::minilm_dir;

use crate::support::{Cli, failed, parse_json, succeeded};

/// A real HTTP/1.1 server on a loopback port, one request per connection. It answers `GET /files/<path>` from
/// `root` (404 when absent) and `POST /v1/embeddings` with 3-dimensional vectors; it records each request line.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: PathBuf) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &root, &requests);
                    }
                }
            })
        };
        Server {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path, requests: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    requests.lock().unwrap().push(line.trim_end().to_string());
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content) = match (method, path.strip_prefix("/files/")) {
        ("GET", Some(file)) if !file.contains("..") => match std::fs::read(root.join(file)) {
            Ok(bytes) => ("200 OK", bytes),
            Err(_) => ("404 Not Found", b"no such file".to_vec()),
        },
        ("POST", None) if path == "/v1/embeddings" => {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let inputs = request["input"].as_array().cloned().unwrap_or_default();
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(index, text)| {
                    let len = text.as_str().unwrap_or("").len() as f32;
                    json!({ "index": index, "embedding": [len, 1.0, 0.5] })
                })
                .collect();
            ("200 OK", json!({ "data": data }).to_string().into_bytes())
        }
        _ => ("404 Not Found", b"no such route".to_vec()),
    };
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&content);
}

/// The scratch models directory of `cli`.
fn models(cli: &Cli) -> PathBuf {
    cli.path().join("models")
}

/// Runs `args` against `cli`'s database and models directory with `embedder` (None: as a user who chose none).
fn run(cli: &Cli, embedder: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = cli.command();
    cmd.env("MEMORY_MODELS_DIR", models(cli))
        .arg("--db")
        .arg(&cli.db);
    match embedder {
        Some(spec) => cmd.env("MEMORY_EMBEDDER", spec),
        None => cmd.env_remove("MEMORY_EMBEDDER"),
    };
    cmd.args(args).output().expect("run memory-cli")
}

/// The `cosine` a search hit reports, wherever in the hit it sits.
fn cosine_of(hit: &Value) -> f64 {
    fn find(value: &Value) -> Option<f64> {
        match value {
            Value::Object(map) => map
                .get("cosine")
                .and_then(Value::as_f64)
                .or_else(|| map.values().find_map(find)),
            Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    find(hit).unwrap_or_else(|| panic!("no cosine in {hit}"))
}

fn json_of(out: Output) -> Value {
    parse_json(&succeeded(out))
}

/// A copy of the model's files in a scratch directory; without `sentence_bert_config.json`, which is optional.
fn served_copy(truncate_weights: bool) -> tempfile::TempDir {
    let scratch = tempfile::tempdir().expect("tempdir");
    let from = minilm_dir();
    let root = scratch.path().join("models/all-MiniLM-L6-v2");
    std::fs::create_dir_all(root.join("1_Pooling")).unwrap();
    for name in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(from.join(name), root.join(name)).expect("copy");
    }
    if truncate_weights {
        let weights = std::fs::read(root.join("model.safetensors")).unwrap();
        std::fs::write(
            root.join("model.safetensors"),
            &weights[..weights.len() / 3],
        )
        .unwrap();
    }
    scratch
}

#[test]
fn install_from_a_directory_then_list_and_embed_with_it() {
    let cli = Cli::new();
    let source = minilm_dir();
    let installed = json_of(run(
        &cli,
        None,
        &[
            "--format",
            "json",
            "model",
            "install",
            source.to_str().unwrap(),
        ],
    ));
    assert_eq!(installed["name"], "all-MiniLM-L6-v2");
    assert_eq!(installed["id"], "bert:all-MiniLM-L6-v2:384");
    assert_eq!(installed["dimension"], 384);
    let dest = models(&cli).join("all-MiniLM-L6-v2");
    assert_eq!(installed["path"], dest.to_str().unwrap());
    for name in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "1_Pooling/config.json",
    ] {
        assert!(dest.join(name).is_file(), "{name} was installed");
    }
    assert!(
        !dest.join("vocab.txt").exists(),
        "only the files the model is read from are copied"
    );

    let listed = json_of(run(&cli, None, &["--format", "json", "model", "list"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["name"], "all-MiniLM-L6-v2");
    assert_eq!(listed[0]["dimension"], 384);
    assert_eq!(listed[0]["default"], true, "{listed}");
    assert!(listed[0]["size_bytes"].as_u64().unwrap() > 90_000_000);
    let table = succeeded(run(&cli, None, &["model", "list"]));
    assert!(table.starts_with("NAME"), "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        ["all-MiniLM-L6-v2", "384", "87.1", "MiB", "yes"],
        "{table}"
    );
    let table = succeeded(run(&cli, Some("lexical"), &["model", "list"]));
    assert!(!table.contains("yes"), "lexical uses no model: {table}");
    let by_path = format!(
        "{}/../models/all-MiniLM-L6-v2",
        cli.path().join("data").display()
    );
    let table = succeeded(run(&cli, Some(&by_path), &["model", "list"]));
    assert!(table.contains("yes"), "named by a path: {table}");

    // Installed, it is the default: meaning, not shared words, decides the nearest memory.
    for text in [
        "The car would not start this morning.",
        "Deploys go out on Tuesdays after the standup.",
    ] {
        succeeded(run(&cli, None, &["memory", "store", "--scope", "s", text]));
    }
    let hits = json_of(run(
        &cli,
        None,
        &[
            "--format",
            "json",
            "memory",
            "search",
            "--scope",
            "s",
            "--ranking",
            "vector",
            "vehicle ignition trouble",
        ],
    ));
    let hits = hits.as_array().expect("hits");
    assert!(
        hits[0].to_string().contains("The car would not start"),
        "{hits:#?}"
    );
    let (near, far) = (cosine_of(&hits[0]), cosine_of(&hits[1]));
    assert!(near > far + 0.15, "{near} vs {far}");

    let again = run(&cli, None, &["model", "install", source.to_str().unwrap()]);
    failed(
        again,
        "a model named \"all-MiniLM-L6-v2\" is already installed",
    );
}

#[test]
fn install_from_a_url_with_a_progress_free_stderr() {
    let cli = Cli::new();
    let served = served_copy(false);
    let server = Server::start(served.path().to_path_buf());
    let url = server.url("/files/models/all-MiniLM-L6-v2");
    let out = run(&cli, None, &["model", "install", &url]);
    let text = succeeded(out);
    assert!(
        text.starts_with("installed all-MiniLM-L6-v2 (bert:all-MiniLM-L6-v2:384, 384 dimensions, "),
        "{text}"
    );
    let requests = server.requests();
    for file in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
    ] {
        let line = format!("GET /files/models/all-MiniLM-L6-v2/{file} HTTP/1.1");
        assert!(requests.contains(&line), "{file} was fetched: {requests:?}");
    }
    let dest = models(&cli).join("all-MiniLM-L6-v2");
    assert!(
        !dest.join("sentence_bert_config.json").exists(),
        "a 404 on an optional file is fine"
    );
    assert_eq!(
        std::fs::read(dest.join("model.safetensors")).unwrap(),
        std::fs::read(minilm_dir().join("model.safetensors")).unwrap()
    );

    // Under another name, chosen by --embedder model:NAME.
    let out = run(
        &cli,
        None,
        &["model", "install", &url, "--name", "minilm-copy"],
    );
    succeeded(out);
    let listed = json_of(run(
        &cli,
        Some("model:minilm-copy"),
        &["--format", "json", "model", "list"],
    ));
    let defaults: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["default"] == true)
        .map(|m| &m["name"])
        .collect();
    assert_eq!(defaults, vec!["minilm-copy"], "{listed}");
}

#[test]
fn a_broken_model_is_not_installed() {
    let cli = Cli::new();
    let served = served_copy(true);
    let server = Server::start(served.path().to_path_buf());
    let url = server.url("/files/models/all-MiniLM-L6-v2");
    let message = failed(
        run(&cli, None, &["model", "install", &url]),
        "is not a usable model",
    );
    assert!(
        message.contains("model.safetensors is truncated"),
        "{message}"
    );

    let missing = server.url("/files/models/nothing-here");
    let message = failed(run(&cli, None, &["model", "install", &missing]), "HTTP 404");
    assert!(
        message.contains(&format!("{missing}/config.json")),
        "{message}"
    );

    let dir = served.path().join("models/all-MiniLM-L6-v2");
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    failed(
        run(
            &cli,
            None,
            &["model", "install", dir.to_str().unwrap(), "--name", "x"],
        ),
        "has no tokenizer.json",
    );
    // Nothing is left behind: no model, no half-written directory.
    let left: Vec<_> = std::fs::read_dir(models(&cli))
        .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let listed = succeeded(run(&cli, None, &["model", "list"]));
    assert!(listed.starts_with("no models installed in "), "{listed}");
}

#[test]
fn without_a_model_the_lexical_embedder_says_so_once_when_it_embeds() {
    let cli = Cli::new();
    let out = run(
        &cli,
        None,
        &["memory", "store", "--scope", "s", "first memory"],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("note: embedding with the built-in lexical embedder"),
        "{stderr}"
    );
    assert!(stderr.contains("memory-cli model install"), "{stderr}");
    // Commands that embed nothing say nothing.
    succeeded(run(&cli, None, &["memory", "list", "--scope", "s"]));
    succeeded(run(&cli, None, &["episode", "list"]));
    succeeded(run(
        &cli,
        Some("lexical"),
        &["memory", "store", "--scope", "s", "second"],
    ));
}

#[test]
fn a_model_is_not_loaded_by_commands_that_do_not_embed() {
    let cli = Cli::new();
    // A model whose weights cannot load: only embedding would find out.
    let dir = cli.path().join("broken-model");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(minilm_dir().join("config.json"), dir.join("config.json")).unwrap();
    let spec = dir.to_str().unwrap();
    let start = ["episode", "start", "--task", "t", "--domain", "d"];
    succeeded(run(&cli, Some(spec), &start));
    succeeded(run(&cli, Some(spec), &["episode", "list"]));
    succeeded(run(&cli, Some(spec), &["memory", "list", "--scope", "s"]));
    failed(
        run(
            &cli,
            Some(spec),
            &["memory", "store", "--scope", "s", "needs the model"],
        ),
        "tokenizer.json is missing",
    );
}

#[test]
fn the_http_embedder_is_configured_from_the_environment() {
    let cli = Cli::new();
    let server = Server::start(cli.path().to_path_buf());
    let out = cli
        .command()
        .env("MEMORY_EMBEDDER", "http")
        .env("MEMORY_EMBED_URL", server.url(""))
        .env("MEMORY_EMBED_MODEL", "tiny")
        .env("MEMORY_EMBED_DIMENSION", "3")
        .arg("--db")
        .arg(&cli.db)
        .args([
            "--format", "json", "memory", "store", "--scope", "s", "served",
        ])
        .output()
        .unwrap();
    succeeded(out);
    assert_eq!(server.requests(), vec!["POST /v1/embeddings HTTP/1.1"]);

    let out = cli
        .command()
        .env("MEMORY_EMBEDDER", "http")
        .arg("--db")
        .arg(&cli.db)
        .args(["memory", "list", "--scope", "s"])
        .output()
        .unwrap();
    failed(out, "--embedder http needs MEMORY_EMBED_URL");
}

#[test]
fn a_bad_embedder_is_refused_before_the_store_is_opened() {
    let cli = Cli::new();
    failed(
        run(
            &cli,
            Some("model:absent"),
            &["memory", "list", "--scope", "s"],
        ),
        "no model named \"absent\" is installed in",
    );
    failed(
        run(&cli, Some("word2vec"), &["memory", "list", "--scope", "s"]),
        "invalid --embedder \"word2vec\": expected lexical, model:NAME, the directory of a model, or http",
    );
    assert!(!cli.db.exists(), "no database was created");
}
