//! Routes, the error answers and the server loop with graceful shutdown.
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::error::{Result, ServeError};
use crate::metrics::Metrics;
use crate::request::{self, ExtractResponse, PredictResponse};
use crate::worker::{ModelQueue, WorkerHandle};

/// The routes, as `/metrics` labels them; anything else is `other`.
pub const ROUTES: [&str; 4] = ["/v1/predict", "/v1/extract", "/healthz", "/metrics"];

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub queue: ModelQueue,
    pub config: ServeConfig,
}

impl AppState {
    fn metrics(&self) -> &Metrics {
        self.queue.metrics()
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && !matches!(self, ServeError::QueueFull { .. }) {
            tracing::warn!("{status}: {self}");
        }
        let retry = matches!(self, ServeError::QueueFull { .. } | ServeError::Unavailable(_));
        let mut response = (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response();
        if retry {
            // Retry-After is whole seconds; 1 s is the smallest hint it can give.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The application: `/v1/predict`, `/v1/extract`, `/healthz`, `/metrics`, JSON 404/405 answers, the body limit and the
/// request metrics.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/extract", post(extract))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), track))
        .with_state(state)
}

/// Counts every answer by route and status and times it.
async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let route = ROUTES.iter().find(|r| **r == path).copied().unwrap_or("other");
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics().record_request(route, response.status().as_u16(), started.elapsed());
    response
}

/// The body bytes, or the error a body-reading failure deserves (413 over the limit).
fn body_bytes(body: std::result::Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServeError::TooLarge(format!("request body is larger than {limit} bytes (--max-body-bytes)"))
        } else {
            ServeError::BadRequest(format!("could not read the request body: {}", rejection.body_text()))
        }
    })
}

async fn predict(
    State(state): State<Arc<AppState>>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let records = request::parse_predict_body(&body, state.config.max_sentence_chars)?;
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let probs = state.queue.score(records).await?;
    Ok(Json(request::predictions(ids, &probs, state.queue.labels())))
}

async fn extract(
    State(state): State<Arc<AppState>>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<ExtractResponse>> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let (sentences, options) =
        request::parse_extract_body(&body, state.config.max_sentence_chars, state.queue.labels())?;
    let triples = state.queue.extract(sentences, options).await?;
    Ok(Json(ExtractResponse { triples }))
}

async fn healthz(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "labels": state.queue.labels(),
        "model": state.queue.info(),
        "max_batch_size": state.config.max_batch_size,
        "max_wait_ms": state.config.max_wait.as_secs_f64() * 1000.0,
        "queue_capacity": state.config.queue_capacity,
        "queue_depth": state.metrics().queue_depth(),
    }))
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics().render())
}

async fn not_found(req: Request) -> Response {
    let message = format!("no route {} {}; routes: {}", req.method(), req.uri().path(), ROUTES.join(", "));
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    let message = format!("{} is not allowed on {}", req.method(), req.uri().path());
    (StatusCode::METHOD_NOT_ALLOWED, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets in-flight requests finish (the model
/// thread answers everything already queued) and stops the model thread.
pub async fn serve<F>(listener: TcpListener, worker: WorkerHandle, config: ServeConfig, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let state = Arc::new(AppState { queue: worker.queue.clone(), config });
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    // Every connection has closed, so the router and its queue handles are gone; the thread now drains and exits.
    tokio::task::spawn_blocking(move || worker.join())
        .await
        .map_err(|e| ServeError::Model(format!("joining the model thread: {e}")))?
}
