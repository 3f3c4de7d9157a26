//! Streamable HTTP: the MCP endpoint at `/mcp` behind a bearer API key, `/health/live`, `/health/ready` and
//! `/metrics` beside it, and a graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    serve::ListenerExt,
};
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::{
    access::{Access, NotAuthenticated, Refusal},
    jsonrpc::{self, Incoming, MAX_MESSAGE_BYTES},
    server::MemoryServer,
    wire::HealthStatus,
};

/// The environment variable holding the API key.
pub const API_KEY_VAR: &str = "MEMORY_API_KEY";

/// How long connections may stay open after the calls in flight have finished.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The key clients must send as `Authorization: Bearer <key>`, kept as its SHA-256 so that comparing takes the
/// same time whatever the key sent and however long it is.
pub struct ApiKey([u8; 32]);

impl ApiKey {
    pub fn new(key: &str) -> Self {
        ApiKey(Sha256::digest(key.as_bytes()).into())
    }

    pub fn matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        given.ct_eq(&self.0).into()
    }
}

/// The API key from the environment, checked against the address before anything is opened: a server that
/// is reachable from other machines must have one.
pub fn api_key(addr: SocketAddr) -> anyhow::Result<Option<ApiKey>> {
    let key = std::env::var(API_KEY_VAR)
        .ok()
        .filter(|k| !k.trim().is_empty());
    match key {
        Some(key) => {
            if key.len() < 16 {
                tracing::warn!(
                    "{API_KEY_VAR} is shorter than 16 characters; a longer random key is safer"
                );
            }
            Ok(Some(ApiKey::new(key.trim())))
        }
        None if addr.ip().is_loopback() => Ok(None),
        None => bail!(
            "refusing to serve on {addr} without an API key: set {API_KEY_VAR} (clients send it as \
             `Authorization: Bearer <key>`), or listen on a loopback address such as 127.0.0.1:{}",
            addr.port()
        ),
    }
}

/// Serves `server` on `addr` until `stop_signal` resolves (SIGTERM or SIGINT, see [`crate::shutdown::signal`]),
/// then finishes the calls in flight and returns.
pub async fn serve(
    server: MemoryServer,
    addr: SocketAddr,
    access: Arc<Access>,
    stop_signal: impl Future<Output = &'static str>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().context("the listener's address")?;
    // A response goes out in more than one write (the headers, then the event stream's parts): with Nagle's
    // algorithm the later ones wait for the client's delayed acknowledgement, ~40 ms a call on keep-alive.
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY on a connection");
        }
    });
    let stop = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(stop.child_token())
        .with_max_request_body_bytes(MAX_MESSAGE_BYTES);
    if !addr.ip().is_loopback() {
        // rmcp accepts only loopback Host headers by default, against DNS rebinding of local servers; a server
        // bound for other machines is reached by names it cannot know, and the API key guards it instead.
        config = config.disable_allowed_hosts();
    }
    let mcp = {
        let server = server.clone();
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        )
    };
    if !access.has_admin_key() {
        tracing::warn!(
            "no {API_KEY_VAR} set: requests without a key are the operator's while no tenant has a key \
             (loopback only)"
        );
    }
    let mcp = Router::new()
        .route_service("/mcp", mcp)
        .layer(middleware::from_fn(answer_malformed))
        .layer(middleware::from_fn_with_state(access.clone(), authorize));
    let app = Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(server.clone())
        .merge(mcp);
    // Says where to connect, which port 0 leaves to the system.
    tracing::info!("serving MCP on http://{local}/mcp");
    let graceful =
        axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
    let mut serving = tokio::spawn(graceful.into_future());
    let name = tokio::select! {
        result = &mut serving => {
            result.context("the HTTP server stopped")?.context("the HTTP server failed")?;
            bail!("the HTTP server stopped unexpectedly");
        }
        name = stop_signal => name,
    };
    tracing::info!("{name}: finishing the calls in flight");
    server.drain().await;
    access.close().await;
    stop.cancel();
    match tokio::time::timeout(CLOSE_TIMEOUT, serving).await {
        Ok(result) => result
            .context("the HTTP server stopped")?
            .context("the HTTP server failed")?,
        Err(_) => tracing::warn!(
            "connections still open {} s after the last call finished; closing them",
            CLOSE_TIMEOUT.as_secs()
        ),
    }
    Ok(())
}

/// Lets a request through as the caller its bearer key names (see [`Access::authenticate`]); anything else gets
/// 401 (503 when the keys cannot be read) before the MCP service, and so the store, sees it.
async fn authorize(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string());
    let (status, Refusal(message)) = match access.authenticate(given.as_deref()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            return next.run(request).await;
        }
        Err(NotAuthenticated::Key(refusal)) => (StatusCode::UNAUTHORIZED, refusal),
        Err(NotAuthenticated::Unavailable(refusal)) => (StatusCode::SERVICE_UNAVAILABLE, refusal),
    };
    let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Answers a POST whose body is not a message (not JSON, not JSON-RPC, too large) with the JSON-RPC error for it,
/// as the stdio transport answers such a line; rmcp would answer with plain text, or not at all.
async fn answer_malformed(request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let (status, answer) = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) => match jsonrpc::decode(&bytes) {
            Incoming::Message(_) => {
                return next.run(Request::from_parts(parts, bytes.into())).await;
            }
            Incoming::Rejected(answer) => (StatusCode::BAD_REQUEST, answer),
        },
        Err(err) => {
            let length = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(MAX_MESSAGE_BYTES + 1);
            tracing::debug!(%err, "a request body was not read whole");
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                jsonrpc::too_long(b"", length),
            )
        }
    };
    let mut response = (status, answer).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Liveness: the process answers.
async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "live" }))
}

/// Readiness: the database answers a read (503 when it does not), with the server's health.
async fn ready(State(server): State<MemoryServer>) -> Response {
    let health = server.health().await;
    let status = if health.database.reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let ready = status == StatusCode::OK && health.status == HealthStatus::Ok;
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "healthy": ready,
        "health": health,
    });
    (status, Json(body)).into_response()
}

/// The server's metrics for Prometheus (OpenMetrics text). Like the health endpoints it needs no key: it
/// carries counts and timings, never content.
async fn metrics(State(server): State<MemoryServer>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        server.metrics().await,
    )
        .into_response()
}
