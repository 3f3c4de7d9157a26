//! An embedder that calls an OpenAI-compatible embeddings endpoint (`POST /v1/embeddings`) over HTTP(S).

use std::{
    sync::{Mutex, OnceLock},
    time::Duration,
};

use reqwest::{StatusCode, blocking::Client};
use serde::Deserialize;

use super::normalise;
use crate::{Embedder, Error, Result};

/// Where and how an [`HttpEmbedder`] calls its service. Build it with [`HttpEmbedderConfig::new`] and the
/// `with_*` methods.
#[derive(Clone, Debug)]
pub struct HttpEmbedderConfig {
    /// The service, e.g. `http://localhost:11434` or `https://api.openai.com`; requests go to
    /// `{base_url}/v1/embeddings` (a base URL that already ends in `/v1` is not given a second one).
    pub base_url: String,
    /// The `model` sent with every request.
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// The vector length the service must return; learned from its first answer when not set.
    pub dimension: Option<usize>,
    /// Texts per request (default 64).
    pub batch_size: usize,
    /// Time allowed for one request, connecting included (default 30 s).
    pub timeout: Duration,
    /// Further attempts after a connection failure, a timeout, HTTP 429 or a 5xx status (default 3).
    pub retries: u32,
    /// The wait before the first retry, doubled before each next one (default 500 ms); a `Retry-After`
    /// header of up to 60 seconds asks for longer.
    pub backoff: Duration,
}

impl HttpEmbedderConfig {
    /// `model` at `base_url`, with the defaults.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        HttpEmbedderConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            dimension: None,
            batch_size: 64,
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }

    /// Sends `key` as a bearer token.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Requires vectors of `dimension`.
    pub fn with_dimension(mut self, dimension: usize) -> Self {
        self.dimension = Some(dimension);
        self
    }

    /// Sends at most `batch_size` texts per request.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Gives up on one request after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries up to `retries` times, waiting `backoff`, then twice that, and so on.
    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }
}

/// Embeddings from a service that speaks the OpenAI embeddings API: OpenAI itself, or a local server such as
/// Ollama, llama.cpp, vLLM or text-embeddings-inference.
///
/// Requests are `{"model": .., "input": [..]}` to `{base_url}/v1/embeddings`; answers are
/// `{"data": [{"embedding": [..], "index": i}, ..]}`, put back in input order by `index`. Vectors are
/// L2-normalised here whatever the service does. Blank texts are not sent: they get the zero vector.
///
/// The id is `http:<model>:<dimension>`, e.g. `http:nomic-embed-text:768`. When the dimension is neither
/// configured nor learned yet, [`Embedder::dimension`] and [`Embedder::id`] ask the service once (embedding one
/// short text); if that fails the dimension reads 0 and the id `http:<model>:unknown` until a call succeeds.
///
/// The HTTP client is blocking. It is built on first use and every request runs on a thread that is not a tokio
/// worker, so the embedder may be called from any context, async included, without tokio's "cannot block"
/// panics; async callers should still use [`crate::run_blocking`] so the executor keeps running.
pub struct HttpEmbedder {
    config: HttpEmbedderConfig,
    url: String,
    client: Mutex<Option<Client>>,
    learned: OnceLock<usize>,
    id: OnceLock<String>,
    unknown_id: String,
}

/// The parts of an embeddings response this reads.
#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    index: usize,
}

/// What one attempt at a request came to.
enum Attempt {
    Done(Vec<Vec<f32>>),
    /// Worth trying again, after at least the given wait.
    Retry(String, Option<Duration>),
    Failed(Error),
}

impl HttpEmbedder {
    /// An embedder for `config`. This does no IO: a wrong URL or key shows at the first call.
    pub fn new(config: HttpEmbedderConfig) -> Result<HttpEmbedder> {
        let base = config.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::validation(
                "embedding service URL",
                format!("{base:?} must start with http:// or https://"),
            ));
        }
        if config.model.trim().is_empty() {
            return Err(Error::validation("embedding model", "must not be empty"));
        }
        if config.batch_size == 0 || config.dimension == Some(0) {
            return Err(Error::validation(
                "embedding service",
                "batch size and dimension must be positive",
            ));
        }
        let url = if base.ends_with("/v1") {
            format!("{base}/embeddings")
        } else {
            format!("{base}/v1/embeddings")
        };
        Ok(HttpEmbedder {
            unknown_id: format!("http:{}:unknown", config.model),
            config,
            url,
            client: Mutex::new(None),
            learned: OnceLock::new(),
            id: OnceLock::new(),
        })
    }

    /// The endpoint requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn service_error(&self, detail: impl Into<String>) -> Error {
        Error::EmbeddingService {
            url: self.url.clone(),
            detail: detail.into(),
        }
    }

    fn known_dimension(&self) -> Option<usize> {
        self.config
            .dimension
            .or_else(|| self.learned.get().copied())
    }

    /// The dimension, asking the service when it is not known yet.
    fn ensure_dimension(&self) -> Result<usize> {
        if let Some(dimension) = self.known_dimension() {
            return Ok(dimension);
        }
        self.embed(&["dimension"])?;
        self.known_dimension()
            .ok_or_else(|| self.service_error("no dimension was learned"))
    }

    /// Runs `work` on a thread outside any tokio runtime: reqwest's blocking client panics when it is built,
    /// used or dropped on a thread that runs async tasks, and a scoped thread costs microseconds next to a request.
    fn off_runtime<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        if tokio::runtime::Handle::try_current().is_err() {
            return work();
        }
        std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }

    /// Posts one batch of non-blank texts, retrying as configured.
    fn post(&self, client: &Client, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let body = serde_json::json!({ "model": self.config.model, "input": texts }).to_string();
        let mut wait = self.config.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reason = match self.attempt(client, &body, texts.len()) {
                Attempt::Done(vectors) => return Ok(vectors),
                Attempt::Failed(err) => return Err(err),
                Attempt::Retry(reason, _) if attempt > self.config.retries => reason,
                Attempt::Retry(reason, asked) => {
                    tracing::warn!(url = %self.url, attempt, %reason, "embedding request failed; retrying");
                    std::thread::sleep(asked.map_or(wait, |asked| asked.max(wait)));
                    wait = wait.saturating_mul(2);
                    continue;
                }
            };
            let tries = if attempt == 1 { "attempt" } else { "attempts" };
            return Err(self.service_error(format!("{reason} (after {attempt} {tries})")));
        }
    }

    fn attempt(&self, client: &Client, body: &str, count: usize) -> Attempt {
        let mut request = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send() {
            Ok(response) => response,
            Err(err) if err.is_timeout() => {
                return Attempt::Retry(format!("no answer within {:?}", self.config.timeout), None);
            }
            Err(err) => {
                return Attempt::Retry(
                    format!("cannot connect: {}", crate::error_chain(&err)),
                    None,
                );
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(60)));
        let bytes = match response.bytes() {
            Ok(bytes) => bytes,
            Err(err) if err.is_timeout() => {
                return Attempt::Retry(format!("no answer within {:?}", self.config.timeout), None);
            }
            Err(err) => {
                return Attempt::Retry(
                    format!("reading the response failed: {}", crate::error_chain(&err)),
                    None,
                );
            }
        };
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Attempt::Failed(Error::EmbeddingAuth {
                url: self.url.clone(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let excerpt: String = text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(200)
                .collect();
            let reason = format!("HTTP {status}: {excerpt}");
            return if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                Attempt::Retry(reason, retry_after)
            } else {
                Attempt::Failed(self.service_error(reason))
            };
        }
        match self.parse(&bytes, count) {
            Ok(vectors) => Attempt::Done(vectors),
            Err(err) => Attempt::Failed(err),
        }
    }

    /// The vectors of a successful response, in input order, checked and normalised.
    fn parse(&self, bytes: &[u8], count: usize) -> Result<Vec<Vec<f32>>> {
        let response: Response = serde_json::from_slice(bytes).map_err(|err| {
            self.service_error(format!("the response is not an embeddings response: {err}"))
        })?;
        if response.data.len() != count {
            return Err(self.service_error(format!(
                "the response has {} vectors for {count} texts",
                response.data.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; count];
        for item in response.data {
            let slot = vectors.get_mut(item.index).ok_or_else(|| {
                self.service_error(format!(
                    "the response has index {} for {count} texts",
                    item.index
                ))
            })?;
            if slot.replace(item.embedding).is_some() {
                return Err(
                    self.service_error(format!("the response repeats index {}", item.index))
                );
            }
        }
        // Every slot is filled: `count` distinct indexes below `count`.
        let mut vectors: Vec<Vec<f32>> = vectors.into_iter().flatten().collect();
        for vector in &mut vectors {
            let expected = match self.known_dimension() {
                Some(dimension) => dimension,
                None if vector.is_empty() => {
                    return Err(self.service_error("the response has an empty vector"));
                }
                None => *self.learned.get_or_init(|| vector.len()),
            };
            if vector.len() != expected {
                return Err(Error::DimensionMismatch {
                    embedder: format!("{} (model {})", self.url, self.config.model),
                    expected,
                    found: vector.len(),
                });
            }
            normalise(vector);
        }
        Ok(vectors)
    }

    /// The client, built on first use.
    fn client(&self) -> Result<Client> {
        let mut slot = self
            .client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        // reqwest is built without a TLS provider of its own; ring is ours. An error means a provider is
        // installed already, which is all that is needed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(self.config.timeout)
            .connect_timeout(self.config.timeout)
            .build()
            .map_err(|err| {
                self.service_error(format!(
                    "cannot build an HTTP client: {}",
                    crate::error_chain(&err)
                ))
            })?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

impl Drop for HttpEmbedder {
    fn drop(&mut self) {
        // Dropping the last handle of the client joins its runtime thread; keep that off async workers too.
        let client = self.client.get_mut().map(Option::take).unwrap_or_default();
        if client.is_some() && tokio::runtime::Handle::try_current().is_ok() {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl Embedder for HttpEmbedder {
    fn id(&self) -> &str {
        if let Some(id) = self.id.get() {
            return id;
        }
        match self.ensure_dimension() {
            Ok(dimension) => self
                .id
                .get_or_init(|| format!("http:{}:{dimension}", self.config.model)),
            Err(_) => &self.unknown_id,
        }
    }

    fn dimension(&self) -> usize {
        self.ensure_dimension().unwrap_or_else(|err| {
            tracing::warn!(%err, "the embedding dimension is unknown");
            0
        })
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let todo: Vec<usize> = (0..texts.len())
            .filter(|&i| !texts[i].trim().is_empty())
            .collect();
        let mut found: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        if !todo.is_empty() {
            self.off_runtime(|| -> Result<()> {
                let client = self.client()?;
                for chunk in todo.chunks(self.config.batch_size) {
                    let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
                    for (&i, vector) in chunk.iter().zip(self.post(&client, &batch)?) {
                        found[i] = vector;
                    }
                }
                Ok(())
            })?;
        }
        let dimension = match self.known_dimension() {
            Some(dimension) => dimension,
            // Only blank texts and nothing learned yet: ask, so their zero vectors have the right length.
            None if !texts.is_empty() => self.ensure_dimension()?,
            None => 0,
        };
        for vector in &mut found {
            if vector.is_empty() {
                *vector = vec![0.0; dimension];
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
